"""The kernels as the estimators call them: small inputs go to the NumPy twins of
``_small`` (identical results) until the kernels are worth loading, everything else
to the numba kernels. Any other name is the kernel itself (``skquant._kernels``).

A fresh process pays about 0.5 s to import numba and load the cached kernels of a
fit (numba's typing registries, then each dispatcher read from the cache), where the
twins fit and transform 1000 x 4 values in a few milliseconds. So a call goes to its
twin when its input holds at most ``SMALL`` values, the kernel module is not loaded
yet (numba already paid: the kernels are faster) and the twins have processed fewer
than ``BUDGET`` values in this process (beyond, repeated small fits would lose more
than the kernels cost to load). ``mode`` forces one path ("numpy" or "numba"; tests).
"""

import sys

from . import _small

# values per call (rows x columns for the encoders): a default 16-level fit of one
# column through the twins costs 8 ms of CPU at 1000 values, 13 ms at 16384 and 18 ms
# at 65536 (the exact start runs on at most 2048 grid cells whatever the length), a
# transform 0.5 ms at 16384 values; loading the kernels costs ~0.45 s
SMALL = 1 << 14
# values through the twins before the kernels take over: a default fit and transform
# of 1000 x 4 at 16 levels passes about 76,000 through them in ~37 ms of CPU (0.5 us
# each), and loading numba and the kernels costs ~0.45 s, so after ~2**20 values (about
# 14 such fits) the twins have cost what the kernels would have (ski rental: at most
# twice the better choice made in hindsight)
BUDGET = 1 << 20
mode = None  # None: automatic; "numpy" or "numba": forced (tests)
_spent = 0

CHUNK = _small.CHUNK

_KERNELS = "skquant._kernels._scalar"


def small(n):
    """Whether a call on ``n`` values runs the NumPy twin."""
    global _spent
    if mode is not None:
        return mode == "numpy"
    if n > SMALL or _spent > BUDGET or _KERNELS in sys.modules:
        return False
    _spent += n
    return True


def _kernel(name):
    from .. import _kernels

    return getattr(_kernels, name)


def summarize_sorted(xs, ws, shift, out=None):
    if small(xs.shape[0]):
        return _small.summarize_sorted(xs, ws, shift)
    return _kernel("summarize_sorted")(xs, ws, shift, out)


def cell_positions(u, thresholds, pos):
    if small(u.shape[0]):
        return _small.cell_positions(u, thresholds, pos)
    return _kernel("cell_positions")(u, thresholds, pos)


def centroids(W, S1, shift, pos, levels):
    if small(W.shape[0]):
        return _small.centroids(W, S1, shift, pos, levels)
    return _kernel("centroids")(W, S1, shift, pos, levels)


def partition_cost(W, S1, S2, pos):
    if small(W.shape[0]):
        return _small.partition_cost(W, S1, S2, pos)
    return _kernel("partition_cost")(W, S1, S2, pos)


def sse_exact(u, W, pos, levels):
    if small(u.shape[0]) and _small.sse_supported(u, pos):
        return _small.sse_exact(u, W, pos, levels)
    return _kernel("sse_exact")(u, W, pos, levels)


def lloyd_escape(u, W, S1, S2, shift, levels, max_iter, tol, max_moves):
    if small(u.shape[0]):
        return _small.lloyd_escape(u, W, S1, S2, shift, levels, max_iter, tol, max_moves)
    return _kernel("lloyd_escape")(u, W, S1, S2, shift, levels, max_iter, tol, max_moves)


def optimal_partition(W, S1, S2, n_cells, pos):
    if W.shape[0] <= SMALL and _small.optimal_supported(W, n_cells) and small(W.shape[0]):
        return _small.optimal_partition(W, S1, S2, n_cells, pos)
    return _kernel("optimal_partition")(W, S1, S2, n_cells, pos)


def window_grid_encode(X, start, inv_width, counts, T, top, out):
    if small(X.size):
        return _small.window_grid_encode(X, start, inv_width, counts, T, top, out)
    return _kernel("window_grid_encode")(X, start, inv_width, counts, T, top, out)


def decode(codes, levels, n_levels, out):
    if small(codes.size):
        return _small.decode(codes, levels, n_levels, out)
    return _kernel("decode")(codes, levels, n_levels, out)


def __getattr__(name):
    return _kernel(name)
