"""The single JIT configuration of every numba kernel in skquant.

- ``cache=True``: compiled code is written beside the module and reused by later
  processes, so only the first run after install pays the compile time.
- ``nogil=True``: kernels release the GIL, so several Python threads may transform
  with one fitted estimator at once.
- ``error_model="numpy"``: division by zero gives inf/nan instead of raising, and
  removes the per-division zero check (callers guard the divisions that matter).
- No ``fastmath``: it assumes no NaN/inf and silently breaks the finiteness checks
  the kernels perform.

Kernels are compiled lazily (no explicit signatures), so ``import skquant`` compiles
nothing. They never change numba's global thread count.

Parallel kernels are called through :func:`threadsafe`: numba's ``workqueue``
threading layer (the one left when neither OpenMP nor TBB is available) aborts the
process when two threads launch parallel regions at once, so under that layer the
calls take turns; under ``omp`` and ``tbb`` they run concurrently.
"""

import functools
import threading

import numba
import numpy as np

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}

_LAYER_LOCK = threading.Lock()
_serialize = None  # True under the workqueue layer; known after a first parallel launch


@numba.njit(parallel=True, **JIT_OPTIONS)
def _probe(out):
    for i in numba.prange(out.shape[0]):
        out[i] = i


def _needs_turns():
    """Whether parallel launches must be serialised (numba's layer is ``workqueue``)."""
    global _serialize
    if _serialize is None:
        with _LAYER_LOCK:
            if _serialize is None:
                _probe(np.empty(2))  # numba picks its threading layer on a first launch
                _serialize = numba.threading_layer() == "workqueue"
    return _serialize


def threadsafe(kernel):
    """``kernel`` (a parallel dispatcher), callable from several Python threads at once.

    The dispatcher itself stays available as ``.kernel``.
    """

    @functools.wraps(kernel)
    def call(*args):
        if _needs_turns():
            with _LAYER_LOCK:
                return kernel(*args)
        return kernel(*args)

    call.kernel = kernel
    return call


def jit(func=None, *, parallel=False, inline="never"):
    """Compile ``func`` with the project's JIT options (optionally ``parallel``, or
    ``inline="always"`` for small helpers whose constant arguments should fold).

    A parallel kernel is returned wrapped by :func:`threadsafe`: it is an entry point
    for Python, never called from other kernels.
    """

    def wrap(f):
        kernel = numba.njit(parallel=parallel, inline=inline, **JIT_OPTIONS)(f)
        return threadsafe(kernel) if parallel else kernel

    return wrap if func is None else wrap(func)


prange = numba.prange
