"""Every scalar kernel against its NumPy twin in tests/naive.py, both float dtypes."""

import naive
import naive_optimal
import numba
import numpy as np
import pytest

from skquant import _kernels as K
from skquant._base import summarize_column, window_grid_tables


def _codebook(rng, d, n_bits, dtype, n_real=None):
    M = 2**n_bits
    T = np.full((d, M - 1), np.inf)
    L = np.empty((d, M))
    n_levels = np.empty(d, dtype=np.int64)
    for j in range(d):
        m = M if n_real is None else n_real[j]
        levels = np.sort(rng.standard_normal(m))
        n_levels[j] = m
        T[j, : m - 1] = 0.5 * (levels[1:] + levels[:-1])
        L[j, :m] = levels
        L[j, m:] = levels[-1]
    return T.astype(dtype), L.astype(dtype), n_levels


@pytest.mark.parametrize("n_bits", [1, 2, 4, 7, 9])
def test_encode_matches_searchsorted(global_dtype, rng, n_bits):
    X = rng.standard_normal((5000, 3)).astype(global_dtype)
    T, _, _ = _codebook(rng, 3, n_bits, global_dtype, n_real=[2**n_bits, 2, 1])
    on = T[0, : min(50, T.shape[1])]
    X[: on.size, 0] = on  # values exactly on thresholds go to the upper cell
    codes = np.empty(X.shape, dtype=np.uint8 if n_bits <= 8 else np.uint16)
    bad = K.encode(X, T, codes)
    assert not bad.any()
    np.testing.assert_array_equal(codes, naive.encode(X, T))


def test_encode_flags_nonfinite_chunks(rng):
    X = rng.standard_normal((3 * K.CHUNK, 2))
    X[K.CHUNK + 5, 1] = np.nan
    X[2 * K.CHUNK + 1, 0] = -np.inf
    T, _, _ = _codebook(rng, 2, 3, np.float64)
    bad = K.encode(X, T, np.empty(X.shape, dtype=np.uint8))
    np.testing.assert_array_equal(bad, [False, True, True])


@pytest.mark.parametrize("n_bits", [1, 2, 4, 7, 9])
def test_window_grid_encode_matches_searchsorted(global_dtype, rng, n_bits):
    X = rng.standard_normal((5000, 3)).astype(global_dtype)
    T, _, n_levels = _codebook(rng, 3, n_bits, np.float64, n_real=[2**n_bits, 2, 1])
    on = T[0, : min(50, T.shape[1])]
    X[: on.size, 0] = on  # values on (rounded) thresholds go to the upper cell
    X[on.size : 2 * on.size, 0] = np.nextafter(on.astype(global_dtype), -np.inf)
    X[-3:] = [[1e30, -1e30, 0.0], [-1e30, 1e30, -0.0], [50.0, -50.0, 1e-40]]
    codes = np.empty(X.shape, dtype=np.uint8 if n_bits <= 8 else np.uint16)
    bad = K.window_grid_encode(X, *window_grid_tables(T, n_levels, X.dtype), codes)
    assert not bad.any()
    np.testing.assert_array_equal(codes, naive.encode(X, T))


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_window_grid_encode_flags_nonfinite_chunks(global_dtype, rng, bad_value):
    X = rng.standard_normal((3 * K.CHUNK, 2)).astype(global_dtype)
    X[K.CHUNK + 5, 1] = bad_value
    T, _, n_levels = _codebook(rng, 2, 4, np.float64)
    codes = np.empty(X.shape, dtype=np.uint8)
    bad = K.window_grid_encode(X, *window_grid_tables(T, n_levels, X.dtype), codes)
    np.testing.assert_array_equal(bad, [False, True, False])


@pytest.mark.parametrize("codes_dtype", [np.uint8, np.uint16, np.int64])
def test_decode_matches_gather(global_dtype, rng, codes_dtype):
    _, L, n_levels = _codebook(rng, 4, 4, global_dtype, n_real=[16, 3, 1, 16])
    codes = np.stack([rng.integers(0, n, 7000) for n in n_levels], axis=1).astype(codes_dtype)
    out = np.empty(codes.shape, dtype=global_dtype)
    bad = K.decode(codes, L, n_levels, out)
    assert not bad.any()
    np.testing.assert_array_equal(out, naive.decode(codes, L))
    codes[K.CHUNK + 1, 1] = 3  # feature 1 has 3 levels: code 3 is out of range
    assert K.decode(codes, L, n_levels, out).tolist() == [False, True]


def test_decode_flags_negative_codes(rng):
    _, L, n_levels = _codebook(rng, 1, 2, np.float64)
    codes = np.array([[0], [-1]], dtype=np.int64)
    assert K.decode(codes, L, n_levels, np.empty((2, 1))).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_summary_matches_unique(rng, weighted):
    x = rng.integers(-5, 6, 2000).astype(float) * 0.5 + 1e6
    w = rng.exponential(size=x.size) if weighted else None
    if weighted:
        w[x == x[0]] = 0.0  # a value whose total weight is zero is dropped
    s = summarize_column(x, w)
    u, tot = naive.summary(x, w)
    np.testing.assert_array_equal(s.u, u)
    np.testing.assert_allclose(np.diff(s.W), tot)
    np.testing.assert_allclose(np.diff(s.S1), tot * (u - s.shift), atol=1e-9)
    np.testing.assert_allclose(np.diff(s.S2), tot * (u - s.shift) ** 2, atol=1e-9)


