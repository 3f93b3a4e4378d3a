"""Branch and bound over clipping ranges: the exact global minimum of a family's error.

A member of a *linear family* has thresholds ``alpha * p + beta * q`` and levels
``gamma * p + delta * q`` (``beta = beta0 - z``, ``delta = delta0 - z`` for an integer
``z`` when ``shift_z``). Uniform quantizers are such families: ``p = lo``, ``q`` the
step (affine midrise), ``p = 0``, ``q`` the scale (symmetric ranges, companders), or
``q`` the scale and ``z`` the zero point (affine midtread).

Over a box ``[p_lo, p_hi] x [q_lo, q_hi]`` each threshold and level moves in a known
interval, so every value ``x`` of the column has a known range of cells. The error of
any member of the box is bounded below by

- for the values whose cell is the same for the whole box: their exact error, a
  quadratic in ``(p, q)`` minimised over the box in closed form (the cells' sums come
  from the prefix sums, one bisection per cell edge);
- for the other values: the squared distance to the nearest interval swept by the
  level of one of their possible cells. With centroid levels: each cell's fixed values
  about their own centroid (adding values to a cell never lowers its error), and the
  other values at their distance to the range of centroids their cells can have.

The first term is exact when no threshold crosses a value inside the box and the
second is within O(width) of the truth on values that are within O(width) of a
threshold, so the gap of a box shrinks as the square of its width: best-first
branching (split the side that moves the levels most) closes the gap in few boxes.
Each box also evaluates its quadratic's minimiser exactly, which keeps the incumbent
close to the optimum. The search stops when no box can beat the incumbent by more
than ``rtol`` of it (certified), or after ``max_boxes`` boxes (then the remaining gap
is returned).
"""

import numpy as np

from ._config import jit
from ._uniform import _cell_sse, _lower_bound


@jit
def abs_quantile(u, w, q):
    """Inverted-CDF weighted quantile ``q`` of ``|u|`` for increasing ``u``, in O(k):
    the values in the order of a stable sort of ``|u|`` are the merge of the negative
    values reversed and the others (the negative one first at a tie), so the
    cumulative weights are the very sums ``np.cumsum`` gives in that order."""
    k = u.shape[0]
    i0 = _lower_bound(u, 0.0, 0, k)
    total = 0.0
    for rnd in range(2):
        target = q * total
        cum = 0.0
        i = i0 - 1
        j = i0
        while i >= 0 or j < k:
            if j >= k or (i >= 0 and -u[i] <= u[j]):
                cum += w[i]
                v = -u[i]
                i -= 1
            else:
                cum += w[j]
                v = u[j]
                j += 1
            if rnd == 1 and cum >= target:
                return v
        total = cum
    return abs(u[0]) if abs(u[0]) > abs(u[k - 1]) else abs(u[k - 1])


@jit
def _abs_count(u, W, v):
    """Weight of the values with ``|u| <= v`` (``v >= 0``)."""
    k = u.shape[0]
    lo = _lower_bound(u, -v, 0, k)
    a = lo
    b = k
    while a < b:  # the first index with u > v
        mid = (a + b) >> 1
        if u[mid] <= v:
            a = mid + 1
        else:
            b = mid
    return W[a] - W[lo]


@jit
def _first_reaching(u, W, target, i, j, sign):
    """Among the candidates ``sign * u[i .. j - 1]`` (increasing), the smallest whose
    :func:`_abs_count` reaches ``target`` (``inf`` if none)."""
    best = np.inf
    while i < j:
        mid = (i + j) >> 1
        v = sign * u[mid]
        if _abs_count(u, W, v) >= target:
            best = v
            if sign > 0:
                j = mid
            else:
                i = mid + 1
        elif sign > 0:
            i = mid + 1
        else:
            j = mid
    return best


@jit
def abs_quantile_sorted(u, W, q):
    """:func:`abs_quantile` of increasing ``u`` with the prefix sums ``W`` of its
    weights. With integer weights (counts: every ``W`` an integer up to ``2**53``)
    every partial sum is exact whatever the order, so the answer is the smallest
    ``|u|`` whose weight of ``|u| <= v`` reaches ``q`` times the total, found by
    bisection in O(log^2 k); other weights go through the merge of
    :func:`abs_quantile` (the same rounding as the cumulative sum in that order)."""
    k = u.shape[0]
    integral = W[k] <= 9007199254740992.0
    for i in range(k + 1):
        integral &= W[i] == np.floor(W[i])
    if not integral:
        w = np.empty(k)
        for i in range(k):
            w[i] = W[i + 1] - W[i]
        return abs_quantile(u, w, q)
    target = q * W[k]
    i0 = _lower_bound(u, 0.0, 0, k)
    a = _first_reaching(u, W, target, i0, k, 1.0)  # |u| = u
    b = _first_reaching(u, W, target, 0, i0, -1.0)  # |u| = -u, increasing as i falls
    v = min(a, b)
    if np.isfinite(v):
        return v
    return abs(u[0]) if abs(u[0]) > abs(u[k - 1]) else abs(u[k - 1])


@jit
def _two_cell(W, S1, S2, a, b, D):
    """Smallest error of the values ``a .. b - 1`` in two adjacent cells (one may be
    empty) whose levels are at least ``D`` apart: the best split, each side about its
    centroid, plus ``w_l w_r / (w_l + w_r) (D - (m_r - m_l))^2`` when the centroids
    ``m_l, m_r`` are closer than ``D``."""
    best = np.inf
    for c in range(a, b + 1):  # split: a .. c - 1 and c .. b - 1
        v = _cell_sse(W, S1, S2, a, c, True, 0.0) + _cell_sse(W, S1, S2, c, b, True, 0.0)
        wl = W[c] - W[a]
        wr = W[b] - W[c]
        if wl > 0.0 and wr > 0.0:  # levels at least D apart
            gap = D - ((S1[b] - S1[c]) / wr - (S1[c] - S1[a]) / wl)
            if gap > 0.0:
                v += wl * wr / (wl + wr) * gap * gap
        if v < best:
            best = v
    return best


