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
