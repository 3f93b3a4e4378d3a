"""The mergeable column sketch behind streaming fits (issue 7 building block)."""

import naive
import numpy as np
import pytest

from skquant import _kernels as K
from skquant._summary import MAX_BINS, ColumnSketch, sorted_unique


def test_bins_are_monotone_and_nested():
    v = np.sort(np.random.default_rng(0).standard_normal(20000) * 50)
    idx = np.array([K.bin_index(x, 12) for x in v])
    assert np.all(np.diff(idx) >= 0)
    for level in (1, 3):
        assert np.all(np.diff(idx >> level) >= 0)  # coarser bins are unions of finer ones


def test_summary_moments_are_exact(rng):
    """Binning approximates nothing in the total weight and the first two moments: they
    equal NumPy's sums up to the rounding of a different summation order."""
    x = rng.lognormal(size=50000)
    w = rng.uniform(0.5, 2.0, x.size)
    s = ColumnSketch.from_batch(x[:1000], w[:1000]).add(x[1000:], w[1000:]).to_summary()
    assert s.W[-1] == pytest.approx(w.sum(), rel=1e-14)
    assert s.S1[-1] == pytest.approx(np.dot(w, x - s.shift), rel=1e-12)
    # the bins' weights sit at their centroids; `within` holds the rest of the spread
    assert s.S2[-1] + s.within == pytest.approx(np.dot(w, (x - s.shift) ** 2), rel=1e-12)
    assert 0 < s.within < 1e-6 * s.S2[-1]


def test_merging_in_any_order_gives_the_same_summary(rng):
    base = ColumnSketch.from_batch(rng.standard_normal(100))
    parts = [
        ColumnSketch(base.centre, base.log2_scale).add(rng.lognormal(size=20000) * (i + 1) - i)
        for i in range(5)
    ]
    a = parts[0].merge(parts[1]).merge(parts[2]).merge(parts[3]).merge(parts[4])
    b = parts[4].merge(parts[2].merge(parts[3])).merge(parts[1].merge(parts[0]))
    sa, sb = a.to_summary(), b.to_summary()
    for x, y in zip(sa[:4], sb[:4]):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="same centre"):
        a.merge(ColumnSketch(base.centre + 1, base.log2_scale))


def test_memory_is_bounded(rng):
    sk = ColumnSketch.from_batch(rng.standard_normal(1000))
    sizes = []
    for spread in (1e2, 1e6, 1e12, 1e100):
        sk.add(rng.standard_normal(20000) * spread)
        sizes.append(sk.nbytes)
    assert max(sizes) <= 6 * 8 * MAX_BINS
    assert sk.to_summary().W[-1] == 81000


def test_optimal_design_from_the_sketch_is_near_the_full_optimum(rng):
    from skquant import LloydMaxQuantizer

    x = rng.standard_normal(200_000)
    s = ColumnSketch.from_batch(x).to_summary()
    pos = np.empty(17, dtype=np.int64)
    K.optimal_partition(s.W, s.S1, s.S2, 16, pos)
    levels = np.zeros(16)
    K.centroids(s.W, s.S1, s.shift, pos, levels)
    t = 0.5 * (levels[1:] + levels[:-1])
    u, w = naive.summary(x)
    sketch_mse = naive.sse(u, w, t, levels) / x.size
    full = LloydMaxQuantizer(n_bits=4, algorithm="optimal").fit(x[:, None]).mse_[0]
    assert full <= sketch_mse <= full * (1 + 1e-4)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 2049])
def test_sorted_unique_is_np_unique(n):
    rng = np.random.default_rng(n)
    for high in (3, n + 1, 10**9):
        a = rng.integers(-high, high, n)
        got = sorted_unique(a)
        np.testing.assert_array_equal(got, np.unique(a))
        assert got.dtype == a.dtype
