"""The grids (``K.scan_grid_encode``, ``K.window_grid_encode``) give the bisection's codes
exactly."""

import numpy as np
import pytest

import skquant
import skquant._base as base
from skquant import _kernels as K
from skquant._base import _ceil_to_dtype, scan_grid_tables, window_grid_tables


def _bisection(X, T, n_levels):
    """Codes of ``K.encode`` (the reference semantics) for thresholds ``T``."""
    T = np.where(np.arange(T.shape[1]) < (n_levels - 1)[:, None], T, np.inf)
    if X.dtype != np.float64:
        T = _ceil_to_dtype(T, X.dtype)
    top = 1 << int(T.shape[1]).bit_length()
    T = np.concatenate([T, np.full((T.shape[0], top - 1 - T.shape[1]), np.inf, T.dtype)], 1)
    codes = np.empty(X.shape, dtype=np.uint16)
    bad = K.encode(X, np.ascontiguousarray(T), codes)
    return codes, bad


def _scan(X, T, n_levels):
    codes = np.empty(X.shape, dtype=np.uint16)
    bad = K.scan_grid_encode(X, *scan_grid_tables(T, n_levels), codes)
    return codes, bad


def _window(X, T, n_levels):
    codes = np.empty(X.shape, dtype=np.uint16)
    bad = K.window_grid_encode(X, *window_grid_tables(T, n_levels, X.dtype), codes)
    return codes, bad


def _hostile_values(T, rng, dtype):
    """Values at, just below and just above every threshold, plus wide random ones."""
    with np.errstate(over="ignore"):  # 1e308 is inf in float32 (dropped at the end)
        t = T[np.isfinite(T)].astype(dtype)
    at = np.concatenate([t, np.nextafter(t, dtype(-np.inf)), np.nextafter(t, dtype(np.inf))])
    spread = min(np.abs(t[np.isfinite(t)]).max(), np.finfo(dtype).max / 4) if t.size else 1.0
    wide = rng.uniform(-2, 2, 4000) * spread
    out = np.concatenate([at, wide.astype(dtype), [0, -0.0, 1e-300, -1e-300]]).astype(dtype)
    return out[np.isfinite(out)]


THRESHOLD_SETS = {
    "mu-law-like": lambda rng: np.sign(v := np.linspace(-1, 1, 257)[1:-1])
    * np.expm1(np.abs(v) * np.log1p(255)) / 255,
    "random-sorted": lambda rng: np.sort(rng.standard_normal(255)),
    "ties": lambda rng: np.sort(np.repeat(rng.standard_normal(20), 3)),
    "huge": lambda rng: np.array([-1e308, -1.0, 0.0, 1e-310, 1.0, 1e308, 1.7e308]),
    "subnormal": lambda rng: np.sort(rng.integers(-50, 50, 15)) * 5e-324,
    "one": lambda rng: np.array([0.25]),
}


