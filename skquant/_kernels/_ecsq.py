"""Kernel of the entropy-constrained scalar quantizer: the exact Lagrangian DP.

The points are the groups of a column summary between candidate cell boundaries,
given by the prefix sums ``W``, ``S1``, ``S2`` at those boundaries (length ``n + 1``;
see ``_scalar.py``). A cell of groups ``[j, i)`` costs its weighted squared error about
its centroid plus ``lam * w * log2(W_total / w)``, ``w`` its weight: the sum over cells
is ``W_total * (MSE + lam * H)``, ``H`` the entropy in bits of the cell distribution.
"""

import numpy as np

from ._config import jit
from ._scalar import _cell_cost

_LOG2E = 1.4426950408889634


@jit(inline="always")
def _rate(W, j, i, total):
    w = W[i] - W[j]
    if w <= 0.0:
        return 0.0
    return w * np.log2(total / w)


@jit
def _layer(W, S1, S2, lam, total, prev, cur, back, carry):
    """One DP pass: ``cur[i] = min_j prev[j] + cost(j, i)`` (and ``prev[i]`` itself when
    ``carry``: at most one more cell), ``back[i]`` the argmin (-1: carried).

    Every term is non-negative and a cell's squared error never decreases as it
    grows to the left, so the scan of ``j`` stops once the error alone reaches the
    best cost found: an exact pruning. ``prev is cur`` is the one-layer DP over any
    number of cells (``cur[j]`` is final for ``j < i``); there (``carry`` False) a
    second exact bound stops the scan too: for ``j' < j``, the error of a cell only
    grows by merging (``sse(j', i) >= sse(j', j) + sse(j, i)``), ``D[j] <= D[j'] +
    cost(j', j)``, and adding weight ``b`` to a cell changes its rate term by at least
    ``-b log2(e)``, so ``D[j'] + cost(j', i) >= D[j] + sse(j, i) - lam log2(e) w(j, i)``."""
    n = W.shape[0] - 1
    for i in range(1, n + 1):
        best = prev[i] if carry else np.inf
        arg = -1
        for j in range(i - 1, -1, -1):
            sse = _cell_cost(W, S1, S2, j, i)
            if sse >= best:
                break
            pj = prev[j]
            if pj == np.inf:
                continue
            if not carry and pj + sse - lam * _LOG2E * (W[i] - W[j]) >= best:
                break
            v = pj + sse + lam * _rate(W, j, i, total)
            if v < best:
                best = v
                arg = j
        cur[i] = best
        back[i] = arg


@jit
def ecsq_partition(W, S1, S2, lam, max_cells, pos):
    """Exact minimum of ``sum_cells sse + lam * w log2(W_total / w)`` over partitions
    of the ``n`` groups into at most ``max_cells`` contiguous cells.

    First the DP over any number of cells (one pass); when its optimum has more than
    ``max_cells`` cells, the layered DP over at most ``m`` cells, ``m = 1 ..
    max_cells`` (stopping early once a layer changes nothing).

    Parameters
    ----------
    W, S1, S2 : prefix sums at the candidate boundaries (n + 1,), IN.
    lam : float >= 0, IN, the multiplier (squared units per bit).
    max_cells : int >= 1, IN.
    pos : (n + 1,) int64 array, OUT: ``pos[:n_cells + 1]`` the cell boundaries.

    Returns
    -------
    n_cells, cost : the number of cells and the minimum cost.
    """
    n = W.shape[0] - 1
    total = W[n] - W[0]
    D = np.empty(n + 1, dtype=np.float64)
    D[0] = 0.0
    back = np.empty(n + 1, dtype=np.int64)
    back[0] = -1
    _layer(W, S1, S2, lam, total, D, D, back, False)
    count = 0
    i = n
    while i > 0:
        i = back[i]
        count += 1
    if count <= max_cells:
        i = n
        c = count
        pos[c] = n
        while i > 0:
            i = back[i]
            c -= 1
            pos[c] = i
        return count, D[n]
    # at most m cells, layer by layer
    backs = np.empty((max_cells + 1, n + 1), dtype=np.int64)
    return _at_most(W, S1, S2, lam, total, max_cells, backs, np.empty(n + 1),
                    np.empty(n + 1), pos)


@jit
def _at_most(W, S1, S2, lam, total, max_cells, backs, prev, cur, pos):
    """The layered DP of :func:`ecsq_partition` over at most ``max_cells`` cells, on
    work arrays of any content: ``backs`` (max_cells + 1, n + 1) int64, ``prev`` and
    ``cur`` (n + 1,) float64 (every entry read is written first)."""
    n = W.shape[0] - 1
    prev[:] = np.inf
    prev[0] = 0.0
    cur[0] = 0.0  # no points, no cells, no cost: _layer writes from index 1 on
    used = max_cells
    for m in range(1, max_cells + 1):
        _layer(W, S1, S2, lam, total, prev, cur, backs[m], m > 1)
        same = m > 1
        for i in range(n + 1):
            if cur[i] != prev[i]:
                same = False
            prev[i] = cur[i]
        if same:
            used = m
            break
    tmp = np.empty(max_cells + 1, dtype=np.int64)
    count = 0
    i = n
    m = used
    while i > 0:
        j = backs[m, i]
        m -= 1
        if j == -1:
            continue
        tmp[count] = j
        count += 1
        i = j
    pos[0] = 0
    for c in range(count):
        pos[count - c - 1] = tmp[c]
    pos[count] = n
    return count, prev[n]
