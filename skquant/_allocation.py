"""Per-feature bit allocation under a total budget of bits per row."""

import itertools
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_array

from . import _libm
from ._compat import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    named,
    validate_params,
)


@dataclass(frozen=True)
class BitAllocation:
    """The result of :func:`allocate_bits`.

    Attributes
    ----------
    n_bits : ndarray of shape (n_features,)
        Bits given to each feature, pass it as the quantizer's ``n_bits`` (with
        candidate ``levels``: ``None``; use ``n_levels``).
    n_levels : ndarray of shape (n_features,)
        Levels given to each feature; pass it as the quantizer's ``n_levels``.
    rate : ndarray of shape (n_features,)
        Bits per value each feature costs at its allocation (its width for
        ``rate="fixed"``, what the entropy-coded file spends on its codes for
        ``rate="entropy"``).
    mse : ndarray of shape (n_features,)
        Measured MSE of each feature at its allocation (normalised if requested).
    total_mse : float
        ``mse.sum()``: the objective the allocation minimises.
    bits : ndarray of shape (n_candidates,)
        The candidate widths, ``min_bits .. max_bits`` (``log2`` of the candidate
        level counts with ``levels``).
    curves : ndarray of shape (n_features, n_candidates)
        The operational distortion–rate curves: ``curves[j, i]`` is the MSE of
        feature ``j`` quantized with candidate ``i``.
    rates : ndarray of shape (n_features, n_candidates)
        The rate of each feature at each candidate.
    """

    n_bits: np.ndarray | None
    n_levels: np.ndarray
    rate: np.ndarray
    mse: np.ndarray
    total_mse: float
    bits: np.ndarray
    curves: np.ndarray
    rates: np.ndarray


def distortion_rate_curves(estimator, X, levels, *, normalize=False, rate="fixed"):
    """MSE and rate (bits per value) of every feature of X at every level count in
    ``levels`` (one fit per count)."""
    from .metrics import _nmse_per_feature, _rate_per_feature, _squared_error

    X = check_array(X, dtype=np.float64)
    curves = np.empty((X.shape[1], len(levels)))
    rates = np.empty_like(curves)
    for i, M in enumerate(levels):
        q = clone(estimator).set_params(n_bits=None, n_levels=int(M), encode="ordinal")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # few distinct values: exact
            codes = q.fit(X).transform(X)
        X_hat = q.inverse_transform(codes)
        curves[:, i] = _nmse_per_feature(X, X_hat) if normalize else _squared_error(X, X_hat)
        rates[:, i] = _rate_per_feature(q, codes, rate)
    return curves, rates


def _greedy(curves, costs, budget):
    """From the cheapest candidate of every feature, repeatedly move the feature whose
    next candidate on its lower convex hull buys the most MSE per bit, while the
    budget allows (the Lagrangian allocation: optimal on convex curves)."""
    d, n = curves.shape
    idx = np.argmin(costs, axis=1)
    spent = costs[np.arange(d), idx].sum()
    while True:
        best, move = 0.0, None
        for j in range(d):
            c0, m0 = costs[j, idx[j]], curves[j, idx[j]]
            more = (costs[j] > c0) & (curves[j] < m0)
            if not more.any():
                continue
            slope = np.where(more, (m0 - curves[j]) / np.where(more, costs[j] - c0, 1.0), -1.0)
            k = int(np.argmax(slope))
            if slope[k] > best and spent - c0 + costs[j, k] <= budget + 1e-9:
                best, move = slope[k], (j, k)
        if move is None:
            return idx
        j, k = move
        spent += costs[j, k] - costs[j, idx[j]]
        idx[j] = k


def _exact(curves, costs, budget):
    """Minimum total MSE with integer candidate costs and total cost at most
    ``budget``: a multiple-choice knapsack by dynamic programming over features."""
    d, n = curves.shape
    costs = costs.astype(np.int64)
    budget = int(budget)
    best = np.full(budget + 1, np.inf)
    best[0] = 0.0
    choice = np.zeros((d, budget + 1), dtype=np.int64)
    for j in range(d):
        new = np.full(budget + 1, np.inf)
        for i in range(n):
            c = costs[j, i]
            if c > budget:
                continue
            cand = np.full(budget + 1, np.inf)
            cand[c:] = best[: budget + 1 - c] + curves[j, i]
            better = cand < new
            new[better] = cand[better]
            choice[j, better] = i
        best = new
    left = int(np.argmin(best))
    idx = np.zeros(d, dtype=np.int64)
    for j in range(d - 1, -1, -1):
        idx[j] = choice[j, left]
        left -= costs[j, idx[j]]
    return idx


def _exhaustive(curves, costs, budget):
    """Every allocation (tests only): the reference for small problems."""
    d, n = curves.shape
    best, best_idx = np.inf, None
    for idx in itertools.product(range(n), repeat=d):
        if costs[np.arange(d), idx].sum() <= budget + 1e-9:
            total = curves[np.arange(d), idx].sum()
            if total < best:
                best, best_idx = total, np.array(idx)
    return best_idx


