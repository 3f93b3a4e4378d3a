"""Tests of skquant._hamming: packed-code Hamming distances and exact k-NN."""

import naive
import numba
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skquant import _kernels as K
from skquant import hamming_distances, hamming_knn


# ------------------------------------------------------------------- helpers
def random_codes(rng, n, n_bytes, n_bits=None):
    codes = rng.integers(0, 256, size=(n, n_bytes), dtype=np.uint8)
    if n_bits is not None and n_bits % 8:  # zero padding bits, as packbits writes
        codes[:, -1] &= np.uint8((0xFF << (8 - n_bits % 8)) & 0xFF)
    return codes


@pytest.fixture
def restore_threads():
    n = numba.get_num_threads()
    yield
    numba.set_num_threads(n)


# ------------------------------------------------------------------- distances
@pytest.mark.parametrize("n_bytes", [1, 3, 8, 9, 16, 17])
def test_distances_match_naive(n_bytes):
    rng = np.random.default_rng(n_bytes)
    A = random_codes(rng, 23, n_bytes)
    B = random_codes(rng, 31, n_bytes)
    D = hamming_distances(A, B)
    assert D.dtype == np.int32 and D.shape == (23, 31)
    np.testing.assert_array_equal(D, naive.hamming_distances(A, B))
    np.testing.assert_array_equal(hamming_distances(A, A).diagonal(), 0)


def test_distances_known_values():
    A = np.packbits([[1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [0] * 10], axis=1)
    np.testing.assert_array_equal(hamming_distances(A, A), [[0, 10], [10, 0]])


def test_non_contiguous_and_unaligned_inputs():
    rng = np.random.default_rng(0)
    big = random_codes(rng, 40, 17)
    A = big[::2, 1:]  # strided rows, 16 bytes starting at an odd address
    B = big[1::3, 1:]
    np.testing.assert_array_equal(hamming_distances(A, B), naive.hamming_distances(A, B))
    d, i = hamming_knn(A, B, 4)
    dn, in_ = naive.hamming_knn(np.ascontiguousarray(A), np.ascontiguousarray(B), 4)
    np.testing.assert_array_equal(d, dn)
    np.testing.assert_array_equal(i, in_)


def test_empty_inputs():
    A = np.zeros((0, 4), dtype=np.uint8)
    B = np.zeros((5, 4), dtype=np.uint8)
    assert hamming_distances(A, B).shape == (0, 5)
    assert hamming_distances(B, A).shape == (5, 0)
    d, i = hamming_knn(A, B, 2)
    assert d.shape == (0, 2) and i.shape == (0, 2)


# ------------------------------------------------------------------------ k-NN
@pytest.mark.parametrize("n_bytes, k", [(1, 1), (2, 5), (8, 10), (9, 7), (32, 3)])
def test_knn_matches_stable_sort(n_bytes, k):
    rng = np.random.default_rng(100 + n_bytes)
    Q = random_codes(rng, 70, n_bytes)  # > 64 queries: more than one block
    B = random_codes(rng, 90, n_bytes)
    d, i = hamming_knn(Q, B, k)
    dn, in_ = naive.hamming_knn(Q, B, k)
    assert d.dtype == np.int32 and i.dtype == np.int64
    np.testing.assert_array_equal(d, dn)
    np.testing.assert_array_equal(i, in_)


def test_knn_ties_go_to_smaller_index():
    # 1 byte codes with many exact ties: only the index decides the order.
    base = np.packbits([[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0],
                        [0, 0, 0, 0], [0, 0, 1, 0]], axis=1)
    query = np.packbits([[0, 0, 0, 0]], axis=1)
    d, i = hamming_knn(query, base, 6)
    np.testing.assert_array_equal(d, [[0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(i, [[2, 4, 0, 1, 3, 5]])
    d, i = hamming_knn(query, base, 3)
    np.testing.assert_array_equal(i, [[2, 4, 0]])


def test_knn_k_equals_n_base_is_full_sort():
    rng = np.random.default_rng(5)
    Q, B = random_codes(rng, 4, 2), random_codes(rng, 12, 2)
    d, i = hamming_knn(Q, B, 12)
    np.testing.assert_array_equal(np.sort(i, axis=1), np.tile(np.arange(12), (4, 1)))
    assert np.all(np.diff(d, axis=1) >= 0)


def test_results_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(7)
    Q = random_codes(rng, 200, 9)
    B = random_codes(rng, 300, 9)
    results = []
    for n_threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(n_threads)
        results.append((hamming_distances(Q, B), *hamming_knn(Q, B, 15)))
    for got in results[1:]:
        for a, b in zip(results[0], got):
            np.testing.assert_array_equal(a, b)


def test_kernel_entry_points_on_words():
    rng = np.random.default_rng(3)
    A = random_codes(rng, 5, 16)
    B = random_codes(rng, 6, 16)
    out = np.empty((5, 6), dtype=np.int32)
    K.hamming_matrix(A.view(np.uint64), B.view(np.uint64), out)
    np.testing.assert_array_equal(out, naive.hamming_distances(A, B))


# ---------------------------------------------------------------------- errors
def test_wrong_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="dtype uint8.*got dtype int64"):
        hamming_distances(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2), np.uint8))
    with pytest.raises(TypeError, match="base must hold packed codes"):
        hamming_knn(np.zeros((2, 2), np.uint8), np.zeros((2, 2), bool), 1)


def test_wrong_shapes_are_value_errors():
    with pytest.raises(ValueError, match=r"A must be 2-D.*shape \(4,\)"):
        hamming_distances(np.zeros(4, np.uint8), np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError, match="B has 3 bytes per code but the other operand has 4"):
        hamming_distances(np.zeros((2, 4), np.uint8), np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError, match="0 bytes per code"):
        hamming_distances(np.zeros((2, 0), np.uint8), np.zeros((2, 0), np.uint8))


def test_k_validation():
    Q = np.zeros((2, 1), np.uint8)
    B = np.zeros((3, 1), np.uint8)
    with pytest.raises(ValueError, match="k=4 neighbours requested but base holds only 3"):
        hamming_knn(Q, B, 4)
    with pytest.raises(ValueError, match="'k' parameter"):
        hamming_knn(Q, B, 0)
    # like validate_params, and a bool is not a neighbour count (it was an internal
    # TypeError of the kernel, issue 14)
    for bad in (True, False, np.True_, 1.5, "3", None, -1):
        with pytest.raises(InvalidParameterError, match="The 'k' parameter of hamming_knn"):
            hamming_knn(Q, B, bad)
    assert hamming_knn(Q, B, np.int32(2))[1].shape == (2, 2)
    # a huge k is refused before anything of its size is allocated
    with pytest.raises(ValueError, match=r"k=1000000000000 neighbours requested but base"):
        hamming_knn(Q, B, 10**12)
    with pytest.raises(ValueError, match="k=1 neighbours requested but base holds only 0"):
        hamming_knn(Q, B[:0], 1)


def test_sparse_input_is_rejected():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse"):
        codes = np.ones((2, 2), np.uint8)
        hamming_distances(sparse.csr_matrix(codes), codes)
