"""CompanderQuantizer: compress with g, quantize uniformly, expand with g^-1."""

import functools
from numbers import Real

import numpy as np

from . import _libm
from ._base import BaseScalarQuantizer, ColumnDesign
from ._compat import Interval, StrOptions
from ._range_search import Family, clip_range, search_scale
from ._summary import from_unit, unit_summary

_RANGED = ("mu-law", "a-law", "log", "normal-float")  # shapes on [-X_max, X_max]
_DENSITIES = ("gaussian", "laplace")


# ---------------------------------------------------------------- compressors
# The expanders g^-1 of the compressors, on the normalised value z = x / X_max: the
# compressors map [-1, 1] onto [-1, 1], g^-1 maps the uniform cell edges and centres
# back (the compressors themselves are in the class docstring).
def mu_law_inverse(v, mu):
    """``sign(v) ((1 + mu) ** |v| - 1) / mu``."""
    return np.sign(v) * _libm.expm1(np.abs(v) * _libm.log1p(mu)) / mu


def a_law_inverse(v, A):
    """Inverse of ``sign(z) A|z| / (1 + ln A)`` (``|z| < 1/A``), ``sign(z) (1 + ln(A|z|))
    / (1 + ln A)`` (above)."""
    a = np.abs(v) * (1.0 + _libm.log(A))
    return np.sign(v) * np.where(a < 1.0, a / A, _libm.exp(a - 1.0) / A)


def log_law_inverse(v, R):
    """Inverse of ``sign(z) max(0, 1 + ln|z| / ln R)``: ``sign(v) R ** (|v| - 1)``, 0 at 0."""
    return np.sign(v) * _libm.power(R, np.abs(v) - 1.0)


def _uniform_shape(inverse, n_levels, lo=-1.0, hi=1.0):
    """Thresholds and midpoint levels: ``g^-1`` of the edges and centres of M cells."""
    edges = np.linspace(lo, hi, 2 * n_levels + 1)
    return inverse(edges[2:-1:2]), inverse(edges[1::2])


def _smooth(counts, taps):
    """``np.convolve(counts, taps, mode="same")`` for an odd number of taps, summed
    tap by tap in a fixed order: ``np.convolve`` sums each output by the BLAS's dot
    product, whose order (so the last bits) depends on the CPU's kernel."""
    n, half = counts.shape[0], taps.shape[0] // 2
    padded = np.zeros(n + 2 * half)
    padded[half : half + n] = counts
    out = np.zeros(n)
    for k in range(taps.shape[0]):  # out[i] += taps[k] * counts[i + half - k]
        out += taps[k] * padded[2 * half - k : 2 * half - k + n]
    return out


