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

The block bounds lose a little at every cell, and from a few dozen cells on they prune
almost nothing. At ``_LAGRANGE_MIN_CELLS`` cells or more (on long columns) the optimum
comes instead from the Lagrangian dual: ``f(c)``, the least cost of ``c`` cells, is
convex, the least ``cost + lam * cells`` is a programme over one index solved in one
pass (``_penalised``), and a search over ``lam`` (``_lagrange``, started from the
penalty found on a grid, ``_many_cells``) ends at a penalty whose optimum has ``M``
cells, or at two optima of fewer and more cells for the same penalty, spliced into
``M`` cells (``_splice``). ``O(k)`` time per try and memory.
"""

import numpy as np

from ._config import jit
from ._scalar import _cell_cost

#: back-pointer entries always allowed (beyond ``4 k``) before Hirschberg's halving
_TABLE_MIN = 1 << 16
#: columns with fewer distinct values than this run the plain programme
_PRUNE_MIN_K = 4096
#: at least this many blocks per cell for the block bounds to prune anything
_BLOCKS_PER_CELL = 8


@jit(inline="always")
def _push_halves(stack, top, lo, mid, hi, olo, bj, ohi):
    """Push the two halves of a divide-and-conquer step on row minima: rows
    ``[lo, mid - 1]`` search columns ``[olo, bj]``, rows ``[mid + 1, hi]`` columns
    ``[bj, ohi]`` (``bj``: the leftmost minimiser of row ``mid``). Returns the new top."""
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
    return top


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
        top = _push_halves(stack, top, lo, mid, hi, olo, bj, ohi)


@jit
def _forward(W, S1, S2, ps, s, t, lo, hi, buf, tmp, table, off, stack):
    """The programme from boundary ``s`` (at position ``ps``) to boundary ``t > s``.

    Boundary ``m`` (``s < m <= t``) ranges over positions ``[lo[m], hi[m]]``; on return
    ``buf[i - lo[t]]`` is the least cost of ``t - s`` cells from ``ps`` to ``i``. When
    ``table`` is not empty, ``table[off[m] + i - lo[m]]`` receives the split before
    boundary ``m`` ending at ``i`` (for ``s + 1 < m <= t``). ``buf``, ``tmp``: scratch of
    the widest range + 1.
    """
    dummy = np.empty(buf.shape[0], dtype=np.int32)
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
    empty = np.empty(0, dtype=np.int32)
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
            table = np.empty(total, dtype=np.int32)
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
def _block_rows(Lc, Pc, Qc, Wc, S1c, S2c, Pr, Qr, Wr, S1r, S2r, fwd, out, stack):
    """One layer of the block lower bound, by divide and conquer over its rows.

    Columns ``c`` are the blocks of the known layer (bound ``Lc[c]``), rows ``r`` the
    blocks of the next one. The cell between them runs from the inner edge ``Pc[c]``
    of the column block to the inner edge ``Pr[r]`` of the row block (forward: column
    blocks lie left, ``Pc`` is their end and ``Pr`` the rows' start; backward the
    mirror), and costs at least the values between those edges (nothing when the
    blocks overlap). ``Qc``, ``Qr``: the outer edges, which say whether two blocks
    can hold increasing boundaries. ``W*``, ``S1*``, ``S2*``: prefix sums at the inner
    edges. ``out[r]`` = min over allowed ``c`` of ``Lc[c]`` + that cost.

    The cost is Monge in (row, column) and the allowed columns of a row form a
    prefix (forward) or a suffix (backward) that moves right with the row, so the
    leftmost minimiser moves right with the row too.
    """
    R = Pr.shape[0]
    C = Pc.shape[0]
    if R == 0:
        return
    sg = 1.0 if fwd else -1.0
    cmin = np.empty(R, dtype=np.int64)
    cmax = np.empty(R, dtype=np.int64)
    c = 0
    for r in range(R):
        if fwd:  # column blocks starting before the row block ends
            while c < C and Qc[c] < Qr[r]:
                c += 1
            cmin[r] = 0
            cmax[r] = c - 1
        else:  # column blocks ending after the row block starts
            while c < C and Qc[c] <= Qr[r]:
                c += 1
            cmin[r] = c
            cmax[r] = C - 1
    stack[0, 0] = 0
    stack[0, 1] = R - 1
    stack[0, 2] = 0
    stack[0, 3] = C - 1
    top = 1
    while top > 0:
        top -= 1
        lo = stack[top, 0]
        hi = stack[top, 1]
        olo = stack[top, 2]
        ohi = stack[top, 3]
        mid = (lo + hi) >> 1
        jlo = max(olo, cmin[mid])
        jhi = min(ohi, cmax[mid])
        pr = Pr[mid]
        wr = Wr[mid]
        s1 = S1r[mid]
        s2 = sg * S2r[mid]
        best = np.inf
        bj = min(jlo, ohi)
        for j in range(jlo, jhi + 1):
            if sg * (pr - Pc[j]) > 0:
                d = s1 - S1c[j]
                t = sg * (wr - Wc[j])
                v = Lc[j] + s2 - sg * S2c[j] - (d * d / t if t > 0.0 else 0.0)
            else:
                v = Lc[j]
            if v < best:
                best = v
                bj = j
        out[mid] = best
        top = _push_halves(stack, top, lo, mid, hi, olo, bj, ohi)


@jit
def _blocks_of(lo, hi, b, s, t):
    """Blocks ``[s[i], t[i]]`` of size ``b`` covering ``[lo, hi]``; returns their count."""
    n = 0
    p = lo
    while True:
        s[n] = p
        t[n] = min(p + b, hi)
        n += 1
        p += b
        if p >= hi:
            return n


@jit
def _gather(W, S1, S2, P, n, Wg, S1g, S2g):
    for i in range(n):
        Wg[i] = W[P[i]]
        S1g[i] = S1[P[i]]
        S2g[i] = S2[P[i]]


@jit
def _prune_level(W, S1, S2, M, lo, hi, b, limit):
    """Narrow ``[lo[m], hi[m]]`` to the blocks of size ``b`` whose lower bound (forward
    plus backward) does not exceed ``limit``."""
    k = W.shape[0] - 1
    nb = np.empty(M + 1, dtype=np.int64)
    off = np.empty(M + 2, dtype=np.int64)
    off[0] = 0
    width = 1
    for m in range(M + 1):
        nb[m] = (hi[m] - lo[m] + b - 1) // b if hi[m] > lo[m] else 1
        off[m + 1] = off[m] + nb[m]
        width = max(width, nb[m])
    stack = np.empty((128, 4), dtype=np.int64)
    sc = np.empty(width, dtype=np.int64)
    tc = np.empty(width, dtype=np.int64)
    sr = np.empty(width, dtype=np.int64)
    tr = np.empty(width, dtype=np.int64)
    Wc = np.empty(width)
    S1c = np.empty(width)
    S2c = np.empty(width)
    Wr = np.empty(width)
    S1r = np.empty(width)
    S2r = np.empty(width)
    Lb = np.empty(off[M + 1])
    # backward: Lb over layer m from layer m + 1; layer M is the point k (bound 0)
    Lb[off[M]] = 0.0
    for m in range(M - 1, 0, -1):
        nc = _blocks_of(lo[m + 1], hi[m + 1], b, sc, tc)
        nr = _blocks_of(lo[m], hi[m], b, sr, tr)
        _gather(W, S1, S2, sc, nc, Wc, S1c, S2c)  # inner edge of later blocks: start
        _gather(W, S1, S2, tr, nr, Wr, S1r, S2r)  # inner edge of earlier blocks: end
        _block_rows(Lb[off[m + 1]: off[m + 1] + nc], sc[:nc], tc[:nc], Wc, S1c, S2c,
                    tr[:nr], sr[:nr], Wr, S1r, S2r, False, Lb[off[m]: off[m] + nr], stack)
    # forward, one layer at a time, each combined with the backward bound at once
    Lp = np.empty(width)
    Lq = np.empty(width)
    Lp[0] = 0.0
    np_ = 1
    sc[0] = 0
    tc[0] = 0
    for m in range(1, M):
        nc = np_
        _gather(W, S1, S2, tc, nc, Wc, S1c, S2c)  # inner edge of earlier blocks: end
        nr = _blocks_of(lo[m], hi[m], b, sr, tr)
        _gather(W, S1, S2, sr, nr, Wr, S1r, S2r)
        _block_rows(Lp, tc[:nc], sc[:nc], Wc, S1c, S2c, sr[:nr], tr[:nr], Wr, S1r, S2r,
                    True, Lq, stack)
        first = -1
        last = -1
        for r in range(nr):
            if Lq[r] + Lb[off[m] + r] <= limit:
                if first < 0:
                    first = r
                last = r
        if first < 0:  # nothing left (cannot happen but by rounding): stop pruning
            return False
        nlo = sr[first]
        nhi = tr[last]
        for r in range(nr):
            Lp[r] = Lq[r]
            sc[r] = sr[r]
            tc[r] = tr[r]
        np_ = nr
        lo[m] = max(lo[m], nlo)
        hi[m] = min(hi[m], nhi)
    for m in range(1, M):
        lo[m] = max(lo[m], lo[m - 1] + 1)
    for m in range(M - 1, 0, -1):
        hi[m] = min(hi[m], hi[m + 1] - 1)
    _ = k
    return True


@jit
def _grid_optimum(W, S1, S2, M, B):
    """The least cost of ``M`` cells whose boundaries are among ``B + 1`` equally spaced
    positions (an upper bound on the optimum)."""
    k = W.shape[0] - 1
    e = np.empty(B + 1, dtype=np.int64)
    Wg = np.empty(B + 1)
    S1g = np.empty(B + 1)
    S2g = np.empty(B + 1)
    for t in range(B + 1):
        e[t] = (t * k) // B
    _gather(W, S1, S2, e, B + 1, Wg, S1g, S2g)
    lo = np.empty(M + 1, dtype=np.int64)
    hi = np.empty(M + 1, dtype=np.int64)
    for m in range(M + 1):
        lo[m] = m
        hi[m] = B - (M - m)
    buf = np.empty(B + 2)
    tmp = np.empty(B + 2)
    stack = np.empty((128, 4), dtype=np.int64)
    off = np.empty(M + 1, dtype=np.int64)
    _forward(Wg, S1g, S2g, 0, 0, M - 1, lo, hi, buf, tmp, np.empty(0, dtype=np.int32),
             off, stack)
    best, _ = _last_cell(Wg, S1g, S2g, buf, lo[M - 1], hi[M - 1], B)
    return best


@jit
def _prune(W, S1, S2, M, lo, hi, B):
    """Narrow ``[lo[m], hi[m]]`` level by level (blocks of ``k / B`` values, then 8
    times smaller, ...) to the blocks that may hold an optimal boundary ``m``."""
    k = W.shape[0] - 1
    ub = _grid_optimum(W, S1, S2, M, B)
    # rounding of the costs from the prefix sums is relative to the largest S2
    scale = max(abs(S2[0]), abs(S2[k])) + abs(ub)
    limit = ub + 1e-13 * (M + 2) * scale
    b = max(k // B, 1)
    before = 0
    for m in range(1, M):
        before += hi[m] - lo[m] + 1
    while b > 1:
        if not _prune_level(W, S1, S2, M, lo, hi, b, limit):
            return
        after = 0
        for m in range(1, M):
            after += hi[m] - lo[m] + 1
        if 2 * after > before:  # finer blocks would cost more than they save
            return
        before = after
        b = b // 8 if b >= 8 else 1


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
    cost : the minimum weighted squared error; -1 (``pos`` unset) when the Lagrangian
        search gave up on a problem of more than ``MAX_DP_CELLS`` cells.
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
    hi[0] = 0
    lo[M] = k
    if lagrangian(k, M):
        cost, status, _ = _many_cells(W, S1, S2, M, pos)
        if status > 0:
            return cost
        if M * k > MAX_DP_CELLS:  # the plain programme would take hours: say so
            return -1.0
    budget = max(4 * k, _TABLE_MIN)
    if k >= _PRUNE_MIN_K:
        B = _blocks(k, M)
        if 2 * B <= k and M * B <= budget:  # blocks of 2 values or more, O(k) bounds
            _prune(W, S1, S2, M, lo, hi, B)
    return _solve(W, S1, S2, M, lo, hi, pos, budget)


@jit
def _blocks(k, M):
    """Number of blocks: ``O((M k)**(1/3))`` values each balances the block programmes
    (``M B log B``) against the windows they leave (``~sqrt(values per block * k)``)."""
    b = max(int((M * k) ** (1.0 / 3.0)), 1)
    return max(k // b, _BLOCKS_PER_CELL * M)


# --- many cells: the Lagrangian (penalised) programme -------------------------------------

#: columns with at least this many cells (and ``_PRUNE_MIN_K`` distinct values) take the
#: Lagrangian search: the block bounds prune little there
_LAGRANGE_MIN_CELLS = 32
#: penalised programmes tried before giving up on the Lagrangian search
_LAGRANGE_MAX_SOLVES = 64
#: penalised programmes on the grid for M - 1 and M + 1 cells (the middle of the
#: penalties of M cells is a refinement: without it the grid's penalty is used)
_SIDE_SOLVES = 4
#: grid positions per cell of the first, coarse Lagrangian search
_GRID_PER_CELL = 64
#: above this many cells x distinct values the programme by layers could take hours
MAX_DP_CELLS = 2**28


@jit(inline="always")
def lagrangian(k, M):
    """Whether ``M`` cells of ``k`` distinct values take the Lagrangian search
    (``O(k)`` per penalised programme, whatever ``M``) rather than the programme by
    layers (``O(M k log k)`` at worst). Its positions are int32."""
    return _PRUNE_MIN_K <= k < 2**31 - 1 and _LAGRANGE_MIN_CELLS <= M < k


@jit(inline="always")
def _g(W, S1, h, j, x):
    """``h - (S1[x] - S1[j])**2 / (W[x] - W[j])``: with ``h = F[j] - S2[j]``, the cost of
    ending a cell ``[j, x)`` after ``F[j]``, less ``S2[x]`` (common to every ``j``)."""
    w = W[x] - W[j]
    s = S1[x] - S1[j]
    return h - (s * s / w if w > 0.0 else 0.0)


@jit(inline="always")
def _beats(W, S1, dh, x, wi, si, wb, sb, cross):
    """Whether candidate ``i`` is at least as good as ``b < i`` at ``x``: ``_g(i, x) <=
    _g(b, x)`` with ``dh = h_i - h_b``, ``wi, si = W[i], S1[i]`` (``wb``, ``sb``: of
    ``b``). ``cross``: multiplied out by the positive cell weights (no division on the
    search's critical path; see :func:`_cross_safe`)."""
    w1 = W[x] - wi
    s1 = S1[x] - si
    w2 = W[x] - wb
    s2 = S1[x] - sb
    if cross:
        return dh * w1 * w2 <= s1 * s1 * w2 - s2 * s2 * w1
    q1 = s1 * s1 / w1 if w1 > 0.0 else 0.0
    q2 = s2 * s2 / w2 if w2 > 0.0 else 0.0
    return dh <= q1 - q2


#: queue entries of the penalised programme before its first compaction
_QUEUE_FIRST = 1 << 15


@jit
def _cross_safe(W, S2, lam):
    """Whether :func:`_beats` may multiply out: every weight positive and no product
    of the comparison can overflow or lose its exponent (weights, squares and penalty
    within ``2**+-200``: the products stay below ``2**610``)."""
    k = W.shape[0] - 1
    big = 2.0**200
    if not (0.0 <= S2[0] <= big and 0.0 <= S2[k] <= big and 0.0 <= lam <= big
            and W[0] == 0.0 and W[k] <= big):
        return False
    small = 2.0**-200
    ok = True
    for i in range(k):
        ok &= W[i + 1] - W[i] >= small
    return ok


@jit(inline="always")
def _overtake(W, S1, k, d, lo, wi, si, wb, sb, cross):
    """The first ``x > lo`` (``k + 1`` if none) where ``i`` beats ``b`` (see
    :func:`_beats`), ``b`` being better at ``lo``: galloping then bisection."""
    step = 1
    hi = lo + 1
    while hi <= k:
        if _beats(W, S1, d, hi, wi, si, wb, sb, cross):
            break
        lo = hi
        step *= 2
        hi = lo + step
    if hi > k:
        hi = k + 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if _beats(W, S1, d, mid, wi, si, wb, sb, cross):
            hi = mid
        else:
            lo = mid
    return hi


@jit
def _penalised(W, S1, S2, lam, F, arg, dq, ds, dv, dh, cross, first=_QUEUE_FIRST):
    """The least ``cost + lam * cells`` over all partitions of the ``k`` values.

    ``F[i] = min_j F[j] + cost(j, i) + lam`` with ``F[0] = 0``; ``arg[i]`` is the
    minimising ``j``. The cost is Monge, so once a later last boundary ``i`` is as good
    as an earlier one ``b`` at some ``x``, it stays so for every larger ``x``: each
    candidate owns an interval of ``x``, and a queue of the candidates (``dq``), the
    start of their interval (``ds``), their value there (``dv``) and ``F - S2`` at the
    candidate (``dh``) gives every ``F[i]`` from the front (values are compared less
    ``S2[x]``, common to all candidates: :func:`_g`). A new candidate removes those it
    beats at their start and finds where it overtakes the last one by a galloping
    search (:func:`_overtake`; cells of the optimum change length slowly, so that is a
    few steps). That search waits for the next candidate: most candidates are dropped
    by a later one, and when the next one already beats it where it could start, it
    is dropped unsearched (the same queue, a tenth less time). The search's
    comparisons are multiplied out when ``cross`` (:func:`_cross_safe`): the division's
    latency on that chain of dependent steps was a third of the time. The queue is
    compacted to its live part when it reaches ``first`` entries (or twice the longest
    queue so far), so it touches ``O(longest queue)`` memory, not ``O(k)``; ``dq``,
    ``ds``, ``dv``, ``dh`` hold ``k + 1`` entries (the queue never holds more than
    ``k``). ``F`` (``k + 1``, or empty to skip it) receives ``F``. Returns the number
    of cells of the partition that ``arg`` traces back from ``k``.
    """
    k = W.shape[0] - 1
    cap = dq.shape[0]
    limit = min(cap, max(first, 2))
    store = F.shape[0] > 0
    if store:
        F[0] = 0.0
    dq[0] = 0
    ds[0] = 1
    dh[0] = -S2[0]
    dv[0] = _g(W, S1, dh[0], 0, 1)
    h = 0
    t = 1
    p = -1  # the pending candidate: its pops done, its overtaking not searched
    lo_p = 0
    h_p = 0.0
    for i in range(1, k + 1):
        while t - h > 1 and ds[h + 1] <= i:
            h += 1
        j = dq[h]
        if ds[h] == i:
            hi_ = dv[h] + lam
        else:
            hi_ = _g(W, S1, dh[h], j, i) + lam
        arg[i] = j
        if store:
            F[i] = hi_ + S2[i]
        if i == k:
            break
        wi = W[i]
        si = S1[i]
        if p >= 0:  # place p unless i beats it wherever it could start (i would drop it)
            x = max(lo_p, i + 1)
            wp = W[p]
            sp = S1[p]
            if not _beats(W, S1, hi_ - h_p, x, wi, si, wp, sp, cross):
                b = dq[t - 1]
                hi = _overtake(W, S1, k, h_p - dh[t - 1], lo_p, wp, sp, W[b], S1[b], cross)
                if hi <= k:
                    dq[t] = p
                    ds[t] = hi
                    dh[t] = h_p
                    dv[t] = _g(W, S1, h_p, p, hi)
                    t += 1
            p = -1
        # drop the candidates that i beats at the start of their interval
        while t > h:
            x = ds[t - 1]
            if x > i:
                vb = dv[t - 1]
            else:
                x = i + 1
                vb = _g(W, S1, dh[t - 1], dq[t - 1], x)
            if _g(W, S1, hi_, i, x) <= vb:
                t -= 1
            else:
                break
        if t + 1 >= limit:  # keep the queue in its first pages: compact or allow more
            if 2 * h >= t or limit == cap:
                n = t - h
                for r in range(n):
                    dq[r] = dq[h + r]
                    ds[r] = ds[h + r]
                    dv[r] = dv[h + r]
                    dh[r] = dh[h + r]
                h = 0
                t = n
            else:
                limit = min(2 * limit, cap)
        if t == h:
            dq[t] = i
            ds[t] = i + 1
            dh[t] = hi_
            dv[t] = _g(W, S1, hi_, i, i + 1)
            t += 1
            continue
        p = i
        lo_p = max(ds[t - 1], i + 1)  # the last candidate is better at lo_p
        h_p = hi_
    c = 0
    p = k
    while p > 0:
        p = arg[p]
        c += 1
    return c


@jit
def _trace(W, S1, S2, arg, c, out):
    """The ``c`` cells that ``arg`` traces back from ``k`` into ``out[:c + 1]``; returns
    their cost."""
    k = W.shape[0] - 1
    p = k
    out[c] = k
    for m in range(c - 1, -1, -1):
        p = arg[p]
        out[m] = p
    cost = 0.0
    for m in range(c):
        cost += _cell_cost(W, S1, S2, out[m], out[m + 1])
    return cost


@jit
def _splice(P, a, Q, b, M, pos):
    """``M`` cells (``a < M < b``) from partitions ``P`` of ``a`` and ``Q`` of ``b`` cells
    that are both optimal for the same penalty: the first ``i + d`` boundaries of ``Q``
    then the last of ``P`` (``d = M - a``), for the largest ``i`` with
    ``P[i] <= Q[i + d]``. Then ``P[i] <= Q[i + d] < Q[i + d + 1] <= P[i + 1]``, and by
    the Monge property the two crossed partitions cost together at most what ``P`` and
    ``Q`` do, with as many cells in all: each is optimal for that penalty too, and this
    one has ``M`` cells."""
    d = M - a
    i = 0
    for r in range(a):
        if P[r] <= Q[r + d]:
            i = r
    for m in range(i + d + 1):
        pos[m] = Q[m]
    for m in range(i + 1, a + 1):
        pos[m + d] = P[m]


@jit
def _lagrange(W, S1, S2, M, pos, lam0, max_solves=_LAGRANGE_MAX_SOLVES):
    """Exact ``M`` cells by a search over the penalty per cell (the Lagrangian dual).

    The least cost ``f(c)`` of ``c`` cells is convex in ``c`` (the cost is Monge), so
    for every ``M`` some penalty ``lam`` makes a partition of ``M`` cells optimal for
    ``cost + lam * cells``; a partition optimal for a penalty is optimal for its number
    of cells. The search keeps the two partitions nearest ``M`` on either side, ``a < M``
    and ``b > M`` cells (at first 1 cell and every value alone), and tries:

    - first a penalty from the high-rate law ``f(c) ~ c**-p`` (``lam ~ p f(c) / c``),
      fitted to the last partition found, while that narrows the bracket from one
      side (on the grid of :func:`_many_cells` this went on for up to 14 programmes
      once both sides were found, so it stops there);
    - then the slope ``lam`` of the chord between ``a`` and ``b`` (Newton's method on
      the dual): ``a`` and ``b`` cost the same penalised, so an optimum for ``lam`` of
      ``c`` cells strictly between them narrows the bracket, and one of ``a`` or ``b``
      cells means both are optimal for ``lam`` (``f`` is linear from ``a`` to ``b``):
      they are spliced into ``M`` cells (:func:`_splice`). No tolerance is involved,
      and every chord narrows the bracket or ends the search.

    Each try is one penalised programme (:func:`_penalised`, ``O(k)`` memory, a few
    cell costs per value); ``lam0 > 0`` is the first penalty tried. Returns ``(cost,
    status, lam, solves)``: status 1 when the penalty ``lam`` gave ``M`` cells, 2 for a
    splice at the chord's slope ``lam``, 0 when the search gave up after
    ``max_solves`` programmes (``pos`` is then unset); ``solves`` penalised programmes
    were run.
    """
    k = W.shape[0] - 1
    F = np.empty(0)  # not kept
    arg = np.empty(k + 1, dtype=np.int32)
    dq = np.empty(k + 1, dtype=np.int32)
    ds = np.empty(k + 1, dtype=np.int32)
    dv = np.empty(k + 1)
    dh = np.empty(k + 1)
    A = np.empty(k + 1, dtype=np.int32)  # 36 bytes per value in all, few of them touched
    B = np.empty(k + 1, dtype=np.int32)
    C = np.empty(k + 1, dtype=np.int32)
    a = 1
    A[0] = 0
    A[1] = k
    fa = _cell_cost(W, S1, S2, 0, k)
    b = k
    alone = True  # B is every value alone (written when a splice needs it)
    safe = _cross_safe(W, S2, 0.0)
    fb = 0.0  # every value alone
    lam_a = np.inf
    lam_b = 0.0
    # the first penalty: lam0, or the Gaussian's high-rate law (p = 2)
    lam = lam0 if lam0 > 0.0 else 5.4 * fa / (float(M) ** 3)
    model = True
    for it in range(max_solves):
        if not (lam_b < lam < lam_a):
            model = False
        if not model:
            lam = (fa - fb) / (b - a)
        cross = safe and 0.0 <= lam <= 2.0**200
        c = _penalised(W, S1, S2, lam, F, arg, dq, ds, dv, dh, cross)
        fc = _trace(W, S1, S2, arg, c, C)
        if c == M:
            for m in range(M + 1):
                pos[m] = C[m]
            return fc, 1, lam, it + 1
        if not model and not a < c < b:  # a and b both optimal for lam: splice them
            if alone:
                for i in range(k + 1):
                    B[i] = i
            _splice(A, a, B, b, M, pos)
            cost = 0.0
            for m in range(M):
                cost += _cell_cost(W, S1, S2, pos[m], pos[m + 1])
            return cost, 2, lam, it + 1
        narrowed = False
        if c < M and c >= a:
            narrowed = c > a
            A, C = C, A
            a, fa, lam_a = c, fc, lam
        elif c > M and c <= b:
            narrowed = c < b
            B, C = C, B
            b, fb, lam_b = c, fc, lam
            alone = False
        if model:
            # the model while it narrows the bracket from one side; chords once both
            # sides hold a partition found by a penalty
            model = narrowed and fc > 0.0 and not (lam_a < np.inf and lam_b > 0.0)
            if model:  # the next penalty from f(c) ~ c**-p through this partition
                p = min(max(lam * c / fc, 1.0), 4.0)
                lam = lam * (c / M) ** (p + 1.0)
    return 0.0, 0, lam, max_solves


@jit
def _value(W, S1, i):
    """The ``i``-th distinct value (shifted as in the prefix sums)."""
    return (S1[i + 1] - S1[i]) / (W[i + 1] - W[i])


@jit
def _grid(W, S1, G):
    """About ``G`` increasing positions from 0 to ``k``: ``G / 2`` equally spaced in rank
    and ``G / 2`` in value (the first value at or above each of ``G / 2`` equally
    spaced values), so that the short cells of the tails get grid points too."""
    k = W.shape[0] - 1
    half = G // 2
    e = np.empty(2 * half + 2, dtype=np.int64)
    lo_v = _value(W, S1, 0)
    hi_v = _value(W, S1, k - 1)
    n = 0
    p = 0  # the last equally valued position (they increase)
    for t in range(half + 1):
        e[n] = (t * k) // half
        n += 1
    for t in range(1, half):
        v = lo_v + (hi_v - lo_v) * (t / half)
        q = k  # the first position at or after p whose value is v or more
        while p < q:
            mid = (p + q) >> 1
            if _value(W, S1, mid) < v:
                p = mid + 1
            else:
                q = mid
        e[n] = p
        n += 1
    e = np.sort(e[:n])
    m = 0
    for i in range(n):
        if m == 0 or e[i] != e[m - 1]:
            e[m] = e[i]
            m += 1
    return e[:m]


@jit
def _high_rate_penalty(W, S1, e, M):
    """The penalty per cell that gives about ``M`` cells by the high-rate law: the
    least cost of ``M`` cells is about ``n (integral of p**(1/3))**3 / (12 M**2)`` for a
    density ``p`` of ``n`` values, and the penalty is minus its slope,
    ``(sum over the grid's cells of width**(2/3) weight**(1/3))**3 / (6 M**3)``, the
    density measured on the grid ``e``. 0 when that is not a positive number."""
    total = 0.0
    k = W.shape[0] - 1
    G = e.shape[0] - 1
    for t in range(G):
        a = e[t]
        b = e[t + 1]
        if b <= a:
            continue
        width = _value(W, S1, min(b, k - 1)) - _value(W, S1, a)
        weight = W[b] - W[a]
        if width > 0.0 and weight > 0.0:
            total += width ** (2.0 / 3.0) * weight ** (1.0 / 3.0)
    lam = total**3 / (6.0 * float(M) ** 3)
    return lam if 0.0 < lam < np.inf else 0.0


@jit
def _many_cells(W, S1, S2, M, pos):
    """:func:`_lagrange` on the column, from the middle of the penalties that give
    ``M`` cells on a grid of ``G = min(64 M, k / 4)`` positions (:func:`_grid`; when
    that is 8 per cell or more), found by the same search on the grid for ``M - 1``,
    ``M`` and ``M + 1`` cells (the one for ``M`` from the high-rate penalty,
    :func:`_high_rate_penalty`: within 10% on smooth columns, 8 to 100 times too large
    on Cauchy's; 26% fewer grid programmes in all than the Gaussian's law on columns
    of six shapes at 32 to 256 cells). Cells of ``L`` values cost about ``(k / G /
    L)**2 / 4`` more, relatively, on the grid than on the column, which moves the
    penalty far less than the ``~3 / M`` relative width of the penalties that give
    ``M`` cells where ``f`` is smooth: the search on the column then usually ends at its
    first programme (192 of 200 random columns of 5,000 to 60,000 values at 32 to 128
    cells; where ``f`` is nearly linear around ``M`` the width can be ``1e-4`` of the
    penalty, and the column takes 3 or 4). Returns ``(cost, status, solves)`` of the
    search on the column."""
    k = W.shape[0] - 1
    G = min(_GRID_PER_CELL * M, k // 4)
    lam = 0.0
    if G >= 8 * M:
        e = _grid(W, S1, G)
        G = e.shape[0] - 1
        Wg = np.empty(G + 1)
        S1g = np.empty(G + 1)
        S2g = np.empty(G + 1)
        _gather(W, S1, S2, e, G + 1, Wg, S1g, S2g)
        lam0 = _high_rate_penalty(W, S1, e, M)
        _, status, lam_g, _ = _lagrange(Wg, S1g, S2g, M, pos, lam0)
        if status > 0:
            lam = lam_g
            # the middle of the penalties that give M cells on the grid:
            # (f(M - 1) - f(M + 1)) / 2 from the grid's optima of M - 1 and M + 1 cells
            q = np.empty(M + 2, dtype=np.int64)
            f_lo, s_lo, _, _ = _lagrange(Wg, S1g, S2g, M - 1, q, lam_g * (1.0 + 2.0 / M),
                                         _SIDE_SOLVES)
            f_hi, s_hi, _, _ = _lagrange(Wg, S1g, S2g, M + 1, q, lam_g * (1.0 - 2.0 / M),
                                         _SIDE_SOLVES)
            if s_lo > 0 and s_hi > 0 and f_lo > f_hi:
                lam = 0.5 * (f_lo - f_hi)
    cost, status, _, solves = _lagrange(W, S1, S2, M, pos, lam)
    return cost, status, solves
