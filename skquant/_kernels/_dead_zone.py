"""Kernel of the dead-zone quantizer: exact error and code entropy of many candidates.

A dead-zone quantizer about 0 with step ``Delta`` and dead-zone ratio ``r`` has a
zero cell ``[-r Delta / 2, r Delta / 2)`` and cells of width ``Delta`` on either side:
thresholds ``-(r / 2 + k) Delta`` (``k < n_below``) and ``(r / 2 + k) Delta``
(``k < n_above``); levels 0, ``+-(r / 2 + k + 1 / 2) Delta`` (the cell midpoints, the
outer cells' as if they were ``Delta`` wide), or the cells' centroids. The column
summary is the one of ``_scalar.py`` (centred on the quantizer's centre by the caller).
"""

import numpy as np

from ._config import jit
from ._uniform import _cell_sse, _lower_bound


@jit
def dead_zone_cost(u, W, S1, S2, shift, n_below, n_above, ratios, steps, centroid,
                   sse_out, bits_out):
    """Weighted squared error and code entropy of many dead-zone quantizers.

    Candidate ``c`` has ratio ``ratios[c]`` and step ``steps[c]`` (see the module
    docstring); a value equal to a threshold goes to the upper cell. Each candidate
    costs ``M - 1`` bisections for ``M = n_below + 1 + n_above`` levels: O(M log k),
    whatever the number of samples. Serial: the estimator fits columns in threads.

    Parameters
    ----------
    u, W, S1, S2 : column summary (k,), (k + 1,) float64 arrays, IN.
    shift : float, IN, the centre of the prefix sums.
    n_below, n_above : int, IN, the cells below and above the zero cell.
    ratios, steps : (n_candidates,) float64 arrays, IN; ratios >= 0, steps > 0.
    centroid : bool, IN: reconstruct with the cells' centroids, not their midpoints.
    sse_out : (n_candidates,) float64 array, OUT: the weighted squared errors.
    bits_out : (n_candidates,) float64 array, OUT: ``-sum_cells w log2(w / W_total)``,
        the total weight times the entropy in bits of the codes.
    """
    k = u.shape[0]
    total_w = W[k]
    M = n_below + 1 + n_above
    for c in range(steps.shape[0]):
        half = 0.5 * ratios[c]
        s = steps[c]
        sse = 0.0
        bits = 0.0
        a = 0
        for m in range(M):
            # cell m: level index relative to the zero cell
            i = m - n_below
            if m == M - 1:
                b = k
            elif i < 0:  # the threshold above cell m is -(half + (-i - 1)) * s
                b = _lower_bound(u, -(half - i - 1.0) * s, a, k)
            else:  # above the zero cell or cell i > 0: (half + i) * s
                b = _lower_bound(u, (half + i) * s, a, k)
            if i == 0:
                level = 0.0
            elif i > 0:
                level = (half + i - 0.5) * s
            else:
                level = -(half - i - 0.5) * s
            sse += _cell_sse(W, S1, S2, a, b, centroid, level - shift)
            wt = W[b] - W[a]
            if wt > 0.0:
                bits -= wt * np.log2(wt / total_w)
            a = b
            if a == k:  # the cells above hold nothing
                break
        sse_out[c] = sse
        bits_out[c] = bits
