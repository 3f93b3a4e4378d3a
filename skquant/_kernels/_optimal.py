"""The exact optimum of a column: minimum-MSE partition of its sorted distinct values.

The dynamic programme ``D[m, i] = min_j D[m-1, j] + cost(j, i)`` over the ``k`` distinct
values of a column summary (weights are the counts, so tied data cost nothing extra),
from the prefix sums ``W``, ``S1``, ``S2`` (see ``_scalar``). The cost of 1-D k-means
cells is a Monge array, so the leftmost optimal split is monotone in ``i`` and every
layer is a row-minima problem solved by divide and conquer.

On long columns most of that table cannot hold an optimal boundary, and a cheap bound
says which part: cut the ``k`` values into ``B`` blocks (``B`` much smaller than ``k``,
much larger than the number of cells). A cell whose two boundaries lie in blocks
``a < b`` contains every value strictly between those blocks, so its cost is at least
the cost of those values alone; a dynamic programme over blocks with these costs, run
from both ends, bounds from below the cost of every partition whose ``m``-th boundary
lies in a given block. The optimum restricted to block edges bounds the optimum from
above. A block whose lower bound exceeds that upper bound holds no optimal ``m``-th
boundary, and the exact programme then runs only over the blocks left: a window of a
few blocks around each boundary on continuous data, so the whole costs
``O(M B log B + M w log w)`` for windows of ``w`` values instead of ``O(M k log k)``.
The pruning is exact (it discards only partitions costlier than a known one, with a
margin for rounding); where it discards nothing the programme is the full one.

Memory is ``O(k)``: the back-pointers of the exact programme are kept for the windows
only when they fit in a few times ``k`` entries; beyond that the boundaries are found
by Hirschberg's halving (forward and backward programmes meet at the middle boundary,
then each half is solved alone), which keeps two layers at a time.
"""

import numpy as np

from ._config import jit
from ._scalar import _cell_cost

#: back-pointer entries always allowed (beyond ``4 k``) before Hirschberg's halving
_TABLE_MIN = 1 << 20
#: columns with fewer distinct values than this run the plain programme
_PRUNE_MIN_K = 4096
#: at least this many blocks per cell for the block bounds to prune anything
_BLOCKS_PER_CELL = 8


@jit
def _rows(A, P1, PW, Q1, QW, QS2, plo, phi, qlo, qhi, out, arg, stack):
    """Row minima of a Monge array by divide and conquer.

    For every row ``i`` in ``[qlo, qhi]``::

        out[i - qlo] = QS2[i] + min over j in [plo, min(phi, i - 1)] of
                       A[j - plo] - (Q1[i] - P1[j])**2 / (QW[i] - PW[j])

    and ``arg[i - qlo]`` the leftmost minimiser (``out`` is inf where no ``j`` is
    allowed). A cell of zero weight costs nothing. ``stack`` is an (>= 64, 4) int64
    scratch array.
    """
    if qlo > qhi:
        return
    stack[0, 0] = qlo
    stack[0, 1] = qhi
    stack[0, 2] = plo
    stack[0, 3] = phi
    top = 1
    while top > 0:
        top -= 1
        lo = stack[top, 0]
        hi = stack[top, 1]
        olo = stack[top, 2]
        ohi = stack[top, 3]
        mid = (lo + hi) >> 1
        jhi = min(ohi, mid - 1)
        q1 = Q1[mid]
        qw = QW[mid]
        best = np.inf
        bj = olo
        for j in range(olo, jhi + 1):
            d = q1 - P1[j]
            t = qw - PW[j]
            v = A[j - plo] - (d * d / t if t > 0.0 else 0.0)
            if v < best:
                best = v
                bj = j
        out[mid - qlo] = best + QS2[mid]
        arg[mid - qlo] = bj
        if lo < mid:
            stack[top, 0] = lo
            stack[top, 1] = mid - 1
            stack[top, 2] = olo
            stack[top, 3] = bj
            top += 1
        if mid < hi:
            stack[top, 0] = mid + 1
            stack[top, 1] = hi
            stack[top, 2] = bj
            stack[top, 3] = ohi
            top += 1