def test_lloyd_step_matches_naive(rng):
    x = rng.standard_normal(3000)
    w = rng.exponential(size=x.size)
    s = summarize_column(x, w)
    u, tot = naive.summary(x, w)
    levels = np.sort(rng.standard_normal(8)) * 2
    levels[3] = levels[2] + 1e-12  # a near-empty cell
    expected_t, expected_y = naive.lloyd_step(u, tot, levels)
    y = levels.copy()
    t = np.empty(7)
    pos = np.empty(9, dtype=np.int64)
    cost = K.lloyd_step(s.u, s.W, s.S1, s.S2, s.shift, y, t, pos)
    np.testing.assert_allclose(t, expected_t)
    np.testing.assert_allclose(y, expected_y, rtol=1e-12, atol=1e-12)
    assert cost == pytest.approx(naive.sse(u, tot, t, y), rel=1e-10)
    assert K.sse_exact(s.u, s.W, pos, y) == pytest.approx(cost, rel=1e-10)


@pytest.mark.parametrize("n_cells", [1, 2, 3, 5])
def test_optimal_partition_matches_reference_dp(rng, n_cells):
    x = np.round(rng.standard_normal(60), 1)  # ties, collapsed with weights
    w = rng.uniform(0.1, 2.0, x.size)
    s = summarize_column(x, w)
    u, tot = naive.summary(x, w)
    pos = np.empty(n_cells + 1, dtype=np.int64)
    cost = K.optimal_partition(s.W, s.S1, s.S2, n_cells, pos)
    expected, expected_pos = naive_optimal.reference_dp(u, tot, n_cells)
    assert cost == pytest.approx(expected, rel=1e-9)
    cells = zip(pos[:-1], pos[1:])
    assert sum(naive.cell_cost(u[a:b], tot[a:b]) for a, b in cells) == pytest.approx(
        expected, rel=1e-9
    )


def test_results_do_not_depend_on_thread_count(rng):
    X = rng.standard_normal((20 * K.CHUNK + 7, 3))
    T, L, n_levels = _codebook(rng, 3, 4, np.float64)
    before = numba.get_num_threads()
    outs = []
    try:
        for n in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(n)
            codes = np.empty(X.shape, dtype=np.uint8)
            K.encode(X, T, codes)
            rec = np.empty(X.shape)
            K.decode(codes, L, n_levels, rec)
            outs.append((codes, rec))
    finally:
        numba.set_num_threads(before)
    for codes, rec in outs[1:]:
        np.testing.assert_array_equal(codes, outs[0][0])
        np.testing.assert_array_equal(rec, outs[0][1])


def test_import_compiles_nothing():
    import subprocess
    import sys

    code = (
        "import skquant, numba\n"
        "from skquant import _kernels as K\n"
        "names = [getattr(K, n) for n in K.__all__]  # loads every kernel module\n"
        "jitted = [getattr(v, 'kernel', v) for v in names]\n"
        "jitted = [v for v in jitted if isinstance(v, numba.core.registry.CPUDispatcher)]\n"
        "assert jitted, 'no kernels found'\n"
        "print(sum(len(f.signatures) for f in jitted))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_split_merge_makes_the_best_move(rng):
    # two clusters; a Lloyd fixed point that wastes levels on the small one
    x = np.concatenate([rng.standard_normal(300), 20 + 0.01 * rng.standard_normal(40)])
    s = summarize_column(x)
    u, w = naive.summary(x)
    levels = np.array([-0.5, 0.5, 19.99, 20.01])
    before = naive.sse(u, w, 0.5 * (levels[1:] + levels[:-1]), levels)
    gain = naive.best_split_merge_gain(u, w, levels)
    assert gain > 0
    moved = levels.copy()
    assert K.split_merge(s.u, s.W, s.S1, s.S2, s.shift, moved)
    pos = np.concatenate([[0], np.searchsorted(u, 0.5 * (moved[1:] + moved[:-1])), [len(u)]])
    after = sum(naive.cell_cost(u[a:b], w[a:b]) for a, b in zip(pos[:-1], pos[1:]))
    # the move's cells are at least as good as the best move's (midpoints re-partition)
    assert after <= before - gain + 1e-9 * before
    # at the global optimum no move helps
    opt = np.empty(5, dtype=np.int64)
    K.optimal_partition(s.W, s.S1, s.S2, 4, opt)
    best = np.zeros(4)
    K.centroids(s.W, s.S1, s.shift, opt, best)
    assert not K.split_merge(s.u, s.W, s.S1, s.S2, s.shift, best.copy())
