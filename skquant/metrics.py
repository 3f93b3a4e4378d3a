"""Quality measures for quantizers: squared error, SQNR and the entropy of codes."""

from numbers import Real

import numpy as np
from sklearn.utils import check_array

from . import _libm
from ._compat import HasMethods, IntervalNotBool, StrOptions, check_2d, named, validate_params

__all__ = [
    "code_entropy",
    "make_rate_distortion_scorer",
    "mse",
    "normalized_mse",
    "rate_distortion_score",
    "sqnr_db",
    "storage_report",
]


def _packed_widths(n_levels):
    """Bits per value of bit-packed codes: ``ceil(log2 n)`` for ``n`` levels (0 for
    a feature with one level), as an int64 array."""
    return np.array([int(n - 1).bit_length() for n in np.ravel(n_levels)], dtype=np.int64)


def _pair(X, X_hat):
    with named("X"):
        X = check_array(X, dtype=np.float64, ensure_2d=False, input_name="X")
    with named("X_hat"):
        X_hat = check_array(X_hat, dtype=np.float64, ensure_2d=False, input_name="X_hat")
    if X.shape != X_hat.shape:
        raise ValueError(f"X has shape {X.shape} but X_hat has shape {X_hat.shape}.")
    if X.ndim == 1:
        X, X_hat = X[:, None], X_hat[:, None]
    return X, X_hat


def _squared_error(X, X_hat):
    """Per-feature MSE; ``inf`` where the error of values near 1.8e308 overflows."""
    with np.errstate(over="ignore", invalid="ignore"):
        return ((X - X_hat) ** 2).mean(axis=0)


def _reduce(values, multioutput):
    return values if multioutput == "raw_values" else float(np.mean(values))


@validate_params(
    {
        "X": ["array-like"],
        "X_hat": ["array-like"],
        "multioutput": [StrOptions({"uniform_average", "raw_values"})],
    },
    prefer_skip_nested_validation=True,
)
def mse(X, X_hat, *, multioutput="uniform_average"):
    """Mean squared error between data and its reconstruction.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features)
        Original values.
    X_hat : array-like of the same shape
        Reconstructed values, e.g. ``q.inverse_transform(q.transform(X))``.
    multioutput : {"uniform_average", "raw_values"}, default="uniform_average"
        Average over features, or return one value per feature.

    Returns
    -------
    mse : float or ndarray of shape (n_features,)
        The mean squared error, averaged over the features or one per feature.

    Examples
    --------
    >>> from skquant.metrics import mse
    >>> mse([[0.0, 1.0], [2.0, 3.0]], [[0.0, 1.5], [2.0, 2.5]])
    0.125
    """
    X, X_hat = _pair(X, X_hat)
    return _reduce(_squared_error(X, X_hat), multioutput)


@validate_params(
    {
        "X": ["array-like"],
        "X_hat": ["array-like"],
        "centered": ["boolean"],
        "multioutput": [StrOptions({"uniform_average", "raw_values"})],
    },
    prefer_skip_nested_validation=True,
)
def sqnr_db(X, X_hat, *, centered=False, multioutput="uniform_average"):
    """Signal-to-quantization-noise ratio in decibels, per feature.

    ``10 log10(P / MSE)`` with ``P`` the signal power ``mean(X ** 2)``, or its variance
    when ``centered=True`` (the fairer choice for features far from zero).
    Each extra bit of a good quantizer adds about 6.02 dB.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features)
        Original values.
    X_hat : array-like of the same shape
        Reconstructed values.
    centered : bool, default=False
        Use the variance of each feature instead of its mean square.
    multioutput : {"uniform_average", "raw_values"}, default="uniform_average"
        Average the dB values over features, or return one per feature.

    Returns
    -------
    sqnr : float or ndarray of shape (n_features,)
        ``inf`` for a feature reconstructed exactly (an all-zero one included),
        ``-inf`` for a feature of zero power that is not.

    Examples
    --------
    >>> from skquant.metrics import sqnr_db
    >>> round(sqnr_db([1.0, -1.0], [0.9, -0.9]), 2)
    20.0
    """
    X, X_hat = _pair(X, X_hat)
    # in units of a power of two near the largest |x|: no overflow of the squares
    unit = _power_of_two(np.max(np.abs(X), initial=0.0))
    Xs, Hs = X / unit, X_hat / unit
    with np.errstate(over="ignore", invalid="ignore"):
        power = Xs.var(axis=0) if centered else (Xs**2).mean(axis=0)
    noise = _squared_error(Xs, Hs)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = 10.0 * (_libm.log10(power) - _libm.log10(noise))
    values[noise == 0] = np.inf  # exact, the all-zero column included
    return _reduce(values, multioutput)