@jit
def _forward(W, S1, S2, ps, s, t, lo, hi, buf, tmp, table, off, stack):
    """The programme from boundary ``s`` (at position ``ps``) to boundary ``t > s``.

    Boundary ``m`` (``s < m <= t``) ranges over positions ``[lo[m], hi[m]]``; on return
    ``buf[i - lo[t]]`` is the least cost of ``t - s`` cells from ``ps`` to ``i``. When
    ``table`` is not empty, ``table[off[m] + i - lo[m]]`` receives the split before
    boundary ``m`` ending at ``i`` (for ``s + 1 < m <= t``). ``buf``, ``tmp``: scratch of
    the widest range + 1.
    """
    dummy = np.empty(buf.shape[0], dtype=np.int64)
    record = table.shape[0] > 0
    l0 = lo[s + 1]
    for i in range(l0, hi[s + 1] + 1):
        buf[i - l0] = _cell_cost(W, S1, S2, ps, i) if i > ps else np.inf
    for m in range(s + 2, t + 1):
        pl = lo[m - 1]
        ph = hi[m - 1]
        for j in range(pl, ph + 1):
            buf[j - pl] -= S2[j]
        n = hi[m] - lo[m] + 1
        if record:
            arg = table[off[m]: off[m] + n]
        else:
            arg = dummy[:n]
        _rows(buf, S1, W, S1, W, S2, pl, ph, lo[m], hi[m], tmp, arg, stack)
        for i in range(n):
            buf[i] = tmp[i]


@jit
def _reverse(W, S1, S2):
    """Prefix sums of the reversed column: cell ``[a, b)`` there is ``[k - b, k - a)``."""
    k = W.shape[0] - 1
    Wr = np.empty(k + 1)
    S1r = np.empty(k + 1)
    S2r = np.empty(k + 1)
    for t in range(k + 1):
        Wr[t] = W[k] - W[k - t]
        S1r[t] = S1[k] - S1[k - t]
        S2r[t] = S2[k] - S2[k - t]
    return Wr, S1r, S2r


@jit
def _last_cell(W, S1, S2, buf, pl, ph, pe):
    """The best last split ``j`` in ``[pl, min(ph, pe - 1)]`` before a boundary at ``pe``:
    ``(cost, j)`` with ``buf[j - pl]`` the cost up to ``j``."""
    best = np.inf
    bj = pl
    for j in range(pl, min(ph, pe - 1) + 1):
        v = buf[j - pl] + _cell_cost(W, S1, S2, j, pe)
        if v < best:
            best = v
            bj = j
    return best, bj


