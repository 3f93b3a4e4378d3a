"""DeadZoneQuantizer: a uniform quantizer whose zero cell is wider (transform coding)."""

from numbers import Real

import numpy as np
from scipy import optimize

from . import _kernels as K
from . import _libm
from ._base import BaseScalarQuantizer, ColumnDesign
from ._compat import Interval, StrOptions
from ._lagrangian import entropy_bits
from ._range_search import Family, clip_range, search_scale
from ._summary import from_unit, unit_summary

# the fitted dead-zone ratio is searched in [1, _MAX_RATIO]: on a grid, then refined
_MAX_RATIO = 8.0
_N_RATIOS = 29
_N_STEPS = 384  # the step scan
_BUDGET = 2**26  # bisection steps of the (ratio, step) scan, which shrinks for large M
_N_REFINE = 3  # local minima of a scan refined by a bounded scalar minimiser
_MAX_EVALS = 60  # evaluations of one such refinement


def _cells(n_levels):
    """``(n_below, n_above)``: the cells below and above the zero cell. An even count
    puts the extra cell below, as two's complement integers do (int8: -128 .. 127)."""
    n_above = (n_levels - 1) // 2
    return n_levels - 1 - n_above, n_above


def dead_zone_family(n_levels, ratio, centroid):
    """The unit-step dead-zone quantizer about 0 as a :class:`Family` of
    ``skquant._range_search`` (levels at the cell midpoints; centroids if ``centroid``)."""
    n_below, n_above = _cells(n_levels)
    half = 0.5 * ratio
    below, above = np.arange(n_below, dtype=np.float64), np.arange(n_above, dtype=np.float64)
    t = np.concatenate([-(half + below)[::-1], half + above])
    y = np.concatenate([-(half + below + 0.5)[::-1], [0.0], half + above + 0.5])
    return Family(t, y, nearest=bool(ratio == 1.0), centroid=centroid)


class _Objective:
    """The design cost of one centred column: ``sse + lam * W * H`` (``lam`` in the
    column's units squared), evaluated exactly by :func:`K.dead_zone_cost`."""

    def __init__(self, summary, n_levels, centroid, lam):
        self.summary = summary
        self.n_below, self.n_above = _cells(n_levels)
        self.centroid = centroid
        self.lam = lam
        # bisection steps of one evaluation
        self.cost = n_levels * max(_libm.log2(summary.u.shape[0]), 1.0)

    def parts(self, ratios, steps):
        ratios, steps = np.broadcast_arrays(
            np.asarray(ratios, dtype=np.float64), np.asarray(steps, dtype=np.float64)
        )
        ratios = np.ascontiguousarray(ratios.ravel())
        steps = np.ascontiguousarray(steps.ravel())
        sse, bits = np.empty(steps.shape[0]), np.empty(steps.shape[0])
        s = self.summary
        K.dead_zone_cost(
            s.u, s.W, s.S1, s.S2, s.shift, self.n_below, self.n_above, ratios, steps,
            self.centroid, sse, bits,
        )
        return sse, bits

    def __call__(self, ratios, steps):
        sse, bits = self.parts(ratios, steps)
        return sse + self.lam * bits


def _refine_minima(grid, values, func):
    """``(x, f)`` candidates: the scan's best local minima refined by a bounded scalar
    minimiser in ``log x`` between their grid neighbours."""
    padded = np.concatenate([[np.inf], values, [np.inf]])
    minima = np.flatnonzero((values <= padded[:-2]) & (values <= padded[2:]))
    out = []
    for i in minima[np.argsort(values[minima], kind="stable")[:_N_REFINE]]:
        lo, hi = _libm.log(grid[max(i - 1, 0)]), _libm.log(grid[min(i + 1, grid.size - 1)])
        if not hi > lo:
            continue
        res = optimize.minimize_scalar(
            lambda v: float(func(_libm.exp(v))), bounds=(lo, hi), method="bounded",
            options={"xatol": 1e-7, "maxiter": _MAX_EVALS},
        )
        out.append((float(_libm.exp(res.x)), float(res.fun)))
    return out


def _step_grid(objective, ratio_low, scale, n_ratios=1):
    """The geometric grid of steps scanned: from a small fraction of the column's
    spread over the number of levels up to the step whose zero cell (at the smallest
    ratio) holds the whole column, beyond which every step gives the same codes."""
    top, spread = scale
    n_cells = objective.n_below + objective.n_above + 1
    hi = 2.0 * top / ratio_low * (1.0 + 1e-9)
    lo = min(spread / (4.0 * n_cells), 0.5 * hi)
    n = int(np.clip(_BUDGET / (n_ratios * objective.cost), 32, _N_STEPS))
    return np.geomspace(lo, hi, n)


