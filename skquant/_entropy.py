"""The size of an entropy-coded skquant file, computed from the codes' histogram.

An entropy-coded file (``skquant.compress``, ``skquant encode --coding entropy``; the
coder is :mod:`skquant._coding`) stores, per feature, a *table* — the codes the feature
uses and how often — and codes every value with the probabilities of that table. A code
``k`` seen ``c_k`` times among ``n`` therefore costs ``log2(n / c_k)`` bits, and the
feature ``n * H`` bits in all, ``H`` the empirical entropy of its codes; the table costs
the bytes of its variable-length integers. :func:`coded_bits` adds the two without
running the coder, so it is the rate a coder really spends and can be computed for any
candidate quantizer in a search.

Only numpy is needed here (no coder is imported).
"""

import numpy as np

__all__ = ["coded_bits", "column_counts", "table_bytes", "varint_bytes"]


def varint_bytes(values):
    """Bytes of each non-negative integer as an unsigned LEB128 varint (7 bits a byte):
    1 for 0..127, 2 for 128..16383, ... (int64 array of the same shape)."""
    v = np.asarray(values, dtype=np.uint64)
    n = np.ones(v.shape, dtype=np.int64)
    for shift in range(7, 64, 7):
        n += v >= np.uint64(1) << np.uint64(shift)
    return n


def column_counts(column, n_levels, sample_weight=None):
    """``(symbols, counts)`` of one column of codes: the codes used, increasing, and
    how many times each occurs (int64), or with ``sample_weight`` their total weight
    (float64)."""
    column = np.asarray(column).ravel()
    counts = np.bincount(column, minlength=int(n_levels))
    symbols = np.flatnonzero(counts)
    if sample_weight is None:
        return symbols, counts[symbols].astype(np.int64)
    weighted = np.bincount(column, weights=sample_weight, minlength=int(n_levels))
    return symbols, weighted[symbols]


def table_bytes(symbols, counts):
    """Bytes of one feature's table in an entropy-coded file: for each used code, in
    increasing order, the varint of the gap to the previous used code (``s - prev - 1``,
    ``prev = -1`` at first) and the varint of ``count - 1``."""
    symbols = np.asarray(symbols, dtype=np.int64)
    gaps = np.diff(symbols, prepend=-1) - 1
    counts = np.asarray(counts, dtype=np.int64)
    return int(varint_bytes(gaps).sum() + varint_bytes(counts - 1).sum())


def _payload_bits(counts):
    """``sum_k c_k log2(n / c_k)``: ``n`` times the entropy in bits of ``counts``."""
    counts = np.asarray(counts, dtype=np.float64)
    counts = counts[counts > 0]
    total = counts.sum()
    if counts.size <= 1 or total <= 0:
        return 0.0
    return float(-(counts * np.log2(counts / total)).sum())


def coded_bits(codes, n_levels, sample_weight=None):
    """Bits an entropy-coded skquant file spends on each column of ``codes``.

    The sum of the column's payload, ``n * H`` with ``n`` the number of rows and ``H``
    the empirical entropy in bits of its codes (what the range/ANS coder writes, to
    within its precision: see below), and of the exact size in bits of the column's
    table (the codes it uses and their counts, as varints: :func:`table_bytes`).
    Nothing is encoded: the histogram of each column is all that is needed.

    What the file adds beyond the sum over columns is independent of the codes' values:
    per chunk of rows, the termination of its coded stream (at most 64 bits) and its
    offset (64 bits), plus the header, the codebook and the ZIP directory. The coder's
    probabilities are the table's counts quantized to 24 bits, which costs far below
    0.1 % of the payload on any column whose rarest code has probability above about
    ``2**-20``; ``tests/test_coding.py`` checks the real payload against this function
    (within 1 %) on real data.

    Parameters
    ----------
    codes : array-like of int of shape (n_samples, n_features) or (n_samples,)
        Ordinal codes, as ``transform`` of a scalar quantizer returns them.
    n_levels : int or array-like of int of shape (n_features,)
        The number of levels of each feature (``quantizer.n_levels_``); codes must be
        within ``0 .. n_levels - 1``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows: the payload is then ``n`` times the entropy of the
        *weighted* distribution of the codes (the expected size of a file of ``n`` rows
        drawn with these weights); the table is that of the unweighted codes.

    Returns
    -------
    bits : ndarray of float64, shape (n_features,)
        Payload plus table bits of each column (a 1-D ``codes`` is one column).

    Examples
    --------
    >>> import numpy as np
    >>> from skquant._entropy import coded_bits
    >>> codes = np.array([[0, 1], [0, 1], [1, 1], [3, 1]])
    >>> coded_bits(codes, [4, 2])  # 6 payload bits + 6 table bytes; 0 + 2 table bytes
    array([54., 16.])
    """
    codes = np.asarray(codes)
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.ndim != 2:
        raise ValueError(f"codes must be 1-D or 2-D, got shape {codes.shape}")
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
    n, d = codes.shape
    levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64).ravel()
        if sample_weight.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sample_weight.shape}")
    bits = np.zeros(d)
    for j in range(d):
        col = codes[:, j]
        if n and (col.min() < 0 or col.max() >= levels[j]):
            raise ValueError(f"codes of column {j} must be within 0 .. {levels[j] - 1}")
        symbols, counts = column_counts(col, levels[j])
        payload = counts
        if sample_weight is not None:
            w = column_counts(col, levels[j], sample_weight)[1]
            payload = w / w.sum() * n if w.sum() > 0 else counts
        bits[j] = _payload_bits(payload) + 8 * table_bytes(symbols, counts)
    return bits
