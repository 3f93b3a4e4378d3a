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

from . import _kernels as K
from ._summary import dot

_MAX_POLISH = 100  # alternations of cells and least squares (:func:`_polish`)


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
def _abs_quantile(u, w, q):
    """``weighted_quantile(np.abs(u), w, q)`` for increasing ``u``, without a sort
    (:func:`K.abs_quantile`)."""
    weights = np.ones(u.shape[0]) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    return float(K.abs_quantile(np.ascontiguousarray(u, dtype=np.float64), weights, float(q)))


def _summary_abs_quantile(summary, q):
    """:func:`_abs_quantile` of the summary's values and weights, from its prefix sums
    (:func:`K.abs_quantile_sorted`: O(log^2 k) for counts)."""
    return float(K.abs_quantile_sorted(summary.u, summary.W, float(q)))


def clip_range(summary, clip, symmetric, n_std, percentile):
    """The range ``(lo, hi)`` of a clipping rule; ``lo = -hi`` when ``symmetric``.

    ``"minmax"`` is the data range (``max |x|`` when symmetric); ``"std"`` is
    ``mean -/+ n_std * std`` (``n_std`` times the root mean square when symmetric);
    ``"percentile"`` the weighted inverted-CDF percentiles ``100 - p`` and ``p`` (the
    ``p``-th percentile of ``|x|`` when symmetric); a number ``X`` is ``[-X, X]``. A
    rule that gives an empty range (a percentile on data that are mostly one value)
    falls back to ``"minmax"``.
    """
    u = summary.u
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
            hi = _summary_abs_quantile(summary, p)
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
def _best(summary, values, keys):
    """Index of the smallest value; values within rounding of it (1e-12 relative) are
    ties, broken by the smallest key, so that equal errors reached through different
    roundings (weights versus repeated samples) give the same choice."""
    values = np.asarray(values, dtype=np.float64)
    low = values.min()
    tol = 1e-12 * (abs(low) + 1e-12 * summary.S2[-1])
    tied = np.flatnonzero(values <= low + tol)
    return int(tied[np.argmin(np.asarray(keys)[tied])])


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
        den = dot(y * y, w)
        num = dot(y, s1 + (summary.shift - offset) * w)
        return (offset, num / den) if den > 0 else None
    p, q, r = float(w.sum()), dot(y, w), dot(y * y, w)
    if p * r - q * q <= 1e-12 * p * r:
        return None  # all the weight in one cell
    o, s = _solve_symmetric_2x2(p, q, r, float(s1.sum()), dot(y, s1))
    return o + summary.shift, s


def _solve_symmetric_2x2(p, q, r, b0, b1):
    """``(x0, x1)`` with ``[[p, q], [q, r]] @ (x0, x1) = (b0, b1)``: Gaussian
    elimination with partial pivoting in Python floats (the same on every machine,
    where ``np.linalg.solve``'s LAPACK kernels are the CPU's)."""
    if abs(q) > abs(p):  # pivot on the second row
        m = p / q
        x1 = (b0 - m * b1) / (q - m * r)
        return (b1 - r * x1) / q, x1
    m = q / p
    x1 = (b1 - m * b0) / (r - m * q)
    return (b0 - q * x1) / p, x1


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


# Branch and bound (K.range_bnb): boxes that cannot beat the incumbent by more than
# _RTOL of its error are discarded; a search stops after _MAX_BOXES boxes, and then
# reports the gap that is left. A box costs O(M log n), so the limit is
# _BOX_BUDGET // M boxes (at most _MAX_BOXES): the time per column stays bounded at any
# number of levels (met at 8 bits by the affine midrise search, never at 4 bits on the
# benchmark's columns).
_RTOL = 1e-12
_MAX_BOXES = 2**18
_BOX_BUDGET = 2**22
_N_POLISHED = 8  # best scanned ranges polished when a search stops at the limit
# from this many levels on, the midtread search's step limit is narrowed (a few O(n)
# bounds, cheap beside a search of that many zero points; at 8 bits the search then
# finishes on columns where the coarser limit left it at its box limit)
_REFINE_LEVELS = 32
_REFINE_STEPS = 3


class RangeFit(NamedTuple):
    """A searched range: ``offset``, ``scale``, ``zero_point`` (midtread, else None),
    its weighted squared error ``sse``, and ``gap``: an upper bound of how much lower
    (relative to ``sse``) the error of any member of the family can be: ``0.0`` when
    the branch and bound finished (certified to ``_RTOL``)."""

    offset: float
    scale: float
    zero_point: object
    sse: float
    gap: float