def _search_step(objective, ratio, scale):
    """``(ratio, step, cost)`` of the best step at a fixed ratio: a geometric scan
    (:func:`_step_grid`), its best local minima refined by a bounded minimiser."""
    grid = _step_grid(objective, ratio, scale)
    values = objective(ratio, grid)
    candidates = [(float(v), float(s)) for s, v in zip(grid, values)]
    candidates += [(v, s) for s, v in _refine_minima(
        grid, values, lambda s: objective(ratio, s)[0])]
    cost, step = min(candidates)
    return ratio, step, cost


def _search_ratio_step(objective, scale):
    """``(ratio, step, cost)`` of the best ratio in ``[1, _MAX_RATIO]`` and step: a scan
    of both on a grid (one kernel call), then Nelder-Mead on ``(ratio, log step)``
    from the grid's best local minima (the ratio clamped to its range)."""
    n_ratios = _N_RATIOS if _BUDGET / (_N_RATIOS * objective.cost) >= 128 else 8
    ratios = np.linspace(1.0, _MAX_RATIO, n_ratios)
    steps = _step_grid(objective, 1.0, scale, n_ratios)
    values = objective(ratios[:, None], steps[None, :]).reshape(ratios.size, steps.size)
    square = np.pad(values, 1, constant_values=np.inf)
    is_min = np.ones(values.shape, dtype=bool)
    for di in (0, 1, 2):
        for dj in (0, 1, 2):
            is_min &= values <= square[di : di + ratios.size, dj : dj + steps.size]
    flat = np.flatnonzero(is_min.ravel())
    starts = flat[np.argsort(values.ravel()[flat], kind="stable")[:_N_REFINE]]
    best = int(np.argmin(values[0]))  # the plain uniform quantizer, r = 1, is a candidate
    candidates = [(float(values[0, best]), 1.0, float(steps[best]))]

    def clamp(p):
        return min(max(float(p[0]), 1.0), _MAX_RATIO), float(_libm.exp(p[1]))

    def cost(p):
        r, s = clamp(p)
        return float(objective(r, s)[0])

    for i in starts:
        a, b = divmod(int(i), steps.size)
        candidates.append((float(values[a, b]), float(ratios[a]), float(steps[b])))
        dr = ratios[1] - ratios[0]
        dl = _libm.log(steps[1] / steps[0])
        x0 = np.array([ratios[a], _libm.log(steps[b])])
        simplex = np.array([x0, x0 + [dr, 0.0], x0 + [0.0, dl]])
        with np.errstate(invalid="ignore"):  # costs of inf (data near 1e308) compared
            res = optimize.minimize(
                cost, x0, method="Nelder-Mead",
                options={"initial_simplex": simplex, "xatol": 1e-6, "fatol": 0.0,
                         "maxfev": 3 * _MAX_EVALS},
            )
        r, s = clamp(res.x)
        candidates.append((float(res.fun), r, s))
    cost_, ratio, step = min(candidates)
    return ratio, step, cost_