@jit
def _interval_terms(u, W, S1, S2, D, ta, tb, tc, start, stop, record):
    """The intervals ``[u[0] + j D, u[0] + (j + 1) D)`` that hold values, in order,
    each with its :func:`_two_cell` term: returns ``(total, n, span)``, the sum of the
    terms (returned as soon as it exceeds ``stop``), the number of intervals and the
    largest ``u[b - 1] - u[a]`` of one; with ``record``, interval ``i``'s first and
    one past its last index go to ``ta[start + i], tb[start + i]`` and the sum of
    the terms before it to ``tc[start + i]`` (``tc[start + n]``: the total)."""
    k = u.shape[0]
    total = 0.0
    span = 0.0
    n = 0
    a = 0
    j = 1.0
    while a < k:
        b = _lower_bound(u, u[0] + j * D, a, k)
        j += 1.0
        if b <= a:
            continue
        if record:
            ta[start + n] = a
            tb[start + n] = b
            tc[start + n] = total
        n += 1
        total += _two_cell(W, S1, S2, a, b, D)
        if total > stop:
            return total, n, span
        span = max(span, u[b - 1] - u[a])
        a = b
        if b < k:  # skip the empty intervals up to the next value (one may be left)
            j = max(j, np.floor((u[b] - u[0]) / D))
    if record:
        tc[start + n] = total
    return total, n, span


@jit
def granular_table(u, W, S1, S2, D, ta, tb, tc, start):
    """The terms of :func:`two_cell_bound` at ``D``, interval by interval
    (:func:`_interval_terms`): ``ta, tb, tc`` (OUT) from ``start`` hold the ``n``
    intervals' index ranges and the sums of the terms before each (``tc[start + n]``:
    all of them); they need ``k + 1`` free entries from ``start``. Returns
    ``(n, span)``: ``span`` is the largest ``u[b - 1] - u[a]`` of an interval, so the
    terms bound the values of any run of whole intervals under every quantizer whose
    thresholds are more than ``span`` apart and whose adjacent levels are at least
    ``D`` apart."""
    _, n, span = _interval_terms(u, W, S1, S2, D, ta, tb, tc, start, np.inf, True)
    return n, span


@jit
def two_cell_bound(u, W, S1, S2, D, stop=np.inf):
    """Lower bound of the error of every quantizer whose thresholds are at least ``D``
    apart: the sum, over the intervals ``[u[0] + j D, u[0] + (j + 1) D)``, of the
    smallest error of the interval's values in two cells whose levels are at least
    ``D`` apart (an interval that short holds at most one threshold, so its values
    are in at most two adjacent cells; the best split and the best such pair of
    levels cost no more: the cells' errors about their centroids plus
    ``w_l w_r / (w_l + w_r) (D - (m_r - m_l))^2`` when the centroids ``m_l, m_r``
    are closer than ``D``). O(k) for ``k`` distinct values.

    ``stop``: the sum is returned as soon as it exceeds ``stop`` (a partial sum of
    these non-negative terms, in the same order: above ``stop`` exactly when the whole
    sum is), for callers that only compare it with ``stop``.
    """
    none = np.empty(0, dtype=np.int64)
    return _interval_terms(u, W, S1, S2, D, none, none, np.empty(0), 0, stop, False)[0]


@jit
def _lin_min(a, lo, hi):
    """min over ``[lo, hi]`` of ``a * t`` (``hi`` may be inf)."""
    if a > 0.0:
        return a * lo
    if a < 0.0:
        return a * hi
    return 0.0


@jit
def _lin_max(a, lo, hi):
    if a > 0.0:
        return a * hi
    if a < 0.0:
        return a * lo
    return 0.0


# granular tables (range_bnb's `granular`): steps D_0 r^i, r = _TABLE_RATIO, at most
# _TABLES of them; their work (k per table) is kept below _TABLE_WORK * M per box
# bounded, counting _TABLE_ALLOWANCE boxes ahead
_TABLES = 64
_TABLE_RATIO = 2.0 ** 0.25
_TABLE_WORK = 16.0
_TABLE_ALLOWANCE = 256
_TABLE_BOXES = 64  # tables only on columns of k <= _TABLE_BOXES M log2(k) values
_TABLE_MEMORY = 8  # the tables' entries stay below _TABLE_MEMORY (k + 1)
# the granular bound only on boxes whose widest threshold sweep is at least this
# fraction of the step (below, it never beat the midpoint bound on the benchmark's
# columns: the values the thresholds sweep are then few)
_GRANULAR_SWEEP = 0.2

_BLOCK = 32  # values per entry of the coarse index of ``u`` (:func:`_find`)


@jit
def _find(u, uc, t, lo, hi):
    """:func:`_lower_bound` of ``t`` in ``u[lo:hi]`` through the coarse index
    ``uc = u[::_BLOCK]``: a bisection of ``uc`` (small enough to stay in cache) and
    one of a block of ``u``, instead of a bisection of all of ``u`` (a cache miss per
    step on large columns)."""
    J = _lower_bound(uc, t, 0, uc.shape[0])  # u[(J - 1) B] < t <= u[J B]
    a = max(lo, (J - 1) * _BLOCK + 1) if J > 0 else lo
    b = min(hi, J * _BLOCK)
    if a >= b:
        return min(max(a if J > 0 else lo, lo), hi) if a > b else a
    return _lower_bound(u, t, a, b)


