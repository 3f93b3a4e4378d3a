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


def _window32(X, T, n_levels):
    """The grid encoder with cells in the data's arithmetic (float32 cells for float32
    data), checked against its NumPy twin."""
    tables = window_grid_tables(T, n_levels, X.dtype, X.dtype)
    codes = np.empty(X.shape, dtype=np.uint16)
    bad = K.window_grid_encode(X, *tables, codes)
    np.testing.assert_array_equal(codes, _window_twin(X, *tables))
    return codes, bad


def _window_twin(X, start, inv_width, counts, T, top):
    """NumPy twin of ``K.window_grid_encode``: cells in the arithmetic of ``X`` and
    ``start`` together (float32 only when both are), then the window's count."""
    d = X.shape[1]
    with np.errstate(invalid="ignore", over="ignore"):
        f = (X - start) * inv_width
    assert f.dtype == np.result_type(X.dtype, start.dtype)
    f = np.where(f > 0.0, f, 0.0)
    f = np.where(f < counts.shape[1] - 2, f, counts.shape[1] - 2)
    cols = np.arange(d)
    k = counts[cols, f.astype(np.int64)].astype(np.int64)
    code = k.copy()
    for o in range(top - 1):
        code += X >= T[cols, k + o]
    return code


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


@pytest.mark.parametrize("encoder", [_scan, _window, _window32],
                         ids=["scan", "window", "window-native"])
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


def _window_case(rng, d, n, dtype):
    """Thresholds of ``d`` features (different counts and scales) and hostile values."""
    T = np.full((d, 15), np.inf)
    n_levels = np.empty(d, dtype=np.int64)
    for j in range(d):
        m = 1 + j % 15
        T[j, :m] = np.sort(rng.standard_normal(m)) * 10.0 ** (j % 5 - 2)
        n_levels[j] = m + 1
    cols = [rng.permutation(_hostile_values(T[j, : n_levels[j] - 1], rng, dtype)) for j in range(d)]
    big = np.finfo(dtype).max
    X = np.stack([np.resize(np.r_[c, big, -big], n) for c in cols], axis=1).astype(dtype)
    return X, T, n_levels


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d, n", [(1, 1), (1, 5000), (3, 1), (7, K.CHUNK + 3), (1100, 3)])
def test_window_grid_any_shape_equals_twin_and_bisection(dtype, d, n):
    """The vectorised encoder (rows x features as one stretch, in blocks of
    ``BLOCK`` values: a row of 1100 features spans two) gives the bisection's codes,
    those of its NumPy twin and those of the value-by-value kernel, on values at,
    next to and between the thresholds and at +-max float."""
    from skquant._kernels import _small

    rng = np.random.default_rng(d * 7 + n)
    X, T, n_levels = _window_case(rng, d, n, dtype)
    tables = window_grid_tables(T, n_levels, dtype)
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.window_grid_encode(X, *tables, codes).any()
    np.testing.assert_array_equal(codes, _bisection(X, T, n_levels)[0])
    twin = np.empty(X.shape, dtype=np.uint8)
    assert not _small.window_grid_encode(X, *tables, twin).any()
    np.testing.assert_array_equal(codes, twin)
    rows = np.empty(X.shape, dtype=np.uint8)
    assert not K.window_rows_encode(X, *tables, rows).any()
    np.testing.assert_array_equal(codes, rows)


@pytest.mark.parametrize("layout", ["fortran", "strided", "strided-out"])
def test_window_grid_non_contiguous(layout):
    rng = np.random.default_rng(3)
    X, T, n_levels = _window_case(rng, 6, 3000, np.float32)
    tables = window_grid_tables(T, n_levels, np.float32)
    ref = np.empty(X.shape, dtype=np.uint16)
    K.window_grid_encode(X, *tables, ref)
    codes = np.zeros(X.shape, dtype=np.uint16)
    if layout == "fortran":
        assert not K.window_grid_encode(np.asfortranarray(X), *tables, codes).any()
    elif layout == "strided":
        wide = np.repeat(X, 2, axis=1)
        assert not K.window_grid_encode(wide[:, ::2], *tables, codes).any()
    else:
        wide = np.zeros((X.shape[0], 2 * X.shape[1]), dtype=np.uint16)
        assert not K.window_grid_encode(X, *tables, wide[:, ::2]).any()
        codes = wide[:, ::2]
        assert not wide[:, 1::2].any()  # the gaps are left alone
    np.testing.assert_array_equal(codes, ref)


@pytest.mark.parametrize("d", [2, 1100])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_window_grid_flags_nonfinite_chunks_wide(d, bad_value):
    """NaN and +-inf flag their chunk of rows, in any block of a wide row."""
    rng = np.random.default_rng(4)
    T = np.sort(rng.standard_normal((d, 15)), axis=1)
    X = rng.standard_normal((2 * K.CHUNK + 1, d)).astype(np.float32)
    X[K.CHUNK + 2, d - 1] = bad_value
    codes = np.empty(X.shape, dtype=np.uint8)
    tables = window_grid_tables(T, np.full(d, 16), np.float32)
    assert K.window_grid_encode(X, *tables, codes).tolist() == [False, True, False]


