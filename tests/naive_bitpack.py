"""Slow, obviously correct NumPy twins of the bit-packing kernels (``_kernels/_bitpack``)."""

import numpy as np


def pack(codes, widths):
    """Every code's bits, least significant first, row by row, in one little-endian stream."""
    codes = np.asarray(codes, dtype=np.int64)
    bits = [
        (codes[i, j] >> np.arange(widths[j])) & 1
        for i in range(codes.shape[0])
        for j in range(codes.shape[1])
    ]
    stream = np.concatenate(bits) if bits else np.zeros(0, dtype=np.int64)
    return np.packbits(stream.astype(np.uint8), bitorder="little")


def unpack(packed, widths, n_rows):
    widths = np.asarray(widths)
    row_bits = int(widths.sum())
    stream = np.unpackbits(packed, bitorder="little", count=n_rows * row_bits).astype(np.int64)
    out = np.empty((n_rows, len(widths)), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(widths)])
    for i in range(n_rows):
        row = stream[i * row_bits : (i + 1) * row_bits]
        for j, w in enumerate(widths):
            out[i, j] = int((row[starts[j] : starts[j] + w] << np.arange(w)).sum())
    return out