@jit
def _member_sse(u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, p, q, centroid):
    """Exact weighted squared error of the member ``(p, q)``."""
    k = u.shape[0]
    M = gamma.shape[0]
    total = 0.0
    a = 0
    for m in range(M):
        b = k if m == M - 1 else _find(u, uc, alpha[m] * p + beta[m] * q, a, k)
        total += _cell_sse(W, S1, S2, a, b, centroid, gamma[m] * p + delta[m] * q - shift)
        a = b
    return total


@jit
def _member_sse_between(u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, p, q, centroid,
                        p_lo, p_hi, q_lo, q_hi, ends):
    """:func:`_member_sse` of a member ``(p, q)`` of the box that :func:`_box_bound`
    left ``ends`` for: each threshold's position is bisected between the positions of
    its ends over the box (few values in a narrow box) instead of over the column.
    The same result: the rounded threshold lies between its rounded ends (the
    products and the sum round monotonically), so the bisection finds the column's
    first value at or above it, and the cell edges are those of :func:`_member_sse`
    (the previous edge where a threshold falls below it). Falls back to
    :func:`_member_sse` outside the box or when ``ends`` are not in order."""
    M = gamma.shape[0]
    if not (ends[2 * (M - 1)] == 1 and p_lo <= p <= p_hi and q_lo <= q <= q_hi):
        return _member_sse(u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, p, q, centroid)
    k = u.shape[0]
    total = 0.0
    a = 0
    for m in range(M):
        if m == M - 1:
            b = k
        else:
            b = max(a, _lower_bound(u, alpha[m] * p + beta[m] * q, ends[m], ends[M - 1 + m]))
        total += _cell_sse(W, S1, S2, a, b, centroid, gamma[m] * p + delta[m] * q - shift)
        a = b
    return total


@jit
def _near_bound(u, W, S1, S2, shift, a, b, m_lo, m_hi, ylo, yhi):
    """Lower bound of the error of values ``a .. b - 1``, each in one of the cells
    ``m_lo .. m_hi`` whose levels sweep ``[ylo, yhi]``: the squared distance to the
    nearest of those intervals (their ends are non-decreasing in the cell)."""
    total = 0.0
    i = a
    for m in range(m_lo, m_hi + 1):
        if i >= b:
            break
        if m == m_hi:
            j = b
        else:
            j = _lower_bound(u, 0.5 * (yhi[m] + ylo[m + 1]), i, b)
        c = _lower_bound(u, ylo[m], i, j)
        total += _cell_sse(W, S1, S2, i, c, False, ylo[m] - shift)
        d = _lower_bound(u, yhi[m], c, j)
        total += _cell_sse(W, S1, S2, d, j, False, yhi[m] - shift)
        i = j
    return total


@jit
def _quad_value(cw, c1, c2, gamma, delta, shift, p, q):
    """Error of the fixed values of each cell about the member's levels."""
    total = 0.0
    for m in range(cw.shape[0]):
        if cw[m] > 0.0:
            d = gamma[m] * p + delta[m] * q - shift
            total += max(c2[m] - 2.0 * d * c1[m] + d * d * cw[m], 0.0)
    return total


@jit
def _clip_min_1d(a, b, lo, hi):
    """Minimiser over ``[lo, hi]`` of ``a t^2 - 2 b t`` (``a >= 0``)."""
    if a > 0.0:
        t = b / a
    elif b > 0.0:
        t = hi
    else:
        t = lo
    if t < lo:
        t = lo
    if t > hi:
        t = hi
    return t


@jit
def _fixed_min(cw, c1, c2, gamma, delta, shift, p_lo, p_hi, q_lo, q_hi):
    """Minimum over the box of the fixed values' error (cell ``m``: weight ``cw[m]``,
    centred sums ``c1[m], c2[m]``, level ``gamma[m] p + delta[m] q``) and its
    minimiser ``(p, q)``."""
    M = gamma.shape[0]
    # the fixed values' quadratic a_pp p^2 + 2 a_pq p q + a_qq q^2 - 2 b_p p - 2 b_q q
    app = 0.0
    apq = 0.0
    aqq = 0.0
    bp = 0.0
    bq = 0.0
    for m in range(M):
        e = c1[m] + shift * cw[m]
        app += cw[m] * gamma[m] * gamma[m]
        apq += cw[m] * gamma[m] * delta[m]
        aqq += cw[m] * delta[m] * delta[m]
        bp += gamma[m] * e
        bq += delta[m] * e
    if p_lo == p_hi:
        p = p_lo
        q = _clip_min_1d(aqq, bq - apq * p, q_lo, q_hi)
    else:
        det = app * aqq - apq * apq
        p = q = np.nan
        if det > 1e-12 * app * aqq and det > 0.0:
            p = (bp * aqq - bq * apq) / det
            q = (bq * app - bp * apq) / det
        if not (p_lo <= p <= p_hi and q_lo <= q <= q_hi):
            # the minimum is on an edge: the best of the four clipped edge minima
            best = np.inf
            for e in range(4):
                if e < 2:
                    pe = p_lo if e == 0 else p_hi
                    qe = _clip_min_1d(aqq, bq - apq * pe, q_lo, q_hi)
                else:
                    qe = q_lo if e == 2 else q_hi
                    if not np.isfinite(qe):
                        continue
                    pe = _clip_min_1d(app, bp - apq * qe, p_lo, p_hi)
                v = _quad_value(cw, c1, c2, gamma, delta, shift, pe, qe)
                if v < best:
                    best = v
                    p = pe
                    q = qe
    if not np.isfinite(q):
        q = q_lo
    return _quad_value(cw, c1, c2, gamma, delta, shift, p, q), p, q


