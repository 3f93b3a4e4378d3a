"""UniformClipQuantizer: the uniform quantizer with a clipping range (the lecture's design A).

The range search here is shared with :class:`~skquant.CompanderQuantizer`: a quantizer
*family* is a fixed shape moved by an offset and stretched by a scale, and the exact
empirical MSE of any member is one kernel call on the column summary.
"""

from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import optimize

from . import _kernels as K
from ._base import BaseScalarQuantizer, _ceil_to_dtype
from ._compat import Interval, StrOptions
from ._summary import unit_summary

# Cost budget of a range scan, in bisection steps per column (~10 ms): the scan has
# up to _SCAN points (1-D) or _SCAN_2D ** 2 points (affine), fewer for large M.
_BUDGET = 2**23
_SCAN = 1024
_SCAN_2D = 64
_N_REFINE = 4  # local minima of the scan refined by the scalar minimiser
_MAX_POLISH = 100
# Exact line sweeps are used while k (M - 1) crossings (k distinct values) fit here;
# the best _N_PIECES pieces of a sweep are re-evaluated exactly.
_SWEEP_MAX = 2**18
_N_PIECES = 64
_N_DESCENT = 2  # polished affine starts refined by coordinate descent with sweeps
_MAX_ROUNDS = 16  # rounds of that descent
_N_ZERO_POINTS = 3  # zero points of the affine midtread scan given a full scale search


class Family(NamedTuple):
    """Quantizers ``offset + scale * (t, y)``: thresholds ``t``, levels ``y`` (float64).

    ``nearest`` families have every threshold halfway between its two levels, so the
    cells are nearest-level cells and, for fixed cells, the best offset and scale are
    a least-squares fit (:func:`_polish`). ``centroid`` families reconstruct each cell
    with its centroid instead of ``y``.
    """

    t: np.ndarray
    y: np.ndarray
    nearest: bool = False
    centroid: bool = False

    def sse(self, summary, offsets, scales):
        """Exact weighted squared error of the members ``(offsets, scales)`` (broadcast)."""
        offsets, scales = np.broadcast_arrays(
            np.asarray(offsets, dtype=np.float64), np.asarray(scales, dtype=np.float64)
        )
        offsets = np.ascontiguousarray(offsets.ravel())
        scales = np.ascontiguousarray(scales.ravel())
        out = np.empty(scales.shape[0])
        K.family_sse(
            summary.u, summary.W, summary.S1, summary.S2, summary.shift,
            self.t, self.y, offsets, scales, self.centroid, out,
        )
        return out

    def codebook(self, summary, offset, scale):
        """Thresholds and levels of one member (centroids for a ``centroid`` family)."""
        thresholds = offset + scale * self.t
        levels = offset + scale * self.y
        if self.centroid:
            levels = summary.centroids(summary.positions(thresholds), levels)
        return thresholds, levels


def uniform_family(n_levels, zero_index):
    """Unit-step uniform quantizer whose level number ``zero_index`` is at 0.

    Levels ``k - zero_index`` and thresholds ``k - zero_index - 1/2``: with scale
    ``Delta`` the midrise quantizer on ``[-X, X]`` is ``zero_index = (M - 1) / 2``,
    ``Delta = 2 X / M``; the integer affine (midtread) one is ``zero_index =
    zero_point``, ``Delta = scale``; and ``zero_index = -1/2`` with offset ``lo`` puts
    the thresholds at ``lo + k Delta``.
    """
    k = np.arange(n_levels, dtype=np.float64)
    return Family(k[1:] - zero_index - 0.5, k - zero_index, nearest=True)


