"""EntropyConstrainedQuantizer: the scalar quantizer minimising MSE + lam * entropy."""

from numbers import Integral, Real

import numpy as np

from . import _kernels as K
from . import _libm
from ._base import MAX_LEVELS, BaseScalarQuantizer, ColumnDesign
from ._compat import Interval, InvalidParameterError, StrOptions
from ._lagrangian import entropy_bits, solve_rate
from ._summary import unit_summary

# a column with more distinct values is designed on this many candidate boundaries:
# half at equally spaced values over its range, half at equally spaced weighted
# quantiles (the DP is exact over the partitions whose boundaries are among them)
N_CANDIDATES = 2048


def candidate_boundaries(summary, n=N_CANDIDATES):
    """Increasing indices into ``summary.u`` (from 0 to ``k``) where a cell may start:
    every index when ``k <= n``, else ``n / 2`` equally spaced values and ``n / 2``
    equally spaced quantiles of the column."""
    k = summary.u.shape[0]
    if k <= n:
        return np.arange(k + 1, dtype=np.int64)
    half = n // 2
    u, W = summary.u, summary.W
    values = u[0] + (u[-1] - u[0]) * np.arange(1, half) / half
    masses = W[0] + (W[-1] - W[0]) * np.arange(1, half) / half
    b = np.concatenate([
        [0, k], np.searchsorted(u, values, side="left"), np.searchsorted(W, masses, "left"),
    ])
    return np.unique(np.clip(b, 0, k)).astype(np.int64)


class _Lagrangian:
    """``solve(lam) -> (mse, bits, pos)``: the exact DP of a (unit-scaled) summary
    restricted to its candidate boundaries; ``pos`` are indices into ``u``."""

    def __init__(self, summary, max_cells):
        self.b = candidate_boundaries(summary)
        self.W = np.ascontiguousarray(summary.W[self.b])
        self.S1 = np.ascontiguousarray(summary.S1[self.b])
        self.S2 = np.ascontiguousarray(summary.S2[self.b])
        self.total = float(self.W[-1] - self.W[0])
        self.max_cells = int(min(max_cells, self.b.size - 1))

    def __call__(self, lam):
        pos = np.empty(self.b.size, dtype=np.int64)
        n_cells, cost = K.ecsq_partition(self.W, self.S1, self.S2, lam, self.max_cells, pos)
        return self.evaluate(pos[: n_cells + 1])

    def evaluate(self, pos_b):
        w = np.diff(self.W[pos_b])
        s1 = np.diff(self.S1[pos_b])
        s2 = np.diff(self.S2[pos_b])
        with np.errstate(invalid="ignore", divide="ignore"):
            sse = np.where(w > 0, np.maximum(s2 - s1 * s1 / w, 0.0), 0.0).sum()
        return float(sse / self.total), entropy_bits(w), self.b[pos_b]

    def fixed_rate(self, n_cells):
        """The exact MSE-optimal partition into ``n_cells`` cells (the fixed-rate
        optimum on the candidates; its entropy is at most ``log2(n_cells)``)."""
        n_cells = int(min(n_cells, self.b.size - 1))
        pos = np.empty(n_cells + 1, dtype=np.int64)
        K.optimal_partition(self.W, self.S1, self.S2, n_cells, pos)
        return self.evaluate(pos)


def lagrangian_design(summary, max_cells, lam=None, rate=None):
    """``(lam, bits, pos)``: the partition ``pos`` (indices into ``summary.u``) of
    the smallest ``MSE + lam * H`` (``lam`` given), or of the smallest MSE with ``H <=
    rate`` among the Lagrangian designs and the fixed-rate optimum with
    ``floor(2**rate)`` cells (``lam`` NaN when that one is chosen)."""
    solve = _Lagrangian(summary, max_cells)
    if lam is not None:
        _, bits, pos = solve(lam)
        return lam, bits, pos
    var = max(float(summary.mean_std()[1]) ** 2, np.finfo(np.float64).tiny)
    lam, mse, bits, pos = solve_rate(solve, float(rate), var)
    mse_fr, bits_fr, pos_fr = solve.fixed_rate(int(np.floor(2.0**rate * (1 + 1e-12))))
    if mse_fr < mse:
        return np.nan, bits_fr, pos_fr
    return lam, bits, pos


