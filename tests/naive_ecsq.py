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


def solve_rate(solve, rate, scale, n_bisect=40, tol=1e-4):
    """Twin of ``skquant._lagrangian.solve_rate``: the plain bisection on ``log lam``,
    running ``solve`` at every step (no use of the designs' structure)."""
    found = solve(0.0)
    if found[1] <= rate:
        return (0.0, *found)
    guess = 2.0 * np.log(2.0) * scale * 2.0 ** (-2.0 * rate)
    lo, hi = guess / 4.0, guess * 4.0
    best = solve(hi)
    while best[1] > rate:
        lo, hi = hi, hi * 16.0
        best = solve(hi)
    while lo > scale * 2.0**-80:
        trial = solve(lo)
        if trial[1] > rate:
            break
        hi, best, lo = lo, trial, lo / 16.0
    best_lam = hi
    for _ in range(n_bisect):
        if rate - best[1] <= tol or hi <= lo * (1.0 + 1e-9):
            break
        mid = float(np.sqrt(lo * hi))
        trial = solve(mid)
        if trial[1] <= rate:
            hi, best, best_lam = mid, trial, mid
        else:
            lo = mid
    return (best_lam, *best)