def _power_of_two(largest):
    exponent = int(np.frexp(max(float(largest), np.finfo(np.float64).tiny))[1])
    return 1.0 if -64 <= exponent <= 64 else float(np.ldexp(1.0, exponent - 1))


@validate_params(
    {
        "codes": ["array-like"],
        "multioutput": [StrOptions({"uniform_average", "raw_values"})],
    },
    prefer_skip_nested_validation=True,
)
def code_entropy(codes, *, multioutput="uniform_average"):
    """Empirical entropy of integer codes, in bits per code, per feature.

    This is the rate an ideal entropy coder would reach on these codes; it is at most
    ``n_bits`` and equals it only when every level is used equally often.

    Parameters
    ----------
    codes : array-like of shape (n_samples,) or (n_samples, n_features)
        Non-negative integer codes, e.g. the output of ``transform``.
    multioutput : {"uniform_average", "raw_values"}, default="uniform_average"
        Average over features, or return one value per feature.

    Returns
    -------
    entropy : float or ndarray of shape (n_features,)
        Bits per value, averaged over the features or one per feature.

    Examples
    --------
    >>> from skquant.metrics import code_entropy
    >>> code_entropy([0, 1, 2, 3])
    2.0
    """
    with named("codes"):
        codes = check_array(codes, dtype=None, ensure_2d=False, input_name="codes")
    if codes.dtype.kind not in "iub":
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}.")
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.size and codes.min() < 0:
        raise ValueError("codes must be non-negative.")
    values = np.empty(codes.shape[1])
    for j in range(codes.shape[1]):
        col = codes[:, j]
        # counting by value needs memory in proportion to the largest code: only
        # when that is small next to the column, else by sorting
        if col.size and int(col.max()) < 4 * col.size + 65536:
            counts = np.bincount(col.astype(np.int64))
            counts = counts[counts > 0]
        else:
            counts = np.unique(col, return_counts=True)[1]
        p = counts / codes.shape[0]
        values[j] = max(float(-(p * _libm.log2(p)).sum()), 0.0)
    return _reduce(values, multioutput)


def _split_pipeline(estimator, X):
    """The quantizer at the end of ``estimator`` and the data that reaches it."""
    if hasattr(estimator, "steps"):
        if len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator.steps[-1][1]
    return estimator, X


