"""EntropyConstrainedQuantizer: the exact Lagrangian DP and the rate-distortion claims."""

import numpy as np
import pytest
from naive_ecsq import ecsq_partition as naive_partition
from naive_ecsq import solve_rate as naive_solve_rate
from sklearn import datasets

from skquant import DeadZoneQuantizer, EntropyConstrainedQuantizer, LloydMaxQuantizer
from skquant._compat import InvalidParameterError
from skquant._kernels import ecsq_partition


def _prefix(x, w):
    z = np.zeros(1)
    return (np.concatenate([z, np.cumsum(w)]), np.concatenate([z, np.cumsum(w * x)]),
            np.concatenate([z, np.cumsum(w * x * x)]))


def test_kernel_matches_the_naive_dp():
    rng = np.random.default_rng(1)
    for _ in range(60):
        n = int(rng.integers(2, 22))
        x = np.sort(rng.standard_normal(n) ** 3)
        w = rng.random(n) + 0.05
        lam = float(rng.choice([0.0, 0.01, 0.1, 1.0, 10.0]))
        M = int(rng.integers(1, 7))
        pos = np.empty(n + 1, dtype=np.int64)
        n_cells, cost = ecsq_partition(*_prefix(x, w), lam, M, pos)
        ref_cost, ref_pos = naive_partition(w, x, lam, M)
        assert cost == pytest.approx(ref_cost, rel=1e-9, abs=1e-12)
        assert 1 <= n_cells <= M and pos[0] == 0 and pos[n_cells] == n


@pytest.mark.parametrize("name", ["laplace", "digits", "symmetric"])
def test_rate_search_is_the_bisection_with_fewer_runs(name):
    """solve_rate answers as the plain bisection (its twin) does, design for design and
    lam for lam, on data and on symmetric weighted points (mirror-image designs tie
    there, as on a symmetric density's grid), running the DP at most 2/3 as often over
    the rates."""
    from skquant import _lagrangian
    from skquant._entropy_constrained import _Lagrangian
    from skquant._summary import ColumnSummary, summarize_column

    if name == "symmetric":
        u = np.linspace(-6.0, 6.0, 1201)
        w = np.exp(-np.abs(u))
        z = np.zeros(1)
        summary = ColumnSummary(u, *(np.concatenate((z, np.cumsum(w * u**p)))
                                     for p in range(3)), 0.0)
    elif name == "laplace":
        summary = summarize_column(np.random.default_rng(3).laplace(size=5000))
    else:
        summary = summarize_column(datasets.load_digits().data[:, 20])
    runs = [0, 0]
    for rate in (0.3, 1.0, 1.5, 2.0, 2.5, 3.0):
        found = []
        for k, search in enumerate((_lagrangian.solve_rate, naive_solve_rate)):
            solve = _Lagrangian(summary, 64)

            def counted(lam, solve=solve, k=k):
                runs[k] += 1
                return solve(lam)

            found.append(search(counted, rate, 1.0))
        (lam, mse, bits, pos), (lam2, mse2, bits2, pos2) = found
        assert lam == lam2 and mse == mse2 and bits == bits2
        np.testing.assert_array_equal(pos, pos2)
    assert runs[0] <= runs[1] * 2 / 3, runs


