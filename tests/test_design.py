"""Tests of skquant.design: analytic designs from a density."""

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import integrate, stats
from scipy.special import ndtri

import skquant
from skquant.design import (
    QuantizerDesign,
    high_rate_compander,
    lloyd_max,
    normal_float_levels,
    optimal_uniform,
    panter_dite_mse,
)

NAMES = ["gaussian", "laplace", "uniform"]
# The same densities as frozen scipy distributions (numerical code path).
SCIPY_TWINS = {
    "gaussian": stats.norm(),
    "laplace": stats.laplace(scale=1 / math.sqrt(2)),
    "uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)),
}

# The lecture's two 8-level tables (thresholds t_1..t_7, levels y_0..y_7), 4 decimals.
LECTURE_TABLES = {
    "gaussian": (
        [-1.7479, -1.0500, -0.5005, 0.0, 0.5005, 1.0500, 1.7479],
        [-2.1519, -1.3439, -0.7560, -0.2451, 0.2451, 0.7560, 1.3439, 2.1519],
    ),
    "laplace": (
        [-2.3796, -1.2527, -0.5332, 0.0, 0.5332, 1.2527, 2.3796],
        [-3.0867, -1.6725, -0.8330, -0.2334, 0.2334, 0.8330, 1.6725, 3.0867],
    ),
}

# The 16 NF4 values of bitsandbytes (float32 constants of its dequantisation table).
NF4_BITSANDBYTES = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]  # fmt: skip


def _quad(func, a, b, epsabs=0.0):
    return integrate.quad(func, a, b, epsabs=epsabs, epsrel=1e-12, limit=200)[0]


def _quad_centroids(dist, thresholds):
    """Cell centroids of a scipy distribution by adaptive quadrature (independent check)."""
    edges = np.concatenate(([dist.support()[0]], thresholds, [dist.support()[1]]))
    return np.array(
        [
            _quad(lambda x: x * dist.pdf(x), a, b, epsabs=1e-13) / _quad(dist.pdf, a, b)
            for a, b in zip(edges[:-1], edges[1:])
        ]
    )


def _quad_mse(dist, thresholds, levels):
    edges = np.concatenate(([dist.support()[0]], thresholds, [dist.support()[1]]))
    return sum(
        _quad(lambda x: (x - y) ** 2 * dist.pdf(x), a, b)
        for a, b, y in zip(edges[:-1], edges[1:], levels)
    )


def _assert_nearest_neighbour(design, atol=1e-12):
    """Thresholds are the midpoints of adjacent levels."""
    midpoints = 0.5 * (design.levels[1:] + design.levels[:-1])
    assert_allclose(design.thresholds, midpoints, rtol=0, atol=atol)


# --- Lloyd-Max: the lecture and the classical numbers ----------------------------------


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_lloyd_max_reproduces_lecture_tables(name):
    thresholds, levels = LECTURE_TABLES[name]
    design = lloyd_max(name, 8)
    assert_array_equal(design.thresholds.round(4), thresholds)
    assert_array_equal(design.levels.round(4), levels)


def test_lloyd_max_gaussian_two_levels_closed_form():
    design = lloyd_max("gaussian", 2)
    level = math.sqrt(2 / math.pi)
    assert_allclose(design.levels, [-level, level], rtol=0, atol=1e-12)
    assert_array_equal(design.thresholds, [0.0])
    assert design.mse == pytest.approx(1 - 2 / math.pi, rel=0, abs=1e-12)


def test_lloyd_max_laplace_two_levels_closed_form():
    # Centroid of a half Laplacian of rate sqrt(2) is 1/sqrt(2); MSE = 1 - 1/2.
    design = lloyd_max("laplace", 2)
    assert_allclose(design.levels, [-1 / math.sqrt(2), 1 / math.sqrt(2)], rtol=0, atol=1e-12)
    assert design.mse == pytest.approx(0.5, rel=0, abs=1e-12)


