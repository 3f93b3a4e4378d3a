"""The exact optimum (``algorithm="optimal"``, ``skquant._kernels._optimal``) against its
NumPy twin (tests/naive_optimal.py), against Ckmeans.1d.dp (through ckwrap, its Python
binding) on real columns, and the Ckmeans.1d.dp test cases that use k = 3."""

import warnings

import naive
import naive_optimal
import numpy as np
import pytest
from sklearn import datasets

from skquant import LloydMaxQuantizer
from skquant import _kernels as K
from skquant._kernels import _optimal
from skquant._summary import summarize_column


def _kernel(x, w, n_cells):
    s = summarize_column(x, w)
    pos = np.empty(n_cells + 1, dtype=np.int64)
    cost = K.optimal_partition(s.W, s.S1, s.S2, n_cells, pos)
    return cost, pos


def _random_case(rng):
    """A small column: continuous, rounded (ties) or a few integers; weighted or not."""
    n = int(rng.integers(1, 40))
    kind = rng.integers(3)
    x = rng.standard_normal(n) * 10 ** rng.uniform(-3, 3)
    if kind == 1:
        x = np.round(x, 1)
    elif kind == 2:
        x = rng.integers(-3, 4, n).astype(float)
    w = rng.uniform(0.05, 5.0, n) if rng.random() < 0.5 else None
    return x, w


def test_kernel_equals_the_naive_dp_on_many_random_cases(rng):
    """2000 random small cases (ties, weights, 1 cell up to every distinct value):
    the same minimum, and the kernel's cells cost exactly that minimum."""
    n_cases = 0
    for _ in range(2000):
        x, w = _random_case(rng)
        u, tot = naive.summary(x, w)
        n_cells = int(rng.integers(1, len(u) + 1))
        cost, pos = _kernel(x, w, n_cells)
        expected, expected_pos = naive_optimal.reference_dp(u, tot, n_cells)
        scale = float((tot * u**2).sum())  # rounding of the naive costs is relative to it
        assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12 * scale)
        mine = sum(naive.cell_cost(u[a:b], tot[a:b]) for a, b in zip(pos[:-1], pos[1:]))
        assert mine == pytest.approx(expected, rel=1e-9, abs=1e-12 * scale)
        assert np.all(np.diff(pos) > 0), "every cell holds a value"
        if w is not None and np.unique(x).size == x.size:
            # continuous weights on distinct values: no two partitions cost the same,
            # so the cells themselves are identical
            np.testing.assert_array_equal(pos, expected_pos)
            n_cases += 1
    assert n_cases > 100


