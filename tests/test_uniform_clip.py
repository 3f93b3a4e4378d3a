"""UniformClipQuantizer: the exact MSE range search, the lecture's design A, PyTorch/ONNX
affine codes, and the range-search kernels against their NumPy twins."""

import warnings

import naive
import naive_clip
import numpy as np
import pytest
from sklearn import datasets

from skquant import CompanderQuantizer, UniformClipQuantizer
from skquant import _kernels as K
from skquant._base import _ceil_to_dtype, grid_tables, summarize_column
from skquant._range_search import Family, uniform_family
from skquant.design import optimal_uniform

MODES = [
    pytest.param(True, "midrise", id="symmetric-midrise"),
    pytest.param(True, "midtread", id="symmetric-midtread"),
    pytest.param(False, "midrise", id="affine-midrise"),
    pytest.param(False, "midtread", id="affine-midtread"),
]


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # columns with few distinct values
        return UniformClipQuantizer(**params).fit(X)


def _range_mse(u, w, lo, hi, n_bits, symmetric, mode):
    """Brute force: weighted MSE of the quantizer of each range [lo, hi], vectorised,
    straight from the definitions (arithmetic codes, not thresholds)."""
    M = 2**n_bits
    lo, hi = lo[:, None], hi[:, None]
    if mode == "midrise":  # lecture: step (hi - lo) / M, levels at the cell centres
        step = (hi - lo) / M
        codes = np.clip(np.floor((u - lo) / step), 0, M - 1)
        x_hat = lo + (codes + 0.5) * step
    else:  # PyTorch / ONNX affine, range extended to contain 0
        lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)
        scale = (hi - lo) / (M - 1)
        zp = M // 2 if symmetric else np.rint(-lo / scale)
        codes = np.clip(np.rint(u / scale) + zp, 0, M - 1)
        x_hat = (codes - zp) * scale
    return ((u - x_hat) ** 2 * w).sum(axis=1) / w.sum()


def _dense_ranges(u, symmetric, n=10_000):
    """10^4 ranges: X in (0, 2 max|x|], or a 100 x 100 grid of (lo, hi) pairs."""
    r = u[-1] - u[0]
    if symmetric:
        X = np.linspace(0.0, 2.0 * np.abs(u).max(), n + 1)[1:]
        return -X, X
    side = int(np.sqrt(n))
    lo, hi = np.meshgrid(
        np.linspace(u[0] - r / 2, u[-1], side), np.linspace(u[0], u[-1] + r / 2, side)
    )
    keep = hi > lo
    return lo[keep], hi[keep]


# --- acceptance 1: the exact optimum ---------------------------------------------------


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("n_bits", [3, 4])
def test_gaussian_matches_density_optimum(n_bits, symmetric):
    x = np.random.default_rng(7).standard_normal((10**6, 1))
    q = UniformClipQuantizer(n_bits=n_bits, symmetric=symmetric).fit(x)
    design = optimal_uniform("gaussian", 2**n_bits)
    e2 = (x[:, 0] - design.quantize(x[:, 0])) ** 2
    se = e2.std() / np.sqrt(e2.size)
    assert abs(e2.mean() - design.mse) <= 4 * se  # the density optimum, on this sample
    # the fitted range is the sample's exact optimum: no worse than the density's,
    # better only by the second-order effect of estimating X_max
    assert q.mse_[0] <= e2.mean() * (1 + 1e-12)
    assert q.mse_[0] >= e2.mean() - se
    assert q.clip_max_[0] == pytest.approx(design.x_max, rel=0.01)
    assert q.clip_min_[0] == pytest.approx(-design.x_max, rel=0.01)
    np.testing.assert_allclose(q.levels_[0], design.levels, atol=0.01 * design.x_max)


