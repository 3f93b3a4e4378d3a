"""``K.point_grid_encode`` (a grid with one threshold per cell at most, one table entry
per value) gives the codes of the NumPy twin ``naive.encode`` (searchsorted) exactly,
values at and next to the thresholds included, and ``transform`` routes codebooks of
more than 16 levels to it when such a grid exists."""

import naive
import numpy as np
import pytest
from scipy.special import ndtri
from test_base import every_scalar_quantizer_at

import skquant
import skquant._base as base
from skquant import _kernels as K
from skquant._base import _data_thresholds, point_grid_tables


def _values(rng, T, n_levels, n, dtype, scale=1.0):
    """Each feature's thresholds (as ``dtype``), their neighbours, values between and
    far outside them, 0 and +-max float, shuffled into ``n`` rows."""
    big = float(np.finfo(dtype).max)
    cols = []
    for j in range(T.shape[0]):
        t = T[j, : n_levels[j] - 1].astype(dtype)
        at = np.concatenate([t, np.nextafter(t, dtype(-np.inf)), np.nextafter(t, dtype(np.inf))])
        wide = (rng.standard_normal(400) * 2 * scale).astype(dtype)
        c = np.concatenate([at, wide, [0.0, -0.0, big, -big]]).astype(dtype)
        cols.append(np.resize(rng.permutation(c), n))
    return np.stack(cols, axis=1).astype(dtype)


def _twin(X, T, n_levels):
    return naive.encode(X, _data_thresholds(T, n_levels, X.dtype))


@pytest.fixture(params=[False, True], ids=["one-by-one", "lanes"])
def lanes(request, monkeypatch):
    """The point grid one value at a time, or eight at a time through explicit gathers
    (``_scalar._point8``; by default only on AVX2 hosts without AVX-512)."""
    from skquant._kernels import _scalar

    monkeypatch.setattr(_scalar, "explicit_gathers", lambda: request.param)
    return request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d, n", [(1, 5000), (3, 1), (8, K.CHUNK + 5), (33, 700), (300, 3)])
