"""Per-feature bit allocation under a total budget of bits per row."""

import itertools
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_array

from ._compat import HasMethods, Interval, StrOptions, validate_params


@dataclass(frozen=True)
class BitAllocation:
    """The result of :func:`allocate_bits`.

    Attributes
    ----------
    n_bits : ndarray of shape (n_features,)
        Bits given to each feature; pass it as the quantizer's ``n_bits``.
    mse : ndarray of shape (n_features,)
        Measured MSE of each feature at its width (normalised if requested).
    total_mse : float
        ``mse.sum()``: the objective the allocation minimises.
    bits : ndarray of shape (n_widths,)
        The widths measured, ``min_bits .. max_bits``.
    curves : ndarray of shape (n_features, n_widths)
        The operational distortion–rate curves: ``curves[j, i]`` is the MSE of
        feature ``j`` quantized with ``bits[i]`` bits.
    """

    n_bits: np.ndarray
    mse: np.ndarray
    total_mse: float
    bits: np.ndarray
    curves: np.ndarray


def distortion_rate_curves(estimator, X, bits, *, normalize=False):
    """MSE of every feature of X at every width in ``bits`` (one fit per width)."""
    X = check_array(X, dtype=np.float64)
    var = X.var(axis=0)
    curves = np.empty((X.shape[1], len(bits)))
    for i, b in enumerate(bits):
        q = clone(estimator).set_params(n_bits=int(b), encode="ordinal")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # few distinct values: exact
            q.fit(X)
        curves[:, i] = ((X - q.inverse_transform(q.transform(X))) ** 2).mean(axis=0)
    if normalize:
        curves = np.divide(curves, var[:, None], out=np.zeros_like(curves), where=var[:, None] > 0)
    return curves


def _greedy(curves, extra):
    """Give ``extra`` bits one at a time to the largest marginal decrease of MSE."""
    d, n = curves.shape
    idx = np.zeros(d, dtype=int)
    for _ in range(extra):
        gain = np.where(idx < n - 1, curves[np.arange(d), idx] - curves[np.arange(d), np.minimum(idx + 1, n - 1)], -np.inf)
        j = int(np.argmax(gain))
        if not np.isfinite(gain[j]):
            break
        idx[j] += 1
    return idx


def _exact(curves, extra):
    """Minimum total MSE with exactly ``min(extra, possible)`` extra bits: a knapsack DP."""
    d, n = curves.shape
    extra = min(extra, d * (n - 1))
    best = np.full(extra + 1, np.inf)
    best[0] = 0.0
    choice = np.zeros((d, extra + 1), dtype=int)
    for j in range(d):
        new = np.full(extra + 1, np.inf)
        for i in range(min(n, extra + 1)):
            cand = np.full(extra + 1, np.inf)
            cand[i:] = best[: extra + 1 - i] + curves[j, i]
            better = cand < new
            new[better] = cand[better]
            choice[j, better] = i
        best = new
    idx = np.zeros(d, dtype=int)
    left = extra
    for j in range(d - 1, -1, -1):
        idx[j] = choice[j, left]
        left -= idx[j]
    return idx


def _exhaustive(curves, extra):
    """Every allocation (tests only): the reference for small problems."""
    d, n = curves.shape
    best, best_idx = np.inf, None
    for idx in itertools.product(range(n), repeat=d):
        if sum(idx) == min(extra, d * (n - 1)):
            total = curves[np.arange(d), idx].sum()
            if total < best:
                best, best_idx = total, np.array(idx)
    return best_idx


