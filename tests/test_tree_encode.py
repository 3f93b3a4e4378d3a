"""``K.tree_encode`` (codebooks of at most 16 levels) gives the codes of the NumPy twin
``naive.encode`` (searchsorted) exactly, and ``transform`` routes such codebooks to it."""

import naive
import numpy as np
import pytest
from test_base import every_scalar_quantizer_at

import skquant
import skquant._base as base
from skquant import _kernels as K
from skquant._base import _TREE_LEVELS, tree_thresholds


def _case(rng, d, n, dtype, n_levels):
    """Thresholds of ``n_levels[j]`` levels per feature (ties, huge and subnormal ones
    among them) and values at, next to and between them, at +-max float and 0."""
    T = np.full((d, _TREE_LEVELS - 1), np.inf)
    for j in range(d):
        kind = j % 4
        m = int(n_levels[j]) - 1
        if kind == 0:
            t = np.sort(rng.standard_normal(m))
        elif kind == 1:
            t = np.sort(np.repeat(rng.standard_normal((m + 2) // 3), 3)[:m])
        elif kind == 2:
            t = np.sort(rng.choice([-1e308, -1.0, 0.0, 1e-310, 1.0, 1e38, 1e308], m))
        else:
            t = np.sort(rng.integers(-50, 50, m)) * 5e-324
        T[j, :m] = t
    big = float(np.finfo(dtype).max)
    cols = []
    for j in range(d):
        with np.errstate(over="ignore"):
            t = T[j, : n_levels[j] - 1].astype(dtype)
        t = t[np.isfinite(t)]
        at = np.concatenate([t, np.nextafter(t, dtype(-np.inf)), np.nextafter(t, dtype(np.inf))])
        wide = rng.standard_normal(64).astype(dtype)
        c = np.concatenate([at, wide, [0.0, -0.0, big, -big]]).astype(dtype)
        cols.append(np.resize(rng.permutation(c), n))
    return np.stack(cols, axis=1).astype(dtype), T


def _twin(X, T, n_levels):
    """naive.encode on the thresholds as X's dtype compares them (rounded up)."""
    return naive.encode(X, tree_thresholds(T, n_levels, X.dtype))


def test_tree_levels_agree():
    assert K.TREE_LEVELS == _TREE_LEVELS


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d, n", [(1, 1), (1, 5000), (3, 1), (7, K.CHUNK + 3), (8, 3000),
                                  (33, 700), (1100, 3)])
def test_tree_encode_equals_twin(dtype, d, n):
    rng = np.random.default_rng(d * 11 + n)
    n_levels = rng.integers(1, _TREE_LEVELS + 1, d)
    n_levels[0] = _TREE_LEVELS
    X, T = _case(rng, d, n, dtype, n_levels)
    codes = np.empty(X.shape, dtype=np.uint8)
    with np.errstate(over="ignore"):
        assert not K.tree_encode(X, tree_thresholds(T, n_levels, dtype), codes).any()
        ref = _twin(X, T, n_levels)
    np.testing.assert_array_equal(codes, ref)
    assert (codes <= n_levels - 1).all()


@pytest.mark.parametrize("n_bits", [1, 2, 3, 4])
def test_tree_encode_every_width_matches_searchsorted(global_dtype, rng, n_bits):
    M = 2**n_bits
    levels = np.sort(rng.standard_normal((5, M)), axis=1)
    T = 0.5 * (levels[:, 1:] + levels[:, :-1])
    X = rng.standard_normal((9000, 5)).astype(global_dtype)
    X[: M - 1, 0] = T[0].astype(global_dtype)  # on (rounded) thresholds: the upper cell
    n_levels = np.full(5, M)
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.tree_encode(X, tree_thresholds(T, n_levels, X.dtype), codes).any()
    np.testing.assert_array_equal(codes, _twin(X, T, n_levels))
    assert codes.max() == M - 1


@pytest.mark.parametrize("layout", ["fortran", "strided", "strided-out"])
def test_tree_encode_non_contiguous(layout):
    rng = np.random.default_rng(3)
    n_levels = np.full(6, 16)
    X, T = _case(rng, 6, 3000, np.float32, n_levels)
    T32 = tree_thresholds(T, n_levels, np.float32)
    ref = _twin(X, T, n_levels)
    codes = np.zeros(X.shape, dtype=np.uint8)
    if layout == "fortran":
        assert not K.tree_encode(np.asfortranarray(X), T32, codes).any()
    elif layout == "strided":
        assert not K.tree_encode(np.repeat(X, 2, axis=1)[:, ::2], T32, codes).any()
    else:
        wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=np.uint8)
        assert not K.tree_encode(X, T32, wide[:, ::2]).any()
        codes = wide[:, ::2]
        assert not wide[:, 1::2].any()  # the gaps are left alone
    np.testing.assert_array_equal(codes, ref)


