"""Kernel of skquant.torch: the reference's clamped BSQ entropy per row, and its gradient.

The soft assignment of a row to the ``2**D`` binary spherical codes is a product of
independent bits: bit ``d`` is 1 with probability ``sigmoid(t_d)`` (``t = 4 *
inv_temperature * u / sqrt(D)``, ``u`` the normalised row). With ``a_d = |t_d|`` and
``q_d = sigmoid(-a_d)``, the probability of bit ``d`` taking its unlikely value, a code
is the set F of bits at their unlikely value; its probability is ``p_max * exp(-C_F)``
with ``C_F`` the sum of ``a`` over F. The reference's entropy ``-sum p log max(p, 1e-5)``
is the Shannon entropy ``sum_d log1p(e_d) + a_d q_d`` (``e_d = exp(-a_d)``) plus
``corr = sum_L p (budget - C_F)`` over the low set ``L`` of codes with ``C_F > budget =
log(p_max / 1e-5)``. ``L`` is piecewise constant in ``a`` and ``d log p_max / d a_d =
q_d``, so

``d corr / d a_d = q_d (corr + P(L)) - sum_{F in L, d in F} p (budget + 1 - C_F)``,

and ``d H / d t_d = sign(t_d) (d corr / d a_d - a_d q_d (1 - q_d))``. The sums over L
are a meet in the middle: the costs of both halves of the dimensions are listed in
increasing order (each dimension doubles a sorted list by one merge), the low partners
of a pattern of one half form a suffix of the other half's list, and per-pattern sums
come from suffix sums and two pointers: ``O(D 2**(D/2))`` per row instead of
``O(2**D)``. A row whose least likely code is above the clamp needs none of it.
"""

import numpy as np

from ._binary import BLOCK, LOG_CLAMP, _affordable_order
from ._config import jit, prange


@jit
def _sorted_half(a, e, start, stop, cost, weight, pattern, tmp_c, tmp_w, tmp_p):
    """Costs of all patterns of dims ``start..stop-1`` in increasing order.

    ``weight`` gets ``exp(-cost)`` (as products of the ``e = exp(-a)``) and
    ``pattern`` each entry's pattern (bit ``stop - 1 - d`` set when dim ``d`` is at its
    unlikely value: first dimension most significant). Each dimension merges the list
    with itself shifted by ``a[d]``: O(2**(stop-start)). Returns the size.
    """
    cost[0] = 0.0
    weight[0] = 1.0
    pattern[0] = 0
    size = 1
    for d in range(start, stop):
        ad = a[d]
        ed = e[d]
        bit = 1 << (stop - 1 - d)
        i = 0
        j = 0
        k = 0
        while j < size:  # the shifted list ends last
            v = cost[j] + ad
            if i < size and cost[i] <= v:
                tmp_c[k] = cost[i]
                tmp_w[k] = weight[i]
                tmp_p[k] = pattern[i]
                i += 1
            else:
                tmp_c[k] = v
                tmp_w[k] = weight[j] * ed
                tmp_p[k] = pattern[j] | bit
                j += 1
            k += 1
        size *= 2
        for m in range(size):
            cost[m] = tmp_c[m]
            weight[m] = tmp_w[m]
            pattern[m] = tmp_p[m]
    return size


@jit
def _suffix(cost, weight, size, W, S):
    """``W[j] = sum_{j' >= j} weight[j']``, ``S[j]`` the same weighted by cost
    (``W[size] = S[size] = 0``), added from the end: small weights first."""
    W[size] = 0.0
    S[size] = 0.0
    for j in range(size - 1, -1, -1):
        W[j] = W[j + 1] + weight[j]
        S[j] = S[j + 1] + weight[j] * cost[j]


@jit
def _partner_pass(c, w, n, c_other, n_other, W, S, budget, p_max, out_vm):
    """Per entry ``i`` of the sorted list ``c``: ``V + M`` over its low partners.

    The low partners of ``c[i]`` are the entries ``j`` of the sorted list ``c_other``
    with ``c_other[j] > budget - c[i]``: a suffix starting at a pointer that only moves
    down as ``i`` grows. ``V = sum p (budget - c[i] - c_other[j])`` and ``M = sum p``,
    ``p = p_max * w[i] * exp(-c_other[j])``; ``out_vm[i] = V + M``. Returns
    ``(sum V, sum M)``.
    """
    k = n_other
    total_v = 0.0
    total_m = 0.0
    for i in range(n):
        thr = budget - c[i]
        while k > 0 and c_other[k - 1] > thr:
            k -= 1
        pw = p_max * w[i]
        m = pw * W[k]
        v = pw * (thr * W[k] - S[k])
        out_vm[i] = v + m
        total_v += v
        total_m += m
    return total_v, total_m