# ------------------------------------------------------------------ range rules
def weighted_quantile(values, weights, q):
    """Inverted-CDF quantile: the smallest value whose cumulative weight reaches ``q``."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    i = np.searchsorted(cum, q * cum[-1], side="left")
    return float(values[order][min(i, values.shape[0] - 1)])


def clip_range(summary, clip, symmetric, n_std, percentile):
    """The range ``(lo, hi)`` of a clipping rule; ``lo = -hi`` when ``symmetric``.

    ``"minmax"`` is the data range (``max |x|`` when symmetric); ``"std"`` is
    ``mean -/+ n_std * std`` (``n_std`` times the root mean square when symmetric);
    ``"percentile"`` the weighted inverted-CDF percentiles ``100 - p`` and ``p`` (the
    ``p``-th percentile of ``|x|`` when symmetric); a number ``X`` is ``[-X, X]``. A
    rule that gives an empty range (a percentile on data that are mostly one value)
    falls back to ``"minmax"``.
    """
    u, w = summary.u, summary.weights
    lo = hi = 0.0  # "minmax", below
    if isinstance(clip, Real):
        return -float(clip), float(clip)
    if clip == "std":
        mean, std = summary.mean_std()
        var = std * std
        if symmetric:
            hi = n_std * np.sqrt(var + mean * mean)
            lo = -hi
        else:
            lo, hi = mean - n_std * np.sqrt(var), mean + n_std * np.sqrt(var)
    elif clip == "percentile":
        p = percentile / 100.0
        if symmetric:
            hi = weighted_quantile(np.abs(u), w, p)
            lo = -hi
        else:
            lo = weighted_quantile(u, w, 1.0 - p)
            hi = weighted_quantile(u, w, p)
    if not hi > lo:
        lo, hi = float(u[0]), float(u[-1])
        if symmetric:
            hi = max(-lo, hi)
            lo = -hi
    return float(lo), float(hi)


# ------------------------------------------------------------------ range search
def _n_scan(summary, family, n_max, power=1):
    """Scan size within the cost budget: each point costs ~M log2(k) steps."""
    cost = family.y.shape[0] * max(np.log2(summary.u.shape[0]), 1.0)
    return int(np.clip((_BUDGET / cost) ** (1.0 / power), 8, n_max))


def _sweepable(summary, family):
    """Whether the exact line sweep is affordable."""
    return summary.u.shape[0] * family.t.shape[0] <= _SWEEP_MAX


def _pieces(summary, alpha, beta, gamma, delta, theta_lo, centroid=False):
    """The minimisers of the ``_N_PIECES`` best pieces of a line (see ``K.line_sweep``)."""
    n = summary.u.shape[0] * alpha.shape[0] + 1
    thetas, values = np.empty(n), np.empty(n)
    m = K.line_sweep(
        summary.u, summary.weights, alpha, beta, gamma, delta, float(theta_lo), thetas,
        values, centroid,
    )
    if m > _N_PIECES:
        best = np.argpartition(values[:m], _N_PIECES)[:_N_PIECES]
        return thetas[best]
    return thetas[:m]


def _best(summary, values, keys):
    """Index of the smallest value; values within rounding of it (1e-12 relative) are
    ties, broken by the smallest key, so that equal errors reached through different
    roundings (weights versus repeated samples) give the same choice."""
    values = np.asarray(values, dtype=np.float64)
    low = values.min()
    tol = 1e-12 * (abs(low) + 1e-12 * summary.S2[-1])
    tied = np.flatnonzero(values <= low + tol)
    return int(tied[np.argmin(np.asarray(keys)[tied])])


def _pick(summary, candidates):
    """The candidate tuple ``(sse, key, ...)`` of :func:`_best`."""
    return candidates[_best(summary, [c[0] for c in candidates], [c[1] for c in candidates])]


def _sweep_scale(summary, family, offset):
    """Exact best scale with the offset fixed: ``(scale, sse)``."""
    t, y = family.t, family.y
    scales = _pieces(
        summary, np.full_like(t, offset), t, np.full_like(y, offset), y, 0.0, family.centroid
    )
    values = family.sse(summary, offset, scales)
    i = _best(summary, values, scales)
    return float(scales[i]), float(values[i])


def _sweep_offset(summary, family, scale):
    """Exact best offset with the scale fixed: ``(offset, sse)``."""
    alpha, gamma = scale * family.t, scale * family.y
    lowest = summary.u[0] - alpha[-1] - 1.0  # every threshold below the data
    offsets = _pieces(
        summary, alpha, np.ones_like(alpha), gamma, np.ones_like(gamma), lowest, family.centroid
    )
    values = family.sse(summary, offsets, scale)
    i = _best(summary, values, offsets)
    return float(offsets[i]), float(values[i])


def _scale_bounds(summary, family):
    """``cover``: the smallest scale whose outer levels reach the data's extremes.
    ``last``: the scale above which no threshold crosses a data value (0 if none does).
    """
    u0, u1 = float(summary.u[0]), float(summary.u[-1])
    t, y = family.t, family.y
    cover = [v / yv for v, yv in ((u1, y[-1]), (u0, y[0])) if v * yv > 0]
    if not cover:
        cover = [max(-u0, u1) / np.max(np.abs(y))]
    pos, neg = t[t > 0], t[t < 0]
    last = [0.0]
    if u1 > 0 and pos.size:
        last.append(u1 / pos.min())
    if u0 < 0 and neg.size:
        last.append(u0 / neg.max())
    return max(cover), max(last)


def _cell_sums(summary, family, offset, scale):
    """Weights and centred first moments of the cells of one member."""
    pos = summary.positions(offset + scale * family.t)
    return np.diff(summary.W[pos]), np.diff(summary.S1[pos])


def _least_squares(summary, family, offset, scale, free_offset):
    """Best (offset, scale) for the cells of the member ``(offset, scale)``.

    The error is quadratic in the offset and the scale once the cells are fixed; the
    normal equations are solved in coordinates centred on ``summary.shift``.
    """
    w, s1 = _cell_sums(summary, family, offset, scale)
    y = family.y
    if not free_offset:  # levels offset + scale * y: residual first moments about offset
        den = np.dot(y * y, w)
        num = np.dot(y, s1 + (summary.shift - offset) * w)
        return (offset, num / den) if den > 0 else None
    a = np.array([[w.sum(), np.dot(y, w)], [np.dot(y, w), np.dot(y * y, w)]])
    if np.linalg.det(a) <= 1e-12 * a[0, 0] * a[1, 1]:
        return None  # all the weight in one cell
    o, s = np.linalg.solve(a, [s1.sum(), np.dot(y, s1)])
    return o + summary.shift, s


def _polish(summary, family, offset, scale, sse, free_offset=False):
    """Alternate cells and least-squares (offset, scale) while the error decreases.

    For a ``nearest`` family the cells of a member are its nearest-level cells, so both
    steps lower the error (the Lloyd iteration restricted to uniform quantizers) and
    the result is a local minimum of the piecewise-quadratic error, exact to rounding.
    """
    for _ in range(_MAX_POLISH):
        fit = _least_squares(summary, family, offset, scale, free_offset)
        if fit is None or not fit[1] > 0:
            break
        new = family.sse(summary, fit[0], fit[1])[0]
        if not new < sse:
            break
        (offset, scale), sse = fit, new
    return offset, scale, sse


def _descend(summary, family, offset, scale, sse):
    """Coordinate descent with exact line sweeps: the best offset for the scale, then
    the best scale for the offset (each a global minimum along its line), polished,
    until a round gains nothing. Escapes the local minima of :func:`_polish`."""
    for _ in range(_MAX_ROUNDS):
        start = sse
        o, new = _sweep_offset(summary, family, scale)
        if new < sse:
            offset, sse = o, new
        s, new = _sweep_scale(summary, family, offset)
        if new < sse:
            scale, sse = s, new
        offset, scale, sse = _polish(summary, family, offset, scale, sse, free_offset=True)
        if not sse < start:
            break
    return offset, scale, sse


def search_scale(summary, family, seeds=()):
    """Scale ``s > 0`` minimising the exact error of the member ``(0, s)``.

    On columns with at most ``_SWEEP_MAX / (M - 1)`` distinct values (and fixed
    levels) the error is minimised exactly by a line sweep over every scale at which
    a threshold crosses a data value (:func:`K.line_sweep`; with centroid levels the
    error is constant between crossings). Otherwise — the error is
    not unimodal in ``s`` — it is scanned on a grid (linear up to twice the covering
    scale, geometric beyond, up to the scale after which the cells no longer change),
    the best local minima of the scan are refined by a bounded scalar minimiser
    between their grid neighbours, and ``nearest`` families are polished to the
    exact local minimum (:func:`_polish`); above the last cell change the error is one
    quadratic, whose minimiser is added in closed form. ``seeds`` (scales of other
    rules) are candidates too, so the result is never worse than any of them.

    Returns
    -------
    scale, sse : the best scale and its weighted squared error.
    """
    candidates = [(float(family.sse(summary, 0.0, s)[0]), float(s)) for s in seeds]
    if _sweepable(summary, family):
        scale, sse = _sweep_scale(summary, family, 0.0)
        candidates.append((sse, scale))
        return _pick(summary, candidates)[::-1]

    cover, last = _scale_bounds(summary, family)
    n = _n_scan(summary, family, _SCAN)
    top = 2.0 * cover if last <= 0 else min(2.0 * cover, last)
    grid = np.linspace(top / n, top, n)
    if last > 2.0 * cover:
        grid = np.concatenate([grid, np.geomspace(top, last, n // 16 + 2)[1:]])
    values = family.sse(summary, 0.0, grid)
    candidates += [(float(v), float(s)) for s, v in zip(grid, values)]
    if not family.centroid:  # closed form on the last piece
        fit = _least_squares(summary, family, 0.0, 2.0 * last if last > 0 else cover, False)
        if fit is not None and fit[1] > last:
            candidates.append((float(family.sse(summary, 0.0, fit[1])[0]), float(fit[1])))

    padded = np.concatenate([[np.inf], values, [np.inf]])
    minima = np.flatnonzero((values <= padded[:-2]) & (values <= padded[2:]))
    for i in minima[np.argsort(values[minima], kind="stable")[:_N_REFINE]]:
        lo = grid[i - 1] if i > 0 else 0.5 * grid[0]
        hi = grid[i + 1] if i + 1 < grid.size else 2.0 * grid[i]
        res = optimize.minimize_scalar(
            lambda s: family.sse(summary, 0.0, s)[0],
            bounds=(lo, hi), method="bounded", options={"xatol": 1e-10 * hi},
        )
        candidates.append((float(res.fun), float(res.x)))
    if family.nearest and not family.centroid:
        for v, s in sorted(candidates)[: _N_REFINE + len(seeds)]:
            _, s, v = _polish(summary, family, 0.0, s, v)
            candidates.append((v, s))
    sse, scale = _pick(summary, candidates)
    return scale, sse


def search_affine(summary, n_levels, midtread, seeds=()):
    """Affine range minimising the exact error of a uniform quantizer.

    Scans ``(lo, hi)`` on a grid around the data range, then refines the best local
    minima and the ``seeds`` (ranges of other rules): midrise quantizers by
    :func:`_polish` with offset and step free, the best two of them further by
    :func:`_descend` on columns small enough for line sweeps; midtread ones by a scale
    search (:func:`search_scale`) for each of the best zero points of the scan.

    Returns
    -------
    (offset, scale, zero_point), sse : the member ``offset + scale * (t, y)`` of
        ``uniform_family(M, -1/2)`` (midrise; ``offset`` is ``lo``) or of
        ``uniform_family(M, 0)`` (midtread; ``offset = -zero_point * scale``).
    """
    M = n_levels
    u0, u1 = float(summary.u[0]), float(summary.u[-1])
    mid = weighted_quantile(summary.u, summary.weights, 0.5)
    pad = 0.25 * (u1 - u0)
    family = uniform_family(M, 0 if midtread else -0.5)
    n = _n_scan(summary, family, _SCAN_2D, power=2)
    lo, hi = np.meshgrid(np.linspace(u0 - pad, mid, n), np.linspace(mid, u1 + pad, n))
    lo = np.concatenate([lo.ravel(), [s[0] for s in seeds]])
    hi = np.concatenate([hi.ravel(), [s[1] for s in seeds]])
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    offset, scale, zp = _affine_members(lo, hi, M, midtread)
    values = family.sse(summary, offset, scale)
    n_seeds = int(keep[n * n :].sum())
    seeds_at = np.arange(values.size - n_seeds, values.size)

    if midtread:  # the best zero points of the scan (seeds included), best scale each
        found, seen = [], set()
        for i in np.argsort(values, kind="stable"):
            if len(seen) == _N_ZERO_POINTS:
                break
            if zp[i] not in seen:
                seen.add(zp[i])
                s, sse = search_scale(summary, uniform_family(M, zp[i]), seeds=[scale[i]])
                found.append((sse, s, int(zp[i])))
        sse, s, z = _pick(summary, found)
        return (-z * s, s, z), sse
    polished = sorted(
        _polish(summary, family, offset[i], scale[i], values[i], free_offset=True)[::-1]
        for i in np.concatenate([_grid_minima(values, keep[: n * n], n), seeds_at])
    )
    if _sweepable(summary, family):
        polished += [
            _descend(summary, family, o, s, sse)[::-1] for sse, s, o in polished[:_N_DESCENT]
        ]
    sse, s, o = _pick(summary, polished)
    return (o, s, None), sse


def _grid_minima(values, keep, n):
    """Indices (into ``values``) of the best local minima of an n x n grid scan."""
    grid = np.full(n * n, np.inf)
    grid[keep] = values[: keep.sum()]
    square = np.pad(grid.reshape(n, n), 1, constant_values=np.inf)
    centre = square[1:-1, 1:-1]
    is_min = np.isfinite(centre)
    for di in (0, 1, 2):
        for dj in (0, 1, 2):
            is_min &= centre <= square[di : di + n, dj : dj + n]
    minima = np.flatnonzero(is_min.ravel())
    minima = minima[np.argsort(grid[minima], kind="stable")[:_N_REFINE]]
    return (np.cumsum(keep) - 1)[minima]


def _affine_members(lo, hi, M, midtread):
    """(offset, scale, zero point) of the quantizers of the ranges ``[lo, hi]``."""
    if not midtread:
        return lo, (hi - lo) / M, None
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    scale = (hi - lo) / (M - 1)
    zp = np.clip(np.rint(-lo / scale), 0, M - 1)
    return -zp * scale, scale, zp.astype(np.int64)


# ------------------------------------------------------------------ estimator
class UniformClipQuantizer(BaseScalarQuantizer):
    """Uniform scalar quantizer of each feature with a clipping range.

    Each column gets ``M = 2 ** n_bits`` equally spaced levels over a range
    ``[clip_min_, clip_max_]``; values outside the range go to the end cells. The
    range is chosen by ``clip``; the default ``"mse"`` minimises the exact empirical
    mean squared error of the very quantizer ``transform`` applies (the lecture's
    design A, "optimised uniform with clipping").

    Parameters
    ----------
    n_bits : int or array-like of shape (n_features,), default=4
        Bits per value, 1 to 16; each feature gets ``2 ** n_bits`` levels. An
        array gives each feature its own width (see :func:`skquant.allocate_bits`); the
        fitted arrays are then padded to the widest feature.
    encode : {"ordinal", "onehot", "onehot-dense", "reconstruct"}, default="ordinal"
        Output of ``transform``: integer codes, a sparse or dense one-hot matrix, or
        the quantized values themselves (same float dtype as X).
    clip : {"mse", "minmax", "std", "percentile"} or float, default="mse"
        How the range is chosen per feature. ``"mse"``: the range with the smallest
        training MSE, found by a scan and a bounded scalar minimiser, each candidate
        evaluated exactly in O(M log n) on the sorted column (never worse than the
        other rules, which are candidates too). ``"minmax"``: the data range.
        ``"std"``: ``mean -/+ n_std * std``. ``"percentile"``: the weighted
        percentiles ``100 - percentile`` and ``percentile``. A number ``X``: the range
        ``[-X, X]``. With ``symmetric=True`` the range is ``[-X, X]`` with ``X`` the
        largest ``|x|`` (``"minmax"``), ``n_std`` times the root mean square
        (``"std"``) or the ``percentile``-th percentile of ``|x|``.
    symmetric : bool, default=False
        ``False``: an affine range ``[lo, hi]`` per feature (``"mse"`` optimises both
        ends); the quantizer moves with the data. ``True``: the range is symmetric
        around 0, ``[-X, X]`` — the lecture's design A, one parameter per feature, for
        zero-centred data such as weights (a feature far from 0 then wastes levels:
        centre it first, or keep ``False``).
    mode : {"midrise", "midtread"}, default="midrise"
        ``"midrise"``: the lecture's quantizer, ``M`` cells of width
        ``Delta = (hi - lo) / M`` with levels at their centres ``lo + (k + 1/2) Delta``
        and thresholds ``lo + k Delta`` (the outer cells are open); 0 is a threshold
        when symmetric. ``"midtread"``: the integer affine quantization of PyTorch and
        ONNX ``QuantizeLinear``; the range is extended to contain 0,
        ``scale = (hi - lo) / (M - 1)``, ``zero_point = round(-lo / scale)`` and
        ``code = clip(round(x / scale) + zero_point, 0, M - 1)`` with rounding half to
        even, levels ``(code - zero_point) * scale``; 0 is a level. With
        ``symmetric=True``, ``zero_point = M / 2`` and ``scale = 2 X / (M - 1)``
        (PyTorch's symmetric ``quint8`` convention: codes minus ``M / 2`` are its
        ``qint8`` codes).
    n_std : float, default=3.0
        Width of the ``"std"`` range in standard deviations.
    percentile : float, default=99.9
        Percentile of the ``"percentile"`` range, in (50, 100].

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_features, 2 ** n_bits - 1)
        Decision thresholds, as in :class:`LloydMaxQuantizer`. With
        ``mode="midtread"`` they describe the cells except at exact ties, where
        ``transform`` rounds half to even.
    levels_ : ndarray of shape (n_features, 2 ** n_bits)
        Reconstruction levels.
    n_levels_ : ndarray of shape (n_features,)
        Number of levels really used by each feature.
    clip_min_, clip_max_ : ndarray of shape (n_features,)
        The range of each feature: the outer cell edges (midrise), or the range
        ``scale_`` and ``zero_point_`` derive from (midtread). The data range for
        features stored exactly (at most ``2 ** n_bits`` distinct values).
    scale_ : ndarray of shape (n_features,)
        The step ``Delta`` between levels; NaN for features stored exactly.
    zero_point_ : ndarray of shape (n_features,)
        With ``mode="midtread"`` only: the integer code of 0 (int64); -1 for
        features stored exactly.
    mse_ : ndarray of shape (n_features,)
        Weighted mean squared error of each feature on the training data (after
        ``partial_fit``: on the sketches, each bin coded as a whole).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
    sketches_ : list of ColumnSketch
        Only after :meth:`partial_fit`: the per-feature sketches of every batch seen
        (see :ref:`streaming`); ``fit`` removes them.
    n_samples_seen_ : int
        Only after :meth:`partial_fit`: the number of rows seen.

    See Also
    --------
    CompanderQuantizer : Non-uniform levels through a compressor function.
    LloydMaxQuantizer : The MSE-optimal non-uniform quantizer.
    sklearn.preprocessing.KBinsDiscretizer : ``strategy="uniform"`` is
        ``clip="minmax", symmetric=False`` with ragged bin edges.

    Notes
    -----
    Columns with at most ``2 ** n_bits`` distinct values get one level per value
    (zero error) and a warning, as for every scalar quantizer of skquant; their codes
    are then not the affine formula. Columns are fitted in parallel threads.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import UniformClipQuantizer
    >>> X = np.random.default_rng(0).standard_normal((100_000, 1))
    >>> q = UniformClipQuantizer(n_bits=3, symmetric=True).fit(X)
    >>> round(float(q.clip_max_[0]), 2)  # optimal clipping of N(0, 1) at 8 levels
    2.34
    >>> q.levels_.round(2)
    array([[-2.05, -1.47, -0.88, -0.29,  0.29,  0.88,  1.47,  2.05]])

    PyTorch's and ONNX's 8-bit affine quantization of the range [-1, 3]:

    >>> q8 = UniformClipQuantizer(8, clip="minmax", mode="midtread")
    >>> q8 = q8.fit(np.linspace(-1.0, 3.0, 1001)[:, None])
    >>> q8.scale_.round(6), q8.zero_point_
    (array([0.015686]), array([64]))
    >>> q8.transform([[0.0], [0.02], [9.0]]).ravel()
    array([ 64,  65, 255], dtype=uint8)
    """

    _parameter_constraints: dict = {
        **BaseScalarQuantizer._parameter_constraints,
        "clip": [
            StrOptions({"mse", "minmax", "std", "percentile"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "symmetric": ["boolean"],
        "mode": [StrOptions({"midrise", "midtread"})],
        "n_std": [Interval(Real, 0, None, closed="neither")],
        "percentile": [Interval(Real, 50, 100, closed="right")],
    }

    def __init__(
        self,
        n_bits=4,
        *,
        encode="ordinal",
        clip="mse",
        symmetric=False,
        mode="midrise",
        n_std=3.0,
        percentile=99.9,
    ):
        super().__init__(n_bits=n_bits, encode=encode)
        self.clip = clip
        self.symmetric = symmetric
        self.mode = mode
        self.n_std = n_std
        self.percentile = percentile

    def _design(self, summary_of, n_features, dtype):
        infos = self._fit_summaries(summary_of, n_features, dtype)
        self.clip_min_ = np.array([i.get("lo", i["min"]) for i in infos])
        self.clip_max_ = np.array([i.get("hi", i["max"]) for i in infos])
        self.scale_ = np.array([i.get("scale", np.nan) for i in infos])
        if self.mode == "midtread":
            self.zero_point_ = np.array([i.get("zero_point", -1) for i in infos], dtype=np.int64)
        self.mse_ = np.array([i.get("mse", 0.0) for i in infos])

    def _fit_column(self, summary, n_levels, j):
        M = n_levels
        summary, unit = unit_summary(summary)  # designed in units of `unit`
        clip = self.clip / unit if isinstance(self.clip, Real) else self.clip
        midtread = self.mode == "midtread"
        span = M - 1 if midtread else M  # the range is `span` steps wide
        rules = ["minmax", "std", "percentile"] if clip == "mse" else [clip]
        ranges = [
            clip_range(summary, r, self.symmetric, self.n_std, self.percentile) for r in rules
        ]
        zero_point = None
        if self.symmetric:  # offset 0, the scale is the step, level number c is at 0
            c = M // 2 if midtread else 0.5 * (M - 1)
            family, offset = uniform_family(M, c), 0.0
            steps = [2.0 * hi / span for _, hi in ranges]
            if clip == "mse":
                step, _ = search_scale(summary, family, seeds=steps)
                lo, hi = -0.5 * span * step, 0.5 * span * step
            else:
                step, (lo, hi) = steps[0], ranges[0]
            if midtread:
                zero_point = c
        else:
            family = uniform_family(M, 0 if midtread else -0.5)
            if clip == "mse" and not midtread:
                # midrise is translation-equivariant: search on the column centred on
                # its median, so a column far from 0 (1e8 + N(0, 1)) is searched like
                # one at 0, without cancellation
                c = summary.shift
                centred = summary._replace(u=summary.u - c, shift=0.0)
                (offset, step, _), _ = search_affine(
                    centred, M, False, [(a - c, b - c) for a, b in ranges]
                )
                offset += c
                lo, hi = offset, offset + span * step
            elif clip == "mse":
                (offset, step, zero_point), _ = search_affine(summary, M, midtread, ranges)
                lo, hi = offset, offset + span * step
            else:
                lo, hi = ranges[0]
                if midtread:
                    lo, hi = min(lo, 0.0), max(hi, 0.0)
                offset, step, zp = _affine_members(np.array([lo]), np.array([hi]), M, midtread)
                offset, step = float(offset[0]), float(step[0])
                zero_point = None if zp is None else int(zp[0])
        thresholds, levels = family.codebook(summary, offset, step)
        info = {
            "lo": float(lo) * unit,
            "hi": float(hi) * unit,
            "scale": float(step) * unit,
            "mse": summary.sse(thresholds, levels) / summary.total_weight * unit * unit,
        }
        if midtread:
            info["zero_point"] = int(zero_point)
        return thresholds * unit, levels * unit, info

    def _encode(self, X):
        """Midrise: the thresholds. Midtread: the affine formula, ties to even."""
        if self.mode == "midrise":
            return super()._encode(X)
        codes = np.empty(X.shape, dtype=self._codes_dtype)
        bad = K.affine_encode(X, self.scale_, self.zero_point_, self.n_levels_, codes)
        exact = np.flatnonzero(~(self.scale_ > 0))
        if exact.size and not bad.any():  # features stored exactly use their thresholds
            sub = np.ascontiguousarray(X[:, exact])
            thresholds = _ceil_to_dtype(self.thresholds_[exact].astype(np.float64), X.dtype)
            sub_codes = np.empty(sub.shape, dtype=codes.dtype)
            K.encode(sub, thresholds, sub_codes)
            codes[:, exact] = sub_codes
        if bad.any():
            return super()._encode(X)  # raises the error naming the columns
        return codes