@validate_params(
    {
        "estimator": [HasMethods(["fit", "transform", "inverse_transform"])],
        "X": ["array-like"],
        "budget": [Interval(Integral, 1, None, closed="left")],
        "min_bits": [Interval(Integral, 1, 16, closed="both")],
        "max_bits": [Interval(Integral, 1, 16, closed="both")],
        "method": [StrOptions({"greedy", "exact", "water-filling"})],
        "normalize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def allocate_bits(
    estimator, X, budget, *, min_bits=1, max_bits=8, method="greedy", normalize=False
):
    """Choose each feature's bit width to minimise the total MSE under a budget.

    The operational distortion–rate curve of every feature is measured by fitting
    ``estimator`` at each width from ``min_bits`` to ``max_bits``; then

    - ``"greedy"`` starts every feature at ``min_bits`` and gives the remaining bits
      one at a time to the feature whose MSE drops most (optimal when the curves are
      convex, which they nearly always are);
    - ``"exact"`` solves the integer allocation exactly by dynamic programming over
      features (optimal for any curves, ``O(d * budget * n_widths)``);
    - ``"water-filling"`` is the high-rate rule of reverse water-filling,
      ``b_j = b̄ + ½ log2(σ_j² / geometric mean σ²)``, rounded to integers
      (:func:`reverse_water_filling`), which uses the variances only.

    Parameters
    ----------
    estimator : scalar quantizer
        Any skquant scalar quantizer (cloned; its ``n_bits`` is replaced).
    X : array-like of shape (n_samples, n_features)
        Data the curves are measured on.
    budget : int
        Total bits per row, at least ``n_features * min_bits``; e.g. ``3 * n_features``
        for 3 bits per feature on average.
    min_bits, max_bits : int, default=1, 8
        Range of widths a feature may get.
    method : {"greedy", "exact", "water-filling"}, default="greedy"
    normalize : bool, default=False
        Minimise the sum of variance-normalised MSEs instead of raw MSEs (features of
        very different scales then count alike).

    Returns
    -------
    allocation : BitAllocation

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer, allocate_bits
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 3)) * [1.0, 4.0, 16.0]
    >>> allocate_bits(LloydMaxQuantizer(), X, budget=9, max_bits=6).n_bits
    array([1, 3, 5])
    """
    X = check_array(X, dtype=np.float64)
    d = X.shape[1]
    if max_bits < min_bits:
        raise ValueError(f"max_bits={max_bits} is smaller than min_bits={min_bits}.")
    if budget < d * min_bits:
        raise ValueError(
            f"budget={budget} bits per row cannot give {d} features {min_bits} bit(s) each."
        )
    bits = np.arange(min_bits, max_bits + 1)
    curves = distortion_rate_curves(estimator, X, bits, normalize=normalize)
    extra = budget - d * min_bits
    if method == "greedy":
        idx = _greedy(curves, extra)
    elif method == "exact":
        idx = _exact(curves, extra)
    else:
        n_bits = reverse_water_filling(X.var(axis=0), budget, min_bits=min_bits, max_bits=max_bits)
        idx = n_bits - min_bits
    mse = curves[np.arange(d), idx]
    return BitAllocation(bits[idx], mse, float(mse.sum()), bits, curves)


def reverse_water_filling(variances, budget, *, min_bits=1, max_bits=8):
    """High-rate bit allocation from variances, rounded to integers.

    The real-valued optimum of ``sum σ_j² 2^(-2 b_j)`` under ``sum b_j = budget`` is
    ``b_j = b̄ + ½ log2(σ_j² / geometric mean σ²)``; with the widths limited to
    ``[min_bits, max_bits]`` the water level is found by bisection, then the widths
    are rounded down and the remaining bits go to the largest fractional parts.

    Parameters
    ----------
    variances : array-like of shape (n_features,)
    budget : int
        Total bits.
    min_bits, max_bits : int, default=1, 8

    Returns
    -------
    n_bits : ndarray of shape (n_features,), int

    Examples
    --------
    >>> from skquant import reverse_water_filling
    >>> reverse_water_filling([1.0, 16.0, 256.0], budget=9)
    array([1, 3, 5])
    """
    var = np.asarray(variances, dtype=np.float64)
    d = var.shape[0]
    budget = int(np.clip(budget, d * min_bits, d * max_bits))
    half_log = 0.5 * np.log2(np.maximum(var, np.finfo(float).tiny))

    def widths(level):
        return np.clip(half_log - level, min_bits, max_bits)

    lo, hi = half_log.min() - max_bits - 1, half_log.max() - min_bits + 1
    for _ in range(200):  # sum of widths decreases with the level
        mid = 0.5 * (lo + hi)
        if widths(mid).sum() > budget:
            lo = mid
        else:
            hi = mid
    real = widths(hi)
    n_bits = np.floor(real + 1e-9).astype(int)
    frac = real - n_bits
    for j in np.argsort(-frac, kind="stable"):
        if n_bits.sum() >= budget:
            break
        if n_bits[j] < max_bits:
            n_bits[j] += 1
    return n_bits