@jit
def _meet_in_the_middle(a, e, q, budget, p_max, need_grad, work, pat, grad):
    """``corr`` (see the module docstring) of one row; adds its gradient to ``grad``."""
    d = a.shape[0]
    h = d // 2
    n1 = 1 << h
    n2 = 1 << (d - h)
    c1 = work[:n1]
    w1 = work[n1 : 2 * n1]
    W1 = work[2 * n1 : 3 * n1 + 1]
    S1 = work[3 * n1 + 1 : 4 * n1 + 2]
    vm1 = work[4 * n1 + 2 : 5 * n1 + 2]
    rest = work[5 * n1 + 2 :]
    c2 = rest[:n2]
    w2 = rest[n2 : 2 * n2]
    W2 = rest[2 * n2 : 3 * n2 + 1]
    S2 = rest[3 * n2 + 1 : 4 * n2 + 2]
    vm2 = rest[4 * n2 + 2 : 5 * n2 + 2]
    tmp_c = rest[5 * n2 + 2 : 6 * n2 + 2]
    tmp_w = rest[6 * n2 + 2 : 7 * n2 + 2]
    p1 = pat[:n1]
    p2 = pat[n1 : n1 + n2]
    tmp_p = pat[n1 + n2 : n1 + 2 * n2]
    _sorted_half(a, e, 0, h, c1, w1, p1, tmp_c, tmp_w, tmp_p)
    _sorted_half(a, e, h, d, c2, w2, p2, tmp_c, tmp_w, tmp_p)
    _suffix(c2, w2, n2, W2, S2)
    corr, mass = _partner_pass(c1, w1, n1, c2, n2, W2, S2, budget, p_max, vm1)
    if not need_grad:
        return corr
    _suffix(c1, w1, n1, W1, S1)
    _partner_pass(c2, w2, n2, c1, n1, W1, S1, budget, p_max, vm2)
    base = corr + mass
    for k in range(d):
        grad[k] += q[k] * base
    for i in range(n1):
        pi = p1[i]
        for k in range(h):
            if (pi >> (h - 1 - k)) & 1:
                grad[k] -= vm1[i]
    for j in range(n2):
        pj = p2[j]
        for k in range(h, d):
            if (pj >> (d - 1 - k)) & 1:
                grad[k] -= vm2[j]
    return corr


@jit
def _high_mass(a, e, q, budget, p_max, log_p_max, cap, need_grad, order, path, node_c,
               node_p, next_j, grad):
    """The clamped entropy from the codes above the clamp, when at most ``cap`` are.

    Depth-first over flip sets of the dimensions with ``a <= budget`` (sorted by
    cost), pruned at the budget. ``H = -sum_Hi p log p - log(1e-5) (1 - P(Hi))``
    over the set Hi of codes with ``C <= budget``; with Hi fixed, ``dp_F / da_d =
    p_F (q_d - [d in F])``, so ``dH / da_d = sum_{Hi, F contains d} r_F - q_d sum_Hi r_F``
    with ``r_F = p_F (budget + 1 - C_F)``. Overwrites ``grad`` with ``dH/da`` when
    ``need_grad``. Returns NaN (``grad`` then meaningless) past ``cap`` codes.
    """
    d = a.shape[0]
    m = _affordable_order(a, budget, order)
    if need_grad:
        for k in range(d):
            grad[k] = 0.0
    plogp = p_max * log_p_max
    other = 0.0
    r_total = p_max * (budget + 1.0)
    count = 0
    depth = 0
    node_c[0] = 0.0
    node_p[0] = p_max
    next_j[0] = 0
    while depth >= 0:
        j = next_j[depth]
        if j >= m:
            depth -= 1
            continue
        c = node_c[depth] + a[order[j]]
        if c > budget:  # the later dimensions cost more
            depth -= 1
            continue
        next_j[depth] = j + 1
        p = node_p[depth] * e[order[j]]
        depth += 1
        path[depth] = order[j]
        node_c[depth] = c
        node_p[depth] = p
        next_j[depth] = j + 1
        count += 1
        if count > cap:
            return np.nan
        plogp += p * (log_p_max - c)
        other += p
        if need_grad:
            r = p * (budget + 1.0 - c)
            r_total += r
            for t in range(1, depth + 1):
                grad[path[t]] += r
    if need_grad:
        for k in range(d):
            grad[k] -= q[k] * r_total
    low_mass = -np.expm1(log_p_max) - other
    return -plogp - LOG_CLAMP * low_mass