@jit
def _box_bound(u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, p_lo, p_hi, q_lo, q_hi,
               centroid, midpoint, tlo, thi, ylo, yhi, cw, c1, c2, zs, ze, ends):
    """Lower bound of the error over the box, and a good member of it ``(p, q)``.

    ``ends`` (OUT, ``2 (M - 1) + 1`` entries): where the thresholds are in order over
    the box (``ends[-1] == 1``), ``ends[m]`` and ``ends[M - 1 + m]`` are the
    positions (``_lower_bound`` in ``u``) of ``tlo[m]`` and ``thi[m]``, the ends of
    threshold ``m`` (:func:`_member_sse_between`); else ``ends[-1] == 0``."""
    k = u.shape[0]
    M = gamma.shape[0]
    for m in range(M - 1):
        tlo[m] = _lin_min(alpha[m], p_lo, p_hi) + _lin_min(beta[m], q_lo, q_hi)
        thi[m] = _lin_max(alpha[m], p_lo, p_hi) + _lin_max(beta[m], q_lo, q_hi)
    for m in range(M):
        ylo[m] = _lin_min(gamma[m], p_lo, p_hi) + _lin_min(delta[m], q_lo, q_hi)
        yhi[m] = _lin_max(gamma[m], p_lo, p_hi) + _lin_max(delta[m], q_lo, q_hi)
        cw[m] = 0.0
        c1[m] = 0.0
        c2[m] = 0.0
    # outside the members whose thresholds increase (boxes that reach beyond them)
    # the ends may be out of order: then sorted, and the near-value term dropped
    monotone = True
    for m in range(M - 2):
        if tlo[m + 1] < tlo[m] or thi[m + 1] < thi[m]:
            monotone = False
    for m in range(M - 1):
        if ylo[m + 1] < ylo[m] or yhi[m + 1] < yhi[m]:
            monotone = False
    if not monotone:
        tlo.sort()
        thi.sort()
    # walk the values through the merged ends of the threshold intervals: a value
    # below i lower ends and j upper ends is in one of the cells j .. i
    for m in range(M - 1):
        zs[m] = -1
        ends[m] = k
        ends[M - 1 + m] = k
    ends[2 * (M - 1)] = 1 if monotone else 0
    wide = False  # a value with three or more possible cells (centroid bound)
    near = 0.0
    i = 0
    j = 0
    pos = 0
    while pos < k:
        if i < M - 1 and (j >= M - 1 or tlo[i] <= thi[j]):
            nxt = tlo[i]
            end = _find(u, uc, nxt, pos, k)
            ends[i] = end  # the ends come in order: pos is below every later one
            step_i = True
        elif j < M - 1:
            nxt = thi[j]
            end = _find(u, uc, nxt, pos, k)
            ends[M - 1 + j] = end
            step_i = False
        else:
            end = k
            step_i = False
        if end > pos:
            if i == j:
                cw[i] += W[end] - W[pos]
                c1[i] += S1[end] - S1[pos]
                c2[i] += S2[end] - S2[pos]
            elif monotone and not centroid:
                near += _near_bound(u, W, S1, S2, shift, pos, end, j, i, ylo, yhi)
                if i == j + 1:  # the zone of threshold j, for the midpoint bound
                    zs[j] = pos
                    ze[j] = end
                else:
                    wide = True
            elif i == j + 1:  # the zone of threshold j, for the centroid bound
                zs[j] = pos
                ze[j] = end
            else:
                wide = True
        pos = end
        if i >= M - 1 and j >= M - 1:
            break
        if step_i:
            i += 1
        else:
            j += 1
    if centroid:
        return _centroid_bound(u, W, S1, S2, shift, M, cw, c1, c2, zs, ze,
                               monotone and not wide, ylo, yhi), \
            0.5 * (p_lo + p_hi), 0.5 * (q_lo + q_hi) if np.isfinite(q_hi) else q_lo
    lb, p, q = _fixed_min(cw, c1, c2, gamma, delta, shift, p_lo, p_hi, q_lo, q_hi)
    lb += near
    if midpoint and monotone and not wide and np.isfinite(q_hi):
        lb2, p2, q2 = _midpoint_bound(W, S1, S2, shift, alpha, beta, gamma, delta, p_lo,
                                      p_hi, q_lo, q_hi, tlo, thi, cw, c1, c2, zs, ze)
        if lb2 > lb:
            return lb2, p2, q2
    return lb, p, q


@jit
def _midpoint_value(W, S1, S2, shift, alpha, beta, gamma, delta, tlo, thi, cw, c1, c2,
                    zs, ze, p, q):
    """The midpoint bound's function at ``(p, q)`` (see :func:`_midpoint_bound`),
    summed cell by cell and zone by zone."""
    total = _quad_value(cw, c1, c2, gamma, delta, shift, p, q)
    for m in range(gamma.shape[0] - 1):
        if zs[m] < 0 or ze[m] <= zs[m]:
            continue
        s0 = W[ze[m]] - W[zs[m]]
        s1 = S1[ze[m]] - S1[zs[m]]
        s2 = S2[ze[m]] - S2[zs[m]]
        wt = thi[m] - tlo[m]
        t = alpha[m] * p + beta[m] * q - shift
        d = (gamma[m + 1] - gamma[m]) * p + (delta[m + 1] - delta[m]) * q
        a = tlo[m] + thi[m] - 2.0 * shift
        b = (tlo[m] - shift) * (thi[m] - shift)
        chord = (a * s0 - 2.0 * s1) * t + (a * s1 - 2.0 * b * s0)
        total += max(s2 - 2.0 * t * s1 + t * t * s0, 0.0) + 0.25 * s0 * d * d - d * chord / wt
    return total