def _nmse_per_feature(X, X_hat):
    """Each feature's MSE divided by its variance; a feature of zero variance gives 0
    when it is reconstructed exactly and inf otherwise."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # the ratio does not depend on the scale: each feature in units of a power of
        # two near its largest |x| (exact), so that columns near the largest float do
        # not give inf / inf = NaN
        top = np.abs(X).max(axis=0, initial=0.0)
        ok = (top > 0) & np.isfinite(top)
        unit = np.ldexp(1.0, -np.frexp(np.where(ok, top, 1.0))[1])
        X, X_hat = X * unit, X_hat * unit
        err = ((X - X_hat) ** 2).mean(axis=0)
        var = X.var(axis=0)
        return np.where(var > 0, err / np.where(var > 0, var, 1.0),
                        np.where(err > 0, np.inf, 0.0))


@validate_params(
    {
        "X": ["array-like"],
        "X_hat": ["array-like"],
        "multioutput": [StrOptions({"uniform_average", "raw_values"})],
    },
    prefer_skip_nested_validation=True,
)
def normalized_mse(X, X_hat, *, multioutput="uniform_average"):
    """Mean squared error of each feature divided by its variance.

    The one definition of normalised MSE in skquant (``skquant report``, the
    rate-distortion scorer and the Displays use it): ``MSE_j / var_j`` per feature,
    where a feature of zero variance counts 0 if it is reconstructed exactly (every
    quantizer stores a constant column exactly) and ``inf`` otherwise; the average is
    over all features.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features)
        Original values.
    X_hat : array-like of the same shape
        Reconstructed values.
    multioutput : {"uniform_average", "raw_values"}, default="uniform_average"
        Average over features, or return one value per feature.

    Returns
    -------
    nmse : float or ndarray of shape (n_features,)
        ``MSE_j / var_j``, averaged over the features or one per feature.

    Examples
    --------
    >>> from skquant.metrics import normalized_mse
    >>> normalized_mse([[0.0, 5.0], [2.0, 5.0]], [[0.5, 5.0], [1.5, 5.0]])
    0.125
    """
    X, X_hat = _pair(X, X_hat)
    return _reduce(_nmse_per_feature(X, X_hat), multioutput)


def _distortion_and_rate(quantizer, X, rate, normalize):
    with named("X"):
        X = check_array(X, dtype=np.float64, input_name="X")
    if getattr(quantizer, "encode", "ordinal") != "ordinal":
        raise ValueError(
            "rate_distortion_score needs a quantizer with encode='ordinal' (integer "
            f"codes), got encode={quantizer.encode!r}."
        )
    codes = quantizer.transform(X)
    X_hat = quantizer.inverse_transform(codes)
    if normalize:
        err = _nmse_per_feature(X, X_hat)
    else:
        err = ((X - X_hat) ** 2).mean(axis=0)
    return float(err.mean()), float(np.mean(_rate_per_feature(quantizer, codes, rate)))


def _rate_per_feature(quantizer, codes, rate):
    """Bits per value of each feature's codes: ``"fixed"``, the packed width
    ``ceil(log2 n_levels_)``; ``"entropy"``, what skquant's entropy-coded file spends
    on the feature under the model its writer chooses (table, flat or adaptive:
    :func:`skquant._entropy.coded_bits`, the one size model of every ``rate="entropy"``),
    per row."""
    if rate == "entropy":
        from ._entropy import coded_bits

        return coded_bits(codes, quantizer.n_levels_) / max(codes.shape[0], 1)
    return _packed_widths(quantizer.n_levels_).astype(np.float64)


@validate_params(
    {
        "estimator": [HasMethods(["transform", "inverse_transform"])],
        "X": ["array-like"],
        "lam": [IntervalNotBool(Real, 0, None, closed="left"), None],
        "budget": [IntervalNotBool(Real, 0, None, closed="neither"), None],
        "rate": [StrOptions({"fixed", "entropy"})],
        "normalize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def rate_distortion_score(estimator, X, *, lam=None, budget=None, rate="fixed",
                          normalize=True):
    """Rate–distortion score of a fitted quantizer (higher is better).

    With ``lam``, the score is ``-(D + lam * R)``: ``-MSE`` alone always prefers more
    bits; charging ``lam`` per bit makes a grid search over ``n_bits`` stop where one
    more bit buys less than ``lam`` of distortion. ``lam`` is the slope of the
    operational rate–distortion curve at the point you want: at high rate
    ``D(R) ~ c 2^(-2R)``, so ``-dD/dR = 2 ln(2) D`` and the chosen width is about the
    one where ``D ≈ lam / 1.39``. With ``normalize=True``, ``lam = 0.01`` means "one
    bit per value must cut the normalised MSE by at least 1% of the variance".

    With ``budget``, the score is ``-D`` for a quantizer whose rate is at most
    ``budget`` bits per value and ``-inf`` above it, so a search picks the quantizer
    of least distortion that fits the budget.

    Parameters
    ----------
    estimator : fitted scalar quantizer, or a Pipeline ending with one
        The preceding pipeline steps transform X first.
    X : array-like of shape (n_samples, n_features)
        Data to measure on.
    lam : float, default=None
        Price of one bit per value, in units of (normalised) MSE. Give ``lam`` or
        ``budget``, not both.
    budget : float, default=None
        Largest rate allowed, in bits per value (averaged over features).
    rate : {"fixed", "entropy"}, default="fixed"
        How the rate ``R`` is counted, in bits per value averaged over features.
        ``"fixed"``: the bit-packed codes, ``ceil(log2 n_levels_)`` per feature
        (``n_bits`` for ``2 ** n_bits`` levels). ``"entropy"``: what skquant's
        entropy-coded file (:func:`skquant.compress`) really spends on the codes of
        X, divided by the number of values (:func:`storage_report` gives the same as
        ``coded_bits``): per feature the fewest bits of the three models its writer
        chooses from, the feature's table (payload ``n H`` and the table), the flat
        model (``log2 n_levels_`` a value, no table) and, on at most ``2**16`` rows, the
        adaptive model (no table), so that on few rows (a test fold of a small dataset)
        a table that costs more than it saves is not charged. The streams' ends and
        the container are not counted (:func:`skquant._entropy.coded_bits`). This is
        the rate to use for variable-rate quantizers such as
        :class:`skquant.EntropyConstrainedQuantizer`.
    normalize : bool, default=True
        Divide each feature's MSE by its variance before averaging
        (:func:`normalized_mse`), so features of different scales count alike.

    Returns
    -------
    score : float
        ``-(D + lam * R)``, or ``-D`` within the budget and ``-inf`` above it: larger
        is better, as scikit-learn's scorers.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer
    >>> from skquant.metrics import rate_distortion_score
    >>> X = np.random.default_rng(0).standard_normal((2000, 2))
    >>> q = LloydMaxQuantizer(n_bits=2).fit(X)
    >>> round(rate_distortion_score(q, X, lam=0.01), 3)  # -(NMSE + 0.01 * 2 bits)
    -0.133
    >>> round(rate_distortion_score(q, X, budget=2), 3), rate_distortion_score(q, X, budget=1.5)
    (-0.113, -inf)
    """
    _lam_or_budget(lam, budget)
    check_2d(X)
    quantizer, Xq = _split_pipeline(estimator, X)
    D, R = _distortion_and_rate(quantizer, Xq, rate, normalize)
    if budget is not None:
        return -D if R <= budget * (1 + 1e-12) else -np.inf
    return -(D + lam * R)


def _lam_or_budget(lam, budget):
    if (lam is None) == (budget is None):
        raise ValueError(
            "rate_distortion_score takes lam (a price per bit) or budget (bits per "
            f"value), exactly one of them; got lam={lam!r}, budget={budget!r}."
        )


def make_rate_distortion_scorer(lam=None, *, budget=None, rate="fixed", normalize=True):
    """A scorer for ``GridSearchCV(scoring=...)`` / ``cross_val_score``.

    Parameters
    ----------
    lam : float, default=None
        Price of one bit per value, as in :func:`rate_distortion_score`.
    budget : float, default=None
        Largest rate allowed in bits per value, as in :func:`rate_distortion_score`.
    rate : {"fixed", "entropy"}, default="fixed"
        How the rate is counted, as in :func:`rate_distortion_score`.
    normalize : bool, default=True
        Normalise each feature's MSE by its variance.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, the score of the fitted estimator
        on X.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skquant import LloydMaxQuantizer
    >>> from skquant.metrics import make_rate_distortion_scorer
    >>> X = np.random.default_rng(0).standard_normal((3000, 3))
    >>> search = GridSearchCV(LloydMaxQuantizer(), {"n_bits": [1, 2, 3, 4, 5, 6]},
    ...                       scoring=make_rate_distortion_scorer(lam=0.02), cv=3)
    >>> search.fit(X).best_params_  # 3 -> 4 bits cuts the NMSE by 0.025 > 0.02
    {'n_bits': 4}
    """
    rate_distortion_score(  # validates the parameters now, not inside a search
        _ProbeQuantizer(), np.zeros((1, 1)), lam=lam, budget=budget, rate=rate,
        normalize=normalize,
    )

    def scorer(estimator, X, y=None):
        return rate_distortion_score(
            estimator, X, lam=lam, budget=budget, rate=rate, normalize=normalize
        )

    return scorer


class _ProbeQuantizer:
    """A stand-in quantizer used only to validate scorer parameters eagerly."""

    encode = "ordinal"
    n_levels_ = np.array([2])

    def transform(self, X):
        return np.zeros(np.shape(X), dtype=np.uint8)

    def inverse_transform(self, codes):
        return np.zeros(np.shape(codes))


@validate_params(
    {"estimator": [HasMethods(["transform", "inverse_transform"])], "X": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def storage_report(estimator, X):
    """What the codes of X cost: entropy, fixed rate, bit-packed and compressed bytes.

    Parameters
    ----------
    estimator : fitted scalar quantizer (``encode="ordinal"``)
        The quantizer whose codes are measured.
    X : array-like of shape (n_samples, n_features)
        Data to quantize.

    Returns
    -------
    report : dict
        ``entropy_bits`` (per feature: the empirical entropy of the codes, the rate of
        an ideal entropy coder), ``n_bits`` (per feature: the packed bits per value,
        ``ceil(log2 n_levels_)``), and in bytes for the whole array: ``float_bytes``
        (X as stored), ``fixed_bytes`` (``n_bits`` per value, rounded up once),
        ``entropy_bytes`` (the entropy bound), ``packed_bytes`` (the
        bit-packed stream of skquant's file format), ``zlib_bytes`` and
        ``lzma_bytes`` (that stream through the standard library's compressors);
        ``coded_bits`` (per feature: the bits per value skquant's entropy-coded file
        spends under the model its writer chooses, table, flat or adaptive, the rate of
        ``rate="entropy"``) and ``coded_bytes`` (what the entropy-coded codes of the
        whole array take, streams' ends and container not counted).

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer
    >>> from skquant.metrics import storage_report
    >>> X = np.random.default_rng(0).standard_normal((10_000, 2))
    >>> r = storage_report(LloydMaxQuantizer(n_bits=4).fit(X), X)
    >>> r["float_bytes"], r["fixed_bytes"], r["packed_bytes"]
    (160000, 10000, 10000)
    >>> bool(r["entropy_bytes"] < r["lzma_bytes"] < r["packed_bytes"])
    True
    """
    import lzma
    import zlib

    from ._base import BaseScalarQuantizer
    from ._compat import check_is_fitted
    from ._io import _widths, pack_codes

    if not isinstance(estimator, BaseScalarQuantizer):
        raise TypeError(
            "storage_report measures the integer codes of a skquant scalar quantizer; "
            f"got {type(estimator).__name__} (a BinarySphericalEncoder's codes are "
            "n_bits_ bits per row: use its transform(...).nbytes)."
        )
    check_is_fitted(estimator)
    if estimator.encode != "ordinal":
        raise ValueError(
            "storage_report needs a quantizer with encode='ordinal' (integer codes), got "
            f"encode={estimator.encode!r}."
        )
    with named("X"):
        X = check_array(X, dtype=None, input_name="X")
    codes = estimator.transform(X)
    widths = _widths(estimator)
    packed = pack_codes(codes, widths).tobytes()
    entropy = code_entropy(codes, multioutput="raw_values")
    n = codes.shape[0]
    coded = _rate_per_feature(estimator, codes, "entropy")
    return {
        "n_bits": widths,
        "entropy_bits": entropy,
        "float_bytes": int(X.nbytes),
        "fixed_bytes": int((n * widths.sum() + 7) // 8),
        "entropy_bytes": int(np.ceil(n * entropy.sum() / 8)),
        "packed_bytes": len(packed),
        "zlib_bytes": len(zlib.compress(packed, 9)),
        "lzma_bytes": len(lzma.compress(packed, format=lzma.FORMAT_XZ, filters=[{
            # preset 9 with a dictionary no larger than the stream: the same bytes,
            # without preset 9's 674 MiB encoder for a stream of any size
            "id": lzma.FILTER_LZMA2, "preset": 9,
            "dict_size": max(4096, min(len(packed), 64 * 2**20)),
        }])),
        "coded_bits": coded,
        "coded_bytes": int(np.ceil(n * coded.sum() / 8)),
    }
