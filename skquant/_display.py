"""Plots in scikit-learn's Display style: ``from_estimator`` computes, ``plot`` draws.

matplotlib is optional (``pip install "skquant[plot]"``); it is imported only when
something is drawn.
"""

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_array

from . import _libm
from ._compat import check_is_fitted


def _pyplot(caller):
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f'{caller} needs matplotlib, an optional dependency: pip install "skquant[plot]"'
        ) from exc
    return plt


def _axes(ax, caller):
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax


class QuantizerDisplay:
    """Histogram of one feature with a scalar quantizer's thresholds and levels.

    Create it with :meth:`from_estimator`; the constructor takes precomputed values.

    Parameters
    ----------
    values : ndarray of shape (n_samples,)
        The feature's values.
    thresholds : ndarray of shape (n_levels - 1,)
        Decision thresholds (drawn as vertical lines).
    levels : ndarray of shape (n_levels,)
        Reconstruction levels (drawn as markers on the horizontal axis).
    feature_name : str, default=None
        Label of the horizontal axis.
    estimator_name : str, default=None
        Used in the title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.
    hist_ : list of matplotlib patches
        The histogram bars.
    threshold_lines_ : list of matplotlib Line2D
        One vertical line per threshold.
    level_markers_ : matplotlib Line2D
        The levels, as markers at the bottom of the axes.

    See Also
    --------
    RateDistortionDisplay : Error versus bit width.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer, QuantizerDisplay
    >>> X = np.random.default_rng(0).standard_normal((2000, 2))
    >>> q = LloydMaxQuantizer(n_bits=3).fit(X)
    >>> disp = QuantizerDisplay.from_estimator(q, X, feature=1)
    >>> len(disp.threshold_lines_), len(disp.level_markers_.get_xdata())
    (7, 8)
    """

    def __init__(self, values, thresholds, levels, *, feature_name=None, estimator_name=None):
        self.values = values
        self.thresholds = thresholds
        self.levels = levels
        self.feature_name = feature_name
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, bins=60):
        """Draw the histogram, the thresholds and the levels.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        bins : int, default=60
            Number of histogram bins.

        Returns
        -------
        display : QuantizerDisplay
            This object, with ``ax_``, ``figure_`` and the artists set.
        """
        ax = _axes(ax, "QuantizerDisplay.plot")
        _, _, self.hist_ = ax.hist(
            self.values, bins=bins, density=True, color="0.8", edgecolor="0.6",
            label="data",
        )
        self.threshold_lines_ = [
            ax.axvline(t, color="tab:red", linewidth=0.8, alpha=0.8,
                       label="thresholds" if i == 0 else None)
            for i, t in enumerate(self.thresholds)
        ]
        (self.level_markers_,) = ax.plot(
            self.levels, np.zeros(len(self.levels)), linestyle="none", marker="^",
            color="tab:blue", markersize=7, clip_on=False,
            transform=ax.get_xaxis_transform(), label="levels",
        )
        ax.set_xlabel(self.feature_name or "value")
        ax.set_ylabel("density")
        n = len(self.levels)
        title = f"{n} levels"
        if self.estimator_name:
            title = f"{self.estimator_name}: {title}"
        ax.set_title(title)
        ax.legend(loc="upper right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, *, feature=0, ax=None, bins=60):
        """Draw one feature of X with a fitted scalar quantizer's codebook.

        Parameters
        ----------
        estimator : fitted scalar quantizer
            Any skquant quantizer with ``thresholds_``, ``levels_`` and ``n_levels_``.
        X : array-like of shape (n_samples, n_features)
            Data to histogram (typically the training data).
        feature : int or str, default=0
            Column index, or a name from ``feature_names_in_``.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        bins : int, default=60
            Number of histogram bins.

        Returns
        -------
        display : QuantizerDisplay
        """
        check_is_fitted(estimator)
        if not all(hasattr(estimator, a) for a in ("thresholds_", "levels_", "n_levels_")):
            raise TypeError(
                "QuantizerDisplay needs a scalar quantizer with thresholds_ and levels_; "
                f"got {type(estimator).__name__}."
            )
        names = getattr(estimator, "feature_names_in_", None)
        if isinstance(feature, str):
            if names is None or feature not in list(names):
                raise ValueError(f"feature {feature!r} is not among the fitted feature names.")
            j = list(names).index(feature)
        else:
            j = int(feature)
            if not 0 <= j < estimator.n_features_in_:
                raise ValueError(
                    f"feature={feature} is out of range for {estimator.n_features_in_} features."
                )
        X = check_array(X, dtype=None, ensure_all_finite=False)
        if X.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, {type(estimator).__name__} is fitted on "
                f"{estimator.n_features_in_}."
            )
        n = int(estimator.n_levels_[j])
        display = cls(
            values=np.asarray(X[:, j], dtype=np.float64),
            thresholds=np.asarray(estimator.thresholds_[j, : n - 1], dtype=np.float64),
            levels=np.asarray(estimator.levels_[j, :n], dtype=np.float64),
            feature_name=str(names[j]) if names is not None else f"feature {j}",
            estimator_name=type(estimator).__name__,
        )
        return display.plot(ax=ax, bins=bins)