@pytest.mark.parametrize("symmetric, mode", MODES)
@pytest.mark.parametrize(
    "loader, n_bits",  # digits' pixels take at most 17 values
    [
        (datasets.load_digits, 2),
        (datasets.load_digits, 3),
        (datasets.load_diabetes, 3),
        (datasets.load_diabetes, 5),
    ],
)
def test_no_range_of_a_dense_scan_beats_the_fit(loader, n_bits, symmetric, mode):
    X = loader().data
    q = _fit(X, n_bits=n_bits, symmetric=symmetric, mode=mode)
    X_hat = q.inverse_transform(q.transform(X))
    n_checked = 0
    for j in range(X.shape[1]):
        u, w = naive.summary(X[:, j])
        if u.size <= 2**n_bits:
            continue  # stored exactly
        fitted = np.mean((X[:, j] - X_hat[:, j]) ** 2)
        assert fitted == pytest.approx(q.mse_[j], rel=1e-9)
        lo, hi = _dense_ranges(u, symmetric)
        scan = _range_mse(u, w, lo, hi, n_bits, symmetric, mode)
        assert fitted <= scan.min() * (1 + 1e-9), (j, fitted, scan.min())
        n_checked += 1
    assert n_checked >= 8


@pytest.mark.parametrize("symmetric, mode", MODES)
@pytest.mark.parametrize("loader", [datasets.load_digits, datasets.load_diabetes])
def test_mse_is_never_worse_than_the_rules(loader, symmetric, mode):
    X = loader().data
    common = dict(n_bits=3, symmetric=symmetric, mode=mode)
    best = _fit(X, **common).mse_
    for clip in ["minmax", "std", "percentile"]:
        other = _fit(X, clip=clip, **common).mse_
        assert np.all(best <= other * (1 + 1e-12)), clip


# --- acceptance 2: PyTorch / ONNX affine codes -----------------------------------------


def _affine_formula(q, X):
    """The PyTorch / ONNX formula with the fitted scale and zero point."""
    return naive.affine_encode(X, q.scale_, q.zero_point_, q.n_levels_)


@pytest.mark.parametrize("clip", ["mse", "minmax", "percentile"])
def test_midtread_codes_are_the_affine_formula(global_dtype, rng, clip):
    X = (rng.standard_normal((20_000, 3)) * [1.0, 3.0, 0.1] + [0.0, 2.0, -0.5]).astype(
        global_dtype
    )
    q = UniformClipQuantizer(8, clip=clip, symmetric=False, mode="midtread").fit(X)
    # ties: values at (m + 1/2) * scale and their neighbours
    m = rng.integers(-300, 300, size=(2000, 3)) + 0.5
    ties = (m * q.scale_).astype(global_dtype)
    near = np.nextafter(ties, np.inf if global_dtype == np.float64 else np.float32(np.inf))
    for data in (X, ties, near):
        np.testing.assert_array_equal(q.transform(data), _affine_formula(q, data))
    # and the thresholds describe the same cells away from ties
    codes = q.transform(X)
    np.testing.assert_array_equal(codes, naive.encode(X, q.thresholds_))


def test_midtread_rounds_exact_ties_to_even():
    # range [-1, 254]: scale 1, zero point 1; x = k + 1/2 are exact ties
    X = np.arange(-1.0, 254.5, 0.5)[:, None]
    q = UniformClipQuantizer(8, clip="minmax", symmetric=False, mode="midtread").fit(X)
    assert q.scale_[0] == 1.0 and q.zero_point_[0] == 1
    codes = q.transform(np.array([[0.5], [1.5], [2.5], [-0.5], [253.5]])).ravel()
    np.testing.assert_array_equal(codes, [1, 3, 3, 1, 255])  # 0, 2, 2, -0, 254 -> even