def ecsq_codebook(u, W, S1, shift, pos, lam):
    """Thresholds and centroid levels of the partition ``pos`` of a summary: each
    threshold is the entropy-constrained encoder's boundary between its two cells,
    ``(y1 + y2) / 2 + lam (l2 - l1) / (2 (y2 - y1))`` with ``l = log2(1 / p)`` the
    cells' code lengths, kept within the gap between the cells' values (so that the
    training data gets the designed partition)."""
    w = np.diff(W[pos])
    s1 = np.diff(S1[pos])
    levels = np.where(w > 0, s1 / np.where(w > 0, w, 1.0), 0.0) + shift
    # a cell whose weight vanishes from the float64 prefix sums: its values' middle
    empty = ~(w > 0)
    last = len(u) - 1  # a cell may also be empty of summary points (pos[i] == pos[i+1])
    levels[empty] = 0.5 * (u[np.minimum(pos[:-1][empty], last)]
                           + u[np.clip(pos[1:][empty] - 1, 0, last)])
    # a centroid lies within its cell's values; from differences of prefix sums it
    # may not when weights span many orders of magnitude (cancellation)
    first, final = u[np.minimum(pos[:-1], last)], u[np.clip(pos[1:] - 1, 0, last)]
    levels = np.minimum(np.maximum(levels, np.minimum(first, final)),
                        np.maximum(first, final))
    p = np.maximum(w, np.finfo(np.float64).tiny) / W[-1]
    lengths = -_libm.log2(p)
    y1, y2 = levels[:-1], levels[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = 0.5 * (y1 + y2) + lam * (lengths[1:] - lengths[:-1]) / (2.0 * (y2 - y1))
    lo, hi = u[pos[1:-1] - 1], u[pos[1:-1]]
    t = np.where(np.isfinite(t), t, 0.5 * (lo + hi))
    t = np.minimum(np.maximum(t, np.nextafter(lo, np.inf)), hi)
    return t, levels


class EntropyConstrainedQuantizer(BaseScalarQuantizer):
    """Entropy-constrained scalar quantizer (ECSQ): minimum MSE for the entropy coded.

    For each feature, the partition of the line into contiguous cells (any number up
    to ``max_levels``) minimising ``MSE + lam * H``, ``H`` the entropy in bits of the
    code distribution, i.e. the bits per value an entropy coder spends (Chou,
    Lookabaugh and Gray 1989). Levels are the cells' centroids. With ``rate``, ``lam``
    is found per feature by bisection so that ``H <= rate``.

    The design is an exact dynamic program over the column's summary (its distinct
    values with their weights). Columns with more than 2048 distinct values are
    designed on 2048 candidate cell boundaries, half at equally spaced values over the
    column's range and half at equally spaced weighted quantiles: the DP is then exact
    over the partitions whose boundaries are among those candidates.

    Parameters
    ----------
    lam : float >= 0 or None, default=None
        The multiplier of the entropy, in squared units of X per bit (larger means
        fewer bits); 0 is the MSE-optimal quantizer with ``max_levels`` levels. Give
        ``lam`` or ``rate``, not both.
    rate : float > 0 or None, default=None
        Target entropy in bits per value, at most ``log2(max_levels)`` (``None``
        without ``lam``: 4 bits, the default width of skquant's quantizers): per feature,
        the design of smallest MSE with ``H <= rate`` among the Lagrangian designs
        found by bisection on ``lam`` and the MSE-optimal partition into
        ``floor(2**rate)`` cells (whose entropy is at most ``rate``; the Lagrangian
        designs skip rates where the achievable curve is not convex). So the MSE is
        never above the fixed-rate optimum with ``2**rate`` levels.
    max_levels : int, default=256
        The largest number of levels (cells) of a feature, 2 to 65536.
    encode : {"ordinal", "onehot", "onehot-dense", "reconstruct"}, default="ordinal"
        Output of ``transform``: integer codes, a sparse or dense one-hot matrix, or
        the quantized values themselves (same float dtype as X).

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_features, M - 1)
        Decision thresholds, increasing along each row, with ``M`` the largest of
        ``max_levels_``; in the dtype of the fitted data (float32 thresholds are
        rounded up). Padded with ``+inf`` for features with fewer levels.
    levels_ : ndarray of shape (n_features, M)
        Reconstruction levels (the cells' centroids); a feature with fewer levels
        repeats its last level.
    n_levels_ : ndarray of shape (n_features,)
        Number of levels of each feature (codes are ``0 .. n_levels_ - 1``).
    max_levels_ : ndarray of shape (n_features,)
        ``max_levels`` for each feature.
    lam_ : ndarray of shape (n_features,)
        The multiplier of each feature (``lam``, or the one found for ``rate``; NaN
        for constant features and for a ``rate`` met by the fixed-rate partition).
    entropy_ : ndarray of shape (n_features,)
        Entropy in bits of each feature's codes on the training data (weighted).
    mse_ : ndarray of shape (n_features,)
        Weighted mean squared error of each feature on the training data (after
        ``partial_fit``: on the sketches).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
    sketches_ : list of ColumnSketch
        Only after :meth:`partial_fit`: the per-feature sketches (see :ref:`streaming`).
    n_samples_seen_ : int
        Only after :meth:`partial_fit`: the number of rows seen.

    See Also
    --------
    DeadZoneQuantizer : The entropy-constrained optimum's form for a Laplacian.
    LloydMaxQuantizer : The MSE-optimal quantizer at a fixed number of levels.
    skquant.design.entropy_constrained : The same design for a density.

    Notes
    -----
    A cell ``[j, i)`` of the summary costs its weighted squared error about its
    centroid plus ``lam * w * log2(W / w)`` (``w`` its weight, ``W`` the total); the
    DP ``D[i] = min_j D[j] + cost(j, i)`` stops its scan of ``j`` once the cell's
    error alone exceeds the best cost found (every term is non-negative), which
    keeps it far below its ``O(n**2)`` worst case. When the optimum has more than
    ``max_levels`` cells, a DP over at most ``m`` cells, layer by layer, caps the count
    exactly. Thresholds are the entropy-constrained encoder's (the midpoint of the
    adjacent levels moved towards the less likely cell), kept between the training
    values of the two cells. Constant columns get one level and a warning, as for
    every scalar quantizer of skquant.

    References
    ----------
    P. A. Chou, T. Lookabaugh and R. M. Gray, "Entropy-constrained vector
    quantization", IEEE Trans. Acoust., Speech, Signal Process. 37(1), 1989.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import EntropyConstrainedQuantizer
    >>> X = np.random.default_rng(0).normal(size=(20_000, 1))
    >>> q = EntropyConstrainedQuantizer(rate=2.0).fit(X)
    >>> round(float(q.entropy_[0]), 3), round(float(q.mse_[0]), 4)
    (1.982, 0.0898)
    >>> int(q.n_levels_[0]) > 4  # more levels than a 2-bit code, at 2 bits each
    True
    """

    _parameter_constraints: dict = {
        "lam": [Interval(Real, 0, None, closed="left"), None],
        "rate": [Interval(Real, 0, None, closed="neither"), None],
        "max_levels": [Interval(Integral, 2, MAX_LEVELS, closed="both")],
        "encode": [StrOptions({"ordinal", "onehot", "onehot-dense", "reconstruct"})],
    }
    _store_few_exactly = False  # a column with few values still has a rate to meet

    @property
    def _exact_attributes(self):
        return {"lam_": np.nan, "entropy_": lambda summary: entropy_bits(summary.weights)}

    def __init__(self, lam=None, *, rate=None, max_levels=256, encode="ordinal"):
        self.lam = lam
        self.rate = rate
        self.max_levels = max_levels
        self.encode = encode

    def _levels_per_feature(self, n_features):
        owner = type(self).__name__
        if self.lam is not None and self.rate is not None:
            raise InvalidParameterError(
                f"{owner} takes lam or rate, not both (got lam={self.lam!r} and "
                f"rate={self.rate!r})."
            )
        if isinstance(self.max_levels, (bool, np.bool_)):
            raise InvalidParameterError(
                f"The 'max_levels' parameter of {owner} must be an int, not a bool."
            )
        rate = self._rate()
        if rate is not None and rate > _libm.log2(self.max_levels):
            raise InvalidParameterError(
                f"rate={rate!r} bits is above log2(max_levels) = "
                f"{_libm.log2(self.max_levels):.4g} (max_levels={self.max_levels}): raise "
                "max_levels or lower rate."
            )
        return np.full(n_features, int(self.max_levels), dtype=np.int64)

    def _rate(self):
        """The target entropy: ``rate``, 4 bits when neither it nor ``lam`` is given."""
        if self.rate is None and self.lam is None:
            return 4.0
        return self.rate

    def _fit_column(self, summary, n_levels, j):
        scaled, unit = unit_summary(summary)  # designed in units of `unit`
        lam = None if self.lam is None else float(self.lam) / unit / unit
        lam, bits, pos = lagrangian_design(scaled, n_levels, lam, self._rate())
        t, y = ecsq_codebook(scaled.u, scaled.W, scaled.S1, scaled.shift, pos,
                             0.0 if np.isnan(lam) else lam)
        attributes = {"lam_": lam * unit * unit, "entropy_": bits}
        return ColumnDesign(t * unit, y * unit, attributes)