class DeadZoneQuantizer(BaseScalarQuantizer):
    """Uniform scalar quantizer with a dead zone: a wider zero cell, for peaked data.

    Each feature is quantized about a centre ``c`` (0, or the fitted median or mean)
    with a step ``Delta``: the zero cell is ``[c - r Delta / 2, c + r Delta / 2)``,
    ``r >= 1`` the dead-zone ratio, and the other cells are ``Delta`` wide on either
    side, the outer ones open. Values in the zero cell are coded as the centre itself
    (code ``zero_code_``), so small values give many zero codes, whose stream an
    entropy coder compresses well: the quantizer of transform coding (the DCT
    coefficients of JPEG, the wavelet coefficients of JPEG 2000 with ``r = 2``, H.264's
    with a rounding offset ``f``, ``r = 2 (1 - f)``). Reconstruction is at the cells'
    centroids (the "reconstruction offset" of those codecs) or at their midpoints.

    The step (and the ratio, with ``dead_zone="fit"``) minimises the exact empirical
    MSE at the given number of levels, or with ``lam`` the rate-distortion cost
    ``MSE + lam * H``, ``H`` the entropy in bits of the codes (what an entropy coder
    spends per value). For a Laplacian the optimal entropy-constrained quantizer is of
    this form (Sullivan 1996), so ``dead_zone="fit"`` with ``lam`` reaches it.

    Parameters
    ----------
    n_bits : int, array-like of shape (n_features,) or None, default=None
        Bits per value, 1 to 16: ``n_bits=b`` means ``n_levels=2**b`` (an even count:
        see ``n_levels``). ``None`` means 4 bits unless ``n_levels`` is given (giving
        both is an error). An array gives each feature its own width.
    n_levels : int, array-like of shape (n_features,) or None, default=None
        Number of levels of each feature, 2 to 65536; odd counts (``2 K + 1``: the zero
        cell and ``K`` cells on each side) are the symmetric quantizer. An even count
        ``2 K + 2`` puts the extra cell below the zero cell, as two's complement
        integers do (int8 codes -128 to 127): ``n_bits=8`` is that int8 quantizer, and
        ``n_levels=255`` the symmetric one. With ``lam`` it is the largest number of
        levels (cells beyond the data stay empty and cost no bits).
    encode : {"ordinal", "onehot", "onehot-dense", "reconstruct"}, default="ordinal"
        Output of ``transform``: integer codes, a sparse or dense one-hot matrix, or
        the quantized values themselves (same float dtype as X).
    dead_zone : float >= 1 or "fit", default="fit"
        The ratio ``r`` of the zero cell's width to the step: 1 is the plain
        (midtread) uniform quantizer, 2 JPEG 2000's. ``"fit"`` chooses it per feature
        in ``[1, 8]`` (a scan, then a bounded scalar minimiser) with the step, for the
        smallest MSE (or cost, with ``lam``); it is never worse than ``r = 1``.
    center : float, "median" or "mean", default=0.0
        The centre of the quantizer: a number (0 for transform coefficients), or each
        feature's weighted median or mean.
    reconstruction : {"centroid", "midpoint"}, default="centroid"
        ``"centroid"``: each cell is reconstructed by the weighted mean of its training
        values (the MSE-optimal level for the cell; the zero cell's is near, not at, the
        centre). ``"midpoint"``: the zero cell by the centre, the others by the middle
        of their ``Delta``-wide interval, ``c +- (r / 2 + k - 1 / 2) Delta``.
    lam : float >= 0 or None, default=None
        ``None``: minimise the MSE at ``n_levels`` levels. A number: minimise
        ``MSE + lam * H`` (``lam`` in squared units of X per bit; larger means fewer
        bits), the entropy-constrained design. ``lam=0`` is the MSE design.

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_features, M - 1)
        Decision thresholds, increasing along each row, with ``M`` the largest of
        ``max_levels_``; in the dtype of the fitted data (float32 thresholds are rounded
        up). Padded with ``+inf`` for features with fewer levels.
    levels_ : ndarray of shape (n_features, M)
        Reconstruction levels; a feature with fewer levels repeats its last level.
    n_levels_ : ndarray of shape (n_features,)
        Number of levels of each feature (codes are ``0 .. n_levels_ - 1``).
    max_levels_ : ndarray of shape (n_features,)
        The number of levels each feature was designed for (``n_bits`` or
        ``n_levels`` resolved once in fit).
    center_ : ndarray of shape (n_features,)
        The centre ``c`` of each feature.
    step_ : ndarray of shape (n_features,)
        The step ``Delta``; NaN for features stored exactly.
    dead_zone_ : ndarray of shape (n_features,)
        The dead-zone ratio ``r`` (fitted or given); NaN for features stored exactly.
    zero_code_ : ndarray of shape (n_features,)
        The code of the zero cell (int64); -1 for features stored exactly.
    entropy_ : ndarray of shape (n_features,)
        Entropy in bits of each feature's codes on the training data (weighted): the
        bits per value an ideal entropy coder spends.
    mse_ : ndarray of shape (n_features,)
        Weighted mean squared error of each feature on the training data (after
        ``partial_fit``: on the sketches).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
    sketches_ : list of ColumnSketch
        Only after :meth:`partial_fit`: the per-feature sketches (see :ref:`streaming`).
    n_samples_seen_ : int
        Only after :meth:`partial_fit`: the number of rows seen.

    See Also
    --------
    UniformClipQuantizer : ``mode="midtread", symmetric=True`` is ``dead_zone=1``.
    LloydMaxQuantizer : The MSE-optimal quantizer at a fixed number of levels.

    Notes
    -----
    With the step fixed, the error is piecewise quadratic in the step and not
    unimodal; the step is found by ``skquant._range_search.search_scale`` (the global
    minimum, by branch and bound on the exact error) for the MSE, and by a geometric
    scan refined by a bounded minimiser for the rate-distortion cost.
    Columns with at most ``M`` distinct values get one level per value (zero error)
    and a warning, as for every scalar quantizer of skquant.

    References
    ----------
    G. J. Sullivan, "Efficient scalar quantization of exponential and Laplacian random
    variables", IEEE Trans. Inf. Theory 42(5), 1996.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import DeadZoneQuantizer
    >>> X = np.random.default_rng(0).laplace(size=(100_000, 1))
    >>> q = DeadZoneQuantizer(n_levels=15, dead_zone=2.0).fit(X)
    >>> q.zero_code_, round(float(q.step_[0]), 2)
    (array([7]), 0.51)
    >>> codes = q.transform(X)
    >>> round(float(np.mean(codes == q.zero_code_)), 2)  # the zero cell's share
    0.4

    With ``lam`` the step and the ratio minimise ``MSE + lam * H``:

    >>> q = DeadZoneQuantizer(n_levels=63, lam=0.1).fit(X)
    >>> round(float(q.entropy_[0]), 2), round(float(q.mse_[0]), 3)
    (2.49, 0.075)
    """

    _parameter_constraints: dict = {
        **BaseScalarQuantizer._parameter_constraints,
        "dead_zone": [Interval(Real, 1, None, closed="left"), StrOptions({"fit"})],
        "center": [Interval(Real, None, None, closed="neither"), StrOptions({"median", "mean"})],
        "reconstruction": [StrOptions({"centroid", "midpoint"})],
        "lam": [Interval(Real, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        n_bits=None,
        *,
        n_levels=None,
        encode="ordinal",
        dead_zone="fit",
        center=0.0,
        reconstruction="centroid",
        lam=None,
    ):
        super().__init__(n_bits=n_bits, n_levels=n_levels, encode=encode)
        self.dead_zone = dead_zone
        self.center = center
        self.reconstruction = reconstruction
        self.lam = lam

    def _center(self, summary):
        if self.center == "median":
            return float(summary.quantile(0.5))
        if self.center == "mean":
            return float(summary.mean_std()[0])
        return float(self.center)

    @property
    def _exact_attributes(self):
        # features stored exactly: their centre and entropy, no step, ratio or zero cell
        return {
            "center_": self._center,
            "step_": np.nan,
            "dead_zone_": np.nan,
            "zero_code_": -1,
            "entropy_": lambda summary: entropy_bits(summary.weights),
        }

    def _fit_column(self, summary, n_levels, j):
        M = n_levels
        centroid = self.reconstruction == "centroid"
        c = self._center(summary)
        summary, unit = unit_summary(summary)  # designed in units of `unit`
        c_u = c / unit
        centred = summary._replace(u=summary.u - c_u, shift=summary.shift - c_u)
        absu = np.abs(centred.u)
        top = float(absu.max())
        if not top > 0:  # every value at the centre, only with a far centre: no spread
            top = 1.0
        # in the column's units; on a subnormal column lam / unit**2 is beyond float64
        # (inf, and inf * 0 bits is NaN): 2**1000 already prices every bit above any
        # squared error of the scaled column, so the design is the same
        lam = 0.0 if self.lam is None else min(float(self.lam) / unit / unit, 2.0**1000)
        objective = _Objective(centred, M, centroid, lam)
        order = np.argsort(absu, kind="stable")
        cum = np.cumsum(centred.weights[order])
        q99 = float(absu[order][np.searchsorted(cum, 0.99 * cum[-1])])
        scale = (top, q99 if q99 > 0 else top)
        fit_ratio = self.dead_zone == "fit"
        if fit_ratio:
            ratio, step, cost = _search_ratio_step(objective, scale)
        else:
            ratio, step, cost = _search_step(objective, float(self.dead_zone), scale)
        if self.lam is None:  # the exact best step of the MSE at that ratio (and at 1)
            seeds = [clip_range(centred, r, True, 3.0, 99.9)[1]
                     for r in ("minmax", "std", "percentile")]
            found = [(cost, ratio, step)]
            for r in {ratio, 1.0} if fit_ratio else {ratio}:
                family = dead_zone_family(M, r, centroid)
                outer = max(family.y[-1], -family.y[0])
                fit = search_scale(centred, family, seeds=[step] + [h / outer for h in seeds])
                found.append((fit.sse, r, fit.scale))
            cost, ratio, step = min(found)
        family = dead_zone_family(M, ratio, centroid)
        thresholds, levels = family.codebook(summary, c_u, step)
        pos = summary.positions(thresholds)
        attributes = {
            "center_": c,
            "step_": float(step) * unit,
            "dead_zone_": float(ratio),
            "zero_code_": int(_cells(M)[0]),
            "entropy_": entropy_bits(np.diff(summary.W[pos])),
        }
        return ColumnDesign(*from_unit(thresholds, levels, unit), attributes)
