"""NumPy twin of ``skquant._kernels._optimal``: the plain O(M k^2) dynamic programme.

Every split of every layer is tried, with the cell costs computed from the values
themselves (no prefix sums), so it is obviously the exact optimum; among equal costs
it keeps the leftmost split, as the kernel does.
"""

import numpy as np
from naive import cell_cost


def reference_dp(u, w, n_cells):
    """Exact minimum cost of ``n_cells`` contiguous cells over increasing ``u`` with
    weights ``w``, and the cell boundaries ``pos`` (``u[pos[c]:pos[c + 1]]`` is cell
    ``c``)."""
    u = np.asarray(u, dtype=float)
    w = np.asarray(w, dtype=float)
    k = len(u)
    cost = np.array([[cell_cost(u[j:i], w[j:i]) if j < i else np.inf
                      for i in range(k + 1)] for j in range(k + 1)])
    D = np.full((n_cells + 1, k + 1), np.inf)
    arg = np.zeros((n_cells + 1, k + 1), dtype=int)
    D[0, 0] = 0.0
    for m in range(1, n_cells + 1):
        for i in range(m, k + 1):
            v = D[m - 1, :i] + cost[:i, i]
            arg[m, i] = int(np.argmin(v))  # the leftmost minimum
            D[m, i] = v[arg[m, i]]
    pos = [k]
    for m in range(n_cells, 0, -1):
        pos.append(arg[m, pos[-1]])
    return D[n_cells, k], np.array(pos[::-1])


def prefix_dp(W, S1, S2, n_cells, chunk=512):
    """The same O(M k^2) programme from the prefix sums ``W``, ``S1``, ``S2`` (length
    ``k + 1``), vectorised over the splits: the reference for columns too long for
    :func:`reference_dp` (the kernel prunes those). Returns ``(cost, pos)`` with the
    leftmost split of every layer."""
    W, S1, S2 = (np.asarray(a, dtype=float) for a in (W, S1, S2))
    k = W.shape[0] - 1
    D = np.full(k + 1, np.inf)
    D[1:] = S2[1:] - S2[0] - (S1[1:] - S1[0]) ** 2 / (W[1:] - W[0])
    args = []
    j = np.arange(k + 1)
    for _ in range(1, n_cells):
        new = np.full(k + 1, np.inf)
        arg = np.zeros(k + 1, dtype=int)
        for start in range(1, k + 1, chunk):
            i = np.arange(start, min(start + chunk, k + 1))[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                cost = S2[i] - S2[j] - (S1[i] - S1[j]) ** 2 / (W[i] - W[j])
            v = np.where(j < i, D[None, :] + np.maximum(cost, 0.0), np.inf)
            a = np.argmin(v, axis=1)
            arg[i[:, 0]] = a
            new[i[:, 0]] = v[np.arange(len(a)), a]
        D = new
        args.append(arg)
    pos = [k]
    for arg in reversed(args):
        pos.append(arg[pos[-1]])
    pos.append(0)
    return D[k], np.array(pos[::-1])


def penalised_dp(W, S1, S2, lam):
    """The least ``cost + lam * cells`` over all partitions, from the prefix sums:
    ``F[i] = min_j F[j] + cost(j, i) + lam``, every split tried. Returns ``F`` (length
    ``k + 1``)."""
    W, S1, S2 = (np.asarray(a, dtype=float) for a in (W, S1, S2))
    k = W.shape[0] - 1
    F = np.zeros(k + 1)
    for i in range(1, k + 1):
        j = np.arange(i)
        wt = W[i] - W[j]
        with np.errstate(divide="ignore", invalid="ignore"):
            cost = np.where(wt > 0, S2[i] - S2[j] - (S1[i] - S1[j]) ** 2 / wt, 0.0)
        F[i] = np.min(F[:i] + np.maximum(cost, 0.0)) + lam
    return F
