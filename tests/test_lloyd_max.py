"""LloydMaxQuantizer: the lecture's table, exactness of "optimal", real-data quality."""

import warnings

import naive
import naive_optimal
import numpy as np
import pytest
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import KBinsDiscretizer

from skquant import LloydMaxQuantizer
from skquant._base import summarize_column

# The lecture's 8-level Lloyd–Max quantizer for N(0, 1) (4 printed decimals).
LECTURE_GAUSS_T = [-1.7479, -1.0500, -0.5005, 0.0, 0.5005, 1.0500, 1.7479]
LECTURE_GAUSS_Y = [-2.1519, -1.3439, -0.7560, -0.2451, 0.2451, 0.7560, 1.3439, 2.1519]


def test_gaussian_3_bits_matches_lecture_table():
    x = np.random.default_rng(42).standard_normal((10**6, 1))
    q = LloydMaxQuantizer(n_bits=3).fit(x)
    np.testing.assert_allclose(q.thresholds_[0], LECTURE_GAUSS_T, atol=0.01)
    np.testing.assert_allclose(q.levels_[0], LECTURE_GAUSS_Y, atol=0.01)
    assert q.mse_[0] == pytest.approx(0.034548, rel=0.02)


def _partitions_data(rng, n, weighted):
    x = np.sort(rng.standard_normal(n)) * 3
    w = rng.uniform(0.1, 3.0, n) if weighted else np.ones(n)
    return x, w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [5, 9, 12])
