"""skquant.design.entropy_constrained: the ECSQ designed from a density."""

import numpy as np
import pytest
from naive_ecsq import ecsq_partition as naive_ecsq_partition
from scipy import stats

from skquant import EntropyConstrainedQuantizer
from skquant.design import _density, _ecsq_design, _ecsq_grid_edges, entropy_constrained, lloyd_max


@pytest.fixture(scope="module")
def gaussian_samples():
    return np.random.default_rng(0).standard_normal((10**6, 1))


@pytest.mark.parametrize("rate", [1, 2, 3, 4])
def test_gaussian_matches_the_estimator_and_the_rate(rate, gaussian_samples):
    design = entropy_constrained("gaussian", rate=rate)
    assert design.method == "entropy_constrained"
    assert abs(design.entropy - rate) < 1e-3
    q = EntropyConstrainedQuantizer(rate=rate).fit(gaussian_samples)
    assert abs(design.mse / q.mse_[0] - 1) < 0.01
    # variable rate beats the fixed-rate optimum with 2**rate levels
    assert design.mse < lloyd_max("gaussian", 2**rate).mse
    # the quantizer does what the design says, on samples
    x = gaussian_samples[:, 0]
    assert np.mean((design.quantize(x) - x) ** 2) == pytest.approx(design.mse, rel=0.01)
    if rate == 4:  # within 0.26 bit of R(D) = log2(1 / D) / 2
        assert design.entropy - 0.5 * np.log2(1 / design.mse) < 0.26


def test_laplacian_has_a_dead_zone():
    design = entropy_constrained("laplace", rate=1.5)
    widths = np.diff(design.thresholds)
    middle = int(np.searchsorted(design.thresholds, 0.0))  # the cell holding 0
    zero_cell = widths[middle - 1]
    assert design.thresholds[middle - 1] < 0 < design.thresholds[middle]
    assert abs(design.thresholds[middle - 1] + design.thresholds[middle]) < 1e-2
    others = np.delete(widths, middle - 1)
    assert zero_cell > 1.15 * np.median(others)
    assert abs(design.levels[middle]) < 1e-2


def test_lam_path_and_scipy_units():
    d0 = entropy_constrained("gaussian", lam=0.0, max_levels=8)
    assert d0.n_levels == 8 and d0.lam == 0.0
    assert d0.mse == pytest.approx(lloyd_max("gaussian", 8).mse, rel=2e-3)
    big = entropy_constrained("gaussian", lam=100.0)
    assert big.n_levels == 1 and big.entropy == 0.0 and big.mse == pytest.approx(1.0)
    scaled = entropy_constrained(stats.norm(loc=3, scale=2), lam=0.1 * 4)
    unit = entropy_constrained("gaussian", lam=0.1)
    np.testing.assert_allclose(scaled.thresholds, 3 + 2 * unit.thresholds, atol=2e-3)
    assert scaled.mse == pytest.approx(4 * unit.mse, rel=1e-3)
    assert scaled.entropy == pytest.approx(unit.entropy, abs=1e-3)
    assert "entropy=" in repr(unit)
    assert lloyd_max("gaussian", 2).entropy is None


@pytest.mark.parametrize(("lam", "max_levels"), [(0.05, 6), (0.3, 10), (0.0, 4)])
def test_equals_the_numpy_twin_on_a_coarse_grid(lam, max_levels):
    density = _density("gaussian")
    n_cells = 24
    edges = _ecsq_grid_edges(density, n_cells)
    a, b = np.r_[-np.inf, edges], np.r_[edges, np.inf]
    # independent cell moments of N(0, 1): mass and centroid from cdf and pdf
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    centroid = (stats.norm.pdf(a) - stats.norm.pdf(b)) / mass
    cost, pos = naive_ecsq_partition(mass, centroid, lam, max_levels)
    thresholds, levels, mse, entropy, _ = _ecsq_design(density, lam, None, max_levels,
                                                        n_cells)
    np.testing.assert_allclose(thresholds, a[pos[1:-1]], rtol=0, atol=1e-12)
    # the twin's cost is the Lagrangian less the (fixed) error within the grid cells
    def x_pdf(x):  # x phi(x), 0 at +-inf
        return np.where(np.isfinite(x), np.nan_to_num(x) * stats.norm.pdf(x), 0.0)

    second = mass + x_pdf(a) - x_pdf(b)  # int_a^b x**2 phi(x) dx
    within = float(np.sum(second - mass * centroid**2))
    assert mse + lam * entropy == pytest.approx(cost + within, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(lam=-1.0), "lam"),
        (dict(lam=float("nan")), "lam"),
        (dict(lam=True), "lam"),
        (dict(rate=0.0), "rate"),
        (dict(rate=-1.0), "rate"),
        (dict(rate=9.0), "rate"),
        (dict(rate="2"), "rate"),
        (dict(lam=0.1, rate=2.0), "rate"),
        (dict(rate=2.0, max_levels=1), "max_levels"),
        (dict(rate=2.0, max_levels=2**16 + 1), "max_levels"),
        (dict(rate=2.0, max_levels=4.0), "max_levels"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises((TypeError, ValueError), match=name):
        entropy_constrained("gaussian", **kwargs)


def test_bad_distribution():
    with pytest.raises(ValueError, match="distribution"):
        entropy_constrained("cauchy", rate=2.0)
    with pytest.raises(TypeError, match="distribution"):
        entropy_constrained(stats.norm, rate=2.0)
