"""NumPy twin of :mod:`skquant._kernels._rows`: the order-2 rows rebuilt one column at a
time (each column from the two before it, all rows at once), as the loader did before
the kernel."""

import numpy as np

from skquant._io import _sortable, _unsortable


def rows_order2(z, dtype):
    """The floats of ``dtype`` whose order-2 residuals (zigzag undone, modulo
    2**bits) are the unsigned integers ``z`` (n, m)."""
    dtype = np.dtype(dtype)
    out = np.empty(z.shape, dtype=dtype)
    for i in range(z.shape[1]):
        if i == 0:
            p = np.zeros(z.shape[0], dtype=dtype)
        elif i == 1:
            p = out[:, 0]
        else:
            with np.errstate(all="ignore"):
                p = (2.0 * out[:, i - 1].astype(np.float64) - out[:, i - 2]).astype(dtype)
        out[:, i] = _unsortable(z[:, i] + _sortable(p), dtype)
    return out