def _run_bnb(summary, coeffs, boxes, centroid, start, shift_z=False, max_span=np.inf,
             granular=False):
    """Run :func:`K.range_bnb` from the incumbent ``start = (p, q, z, sse)``
    (``granular``: with its bound that holds whatever the phase of the thresholds)."""
    alpha, beta, gamma, delta = (np.ascontiguousarray(c, dtype=np.float64) for c in coeffs)
    incumbent = np.array(start, dtype=np.float64)
    # thresholds halfway between their levels (nearest-level cells): the kernel's
    # tighter bound on the values near the thresholds applies
    # (np.allclose's test, without its overhead: these arrays are finite)
    midpoint = not centroid and len(delta) > 1
    if midpoint:
        mid_y = 0.5 * (gamma[:-1] + gamma[1:])
        mid_d = 0.5 * (delta[:-1] + delta[1:])
        midpoint = bool((np.abs(alpha - mid_y) <= 1e-14).all()
                        and (np.abs(beta - mid_d) <= 1e-14 + 1e-14 * np.abs(mid_d)).all())
    lower, _, certified = K.range_bnb(
        summary.u, summary.W, summary.S1, summary.S2, float(summary.shift),
        alpha, beta, gamma, delta, shift_z, np.ascontiguousarray(boxes, dtype=np.float64),
        centroid, float(max_span), incumbent, _RTOL,
        min(_MAX_BOXES, max(_BOX_BUDGET // max(len(delta), 1), 64)), midpoint, granular,
    )
    sse = incumbent[3]
    gap = 0.0 if certified or not sse > 0 else max(1.0 - lower / sse, 0.0)
    return incumbent, gap


def _scale_top(summary, t, y):
    """A scale above which no threshold ``scale * t`` crosses a value (cells fixed)."""
    big = max(-float(summary.u[0]), float(summary.u[-1]))
    moving = np.abs(t[t != 0])
    top = 2.0 * big / max(np.max(np.abs(y)), 1e-300)
    if moving.size:
        top = max(top, big / moving.min())
    return top * (1.0 + 1e-9) if top > 0 else 1.0


def search_scale(summary, family, seeds=()):
    """Scale ``s > 0`` minimising the exact error of the member ``(0, s)``.

    The global minimum over every scale, by branch and bound (:func:`K.range_bnb`)
    on ``(0, top]`` and ``[top, inf)``, with ``top`` a scale above which the cells no
    longer change; the incumbent starts from the best of ``seeds`` (scales of other
    rules), so the result is never worse than any of them. ``nearest`` families are
    then polished to the exact minimum of their piece (:func:`_polish`).

    Returns
    -------
    RangeFit with ``offset = 0``.
    """
    t, y = family.t, family.y
    start = (0.0, 1.0, 0.0, np.inf)
    seeds = np.asarray(seeds, dtype=np.float64).ravel()
    values = family.sse(summary, 0.0, seeds) if seeds.size else seeds
    for s, v in zip(seeds.tolist(), values.tolist()):  # the first of the smallest
        if v < start[3]:
            start = (0.0, s, 0.0, v)
    top = _scale_top(summary, t, y)
    boxes = [[0.0, 0.0, 0.0, top, 0.0], [0.0, 0.0, top, np.inf, 0.0]]
    zeros_t, zeros_y = np.zeros_like(t), np.zeros_like(y)
    best, gap = _run_bnb(summary, (zeros_t, t, zeros_y, y), boxes, family.centroid, start)
    scale, sse = float(best[1]), float(best[3])
    if family.nearest and not family.centroid:
        _, scale, sse = _polish(summary, family, 0.0, scale, sse)
    return RangeFit(0.0, scale, None, sse, gap)


def _midrise_box(u0, u1, M):
    """A box ``(lo, hi)`` and a largest span ``hi - lo`` that hold a global minimum of
    an affine midrise quantizer (the search runs on :func:`_midrise_centre_box`, which
    starts from these limits).

    With ``R = u1 - u0``: a step above ``3 R`` leaves at most one threshold inside the
    data, at least ``3 R / 2 - R`` from every value's level, so no such step beats one
    cell with the level at the mean (error: the variance, at most ``R^2 / 4``); and at
    a minimum the lowest level is at most ``u1`` and the highest at least ``u0`` (else
    moving the grid toward the data lowers every error): ``lo <= u1``, ``hi >= u0``.
    """
    span = 3.0 * (u1 - u0) * M
    return np.array([[u1 - span, u1, u0, u0 + span, 0.0]]), span


def _outer_level_limits(summary, sse):
    """``(L, H)``: every range of error at most ``sse`` has its lowest level below
    ``L`` and its highest above ``H``.

    The values below the lowest level ``y`` have an error of at least
    ``F(y) = sum_{x < y} w (y - x)^2``, increasing in ``y``: ``F(y) <= sse`` needs
    ``y < L`` for any ``L`` with ``F(L) > sse``; ``F`` is evaluated at every 64th value
    and one further such point is taken, which absorbs rounding. Likewise above.
    """
    u, W, S1, S2 = summary.u, summary.W, summary.S1, summary.S2
    k = u.shape[0]
    idx = np.arange(0, k, 64)
    if idx[-1] != k - 1:
        idx = np.append(idx, k - 1)
    x = u[idx] - summary.shift
    low = x * x * W[idx] - 2.0 * x * S1[idx] + S2[idx]  # values below u[idx]
    up = (x * x * (W[-1] - W[idx + 1]) - 2.0 * x * (S1[-1] - S1[idx + 1])
          + (S2[-1] - S2[idx + 1]))  # values above u[idx]
    i = np.flatnonzero(low > sse)
    j = np.flatnonzero(up > sse)
    L = float(u[idx[i[0] + 1]]) if i.size > 1 else float(u[-1])
    H = float(u[idx[j[-1] - 1]]) if j.size > 1 else float(u[0])
    return L, H


def _step_limit(summary, sse, d0, d_hi, refine=False):
    """A step ``D`` such that no uniform quantizer of step above ``D`` has an error at
    most ``sse``: the first of ``1.5 d0, 1.5^2 d0, ...`` (``d0`` the incumbent's step)
    whose :func:`K.two_cell_bound` exceeds ``sse`` (``d_hi`` if none below it); with
    ``refine``, narrowed by ``_REFINE_STEPS`` geometric bisections between it and the
    one before (each tested ``D`` is a valid limit)."""
    D = 1.5 * d0
    limit = sse * (1.0 + 1e-6)

    def above(D):
        return K.two_cell_bound(summary.u, summary.W, summary.S1, summary.S2,
                                D * (1.0 - 1e-9), limit) > limit

    while D < d_hi:
        if above(D):
            if refine:
                lo = D / 1.5
                for _ in range(_REFINE_STEPS):
                    mid = np.sqrt(lo * D)
                    if above(mid):
                        D = mid
                    else:
                        lo = mid
            return D
        D *= 1.5
    return d_hi


def _midrise_centre_box(summary, M, sse, d0=0.0):
    """An initial box ``[c_lo, c_hi, d_lo, d_hi, 0]`` of centres and steps that holds
    every affine midrise range of error at most ``sse`` that can be a global minimum.

    From :func:`_midrise_box`: a step of at most ``3 R`` (and at most
    :func:`_step_limit` from the incumbent's step ``d0``), ``lo <= u1`` and
    ``hi >= u0``; from :func:`_outer_level_limits`: the lowest level
    ``c - (M - 1) d / 2`` below ``L`` and the highest above ``H``, so
    ``d >= (H - L) / (M - 1)``.
    """
    u0, u1 = float(summary.u[0]), float(summary.u[-1])
    d_hi = 3.0 * (u1 - u0)
    L, H = _outer_level_limits(summary, sse) if np.isfinite(sse) else (u1, u0)
    if np.isfinite(sse) and d0 > 0:
        d_hi = min(d_hi, _step_limit(summary, sse, d0, d_hi))
    d_lo = max((H - L) / (M - 1), 0.0) * (1.0 - 1e-9)
    c_lo = max(u0 - 0.5 * M * d_hi, H - 0.5 * (M - 1) * d_hi)
    c_hi = min(u1 + 0.5 * M * d_hi, L + 0.5 * (M - 1) * d_hi)
    pad = 1e-9 * (u1 - u0)
    return np.array([[c_lo - pad, c_hi + pad, d_lo, d_hi, 0.0]])


def _midtread_boxes(summary, M, start, top):
    """Initial boxes ``[0, 0, s_lo, s_hi, z]`` of the midtread search (levels
    ``(k - z) s``): for each zero point ``z`` the scales ``(0, top]`` and
    ``[top, inf)``, limited by the incumbent ``start``'s error ``sse``: scales at most
    :func:`_step_limit`; the lowest level ``-z s`` below ``L`` and the highest
    ``(M - 1 - z) s`` above ``H`` (:func:`_outer_level_limits`), which drops the zero
    points that cannot reach them."""
    sse, s0 = float(start[3]), float(start[1])
    if not np.isfinite(sse):
        return [[0.0, 0.0, a, b, z] for z in range(M) for a, b in ((0.0, top), (top, np.inf))]
    refine = M >= _REFINE_LEVELS
    s_hi = _step_limit(summary, sse, s0, top, refine) if s0 > 0 else top
    L, H = _outer_level_limits(summary, sse)
    s_min = max((H - L) / (M - 1), 0.0)
    boxes = []
    for z in range(M):
        lo = s_min
        if L < 0:
            lo = np.inf if z == 0 else max(lo, -L / z)
        if H > 0:
            lo = np.inf if z == M - 1 else max(lo, H / (M - 1 - z))
        lo *= 1.0 - 1e-9
        if s_hi < top:
            if lo < s_hi:
                boxes.append([0.0, 0.0, lo, s_hi, z])
            continue
        if lo < top:
            boxes.append([0.0, 0.0, lo, top, z])
        boxes.append([0.0, 0.0, max(lo, top), np.inf, z])
    return boxes


def search_affine(summary, n_levels, midtread, seeds=()):
    """Affine range minimising the exact error of a uniform quantizer: the global
    minimum, by branch and bound (:func:`K.range_bnb`).

    Midrise: over the centre and the step of the range (the box of
    :func:`_midrise_centre_box`), then polished with offset and step free
    (:func:`_polish`). Midtread: over the scale for every zero
    point at once (each zero point's scales ``(0, top]`` and ``[top, inf)``), then the
    scale polished. The incumbent starts from the best of the ``seeds`` (ranges of
    other rules), so the result is never worse than any of them.

    Returns
    -------
    RangeFit: the member ``offset + scale * (t, y)`` of ``uniform_family(M, -1/2)``
        (midrise; ``offset`` is ``lo``) or of ``uniform_family(M, 0)`` (midtread;
        ``offset = -zero_point * scale``).
    """
    M = n_levels
    u0, u1 = float(summary.u[0]), float(summary.u[-1])
    k = np.arange(M, dtype=np.float64)
    lo = np.array([s[0] for s in seeds], dtype=np.float64)
    hi = np.array([s[1] for s in seeds], dtype=np.float64)
    keep = hi > lo
    offset, scale, zp = _affine_members(lo[keep], hi[keep], M, midtread)
    if midtread:
        family = uniform_family(M, 0)
        values = family.sse(summary, offset, scale)
        start = (0.0, 1.0, 0.0, np.inf)
        if values.size:
            i = _best(summary, values, scale)
            start = (0.0, float(scale[i]), float(zp[i]), float(values[i]))
        top = 2.0 * max(-u0, u1) * (1.0 + 1e-9)  # every |t| >= 1/2: fixed cells above
        boxes = _midtread_boxes(summary, M, start, top)
        coeffs = (np.zeros(M - 1), k[:-1] + 0.5, np.zeros(M), k)
        best, gap = _run_bnb(summary, coeffs, boxes, False, start, shift_z=True)
        z, s, sse = int(best[2]), float(best[1]), float(best[3])
        _, s, sse = _polish(summary, uniform_family(M, z), 0.0, s, sse)
        return RangeFit(-z * s, s, z, sse, gap)
    family = uniform_family(M, -0.5)
    mean = summary.S1[-1] / summary.W[-1] + summary.shift
    R = u1 - u0
    offset = np.concatenate([offset, [mean - 1.5 * R]])  # one cell, level at the mean
    scale = np.concatenate([scale, [3.0 * R]])
    values = family.sse(summary, offset, scale)
    i = _best(summary, values, scale)
    # searched over the centre c and the step d of the range: thresholds
    # c + (k - M/2) d, levels c + (k + 1/2 - M/2) d (boxes then fit the valley of
    # translations, along which the error hardly changes, far better than in (lo, hi))
    start = (float(offset[i] + 0.5 * M * scale[i]), float(scale[i]), 0.0, float(values[i]))
    box = _midrise_centre_box(summary, M, start[3], start[1])
    best, gap = _run_bnb(summary, (np.ones(M - 1), k[1:] - 0.5 * M, np.ones(M),
                                   k + 0.5 - 0.5 * M), box, False, start, granular=True)
    c, d = float(best[0]), float(best[1])
    o, s, sse = _polish(summary, family, c - 0.5 * M * d, d, float(best[3]), free_offset=True)
    if gap > 0:  # stopped at the box limit: also polish the best ranges of a scan
        lower = (1.0 - gap) * float(best[3])
        mid = summary.quantile(0.5)
        grid_lo, grid_hi = np.meshgrid(np.linspace(u0 - 0.25 * R, mid, 64),
                                       np.linspace(mid, u1 + 0.25 * R, 64))
        keep = grid_hi > grid_lo
        g_o, g_s = grid_lo[keep], (grid_hi[keep] - grid_lo[keep]) / M
        values = family.sse(summary, g_o, g_s)
        for i in np.argsort(values, kind="stable")[:_N_POLISHED]:
            found = _polish(summary, family, g_o[i], g_s[i], values[i], free_offset=True)
            if found[2] < sse:
                o, s, sse = found
        gap = max(1.0 - lower / sse, 0.0)
    return RangeFit(o, s, None, sse, gap)


def _affine_members(lo, hi, M, midtread):
    """(offset, scale, zero point) of the quantizers of the ranges ``[lo, hi]``."""
    if not midtread:
        return lo, (hi - lo) / M, None
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
    scale = (hi - lo) / (M - 1)
    zp = np.clip(np.rint(-lo / scale), 0, M - 1)
    return -zp * scale, scale, zp.astype(np.int64)
