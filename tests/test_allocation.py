"""Bit allocation: greedy vs exhaustive, vs uniform widths and reverse water-filling."""

import numpy as np
import pytest
from sklearn import datasets

from skquant import LloydMaxQuantizer, allocate_bits, reverse_water_filling
from skquant._allocation import _exact, _exhaustive, _greedy


@pytest.mark.parametrize("budget", range(3, 10))
def test_greedy_equals_exhaustive_on_a_small_problem(budget):
    rng = np.random.default_rng(0)
    X = np.stack(
        [rng.standard_normal(4000), 3 * rng.laplace(size=4000), rng.uniform(0, 9, 4000)],
        axis=1,
    )
    est = LloydMaxQuantizer(algorithm="optimal")
    alloc = allocate_bits(est, X, budget, min_bits=1, max_bits=4)
    best = _exhaustive(alloc.curves, budget - 3)
    expected = alloc.curves[np.arange(3), best].sum()
    assert alloc.total_mse == pytest.approx(expected, rel=1e-12)
    assert alloc.n_bits.sum() == min(budget, 12)


def test_exact_dp_equals_exhaustive_on_any_curves():
    rng = np.random.default_rng(1)
    for _ in range(30):
        curves = rng.uniform(0, 1, (3, 5))  # not convex, not even decreasing
        for extra in range(0, 13):
            idx = _exact(curves, extra)
            # random curves have no ties: the optimum is unique, the same allocation
            np.testing.assert_array_equal(idx, _exhaustive(curves, extra))
            assert idx.sum() == min(extra, 12)


def test_greedy_is_optimal_for_convex_curves():
    rng = np.random.default_rng(2)
    for _ in range(20):
        # convex decreasing curves: cumulative sums of decreasing positive steps
        steps = np.sort(rng.uniform(0.01, 1, (4, 6)), axis=1)[:, ::-1]
        curves = 10 - np.concatenate([np.zeros((4, 1)), np.cumsum(steps, axis=1)], axis=1)
        for extra in range(0, 25):
            g, e = _greedy(curves, extra), _exact(curves, extra)
            assert curves[np.arange(4), g].sum() == pytest.approx(curves[np.arange(4), e].sum())


@pytest.fixture(scope="module", params=["diabetes", "breast_cancer"])
def measured(request):
    """One end-to-end allocation per dataset; its curves serve the other budgets."""
    X = getattr(datasets, f"load_{request.param}")().data
    alloc = allocate_bits(LloydMaxQuantizer(), X, 3 * X.shape[1], max_bits=8)
    return X, alloc


@pytest.mark.parametrize("per_feature", [2, 3, 4])
def test_allocation_beats_uniform_widths_and_water_filling(measured, per_feature):
    X, alloc3 = measured
    d = X.shape[1]
    curves, bits = alloc3.curves, alloc3.bits
    idx = _greedy(curves, per_feature * d - d)
    if per_feature == 3:  # the end-to-end call made the same choice
        np.testing.assert_array_equal(bits[idx], alloc3.n_bits)
    total = curves[np.arange(d), idx].sum()
    assert bits[idx].sum() == per_feature * d
    assert total < curves[:, per_feature - 1].sum()  # same width for every feature
    wf = reverse_water_filling(X.var(axis=0), per_feature * d, max_bits=8)
    assert wf.sum() == per_feature * d
    assert total <= curves[np.arange(d), wf - 1].sum() * (1 + 1e-12)


def test_reverse_water_filling_rule():
    var = np.array([1.0, 4.0, 16.0, 64.0])
    # b_j = 3 + 0.5 log2(var_j / GM(var)), GM = 8: b = [1.5, 2.5, 3.5, 4.5]
    n_bits = reverse_water_filling(var, budget=12, min_bits=0, max_bits=8)
    assert n_bits.sum() == 12
    assert np.all(np.abs(n_bits - [1.5, 2.5, 3.5, 4.5]) <= 0.5)
    # clipped at max_bits, the excess goes to the others
    np.testing.assert_array_equal(reverse_water_filling(var, 12, max_bits=3), [3, 3, 3, 3])


def test_budget_errors():
    X = np.random.default_rng(0).standard_normal((100, 3))
    with pytest.raises(ValueError, match="cannot give 3 features 2 bit"):
        allocate_bits(LloydMaxQuantizer(), X, 5, min_bits=2)
    with pytest.raises(ValueError, match="smaller than min_bits"):
        allocate_bits(LloydMaxQuantizer(), X, 9, min_bits=3, max_bits=2)


def test_allocation_fits_as_measured():
    X = datasets.load_diabetes().data
    est = LloydMaxQuantizer()
    alloc = allocate_bits(est, X, 3 * X.shape[1], max_bits=6)
    q = LloydMaxQuantizer(n_bits=alloc.n_bits).fit(X)
    mse = ((X - q.inverse_transform(q.transform(X))) ** 2).mean(axis=0)
    np.testing.assert_allclose(mse, alloc.mse, rtol=1e-12)