@pytest.mark.parametrize("encoder", [_scan, _window], ids=["scan", "window"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(THRESHOLD_SETS))
def test_grids_equal_bisection(name, dtype, encoder):
    rng = np.random.default_rng(len(name))
    t = np.asarray(THRESHOLD_SETS[name](rng), dtype=np.float64)
    # three features: the set, the set scaled and shifted, and a shorter prefix of it
    rows = [t, t * 1e-3 + 5.0, t[: max(1, t.size // 3)]]
    width = t.size
    T = np.full((3, width), np.inf)
    for j, r in enumerate(rows):
        T[j, : r.size] = r
    n_levels = np.array([r.size + 1 for r in rows], dtype=np.int64)
    cols = [_hostile_values(np.asarray(r), rng, dtype) for r in rows]
    n = max(c.size for c in cols)
    X = np.stack([np.resize(rng.permutation(c), n) for c in cols], axis=1).astype(dtype)
    with np.errstate(over="ignore"):
        codes, bad = encoder(X, T, n_levels)
        ref, ref_bad = _bisection(X, T, n_levels)
    assert not bad.any() and not ref_bad.any()
    np.testing.assert_array_equal(codes, ref)
    assert codes.max() == n_levels.max() - 1 or name == "huge"


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_scan_grid_flags_nonfinite_chunks(bad_value):
    T = np.sort(np.random.default_rng(0).standard_normal((2, 63)), axis=1)
    X = np.random.default_rng(1).standard_normal((3 * K.CHUNK, 2))
    X[K.CHUNK + 5, 1] = bad_value
    codes = np.empty(X.shape, dtype=np.uint8)
    bad = K.scan_grid_encode(X, *scan_grid_tables(T, np.array([64, 64])), codes)
    assert bad.tolist() == [False, True, False]


@pytest.mark.parametrize("compander", ["mu-law", "a-law", "log"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compander_transform_uses_scan_grid_with_bisection_codes(compander, dtype):
    X = np.random.default_rng(2).standard_normal((20000, 4)).astype(dtype)
    q = skquant.CompanderQuantizer(compander=compander, n_bits=8).fit(X)
    assert len(q._grid()) == 4  # the one-threshold-per-cell grid is too large here
    codes = q.transform(X)
    ref = np.empty(X.shape, dtype=q._codes_dtype)
    assert not K.encode(X, q._bisection_thresholds(X.dtype), ref).any()
    np.testing.assert_array_equal(codes, ref)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_window_grid_with_coarse_cells_equals_bisection(dtype, monkeypatch):
    """Capped tables (many features) put many thresholds in a cell: longer windows,
    same codes."""
    monkeypatch.setattr(base, "_WINDOW_ENTRIES", 16 * 3)  # 16 cells per feature
    rng = np.random.default_rng(5)
    T = np.sort(rng.standard_normal((3, 255)), axis=1)
    n_levels = np.array([256, 256, 40])
    T[2, 39:] = np.inf
    tables = window_grid_tables(T, n_levels, dtype)
    assert tables[2].shape == (3, 17) and tables[4] >= 32
    X = np.stack([np.resize(rng.permutation(_hostile_values(T[j, : n_levels[j] - 1], rng, dtype)),
                            6000) for j in range(3)], axis=1)
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.window_grid_encode(X, *tables, codes).any()
    np.testing.assert_array_equal(codes, _bisection(X, T, n_levels)[0])


@pytest.mark.parametrize("compander", ["mu-law", "a-law", "log"])
def test_compander_windows_stay_short(compander):
    """A compander's thresholds crowd near zero; the encoder's cells still hold few,
    except a log compander's (spread over decades: its transform bisects)."""
    X = np.random.default_rng(2).standard_normal((20000, 4))
    q = skquant.CompanderQuantizer(compander=compander, n_bits=8).fit(X)
    top = q._window_grid(X.dtype)[4]
    assert top > base._WINDOW_MAX_TOP if compander == "log" else top <= 4


@pytest.mark.parametrize("n_bits", [2, 4, 8])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_midtread_transform_gives_the_affine_formula_codes(dtype, n_bits):
    """Midtread codes are the affine formula's codes: the same as
    ``K.affine_encode`` at ties (half-integers times the scale, ties to
    even), next to them, far outside and at the ends of the dtype's range."""
    rng = np.random.default_rng(n_bits)
    X = rng.standard_normal((5000, 3)) * [1.0, 100.0, 1e-3] + [0.0, 5.0, 0.0]
    q = skquant.UniformClipQuantizer(n_bits=n_bits, mode="midtread").fit(X)
    ties = ((np.arange(-300, 300)[:, None] + 0.5) * q.scale_).astype(dtype)
    big = np.finfo(dtype).max
    Y = np.concatenate([X.astype(dtype), ties, np.nextafter(ties, dtype(np.inf)),
                        np.nextafter(ties, dtype(-np.inf)), np.full((2, 3), big),
                        np.full((2, 3), -big), np.zeros((1, 3)), -np.zeros((1, 3))]).astype(dtype)
    ref = np.empty(Y.shape, dtype=np.uint8)
    assert not K.affine_encode(Y, q.scale_, q.zero_point_, q.n_levels_, ref).any()
    np.testing.assert_array_equal(q.transform(Y), ref)
