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
"""

import numba

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}


def jit(func=None, *, parallel=False, inline="never"):
    """Compile ``func`` with the project's JIT options (optionally ``parallel``, or
    ``inline="always"`` for small helpers whose constant arguments should fold)."""

    def wrap(f):
        return numba.njit(parallel=parallel, inline=inline, **JIT_OPTIONS)(f)

    return wrap if func is None else wrap(func)


prange = numba.prange