@pytest.mark.parametrize("n_levels", [1, 2, 3, 4, 7, 16, 256])
def test_lloyd_max_uniform_is_the_uniform_quantizer(n_levels):
    design = lloyd_max("uniform", n_levels)
    step = 2 * math.sqrt(3) / n_levels
    k = np.arange(n_levels)
    assert_allclose(design.levels, -math.sqrt(3) + (k + 0.5) * step, rtol=0, atol=1e-13)
    assert_allclose(design.thresholds, -math.sqrt(3) + k[1:] * step, rtol=0, atol=1e-13)
    assert design.mse == pytest.approx(1 / n_levels**2, rel=1e-12)


@pytest.mark.parametrize("n_levels, mse", [(4, 0.117482), (8, 0.034548), (16, 0.009501)])
def test_lloyd_max_gaussian_mse_table(n_levels, mse):
    assert round(lloyd_max("gaussian", n_levels).mse, 6) == mse


def test_lloyd_max_single_level_is_the_mean():
    for name in NAMES:
        design = lloyd_max(name, 1)
        assert design.thresholds.shape == (0,)
        assert_array_equal(design.levels, [0.0])
        assert design.mse == pytest.approx(1.0, rel=1e-12)
    design = lloyd_max(stats.gamma(3, scale=2), 1)
    assert design.levels[0] == pytest.approx(6.0) and design.mse == pytest.approx(12.0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_levels", [3, 5, 8, 16])
def test_lloyd_max_satisfies_both_conditions(name, n_levels):
    design = lloyd_max(name, n_levels)
    _assert_nearest_neighbour(design)
    # centroids, checked against adaptive quadrature of the scipy twin
    centroids = _quad_centroids(SCIPY_TWINS[name], design.thresholds)
    assert_allclose(design.levels, centroids, rtol=0, atol=1e-10)
    # symmetric about 0
    assert_allclose(design.levels, -design.levels[::-1], rtol=0, atol=1e-14)


def test_lloyd_max_laplace_even_converges_fast():
    # The Laplacian with even M: the Lloyd map has a unit eigenvalue; plain Lloyd crawls.
    for n_levels in (8, 256):
        design = lloyd_max("laplace", n_levels)
        assert design.n_iter <= 10
        _assert_nearest_neighbour(design)


def test_lloyd_max_large_design_is_consistent():
    design = lloyd_max("gaussian", 256)
    assert design.thresholds.shape == (255,) and design.levels.shape == (256,)
    assert np.all(np.diff(design.levels) > 0)
    assert np.all(design.thresholds > design.levels[:-1])
    assert np.all(design.thresholds < design.levels[1:])
    _assert_nearest_neighbour(design)


def test_lloyd_max_warns_when_max_iter_is_too_small():
    with pytest.warns(RuntimeWarning, match="did not converge"):
        design = lloyd_max("gaussian", 64, max_iter=1)
    assert design.n_iter == 1


# --- High-rate compander and Panter-Dite ------------------------------------------------


def test_compander_closed_forms():
    M = 16
    k = np.arange(M)
    gauss = high_rate_compander("gaussian", M)
    assert_allclose(gauss.thresholds, math.sqrt(3) * ndtri(k[1:] / M), rtol=0, atol=1e-13)
    assert_allclose(gauss.levels, math.sqrt(3) * ndtri((k + 0.5) / M), rtol=0, atol=1e-13)

    s = 1 / math.sqrt(2)  # g^-1(u) = 3 s ln(2u) below 1/2, -3 s ln(2(1-u)) above

    def ginv(u):
        return np.where(u < 0.5, 3 * s * np.log(2 * u), -3 * s * np.log(2 * (1 - u)))

    laplace = high_rate_compander("laplace", M)
    assert_allclose(laplace.thresholds, ginv(k[1:] / M), rtol=0, atol=1e-13)
    assert_allclose(laplace.levels, ginv((k + 0.5) / M), rtol=0, atol=1e-13)

    uniform = high_rate_compander("uniform", M)  # already optimal
    assert_allclose(uniform.levels, lloyd_max("uniform", M).levels, rtol=0, atol=1e-13)
    assert uniform.mse == pytest.approx(1 / M**2, rel=1e-12)


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_compander_mse_is_exact(name):
    """The reported MSE is the design's true MSE for the density (not the high-rate
    approximation): it agrees with numerical quadrature to 1e-10."""
    design = high_rate_compander(name, 8)
    exact = _quad_mse(SCIPY_TWINS[name], design.thresholds, design.levels)
    assert design.mse == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_compander_over_lloyd_max_tends_to_one(name):
    ratios = np.array(
        [high_rate_compander(name, 2**b).mse / lloyd_max(name, 2**b).mse for b in range(1, 11)]
    )
    assert np.all(ratios >= 1)
    assert np.all(np.diff(ratios) < 0)
    assert ratios[7] <= 1.01  # 8 bits
    assert ratios[-1] < 1.003  # 10 bits


@pytest.mark.parametrize(
    "name, constant",
    [("gaussian", math.sqrt(3) * math.pi / 2), ("laplace", 4.5), ("uniform", 1.0)],
)
def test_panter_dite_constants(name, constant):
    assert panter_dite_mse(name, 0) == pytest.approx(constant, rel=1e-15)
    bits = np.array([1, 2.5, 8])
    assert_allclose(panter_dite_mse(name, bits), constant * 4.0**-bits, rtol=1e-15)
    # (1/12) (int f^(1/3))^3 by quadrature of the scipy twin
    dist = SCIPY_TWINS[name]
    lo, hi = dist.support()
    cube = sum(_quad(lambda x: np.cbrt(dist.pdf(x)), a, b) for a, b in ((lo, 0), (0, hi)))
    assert cube**3 / 12 == pytest.approx(constant, rel=1e-9)


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_lloyd_max_tends_to_panter_dite(name):
    constant = panter_dite_mse(name, 0)
    scaled = np.array([lloyd_max(name, 2**b).mse * 4.0**b for b in range(1, 11)])
    gaps = 1 - scaled / constant
    assert np.all(gaps > 0) and np.all(np.diff(gaps) < 0)
    assert gaps[7] < 0.01  # 8 bits
    assert gaps[-1] < 0.0025  # 10 bits
    # the uniform density: the formula is exact at every rate
    uniform = [lloyd_max("uniform", 2**b).mse for b in range(1, 9)]
    assert_allclose(uniform, panter_dite_mse("uniform", np.arange(1, 9)), rtol=1e-11)


# --- Optimised uniform -----------------------------------------------------------------


@pytest.mark.parametrize(
    "n_levels, step, mse",
    [(4, 0.9957, 0.1188), (8, 0.5860, 0.03744), (16, 0.3352, 0.01154)],
)
def test_optimal_uniform_gaussian_matches_max_1960(n_levels, step, mse):
    # Max (1960), optimum uniform quantizer for N(0, 1): step size and MSE
    design = optimal_uniform("gaussian", n_levels)
    assert round(2 * design.x_max / n_levels, 4) == step
    assert design.mse == pytest.approx(mse, abs=0.6 * 10 ** (math.floor(math.log10(mse)) - 3))
    exact = _quad_mse(stats.norm(), design.thresholds, design.levels)
    assert design.mse == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_optimal_uniform_is_a_minimum(name):
    for n_levels in (2, 5, 16):
        design = optimal_uniform(name, n_levels)
        step = 2 * design.x_max / n_levels
        assert_allclose(np.diff(design.levels), step, rtol=1e-12)
        _assert_nearest_neighbour(design)
        for factor in (0.999, 1.001, 0.9, 1.1):
            other = design.x_max * factor
            levels = -other + (np.arange(n_levels) + 0.5) * 2 * other / n_levels
            thresholds = 0.5 * (levels[1:] + levels[:-1])
            assert _quad_mse(SCIPY_TWINS[name], thresholds, levels) > design.mse
        assert design.mse >= lloyd_max(name, n_levels).mse * (1 - 1e-12)


def test_optimal_uniform_special_cases():
    gauss = optimal_uniform("gaussian", 2)  # M = 2: the Lloyd-Max quantizer
    assert gauss.x_max == pytest.approx(2 * math.sqrt(2 / math.pi), rel=1e-9)
    assert gauss.mse == pytest.approx(1 - 2 / math.pi, rel=1e-12)
    for n_levels in (2, 3, 8, 64):
        uniform = optimal_uniform("uniform", n_levels)
        assert uniform.x_max == pytest.approx(math.sqrt(3), rel=1e-7)
        assert uniform.mse == pytest.approx(1 / n_levels**2, rel=1e-9)
    single = optimal_uniform("laplace", 1)
    assert math.isnan(single.x_max) and single.mse == pytest.approx(1.0)


# --- NormalFloat ------------------------------------------------------------------------


def test_normal_float_4_bits_is_nf4():
    levels = normal_float_levels(4)
    assert levels.dtype == np.float64 and levels.shape == (16,)
    assert_allclose(levels, NF4_BITSANDBYTES, rtol=0, atol=2.0**-23)
    assert_array_equal(levels[[0, 7, 15]], [-1.0, 0.0, 1.0])
    assert not levels.flags.writeable


@pytest.mark.parametrize("n_bits", [1, 2, 3, 5, 8])
def test_normal_float_other_bits(n_bits):
    levels = normal_float_levels(n_bits)
    half = 2 ** (n_bits - 1)
    assert levels.shape == (2**n_bits,)
    assert np.all(np.diff(levels) > 0)
    assert levels[-1] == 1.0 and 0.0 in levels
    assert np.sum(levels > 0) == half and np.sum(levels < 0) == half - 1
    if n_bits > 1:
        assert levels[0] == -1.0


# --- scipy distributions ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("design_fn", [lloyd_max, high_rate_compander, optimal_uniform])
def test_scipy_path_matches_closed_forms(name, design_fn):
    for n_levels in (1, 4, 7):
        closed = design_fn(name, n_levels)
        numeric = design_fn(SCIPY_TWINS[name], n_levels)
        # optimal_uniform's x_max sits at a flat minimum: known to ~sqrt(eps) only
        atol = 1e-7 if design_fn is optimal_uniform else 1e-9
        assert_allclose(numeric.thresholds, closed.thresholds, rtol=0, atol=atol)
        assert_allclose(numeric.levels, closed.levels, rtol=0, atol=atol)
        assert numeric.mse == pytest.approx(closed.mse, rel=1e-9)
    numeric = panter_dite_mse(SCIPY_TWINS[name], 3)
    assert numeric == pytest.approx(panter_dite_mse(name, 3), rel=1e-9)


def test_scipy_location_scale():
    standard = lloyd_max("gaussian", 8)
    shifted = lloyd_max(stats.norm(loc=3.0, scale=2.0), 8)
    assert_allclose(shifted.levels, 3 + 2 * standard.levels, rtol=0, atol=1e-9)
    assert_allclose(shifted.thresholds, 3 + 2 * standard.thresholds, rtol=0, atol=1e-9)
    assert shifted.mse == pytest.approx(4 * standard.mse, rel=1e-9)
    assert panter_dite_mse(stats.laplace(scale=2.0), 0) == pytest.approx(8 * 4.5, rel=1e-9)
    assert shifted.distribution == "norm(loc=3.0, scale=2.0)"


@pytest.mark.parametrize(
    "dist", [stats.gamma(4), stats.beta(2, 5), stats.t(5)], ids=["gamma", "beta", "t5"]
)
def test_scipy_designs_satisfy_conditions(dist):
    design = lloyd_max(dist, 6)
    centroids = _quad_centroids(dist, design.thresholds)
    assert_allclose(design.levels, centroids, rtol=0, atol=1e-10 * dist.std())
    _assert_nearest_neighbour(design, atol=1e-12 * dist.std())
    assert design.mse == pytest.approx(_quad_mse(dist, design.thresholds, design.levels), rel=1e-9)
    compander = high_rate_compander(dist, 6)
    exact = _quad_mse(dist, compander.thresholds, compander.levels)
    assert compander.mse == pytest.approx(exact, rel=1e-9)
    # compander thresholds and levels at g^-1(k / M) and g^-1((k + 1/2) / M)
    lo, hi, mean = *dist.support(), dist.mean()
    cube = lambda x: np.cbrt(dist.pdf(x))  # noqa: E731
    z = _quad(cube, lo, mean) + _quad(cube, mean, hi)
    g_thresholds = [_quad(cube, lo, x) / z for x in compander.thresholds]
    g_levels = [_quad(cube, lo, x) / z for x in compander.levels]
    assert_allclose(g_thresholds, np.arange(1, 6) / 6, rtol=0, atol=1e-9)
    assert_allclose(g_levels, (np.arange(6) + 0.5) / 6, rtol=0, atol=1e-9)
    assert design.mse <= compander.mse
    assert design.mse <= optimal_uniform(dist, 6).mse


def test_student_t_design_matches_empirical_optimal_fit():
    """The t(5) design against the exact empirical optimum of 10**6 samples.

    Sampling error of the empirical levels by the delta method: the sample fixed point
    moves by ``dy = (I - D B)^-1 eps``, with ``eps`` the independent errors of the cell
    means (variance ``sigma_k^2 / (n P_k)``), ``D`` the derivatives of the centroids
    with respect to the thresholds and ``B`` the midpoint map. Heavy tails couple the
    cells strongly, so this is much larger than the per-cell standard errors.
    """
    dist, n_bits, n = stats.t(5), 3, 10**6
    M = 2**n_bits
    design = lloyd_max(dist, M)
    x = dist.rvs(size=n, random_state=np.random.default_rng(0))
    fitted = skquant.LloydMaxQuantizer(n_bits=n_bits, algorithm="optimal").fit(x.reshape(-1, 1))

    t, y = design.thresholds, design.levels
    mass = np.diff(dist.cdf(np.concatenate(([-np.inf], t, [np.inf]))))
    ft = dist.pdf(t)
    D = np.zeros((M, M - 1))
    D[np.arange(M - 1), np.arange(M - 1)] = ft * (t - y[:-1]) / mass[:-1]  # right edges
    D[np.arange(1, M), np.arange(M - 1)] = ft * (y[1:] - t) / mass[1:]  # left edges
    B = 0.5 * (np.eye(M - 1, M) + np.eye(M - 1, M, 1))
    L = np.linalg.inv(np.eye(M) - D @ B)
    cells = design.quantize(x)
    cell_var = np.array([x[cells == level].var() for level in y])
    cov = L @ np.diag(cell_var / (n * mass)) @ L.T

    dy = fitted.levels_[0] - y
    assert np.max(np.abs(dy) / np.sqrt(np.diag(cov))) < 4
    assert dy @ np.linalg.solve(cov, dy) < stats.chi2.ppf(0.999, M)

    # MSE: the design's sample MSE is within sampling error of its exact MSE, and the
    # empirical optimum improves on it only by the (tiny) overfitting gap.
    err2 = (x - design.quantize(x)) ** 2
    assert abs(err2.mean() - design.mse) < 4 * err2.std() / math.sqrt(n)
    assert fitted.mse_[0] <= err2.mean() * (1 + 1e-12)
    assert err2.mean() - fitted.mse_[0] < 1e-3 * design.mse


# --- Validation and the result object --------------------------------------------------


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: lloyd_max("normal", 4), ValueError, "distribution must be one of"),
        (lambda: lloyd_max(3.0, 4), TypeError, "distribution must be one of"),
        (lambda: lloyd_max(stats.norm, 4), TypeError, "frozen scipy.stats distribution"),
        (lambda: lloyd_max(stats.poisson(3), 4), TypeError, "continuous"),
        (lambda: lloyd_max(stats.t(2), 4), ValueError, "finite, positive variance"),
        (lambda: lloyd_max(stats.cauchy(), 4), ValueError, "finite mean"),
        (lambda: lloyd_max("gaussian", 0), ValueError, "n_levels must be an int >= 1; got 0"),
        (lambda: lloyd_max("gaussian", 4.0), TypeError, "n_levels must be an int"),
        (lambda: lloyd_max("gaussian", True), TypeError, "n_levels must be an int"),
        (lambda: lloyd_max("gaussian", 4, tol=0.0), ValueError, "tol must be a positive"),
        (lambda: lloyd_max("gaussian", 4, tol="1e-9"), TypeError, "tol must be a positive float"),
        (lambda: lloyd_max("gaussian", 4, max_iter=0), ValueError, "max_iter must be an int >= 1"),
        (lambda: high_rate_compander("gaussian", -2), ValueError, "an int >= 1; got -2"),
        (lambda: optimal_uniform("laplace", 2.5), TypeError, "n_levels must be an int"),
        (lambda: panter_dite_mse("gaussian", -1), ValueError, "n_bits must be finite and >= 0"),
        (lambda: panter_dite_mse("gaussian", [1, np.inf]), ValueError, "n_bits must be finite"),
        (lambda: panter_dite_mse("gaussian", "8"), TypeError, "n_bits must be a real number"),
        (lambda: normal_float_levels(0), ValueError, "n_bits must be an int >= 1; got 0"),
        (lambda: normal_float_levels(4.0), TypeError, "n_bits must be an int"),
    ],
)
def test_invalid_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_design_is_immutable_and_quantizes():
    design = lloyd_max("gaussian", 4)
    assert isinstance(design, QuantizerDesign)
    assert design.n_levels == 4 and design.method == "lloyd_max"
    assert design.distribution == "gaussian"
    assert design.x_max is None and isinstance(design.mse, float)
    assert design.thresholds.dtype == np.float64 and design.levels.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        design.levels[0] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.mse = 0.0
    t, y = design.thresholds, design.levels
    values = [-10.0, t[0], t[1] - 1e-9, 0.0, 10.0]
    assert_array_equal(design.quantize(values), [y[0], y[1], y[1], y[2], y[3]])
    assert "lloyd_max" in repr(design) and "n_levels=4" in repr(design)
    assert optimal_uniform("gaussian", 4).x_max > 0
    assert high_rate_compander("gaussian", 4).n_iter is None


