"""Slow, obviously correct NumPy twin of ``skquant._kernels._ecsq``."""

import numpy as np


def cell_cost(w, x, lam, total):
    """Weighted squared error of the points ``x`` (weights ``w``) about their centroid
    plus ``lam * w_cell * log2(total / w_cell)``."""
    wt = w.sum()
    if wt <= 0:
        return 0.0
    mean = (w * x).sum() / wt
    return float((w * (x - mean) ** 2).sum() + lam * wt * np.log2(total / wt))


def ecsq_partition(w, x, lam, max_cells):
    """``(cost, boundaries)``: the exact minimum over partitions of the points into at
    most ``max_cells`` contiguous cells, by the full DP over (cells, prefix)."""
    n, total = len(x), w.sum()
    D = np.full((max_cells + 1, n + 1), np.inf)
    D[0, 0] = 0.0
    arg = np.zeros((max_cells + 1, n + 1), dtype=int)
    for m in range(1, max_cells + 1):
        for i in range(1, n + 1):
            for j in range(i):
                v = D[m - 1, j] + cell_cost(w[j:i], x[j:i], lam, total)
                if v < D[m, i]:
                    D[m, i], arg[m, i] = v, j
    m = int(np.argmin(D[:, n]))
    cost, pos, i = D[m, n], [n], n
    while m > 0:
        i = arg[m, i]
        pos.append(i)
        m -= 1
    return float(cost), np.array(pos[::-1])