@pytest.mark.parametrize("loader", [datasets.load_breast_cancer, datasets.load_diabetes])
def test_midtread_codes_on_real_data(loader):
    X = loader().data
    for symmetric, clip in [(False, "mse"), (False, "minmax"), (True, "mse")]:
        q = _fit(X, n_bits=8, clip=clip, symmetric=symmetric, mode="midtread")
        affine = q.scale_ > 0
        if loader is datasets.load_breast_cancer:
            assert affine.sum() >= 5  # columns with more than 256 distinct values
        codes = q.transform(X)
        expected = naive.affine_encode(X[:, affine], q.scale_[affine], q.zero_point_[affine], 256)
        np.testing.assert_array_equal(codes[:, affine], expected)
        # columns stored exactly keep the contract: one level per distinct value
        np.testing.assert_array_equal(q.inverse_transform(codes)[:, ~affine], X[:, ~affine])
        assert np.all(q.zero_point_[~affine] == -1)


def test_symmetric_midtread_is_pytorch_symmetric_quint8():
    x = np.random.default_rng(3).laplace(size=(5000, 1))
    q = UniformClipQuantizer(8, clip="minmax", symmetric=True, mode="midtread").fit(x)
    X = np.abs(x).max()
    assert q.zero_point_[0] == 128
    assert q.scale_[0] == pytest.approx(2 * X / 255, rel=1e-15)
    np.testing.assert_allclose(q.levels_[0], (np.arange(256) - 128) * q.scale_[0])


# --- the lecture's midrise quantizer and the rules --------------------------------------


