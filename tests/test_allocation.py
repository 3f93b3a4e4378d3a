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
    best = _exhaustive(alloc.curves, alloc.rates, budget)
    expected = alloc.curves[np.arange(3), best].sum()
    assert alloc.total_mse == pytest.approx(expected, rel=1e-12)
    assert alloc.n_bits.sum() == budget
    np.testing.assert_array_equal(alloc.n_levels, 2**alloc.n_bits)
    np.testing.assert_array_equal(alloc.rate, alloc.n_bits)


def test_exact_dp_equals_exhaustive_on_any_curves():
    rng = np.random.default_rng(1)
    for _ in range(30):
        curves = rng.uniform(0, 1, (3, 5))  # not convex, not even decreasing
        costs = np.tile(np.arange(1, 6), (3, 1))
        for budget in range(3, 16):
            idx = _exact(curves, costs, budget)
            # random curves have no ties: the optimum is unique, the same allocation
            np.testing.assert_array_equal(idx, _exhaustive(curves, costs, budget))
            assert costs[np.arange(3), idx].sum() <= budget


def test_greedy_is_optimal_for_convex_curves():
    rng = np.random.default_rng(2)
    for _ in range(20):
        # convex decreasing curves: cumulative sums of decreasing positive steps
        steps = np.sort(rng.uniform(0.01, 1, (4, 6)), axis=1)[:, ::-1]
        curves = 10 - np.concatenate([np.zeros((4, 1)), np.cumsum(steps, axis=1)], axis=1)
        costs = np.tile(np.arange(1, 8), (4, 1))
        for budget in range(4, 29):
            g, e = _greedy(curves, costs, budget), _exact(curves, costs, budget)
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
    idx = _greedy(curves, alloc3.rates, per_feature * d)
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
    with pytest.raises(ValueError, match=r"outside \[6, 24\]: 3 features of 2 to 8 bits"):
        allocate_bits(LloydMaxQuantizer(), X, 5, min_bits=2)
    with pytest.raises(ValueError, match=r"outside \[3, 24\]"):
        allocate_bits(LloydMaxQuantizer(), X, 10**12)
    with pytest.raises(ValueError, match="smaller than min_bits"):
        allocate_bits(LloydMaxQuantizer(), X, 9, min_bits=3, max_bits=2)
    with pytest.raises(ValueError, match="min_bits"):
        allocate_bits(LloydMaxQuantizer(), X, 9, min_bits=True)
    with pytest.raises(ValueError, match="levels must be a 1-D array of ints"):
        allocate_bits(LloydMaxQuantizer(), X, 9, levels=[1, 3])
    with pytest.raises(ValueError, match="below the cheapest"):
        allocate_bits(LloydMaxQuantizer(), X, 2, levels=[3, 5])


@pytest.mark.parametrize(
    "variances, budget, params, match",
    [
        ([1.0, np.nan], 4, {}, "NaN"),
        ([1.0, np.inf], 4, {}, "infinity"),
        ([1.0, -2.0], 4, {}, "non-negative"),
        ([[1.0, 2.0]], 4, {}, "1-D"),
        ([], 4, {}, "minimum of 1"),
        ([1.0, 2.0], 100, {}, r"outside \[2, 16\]"),
        ([1.0, 2.0], 1, {}, r"outside \[2, 16\]"),
        ([1.0, 2.0], 4, {"min_bits": 5, "max_bits": 2}, "smaller than min_bits"),
        ([1.0, 2.0], 4.5, {}, "budget"),
        ([1.0, 2.0], True, {}, "budget"),
    ],
)
def test_reverse_water_filling_validates(variances, budget, params, match):
    with pytest.raises(ValueError, match=match):
        reverse_water_filling(variances, budget, **params)


def test_level_counts_with_entropy_rates_beat_widths(rng):
    """With the codes' entropy as the rate, any number of levels can be allocated,
    and the allocation is never worse than the best among widths alone."""
    X = np.c_[rng.laplace(size=3000), rng.standard_normal(3000), 4 * rng.standard_normal(3000)]
    est = LloydMaxQuantizer(algorithm="optimal")
    by_levels = allocate_bits(est, X, 6.0, levels=range(2, 17), rate="entropy")
    by_widths = allocate_bits(est, X, 6.0, levels=[2, 4, 8, 16], rate="entropy")
    assert by_levels.rate.sum() <= 6.0 + 1e-9 and by_widths.rate.sum() <= 6.0 + 1e-9
    assert by_levels.total_mse <= by_widths.total_mse
    assert by_levels.n_bits is None and set(by_levels.n_levels) <= set(range(2, 17))
    q = LloydMaxQuantizer(algorithm="optimal", n_levels=by_levels.n_levels).fit(X)
    np.testing.assert_allclose(
        ((X - q.inverse_transform(q.transform(X))) ** 2).mean(axis=0), by_levels.mse,
        rtol=1e-12,
    )


def test_allocation_fits_as_measured():
    X = datasets.load_diabetes().data
    est = LloydMaxQuantizer()
    alloc = allocate_bits(est, X, 3 * X.shape[1], max_bits=6)
    q = LloydMaxQuantizer(n_bits=alloc.n_bits).fit(X)
    mse = ((X - q.inverse_transform(q.transform(X))) ** 2).mean(axis=0)
    np.testing.assert_allclose(mse, alloc.mse, rtol=1e-12)
