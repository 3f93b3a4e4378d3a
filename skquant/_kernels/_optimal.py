"""The exact optimum of a column: minimum-MSE partition of its sorted distinct values.

The dynamic programme ``D[m, i] = min_j D[m-1, j] + cost(j, i)`` over the ``k`` distinct
values of a column summary (weights are the counts, so tied data cost nothing extra),
layer by layer from the prefix sums ``W``, ``S1``, ``S2`` (see ``_scalar``). The cost of
1-D k-means cells is a Monge array, so the leftmost optimal split is monotone in ``i``
and every layer is a row-minima problem solved by divide and conquer.
"""

import numpy as np

from ._config import jit
from ._scalar import _cell_cost


@jit
def _best_split(A, W, S1, jlo, jhi, i):
    """argmin over j in [jlo, jhi] of ``A[j] - (S1[i] - S1[j])**2 / (W[i] - W[j])``.

    With ``A = D_prev - S2`` this is the DP recurrence up to the constant ``S2[i]``;
    the leftmost minimiser is returned (the row minima of a Monge array are then
    monotone, which divide and conquer relies on).
    """
    s1 = S1[i]
    w = W[i]
    best = np.inf
    bj = jlo
    for j in range(jlo, jhi + 1):
        d = s1 - S1[j]
        v = A[j] - d * d / (w - W[j])
        if v < best:
            best = v
            bj = j
    return best, bj


@jit
def optimal_partition(W, S1, S2, n_cells, pos):
    """Exact minimum-cost partition of ``k`` sorted points into ``n_cells`` cells.

    Dynamic programming ``D[m, i] = min_j D[m-1, j] + cost(j, i)`` layer by layer. The
    cost of 1-D k-means cells is a Monge array, so the leftmost optimal split is
    monotone in ``i`` and each layer is solved by divide and conquer in O(k log k):
    O(M k log k) in all. The last layer needs only ``D[M, k]``.

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
    A = np.empty(k + 1, dtype=np.float64)  # D_prev[j] - S2[j]
    for j in range(k + 1):
        A[j] = _cell_cost(W, S1, S2, 0, j) - S2[j]
    cur = np.empty(k + 1, dtype=np.float64)
    arg = np.zeros((M, k + 1), dtype=np.int32)
    stack = np.empty((256, 4), dtype=np.int64)  # (lo, hi, optlo, opthi), depth ~log2 k
    for m in range(1, M - 1):
        # m + 1 cells over the first i points, i in [m + 1, k - (M - m - 1)]
        lo0 = m + 1
        hi0 = k - (M - m - 1)
        stack[0, 0] = lo0
        stack[0, 1] = hi0
        stack[0, 2] = m
        stack[0, 3] = hi0 - 1
        top = 1
        while top > 0:
            top -= 1
            lo = stack[top, 0]
            hi = stack[top, 1]
            olo = stack[top, 2]
            ohi = stack[top, 3]
            mid = (lo + hi) >> 1
            # the optimal split also never moves left when a cell is added
            # (arg[m - 1, mid] <= arg[m, mid]): a tighter lower bound, same optimum
            jlo = max(olo, arg[m - 1, mid]) if m > 1 else olo
            best, bj = _best_split(A, W, S1, jlo, min(ohi, mid - 1), mid)
            cur[mid] = best + S2[mid]
            arg[m, mid] = bj
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
        for i in range(lo0, hi0 + 1):
            A[i] = cur[i] - S2[i]
    jlo = max(M - 1, arg[M - 2, k]) if M > 2 else M - 1
    best, bj = _best_split(A, W, S1, jlo, k - 1, k)
    pos[M - 1] = bj
    for m in range(M - 2, 0, -1):
        pos[m] = arg[m, pos[m + 1]]
    return max(best + S2[k], 0.0)