def test_layered_dp_reads_no_uninitialised_memory():
    """The layered DP (taken when the optimum over any number of cells has more than
    ``max_cells``) on work arrays full of garbage, as ``np.empty`` may hand them out:
    the same optimum as the naive DP (``cur[0]`` used to be read unwritten: after a
    dirty allocation, negative costs and too few cells, at random)."""
    from skquant._kernels._ecsq import _at_most

    rng = np.random.default_rng(7)
    for garbage in (-1e3, np.nan, 1e300, 0.0):
        for _ in range(25):
            n = int(rng.integers(3, 12))
            x = np.sort(rng.standard_normal(n))
            w = rng.random(n) + 0.05
            M = int(rng.integers(2, n))
            lam = float(rng.choice([0.001, 0.01, 0.1]))
            W, S1, S2 = _prefix(x, w)
            pos = np.full(n + 1, -5, dtype=np.int64)
            backs = np.full((M + 1, n + 1), 7, dtype=np.int64)
            dirty = [np.full(n + 1, garbage) for _ in range(2)]
            n_cells, cost = _at_most(W, S1, S2, lam, W[-1], M, backs, *dirty, pos)
            ref_cost, _ = naive_partition(w, x, lam, M)
            assert cost == pytest.approx(ref_cost, rel=1e-9, abs=1e-12), garbage
            assert 1 <= n_cells <= M and pos[0] == 0 and pos[n_cells] == n
            assert np.all(np.diff(pos[: n_cells + 1]) > 0)


def _ecuq(x, entropy):
    """MSE of the best entropy-coded uniform quantizer with centroid reconstruction
    at ``entropy`` bits: steps scanned (midtread and midrise), MSE interpolated at
    that entropy along each scan, the better of the two."""
    best = np.inf
    for offset in (0.5, 0.0):
        H, D = [], []
        for step in np.geomspace(0.05, 4.0, 160):
            codes = np.floor(x / step + offset).astype(np.int64)
            codes -= codes.min()
            n = np.bincount(codes).astype(np.float64)
            s = np.bincount(codes, weights=x)
            s2 = np.bincount(codes, weights=x * x)
            keep = n > 0
            D.append((s2[keep] - s[keep] ** 2 / n[keep]).sum() / x.size)
            p = n[keep] / x.size
            H.append(-(p * np.log2(p)).sum())
        H, D = np.array(H), np.array(D)
        order = np.argsort(H)
        best = min(best, float(np.interp(entropy, H[order], D[order])))
    return best


@pytest.fixture(scope="module")
def gaussian():
    return np.random.default_rng(0).standard_normal((300_000, 1))


@pytest.mark.parametrize("rate", [1, 2, 3, 4])
def test_gaussian_within_half_a_percent_of_ecuq(gaussian, rate):
    q = EntropyConstrainedQuantizer(rate=rate).fit(gaussian)
    H, D = float(q.entropy_[0]), float(q.mse_[0])
    assert rate - 0.05 <= H <= rate
    x = gaussian[:, 0]
    assert D == pytest.approx(np.mean((x - q.inverse_transform(q.transform(gaussian))[:, 0]) ** 2))
    ratio = D / _ecuq(x, H)
    print(f"rate {rate}: H={H:.5f} D={D:.6g} D/ECUQ={ratio:.5f}")
    assert ratio <= 1.005
    if rate == 4:
        gap = H - 0.5 * np.log2(np.var(x) / D)  # R(D) of the Gaussian of that variance
        print(f"rate 4: {gap:.4f} bit above R(D)")
        assert gap <= 0.26


def _columns():
    for load in (datasets.load_diabetes, datasets.load_wine, datasets.load_breast_cancer):
        X = load().data
        yield load.__name__, X[:, :6]


@pytest.mark.parametrize("rate", [1, 2, 3])
def test_never_above_the_fixed_rate_optimum(rate):
    for name, X in _columns():
        ec = EntropyConstrainedQuantizer(rate=rate).fit(X)
        fr = LloydMaxQuantizer(n_bits=rate, algorithm="optimal").fit(X)
        assert np.all(ec.entropy_ <= rate + 1e-12), name
        assert np.all(ec.mse_ <= fr.mse_ * (1 + 1e-9) + 1e-300), (name, ec.mse_, fr.mse_)
        assert np.mean(ec.mse_ < fr.mse_ * 0.999) >= 0.5, name  # and mostly far below


