"""Quality measures for quantizers: squared error, SQNR and the entropy of codes."""

import numpy as np
from sklearn.utils import check_array

from ._compat import StrOptions, validate_params


def _pair(X, X_hat):
    X = check_array(X, dtype=np.float64, ensure_2d=False)
    X_hat = check_array(X_hat, dtype=np.float64, ensure_2d=False)
    if X.shape != X_hat.shape:
        raise ValueError(f"X has shape {X.shape} but X_hat has shape {X_hat.shape}.")
    if X.ndim == 1:
        X, X_hat = X[:, None], X_hat[:, None]
    return X, X_hat


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

    Examples
    --------
    >>> from skquant.metrics import mse
    >>> mse([[0.0, 1.0], [2.0, 3.0]], [[0.0, 1.5], [2.0, 2.5]])
    0.125
    """
    X, X_hat = _pair(X, X_hat)
    return _reduce(((X - X_hat) ** 2).mean(axis=0), multioutput)


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
        ``inf`` for a feature reconstructed exactly.

    Examples
    --------
    >>> from skquant.metrics import sqnr_db
    >>> round(sqnr_db([1.0, -1.0], [0.9, -0.9]), 2)
    20.0
    """
    X, X_hat = _pair(X, X_hat)
    power = X.var(axis=0) if centered else (X**2).mean(axis=0)
    noise = ((X - X_hat) ** 2).mean(axis=0)
    with np.errstate(divide="ignore"):
        values = 10.0 * (np.log10(power) - np.log10(noise))
    return _reduce(values, multioutput)


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

    Examples
    --------
    >>> from skquant.metrics import code_entropy
    >>> code_entropy([0, 1, 2, 3])
    2.0
    """
    codes = check_array(codes, dtype=None, ensure_2d=False)
    if codes.dtype.kind not in "iub":
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}.")
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.size and codes.min() < 0:
        raise ValueError("codes must be non-negative.")
    values = np.empty(codes.shape[1])
    for j in range(codes.shape[1]):
        counts = np.bincount(codes[:, j].astype(np.int64))
        p = counts[counts > 0] / codes.shape[0]
        values[j] = max(float(-(p * np.log2(p)).sum()), 0.0)
    return _reduce(values, multioutput)
