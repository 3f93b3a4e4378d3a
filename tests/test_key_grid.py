"""``K.key_grid_encode`` (a grid over the bits of float32 values, one table entry per
value) gives the codes of the NumPy twin ``naive.encode`` (searchsorted) exactly, for
thresholds of any spacing and sign (0, subnormals, the float32 range's ends), and
``transform`` routes float32 data to it when its table is smaller than the point
grid's (companders)."""

import naive
import numpy as np
import pytest
from scipy.special import ndtri
from test_point_grid import _twin, _values, lanes  # noqa: F401 (a fixture)

import skquant
import skquant._base as base
from skquant import _kernels as K
from skquant._base import _data_thresholds, key_grid_tables

_BIG = float(np.finfo(np.float32).max)
_TINY = float(np.finfo(np.float32).smallest_subnormal)


def _thresholds(kind, m, rng):
    """``m`` increasing thresholds of a kind of spacing."""
    if kind == "normal":  # a Lloyd-Max codebook's spacing
        return np.sort(ndtri((np.arange(m) + 0.5 + 0.2 * rng.random(m)) / (m + 0.5)))
    if kind == "mu-law":  # evenly spaced through mu-law, 0 a threshold when m is odd
        y = np.linspace(-1, 1, m + 2)[1:-1]
        return np.sign(y) * np.expm1(np.abs(y) * np.log1p(255.0)) / 255.0
    if kind == "log":  # geometric on either side of 0
        half = np.geomspace(1e-6, 1e3, (m + 1) // 2)
        return np.concatenate([-half[::-1], half])[-m:]
    if kind == "positive":  # one-sided, far from 0
        return 1e6 + np.cumsum(rng.random(m) + 0.5)  # float32 steps 0.0625 here
    if kind == "subnormal":  # the smallest floats and 0
        return np.arange(m) * _TINY - (m // 3) * _TINY
    if kind == "extremes":  # the float32 range's ends, 0 and a few between
        inner = _thresholds("log", max(m - 4, 0), rng)
        ends = [-_BIG, -1e30, 1e30, _BIG][: min(m, 4)]
        return np.unique(np.concatenate([ends, inner]))[:m]
    raise ValueError(kind)


# the kernels' tests run one value at a time and eight at a time (``lanes``)
_lanes = pytest.mark.usefixtures("lanes")

_KINDS = ["normal", "mu-law", "log", "positive", "subnormal", "extremes"]


@_lanes
@pytest.mark.parametrize("d, n", [(1, 5000), (3, 1), (8, K.CHUNK + 5), (33, 700), (100, 3)])
@pytest.mark.parametrize("kind", _KINDS)
def test_key_grid_encode_equals_twin(d, n, kind):
    rng = np.random.default_rng(d * 7 + n)
    M = 256
    n_levels = rng.integers(1, M + 1, d)
    n_levels[0] = M
    T = np.full((d, M - 1), np.inf)
    for j in range(d):
        m = int(n_levels[j]) - 1
        t = _thresholds(kind, m, rng)
        T[j, : t.size] = t
        n_levels[j] = t.size + 1
    tables = key_grid_tables(T, n_levels, np.float32)
    assert tables is not None
    with np.errstate(over="ignore"):  # the float after the largest is inf
        X = _values(rng, T, n_levels, n, np.float32, scale=1.0)
    X = np.where(np.isfinite(X), X, np.copysign(np.float32(_BIG), X))
    X[: n // 3] = np.float32(_TINY) * rng.integers(-50, 50, X[: n // 3].shape)  # subnormals
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.key_grid_encode(X, *tables, codes).any()
    np.testing.assert_array_equal(codes, _twin(X, T, n_levels))


@_lanes
def test_key_grid_encode_codes_of_every_threshold_and_its_neighbours():
    """Each threshold (as float32), the float below and the float above it get the
    codes of searchsorted, and every code occurs; -0.0 codes as 0.0."""
    rng = np.random.default_rng(5)
    T = np.stack([_thresholds(kind, 255, rng) for kind in ("mu-law", "log", "normal")])
    n_levels = np.full(3, 256)
    T32 = _data_thresholds(T, n_levels, np.float32)
    X = np.concatenate([T32, np.nextafter(T32, np.float32(-np.inf)),
                        np.nextafter(T32, np.float32(np.inf)),
                        np.float32([[0.0, -0.0]] * 3)], axis=1).T
    X = np.ascontiguousarray(np.tile(X, (8, 1)), dtype=np.float32)
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.key_grid_encode(X, *key_grid_tables(T, n_levels, np.float32), codes).any()
    ref = _twin(X, T, n_levels)
    np.testing.assert_array_equal(codes, ref)
    assert set(np.unique(ref)) == set(range(256))
    zeros = X[:, 0] == 0
    assert len(set(codes[zeros, 0])) == 1  # 0.0 and -0.0 alike


def test_key_grid_tables_refuse():
    """No key grid for float64 data, thresholds tied or infinite as float32, or
    tables beyond the grids' limits."""
    T = np.tile(np.linspace(-1, 1, 31), (2, 1))
    assert key_grid_tables(T, np.full(2, 32), np.float64) is None
    assert key_grid_tables(T, np.full(2, 32), np.float32) is not None
    tied = T.copy()
    tied[1, 11] = tied[1, 10] + 1e-12  # distinct in float64, one float32
    assert key_grid_tables(tied, np.full(2, 32), np.float32) is None
    huge = T.copy()
    huge[0, -1] = 1e39  # rounds up to +inf in float32
    assert key_grid_tables(huge, np.full(2, 32), np.float32) is None
    # two floats one step apart, 60 binades above a third: 2**29 one-key cells
    apart = np.array([[1e-30, np.nextafter(np.float32(1e30), np.float32(0)), 1e30]])
    assert key_grid_tables(apart, np.full(1, 4), np.float32) is None
    assert key_grid_tables(apart[:, 1:], np.full(1, 3), np.float32) is not None
    wide = np.tile(np.geomspace(1.0, 2.0, 255), (base._WINDOW_ENTRIES // 256 + 1, 1))
    assert key_grid_tables(wide, np.full(wide.shape[0], 256), np.float32) is None


@_lanes
@pytest.mark.parametrize("d", [2, 300])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_key_grid_encode_flags_nonfinite_chunks(d, bad_value):
    rng = np.random.default_rng(4)
    T = np.tile(_thresholds("log", 63, rng), (d, 1))
    X = rng.standard_normal((2 * K.CHUNK + 1, d)).astype(np.float32)
    X[K.CHUNK + 2, d - 1] = bad_value
    codes = np.empty(X.shape, dtype=np.uint8)
    tables = key_grid_tables(T, np.full(d, 64), np.float32)
    assert K.key_grid_encode(X, *tables, codes).tolist() == [False, True, False]


def test_key_grid_encode_refuses_float64():
    T = np.tile(np.linspace(-1, 1, 31), (1, 1))
    tables = key_grid_tables(T, np.full(1, 32), np.float32)
    with pytest.raises(ValueError, match="float32"):
        K.key_grid_encode(np.zeros((4, 1)), *tables, np.empty((4, 1), np.uint8))


@pytest.mark.parametrize("compander", ["mu-law", "log", "a-law"])
def test_compander_float32_transform_uses_the_key_grid(compander, monkeypatch):
    """A float32 compander codebook of 256 levels transforms through the key grid (its
    table is smaller than the point grid's, or there is no point grid), with
    searchsorted's codes; float64 data keeps the other encoders; NaN still raises."""
    rng = np.random.default_rng(9)
    est = skquant.CompanderQuantizer(n_bits=8, compander=compander)
    est.fit(rng.standard_normal((6000, 3)) * [1.0, 1e-3, 1e3])
    calls = []
    real = K.key_grid_encode
    monkeypatch.setattr(K, "key_grid_encode", lambda *a: calls.append(1) or real(*a))
    for dtype in (np.float64, np.float32):
        T = np.asarray(est._encoding_thresholds(dtype), dtype=np.float64)
        Y = _values(rng, T, est.n_levels_, 9000, dtype)
        np.testing.assert_array_equal(est.transform(Y), naive.encode(
            Y, _data_thresholds(T, est.n_levels_, dtype)))
        assert len(calls) == (dtype == np.float32)
    keys, point = est._key_grid(np.float32), est._point_grid(np.float32)
    assert point is None or keys[4].shape[1] < point[2].shape[1]
    Y[5000, 1] = np.nan  # float32
    with pytest.raises(ValueError, match="NaN|infinit|finite"):
        est.transform(Y)