@pytest.mark.parametrize("d", [2, 1100])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_tree_encode_flags_nonfinite_chunks(global_dtype, d, bad_value):
    rng = np.random.default_rng(4)
    T = np.sort(rng.standard_normal((d, 15)), axis=1)
    X = rng.standard_normal((2 * K.CHUNK + 1, d)).astype(global_dtype)
    X[K.CHUNK + 2, d - 1] = bad_value
    codes = np.empty(X.shape, dtype=np.uint8)
    T = tree_thresholds(T, np.full(d, 16), global_dtype)
    assert K.tree_encode(X, T, codes).tolist() == [False, True, False]


def test_tree_encode_refuses_other_tables():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="thresholds"):
        K.tree_encode(X, np.zeros((2, 7)), np.empty((3, 2), np.uint8))
    with pytest.raises(ValueError, match="thresholds"):
        K.tree_encode(X, np.zeros((2, 15), np.float32), np.empty((3, 2), np.uint8))


# every registered scalar quantizer (the registry), and Lloyd-Max at fewer levels
_CASES = [*every_scalar_quantizer_at(4),
          ("LloydMaxQuantizer-2", skquant.LloydMaxQuantizer(n_bits=2))]


@pytest.mark.parametrize("est", [e for _, e in _CASES], ids=[i for i, _ in _CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_of_16_levels_uses_the_tree(est, dtype, monkeypatch):
    """Beyond the twins' size, a codebook of at most 16 levels transforms through the
    tree, with the codes of searchsorted on its thresholds (ties and neighbours of
    every threshold included), and NaN still raises."""
    from skquant._kernels import _auto

    rng = np.random.default_rng(8)
    est.fit(rng.standard_normal((4000, 3)) * [1.0, 1e-3, 1e3])
    assert est.levels_.shape[1] <= _TREE_LEVELS
    T = np.asarray(est._encoding_thresholds(dtype), dtype=np.float64)
    cols = []
    for j in range(3):
        t = T[j, : est.n_levels_[j] - 1].astype(dtype)
        c = np.concatenate([t, np.nextafter(t, dtype(-np.inf)), np.nextafter(t, dtype(np.inf)),
                            rng.standard_normal(500).astype(dtype) * [1.0, 1e-3, 1e3][j]])
        cols.append(np.resize(rng.permutation(c), 9000))
    Y = np.stack(cols, axis=1).astype(dtype)
    assert Y.size > _auto.SMALL
    calls = []
    real = base.tree_thresholds
    monkeypatch.setattr(base, "tree_thresholds", lambda *a: calls.append(a[-1]) or real(*a))
    base._WINDOWS.pop(est, None)
    codes = est.transform(Y)
    assert calls == [dtype]
    np.testing.assert_array_equal(codes, naive.encode(Y, real(T, est.n_levels_, dtype)))
    grid = np.empty(Y.shape, dtype=codes.dtype)  # the encoder used before the tree
    assert not K.window_grid_encode(Y, *est._window_grid(dtype), grid).any()
    np.testing.assert_array_equal(codes, grid)
    Y[5000, 1] = np.nan
    with pytest.raises(ValueError, match="NaN|infinit|finite"):
        est.transform(Y)