@jit
def _solve(W, S1, S2, M, lo, hi, pos, budget):
    """Exact boundaries ``pos[1..M-1]`` with boundary ``m`` in ``[lo[m], hi[m]]``
    (``pos[0]``, ``pos[M]`` given). Back-pointers for a (sub)problem whose ranges hold at
    most ``budget`` positions, Hirschberg's halving above that. Returns the cost."""
    k = W.shape[0] - 1
    stack = np.empty((128, 4), dtype=np.int64)
    l = np.empty(M + 1, dtype=np.int64)
    h = np.empty(M + 1, dtype=np.int64)
    lr = np.empty(M + 1, dtype=np.int64)
    hr = np.empty(M + 1, dtype=np.int64)
    off = np.empty(M + 1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    width = 1
    for m in range(M + 1):
        width = max(width, hi[m] - lo[m] + 2)
    buf = np.empty(width)
    tmp = np.empty(width)
    buf2 = np.empty(width)
    have_rev = False
    Wr = np.empty(1)
    S1r = np.empty(1)
    S2r = np.empty(1)
    todo = np.empty((2 * M + 2, 2), dtype=np.int64)
    todo[0, 0] = 0
    todo[0, 1] = M
    n_todo = 1
    while n_todo > 0:
        n_todo -= 1
        a = todo[n_todo, 0]
        b = todo[n_todo, 1]
        if b - a < 2:
            continue
        pa = pos[a]
        pb = pos[b]
        total = 0
        for m in range(a + 1, b):
            l[m] = max(lo[m], pa + (m - a))
            h[m] = min(hi[m], pb - (b - m))
            total += h[m] - l[m] + 1
        if total <= budget:
            table = np.empty(total, dtype=np.int64)
            acc = 0
            for m in range(a + 1, b):
                off[m] = acc
                acc += h[m] - l[m] + 1
            _forward(W, S1, S2, pa, a, b - 1, l, h, buf, tmp, table, off, stack)
            _, bj = _last_cell(W, S1, S2, buf, l[b - 1], h[b - 1], pb)
            pos[b - 1] = bj
            for m in range(b - 1, a + 1, -1):
                pos[m - 1] = table[off[m] + pos[m] - l[m]]
            continue
        if not have_rev:
            Wr, S1r, S2r = _reverse(W, S1, S2)
            have_rev = True
        mid = (a + b) >> 1
        _forward(W, S1, S2, pa, a, mid, l, h, buf, tmp, empty, off, stack)
        # backward from b: boundary m is boundary M - m of the reversed column
        for m in range(mid, b):
            lr[M - m] = k - h[m]
            hr[M - m] = k - l[m]
        _forward(Wr, S1r, S2r, k - pb, M - b, M - mid, lr, hr, buf2, tmp, empty, off, stack)
        best = np.inf
        bp = l[mid]
        for p in range(l[mid], h[mid] + 1):
            v = buf[p - l[mid]] + buf2[h[mid] - p]
            if v < best:
                best = v
                bp = p
        pos[mid] = bp
        todo[n_todo, 0] = a
        todo[n_todo, 1] = mid
        todo[n_todo + 1, 0] = mid
        todo[n_todo + 1, 1] = b
        n_todo += 2
    cost = 0.0
    for m in range(M):
        cost += _cell_cost(W, S1, S2, pos[m], pos[m + 1])
    return cost


@jit
def _lb_layer(prev, Wg, S1g, S2g, cur, A, arg, stack):
    """One layer of the block lower bound: ``cur[b] = min(prev[b], min over a < b of
    prev[a] + cost of the values strictly between blocks a and b)``."""
    B = prev.shape[0]
    for a in range(B):
        A[a] = prev[a] - S2g[a + 1]
    cur[0] = prev[0]
    _rows(A, S1g[1:], Wg[1:], S1g, Wg, S2g, 0, B - 1, 1, B - 1, cur[1:], arg, stack)
    for b in range(B):
        cur[b] = min(cur[b], prev[b])


@jit
def _lower_bounds(Wg, S1g, S2g, M, L):
    """``L[m - 1, b]``: a lower bound on the cost of the first ``m`` cells when boundary
    ``m`` lies in block ``b`` (between grid edges ``b`` and ``b + 1``), m = 1..M-1."""
    B = Wg.shape[0] - 1
    stack = np.empty((128, 4), dtype=np.int64)
    A = np.empty(B)
    arg = np.empty(B, dtype=np.int64)
    for b in range(B):
        L[0, b] = _cell_cost(Wg, S1g, S2g, 0, b)
    for m in range(1, M - 1):
        _lb_layer(L[m - 1], Wg, S1g, S2g, L[m], A, arg, stack)


@jit
def _grid_optimum(Wg, S1g, S2g, M):
    """The least cost of ``M`` cells whose boundaries are grid edges (an upper bound)."""
    B = Wg.shape[0] - 1
    lo = np.empty(M + 1, dtype=np.int64)
    hi = np.empty(M + 1, dtype=np.int64)
    for m in range(M + 1):
        lo[m] = m
        hi[m] = B - (M - m)
    buf = np.empty(B + 2)
    tmp = np.empty(B + 2)
    stack = np.empty((128, 4), dtype=np.int64)
    off = np.empty(M + 1, dtype=np.int64)
    _forward(Wg, S1g, S2g, 0, 0, M - 1, lo, hi, buf, tmp, np.empty(0, dtype=np.int64),
             off, stack)
    best, _ = _last_cell(Wg, S1g, S2g, buf, lo[M - 1], hi[M - 1], B)
    return best


@jit
def _prune(W, S1, S2, M, B, lo, hi):
    """Narrow ``[lo[m], hi[m]]`` to the blocks that may hold an optimal boundary ``m``."""
    k = W.shape[0] - 1
    e = np.empty(B + 1, dtype=np.int64)
    Wg = np.empty(B + 1)
    S1g = np.empty(B + 1)
    S2g = np.empty(B + 1)
    for t in range(B + 1):
        e[t] = (t * k) // B
        Wg[t] = W[e[t]]
        S1g[t] = S1[e[t]]
        S2g[t] = S2[e[t]]
    ub = _grid_optimum(Wg, S1g, S2g, M)
    # rounding of the costs from the prefix sums is relative to the largest S2
    scale = max(abs(S2[0]), abs(S2[k])) + abs(ub)
    limit = ub + 1e-13 * (M + 2) * scale
    Lf = np.empty((M - 1, B))
    _lower_bounds(Wg, S1g, S2g, M, Lf)
    Wr = np.empty(B + 1)
    S1r = np.empty(B + 1)
    S2r = np.empty(B + 1)
    for t in range(B + 1):
        Wr[t] = Wg[B] - Wg[B - t]
        S1r[t] = S1g[B] - S1g[B - t]
        S2r[t] = S2g[B] - S2g[B - t]
    Lb = np.empty((M - 1, B))
    _lower_bounds(Wr, S1r, S2r, M, Lb)
    for m in range(1, M):
        first = -1
        last = -1
        for b in range(B):
            # the last M - m cells from block b are the first M - m of the reversed column
            if Lf[m - 1, b] + Lb[M - m - 1, B - 1 - b] <= limit:
                if first < 0:
                    first = b
                last = b
        if first < 0:  # nothing left (cannot happen but by rounding): no pruning
            return
        lo[m] = max(lo[m], e[first])
        hi[m] = min(hi[m], e[last + 1])
    for m in range(1, M):
        lo[m] = max(lo[m], lo[m - 1] + 1)
    for m in range(M - 1, 0, -1):
        hi[m] = min(hi[m], hi[m + 1] - 1)


@jit
def optimal_partition(W, S1, S2, n_cells, pos):
    """Exact minimum-cost partition of ``k`` sorted points into ``n_cells`` cells.

    Dynamic programming ``D[m, i] = min_j D[m-1, j] + cost(j, i)``, each layer a
    row-minima problem of a Monge array (divide and conquer), over the positions that
    the block bounds leave to each boundary (see the module's docstring); ``O(k)``
    memory.

    Parameters
    ----------
    W, S1, S2 : prefix sums of a column summary (k + 1,), IN; all weights positive.
    n_cells : int, IN, with ``1 <= n_cells <= k``.
    pos : (n_cells + 1,) int64 array, OUT: the cell boundaries.

    Returns
    -------
    cost : the minimum weighted squared error.
    """
    k = W.shape[0] - 1
    M = n_cells
    pos[0] = 0
    pos[M] = k
    if M == 1:
        return _cell_cost(W, S1, S2, 0, k)
    lo = np.empty(M + 1, dtype=np.int64)
    hi = np.empty(M + 1, dtype=np.int64)
    for m in range(M + 1):
        lo[m] = m
        hi[m] = k - (M - m)
    budget = max(4 * k, _TABLE_MIN)
    if k >= _PRUNE_MIN_K:
        B = _blocks(k, M)
        if B >= _BLOCKS_PER_CELL * M and (M - 1) * B <= budget:
            _prune(W, S1, S2, M, B, lo, hi)
    return _solve(W, S1, S2, M, lo, hi, pos, budget)


@jit
def _blocks(k, M):
    """Number of blocks: ``O((M k)**(1/3))`` values each balances the block programmes
    (``M B log B``) against the windows they leave (``~sqrt(values per block * k)``)."""
    b = max(int((M * k) ** (1.0 / 3.0)), 1)
    return max(k // b, 1)
