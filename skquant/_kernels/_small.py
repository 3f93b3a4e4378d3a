"""NumPy twins of the kernels of a default ``LloydMaxQuantizer`` fit and transform, for
small inputs: same arguments, same outputs, same floating-point operations in the same
order, so the results are identical to the last bit (``tests/test_small_path.py``
compares them with the kernels). They never import numba: a fresh process whose first
fit is small does not pay numba's import and the loading of the cached kernels (about
0.5 s, longer than such a fit takes in NumPy). :mod:`skquant._kernels._auto` chooses
between them and the kernels.

Each twin mirrors its kernel in ``_scalar`` or ``_optimal``: see there for the
definitions. The exact optimum is mirrored only for the programme those columns run
(no block pruning, back-pointers for every boundary); :func:`optimal_supported` says
when.
"""

import numpy as np

#: rows per chunk of the encoders' NaN flags (``_scalar.CHUNK`` is this one)
CHUNK = 4096

#: as ``_optimal._TABLE_MIN`` and ``_optimal._PRUNE_MIN_K`` (a test checks)
TABLE_MIN = 1 << 16
PRUNE_MIN_K = 4096


def _seq_sum(values):
    """``0.0 + values[0] + values[1] + ...`` in that order (the kernels' loops)."""
    return float(np.cumsum(values)[-1]) if values.shape[0] else 0.0