class RateDistortionDisplay:
    """Error versus rate for one or several quantizers, with the high-rate bound.

    Create it with :meth:`from_estimator` or :meth:`from_estimators`; the constructor
    takes precomputed curves.

    Parameters
    ----------
    bits : ndarray of shape (n_widths,)
        Bit widths.
    values : dict of str to ndarray of shape (n_widths,)
        For each quantizer (by display name), the MSE (averaged over features) or the
        SQNR in dB at each width.
    metric : {"mse", "sqnr"}, default="mse"
        What ``values`` hold; MSE is drawn on a log scale.
    panter_dite : ndarray of shape (n_widths,), default=None
        The high-rate prediction in the same metric, drawn dashed when given: the
        Panter–Dite (Zador) MSE of fixed-rate codes at ``bits``, or with ``rates``
        the Gish–Pierce MSE of entropy-coded uniform codes at ``bits`` bits per value.
    rates : dict of str to ndarray of shape (n_widths,), default=None
        For each quantizer, the bits per value its entropy-coded codes really cost at
        each width (the x of its points; :func:`skquant._entropy.coded_bits`); None
        draws every quantizer at ``bits``.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        One line per quantizer.
    panter_dite_line_ : matplotlib Line2D or None

    See Also
    --------
    QuantizerDisplay : The codebook of one feature.
    skquant.design.panter_dite_mse : The Panter–Dite MSE of a known density.

    Notes
    -----
    The Panter–Dite line is ``(1/12) (int f^(1/3))^3 2^(-2b)`` per feature, averaged
    over features, with the integral estimated from the data on equal-mass cells
    (``sum_k (1/B)^(1/3) dq_k^(2/3)`` for ``B`` cells of widths ``dq_k``). It is the
    high-rate MSE of the optimal quantizer of a continuous density; a column with few
    distinct values is quantized exactly once the levels outnumber them, far below
    the line.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer, RateDistortionDisplay
    >>> X = np.random.default_rng(0).standard_normal((2000, 2))
    >>> disp = RateDistortionDisplay.from_estimator(LloydMaxQuantizer(), X, bits=[1, 2, 3])
    >>> disp.values["LloydMaxQuantizer"].round(3)  # density optimum: 0.363, 0.117, 0.035
    array([0.353, 0.112, 0.032])
    """

    def __init__(self, bits, values, *, metric="mse", panter_dite=None, rates=None):
        self.bits = bits
        self.values = values
        self.metric = metric
        self.panter_dite = panter_dite
        self.rates = rates

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        display : RateDistortionDisplay
            This object, with ``ax_``, ``figure_`` and the lines set.
        """
        if self.metric not in ("mse", "sqnr"):
            raise ValueError(f"metric must be 'mse' or 'sqnr', got {self.metric!r}.")
        ax = _axes(ax, "RateDistortionDisplay.plot")
        bits = np.asarray(self.bits)
        rates = self.rates if self.rates is not None else {}
        self.lines_ = {
            name: ax.plot(np.asarray(rates.get(name, bits)), np.asarray(v), marker="o",
                          label=name)[0]
            for name, v in self.values.items()
        }
        self.panter_dite_line_ = None
        if self.panter_dite is not None:
            label = ("Gish–Pierce (entropy-coded, high rate)" if self.rates is not None
                     else "Panter–Dite (high rate)")
            (self.panter_dite_line_,) = ax.plot(
                bits, np.asarray(self.panter_dite), linestyle="--", color="k", label=label,
            )
        if self.metric == "mse":
            ax.set_yscale("log")
            ax.set_ylabel("MSE (mean over features)")
        else:
            ax.set_ylabel("SQNR (dB)")
        if self.rates is None:
            ax.set_xlabel("bits per value")
            ax.set_xticks(bits)
        else:
            ax.set_xlabel("bits per value, entropy-coded (as written, tables included)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, *, bits=range(1, 9), metric="mse",
                       rate="fixed", panter_dite=True, name=None, ax=None):
        """Fit ``estimator`` at every width in ``bits`` on X and draw its curve.

        Parameters
        ----------
        estimator : scalar quantizer
            A template: it is cloned and refitted with ``n_bits=b`` for each width
            (fitted or not; its own fit is not used).
        X : array-like of shape (n_samples, n_features)
            Data to fit and measure on.
        bits : iterable of int, default=range(1, 9)
            Bit widths.
        metric : {"mse", "sqnr"}, default="mse"
            MSE averaged over features, or the SQNR in dB of the average normalised
            MSE (``-10 log10(mean_j MSE_j / var_j)``, as ``skquant report`` prints).
        rate : {"fixed", "entropy"}, default="fixed"
            The x of each point: the bit width, or the bits per value the
            entropy-coded codes really cost (``rate="entropy"`` of
            :func:`skquant.metrics.rate_distortion_score`), with the Gish–Pierce line.
        panter_dite : bool, default=True
            Draw the Panter–Dite line estimated from X.
        name : str, default=None
            Legend label; the class name by default.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        display : RateDistortionDisplay
        """
        name = type(estimator).__name__ if name is None else name
        return cls.from_estimators(
            {name: estimator}, X, bits=bits, metric=metric, rate=rate,
            panter_dite=panter_dite, ax=ax,
        )

    @classmethod
    def from_estimators(cls, estimators, X, *, bits=range(1, 9), metric="mse",
                        rate="fixed", panter_dite=True, ax=None):
        """Fit several quantizers at every width in ``bits`` and draw their curves.

        Parameters
        ----------
        estimators : dict of str to estimator, or list of estimators
            Templates, cloned and refitted for each width; a list is labelled by
            class name (numbered when repeated).
        X : array-like of shape (n_samples, n_features)
            Data to fit and measure on.
        bits : iterable of int, default=range(1, 9)
            Bit widths.
        metric : {"mse", "sqnr"}, default="mse"
            As in :meth:`from_estimator`.
        rate : {"fixed", "entropy"}, default="fixed"
            As in :meth:`from_estimator`.
        panter_dite : bool, default=True
            Draw the Panter–Dite line estimated from X.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        Returns
        -------
        display : RateDistortionDisplay
        """
        from ._report import rate_distortion_table

        if metric not in ("mse", "sqnr"):
            raise ValueError(f"metric must be 'mse' or 'sqnr', got {metric!r}.")
        if rate not in ("fixed", "entropy"):
            raise ValueError(f"rate must be 'fixed' or 'entropy', got {rate!r}.")
        if not isinstance(estimators, dict):
            estimators = _label(estimators)
        _pyplot("RateDistortionDisplay")  # fail before the fits, not after
        bits = [int(b) for b in bits]
        X = check_array(X, dtype=np.float64)
        rows = rate_distortion_table(
            X, {k: clone(v) for k, v in estimators.items()}, bits=bits, file_size=False
        )
        key = "mse" if metric == "mse" else "sqnr_db"
        values = {
            name: np.array([r[key] for r in rows if r["quantizer"] == name])
            for name in estimators
        }
        rates = None
        if rate == "entropy":
            rates = {
                name: np.array([r["coded_bits"] for r in rows if r["quantizer"] == name])
                for name in estimators
            }
        line = _high_rate_line(X, bits, metric, rate) if panter_dite else None
        display = cls(np.array(bits), values, metric=metric, panter_dite=line, rates=rates)
        return display.plot(ax=ax)


def _high_rate_line(X, bits, metric, rate):
    """The high-rate MSE (or SQNR) at ``bits`` bits per value: Panter–Dite for fixed
    rate, Gish–Pierce for entropy-coded codes."""
    from ._report import gish_pierce_curve, panter_dite_curve

    curve = gish_pierce_curve if rate == "entropy" else panter_dite_curve
    mse, nmse = curve(X, bits)
    return mse if metric == "mse" else -10.0 * _libm.log10(nmse)


def _label(estimators):
    names = [type(e).__name__ for e in estimators]
    out = {}
    for i, (name, est) in enumerate(zip(names, estimators)):
        if names.count(name) > 1:
            name = f"{name} ({names[:i + 1].count(name)})"
        out[name] = est
    return out


def plot_table(rows, X, path, rate="fixed"):
    """Save MSE versus bits (``log2`` of the levels, or with ``rate="entropy"`` the
    coded bits per value) for every quantizer in ``rows`` of
    :func:`skquant._report.rate_distortion_table`, with the high-rate line."""
    import matplotlib

    matplotlib.use("Agg")

    names = list(dict.fromkeys(r["quantizer"] for r in rows))
    levels = np.array(sorted({r["n_levels"] for r in rows}))
    values = {
        name: np.array([r["mse"] for r in rows if r["quantizer"] == name]) for name in names
    }
    rates = None
    if rate == "entropy":
        rates = {
            name: np.array([r["coded_bits"] for r in rows if r["quantizer"] == name])
            for name in names
        }
    bits = _libm.log2(levels)
    display = RateDistortionDisplay(
        bits, values, metric="mse", panter_dite=_high_rate_line(X, bits, "mse", rate),
        rates=rates,
    ).plot()
    display.figure_.savefig(path, dpi=120, bbox_inches="tight")
    _pyplot("plot_table").close(display.figure_)
    return display