@pytest.mark.parametrize("n_levels", [2, 3, 7, 16])
def test_estimator_equals_the_naive_dp_with_ties_and_weights(rng, n_levels):
    x = np.round(rng.standard_normal(120), 1)
    w = rng.exponential(size=x.size)
    q = LloydMaxQuantizer(n_levels=n_levels, algorithm="optimal").fit(x[:, None], sample_weight=w)
    u, tot = naive.summary(x, w)
    expected, pos = naive_optimal.reference_dp(u, tot, n_levels)
    assert q.mse_[0] * tot.sum() == pytest.approx(expected, rel=1e-9)
    centroids = [np.average(u[a:b], weights=tot[a:b]) for a, b in zip(pos[:-1], pos[1:])]
    np.testing.assert_allclose(q.levels_[0], centroids, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("extra", [0, 1, 5])
def test_as_many_levels_as_distinct_values_or_more_is_exact(rng, extra):
    x = rng.integers(0, 6, 200).astype(float)  # 6 distinct values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = LloydMaxQuantizer(n_levels=6 + extra, algorithm="optimal").fit(x[:, None])
    assert q.mse_[0] == 0.0
    np.testing.assert_array_equal(q.inverse_transform(q.transform(x[:, None]))[:, 0], x)


# --- the pruned programme of long columns ------------------------------------------------
# Columns with at least 4096 distinct values are solved on the windows that the block
# bounds leave to each boundary (skquant._kernels._optimal._prune); the windows must
# hold the optimum, whatever the shape of the column.

def _long_column(rng, kind, n):
    if kind == "normal":
        return rng.standard_normal(n)
    if kind == "ties":
        return np.round(rng.standard_normal(n) * 300)
    if kind == "clusters":  # a tight cluster far from the bulk
        return np.concatenate([rng.standard_normal(n - n // 3),
                               8 + 1e-3 * rng.standard_normal(n // 3)])
    if kind == "cauchy":
        return rng.standard_cauchy(n)
    return rng.exponential(size=n) ** 3  # "skewed"


KINDS = ["normal", "ties", "clusters", "cauchy", "skewed"]


@pytest.mark.parametrize("kind", KINDS)
def test_long_columns_equal_the_vectorised_dp(rng, kind):
    """k >= 4096: the kernel (pruned) against the plain O(M k^2) programme."""
    x = _long_column(rng, kind, 4600)
    w = rng.uniform(0.2, 3.0, x.size) if kind in ("normal", "cauchy") else None
    s = summarize_column(x, w)
    if s.u.size < 4096:
        x = np.concatenate([x, rng.standard_normal(4096) * 1e-3 + 100])
        w = None if w is None else np.concatenate([w, np.ones(4096)])
        s = summarize_column(x, w)
    assert s.u.size >= 4096
    for n_cells in (2, 5):
        pos = np.empty(n_cells + 1, dtype=np.int64)
        cost = K.optimal_partition(s.W, s.S1, s.S2, n_cells, pos)
        expected, expected_pos = naive_optimal.prefix_dp(s.W, s.S1, s.S2, n_cells)
        assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12 * s.S2[-1])
        if w is not None:  # continuous weights: the optimal cells are unique
            np.testing.assert_array_equal(pos, expected_pos)


def _full_ranges(k, M):
    lo = np.arange(M + 1, dtype=np.int64)
    hi = k - (M - np.arange(M + 1, dtype=np.int64))
    hi[0], lo[M] = 0, k
    return lo, hi


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_cells", [3, 8, 16])
def test_pruned_windows_hold_the_optimum(rng, kind, n_cells):
    """The block bounds on 1200 values (blocks of 10): the programme on what they
    leave finds the plain programme's optimum, and on continuous data they leave
    little."""
    x = _long_column(rng, kind, 1200)
    w = rng.uniform(0.2, 3.0, x.size)
    s = summarize_column(x, w)
    k = s.u.size
    lo, hi = _full_ranges(k, n_cells)
    _optimal._prune(s.W, s.S1, s.S2, n_cells, lo, hi, k // 10)
    assert np.all(lo <= hi)
    pos = np.empty(n_cells + 1, dtype=np.int64)
    pos[0], pos[-1] = 0, k
    cost = _optimal._solve(s.W, s.S1, s.S2, n_cells, lo, hi, pos, 4 * k)
    expected, expected_pos = naive_optimal.prefix_dp(s.W, s.S1, s.S2, n_cells)
    assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12 * s.S2[-1])
    np.testing.assert_array_equal(pos, expected_pos)
    assert np.all((lo <= expected_pos) & (expected_pos <= hi))
    if kind == "normal":
        left = (hi - lo + 1)[1:-1].sum()
        assert left < 0.5 * (n_cells - 1) * k, left / k


@pytest.mark.parametrize("n_cells", [2, 3, 6, 13])
def test_hirschberg_halving_equals_the_back_pointers(rng, n_cells):
    """With room for almost no back-pointers the boundaries come from Hirschberg's
    halving (forward and backward programmes meeting at the middle boundary)."""
    for _ in range(20):
        x, w = _random_case(rng)
        x = np.concatenate([x, rng.standard_normal(60)])
        w = None if w is None else np.concatenate([w, rng.uniform(0.1, 2.0, 60)])
        s = summarize_column(x, w)
        k = s.u.size
        M = min(n_cells, k)
        lo, hi = _full_ranges(k, M)
        pos = np.empty(M + 1, dtype=np.int64)
        pos[0], pos[-1] = 0, k
        cost = _optimal._solve(s.W, s.S1, s.S2, M, lo, hi, pos, 3)
        u, tot = naive.summary(x, w)
        expected, _ = naive_optimal.reference_dp(u, tot, M)
        scale = float((tot * u**2).sum())
        assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12 * scale)
        mine = sum(naive.cell_cost(u[a:b], tot[a:b]) for a, b in zip(pos[:-1], pos[1:]))
        assert mine == pytest.approx(expected, rel=1e-9, abs=1e-12 * scale)
        assert np.all(np.diff(pos) > 0)


# --- against Ckmeans.1d.dp (ckwrap) on scikit-learn's bundled datasets -----------------

def _real_columns():
    loaders = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": lambda: datasets.load_diabetes(scaled=False),
        "digits": datasets.load_digits,
    }
    return {name: load().data for name, load in loaders.items()}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("k", [3, 5, 6, 10, 12])
def test_same_optimum_as_ckmeans_on_real_columns(k, weighted):
    """The within-cluster sum of squares of Ckmeans.1d.dp, to 1e-9 relative, on every
    column with more than k distinct values (issue 13's acceptance)."""
    ckwrap = pytest.importorskip("ckwrap")
    rng = np.random.default_rng(k)
    n_compared = 0
    for name, X in _real_columns().items():
        w = rng.uniform(0.1, 3.0, X.shape[0]) if weighted else None
        keep = [j for j in range(X.shape[1]) if np.unique(X[:, j]).size > k]
        q = LloydMaxQuantizer(n_levels=k, algorithm="optimal").fit(X[:, keep], sample_weight=w)
        for i, j in enumerate(keep):
            x = np.ascontiguousarray(X[:, j], dtype=np.float64)
            ref = ckwrap.ckmeans(x, k, weights=w) if weighted else ckwrap.ckmeans(x, k)
            total = x.size if w is None else w.sum()
            assert q.mse_[i] * total == pytest.approx(
                np.sum(ref.withinss), rel=1e-9
            ), (name, j)
            n_compared += 1
    assert n_compared > 100


# --- the Ckmeans.1d.dp test cases with k = 3 ---------------------------------------------
# Ported from tests/testthat/test_Ckmeans.1d.dp.R of the R package Ckmeans.1d.dp 4.3.5
# (github.com/cran/Ckmeans.1d.dp): "Weighted input", "Given the number of clusters" and
# "n==10, k==3" with their expectations unchanged (R's clusters are 1-based, skquant's
# codes 0-based; `size` counts the weight of each cluster). The two "Estimating k" cases
# whose selected k is 3 are run at k = 3 and expect the partition R selects.

def _ckmeans_like(x, k, y=None):
    """Ckmeans.1d.dp's result fields from LloydMaxQuantizer(algorithm="optimal")."""
    x = np.asarray(x, dtype=float)
    w = np.ones_like(x) if y is None else np.asarray(y, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # k distinct values: stored exactly, with a warning
        q = LloydMaxQuantizer(n_levels=k, algorithm="optimal").fit(
            x[:, None], sample_weight=None if y is None else w
        )
    cluster = q.transform(x[:, None])[:, 0].astype(int) + 1
    centers = q.levels_[0, :k]
    size = np.array([w[cluster == c].sum() for c in range(1, k + 1)])
    withinss = np.array([(w[cluster == c] * (x[cluster == c] - centers[c - 1]) ** 2).sum()
                         for c in range(1, k + 1)])
    return cluster, centers, size, withinss


def test_ckmeans_weighted_input():
    cluster, centers, size, withinss = _ckmeans_like([-1, 2, 4, 5, 6], 3, [4, 3, 1, 1, 1])
    np.testing.assert_array_equal(size, [4, 3, 3])
    np.testing.assert_array_equal(cluster, [1, 2, 3, 3, 3])
    np.testing.assert_allclose(centers, [-1, 2, 5])
    np.testing.assert_allclose(withinss, [0, 0, 2], atol=1e-12)


def test_ckmeans_given_the_number_of_clusters():
    x = np.array([-1, 2, -1, 2, 4, 5, 6, -1, 2, -1], dtype=float)
    cluster, centers, size, withinss = _ckmeans_like(x, 3)
    np.testing.assert_array_equal(size, [4, 3, 3])
    np.testing.assert_array_equal(cluster, [1, 2, 1, 2, 3, 3, 3, 1, 2, 1])
    np.testing.assert_allclose(centers, [-1, 2, 5])
    np.testing.assert_allclose(withinss, [0, 0, 2], atol=1e-12)
    totss = ((x - x.mean()) ** 2).sum()
    assert withinss.sum() == pytest.approx(2)
    assert totss - withinss.sum() == pytest.approx(totss - 2)  # betweenss


def test_ckmeans_n10_k3():
    cluster, centers, size, withinss = _ckmeans_like([3, 3, 3, 3, 1, 1, 1, 2, 2, 2], 3)
    np.testing.assert_array_equal(cluster, [3, 3, 3, 3, 1, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(centers, [1, 2, 3])
    np.testing.assert_array_equal(withinss, [0, 0, 0])
    np.testing.assert_array_equal(size, [3, 3, 4])


def test_ckmeans_estimating_k_set_2_at_k3():
    x = [3.5, 3.6, 3.7, 3.1, 1.1, 0.9, 0.8, 2.2, 1.9, 2.1]
    cluster, centers, size, withinss = _ckmeans_like(x, 3)
    np.testing.assert_array_equal(cluster, [3, 3, 3, 3, 1, 1, 1, 2, 2, 2])
    np.testing.assert_allclose(centers, [0.933333333333, 2.066666666667, 3.475000000000])
    np.testing.assert_allclose(withinss, [0.0466666666667, 0.0466666666667, 0.2075],
                               rtol=1e-10)
    np.testing.assert_array_equal(size, [3, 3, 4])


def test_ckmeans_estimating_k_set_4_gamma_at_k3():
    from scipy import stats

    x = stats.gamma(2).pdf(np.arange(1, 10.5, 0.5))  # dgamma(seq(1, 10, by=0.5), 2, 1)
    cluster, centers, size, withinss = _ckmeans_like(x, 3)
    np.testing.assert_array_equal(
        cluster, [3, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    )
    np.testing.assert_allclose(centers, [0.01702193495, 0.15342151455, 0.32441508262],
                               rtol=1e-9)
    np.testing.assert_allclose(withinss, [0.006126754998, 0.004977009034, 0.004883305120],
                               rtol=1e-9)
    np.testing.assert_array_equal(size, [13, 3, 3])


# --- many cells: the Lagrangian search (skquant._kernels._optimal._lagrange) ------------
# At 32 cells or more on columns of 4096 distinct values or more, the optimum comes from
# penalised programmes (least cost + lam * cells) and, where the least cost is linear in
# the number of cells around M, from splicing two penalised optima.

def test_penalised_programme_equals_its_naive_twin(rng):
    """The queue-based penalised programme against every split tried (ties, weights,
    penalties from every cell alone to one cell)."""
    for _ in range(60):
        x, w = _random_case(rng)
        x = np.concatenate([x, rng.standard_normal(int(rng.integers(1, 150)))])
        w = None if w is None else np.concatenate([w, rng.uniform(0.1, 2.0, x.size - w.size)])
        s = summarize_column(x, w)
        k = s.u.size
        lam = float(s.S2[-1] - s.S1[-1] ** 2 / s.W[-1]) * 10 ** rng.uniform(-6, 0)
        expected = naive_optimal.penalised_dp(s.W, s.S1, s.S2, lam)
        scale = 1e-12 * abs(s.S2[-1])
        safe = _optimal._cross_safe(s.W, s.S2, lam)
        assert safe == bool(np.all(np.diff(s.W) > 0))
        # divided, and multiplied out where safe; the queue compacted every few entries
        for cross, first in {(False, 1 << 15), (safe, 1 << 15), (safe, 4)}:
            F, dv, dh = np.empty(k + 1), np.empty(k + 1), np.empty(k + 1)
            arg, dq, ds = (np.empty(k + 1, dtype=np.int32) for _ in range(3))
            c = _optimal._penalised(s.W, s.S1, s.S2, lam, F, arg, dq, ds, dv, dh, cross,
                                    first)
            np.testing.assert_allclose(F, expected, rtol=1e-9, atol=scale)
            cells = np.empty(c + 1, dtype=np.int64)
            cost = _optimal._trace(s.W, s.S1, s.S2, arg, c, cells)
            assert cells[0] == 0 and cells[-1] == k and np.all(np.diff(cells) > 0)
            assert cost + lam * c == pytest.approx(expected[k], rel=1e-9, abs=scale)


def _lagrange_column(rng, kind, n):
    if kind == "grid":  # equally spaced, equal weights: f(c) linear between divisors
        return np.repeat(np.arange(n // 3, dtype=float), 3)
    if kind == "arange":
        return np.arange(float(n))
    return _long_column(rng, kind, n)


@pytest.mark.parametrize("kind", KINDS + ["grid", "arange"])
def test_lagrangian_search_equals_the_vectorised_dp(rng, kind):
    """The search on 700 values, from 2 cells to one fewer than the distinct values,
    weighted or not: the plain programme's optimum, and its cells where the optimum is
    unique (continuous weights)."""
    statuses = []
    for weighted in (False, True):
        x = _lagrange_column(rng, kind, 700)
        w = rng.uniform(0.2, 3.0, x.size) if weighted else None
        s = summarize_column(x, w)
        k = s.u.size
        for M in (2, 7, 33, 100, k - 1):
            pos = np.empty(M + 1, dtype=np.int64)
            cost, status, _, _ = _optimal._lagrange(s.W, s.S1, s.S2, M, pos, 0.0)
            statuses.append(status)
            assert status in (1, 2)
            expected, expected_pos = naive_optimal.prefix_dp(s.W, s.S1, s.S2, M)
            tol = dict(rel=1e-9, abs=1e-12 * s.S2[-1])
            assert cost == pytest.approx(expected, **tol), (M, status)
            assert pos[0] == 0 and pos[-1] == k and np.all(np.diff(pos) > 0)
            mine = sum(_optimal._cell_cost(s.W, s.S1, s.S2, a, b)
                       for a, b in zip(pos[:-1], pos[1:]))
            assert mine == pytest.approx(expected, **tol)
            if weighted and kind in ("normal", "cauchy") and M < k - 1:
                np.testing.assert_array_equal(pos, expected_pos)
    if kind in ("grid", "arange"):
        assert 2 in statuses, "the linear stretches of f are spliced"


def test_splice_of_two_penalised_optima():
    """60 equally spaced values: from 30 to 60 cells the optimum has cells of 1 and 2
    values, f(c) = (60 - c) / 2 is linear, so 30 and 40 cells are both optimal for the
    penalty 1/2, and their splice gives optimal partitions of every number between."""
    s = summarize_column(np.arange(60.0), None)
    _, P = naive_optimal.prefix_dp(s.W, s.S1, s.S2, 30)
    _, Q = naive_optimal.prefix_dp(s.W, s.S1, s.S2, 40)
    for M in (31, 33, 37, 39):
        pos = np.empty(M + 1, dtype=np.int64)
        _optimal._splice(P, 30, Q, 40, M, pos)
        cost = sum(_optimal._cell_cost(s.W, s.S1, s.S2, a, b) for a, b in zip(pos[:-1], pos[1:]))
        assert pos[0] == 0 and pos[-1] == 60 and np.all(np.diff(pos) > 0)
        assert cost == pytest.approx((60 - M) / 2, rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_many_cells_on_long_columns_equal_the_pruned_programme(rng, kind):
    """k >= 10240 at 40 cells: the Lagrangian search (started from the grid's penalty)
    against the block-pruned exact programme (the path of fewer cells)."""
    x = _long_column(rng, kind, 12000)
    w = rng.uniform(0.2, 3.0, x.size) if kind in ("normal", "cauchy") else None
    s = summarize_column(x, w)
    k = s.u.size
    M = 40
    pos = np.empty(M + 1, dtype=np.int64)
    cost, status, solves = _optimal._many_cells(s.W, s.S1, s.S2, M, pos)
    assert status in (1, 2)
    lo, hi = _full_ranges(k, M)
    ref = np.empty(M + 1, dtype=np.int64)
    ref[0], ref[-1] = 0, k
    if k >= 4096:
        _optimal._prune(s.W, s.S1, s.S2, M, lo, hi, max(k // 400, 8 * M))
    expected = _optimal._solve(s.W, s.S1, s.S2, M, lo, hi, ref, 4 * k)
    assert cost == pytest.approx(expected, rel=1e-9, abs=1e-12 * s.S2[-1])
    if w is not None:
        np.testing.assert_array_equal(pos, ref)
    if kind == "normal":
        assert solves == 1, "the grid's penalty gives M cells on the column"
    top = np.empty(M + 1, dtype=np.int64)
    assert K.optimal_partition(s.W, s.S1, s.S2, M, top) == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize("kind", ["normal", "ties", "clusters"])
def test_high_rate_penalty_is_near_the_grids(rng, kind):
    """The first penalty of the grid's search (the high-rate law, from the density on
    the grid) within 15% of the penalty that the search finds on the grid, where the
    law holds (not for Cauchy's tails: 8 to 100 times too large, measured)."""
    x = _long_column(rng, kind, 40000)
    s = summarize_column(x, None)
    k = s.u.size
    for M in (32, 64):
        e = _optimal._grid(s.W, s.S1, min(64 * M, k // 4))
        lam0 = _optimal._high_rate_penalty(s.W, s.S1, e, M)
        pos = np.empty(M + 1, dtype=np.int64)
        _, status, lam, _ = _optimal._lagrange(s.W[e], s.S1[e], s.S2[e], M, pos, 0.0)
        assert status == 1
        assert lam0 == pytest.approx(lam, rel=0.15), (kind, M)
