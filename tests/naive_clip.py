"""NumPy twin of the exact range search (skquant/_kernels/_range_bnb.py).

The error of a quantizer whose cells are nearest-level cells (every uniform quantizer)
is ``sum_i w_i min_k (x_i - level_k)^2``, a minimum over assignments of values to
levels. So its minimum over a family of levels ``gamma_k p + delta_k q`` is the
smallest, over every assignment, of the least-squares error of that assignment — and
it is enough to try the monotone assignments (the nearest-level one is monotone). On a
few distinct values that is an exhaustive search, independent of any branching.
"""

from itertools import combinations_with_replacement

import numpy as np


def _assignments(k, M):
    """Every non-decreasing map of k sorted values to M cells, as (n_assign, k) codes."""
    out = []
    for cuts in combinations_with_replacement(range(k + 1), M - 1):
        codes = np.zeros(k, dtype=np.int64)
        for c in cuts:
            codes[c:] += 1
        out.append(codes)
    return np.array(out)


def exhaustive_minimum(u, w, gamma, delta, free_p):
    """Smallest ``sum w (u - gamma[c] p - delta[c] q)^2`` over monotone assignments ``c``
    and ``q >= 0`` (and any ``p`` if ``free_p``, else ``p = 0``)."""
    codes = _assignments(u.size, gamma.size)
    g, d = gamma[codes], delta[codes]  # (n_assign, k)
    best = np.inf
    # unconstrained least squares of each assignment (q clipped at 0 below)
    sww = lambda a, b: (w * a * b).sum(axis=1)  # noqa: E731
    if free_p:
        a11, a12, a22 = sww(g, g), sww(g, d), sww(d, d)
        b1, b2 = sww(g, u), sww(d, u)
        det = a11 * a22 - a12 * a12
        with np.errstate(divide="ignore", invalid="ignore"):
            p = (b1 * a22 - b2 * a12) / det
            q = (b2 * a11 - b1 * a12) / det
        ok = (det > 1e-12 * a11 * a22) & (q >= 0)
        # on q = 0 (or a singular system): the best p alone
        with np.errstate(divide="ignore", invalid="ignore"):
            p0 = np.where(a11 > 0, b1 / a11, 0.0)
        p = np.where(ok, p, p0)
        q = np.where(ok, q, 0.0)
    else:
        a22, b2 = sww(d, d), sww(d, u)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(a22 > 0, np.maximum(b2 / a22, 0.0), 0.0)
        p = np.zeros_like(q)
    err = (w * (u - g * p[:, None] - d * q[:, None]) ** 2).sum(axis=1)
    best = min(best, float(err.min()))
    return best


def uniform_minimum(u, w, M, symmetric, mode):
    """Exact smallest error of a uniform quantizer with M levels over every range."""
    k = np.arange(M, dtype=np.float64)
    if symmetric:  # levels (k - c) q
        c = M // 2 if mode == "midtread" else 0.5 * (M - 1)
        return exhaustive_minimum(u, w, np.zeros(M), k - c, False)
    if mode == "midrise":  # levels lo + (k + 1/2) step
        return exhaustive_minimum(u, w, np.ones(M), k + 0.5, True)
    # midtread: levels (k - z) scale for an integer zero point z
    return min(exhaustive_minimum(u, w, np.zeros(M), k - z, False) for z in range(M))


def midpoint_bound_terms(u, w, alpha, beta, gamma, delta, box, p, q):
    """NumPy twin of the kernel's midpoint bound (``_midpoint_bound``) at ``(p, q)``,
    value by value, for a box ``(p_lo, p_hi, q_lo, q_hi)`` of a family whose thresholds
    are the midpoints of their levels; ``None`` when some value has three or more
    possible cells (the kernel then keeps its other bound).

    A value below ``i`` lower ends and ``j`` upper ends of the thresholds' intervals
    over the box is in one of the cells ``j .. i``: fixed (``i == j``), its exact error;
    in the zone of threshold ``j`` (``i == j + 1``): ``l^2 + d^2 / 4 - d chord(l)``
    with ``l = x - t``, ``d`` the step of the two levels and ``chord`` the chord of
    ``|.|`` over ``[x - t_hi, x - t_lo]``.
    """
    p_lo, p_hi, q_lo, q_hi = box

    def span(a, b):
        ends = np.array([a * p_lo + b * q_lo, a * p_lo + b * q_hi,
                         a * p_hi + b * q_lo, a * p_hi + b * q_hi])
        return ends.min(axis=0), ends.max(axis=0)

    tlo, thi = span(alpha, beta)
    i = np.searchsorted(tlo, u, side="right")
    j = np.searchsorted(thi, u, side="right")
    if np.any(i > j + 1):
        return None
    y = gamma * p + delta * q
    t = alpha * p + beta * q
    out = w * (u - y[np.minimum(i, gamma.size - 1)]) ** 2
    zone = i == j + 1
    m = j[zone]
    x = u[zone]
    d = y[m + 1] - y[m]
    l_lo, l_hi = x - thi[m], x - tlo[m]
    lv = x - t[m]
    chord = ((l_hi + l_lo) * lv - 2.0 * l_hi * l_lo) / (l_hi - l_lo)
    out[zone] = w[zone] * (lv ** 2 + 0.25 * d * d - d * chord)
    return out