def test_window_grid_beyond_32_bit_offsets_runs_value_by_value(monkeypatch):
    from skquant._kernels import _scalar

    rng = np.random.default_rng(6)
    X, T, n_levels = _window_case(rng, 5, 2000, np.float64)
    tables = window_grid_tables(T, n_levels, np.float64)
    monkeypatch.setattr(_scalar, "FLAT_LIMIT", 16)
    calls = []
    monkeypatch.setattr(_scalar, "window_rows_encode",
                        lambda *a: calls.append(1) or K.window_rows_encode(*a))
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not _scalar.window_grid_encode(X, *tables, codes).any()
    assert calls
    np.testing.assert_array_equal(codes, _bisection(X, T, n_levels)[0])


def test_float32_cells_are_float32_arithmetic():
    """Float32 tables (start, inv_width float32, cells of the float32 map): a value
    whose float64 cell and float32 cell differ gets the cell of the tables' map."""
    T = np.array([[0.1, 0.35, 0.6, 0.85]])
    t64 = window_grid_tables(T, np.array([5]), np.float32)
    t32 = window_grid_tables(T, np.array([5]), np.float32, np.float32)
    assert t32[0].dtype == t32[1].dtype == np.float32 and t64[0].dtype == np.float64
    x = np.linspace(0, 1, 200001, dtype=np.float32)[:, None]
    f64 = np.floor((x.astype(np.float64) - t64[0]) * t64[1])
    f32 = np.floor((x - t32[0]) * t32[1])
    assert (f64 != f32).any()  # the maps differ somewhere: the tables must follow
    ref = _bisection(x, T, np.array([5]))[0]
    for tables in (t64, t32):
        codes = np.empty(x.shape, dtype=np.uint8)
        assert not K.window_grid_encode(x, *tables, codes).any()
        np.testing.assert_array_equal(codes, ref)
        np.testing.assert_array_equal(codes, _window_twin(x, *tables))
    with pytest.raises(ValueError, match="float32 arithmetic"):
        window_grid_tables(T, np.array([5]), np.float64, np.float32)


@pytest.mark.parametrize("est", [skquant.LloydMaxQuantizer(n_bits=5),
                                 skquant.CompanderQuantizer(n_bits=8)], ids=["lloyd", "mu-law"])
def test_large_float32_transform_uses_float32_cells(est, monkeypatch):
    """Float32 data beyond the twins' size encode through float32 cells (codebooks of
    more than 16 levels: fewer go to ``K.tree_encode``, tests/test_tree_encode.py), the
    point grid's (tests/test_point_grid.py) or the window grid's when there is no point
    grid; the codes are the bisection's, ties and neighbours included, and NaN still
    raises."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((4000, 3))
    est.fit(X)
    T = np.asarray(est.thresholds_, dtype=np.float64)
    Y = np.stack([np.resize(rng.permutation(_hostile_values(T[j, : est.n_levels_[j] - 1], rng,
                                                            np.float32)), 9000)
                  for j in range(3)], axis=1)
    from skquant._kernels import _auto

    assert Y.size > _auto.SMALL
    calls = []
    for name in ("window_grid_tables", "point_grid_tables"):
        real = getattr(base, name)
        monkeypatch.setattr(base, name, lambda *a, real=real: calls.append(
            np.dtype(a[-1]) if len(a) == 4 else None) or real(*a))
    base._WINDOWS.pop(est, None)
    codes = est.transform(Y)
    assert np.dtype(np.float32) in calls
    np.testing.assert_array_equal(codes, _bisection(Y, T, est.n_levels_)[0])
    Y[5000, 1] = np.nan
    with pytest.raises(ValueError, match="NaN|infinit|finite"):
        est.transform(Y)


def test_window_grid_takes_the_first_grid_whose_cells_hold_one_threshold():
    X = np.random.default_rng(9).standard_normal((20000, 2))
    lloyd = skquant.LloydMaxQuantizer(n_bits=4).fit(X)
    tables = window_grid_tables(lloyd.thresholds_, lloyd.n_levels_, np.float32, np.float32)
    assert tables[2].shape[1] - 1 == base._WINDOW_COARSE_PER_LEVEL * 16 and tables[4] <= 2
    mu = skquant.CompanderQuantizer(n_bits=8).fit(X)  # crowded near 0: the fine grid
    tables = window_grid_tables(mu.thresholds_, mu.n_levels_, np.float64)
    assert tables[2].shape[1] - 1 == base._WINDOW_FINE_FACTOR * base._WINDOW_MIN_CELLS
    assert tables[4] <= 2
    log = skquant.CompanderQuantizer(compander="log", n_bits=4).fit(X)  # none fits: default
    tables = window_grid_tables(log.thresholds_, log.n_levels_, np.float64)
    assert tables[2].shape[1] - 1 == base._WINDOW_MIN_CELLS and tables[4] > 2
    for q in (lloyd, mu, log):
        Y = X.astype(np.float32)
        np.testing.assert_array_equal(q.transform(Y), _bisection(Y, q.thresholds_, q.n_levels_)[0])