@jit
def _edge_min(a, b, lo, hi):
    """Minimiser over ``[lo, hi]`` of ``a t^2 + b t`` (any sign of ``a``)."""
    if a > 0.0:
        t = -0.5 * b / a
        return min(max(t, lo), hi)
    return lo if a * lo * lo + b * lo <= a * hi * hi + b * hi else hi


@jit
def _midpoint_bound(W, S1, S2, shift, alpha, beta, gamma, delta, p_lo, p_hi, q_lo, q_hi,
                    tlo, thi, cw, c1, c2, zs, ze):
    """A lower bound of the error over the box for a family whose thresholds are the
    midpoints of their levels (nearest-level cells), when every value has at most
    two possible cells, and the member ``(p, q)`` that attains it.

    A value ``x`` of the zone of threshold ``t`` (levels ``t -/+ d / 2``) has the
    error ``(x - t)^2 + d^2 / 4 - d |x - t|``; over the box ``x - t`` stays in
    ``[x - thi, x - tlo]``, where ``|x - t|`` is at most the chord of ``|.|`` over that
    interval, a linear function of ``t``. With ``d >= 0`` the error is then at least a
    quadratic in ``(p, q)`` whose zone sums are three prefix-sum differences; added
    to the fixed values' exact error, one quadratic (maybe indefinite) is minimised
    over the box: the interior stationary point when it is a minimum inside,
    else the best of the four edges' minima. Its gap shrinks with the sweep of the
    thresholds, and it couples the values near the thresholds with the fixed ones.
    """
    M = gamma.shape[0]
    app = 0.0
    apq = 0.0
    aqq = 0.0
    lp = 0.0
    lq = 0.0
    for m in range(M):  # fixed values: cw (g.theta - shift)^2 - 2 c1 (g.theta - shift)
        g = gamma[m]
        h = delta[m]
        e = c1[m] + shift * cw[m]
        app += cw[m] * g * g
        apq += cw[m] * g * h
        aqq += cw[m] * h * h
        lp -= 2.0 * g * e
        lq -= 2.0 * h * e
    for m in range(M - 1):
        if zs[m] < 0 or ze[m] <= zs[m]:
            continue
        s0 = W[ze[m]] - W[zs[m]]
        s1 = S1[ze[m]] - S1[zs[m]]
        wt = thi[m] - tlo[m]
        ga = alpha[m]
        gb = beta[m]
        da = gamma[m + 1] - gamma[m]
        db = delta[m + 1] - delta[m]
        a = tlo[m] + thi[m] - 2.0 * shift
        b = (tlo[m] - shift) * (thi[m] - shift)
        k1 = (a * s0 - 2.0 * s1) / wt
        k0 = (a * s1 - 2.0 * b * s0) / wt - k1 * shift
        e = s1 + shift * s0  # (x - t)^2 with t = ga p + gb q - shift
        app += s0 * ga * ga + 0.25 * s0 * da * da - k1 * da * ga
        apq += s0 * ga * gb + 0.25 * s0 * da * db - 0.5 * k1 * (da * gb + db * ga)
        aqq += s0 * gb * gb + 0.25 * s0 * db * db - k1 * db * gb
        lp += -2.0 * ga * e - k0 * da
        lq += -2.0 * gb * e - k0 * db
    best = np.inf
    bp = p_lo
    bq = q_lo
    if p_hi > p_lo:
        det = app * aqq - apq * apq
        if app > 0.0 and det > 1e-12 * app * aqq:
            p = (-lp * aqq + lq * apq) / (2.0 * det)
            q = (-lq * app + lp * apq) / (2.0 * det)
            if p_lo <= p <= p_hi and q_lo <= q <= q_hi:
                v = _midpoint_value(W, S1, S2, shift, alpha, beta, gamma, delta, tlo, thi,
                                    cw, c1, c2, zs, ze, p, q)
                return v, p, q
    for e in range(4):
        if e < 2:
            p = p_lo if e == 0 else p_hi
            if e == 1 and p_hi == p_lo:
                continue
            q = _edge_min(aqq, 2.0 * apq * p + lq, q_lo, q_hi)
        else:
            if p_hi == p_lo:
                break
            q = q_lo if e == 2 else q_hi
            p = _edge_min(app, 2.0 * apq * q + lp, p_lo, p_hi)
        v = _midpoint_value(W, S1, S2, shift, alpha, beta, gamma, delta, tlo, thi, cw, c1,
                            c2, zs, ze, p, q)
        if v < best:
            best = v
            bp = p
            bq = q
    return best, bp, bq


