"""Kernels of the streaming column sketch: a mergeable histogram with exact moments.

A value ``x`` of a feature is mapped to ``v = (x - centre) * 2**-e`` (``2**e`` is the
sketch's scale) and then to an integer bin index in the manner of a floating-point
number with ``m`` mantissa bits. ``v`` is computed as ``((x * a1) * a2 - c) * s`` with
powers of two ``a1 a2 s = 2**-e`` and ``c = centre * a1 a2`` chosen by the caller so
that nothing overflows or underflows on the way (subnormal columns, values near the
largest float); for ordinary columns ``a1 = a2 = 1``, ``c = centre``, ``s = 2**-e``.
values with ``|v| >= 2**LIMIT`` (whose squares would overflow) are out of range.
The bins:

- ``|v| < 1``: linear bins of width ``2**-m``: ``index = floor(v * 2**m)``;
- ``|v| >= 1``: ``2**m`` bins per octave ``[2**p, 2**(p+1))``, so the width relative
  to ``|v|`` is at most ``2**-m``.

Indices are monotone in ``x``; coarsening by ``level`` merges ``2**level`` adjacent
indices (``index >> level``), so sketches at different levels merge exactly. Each bin
keeps its total weight and the sums of ``w * v`` and ``w * v**2`` in double-double
arithmetic (a high and a low float64 each: 6 rows), so adding and merging in any
order round to the same float64 sums.
"""

import numpy as np

from ._config import jit

LIMIT = 500  # |v| < 2**LIMIT: the sums of w * v**2 stay finite


@jit(inline="always")
def bin_index(v, m):
    """The bin of ``v`` (a scaled, centred value) with ``m`` mantissa bits, at level 0.

    For ``|v| >= 1`` the index is read from the bits of ``|v|``: its biased exponent
    ``1023 + p`` and the top ``m`` bits of its mantissa, i.e. ``2**m * (p + 1) +
    frac`` for ``|v| = 2**p * (1 + (frac + r) / 2**m)``, ``0 <= r < 1``.
    """
    if abs(v) < 1.0:
        return np.int64(np.floor(v * 2.0**m))
    bits = np.float64(abs(v)).view(np.int64)
    i = (bits >> (52 - m)) - (np.int64(1022) << m)
    return i if v > 0 else -i - 1


@jit(inline="always")
def scaled(x, a1, a2, c, s):
    """The centred, scaled value ``v`` of ``x`` (see the module docstring)."""
    return ((x * a1) * a2 - c) * s


@jit
def bin_range(x, a1, a2, c, s, m):
    """Smallest and largest level-0 bin index of the values ``x``; whether all are
    finite; and whether all are in range (``|v| < 2**LIMIT``)."""
    lo = np.int64(2**62)
    hi = -np.int64(2**62)
    finite = True
    in_range = True
    for i in range(x.shape[0]):
        xi = x[i]
        if not (xi - xi == 0.0):
            finite = False
            continue
        v = scaled(xi, a1, a2, c, s)
        if not abs(v) < 2.0**LIMIT:
            in_range = False
            continue
        b = bin_index(v, m)
        lo = min(lo, b)
        hi = max(hi, b)
    return lo, hi, finite, in_range


@jit
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@jit
def _dd_add(store, r, j, hi, lo):
    s, e = _two_sum(store[r, j], hi)
    store[r, j] = s
    store[r + 1, j] += e + lo


@jit
def sketch_add(x, w, a1, a2, c, s, m, level, start, store):
    """Add values (weights ``w``; an empty array means 1) to the bins of ``store``.

    store : (6, n_bins) float64, IN/OUT: weight, sum of w*v and sum of w*v**2, each as
        a (high, low) pair, for bins ``start .. start + n_bins - 1`` at ``level``;
        every value must fall inside.
    """
    weighted = w.shape[0] > 0
    for i in range(x.shape[0]):
        wi = w[i] if weighted else 1.0
        if wi == 0.0:
            continue
        v = scaled(x[i], a1, a2, c, s)
        j = (bin_index(v, m) >> level) - start
        _dd_add(store, 0, j, wi, 0.0)
        _dd_add(store, 2, j, wi * v, 0.0)
        _dd_add(store, 4, j, wi * v * v, 0.0)


@jit
def sketch_merge_into(dst, dst_start, src, src_start, shift):
    """Add the bins of ``src`` (coarsened by ``shift`` levels) into ``dst``, exactly."""
    for k in range(src.shape[1]):
        if src[0, k] == 0.0 and src[1, k] == 0.0:
            continue
        j = ((src_start + k) >> shift) - dst_start
        for r in (0, 2, 4):
            _dd_add(dst, r, j, src[r, k], src[r + 1, k])