@jit
def _row(t, need_grad, a, e, q, order, path, node_c, node_p, next_j, work, pat, grad):
    """Clamped entropy of one row ``t``; its gradient into ``grad`` if ``need_grad``."""
    d = t.shape[0]
    log_p_max = 0.0
    shannon = 0.0
    total_cost = 0.0
    for k in range(d):
        ak = abs(t[k])
        ek = np.exp(-ak)
        a[k] = ak
        e[k] = ek
        q[k] = ek / (1.0 + ek)
        sp = np.log1p(ek)
        log_p_max -= sp
        shannon += sp + ak * q[k]
        total_cost += ak
    budget = log_p_max - LOG_CLAMP
    if total_cost <= budget:  # no code lies below the clamp: the Shannon entropy
        if need_grad:
            for k in range(d):
                grad[k] = -a[k] * q[k] * (1.0 - q[k]) * np.sign(t[k])
        return shannon
    if budget < 0.0:  # every code lies below the clamp: a constant
        if need_grad:
            for k in range(d):
                grad[k] = 0.0
        return -LOG_CLAMP
    p_max = np.exp(log_p_max)
    cap = (1 << (d // 2)) + (1 << (d - d // 2))
    value = _high_mass(
        a, e, q, budget, p_max, log_p_max, cap, need_grad, order, path, node_c, node_p,
        next_j, grad,
    )
    if np.isnan(value):
        if need_grad:
            for k in range(d):
                grad[k] = -a[k] * q[k] * (1.0 - q[k])
        value = shannon + _meet_in_the_middle(
            a, e, q, budget, p_max, need_grad, work, pat, grad
        )
    if need_grad:
        for k in range(d):
            grad[k] *= np.sign(t[k])
    return value


@jit(parallel=True)
def bsq_clamped_entropy(T, need_grad, out_entropy, out_grad):
    """The reference's clamped entropy of each row's soft assignment, and its gradient.

    Rows whose least likely code is above the clamp get the Shannon entropy; rows
    with few codes above it (peaked rows: most rows at a high inverse temperature)
    enumerate those codes; the others use the meet in the middle.

    Parameters
    ----------
    T : (n, D) float64 array, IN: ``t = 4 * inv_temperature * u / sqrt(D)`` per row.
    need_grad : bool, IN: also compute the gradient.
    out_entropy : (n,) float64 array, OUT: ``-sum_c p_c log max(p_c, 1e-5)`` (nats).
    out_grad : (n, D) float64 array, OUT (written only when ``need_grad``; pass an
        ``(n, 0)`` array otherwise): the derivative of ``out_entropy[i]`` with respect
        to ``T[i]``, with torch's clamp convention (a code at exactly ``1e-5`` counts
        above the clamp).
    """
    n, d = T.shape
    h = d // 2
    n1 = 1 << h
    n2 = 1 << (d - h)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        a = np.empty(d)
        e = np.empty(d)
        q = np.empty(d)
        order = np.empty(d, dtype=np.int64)
        path = np.empty(d + 1, dtype=np.int64)
        node_c = np.empty(d + 1)
        node_p = np.empty(d + 1)
        next_j = np.empty(d + 1, dtype=np.int64)
        work = np.empty(5 * n1 + 7 * n2 + 4)
        pat = np.empty(n1 + 2 * n2, dtype=np.int64)
        for i in range(blk * BLOCK, min((blk + 1) * BLOCK, n)):
            out_entropy[i] = _row(
                T[i], need_grad, a, e, q, order, path, node_c, node_p, next_j, work, pat,
                out_grad[i],
            )