def two_cell_bound(u, w, D):
    """NumPy twin of ``K.two_cell_bound``: intervals ``[u0 + j D, u0 + (j + 1) D)``,
    each at its best split into two cells with levels at least ``D`` apart."""
    total = 0.0
    cell = np.floor((u - u[0]) / D)
    for c in np.unique(cell):
        x, v = u[cell == c], w[cell == c]
        best = np.inf
        for s in range(x.size + 1):
            cost = 0.0
            means = []
            for part, pw in ((x[:s], v[:s]), (x[s:], v[s:])):
                if pw.sum() > 0:
                    m = (pw * part).sum() / pw.sum()
                    cost += (pw * (part - m) ** 2).sum()
                    means.append((pw.sum(), m))
            if len(means) == 2 and means[1][1] - means[0][1] < D:
                (wl, ml), (wr, mr) = means
                cost += wl * wr / (wl + wr) * (D - (mr - ml)) ** 2
            best = min(best, cost)
        total += best
    return total


def granular_bound(u, w, M, box, D):
    """NumPy twin of the affine midrise ``_granular_bound`` (centre ``c``, step ``d``:
    thresholds ``c + (k - M/2) d``, levels ``c + (k + 1/2 - M/2) d``) over
    ``box = (c_lo, c_hi, d_lo, d_hi)``, with the table of step ``D``: the values below
    the lowest end of the lowest threshold, and those from the highest end of the
    highest one on, at their outer level, their convex quadratic minimised over the box
    (the stationary point if inside, else the best edge minimum), plus
    :func:`two_cell_bound`'s intervals at ``D`` that lie wholly between those ends."""
    c_lo, c_hi, d_lo, d_hi = box
    lo_t, hi_t = c_lo + (1.0 - 0.5 * M) * d_hi, c_hi - (1.0 - 0.5 * M) * d_hi
    b0 = 0.5 - 0.5 * M  # outer levels c -/+ b0 d
    groups = [(u[u < lo_t], w[u < lo_t], b0), (u[u >= hi_t], w[u >= hi_t], -b0)]

    def f(c, d):
        return sum((v * (x - c - b * d) ** 2).sum() for x, v, b in groups)

    A = np.zeros((2, 2))
    r = np.zeros(2)
    for x, v, b in groups:
        g = np.array([1.0, b])
        A += v.sum() * np.outer(g, g)
        r += g * (v * x).sum()
    cands = []
    if np.linalg.det(A) > 1e-12 * A[0, 0] * A[1, 1] > 0:
        c, d = np.linalg.solve(A, r)
        if c_lo <= c <= c_hi and d_lo <= d <= d_hi:
            cands.append((c, d))
    for c in (c_lo, c_hi):
        d = (r[1] - A[0, 1] * c) / A[1, 1] if A[1, 1] > 0 else d_lo
        cands.append((c, min(max(d, d_lo), d_hi)))
    for d in (d_lo, d_hi):
        c = (r[0] - A[0, 1] * d) / A[0, 0] if A[0, 0] > 0 else c_lo
        cands.append((min(max(c, c_lo), c_hi), d))
    outer = min(f(c, d) for c, d in cands)
    inner = 0.0
    cell = np.floor((u - u[0]) / D)
    for c in np.unique(cell):
        sel = cell == c
        if u[sel][0] >= lo_t and u[sel][-1] < hi_t:
            inner += two_cell_bound(u[sel], w[sel], D)
    return outer + inner