def test_laplacian_dead_zone_matches_the_ecsq_curve():
    X = np.random.default_rng(3).laplace(size=(200_000, 1))
    for lam in (0.3, 0.1, 0.03):
        dz = DeadZoneQuantizer(n_levels=63, lam=lam).fit(X)
        ec = EntropyConstrainedQuantizer(rate=float(dz.entropy_[0])).fit(X)
        ratio = float(dz.mse_[0] / ec.mse_[0])
        print(f"lam {lam}: H={dz.entropy_[0]:.4f} DZ/ECSQ={ratio:.5f}")
        assert ec.entropy_[0] <= dz.entropy_[0] + 1e-12
        assert ratio <= 1.01


def test_lam_trades_bits_for_error():
    X = np.random.default_rng(4).standard_normal((20_000, 2))
    fits = [EntropyConstrainedQuantizer(lam=lam).fit(X) for lam in (0.001, 0.01, 0.1, 1.0)]
    H = np.array([q.entropy_ for q in fits])
    D = np.array([q.mse_ for q in fits])
    assert np.all(np.diff(H, axis=0) < 0) and np.all(np.diff(D, axis=0) > 0)
    np.testing.assert_array_equal(fits[1].lam_, [0.01, 0.01])
    # each is the minimiser of its own cost among all of them
    for i, lam in enumerate((0.001, 0.01, 0.1, 1.0)):
        cost = D + lam * H
        assert np.all(cost[i] <= cost.min(axis=0) * (1 + 1e-12))


def test_max_levels_caps_the_count():
    X = np.random.default_rng(5).standard_normal((5000, 1))
    q = EntropyConstrainedQuantizer(lam=1e-4, max_levels=6).fit(X)
    assert q.n_levels_[0] == 6
    fr = LloydMaxQuantizer(n_levels=6, algorithm="optimal").fit(X)
    cost = q.mse_[0] + 1e-4 * q.entropy_[0]
    assert q.mse_[0] <= fr.mse_[0] * 1.01 and cost <= fr.mse_[0] + 1e-4 * np.log2(6)


def test_weights_are_repetitions():
    rng = np.random.default_rng(6)
    X = np.round(rng.standard_normal((300, 2)), 2)
    w = rng.integers(0, 4, 300)
    a = EntropyConstrainedQuantizer(rate=1.5).fit(X, sample_weight=w)
    b = EntropyConstrainedQuantizer(rate=1.5).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.levels_, b.levels_, rtol=1e-12)
    np.testing.assert_allclose(a.entropy_, b.entropy_, rtol=1e-12)


def test_partial_fit_follows_fit():
    X = np.random.default_rng(7).standard_normal((50_000, 1))
    full = EntropyConstrainedQuantizer(rate=2.0).fit(X)
    part = EntropyConstrainedQuantizer(rate=2.0)
    for chunk in np.array_split(X, 5):
        part.partial_fit(chunk)
    assert part.mse_[0] == pytest.approx(full.mse_[0], rel=0.01)
    assert part.entropy_[0] <= 2.0


def test_default_is_4_bits():
    X = np.random.default_rng(8).standard_normal((3000, 1))
    a, b = EntropyConstrainedQuantizer().fit(X), EntropyConstrainedQuantizer(rate=4).fit(X)
    np.testing.assert_array_equal(a.levels_, b.levels_)
    assert 3.8 <= a.entropy_[0] <= 4.0


@pytest.mark.parametrize("params, match", [
    ({"lam": 0.1, "rate": 2.0}, "takes lam or rate, not both"),
    ({"lam": -0.1}, "The 'lam' parameter"),
    ({"rate": 0.0}, "The 'rate' parameter"),
    ({"rate": -1.0}, "The 'rate' parameter"),
    ({"rate": 3.5, "max_levels": 8}, "above log2(max_levels)"),
    ({"rate": 1.0, "max_levels": 1}, "The 'max_levels' parameter"),
    ({"rate": 1.0, "max_levels": True}, "max_levels"),
])
def test_bad_parameters(params, match):
    X = np.random.default_rng(0).standard_normal((50, 2))
    with pytest.raises(InvalidParameterError, match=match.replace("(", r"\(").replace(")", r"\)")):
        EntropyConstrainedQuantizer(**params).fit(X)
