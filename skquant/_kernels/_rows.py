"""Rebuilding the rows of a file's order-2 ``float_rows`` array (:mod:`skquant._io`).

Each value of a row was stored as its sortable bits less those of its prediction, the
line through the two values before it (``2 prev - prev2`` in float64, rounded to the
array's dtype; the previous value for the second, 0 for the first). Rebuilding is
sequential along a row, so NumPy would loop in Python once per column: on a wide
array (a forged file of a few kB declaring rows of 10^5 values) that took seconds.
"""

import numpy as np

from ._config import jit


@jit
def _line(i, prev, prev2):
    """The prediction of value ``i`` of a row, in float64: 0, the value before, or the
    line through the two before."""
    if i == 0:
        return 0.0
    if i == 1:
        return prev
    return 2.0 * prev - prev2


@jit
def rows_order2(z, top, fbuf, ubuf):
    """Rebuild, in place, the rows of ``z`` from their residuals.

    Parameters
    ----------
    z : (n, m) uint32 or uint64 array, IN/OUT: the residuals (modulo 2**bits, zigzag
        already undone); on return, the floats' bits (little-endian) of the rows.
    top : scalar of ``z``'s dtype, IN: its top bit, ``1 << (bits - 1)``.
    fbuf, ubuf : (1,) arrays, scratch: ``fbuf`` of the floats' dtype (float32 or
        float64, as wide as ``z``'s) and ``ubuf`` its view as ``z``'s dtype.
    """
    n, m = z.shape
    for r in range(n):
        prev = 0.0
        prev2 = 0.0
        bits = z.dtype.type(0)
        for i in range(m):
            if i == 1:  # the value before, bit for bit: widening a float32 signalling
                p = bits  # NaN to float64 and back sets its quiet bit (LLVM 20 keeps
            else:  # the round trip that earlier LLVMs folded away)
                fbuf[0] = _line(i, prev, prev2)  # rounded to the floats' dtype
                p = ubuf[0]
            p = ~p if p & top else p | top  # its sortable bits
            z[r, i] = z[r, i] + p  # modulo 2**bits (the store truncates)
            s = z[r, i]
            z[r, i] = s & ~top if s & top else ~s  # the float's bits
            bits = z[r, i]
            ubuf[0] = bits
            prev2 = prev
            prev = fbuf[0]  # the rebuilt value, widened exactly to float64


@jit
def _half_to_bits64(h):
    """The float64 bits of the float16 of bits ``h`` (exact; NaN payloads kept, as
    NumPy's ``astype(np.float64)``)."""
    sign = np.uint64(h & 0x8000) << np.uint64(48)
    e = (h >> 10) & 0x1F
    m = np.uint64(h & 0x3FF)
    if e == 0x1F:  # inf or NaN: the payload shifted into place
        return sign | np.uint64(0x7FF0000000000000) | (m << np.uint64(42))
    if e == 0:
        if m == 0:
            return sign
        value = float(m) * 2.0 ** -24  # subnormal, exact
    else:
        value = float(m + np.uint64(1024)) * 2.0 ** (e - 25)
    out = np.empty(1, dtype=np.float64)
    out[0] = value
    return out.view(np.uint64)[0] | sign


@jit
def _round_half_even(k):
    f = np.floor(k)
    d = k - f
    if d > 0.5 or (d == 0.5 and f % 2.0 == 1.0):
        f += 1.0
    return f


@jit
def _bits64_to_half(b, x):
    """The float16 bits nearest the float64 ``x`` of bits ``b`` (ties to even, beyond
    65520 infinite, NaN payloads truncated and kept NaN: as NumPy's
    ``astype(np.float16)``)."""
    sign = np.uint64((b >> np.uint64(48)) & np.uint64(0x8000))
    if x != x:
        m = (b & np.uint64(0x000FFFFFFFFFFFFF)) >> np.uint64(42)
        return sign | np.uint64(0x7C00) | (m if m else np.uint64(1))
    a = abs(x)
    if a >= 65520.0:
        return sign | np.uint64(0x7C00)
    if a < 2.0 ** -14:  # subnormal (or 0, or 2**-14 after rounding up): quantum 2**-24
        return sign | np.uint64(_round_half_even(a * 2.0 ** 24))
    e = np.int64(np.floor(np.log2(a)))
    if 2.0 ** e > a:  # log2 rounded up
        e -= 1
    elif 2.0 ** (e + 1) <= a:
        e += 1
    r = np.uint64(_round_half_even(a * 2.0 ** (10 - e)))  # 1024 .. 2048
    return sign | ((np.uint64(e + 15) << np.uint64(10)) + r - np.uint64(1024))


@jit
def rows_order2_half(z, top):
    """:func:`rows_order2` for float16 rows (``z`` uint16): the prediction in float64
    (exact for float16 values) rounded to float16 as NumPy rounds."""
    n, m = z.shape
    buf = np.empty(1, dtype=np.float64)
    bits = buf.view(np.uint64)
    for r in range(n):
        prev = 0.0
        prev2 = 0.0
        for i in range(m):
            buf[0] = _line(i, prev, prev2)
            p = _bits64_to_half(bits[0], buf[0]) if i else np.uint64(0)
            p = ~p if p & top else p | top  # its sortable bits (as 16 bits)
            z[r, i] = z[r, i] + p  # modulo 2**16 (the store truncates)
            s = np.uint64(z[r, i])
            z[r, i] = s & ~np.uint64(top) if s & top else ~s
            bits[0] = _half_to_bits64(np.uint64(z[r, i]))
            prev2 = prev
            prev = buf[0]