# --- The example -----------------------------------------------------------------------


def _load_example():
    path = Path(__file__).resolve().parents[1] / "examples" / "plot_lecture_comparison.py"
    spec = importlib.util.spec_from_file_location("plot_lecture_comparison", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_reproduces_lecture_comparison(tmp_path, capsys):
    example = _load_example()
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    png = tmp_path / "comparison.png"
    results = example.main(["--plot", str(png)] if has_matplotlib else [])
    out = capsys.readouterr().out
    assert "Gaussian source" in out and "Laplacian source" in out
    if has_matplotlib:
        assert png.stat().st_size > 10_000

    for name, res in results.items():
        assert_array_equal(res["bits"], np.arange(1, 9))
        lm, uni, comp, zador = res["lloyd_max"], res["uniform"], res["compander"], res["zador"]
        assert np.all(lm <= comp) and np.all(lm <= uni * (1 + 1e-12))
        assert np.all(np.diff(np.log2(lm)) < 0)
        assert zador[-1] == pytest.approx(lm[-1], rel=0.01)
        assert comp[-1] / lm[-1] < 1.01
        assert uni[0] == pytest.approx(lm[0], rel=1e-9)  # 1 bit: uniform is optimal
        assert f"{lm[2]:.4e}" in out
    assert round(results["gaussian"]["lloyd_max"][2], 6) == 0.034548


def test_example_without_matplotlib(monkeypatch, capsys):
    example = _load_example()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ImportError, match=r"pip install skquant\[plot\]"):
        example.main(["--plot", "unused.png", "--max-bits", "2"])
    assert "Lloyd-Max" in capsys.readouterr().out  # the table is printed first


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: lloyd_max("gaussian", 2**16 + 1),
            ValueError,
            r"n_levels must be an int in \[1, 65536\]",
        ),
        (lambda: high_rate_compander("laplace", 10**9), ValueError, r"\[1, 65536\]"),
        (lambda: optimal_uniform("gaussian", 10**7), ValueError, r"\[1, 65536\]"),
        (lambda: optimal_uniform("gaussian", 3.5), TypeError, "n_levels must be an int"),
        (lambda: lloyd_max("gaussian", True), TypeError, "not a bool|got True"),
        (lambda: normal_float_levels(24), ValueError, r"n_bits must be an int in \[1, 16\]"),
        (lambda: normal_float_levels(n_levels=1), ValueError, "n_levels must be an int >= 2"),
        (lambda: panter_dite_mse("gaussian", np.nan), ValueError, "finite"),
        (lambda: lloyd_max(stats.t(1.5), 4), ValueError, "finite, positive variance"),
    ],
)
def test_design_functions_validate_their_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()