def _no_bools(**values):
    """``Interval(Integral, ...)`` admits ``True``; a bit count of ``True`` is a mistake."""
    for name, value in values.items():
        if isinstance(value, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The {name!r} parameter must be a number, not a bool; got {value!r}."
            )


@validate_params(
    {
        "estimator": [HasMethods(["fit", "transform", "inverse_transform", "set_params"])],
        "X": ["array-like"],
        "budget": [Interval(Real, 0, None, closed="neither")],
        "min_bits": [Interval(Integral, 1, 16, closed="both")],
        "max_bits": [Interval(Integral, 1, 16, closed="both")],
        "levels": ["array-like", None],
        "method": [StrOptions({"greedy", "exact", "water-filling"})],
        "rate": [StrOptions({"fixed", "entropy"})],
        "normalize": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def allocate_bits(
    estimator, X, budget, *, min_bits=1, max_bits=8, levels=None, method="greedy",
    rate="fixed", normalize=False,
):
    """Choose each feature's bit width or number of levels for a budget of bits per row.

    The allocation minimises the total MSE under the budget.

    The operational distortion–rate curve of every feature is measured by fitting
    ``estimator`` at each candidate — the widths ``min_bits .. max_bits``, or the
    level counts ``levels`` — and its rate in bits per value: ``rate="fixed"`` the
    bits of the packed codes (``ceil(log2 M)`` for ``M`` levels), ``rate="entropy"``
    what skquant's entropy-coded file really spends on the codes of X per value
    (under the model its writer chooses for the feature, its table, the flat model or
    on at most ``2**16`` rows the adaptive model: the ``coded_bits`` of
    :func:`skquant.metrics.storage_report`). The rates of a candidate are measured with
    every feature at that candidate; the writer's choice of a feature's model does not
    depend on the others, except that at most ``2**18 // n_samples`` features of a file
    may be adaptive (taken in feature order), so with more features than that the
    allocated file may code a feature otherwise.
    Then

    - ``"greedy"`` starts every feature at its cheapest candidate and moves, one
      feature at a time, to the candidate that buys the most MSE per bit (optimal
      when the curves are convex, which they nearly always are);
    - ``"exact"`` solves the integer allocation exactly by dynamic programming over
      features (optimal for any curves, ``O(d * budget * n_candidates)``; integer
      rates only, so ``rate="fixed"``);
    - ``"water-filling"`` is the high-rate rule of reverse water-filling,
      ``b_j = b̄ + ½ log2(σ_j² / geometric mean σ²)``, rounded to integers
      (:func:`reverse_water_filling`), which uses the variances only (widths only).

    Level counts that are not powers of two pay off with ``rate="entropy"``: a
    5-level quantizer's codes cost about their entropy, below ``log2 5``, where a
    packed 5-level code costs 3 bits like an 8-level one.

    Parameters
    ----------
    estimator : scalar quantizer
        Any skquant scalar quantizer (cloned; its ``n_bits`` / ``n_levels`` are
        replaced).
    X : array-like of shape (n_samples, n_features)
        Data the curves are measured on.
    budget : float
        Total bits per row, e.g. ``3 * n_features`` for 3 bits per feature on
        average; between the cheapest and the dearest allocation.
    min_bits, max_bits : int, default=1, 8
        Range of widths a feature may get (unused with ``levels``).
    levels : array-like of int, default=None
        Candidate numbers of levels (each >= 2) instead of the widths.
    method : {"greedy", "exact", "water-filling"}, default="greedy"
        How the allocation is solved (see above).
    rate : {"fixed", "entropy"}, default="fixed"
        What a feature's codes cost, in bits per value: packed, or entropy-coded.
    normalize : bool, default=False
        Minimise the sum of variance-normalised MSEs instead of raw MSEs (features of
        very different scales then count alike).

    Returns
    -------
    allocation : BitAllocation
        The widths or level counts per feature, their rates and MSEs, and the
        measured curves they were chosen from.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer, allocate_bits
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 3)) * [1.0, 4.0, 16.0]
    >>> allocate_bits(LloydMaxQuantizer(), X, budget=9, max_bits=6).n_bits
    array([1, 3, 5])
    """
    _no_bools(budget=budget, min_bits=min_bits, max_bits=max_bits)
    with named("X"):
        X = check_array(X, dtype=np.float64, input_name="X")
    d = X.shape[1]
    if levels is None:
        if max_bits < min_bits:
            raise ValueError(f"max_bits={max_bits} is smaller than min_bits={min_bits}.")
        candidates = np.left_shift(1, np.arange(min_bits, max_bits + 1))
    else:
        if method == "water-filling":
            raise ValueError("method='water-filling' allocates widths: give no levels.")
        candidates = np.asarray(levels)
        if (candidates.ndim != 1 or candidates.size == 0 or candidates.dtype.kind not in "iu"
                or candidates.min() < 2 or candidates.max() > 2**16):
            raise ValueError(
                f"levels must be a 1-D array of ints in [2, 65536], got {levels!r}."
            )
        candidates = np.unique(candidates)
    if method == "exact" and rate == "entropy":
        raise ValueError("method='exact' needs integer rates: use rate='fixed' or 'greedy'.")
    if method == "water-filling":
        if rate == "entropy":
            raise ValueError("method='water-filling' uses the high-rate model: rate='fixed'.")
        n_bits = reverse_water_filling(
            X.var(axis=0), int(round(budget)), min_bits=min_bits, max_bits=max_bits
        )
    if levels is None and rate == "fixed":  # the widths' costs are known before fitting
        lo, hi = d * min_bits, d * max_bits
        if not lo <= budget <= hi:
            raise ValueError(
                f"budget={budget} bits per row is outside [{lo}, {hi}]: {d} features of "
                f"{min_bits} to {max_bits} bits each."
            )
    curves, rates = distortion_rate_curves(estimator, X, candidates, normalize=normalize,
                                           rate=rate)
    cheapest, dearest = rates.min(axis=1).sum(), rates.max(axis=1).sum()
    if budget < cheapest - 1e-9:
        raise ValueError(
            f"budget={budget} bits per row is below the cheapest allocation "
            f"({cheapest:.6g} bits: every feature at its fewest levels)."
        )
    if method == "greedy":
        idx = _greedy(curves, rates, budget)
    elif method == "exact":
        idx = _exact(curves, rates, min(budget, dearest))
    else:
        idx = np.searchsorted(candidates, np.left_shift(1, n_bits))
    chosen = candidates[idx]
    mse = curves[np.arange(d), idx]
    return BitAllocation(
        n_bits=(_libm.log2(chosen).astype(np.int64) if levels is None else None),
        n_levels=chosen.astype(np.int64),
        rate=rates[np.arange(d), idx],
        mse=mse,
        total_mse=float(mse.sum()),
        bits=_libm.log2(candidates) if levels is not None else np.arange(min_bits, max_bits + 1),
        curves=curves,
        rates=rates,
    )


@validate_params(
    {
        "variances": ["array-like"],
        "budget": [Interval(Integral, 1, None, closed="left")],
        "min_bits": [Interval(Integral, 0, 64, closed="both")],
        "max_bits": [Interval(Integral, 0, 64, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def reverse_water_filling(variances, budget, *, min_bits=1, max_bits=8):
    """High-rate bit allocation from variances, rounded to integers.

    The real-valued optimum of ``sum σ_j² 2^(-2 b_j)`` under ``sum b_j = budget`` is
    ``b_j = b̄ + ½ log2(σ_j² / geometric mean σ²)``; with the widths limited to
    ``[min_bits, max_bits]`` the water level is found by bisection, then the widths
    are rounded down and the remaining bits go to the largest fractional parts.

    Parameters
    ----------
    variances : array-like of shape (n_features,)
        Non-negative, finite variances (a zero variance gets ``min_bits``).
    budget : int
        Total bits, within ``[n_features * min_bits, n_features * max_bits]``.
    min_bits, max_bits : int, default=1, 8
        Range of widths, ``min_bits <= max_bits``.

    Returns
    -------
    n_bits : ndarray of shape (n_features,), int
        Widths summing to ``budget``.

    Examples
    --------
    >>> from skquant import reverse_water_filling
    >>> reverse_water_filling([1.0, 16.0, 256.0], budget=9)
    array([1, 3, 5])
    """
    _no_bools(budget=budget, min_bits=min_bits, max_bits=max_bits)
    with named("variances"):
        var = check_array(variances, dtype=np.float64, ensure_2d=False,
                          input_name="variances")
    if var.ndim != 1:
        raise ValueError(f"variances must be 1-D (one per feature), got shape {var.shape}.")
    if np.any(var < 0):
        raise ValueError("variances must be non-negative.")
    if max_bits < min_bits:
        raise ValueError(f"max_bits={max_bits} is smaller than min_bits={min_bits}.")
    d = var.shape[0]
    if not d * min_bits <= budget <= d * max_bits:
        raise ValueError(
            f"budget={budget} bits is outside [{d * min_bits}, {d * max_bits}]: {d} "
            f"features of {min_bits} to {max_bits} bits each."
        )
    half_log = 0.5 * _libm.log2(np.maximum(var, np.finfo(float).tiny))

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
    n_bits = np.floor(real + 1e-9).astype(np.int64)
    frac = real - n_bits
    for j in np.argsort(-frac, kind="stable"):
        if n_bits.sum() >= budget:
            break
        if n_bits[j] < max_bits:
            n_bits[j] += 1
    return n_bits