@pytest.mark.parametrize("n_bits", [1, 2])
def test_optimal_equals_exhaustive_search(rng, weighted, n, n_bits):
    x, w = _partitions_data(rng, n, weighted)
    q = LloydMaxQuantizer(n_bits=n_bits, algorithm="optimal").fit(
        x[:, None], sample_weight=w if weighted else None
    )
    best = naive.exhaustive(x, w, 2**n_bits)
    assert q.mse_[0] * w.sum() == pytest.approx(best, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_optimal_equals_reference_dp_on_larger_samples(rng, weighted):
    x = np.round(rng.standard_normal(150) * 2, 2) + 1e6  # ties and a large offset
    w = rng.exponential(size=x.size) if weighted else None
    q = LloydMaxQuantizer(n_bits=3, algorithm="optimal").fit(x[:, None], sample_weight=w)
    u, tot = naive.summary(x, w)
    expected, _ = naive_optimal.reference_dp(u - 1e6, tot, 8)
    assert q.mse_[0] * tot.sum() == pytest.approx(expected, rel=1e-8)


def test_lloyd_distortion_never_increases(rng):
    x = np.concatenate([rng.standard_normal(3000), 6 + 0.3 * rng.standard_normal(500)])
    s = summarize_column(x)
    levels = np.linspace(x.min(), x.max(), 16)
    costs = []
    for _ in range(40):
        t, levels = naive.lloyd_step(s.u, np.diff(s.W), levels)
        costs.append(naive.sse(s.u, np.diff(s.W), t, levels))
    assert np.all(np.diff(costs) <= 1e-9 * costs[0])
    q = LloydMaxQuantizer(n_bits=4, init=np.linspace(x.min(), x.max(), 16), n_init=1)
    q.fit(x[:, None])
    assert q.mse_[0] * x.size <= costs[-1] * (1 + 1e-9)


def test_lloyd_fixed_point_satisfies_lloyd_max_conditions(rng):
    x = rng.laplace(size=(20000, 1))
    w = rng.uniform(0.5, 1.5, 20000)
    q = LloydMaxQuantizer(n_bits=3, tol=0).fit(x, sample_weight=w)
    t, y = q.thresholds_[0], q.levels_[0]
    np.testing.assert_allclose(t, 0.5 * (y[1:] + y[:-1]))  # nearest neighbour
    codes = q.transform(x)[:, 0]
    for k in range(8):  # centroid
        m = codes == k
        assert y[k] == pytest.approx(np.average(x[m, 0], weights=w[m]), rel=1e-9)


def _column_mse(q, X):
    return ((X - q.inverse_transform(q.transform(X))) ** 2).mean(axis=0)


@pytest.mark.parametrize("loader", ["digits", "wine", "diabetes", "breast_cancer"])
def test_beats_kbins_kmeans_on_bundled_datasets(loader):
    X = getattr(datasets, f"load_{loader}")().data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_bits in range(1, 5):
            kb = KBinsDiscretizer(n_bins=2**n_bits, strategy="kmeans", encode="ordinal")
            kb_mse = _column_mse(kb.fit(X), X)
            lloyd = _column_mse(LloydMaxQuantizer(n_bits=n_bits).fit(X), X)
            opt = _column_mse(LloydMaxQuantizer(n_bits=n_bits, algorithm="optimal").fit(X), X)
            # KBinsDiscretizer reconstructs constant columns as NaN; ours are exact
            constant = np.ptp(X, axis=0) == 0
            assert np.all(lloyd[constant] == 0) and np.all(opt[constant] == 0)
            slack = 1e-9 * kb_mse + 1e-12
            ok = lloyd[~constant] <= kb_mse[~constant] + slack[~constant]
            assert ok.all(), (loader, n_bits, np.flatnonzero(~ok))
            assert np.all(opt <= lloyd * (1 + 1e-9) + 1e-12), (loader, n_bits)


def test_optimal_matches_exact_peer():
    kmeans1d = pytest.importorskip("kmeans1d")
    x = np.random.default_rng(3).gamma(2.0, size=3000)
    q = LloydMaxQuantizer(n_bits=3, algorithm="optimal").fit(x[:, None])
    clusters, centroids = kmeans1d.cluster(x, 8)
    np.testing.assert_array_equal(q.transform(x[:, None])[:, 0], clusters)  # the same cells
    np.testing.assert_allclose(q.levels_[0], centroids, rtol=1e-9)  # means summed apart


@pytest.mark.parametrize("init", ["compander", "quantile", "uniform"])
def test_each_init_runs_and_is_close_to_optimal(rng, init):
    x = rng.standard_normal((20000, 1))
    q = LloydMaxQuantizer(n_bits=4, init=init, n_init=1).fit(x)
    opt = LloydMaxQuantizer(n_bits=4, algorithm="optimal").fit(x)
    assert opt.mse_[0] <= q.mse_[0] <= 1.01 * opt.mse_[0]


def test_array_init_shapes(rng):
    X = rng.standard_normal((500, 2))
    q = LloydMaxQuantizer(n_bits=1, init=[-1.0, 1.0], max_iter=1, n_init=1).fit(X)
    assert q.n_iter_per_feature_.tolist() == [1, 1] and q.n_iter_ == 1
    with pytest.raises(ValueError, match=r"init array must have shape \(2,\) or \(2, 2\)"):
        LloydMaxQuantizer(n_bits=1, init=[0.0, 1.0, 2.0]).fit(X)
    with pytest.raises(ValueError, match="finite"):
        LloydMaxQuantizer(n_bits=1, init=[0.0, np.nan]).fit(X)


def test_convergence_warning_when_max_iter_is_hit(rng):
    x = rng.standard_normal((5000, 1))
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        LloydMaxQuantizer(n_bits=4, init="uniform", n_init=1, max_iter=2, tol=0).fit(x)


def test_tied_data_give_the_exact_optimum(rng):
    """200 000 values, 40 distinct: the cells are exactly those of the reference DP over
    the distinct values (its squared error to rounding)."""
    x = rng.integers(0, 40, size=(200_000, 1)).astype(float)
    q = LloydMaxQuantizer(n_bits=4, algorithm="optimal").fit(x)
    u, tot = naive.summary(x[:, 0])
    expected, pos = naive_optimal.reference_dp(u, tot, 16)
    cells = np.repeat(np.arange(16), np.diff(pos))
    np.testing.assert_array_equal(q.transform(u[:, None])[:, 0], cells)
    assert q.mse_[0] * x.shape[0] == pytest.approx(expected, rel=1e-12)


def test_empty_cells_are_deterministic():
    # a far-away init level owns no data: it keeps its place, results repeat exactly
    x = np.linspace(0, 1, 101)[:, None]
    init = [0.1, 0.5, 0.9, 50.0]
    a = LloydMaxQuantizer(n_bits=2, init=init, n_init=1).fit(x)
    b = LloydMaxQuantizer(n_bits=2, init=init, n_init=1).fit(x)
    np.testing.assert_array_equal(a.levels_, b.levels_)
    assert np.all(np.diff(a.levels_[0]) > 0)


def test_optimal_refuses_oversized_problems(rng, monkeypatch):
    # the programme by layers (fewer than 32 levels) above its limit of DP cells; 32
    # levels or more on long columns take the Lagrangian search, O(k) per try
    import skquant._lloyd_max
    from skquant._kernels import _optimal

    assert skquant._lloyd_max._MAX_DP_CELLS == _optimal.MAX_DP_CELLS
    monkeypatch.setattr(skquant._lloyd_max, "_MAX_DP_CELLS", 16 * 4000)
    x = rng.standard_normal((5000, 1))
    with pytest.raises(ValueError, match="DP cells"):
        LloydMaxQuantizer(n_levels=16, algorithm="optimal").fit(x)


@pytest.mark.parametrize(
    "distribution, sampler",
    [
        ("gaussian", lambda r, n: 3.0 + 2.0 * r.standard_normal(n)),
        ("laplace", lambda r, n: -1.0 + 0.5 * r.laplace(size=n)),
        ("uniform", lambda r, n: r.uniform(2.0, 8.0, n)),
    ],
)
def test_parametric_fit_moves_the_analytic_design(distribution, sampler):
    from skquant.design import lloyd_max

    x = sampler(np.random.default_rng(1), 200_000)[:, None]
    q = LloydMaxQuantizer(n_bits=3, distribution=distribution).fit(x)
    d = lloyd_max(distribution, 8)
    np.testing.assert_allclose(q.levels_[0], q.loc_[0] + q.scale_[0] * d.levels)
    # the location/scale estimates recover the generating parameters
    expected = {"gaussian": (3.0, 2.0), "laplace": (-1.0, 0.5 * np.sqrt(2)),
                "uniform": (5.0, 6 / (2 * np.sqrt(3)))}[distribution]
    np.testing.assert_allclose([q.loc_[0], q.scale_[0]], expected, rtol=0.01, atol=0.01)
    # and its MSE is close to the empirical optimum
    opt = LloydMaxQuantizer(n_bits=3, algorithm="optimal").fit(x)
    assert opt.mse_[0] <= q.mse_[0] <= 1.01 * opt.mse_[0]


def test_parametric_fit_with_scipy_distribution_and_few_samples():
    from scipy import stats

    rng = np.random.default_rng(2)
    dist = stats.t(5)
    x = (10 + 3 * dist.rvs(size=(50, 2), random_state=rng))
    q = LloydMaxQuantizer(n_bits=2, distribution=dist).fit(x)
    assert q.levels_.shape == (2, 4) and np.all(np.diff(q.levels_, axis=1) > 0)
    np.testing.assert_allclose(q.loc_, x.mean(axis=0))
    with pytest.raises(ValueError, match="distribution"):
        LloydMaxQuantizer(distribution="cauchy").fit(x)


# --- the default fit: the exact optimum on a fine grid, then Lloyd (issue 16.2) --------

_BUNDLED = {
    "digits": datasets.load_digits,
    "diabetes": lambda: datasets.load_diabetes(scaled=False),
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
}


@pytest.mark.parametrize("name", list(_BUNDLED))
def test_default_is_the_exact_optimum_on_the_bundled_datasets(name):
    """Every column of these has at most 2048 distinct values: the default starts at
    the exact optimum (the grid is every distinct value), and Lloyd keeps it."""
    X = _BUNDLED[name]().data
    for M in (2, 4, 8, 16):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # columns with at most M distinct values
            default = LloydMaxQuantizer(n_levels=M).fit(X)
            exact = LloydMaxQuantizer(n_levels=M, algorithm="optimal").fit(X)
        np.testing.assert_allclose(default.mse_, exact.mse_, rtol=1e-9, atol=0)


def test_exact_start_is_the_only_start(rng):
    """On columns of at most 2048 distinct values the exact start runs alone: the fit
    is the one of n_init=1, no other start alone ends lower, and it is the optimum."""
    X = np.stack([rng.standard_normal(1500), rng.integers(0, 300, 1500).astype(float),
                  np.round(rng.exponential(size=1500), 1)], axis=1)
    w = rng.integers(1, 4, 1500).astype(float)
    for M in (3, 8, 16):
        default = LloydMaxQuantizer(n_levels=M).fit(X, sample_weight=w)
        one = LloydMaxQuantizer(n_levels=M, n_init=1).fit(X, sample_weight=w)
        np.testing.assert_array_equal(default.thresholds_, one.thresholds_)
        np.testing.assert_array_equal(default.n_iter_per_feature_, one.n_iter_per_feature_)
        for init in ("compander", "quantile", "uniform"):
            other = LloydMaxQuantizer(n_levels=M, init=init, n_init=1).fit(X, sample_weight=w)
            assert np.all(default.mse_ <= other.mse_ * (1 + 1e-12))
        exact = LloydMaxQuantizer(n_levels=M, algorithm="optimal").fit(X, sample_weight=w)
        np.testing.assert_allclose(default.mse_, exact.mse_, rtol=1e-12, atol=0)


def _hard_columns(rng, n):
    """Multi-modal, heavy-tailed and tied columns with more than 2048 distinct values."""
    return np.stack([
        np.concatenate([rng.standard_normal(n // 2), 8 + 0.1 * rng.standard_normal(n - n // 2)]),
        rng.standard_t(1.5, n),
        np.round(rng.exponential(size=n), 3),
        np.where(rng.random(n) < 0.05, 50.0, 1.0) * rng.standard_normal(n),
    ], axis=1)


@pytest.mark.parametrize("M", [3, 8, 16, 40])
def test_default_never_worse_than_the_previous_default(rng, M):
    """The previous default (init="compander", n_init=3) runs the same starts after the
    grid's optimum, so the default's MSE can only go down; and it is within 1% of the
    exact optimum on these columns too."""
    X = _hard_columns(rng, 20_000)
    default = LloydMaxQuantizer(n_levels=M).fit(X)
    before = LloydMaxQuantizer(n_levels=M, init="compander", n_init=3).fit(X)
    exact = LloydMaxQuantizer(n_levels=M, algorithm="optimal").fit(X)
    assert np.all(default.mse_ <= before.mse_ * (1 + 1e-12))
    assert np.all(default.mse_ <= exact.mse_ * 1.01)
