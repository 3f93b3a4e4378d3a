"""Transcendental functions that give the same bits on every CPU: the C library's, one
value at a time through :mod:`math`, in place of NumPy's ufuncs.

NumPy picks the loop of ``np.exp``, ``np.log``, ``np.log1p``, ``np.cbrt``, ``np.power``
... for the CPU it runs on: on a CPU with AVX-512 it takes its own SIMD code or SVML,
which round differently (by an ulp here and there) from the C library it calls
elsewhere. The designs and fits (a compander's thresholds, a dead zone's scan, the
analytic densities, code lengths) go through these instead, so a model fitted on one
machine holds the same levels as on another and a file written there is the same
bytes. On a CPU without AVX-512 the results are NumPy's own (its loops call the C
library there). They cost about 0.1 us a value: the fits call them on the levels, a
design's grid, the counts of the codes or a few scalars, never on every value.

Each takes a scalar or an array (any shape) and returns a float64 array of the same
shape (a ``np.float64`` for a scalar or a 0-d array, as NumPy's ufuncs do). The
special values (overflow, a logarithm of 0 or of a negative value, a NaN) are
NumPy's, with its warnings: a value the C library refuses through :mod:`math` is
handed to the NumPy ufunc, whose special cases are exact on every CPU.
"""

import math

import numpy as np

__all__ = ["cbrt", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "power"]


def _through_math(scalar, ufunc):
    """``ufunc`` (one or two arguments, broadcast) computed by ``scalar`` of :mod:`math`
    value by value; a value ``scalar`` refuses goes to ``ufunc`` (its special value)."""

    def one(*v):
        try:
            return scalar(*v)
        except (ValueError, OverflowError):
            return float(ufunc(*v))

    each = np.frompyfunc(one, ufunc.nin, 1)

    def f(*x):
        if all(type(v) is float for v in x):  # a scalar (the optimisers' calls): no array
            return np.float64(one(*x))
        out = each(*(np.asarray(v, dtype=np.float64) for v in x))
        return np.float64(out) if np.ndim(out) == 0 else out.astype(np.float64)

    f.__name__ = ufunc.__name__
    f.__doc__ = f"``np.{ufunc.__name__}`` through ``math`` (the same on every CPU)."
    return f


exp = _through_math(math.exp, np.exp)
log = _through_math(math.log, np.log)
log2 = _through_math(math.log2, np.log2)
log10 = _through_math(math.log10, np.log10)
expm1 = _through_math(math.expm1, np.expm1)
log1p = _through_math(math.log1p, np.log1p)
power = _through_math(math.pow, np.power)
# math.exp2 and math.cbrt are Python 3.11's; on 3.10 the C library's pow(2, x) and
# NumPy's cbrt (the CPU's, as before)
exp2 = _through_math(getattr(math, "exp2", lambda v: math.pow(2.0, v)), np.exp2)
cbrt = _through_math(getattr(math, "cbrt", lambda v: float(np.cbrt(v))), np.cbrt)
