"""QuantizerDisplay and RateDistortionDisplay draw to files; matplotlib stays optional."""

import sys

import numpy as np
import pytest

import skquant
from skquant import LloydMaxQuantizer, QuantizerDisplay, RateDistortionDisplay
from skquant._report import panter_dite_curve

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib", reason="the displays draw with matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture
def X(rng):
    return np.c_[rng.standard_normal(3000), rng.laplace(size=3000)]


def test_quantizer_display_draws_thresholds_and_levels(plt, X, tmp_path):
    q = LloydMaxQuantizer(n_bits=3).fit(X)
    disp = QuantizerDisplay.from_estimator(q, X, feature=1)
    assert disp.ax_.figure is disp.figure_
    assert [line.get_xdata()[0] for line in disp.threshold_lines_] == list(q.thresholds_[1])
    np.testing.assert_array_equal(disp.level_markers_.get_xdata(), q.levels_[1])
    assert sum(p.get_height() * p.get_width() for p in disp.hist_) == pytest.approx(1.0)
    assert disp.ax_.get_xlabel() == "feature 1"
    path = tmp_path / "codebook.png"
    disp.figure_.savefig(path)
    assert path.read_bytes()[:8] == PNG


def test_quantizer_display_on_given_axes_by_feature_name(plt, X, tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["gauss", "laplace"])
    with pytest.warns(UserWarning, match="fewer distinct"):
        q = LloydMaxQuantizer(n_bits=4).fit(df.round(1).clip(-0.5, 0.5))
    fig, (ax0, ax1) = plt.subplots(1, 2)
    disp = QuantizerDisplay.from_estimator(q, df, feature="laplace", ax=ax1)
    assert disp.ax_ is ax1 and disp.figure_ is fig
    # a feature with fewer distinct values than levels: only its real levels are drawn
    assert len(disp.level_markers_.get_xdata()) == q.n_levels_[1] == 11
    assert len(disp.threshold_lines_) == 10
    assert disp.ax_.get_xlabel() == "laplace"
    disp.plot(ax=ax0, bins=10)  # plot again from the stored values
    assert len(disp.hist_) == 10 and disp.ax_ is ax0
    fig.savefig(tmp_path / "two.png")
    assert (tmp_path / "two.png").read_bytes()[:8] == PNG


def test_quantizer_display_errors(plt, X):
    q = LloydMaxQuantizer(n_bits=2).fit(X)
    with pytest.raises(ValueError, match="out of range"):
        QuantizerDisplay.from_estimator(q, X, feature=2)
    with pytest.raises(ValueError, match="not among the fitted feature names"):
        QuantizerDisplay.from_estimator(q, X, feature="a")
    with pytest.raises(ValueError, match="X has 1 features"):
        QuantizerDisplay.from_estimator(q, X[:, :1])
    if hasattr(skquant, "BinarySphericalEncoder"):
        bsq = skquant.BinarySphericalEncoder().fit(X)
        with pytest.raises(TypeError, match="needs a scalar quantizer"):
            QuantizerDisplay.from_estimator(bsq, X)


def test_rate_distortion_display_several_quantizers(plt, X, tmp_path):
    bits = [1, 2, 3, 4]
    disp = RateDistortionDisplay.from_estimators(
        {"lloyd": LloydMaxQuantizer(), "optimal": LloydMaxQuantizer(algorithm="optimal")},
        X, bits=bits,
    )
    assert set(disp.lines_) == {"lloyd", "optimal"}
    for name, values in disp.values.items():
        assert np.all(np.diff(values) < 0)  # more bits, less error
        np.testing.assert_array_equal(disp.lines_[name].get_ydata(), values)
        for b, v in zip(bits, values):  # each point is the MSE of a fit at that width
            est = {"lloyd": LloydMaxQuantizer, "optimal": LloydMaxQuantizer}[name]
            params = {"algorithm": "optimal"} if name == "optimal" else {}
            q = est(n_bits=b, **params).fit(X)
            assert v == pytest.approx(((X - q.inverse_transform(q.transform(X))) ** 2).mean())
    assert np.all(disp.values["optimal"] <= disp.values["lloyd"] * (1 + 1e-9))
    np.testing.assert_allclose(disp.panter_dite_line_.get_ydata(), panter_dite_curve(X, bits)[0])
    assert disp.ax_.get_yscale() == "log"
    disp.figure_.savefig(tmp_path / "rd.png")
    assert (tmp_path / "rd.png").read_bytes()[:8] == PNG


def test_rate_distortion_display_sqnr_from_estimator(plt, X, tmp_path):
    disp = RateDistortionDisplay.from_estimator(
        LloydMaxQuantizer(n_bits=2), X, bits=range(1, 6), metric="sqnr", panter_dite=False
    )
    sqnr = disp.values["LloydMaxQuantizer"]
    assert disp.panter_dite_line_ is None and disp.ax_.get_yscale() == "linear"
    # about 6 dB per bit at higher rates
    assert 4.5 < sqnr[-1] - sqnr[-2] < 7.5
    disp.figure_.savefig(tmp_path / "sqnr.png")
    assert (tmp_path / "sqnr.png").read_bytes()[:8] == PNG
    labelled = RateDistortionDisplay.from_estimators(
        [LloydMaxQuantizer(), LloydMaxQuantizer(init="uniform")], X, bits=[1, 2]
    )
    assert list(labelled.lines_) == ["LloydMaxQuantizer (1)", "LloydMaxQuantizer (2)"]
    with pytest.raises(ValueError, match="metric must be"):
        RateDistortionDisplay.from_estimator(LloydMaxQuantizer(), X, metric="psnr")


def test_without_matplotlib_the_error_says_how_to_install(monkeypatch, X):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    q = LloydMaxQuantizer(n_bits=2).fit(X)
    with pytest.raises(ImportError, match=r'pip install "skquant\[plot\]"'):
        QuantizerDisplay.from_estimator(q, X)
    with pytest.raises(ImportError, match=r'pip install "skquant\[plot\]"'):
        RateDistortionDisplay.from_estimator(LloydMaxQuantizer(), X)


def test_rate_distortion_display_at_the_coded_rate(plt, X, tmp_path):
    """rate="entropy": each point sits at the bits per value its entropy-coded file
    spends (below the packed width), with the Gish–Pierce line under the curve."""
    from skquant._entropy import coded_bits
    from skquant._report import gish_pierce_curve

    bits = [2, 3, 4, 5]
    disp = RateDistortionDisplay.from_estimator(LloydMaxQuantizer(), X, bits=bits,
                                                rate="entropy")
    rates = disp.rates["LloydMaxQuantizer"]
    for b, r in zip(bits, rates):
        q = LloydMaxQuantizer(n_bits=b).fit(X)
        assert r == pytest.approx(np.mean(coded_bits(q.transform(X), q.n_levels_)) / len(X))
    assert np.all(rates < bits) and np.all(np.diff(rates) > 0)
    np.testing.assert_array_equal(disp.lines_["LloydMaxQuantizer"].get_xdata(), rates)
    np.testing.assert_allclose(disp.panter_dite_line_.get_ydata(), gish_pierce_curve(X, bits)[0])
    # at high rate entropy-coded codes beat the high-rate bound of fixed-rate codes
    assert np.all(gish_pierce_curve(X, bits)[0] < panter_dite_curve(X, bits)[0])
    assert "Gish" in disp.panter_dite_line_.get_label()
    disp.figure_.savefig(tmp_path / "rd.png")
    with pytest.raises(ValueError, match="rate must be"):
        RateDistortionDisplay.from_estimator(LloydMaxQuantizer(), X, rate="huffman")