@jit
def _centroid_bound(u, W, S1, S2, shift, M, cw, c1, c2, zs, ze, use_zones, ylo, yhi):
    """Lower bound with centroid levels: each cell's fixed values about their own
    centroid, plus each value of a zone (between the fixed values of cells j and
    j + 1) at its distance to the nearest possible centroid of those cells.

    A cell's values are a top part of the zone below its fixed values, the fixed
    values and a bottom part of the zone above, so its centroid lies between the
    centroid with all the zone below and the one with all the zone above; the fixed
    values' error about any point of that range is at least their own.
    """
    total = 0.0
    for m in range(M):
        if cw[m] > 0.0:
            total += max(c2[m] - c1[m] * c1[m] / cw[m], 0.0)
    if not use_zones:
        return total
    for m in range(M):  # the possible centroids of cell m (ylo, yhi: OUT)
        lw = cw[m]
        l1 = c1[m]
        hw = cw[m]
        h1 = c1[m]
        if m > 0 and zs[m - 1] >= 0:
            lw += W[ze[m - 1]] - W[zs[m - 1]]
            l1 += S1[ze[m - 1]] - S1[zs[m - 1]]
        if m < M - 1 and zs[m] >= 0:
            hw += W[ze[m]] - W[zs[m]]
            h1 += S1[ze[m]] - S1[zs[m]]
        if cw[m] > 0.0:
            ylo[m] = shift + l1 / lw
            yhi[m] = shift + h1 / hw
        elif (m > 0 and zs[m - 1] >= 0) or (m < M - 1 and zs[m] >= 0):
            return total  # a zone next to a cell with no fixed value: no zone term
        else:
            ylo[m] = ylo[m - 1] if m > 0 else -np.inf
            yhi[m] = ylo[m]
    for m in range(M - 1):
        if ylo[m + 1] < ylo[m] or yhi[m + 1] < yhi[m] or yhi[m] < ylo[m]:
            return total
    for m in range(M - 1):
        if zs[m] >= 0:
            total += _near_bound(u, W, S1, S2, shift, zs[m], ze[m], m, m + 1, ylo, yhi)
    return total


@jit
def _min_gaps(alpha, beta, gamma, delta, p_lo, p_hi, q_lo, q_hi):
    """Smallest distance over the box between adjacent thresholds and between
    adjacent levels of a member (inf for a single threshold)."""
    thr = np.inf
    for m in range(alpha.shape[0] - 1):
        thr = min(thr, _lin_min(alpha[m + 1] - alpha[m], p_lo, p_hi)
                  + _lin_min(beta[m + 1] - beta[m], q_lo, q_hi))
    lev = np.inf
    for m in range(gamma.shape[0] - 1):
        lev = min(lev, _lin_min(gamma[m + 1] - gamma[m], p_lo, p_hi)
                  + _lin_min(delta[m + 1] - delta[m], q_lo, q_hi))
    return thr, lev


@jit
def _granular_bound(u, uc, W, S1, S2, shift, gamma, delta, p_lo, p_hi, q_lo, q_hi, lo_t,
                    hi_t, ow, o1, o2, og, od, ta, tb, tc, start, n):
    """Lower bound of the error over the box that does not depend on where the
    thresholds fall between the outer ones: the values below ``lo_t`` (the lowest end
    of any threshold) are in the first cell and those from ``hi_t`` (the highest) on
    in the last for every member, their exact error minimised over the box
    (:func:`_fixed_min`); the values between are bounded by the terms of a
    :func:`granular_table` (``ta, tb, tc`` from ``start``, ``n`` intervals) over its
    whole intervals among them, which holds for any placement of thresholds further
    apart than the table's span and levels at least its ``D`` apart."""
    k = u.shape[0]
    M = gamma.shape[0]
    i_lo = _find(u, uc, lo_t, 0, k)
    i_hi = _find(u, uc, hi_t, i_lo, k)
    ow[0] = W[i_lo] - W[0]
    o1[0] = S1[i_lo] - S1[0]
    o2[0] = S2[i_lo] - S2[0]
    ow[1] = W[k] - W[i_hi]
    o1[1] = S1[k] - S1[i_hi]
    o2[1] = S2[k] - S2[i_hi]
    og[0] = gamma[0]
    od[0] = delta[0]
    og[1] = gamma[M - 1]
    od[1] = delta[M - 1]
    outer = _fixed_min(ow, o1, o2, og, od, shift, p_lo, p_hi, q_lo, q_hi)[0]
    e0 = _lower_bound(ta, i_lo, start, start + n)  # the first interval from i_lo on
    e1 = _lower_bound(tb, i_hi + 1, start, start + n)  # the first one past i_hi
    if e1 > e0:
        outer += tc[e1] - tc[e0]
    return outer


@jit
def _offer(incumbent, best, v, p, q, z, tie):
    """Take the member ``(p, q, z)`` of error ``v`` if it is better than the incumbent
    by more than ``tie`` times the lowest error seen (``best``), or within that and of
    smaller ``(z, q, p)``: errors equal up to rounding (weights versus repeated rows)
    then give the same choice. Returns the lowest error seen."""
    lowest = min(best, v)
    margin = tie * abs(lowest)
    if v < incumbent[3] - margin or (
        v <= lowest + margin
        and (z, q, p) < (incumbent[2], incumbent[1], incumbent[0])
    ):
        incumbent[0] = p
        incumbent[1] = q
        incumbent[2] = z
        incumbent[3] = v
    return lowest


@jit
def _heap_push(heap, n, key, idx):
    heap[n] = idx
    i = n
    while i > 0:
        parent = (i - 1) >> 1
        if key[heap[parent]] <= key[heap[i]]:
            break
        heap[parent], heap[i] = heap[i], heap[parent]
        i = parent
    return n + 1


@jit
def _heap_pop(heap, n, key):
    top = heap[0]
    n -= 1
    heap[0] = heap[n]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= n:
            break
        c = left
        if left + 1 < n and key[heap[left + 1]] < key[heap[left]]:
            c = left + 1
        if key[heap[i]] <= key[heap[c]]:
            break
        heap[c], heap[i] = heap[i], heap[c]
        i = c
    return top, n