@pytest.mark.parametrize("n_bits", [1, 2, 4])
def test_midrise_is_the_lecture_formula(rng, n_bits):
    x = rng.standard_normal((3000, 1))
    q = UniformClipQuantizer(n_bits=n_bits, clip=1.7, symmetric=True).fit(x)
    M, X = 2**n_bits, 1.7
    step = 2 * X / M
    k = np.arange(M)
    np.testing.assert_allclose(q.levels_[0], -X + (k + 0.5) * step, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(q.thresholds_[0], -X + k[1:] * step, rtol=1e-14, atol=1e-15)
    assert (q.clip_min_[0], q.clip_max_[0], q.scale_[0]) == (-X, X, pytest.approx(step))
    assert not hasattr(q, "zero_point_")


def test_rules(rng):
    x = rng.gamma(2.0, size=5001) - 1.0
    w = rng.uniform(0.5, 2.0, size=x.size)
    X = x[:, None]

    def fit(**p):
        return UniformClipQuantizer(n_bits=3, **p).fit(X, sample_weight=w)

    q = fit(clip="minmax", symmetric=False)
    assert (q.clip_min_[0], q.clip_max_[0]) == (x.min(), x.max())
    assert fit(clip="minmax", symmetric=True).clip_max_[0] == np.abs(x).max()
    mean = np.average(x, weights=w)
    std = np.sqrt(np.average((x - mean) ** 2, weights=w))
    q = fit(clip="std", n_std=2.5, symmetric=False)
    assert q.clip_min_[0] == pytest.approx(mean - 2.5 * std)
    assert q.clip_max_[0] == pytest.approx(mean + 2.5 * std)
    rms = np.sqrt(np.average(x**2, weights=w))
    assert fit(clip="std", n_std=2.5, symmetric=True).clip_max_[0] == pytest.approx(2.5 * rms)
    q = UniformClipQuantizer(n_bits=3, clip="percentile", percentile=99.0, symmetric=False)
    q.fit(X)  # unweighted: numpy's inverted-CDF percentiles
    lo, hi = np.percentile(x, [1.0, 99.0], method="inverted_cdf")
    assert (q.clip_min_[0], q.clip_max_[0]) == (lo, hi)
    q = UniformClipQuantizer(n_bits=3, clip="percentile", percentile=99.0, symmetric=True)
    q.fit(X)
    assert q.clip_max_[0] == np.percentile(np.abs(x), 99.0, method="inverted_cdf")


def test_empty_percentile_range_falls_back_to_minmax():
    x = np.zeros(10_000)
    x[:6] = [-3.0, -1.0, 0.5, 1.0, 2.0, 4.0]
    q = UniformClipQuantizer(n_bits=2, clip="percentile", percentile=99.0, symmetric=True)
    q.fit(x[:, None])
    assert q.clip_max_[0] == 4.0


@pytest.mark.parametrize("symmetric, mode", MODES)
def test_mse_sample_weight_equals_repetition(rng, symmetric, mode):
    x = np.round(rng.standard_normal((400, 2)) * [1.0, 5.0], 2)
    w = rng.integers(0, 4, 400)
    params = dict(n_bits=3, symmetric=symmetric, mode=mode)
    a = UniformClipQuantizer(**params).fit(x, sample_weight=w)
    b = UniformClipQuantizer(**params).fit(np.repeat(x, w, axis=0))
    np.testing.assert_allclose(a.levels_, b.levels_, rtol=1e-12)
    np.testing.assert_allclose(a.mse_, b.mse_, rtol=1e-9)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"clip": -1.0}, "clip"),
        ({"clip": "max"}, "clip"),
        ({"mode": "floor"}, "mode"),
        ({"percentile": 40}, "percentile"),
        ({"n_std": 0}, "n_std"),
        ({"symmetric": "yes"}, "symmetric"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        UniformClipQuantizer(**params).fit([[0.0], [1.0]])


def test_large_sample_search_is_never_worse_than_a_fine_scan(rng):
    """Above the sweep limit the scan + bounded minimiser + polish path is used."""
    x = np.concatenate([rng.standard_normal(150_000), rng.standard_normal(50_000) * 0.2 + 3])
    q = UniformClipQuantizer(n_bits=4, symmetric=True).fit(x[:, None])
    s = summarize_column(x)
    fam = uniform_family(16, 7.5)
    scan = fam.sse(s, 0.0, np.linspace(1e-3, 2 * np.abs(x).max() / 8, 20_000))
    assert q.mse_[0] * x.size <= scan.min() * (1 + 1e-9)


# --- the kernels against their twins ---------------------------------------------------


@pytest.mark.parametrize("centroid", [False, True])
def test_family_sse_matches_naive(rng, centroid):
    x = np.round(rng.standard_normal(300), 1)
    w = rng.uniform(0.0, 2.0, 300)
    s = summarize_column(x, w)
    u, wu = naive.summary(x, w)
    t, y = np.sort(rng.standard_normal(7)), np.sort(rng.standard_normal(8))
    fam = Family(t, y, centroid=centroid)
    offsets, scales = rng.standard_normal(50), rng.uniform(0.1, 3.0, 50)
    np.testing.assert_allclose(
        fam.sse(s, offsets, scales),
        naive.family_sse(u, wu, fam.t, fam.y, offsets, scales, centroid),
        rtol=1e-10, atol=1e-12,
    )


@pytest.mark.parametrize("centroid", [False, True])
@pytest.mark.parametrize("zero_index", [-0.5, 3.5, 2])
@pytest.mark.parametrize("line", ["scale", "offset"])
def test_line_sweep_matches_naive(rng, zero_index, line, centroid):
    x = np.round(rng.standard_normal(60) * 2, 1)
    w = rng.uniform(0.5, 2.0, 60)
    u, wu = naive.summary(x, w)
    fam = uniform_family(8, zero_index)
    if line == "scale":  # offset 0.3, theta the scale
        alpha, beta, gamma, delta = np.full(7, 0.3), fam.t, np.full(8, 0.3), fam.y
        theta_lo = 0.0
    else:  # scale 0.7, theta the offset
        alpha, beta, gamma, delta = 0.7 * fam.t, np.ones(7), 0.7 * fam.y, np.ones(8)
        theta_lo = u[0] - alpha[-1] - 1.0
    n = u.size * 7 + 1
    thetas, values = np.empty(n), np.empty(n)
    m = K.line_sweep(u, wu, alpha, beta, gamma, delta, theta_lo, thetas, values, centroid)
    expected = naive.line_minimum(u, wu, alpha, beta, gamma, delta, theta_lo, centroid)
    assert values[:m].min() == pytest.approx(expected, rel=1e-9)
    theta = thetas[int(np.argmin(values[:m]))]  # the minimiser, evaluated exactly
    offset, scale = (0.3, theta) if line == "scale" else (theta, 0.7)
    exact = naive.family_sse(u, wu, fam.t, fam.y, [offset], [scale], centroid)[0]
    assert exact == pytest.approx(expected, rel=1e-9)


def test_affine_encode_matches_naive(global_dtype, rng):
    X = (rng.standard_normal((10_000, 3)) * 4).astype(global_dtype)
    X[:5, 0] = [0.25, 0.75, -0.25, 1e30, -1e30]  # ties at scale 0.5, huge values
    scale = np.array([0.5, 0.05, np.nan])  # NaN: the column is left unwritten
    zp = np.array([3, 8, -1])
    n_codes = np.array([256, 16, 256])
    out = np.full(X.shape, 7, dtype=np.uint8)
    bad = K.affine_encode(X, scale, zp, n_codes, out)
    assert not bad.any()
    np.testing.assert_array_equal(
        out[:, :2], naive.affine_encode(X[:, :2], scale[:2], zp[:2], n_codes[:2])
    )
    assert np.all(out[:, 2] == 7)
    for col in (0, 2):  # NaN in an encoded column and in a skipped one
        Y = X.copy()
        Y[K.CHUNK + 3, col] = np.nan
        assert K.affine_encode(Y, scale, zp, n_codes, out).tolist() == [False, True, False]
    Y = X.copy()
    Y[2 * K.CHUNK + 1, 1] = -np.inf
    assert K.affine_encode(Y, scale, zp, n_codes, out).tolist() == [False, False, True]


def test_midtread_with_a_width_per_feature(rng):
    X = rng.standard_normal((5000, 3)) * [1.0, 2.0, 3.0]
    q = UniformClipQuantizer([8, 3, 5], symmetric=False, mode="midtread").fit(X)
    assert q.n_levels_.tolist() == [256, 8, 32]
    np.testing.assert_array_equal(q.transform(X), _affine_formula(q, X))
    for j, b in enumerate([8, 3, 5]):
        single = UniformClipQuantizer(b, symmetric=False, mode="midtread").fit(X[:, [j]])
        assert (single.scale_[0], single.zero_point_[0]) == (q.scale_[j], q.zero_point_[j])


@pytest.mark.parametrize("n_bits", [1, 2, 4, 8])
def test_grid_encode_matches_naive(global_dtype, rng, n_bits):
    M = 2**n_bits
    # thresholds of very different spacings (mu-law-like), a feature with 2 levels, one with 1
    T = np.full((3, M - 1), np.inf)
    z = np.linspace(-1, 1, M + 1)[1:-1]
    T[0] = np.sign(z) * np.expm1(np.abs(z) * np.log1p(255.0)) / 255 * 3.0
    T[1, :1] = 0.25
    T = _ceil_to_dtype(T, global_dtype)
    n_levels = np.array([M, min(2, M), 1])
    grid = grid_tables(T, n_levels)
    assert grid is not None
    X = (rng.standard_normal((3 * K.CHUNK, 3)) * 2).astype(global_dtype)
    X[:M - 1, 0] = T[0]  # exactly on the thresholds, and just below
    X[M : 2 * M - 1, 0] = np.nextafter(T[0], -np.inf)
    X[:2, 1] = [0.25, np.nextafter(global_dtype(0.25), -1)]
    codes = np.empty(X.shape, dtype=np.uint8)
    assert not K.grid_encode(X, *grid, codes).any()
    np.testing.assert_array_equal(codes, naive.encode(X, T))
    X[K.CHUNK + 1, 2] = np.inf
    assert K.grid_encode(X, *grid, codes).tolist() == [False, True, False]


def test_grid_falls_back_to_bisection_for_uneven_thresholds(rng):
    T = np.array([[0.0, 1e-9, 1.0]])  # a cell 1e9 times smaller than the range
    assert grid_tables(T, np.array([4])) is None
    # a ninth-root compressor: its innermost cells are 1e-13 of the range at 6 bits
    pair = (lambda z: np.sign(z) * np.abs(z) ** (1 / 9), lambda v: np.sign(v) * np.abs(v) ** 9)
    x = rng.standard_normal((2000, 1)) ** 9
    q = CompanderQuantizer(n_bits=6, compander=pair).fit(x)
    assert grid_tables(q.thresholds_, q.n_levels_) is None
    # such codebooks encode through the coarse scan grid (or bisection): same codes
    assert q._grid() is None or len(q._grid()) == 4
    np.testing.assert_array_equal(q.transform(x), naive.encode(x, q.thresholds_))


def test_midtread_against_pytorch_away_from_ties(rng):
    """PyTorch rounds fma(x, float32(1/scale), zero_point) in float32: the codes agree
    with the formula except within float32 rounding of a tie (see doc/uniform_clip.rst)."""
    torch = pytest.importorskip("torch")
    X = (rng.standard_normal((100_000, 2)) * [1.0, 3.0] + [0.0, 2.0]).astype(np.float32)
    q = UniformClipQuantizer(8, symmetric=False, mode="midtread").fit(X)
    codes = q.transform(X)
    for j in range(2):
        theirs = torch.quantize_per_tensor(
            torch.from_numpy(np.ascontiguousarray(X[:, j])), float(q.scale_[j]),
            int(q.zero_point_[j]), torch.quint8,
        ).int_repr().numpy()
        differ = theirs != codes[:, j]
        frac = np.abs(X[differ, j] / q.scale_[j] % 1.0 - 0.5)
        assert differ.mean() < 1e-4 and np.all(frac < 1e-5)


# --- the exact search: global on every column, against an exhaustive twin -------------


def _hostile_column(rng, kind, n):
    """Small columns of the shapes where a local search goes wrong."""
    if kind == "outliers":
        return np.concatenate([rng.standard_normal(n - 2), [40.0, -250.0]])
    if kind == "heavy":
        return rng.standard_t(1.5, n)
    if kind == "mixture":
        far = 9.0 + 0.1 * rng.standard_normal(n - n // 2)
        return np.concatenate([rng.standard_normal(n // 2), far])
    return rng.uniform(-1.0, 3.0, n)


@pytest.mark.parametrize("symmetric, mode", MODES)
@pytest.mark.parametrize("kind", ["outliers", "heavy", "mixture", "uniform"])
@pytest.mark.parametrize("M", [2, 3, 4, 5, 7])
def test_mse_is_the_exhaustive_minimum(rng, symmetric, mode, kind, M):
    """Small columns: the fit equals the minimum over every assignment of values to
    levels (tests/naive_clip.py), weighted, and is certified (``clip_gap_ == 0``)."""
    n = 11 if M > 5 else 13
    x = _hostile_column(rng, kind, n)
    w = rng.uniform(0.2, 3.0, n)
    q = UniformClipQuantizer(n_levels=M, symmetric=symmetric, mode=mode)
    q.fit(x[:, None], sample_weight=w)
    u, wu = naive.summary(x, w)
    best = naive_clip.uniform_minimum(u, wu, M, symmetric, mode)
    assert q.mse_[0] * wu.sum() == pytest.approx(best, rel=1e-9, abs=1e-12)
    assert q.clip_gap_[0] == 0.0


def _line_min(x, alpha, beta, gamma, delta, theta_lo):
    """Exact minimum along a line: the line-sweep kernel (checked against its NumPy
    twin in test_line_sweep_matches_naive) finds every piece's minimiser, an oracle
    independent of the branch and bound; the 64 best are re-evaluated straight from
    the definition (the sweep's running sums round on columns with outliers)."""
    u, w = naive.summary(x)
    n = u.size * alpha.size + 1
    thetas, values = np.empty(n), np.empty(n)
    m = K.line_sweep(u, w, alpha, beta, gamma, delta, float(theta_lo), thetas, values)
    best = thetas[np.argsort(values[:m])[:64]]
    exact = [
        (w * (u - (gamma + th * delta)[np.searchsorted(alpha + th * beta, u, side="right")])
         ** 2).sum()
        for th in best
    ]
    return float(min(exact))


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("mode", ["midrise", "midtread"])
def test_large_outlier_column_is_the_global_minimum(rng, symmetric, mode):
    """Columns above the old line-sweep limit (k (M - 1) > 2**18) with heavy tails and
    huge outliers, where the old scan + local refinement could stop above the
    optimum: the fit is certified and equals the exact minimum over every scale
    (symmetric; affine midtread: every scale of every zero point); affine midrise is
    no worse than a dense scan of ranges nor than the exact minimum along each
    coordinate through the fit."""
    x = np.concatenate([rng.standard_normal(16_000), rng.standard_t(2, 4_000),
                        [300.0, -1e3, 2e3]])
    q = UniformClipQuantizer(n_bits=4, symmetric=symmetric, mode=mode).fit(x[:, None])
    assert q.clip_gap_[0] == 0.0
    fitted = q.mse_[0] * x.size
    k = np.arange(16, dtype=np.float64)
    z0, z1 = np.zeros(15), np.zeros(16)
    if symmetric or mode == "midtread":
        zeros = [8 if mode == "midtread" else 7.5] if symmetric else range(16)
        best = min(_line_min(x, z0, k[1:] - c - 0.5, z1, k - c, 0.0) for c in zeros)
        assert fitted == pytest.approx(best, rel=1e-9)
        return
    u, w = naive.summary(x)
    lo, hi = _dense_ranges(u, False, n=2500)
    scan = min(_range_mse(u, w, lo[i:i + 100], hi[i:i + 100], 4, False, mode).min()
               for i in range(0, lo.size, 100))
    assert fitted <= scan * x.size * (1 + 1e-9)
    step, o = q.scale_[0], q.clip_min_[0]
    along_o = _line_min(x, step * k[1:], np.ones(15), step * (k + 0.5), np.ones(16),
                        u[0] - 20 * step)
    along_s = _line_min(x, np.full(15, o), k[1:], np.full(16, o), k + 0.5, 0.0)
    assert fitted <= min(along_o, along_s) * (1 + 1e-9)


@pytest.mark.parametrize("mode", ["midrise", "midtread"])
def test_eight_bit_symmetric_is_the_exact_line_minimum(rng, mode):
    x = np.concatenate([rng.laplace(size=600), [25.0, -60.0]])
    q = UniformClipQuantizer(n_bits=8, symmetric=True, mode=mode).fit(x[:, None])
    u, w = naive.summary(x)
    k = np.arange(256, dtype=np.float64)
    c = 128 if mode == "midtread" else 127.5
    best = naive.line_minimum(u, w, np.zeros(255), k[1:] - c - 0.5, np.zeros(256), k - c, 0.0)
    assert q.mse_[0] * w.sum() == pytest.approx(best, rel=1e-9)
    assert q.clip_gap_[0] == 0.0


def test_range_bnb_reports_the_gap_when_stopped(rng, monkeypatch):
    """A search stopped by the box cap reports a positive gap that is a true bound."""
    import skquant._range_search as rs

    x = rng.standard_normal(5000)
    monkeypatch.setattr(rs, "_MAX_BOXES", 3)
    stopped = UniformClipQuantizer(n_bits=4).fit(x[:, None])
    monkeypatch.undo()
    full = UniformClipQuantizer(n_bits=4).fit(x[:, None])
    assert full.clip_gap_[0] == 0.0 and stopped.clip_gap_[0] > 0.0
    assert full.mse_[0] >= stopped.mse_[0] * (1 - stopped.clip_gap_[0]) * (1 - 1e-12)
