"""Bit-packing of integer codes at ``n_bits`` per value (the skquant file format's codes).

Layout: codes ``(n, d)`` with widths ``w`` (``w[j]`` bits for column ``j``, 1 to 32) form
one little-endian bit stream. Row ``i`` starts at bit ``i * R`` with ``R = sum(w)``;
within a row, column ``j`` starts at bit ``w[0] + ... + w[j-1]``, least significant bit
first. Bit ``p`` of the stream is bit ``p % 8`` (least significant first) of byte
``p // 8``, and the bits after the last value are zero. With one width ``b`` for every
column, value ``k`` of the row-major flattening occupies bits ``k b .. k b + b - 1``:
``np.packbits(bits, bitorder="little")`` of the values' bits, least significant first.

Rows are processed in chunks of a multiple of 8 rows, so every chunk starts on a byte
boundary and owns its bytes; chunks run in parallel and the output does not depend on
the number of threads.
"""

import numpy as np

from ._config import jit, prange

PACK_CHUNK = 16384  # about this many values per parallel chunk


def packed_size(n_rows, widths):
    """Number of bytes holding ``n_rows`` rows of codes with column ``widths``."""
    return (int(n_rows) * int(np.sum(widths)) + 7) // 8


@jit
def _chunk_rows(d):
    return 8 * max(1, PACK_CHUNK // (8 * max(d, 1)))


@jit(parallel=True)
def pack_bits(codes, widths, out):
    """Pack non-negative integer codes, ``widths[j]`` bits for column ``j``.

    Parameters
    ----------
    codes : (n, d) unsigned or signed integer array, IN, C-contiguous.
    widths : (d,) int64 array, IN: bits per column, 1 to 32.
    out : (packed_size(n, widths),) uint8 array, OUT: the packed stream.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a code outside
        ``0 .. 2**widths[j] - 1`` (written masked to its width; the caller raises).
    """
    n, d = codes.shape
    row_bits = np.int64(0)
    for j in range(d):
        row_bits += widths[j]
    rows = _chunk_rows(d)
    n_chunks = (n + rows - 1) // rows
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        start = c * rows
        stop = min(start + rows, n)
        pos = (start * row_bits) // 8  # exact: start is a multiple of 8
        buf = np.int64(0)
        filled = np.int64(0)
        ok = True
        for i in range(start, stop):
            for j in range(d):
                w = widths[j]
                mask = (np.int64(1) << w) - 1
                v = np.int64(codes[i, j])
                ok &= (v & mask) == v
                buf |= (v & mask) << filled
                filled += w
                while filled >= 8:
                    out[pos] = np.uint8(buf & 0xFF)
                    buf >>= 8
                    filled -= 8
                    pos += 1
        if filled > 0:  # only the last chunk can end inside a byte
            out[pos] = np.uint8(buf & 0xFF)
        bad[c] = not ok
    return bad


@jit(parallel=True)
def unpack_bits(packed, widths, out):
    """Unpack codes ``(n, d)`` of ``widths[j]`` bits per column from ``packed``.

    Parameters
    ----------
    packed : (packed_size(n, widths),) uint8 array, IN.
    widths : (d,) int64 array, IN: bits per column, 1 to 32.
    out : (n, d) unsigned integer array wide enough for the widths, OUT: the codes.
    """
    n, d = out.shape
    row_bits = np.int64(0)
    for j in range(d):
        row_bits += widths[j]
    rows = _chunk_rows(d)
    n_chunks = (n + rows - 1) // rows
    for c in prange(n_chunks):
        start = c * rows
        stop = min(start + rows, n)
        pos = (start * row_bits) // 8
        buf = np.int64(0)
        filled = np.int64(0)
        for i in range(start, stop):
            for j in range(d):
                w = widths[j]
                while filled < w:
                    buf |= np.int64(packed[pos]) << filled
                    pos += 1
                    filled += 8
                out[i, j] = buf & ((np.int64(1) << w) - 1)
                buf >>= w
                filled -= w