@jit
def _grown(a, cap):
    """``a`` copied into an array of ``cap`` rows."""
    out = np.empty((cap,) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@jit
def range_bnb(u, W, S1, S2, shift, alpha, beta0, gamma, delta0, shift_z, boxes, centroid,
              max_span, incumbent, rtol, max_boxes, midpoint=False, granular=False):
    """Best-first branch and bound for the member of smallest exact error.

    Parameters
    ----------
    u, W, S1, S2, shift : column summary, IN.
    alpha, beta0 : (M - 1,) float64 arrays, IN: thresholds ``alpha p + (beta0 - z) q``
        (``z = 0`` unless ``shift_z``), increasing in the cell for every member.
    gamma, delta0 : (M,) float64 arrays, IN: levels ``gamma p + (delta0 - z) q``.
    shift_z : bool, IN.
    boxes : (n, 5) float64 array, IN: the initial boxes ``p_lo, p_hi, q_lo, q_hi, z``
        (``q_hi`` may be inf; ``q_lo >= 0``).
    centroid : bool, IN: levels are the cells' centroids.
    max_span : float, IN: the members searched have ``0 <= q - p < max_span`` (affine
        ranges ``p = lo``, ``q = hi``); inf for none (then ``p`` is fixed).
    incumbent : (4,) float64 array, IN/OUT: ``p, q, z, error`` of the best member
        known (error inf if none); OUT: the best member found.
    rtol : float, IN: boxes that cannot beat the incumbent by more than ``rtol`` times
        its error are discarded.
    max_boxes : int, IN: the largest number of boxes bounded.
    midpoint : bool, IN: thresholds halfway between their levels (the bound of
        :func:`_midpoint_bound` applies).
    granular : bool, IN: boxes are also bounded by :func:`_granular_bound` (boxes
        with finite ``q_hi``), from tables of :func:`granular_table` at the steps
        ``D_0 r^i`` (``_TABLE_RATIO``) built as boxes need them while their work, ``k``
        each, stays below ``_TABLE_WORK * M`` per box bounded (plus an allowance) and
        their entries below ``_TABLE_MEMORY (k + 1)``:
        a box is discarded when either bound rules it out, the boxes are taken in
        the order of the first. Only on boxes whose thresholds sweep at least
        ``_GRANULAR_SWEEP`` of the step, and columns of ``k <= _TABLE_BOXES M log2 k``
        values (a table costs the time of a few dozen boxes).

    Returns
    -------
    lower : a lower bound of the error of every member of the boxes (the incumbent's
        error when the search finished).
    n_boxes : the number of boxes bounded.
    certified : whether the search finished: then no member of the boxes has an error
        below ``(1 - rtol)`` times the incumbent's.
    """
    M = gamma.shape[0]
    tlo = np.empty(M - 1)
    thi = np.empty(M - 1)
    ylo = np.empty(M)
    yhi = np.empty(M)
    cw = np.empty(M)
    c1 = np.empty(M)
    c2 = np.empty(M)
    zs = np.empty(max(M - 1, 1), dtype=np.int64)
    ze = np.empty(max(M - 1, 1), dtype=np.int64)
    ends = np.empty(2 * max(M - 1, 1) + 1, dtype=np.int64)
    uc = np.ascontiguousarray(u[::_BLOCK])
    beta = beta0.copy()
    delta = delta0.copy()
    cap_max = max_boxes + boxes.shape[0] + 2
    cap = min(cap_max, boxes.shape[0] + 1024)  # grown by doubling: memory as used
    key = np.empty(cap)
    box = np.empty((cap, 5))
    heap = np.empty(cap, dtype=np.int64)
    n_heap = 0
    n_made = 0
    n_bounded = 0
    best = incumbent[3]
    tie = 1e-12  # relative: errors this close are ties
    pending = boxes.shape[0]
    for b in range(boxes.shape[0]):
        for c in range(5):
            box[b, c] = boxes[b, c]
    # granular tables (see `granular`): table i at step D_0 r^i, built on demand
    k = u.shape[0]
    key2 = np.empty(cap)  # the larger of the two bounds: what discards a box
    d_base = np.inf
    if granular:
        for b in range(boxes.shape[0]):
            if np.isfinite(boxes[b, 3]):
                thr, lev = _min_gaps(alpha, beta0, gamma, delta0, boxes[b, 0], boxes[b, 1],
                                     boxes[b, 2], boxes[b, 3])
                d_base = min(d_base, min(thr, lev))
        # a table costs O(k), a box O(M log k): only where a table costs the time of
        # a few dozen boxes
        if not (d_base > 0.0 and np.isfinite(d_base)) or M < 2 or (
            k > _TABLE_BOXES * M * np.log2(k + 2.0)
        ):
            granular = False
    tab_start = np.full(_TABLES, -1, dtype=np.int64)
    tab_n = np.zeros(_TABLES, dtype=np.int64)
    tab_span = np.zeros(_TABLES)
    tab_used = 0
    tab_work = 0.0
    tab_cap = k + 1 if granular else 1
    ta = np.empty(tab_cap, dtype=np.int64)
    tb = np.empty(tab_cap, dtype=np.int64)
    tc = np.empty(tab_cap)
    ow = np.empty(2)
    o1 = np.empty(2)
    o2 = np.empty(2)
    og = np.empty(2)
    od = np.empty(2)
    while True:
        # bound the pending boxes (children of the last split, or the initial ones)
        for b in range(n_made, n_made + pending):
            z = box[b, 4]
            if np.isfinite(max_span) and (
                box[b, 3] <= box[b, 0] or box[b, 2] - box[b, 1] >= max_span
            ):
                continue  # no member of the box is searched
            if shift_z:
                for m in range(M - 1):
                    beta[m] = beta0[m] - z
                for m in range(M):
                    delta[m] = delta0[m] - z
            lb, p, q = _box_bound(
                u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, box[b, 0], box[b, 1],
                box[b, 2], box[b, 3], centroid, midpoint, tlo, thi, ylo, yhi, cw, c1, c2, zs,
                ze, ends,
            )
            n_bounded += 1
            lb2 = lb
            if granular and lb < best - rtol * best and np.isfinite(box[b, 3]):
                thr, lev = _min_gaps(alpha, beta, gamma, delta, box[b, 0], box[b, 1],
                                     box[b, 2], box[b, 3])
                d_box = min(thr, lev)
                sweep = 0.0
                for m in range(M - 1):
                    sweep = max(sweep, thi[m] - tlo[m])
                # narrower sweeps leave the midpoint bound the stronger one
                i = -1 if sweep < _GRANULAR_SWEEP * d_box else min(
                    int(np.log(d_box / d_base) / np.log(_TABLE_RATIO)), _TABLES - 1)
                while i >= 0:  # the largest usable table at or below the box's step
                    if tab_start[i] < 0 and tab_work + k <= _TABLE_WORK * M * (
                        n_bounded + _TABLE_ALLOWANCE
                    ) and tab_used + k + 1 <= _TABLE_MEMORY * (k + 1):
                        if tab_used + k + 1 > tab_cap:
                            tab_cap = min(max(2 * tab_cap, tab_used + k + 1),
                                          _TABLE_MEMORY * (k + 1))
                            ta, tb, tc = _grown(ta, tab_cap), _grown(tb, tab_cap), \
                                _grown(tc, tab_cap)
                        n_i, span_i = granular_table(u, W, S1, S2, d_base * _TABLE_RATIO ** i,
                                                     ta, tb, tc, tab_used)
                        tab_start[i] = tab_used
                        tab_n[i] = n_i
                        tab_span[i] = span_i
                        tab_used += n_i + 1
                        tab_work += k
                    if (tab_start[i] >= 0 and tab_span[i] < thr
                            and d_base * _TABLE_RATIO ** i <= lev):
                        lb2 = max(lb, _granular_bound(
                            u, uc, W, S1, S2, shift, gamma, delta, box[b, 0], box[b, 1],
                            box[b, 2], box[b, 3], tlo[0], thi[M - 2], ow, o1, o2, og, od,
                            ta, tb, tc, tab_start[i], tab_n[i]))
                        break
                    i -= 1
            # a member can improve (or tie) the incumbent only if the bounds allow it
            if lb2 <= best + tie * abs(best) and q > 0.0 and (
                not np.isfinite(max_span) or q > p
            ):
                v = _member_sse_between(u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, p,
                                        q, centroid, box[b, 0], box[b, 1], box[b, 2],
                                        box[b, 3], ends)
                best = _offer(incumbent, best, v, p, q, z, tie)
            key[b] = lb
            key2[b] = lb2
            # a box at the resolution of float64 is its corners: evaluated, not split
            # (with centroid levels the error jumps at a crossing, so the box that
            # holds one end of the best piece never has a bound above it)
            tiny_q = box[b, 3] - box[b, 2] <= 1e-14 * abs(box[b, 3])
            tiny_p = box[b, 1] - box[b, 0] <= 1e-14 * max(abs(box[b, 0]), abs(box[b, 1]))
            if tiny_q and tiny_p:
                for corner in range(2):
                    p = box[b, 0] if corner == 0 else box[b, 1]
                    q = box[b, 2] if corner == 0 else box[b, 3]
                    if q > 0.0 and (not np.isfinite(max_span) or q > p):
                        v = _member_sse(u, uc, W, S1, S2, shift, alpha, beta, gamma, delta, p, q,
                                        centroid)
                        best = _offer(incumbent, best, v, p, q, z, tie)
                continue
            if lb2 < best - rtol * best:
                n_heap = _heap_push(heap, n_heap, key, b)
        n_made += pending
        pending = 0
        # the box of smallest bound that can still beat the incumbent
        found = False
        b = -1
        while n_heap > 0:
            b, n_heap = _heap_pop(heap, n_heap, key)
            if key2[b] < best - rtol * best:
                found = True
                break
        if not found:
            return best, n_bounded, True
        if n_made + 2 > cap and cap < cap_max:
            cap = min(cap_max, 2 * cap)
            key, box, heap = _grown(key, cap), _grown(box, cap), _grown(heap, cap)
            key2 = _grown(key2, cap)
        if n_bounded >= max_boxes or n_made + 2 > cap:
            return key[b], n_bounded, False
        # split the side that moves the thresholds and levels most
        z = box[b, 4]
        p_lo, p_hi, q_lo, q_hi = box[b, 0], box[b, 1], box[b, 2], box[b, 3]
        reach_p = 0.0
        reach_q = 0.0
        for m in range(M):
            reach_p = max(reach_p, abs(gamma[m]))
            reach_q = max(reach_q, abs(delta0[m] - (z if shift_z else 0.0)))
        for m in range(M - 1):
            reach_p = max(reach_p, abs(alpha[m]))
        reach_p *= p_hi - p_lo
        if np.isfinite(q_hi):
            reach_q *= q_hi - q_lo
            q_mid = 0.5 * (q_lo + q_hi)
        else:
            reach_q = np.inf
            q_mid = 2.0 * q_lo if q_lo > 0.0 else 1.0
        for c in range(2):
            nb = n_made + c
            box[nb, 4] = z
            if reach_p > reach_q:
                p_mid = 0.5 * (p_lo + p_hi)
                box[nb, 0] = p_lo if c == 0 else p_mid
                box[nb, 1] = p_mid if c == 0 else p_hi
                box[nb, 2] = q_lo
                box[nb, 3] = q_hi
            else:
                box[nb, 0] = p_lo
                box[nb, 1] = p_hi
                box[nb, 2] = q_lo if c == 0 else q_mid
                box[nb, 3] = q_mid if c == 0 else q_hi
        pending = 2