def _empirical_compressor(summary, n_levels):
    """High-rate design from the sample: ``g`` proportional to the integral of f^(1/3).

    ``f`` is a Gaussian kernel density estimate with Silverman's bandwidth
    ``h = 0.9 min(std, IQR / 1.34) n^(-1/5)`` (``n`` the total weight), binned on a
    grid of step ``h / 4`` (at most 2**18 bins) from ``min - 4h`` to ``max + 4h``.
    A kernel estimate keeps the tails smooth, where ``f^(1/3)`` still carries a large
    share of the levels; a floor of ``1e-12`` of the peak keeps ``g`` increasing.
    Returns the thresholds ``g^-1(k / M)`` and levels ``g^-1((k + 1/2) / M)``.
    """
    u, w, total = summary.u, summary.weights, summary.total_weight
    std = summary.mean_std()[1]
    iqr = summary.quantile(0.75) - summary.quantile(0.25)
    spread = min(std, iqr / 1.34) if iqr > 0 else std
    h = 0.9 * spread * total ** -0.2
    lo, hi = u[0] - 4.0 * h, u[-1] + 4.0 * h
    n_bins = int(np.clip(np.ceil((hi - lo) / (0.25 * h)), 256, 2**18))
    edges = np.linspace(lo, hi, n_bins + 1)
    counts, _ = np.histogram(u, edges, weights=w)
    dx = edges[1] - edges[0]
    half = min(max(int(np.ceil(4.0 * h / dx)), 1), n_bins // 2 - 1)
    taps = _libm.exp(-0.5 * (np.arange(-half, half + 1) * dx / h) ** 2)
    density = _smooth(counts, taps / taps.sum())
    root = _libm.cbrt(np.maximum(density, 1e-12 * density.max()))
    g = np.concatenate([[0.0], np.cumsum(root)])
    g /= g[-1]
    return _uniform_shape(lambda v: np.interp(v, 2.0 * g - 1.0, edges), n_levels)



@functools.lru_cache(maxsize=64)
def _unit_shape(compander, mu, A, dynamic_range, n_levels):
    """The compander's thresholds and levels for ``X_max = 1`` (or unit location and
    scale) when they do not depend on the data, else ``None``; computed once per
    parameters and number of levels (read-only arrays)."""
    shape = _compute_unit_shape(compander, mu, A, dynamic_range, n_levels)
    if shape is not None:
        for a in shape:
            a.setflags(write=False)
    return shape


def _compute_unit_shape(name, mu, A, dynamic_range, n_levels):
    from . import design  # scipy.stats: loaded on first use

    if name == "mu-law":
        return _uniform_shape(lambda v: mu_law_inverse(v, mu), n_levels)
    if name == "a-law":
        return _uniform_shape(lambda v: a_law_inverse(v, A), n_levels)
    if name == "log" and dynamic_range is not None:
        return _uniform_shape(lambda v: log_law_inverse(v, dynamic_range), n_levels)
    if name == "normal-float":
        levels = design.normal_float_levels(n_levels=n_levels)
        return 0.5 * (levels[1:] + levels[:-1]), levels.copy()
    if name in _DENSITIES:
        hr = design.high_rate_compander(name, n_levels)
        return hr.thresholds.copy(), hr.levels.copy()
    if not isinstance(name, str):
        return _callable_shape(name, n_levels)
    return None


def _callable_shape(compander, n_levels):
    if len(compander) != 2 or not all(callable(f) for f in compander):
        raise ValueError(
            "compander must be one of the names or a (forward, inverse) pair of "
            f"callables; got a tuple of {len(compander)} item(s)."
        )
    forward, inverse = compander

    def call(f, v):
        return np.asarray(f(v), dtype=np.float64)

    lo, hi = call(forward, np.array([-1.0, 1.0]))
    t, y = _uniform_shape(lambda v: call(inverse, v), n_levels, lo, hi)
    edges = np.linspace(lo, hi, n_levels + 1)[1:-1]
    ok = (
        lo < hi
        and np.all(np.isfinite(y))
        and np.all(t > y[:-1])
        and np.all(t < y[1:])
        and np.allclose(call(forward, t), edges, rtol=1e-6, atol=1e-9 * (hi - lo))
    )
    if not ok:
        raise ValueError(
            "compander callables must be increasing and inverse to each other on "
            f"[-1, 1]; forward(-1)={lo!r}, forward(1)={hi!r}, and the inverse of the "
            "cell edges does not give increasing thresholds that forward maps back."
        )
    return t, y


# ---------------------------------------------------------------- estimator
class CompanderQuantizer(BaseScalarQuantizer):
    """Companding scalar quantizer of each feature: compress, quantize uniformly, expand.

    A monotone compressor ``g`` maps each feature's range onto ``[-1, 1]``, which is
    cut into ``M`` (``n_levels`` or ``2 ** n_bits``) equal cells; the thresholds are
    ``g^-1`` of the cell edges and the levels ``g^-1`` of the cell centres
    (``reconstruction="midpoint"``) or the training centroids of the cells
    (``"centroid"``). Fine cells where ``g`` is steep, coarse where it is flat: any
    non-uniform quantizer is a compander.

    Parameters
    ----------
    n_bits : int, array-like of shape (n_features,) or None, default=None
        Bits per value, 1 to 16: ``n_bits=b`` means exactly ``n_levels=2**b``.
        ``None`` means 4 bits unless ``n_levels`` is given (giving both is an error).
        An array gives each feature its own width (see :func:`skquant.allocate_bits`).
    n_levels : int, array-like of shape (n_features,) or None, default=None
        Number of levels of each feature, any integer from 2 to 65536 (``n_levels=5``
        quantizes like ``KBinsDiscretizer(n_bins=5)``, into codes 0 to 4), or one per
        feature as an array, whatever ``mu`` or ``A``. The fitted arrays are padded to
        the largest.
    encode : {"ordinal", "onehot", "onehot-dense", "reconstruct"}, default="ordinal"
        Output of ``transform``: integer codes, a sparse or dense one-hot matrix, or
        the quantized values themselves (same float dtype as X).
    compander : str or tuple of two callables, default="mu-law"
        The compressor, applied to ``z = x / X_max`` for the range-based ones:

        - ``"mu-law"``: ``sign(z) ln(1 + mu |z|) / ln(1 + mu)``.
        - ``"a-law"``: ``sign(z) A |z| / (1 + ln A)`` for ``|z| < 1/A``, else
          ``sign(z) (1 + ln(A |z|)) / (1 + ln A)``.
        - ``"log"``: ``sign(z) max(0, 1 + ln|z| / ln R)``, i.e. the sign and the
          magnitude uniformly in ``ln|x|`` over ``[X_max / R, X_max]``, with
          ``R = dynamic_range``: constant relative error; smaller magnitudes share
          the two innermost cells.
        - ``"normal-float"``: the NormalFloat codebook of QLoRA
          (:func:`skquant.design.normal_float_levels`; NF4 at 4 bits) scaled by
          ``X_max`` (absmax scaling), each value to its nearest level.
        - ``"gaussian"``, ``"laplace"``: the high-rate optimal compressor of that
          density (:func:`skquant.design.high_rate_compander`), ``g(x) =
          Phi((x - loc) / (sqrt 3 scale))`` for the Gaussian, moved to the fitted
          location and scale (maximum likelihood, as in :class:`LloydMaxQuantizer`).
        - ``"optimal"``: the data-driven high-rate compressor, ``g`` proportional to
          the integral of ``f^(1/3)`` with ``f`` a kernel density estimate of the
          feature (Silverman's bandwidth).
        - ``(forward, inverse)``: vectorised callables on ``z``; forward must be
          increasing on ``[-1, 1]``, whose image ``[forward(-1), forward(1)]`` is cut
          into the ``M`` cells.
    mu : float, default=255.0
        The ``"mu-law"`` parameter (255 in G.711).
    A : float, default=87.6
        The ``"a-law"`` parameter, >= 1 (87.6 in G.711).
    dynamic_range : float or None, default=None
        ``R > 1`` for ``"log"``. ``None`` fits it per feature as ``X_max`` over the
        smallest non-zero ``|x|``.
    clip : {"absmax", "std", "percentile", "mse"} or float, default="absmax"
        The range ``X_max`` of the range-based companders (mu-law, a-law, log,
        normal-float, callables); values beyond it go to the end cells. ``"absmax"``:
        the largest ``|x|``. ``"std"``: ``n_std`` times the root mean square.
        ``"percentile"``: the ``percentile``-th weighted percentile of ``|x|``.
        ``"mse"``: the range with the smallest training MSE among all ``X_max``
        (the global minimum of the exact error, by the branch and bound of
        :class:`UniformClipQuantizer`).
        A number: that ``X_max``. Unused by ``"gaussian"``, ``"laplace"`` and
        ``"optimal"``, which cover the whole line.
    n_std : float, default=3.0
        Width of the ``"std"`` range.
    percentile : float, default=99.9
        Percentile of the ``"percentile"`` range, in (50, 100].
    reconstruction : {"midpoint", "centroid"}, default="midpoint"
        ``"midpoint"``: ``g^-1`` of the cell centres (the lecture's; codec
        compatible). ``"centroid"``: the weighted mean of the training values in each
        cell (``g^-1`` of the centre for empty cells): never a larger training MSE,
        but levels of sparse cells follow the few training values in them.

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_features, M - 1)
        Decision thresholds ``g^-1`` of the cell edges, increasing along each row, with
        ``M`` the largest of ``max_levels_``; in the dtype of the fitted data (float32
        thresholds are rounded up, so float32 data gets exactly the codes the float64
        thresholds would give). A feature with fewer levels is padded with ``+inf``, so its
        padding never assigns a code.
    levels_ : ndarray of shape (n_features, M)
        Reconstruction levels; a feature with fewer levels repeats its last level.
    n_levels_ : ndarray of shape (n_features,)
        Number of levels really used by each feature (codes are ``0 .. n_levels_ - 1``).
    max_levels_ : ndarray of shape (n_features,)
        The number of levels each feature was designed for: ``n_bits`` or
        ``n_levels`` resolved once in fit (nothing after fit reads them again).
    x_max_ : ndarray of shape (n_features,)
        The range of the range-based companders (NaN for features stored exactly).
    dynamic_range_ : ndarray of shape (n_features,)
        ``R`` of ``"log"`` (NaN for features stored exactly).
    loc_, scale_ : ndarray of shape (n_features,)
        Location and scale of ``"gaussian"`` and ``"laplace"`` (NaN for features
        stored exactly).
    mse_ : ndarray of shape (n_features,)
        Weighted mean squared error of each feature on the training data (after
        ``partial_fit``: on the sketches, each bin coded as a whole).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
    sketches_ : list of ColumnSketch
        Only after :meth:`partial_fit`: the per-feature sketches of every batch seen
        (see :ref:`streaming`); ``fit`` removes them.
    n_samples_seen_ : int
        Only after :meth:`partial_fit`: the number of rows seen.

    See Also
    --------
    UniformClipQuantizer : The uniform quantizer, ``g`` the identity.
    LloydMaxQuantizer : The MSE-optimal levels, which companders approach at high
        rate.

    Notes
    -----
    ``transform`` compares with the thresholds (a value equal to one goes to the
    upper cell), so codes never depend on the rounding of ``g``. The 8-bit μ-law of
    ``mu=255`` differs from other libraries' conventions; the user guide states by
    how much. Columns with at most ``M`` distinct values get one level per
    value (zero error) and a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import CompanderQuantizer
    >>> X = np.array([[-1.0], [-0.1], [0.0], [0.01], [0.5], [1.0]] * 10)
    >>> q = CompanderQuantizer(n_bits=2, compander="mu-law").fit(X)
    >>> q.thresholds_.round(4)  # g^-1(-1/2), g^-1(0), g^-1(1/2) times X_max = 1
    array([[-0.0588,  0.    ,  0.0588]])
    >>> q.transform([[-0.5], [0.02], [0.06]]).ravel()
    array([0, 2, 3], dtype=uint8)
    >>> nf4 = CompanderQuantizer(compander="normal-float").fit(np.linspace(-2, 2, 99)[:, None])
    >>> nf4.levels_[0, [0, 7, 8, 15]].round(4)  # 2 * NF4
    array([-2.    ,  0.    ,  0.1592,  2.    ])
    """

    _parameter_constraints: dict = {
        **BaseScalarQuantizer._parameter_constraints,
        "compander": [StrOptions({*_RANGED, *_DENSITIES, "optimal"}), tuple],
        "mu": [Interval(Real, 0, None, closed="neither")],
        "A": [Interval(Real, 1, None, closed="left")],
        "dynamic_range": [Interval(Real, 1, None, closed="neither"), None],
        "clip": [
            StrOptions({"absmax", "std", "percentile", "mse"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "n_std": [Interval(Real, 0, None, closed="neither")],
        "percentile": [Interval(Real, 50, 100, closed="right")],
        "reconstruction": [StrOptions({"midpoint", "centroid"})],
    }

    def __init__(
        self,
        n_bits=None,
        *,
        n_levels=None,
        encode="ordinal",
        compander="mu-law",
        mu=255.0,
        A=87.6,
        dynamic_range=None,
        clip="absmax",
        n_std=3.0,
        percentile=99.9,
        reconstruction="midpoint",
    ):
        super().__init__(n_bits=n_bits, n_levels=n_levels, encode=encode)
        self.compander = compander
        self.mu = mu
        self.A = A
        self.dynamic_range = dynamic_range
        self.clip = clip
        self.n_std = n_std
        self.percentile = percentile
        self.reconstruction = reconstruction

    @property
    def _ranged(self):
        return not isinstance(self.compander, str) or self.compander in _RANGED

    def _unit_shape(self, n_levels):
        """Thresholds and levels for ``X_max = 1`` (or unit location-scale), when they
        do not depend on the data; ``None`` otherwise."""
        key = (self.compander, self.mu, self.A, self.dynamic_range, n_levels)
        try:
            hash(key)
        except TypeError:  # callables that cannot be hashed: no cache
            return _compute_unit_shape(*key)
        return _unit_shape(*key)

    def _fit_column(self, summary, n_levels, j):
        summary, unit = unit_summary(summary)  # designed in units of `unit`
        centroid = self.reconstruction == "centroid"
        info = {}
        if self.compander == "optimal":
            family = Family(*_empirical_compressor(summary, n_levels), centroid=centroid)
            offset, scale = 0.0, 1.0
        elif self.compander in _DENSITIES:
            family = Family(*self._unit_shape(n_levels), centroid=centroid)
            offset, scale = summary.location_scale(self.compander)
            info.update(loc_=offset * unit, scale_=scale * unit)
        else:
            rule = "minmax" if self.clip == "absmax" else self.clip
            if isinstance(rule, Real):
                rule /= unit
            rules = ["minmax", "std", "percentile"] if rule == "mse" else [rule]
            seeds = [
                clip_range(summary, r, True, self.n_std, self.percentile)[1] for r in rules
            ]
            shape = self._unit_shape(n_levels)
            if shape is None:  # "log" with a fitted dynamic range
                magnitudes = np.abs(summary.u)
                smallest = magnitudes[magnitudes > 0].min()
                R = max(seeds[0] / smallest, 1.0 + 1e-9)
                shape = _uniform_shape(lambda v: log_law_inverse(v, R), n_levels)
                info["dynamic_range_"] = R
            elif self.compander == "log":
                info["dynamic_range_"] = float(self.dynamic_range)
            family = Family(*shape, nearest=self.compander == "normal-float", centroid=centroid)
            offset, scale = 0.0, seeds[0]
            if rule == "mse":
                scale = search_scale(summary, family, seeds=seeds).scale
            info["x_max_"] = scale * unit
        thresholds, levels = from_unit(*family.codebook(summary, offset, scale), unit)
        return ColumnDesign(thresholds, levels, info)