def _costs(W, S1, S2, a, b):
    """``_scalar._cell_cost`` of the cells ``[a[i], b[i])``."""
    wt = W[b] - W[a]
    s = S1[b] - S1[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = S2[b] - S2[a] - s * s / wt
    c = np.where(c > 0.0, c, 0.0)  # max(c, 0.0) (a NaN cannot occur: wt > 0 below)
    return np.where(wt > 0.0, c, 0.0)


def _cell_cost(W, S1, S2, a, b):
    wt = W[b] - W[a]
    if wt <= 0.0:
        return 0.0
    s = S1[b] - S1[a]
    return max(S2[b] - S2[a] - s * s / wt, 0.0)


def summarize_sorted(xs, ws, shift, out=None):
    """Twin of ``_scalar.summarize_sorted`` (``u`` is written into ``xs`` too; ``out``
    is not used: the twin's columns are small)."""
    n = xs.shape[0]
    if n == 0:
        z = np.zeros(1)
        return xs[:0], z, z.copy(), z.copy()
    start = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    sizes = np.diff(np.append(start, n))
    if ws.shape[0] > 0:  # each group's weight summed in order, as the kernel's loop
        tot = ws[start].astype(np.float64)
        active = np.flatnonzero(sizes > 1)
        r = 1
        while active.size:
            tot[active] += ws[start[active] + r]
            r += 1
            active = active[sizes[active] > r]
    else:
        tot = sizes.astype(np.float64)
    keep = tot > 0.0
    v = xs[start[keep]]
    tot = tot[keep]
    k = v.shape[0]
    z = v - shift
    tz = tot * z
    W = np.zeros(k + 1)
    S1 = np.zeros(k + 1)
    S2 = np.zeros(k + 1)
    np.cumsum(tot, out=W[1:])
    np.cumsum(tz, out=S1[1:])
    np.cumsum(tz * z, out=S2[1:])
    xs[:k] = v
    return xs[:k], W, S1, S2


def cell_positions(u, thresholds, pos):
    """Twin of ``_scalar.cell_positions``."""
    m = thresholds.shape[0]
    pos[0] = 0
    pos[m + 1] = u.shape[0]
    pos[1 : m + 1] = np.searchsorted(u, thresholds)


def centroids(W, S1, shift, pos, levels):
    """Twin of ``_scalar.centroids``."""
    a, b = pos[:-1], pos[1:]
    wt = W[b] - W[a]
    full = wt > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        new = shift + (S1[b] - S1[a]) / wt
    levels[full] = new[full]
    return int(levels.shape[0] - np.count_nonzero(full))


def partition_cost(W, S1, S2, pos):
    """Twin of ``_scalar.partition_cost``."""
    return _seq_sum(_costs(W, S1, S2, pos[:-1], pos[1:]))


def sse_exact(u, W, pos, levels):
    """Twin of ``_scalar.sse_exact`` (``pos`` from increasing thresholds: the cells
    cover ``u`` in order)."""
    y = np.repeat(levels[: pos.shape[0] - 1], np.diff(pos))
    e = u - y
    return _seq_sum((np.diff(W) * e) * e)


def sse_supported(u, pos):
    """Whether :func:`sse_exact` visits the values as the kernel does."""
    return pos[0] == 0 and pos[-1] == u.shape[0] and bool(np.all(np.diff(pos) >= 0))


def _lloyd(u, W, S1, S2, shift, levels, max_iter, tol):
    """Twin of ``_scalar.lloyd``."""
    M = levels.shape[0]
    k = u.shape[0]
    pos = np.empty(M + 1, dtype=np.int64)
    pos[0], pos[M] = 0, k
    prev = None
    prev_cost = np.inf
    for it in range(1, max_iter + 1):
        t = levels[:-1] + levels[1:]
        t *= 0.5
        pos[1:M] = u.searchsorted(t)
        Wp, S1p, S2p = W[pos], S1[pos], S2[pos]
        wt = Wp[1:] - Wp[:-1]
        s = S1p[1:] - S1p[:-1]
        q = S2p[1:] - S2p[:-1]
        if wt.min() > 0.0:
            levels[:] = shift + s / wt
            c = q - s * s / wt
            c = np.where(c > 0.0, c, 0.0)
        else:
            full = wt > 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                levels[full] = (shift + s / wt)[full]
                c = q - s * s / wt
            c = np.where(full & (c > 0.0), c, 0.0)
        cost = float(np.cumsum(c)[-1])
        key = pos.tobytes()
        if key == prev or (it > 1 and prev_cost - cost <= tol * prev_cost):
            return it, True
        prev = key
        prev_cost = cost
    return max_iter, False


def _split_merge(u, W, S1, S2, shift, levels):
    """Twin of ``_scalar.split_merge`` (both sort stably)."""
    M = levels.shape[0]
    if M < 3:
        return False
    thresholds = 0.5 * (levels[:-1] + levels[1:])
    pos = np.empty(M + 1, dtype=np.int64)
    cell_positions(u, thresholds, pos)
    cost = _costs(W, S1, S2, pos[:-1], pos[1:])
    total = _seq_sum(cost)
    merge = _costs(W, S1, S2, pos[:-2], pos[2:]) - cost[:-1] - cost[1:]
    cheapest = np.argsort(merge, kind="stable")[:3].tolist()
    best_gain = 0.0
    best_cut = -1
    best_pair = -1
    costs = cost.tolist()
    merges = merge.tolist()
    for k in np.argsort(-cost, kind="stable").tolist():
        p = -1
        for q in cheapest:
            if q != k - 1 and q != k:
                p = q
                break
        if p < 0:
            continue
        if costs[k] - merges[p] <= best_gain:
            break
        a = int(pos[k])
        b = int(pos[k + 1])
        if b - a < 2:
            continue
        c = np.arange(a + 1, b)
        gain = costs[k] - _costs(W, S1, S2, np.full(c.shape, a), c)
        gain = gain - _costs(W, S1, S2, c, np.full(c.shape, b)) - merges[p]
        gain = np.where(np.isnan(gain), -np.inf, gain)
        i = int(np.argmax(gain))
        if gain[i] > best_gain:  # the first of the largest gains, as the kernel's loop
            best_gain = float(gain[i])
            best_cut = a + 1 + i
            best_pair = p
    if best_cut < 0 or best_gain <= 1e-12 * total:
        return False
    new_pos = np.append(np.delete(pos, best_pair + 1), best_cut)
    new_pos.sort()
    centroids(W, S1, shift, new_pos, levels)
    return True


def lloyd_escape(u, W, S1, S2, shift, levels, max_iter, tol, max_moves):
    """Twin of ``_scalar.lloyd_escape``."""
    n_iter, converged = _lloyd(u, W, S1, S2, shift, levels, max_iter, tol)
    for _ in range(max_moves):
        if not _split_merge(u, W, S1, S2, shift, levels):
            break
        it, converged = _lloyd(u, W, S1, S2, shift, levels, max_iter, tol)
        n_iter += it
    return n_iter, converged


def window_grid_encode(X, start, inv_width, counts, T, top, out):
    """Twin of ``_scalar.window_grid_encode``."""
    n, d = X.shape
    last = np.float64(counts.shape[1] - 2)
    with np.errstate(invalid="ignore", over="ignore"):
        f = (X.astype(np.float64) - start) * inv_width
    f = np.where(f > 0.0, f, 0.0)
    f = np.where(f < last, f, last)
    cols = np.arange(d)
    k = counts[cols, f.astype(np.int64)].astype(np.int64)
    code = k.copy()
    for o in range(top - 1):  # the window's thresholds <= x (sorted: the bisection's count)
        code += X >= T[cols, k + o]
    out[...] = code
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad_rows = ~np.isfinite(X).all(axis=1)
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in np.unique(np.flatnonzero(bad_rows) // CHUNK):
        bad[c] = True
    return bad


def decode(codes, levels, n_levels, out):
    """Twin of ``_scalar.decode`` (entries with an out-of-range code are unwritten)."""
    n, d = codes.shape
    k = codes.astype(np.int64)
    ok = (k >= 0) & (k < n_levels)
    np.copyto(out, levels[np.arange(d), np.where(ok, k, 0)], where=ok)
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in np.unique(np.flatnonzero(~ok.all(axis=1)) // CHUNK):
        bad[c] = True
    return bad


# ------------------------------------------------------------------ exact optimum
def optimal_supported(W, M):
    """Whether :func:`optimal_partition` mirrors the kernel for the prefix weights ``W``
    and ``M`` cells: no block pruning (fewer than ``PRUNE_MIN_K`` values), one
    back-pointer table, and positive weights (every cell has ``W[b] - W[a] > 0``)."""
    k = W.shape[0] - 1
    if not (M <= k < PRUNE_MIN_K) or not bool(np.all(W[1:] > W[:-1])):
        return False
    return M <= 2 or (M - 1) * (k - M + 1) <= max(4 * k, TABLE_MIN)


# the divide and conquer's rows, level by level, for ``n`` rows (one tree per ``n``:
# every layer of a programme has as many rows, and a fit's columns often share ``n``)
_TREES = {}


def _tree(n):
    """The levels of the divide and conquer on rows ``0 .. n - 1``: per level the rows
    visited (``mid``) and the rows whose minimisers bound their search on the left
    (``left``) and on the right (``right``), as columns (shape ``(rows, 1)``); ``n``
    stands for the first candidate and ``n + 1`` for the last (no ancestor on that
    side)."""
    tree = _TREES.get(n)
    if tree is not None:
        return tree
    tree = []
    lo, hi = np.array([0]), np.array([n - 1])
    left, right = np.array([n]), np.array([n + 1])
    while lo.shape[0]:
        mid = (lo + hi) >> 1
        tree.append((mid, mid[:, None], left[:, None], right[:, None]))
        a = lo < mid
        b = mid < hi
        lo, hi = np.concatenate((lo[a], mid[b] + 1)), np.concatenate((mid[a] - 1, hi[b]))
        left, right = (np.concatenate((left[a], mid[b])),
                       np.concatenate((mid[a], right[b])))
    if len(_TREES) >= 8:
        _TREES.clear()
    _TREES[n] = tree
    return tree


def _layer(tree, A, P1, PW, Q1, QW, QS2, out, bound, careful):
    """``_rows`` where row ``r`` (of ``n``) may split at the candidates ``c <= r`` of
    ``n``, in coordinates relative to the first row and the first candidate (the
    programme's layers: row ``i = qlo + r``, candidate ``j = qlo - 1 + c``). The search
    ranges, the leftmost strict minimum and every floating-point operation are the
    kernel's; each level of the divide and conquer is one block, padded where the
    rows' ranges are about as wide (copies of a row's last candidate fill it up),
    else ragged.

    ``Q1``, ``QW``, ``QS2``: per level, the rows' values (shape ``(rows, 1)``).
    ``bound``: (n + 2,) int64, receives the minimisers (``bound[n] = 0`` and
    ``bound[n + 1] = n - 1`` stand for the ends). Without ``careful`` a row holding a
    NaN (where the kernel takes the least of its other values) gives a NaN in ``out``:
    the caller then runs the layer again ``careful``."""
    n = out.shape[0]
    bound[n] = 0
    bound[n + 1] = n - 1
    cols = np.arange(n)
    for level, (mid, mid2, left2, right2) in enumerate(tree):
        olo = bound.take(left2)
        jhi = np.minimum(bound.take(right2), mid2)
        width = int((jhi - olo).max()) + 1
        if mid.shape[0] * width > 4 * n + 4096:  # uneven ranges: a ragged block
            _ragged_level(mid, olo[:, 0], jhi[:, 0], A, P1, PW, Q1[level][:, 0],
                          QW[level][:, 0], QS2[level][:, 0], out, bound)
            continue
        j = olo + cols[:width]
        np.minimum(j, jhi, out=j)  # past a row's end: copies of its last candidate
        dd = Q1[level] - P1.take(j)
        dd *= dd
        dd /= QW[level] - PW.take(j)
        v = A.take(j)
        v -= dd
        if careful:
            v[v != v] = np.inf  # NaN never wins (all inf: the first candidate)
        a = v.argmin(axis=1)  # the first minimum (a NaN if the row holds one)
        a += olo[:, 0]
        bound[mid] = a
        best = v.min(axis=1)
        best += QS2[level][:, 0]
        out[mid] = best


def _ragged_level(mid, olo, jhi, A, P1, PW, q1, qw, qs2, out, bound):
    """One level of :func:`_layer` with the candidates of all rows end to end (``q1``,
    ``qw``, ``qs2``: the rows' values)."""
    cnt = jhi - olo + 1
    ends = cnt.cumsum()
    first = ends - cnt
    jr = np.arange(ends[-1])
    jr += (olo - first).repeat(cnt)
    dd = q1.repeat(cnt) - P1.take(jr)
    dd *= dd
    dd /= qw.repeat(cnt) - PW.take(jr)
    v = A.take(jr) - dd
    v[v != v] = np.inf  # NaN never wins
    best = np.minimum.reduceat(v, first)
    seg = np.arange(mid.shape[0]).repeat(cnt)
    hit = (v == best.take(seg)).nonzero()[0][::-1]  # all inf: every one, the first wins
    bj = olo.copy()
    bj[seg.take(hit)] = jr.take(hit)  # the last assignment wins: the first minimum
    bound[mid] = bj
    out[mid] = best + qs2


def optimal_partition(W, S1, S2, n_cells, pos):
    """Twin of ``_optimal.optimal_partition`` where :func:`optimal_supported`."""
    k = W.shape[0] - 1
    M = n_cells
    pos[0] = 0
    pos[M] = k
    if M == 1:
        return _cell_cost(W, S1, S2, 0, k)
    n = k - M + 1  # positions of every inner boundary: m .. m + n - 1
    # the first boundary's costs, then one row-minima layer per boundary
    i = np.arange(1, n + 1)
    buf = _costs(W, S1, S2, np.zeros(i.shape, dtype=np.int64), i)
    table = {}
    if M > 2:
        tree = _tree(n)
        bound = np.empty(n + 2, dtype=np.int64)
        # each level's rows in every layer m = 2 .. M - 1: position m + row
        ms = np.arange(2, M)[:, None, None]
        at = [ms + mid2 for _, mid2, _, _ in tree]
        Q1 = [S1.take(i) for i in at]
        QW = [W.take(i) for i in at]
        QS2 = [S2.take(i) for i in at]
    with np.errstate(all="ignore"):
        for m in range(2, M):
            buf = buf - S2[m - 1 : m - 1 + n]
            tmp = np.empty(n)
            rows = ([q[m - 2] for q in Q1], [q[m - 2] for q in QW], [q[m - 2] for q in QS2])
            args = (tree, buf, S1[m - 1 :], W[m - 1 :], *rows, tmp, bound)
            _layer(*args, False)
            if np.isnan(tmp).any():
                _layer(*args, True)
            table[m] = bound[:n] + (m - 1)
            buf = tmp
    # the last cell ends at k: the leftmost best split before it
    pl = M - 1
    j = np.arange(pl, min(pl + n - 1, k - 1) + 1)
    v = buf[j - pl] + _costs(W, S1, S2, j, np.full(j.shape, k))
    v = np.where(v < np.inf, v, np.inf)
    bj = pl
    if j.size and v.min() < np.inf:
        bj = int(j[np.argmin(v)])
    pos[M - 1] = bj
    for m in range(M - 1, 1, -1):
        pos[m - 1] = table[m][pos[m] - m]
    return _seq_sum(_costs(W, S1, S2, pos[:-1], pos[1:]))
