"""Searching a quantizer family for the clipping range of smallest exact error.

A quantizer *family* is a fixed shape (thresholds ``t``, levels ``y``) moved by an
offset and stretched by a scale; the exact empirical MSE of any member is one kernel
call on the column summary. :class:`~skquant.UniformClipQuantizer` searches uniform
families (offset and scale), :class:`~skquant.CompanderQuantizer` the scale of its
compressor's shape; the range rules (``"minmax"``, ``"std"``, ``"percentile"``) give
the seeds of the searches.
"""

from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import optimize

from . import _kernels as K
from ._summary import weighted_quantile

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
            lo, hi = summary.quantile(1.0 - p), summary.quantile(p)
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
    mid = summary.quantile(0.5)
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
