"""Hamming distances and exact k-nearest-neighbour search over packed binary codes."""

from numbers import Integral

import numpy as np

from . import _kernels as K
from ._compat import IntervalNotBool, validate_params


def _as_words(codes, name, n_bytes=None):
    """Validate packed uint8 codes and view them as uint64 words (zero-padded rows)."""
    if hasattr(codes, "toarray") or hasattr(codes, "tocsr"):
        raise TypeError(f"{name} must be a dense array of packed codes, got a sparse matrix.")
    codes = np.asarray(codes)
    if codes.dtype != np.uint8:
        raise TypeError(
            f"{name} must hold packed codes of dtype uint8 (as returned by "
            f"np.packbits or BinarySphericalEncoder(encode='packed')), got dtype "
            f"{codes.dtype}."
        )
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_codes, n_bytes), got an array of shape {codes.shape}."
        )
    if codes.shape[1] == 0:
        raise ValueError(f"{name} has 0 bytes per code; at least 1 is required.")
    if n_bytes is not None and codes.shape[1] != n_bytes:
        raise ValueError(
            f"{name} has {codes.shape[1]} bytes per code but the other operand has "
            f"{n_bytes}; both must come from codes of the same length."
        )
    n, nb = codes.shape
    n_words = (nb + 7) // 8
    if nb == 8 * n_words and codes.flags.c_contiguous and codes.flags.aligned:
        padded = codes
    else:
        padded = np.zeros((n, 8 * n_words), dtype=np.uint8)
        padded[:, :nb] = codes
    words = padded.view(np.uint64)
    if not words.flags.aligned:  # a view of an offset buffer; numba wants aligned data
        words = words.copy()
    return words


@validate_params(
    {"A": ["array-like"], "B": ["array-like"]}, prefer_skip_nested_validation=True
)
def hamming_distances(A, B):
    """Hamming distances between every pair of packed binary codes.

    Parameters
    ----------
    A : array-like of shape (n_a, n_bytes), dtype uint8
        Packed codes, e.g. from ``np.packbits`` or
        ``BinarySphericalEncoder(encode="packed")``.
    B : array-like of shape (n_b, n_bytes), dtype uint8
        Packed codes of the same length.

    Returns
    -------
    distances : ndarray of shape (n_a, n_b), dtype int32
        ``distances[i, j]`` is the number of bits in which ``A[i]`` and ``B[j]`` differ.

    See Also
    --------
    hamming_knn : The k nearest codes without the full distance matrix.

    Notes
    -----
    Rows are read as uint64 words (zero-padded to a multiple of 8 bytes) and compared
    with a hardware popcount, in parallel over the rows of ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import hamming_distances
    >>> A = np.packbits([[1, 0, 1, 1], [0, 0, 0, 0]], axis=1)
    >>> B = np.packbits([[1, 1, 1, 1]], axis=1)
    >>> hamming_distances(A, B)
    array([[1],
           [4]], dtype=int32)
    """
    A_words = _as_words(A, "A")
    B_words = _as_words(B, "B", n_bytes=np.asarray(A).shape[1])
    out = np.empty((A_words.shape[0], B_words.shape[0]), dtype=np.int32)
    if out.size:
        K.hamming_matrix(A_words, B_words, out)
    return out


@validate_params(
    {
        "query": ["array-like"],
        "base": ["array-like"],
        "k": [IntervalNotBool(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def hamming_knn(query, base, k):
    """Exact k nearest neighbours in Hamming distance over packed binary codes.

    Parameters
    ----------
    query : array-like of shape (n_queries, n_bytes), dtype uint8
        Packed query codes.
    base : array-like of shape (n_base, n_bytes), dtype uint8
        Packed codes to search, ``n_base >= k``.
    k : int
        Number of neighbours per query.

    Returns
    -------
    distances : ndarray of shape (n_queries, k), dtype int32
        Hamming distances of the neighbours, non-decreasing along each row.
    indices : ndarray of shape (n_queries, k), dtype int64
        Row indices into ``base``. Ties are broken by the smaller index, so the result
        is the first ``k`` entries of a stable sort of each row of
        ``hamming_distances(query, base)`` and does not depend on the thread count.

    See Also
    --------
    hamming_distances : The full distance matrix.

    Notes
    -----
    Distances are integers in ``[0, 8 * n_bytes]``, so the selection is a counting sort
    in O(n_base) per query (no heap, no full sort); queries run in parallel.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import hamming_knn
    >>> base = np.packbits([[0, 0, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 1]],
    ...                    axis=1)
    >>> query = np.packbits([[1, 0, 0, 1]], axis=1)
    >>> distances, indices = hamming_knn(query, base, k=3)
    >>> distances
    array([[1, 1, 2]], dtype=int32)
    >>> indices
    array([[2, 3, 0]])
    """
    q_words = _as_words(query, "query")
    b_words = _as_words(base, "base", n_bytes=np.asarray(query).shape[1])
    if k > b_words.shape[0]:
        raise ValueError(
            f"k={k} neighbours requested but base holds only {b_words.shape[0]} codes; "
            f"expected k <= n_base."
        )
    n = q_words.shape[0]
    distances = np.empty((n, k), dtype=np.int32)
    indices = np.empty((n, k), dtype=np.int64)
    if n:
        K.hamming_knn(q_words, b_words, k, distances, indices)
    return distances, indices