@pytest.mark.parametrize("kind", ["normal", "uniform", "far", "tiny"])
def test_point_grid_encode_equals_twin(dtype, d, n, kind, lanes):
    rng = np.random.default_rng(d * 7 + n)
    M = 256
    n_levels = rng.integers(1, M + 1, d)
    n_levels[0] = M
    scale = {"normal": 1.0, "uniform": 1.0, "far": 1.0, "tiny": 1e-30}[kind]
    T = np.full((d, M - 1), np.inf)
    for j in range(d):
        m = int(n_levels[j]) - 1
        if kind == "uniform":
            t = -1.0 + 2.0 * np.arange(m) / max(m, 1)
        else:  # normal quantiles, jittered: a Lloyd-Max codebook's spacing
            t = np.sort(ndtri((np.arange(m) + 0.5 + 0.2 * rng.random(m)) / (m + 0.5)))
        T[j, :m] = (t + (1e3 if kind == "far" else 0.0)) * scale
    X = _values(rng, T, n_levels, n, dtype, scale)
    if kind == "far":
        X[: n // 2] += dtype(1e3)
    tables = point_grid_tables(T, n_levels, dtype, dtype)
    assert tables is not None
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.point_grid_encode(X, *tables, codes).any()
    np.testing.assert_array_equal(codes, _twin(X, T, n_levels))
    assert (codes <= n_levels - 1).all()


def test_point_grid_encode_values_at_thresholds_take_the_exact_path(lanes):
    """Every threshold of a float32 grid in float32 arithmetic, with its neighbours:
    their positions fall next to the thresholds' (the kernel compares the values
    themselves there), and the codes are still searchsorted's."""
    rng = np.random.default_rng(5)
    T = np.sort(ndtri((np.arange(255) + 0.5 + 0.2 * rng.random((4, 255))) / 255.5), axis=1)
    n_levels = np.full(4, 256)
    T32 = _data_thresholds(T, n_levels, np.float32)
    X = np.concatenate([T32, np.nextafter(T32, np.float32(-np.inf)),
                        np.nextafter(T32, np.float32(np.inf))], axis=1).T
    X = np.ascontiguousarray(np.tile(X, (8, 1)), dtype=np.float32)
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.point_grid_encode(X, *point_grid_tables(T, n_levels, np.float32, np.float32),
                                   codes).any()
    ref = _twin(X, T, n_levels)
    np.testing.assert_array_equal(codes, ref)
    assert set(np.unique(ref)) == set(range(256))


def test_point_grid_tables_refuse_shared_cells():
    """Thresholds closer than any grid's cells (a tie, or a gap far below the span)
    give no point grid: such codebooks keep the window grid."""
    T = np.tile(np.linspace(-1, 1, 31), (2, 1))
    T[1, 10] = T[1, 11]  # a tie
    assert point_grid_tables(T, np.full(2, 32), np.float64) is None
    T = np.tile(np.linspace(-1, 1, 31), (1, 1))
    T[0, 15] = T[0, 14] + 1e-12
    assert point_grid_tables(T, np.full(1, 32), np.float64) is None
    assert point_grid_tables(T[:, :10], np.full(1, 11), np.float64) is not None
    # tables beyond _WINDOW_ENTRIES entries in all: none either
    wide = np.tile(np.linspace(-1, 1, 255), (base._WINDOW_ENTRIES // 256 + 1, 1))
    assert point_grid_tables(wide, np.full(wide.shape[0], 256), np.float64) is None


@pytest.mark.parametrize("d", [2, 300])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_point_grid_encode_flags_nonfinite_chunks(global_dtype, d, bad_value, lanes):
    rng = np.random.default_rng(4)
    T = np.tile(np.linspace(-2, 2, 63), (d, 1))
    X = rng.standard_normal((2 * K.CHUNK + 1, d)).astype(global_dtype)
    X[K.CHUNK + 2, d - 1] = bad_value
    codes = np.empty(X.shape, dtype=np.uint8)
    tables = point_grid_tables(T, np.full(d, 64), global_dtype, global_dtype)
    assert K.point_grid_encode(X, *tables, codes).tolist() == [False, True, False]


# every registered scalar quantizer (the registry), and Lloyd-Max at fewer levels
_CASES = [*every_scalar_quantizer_at(8),
          ("LloydMaxQuantizer-5", skquant.LloydMaxQuantizer(n_bits=5))]


@pytest.mark.parametrize("est", [e for _, e in _CASES], ids=[i for i, _ in _CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_of_more_levels_uses_the_point_grid(est, dtype, monkeypatch):
    """Beyond the twins' size, a codebook of more than 16 levels transforms through the
    point grid, with the codes of searchsorted on its (encoding) thresholds and of the
    window grid, and NaN still raises."""
    rng = np.random.default_rng(9)
    est.fit(rng.standard_normal((6000, 3)) * [1.0, 1e-3, 1e3])
    assert est.levels_.shape[1] > 16
    T = np.asarray(est._encoding_thresholds(dtype), dtype=np.float64)
    Y = _values(rng, T, est.n_levels_, 9000, dtype)
    calls = []
    real = base.point_grid_tables
    monkeypatch.setattr(base, "point_grid_tables",
                        lambda *a: calls.append(a[-1]) or real(*a))
    base._WINDOWS.pop(est, None)
    codes = est.transform(Y)
    assert calls == [dtype]
    assert est._point_grid(dtype) is not None
    np.testing.assert_array_equal(codes, _twin(Y, T, est.n_levels_))
    grid = np.empty(Y.shape, dtype=codes.dtype)  # the encoder used before the point grid
    assert not K.window_grid_encode(Y, *est._window_grid(dtype), grid).any()
    np.testing.assert_array_equal(codes, grid)
    Y[5000, 1] = np.nan
    with pytest.raises(ValueError, match="NaN|infinit|finite"):
        est.transform(Y)


_NO_AVX2 = """
import numpy as np
from scipy.special import ndtri
from skquant._base import _data_thresholds, point_grid_tables
from skquant._kernels import _scalar
rng = np.random.default_rng(3)
T = np.sort(ndtri((np.arange(255) + 0.5 + 0.2 * rng.random((8, 255))) / 255.5), axis=1)
X = np.concatenate([T, np.nextafter(T, np.inf), rng.standard_normal((8, 600))], 1).T
X = np.ascontiguousarray(X, dtype=np.float32)
X[7, 3] = np.nan
_scalar.explicit_gathers = lambda: True
codes = np.empty(X.shape, np.uint8)
bad = _scalar.point_grid_encode(X, *point_grid_tables(T, np.full(8, 256), np.float32,
                                                      np.float32), codes)
T32 = _data_thresholds(T, np.full(8, 256), np.float32)
ref = [np.searchsorted(T32[j], X[:, j], side="right") for j in range(8)]
ok = all((codes[:, j] == ref[j])[np.isfinite(X[:, j])].all() for j in range(8))
print(bool(bad.any()), ok)
"""


def test_point_grid_lanes_compile_without_avx2(tmp_path):
    """On a target without AVX2 (numba compiling for a generic x86-64 CPU) the
    eight-value path loads its entries one by one instead of ``vpgatherdd``: same
    codes, NaN flagged."""
    import os
    import platform
    import subprocess
    import sys

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the generic-CPU codegen is checked on x86-64")
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CPU_FEATURES="",
               NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _NO_AVX2], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"]
