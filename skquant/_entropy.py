"""The size of an entropy-coded skquant file, computed from the codes.

An entropy-coded file (``skquant.compress``, ``skquant encode --coding entropy``; the
coder is :mod:`skquant._coding`) codes each feature under one of three models, the one
taking fewest bits: its *table* (the codes the feature uses and how often; a code ``k``
seen ``c_k`` times among ``n`` costs ``log2(n / c_k)`` bits, the feature ``n * H``
bits, ``H`` the empirical entropy of its codes, plus the table's variable-length
integers), the *flat model* (``log2 n_levels`` bits a value, no table) or, in a file of
at most ``2**16`` rows, an *adaptive model* (no table). :func:`coded_bits` is the bits
of that choice, computed without running the coder, so it is the rate a coder really
spends and can be computed for any candidate quantizer in a search.

Only numpy is imported here; :func:`coded_bits` reaches the writer's size model
(:func:`skquant._coding.feature_bits`, numba) when it is called.
"""

import numpy as np

from . import _libm

__all__ = ["coded_bits", "column_counts", "table_bytes", "table_model_bits", "varint_bytes"]


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
    return float(-(counts * _libm.log2(counts / total)).sum())


def table_model_bits(symbols, counts):
    """Bits of one feature coded under the model of its table (the used codes
    ``symbols`` and their ``counts``): the payload ``n H`` (``n`` the rows, ``H`` the
    empirical entropy of the codes) and the table's varints (:func:`table_bytes`). A
    constant feature costs its table only (no code is coded)."""
    return _payload_bits(counts) + 8 * table_bytes(symbols, counts)


def coded_bits(codes, n_levels, sample_weight=None):
    """Bits an entropy-coded skquant file spends on each column of ``codes``.

    The one size model of ``rate="entropy"`` (the rate-distortion scorer,
    :func:`skquant.allocate_bits`, :func:`skquant.metrics.storage_report`,
    ``skquant report`` and the Displays): per column, the bits of the model the file
    writer (:func:`skquant._coding.encode`, format version 7) chooses for it, the
    fewest of

    - the *table*: the payload ``n H`` (``n`` the rows, ``H`` the empirical entropy in
      bits of the column's codes) and the table of the codes it uses and their counts
      (varints, :func:`table_bytes`);
    - the *flat model*: ``log2 n_levels`` bits a value, no table (at most ``2**16``
      levels);
    - the *adaptive model* (files of one chunk of at most ``2**16`` rows, at most
      ``2**18 // n`` such columns, taken in column order as the writer takes them): its
      information content at its best parameter, run over the codes in row order, and
      a byte for its entry in the header; no table.

    This is :func:`skquant._coding.feature_bits` (which needs numba, imported here only
    when called; no constriction: nothing is encoded). On few rows the table costs more
    than it saves and one of the other two is chosen, so this is below ``n H`` plus the
    table; on more than ``2**16`` rows it is ``n H`` plus the table or the flat model.

    What the file adds beyond the sum over columns does not depend on the model: per
    chunk of rows, the termination of its coded streams (at most 64 bits a lane, 2 bytes
    for the adaptive stream) and its offset (64 bits), plus the header, the codebook
    and the container. The rANS coder's probabilities are the table's counts quantized
    to 24 bits, which costs far below 0.1 % of the payload on any column whose rarest
    code has probability above about ``2**-20``. ``tests/test_coding.py`` checks each
    column against the bits it really takes when written, and the sum against the code
    members of :func:`skquant.compress`'s file, on real data. (A compact file of one
    chunk is written three ways, the choice here, no adaptive column and every column
    that may be adaptive, and the smallest after DEFLATE is kept: its code members may
    then be a little larger than the choice here, by the few bytes DEFLATE saves on the
    rest of the file.)

    Parameters
    ----------
    codes : array-like of int of shape (n_samples, n_features) or (n_samples,)
        Ordinal codes, as ``transform`` of a scalar quantizer returns them.
    n_levels : int or array-like of int of shape (n_features,)
        The number of levels of each feature (``quantizer.n_levels_``); codes must be
        within ``0 .. n_levels - 1``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows. The file is that of the codes (a writer does not see
        weights), so each column's model is the one chosen above, unweighted; what the
        weights change is the payload, which becomes an expectation: ``n`` times the
        weighted mean over the rows of the bits each row's code takes under that model
        (the expected size of the payload of ``n`` rows drawn with these weights), plus
        the model's fixed cost (its table, or its header byte), unchanged. A flat
        column costs ``n log2 n_levels`` whatever the weights; a table column ``n``
        times the cross-entropy of the weighted codes under the table's (unweighted)
        probabilities; an adaptive column the weighted mean of its rows' information
        content. Equal weights give the unweighted bits; all-zero weights are refused.

    Returns
    -------
    bits : ndarray of float64, shape (n_features,)
        The bits of each column (a 1-D ``codes`` is one column), its payload and its
        table or header entry.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant._entropy import coded_bits
    >>> codes = np.array([[0, 1], [0, 1], [1, 1], [3, 1]])
    >>> coded_bits(codes, [4, 2])  # flat: 4 values of 2 bits; constant: 2 table bytes
    array([ 8., 16.])
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
        if n and (not np.all(np.isfinite(sample_weight)) or sample_weight.min() < 0
                  or sample_weight.sum() <= 0):
            raise ValueError("sample_weight must be finite and non-negative, with a "
                             "positive sum")
    for j in range(d):
        col = codes[:, j]
        if n and (col.min() < 0 or col.max() >= levels[j]):
            raise ValueError(f"codes of column {j} must be within 0 .. {levels[j] - 1}")
    from ._coding import feature_bits

    return feature_bits(codes, levels, sample_weight)
