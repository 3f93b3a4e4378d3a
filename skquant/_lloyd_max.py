"""LloydMaxQuantizer: the MSE-optimal scalar quantizer of each feature."""

import threading
from numbers import Integral, Real

import numpy as np

from ._base import BaseScalarQuantizer, ColumnDesign
from ._compat import HasMethods, Interval, IntervalNotBool, StrOptions
from ._kernels import _auto as K
from ._summary import from_unit, sorted_unique, unit_summary

# Above this many DP cells (n_levels x distinct values) "optimal" by layers could run
# for hours where its block bounds prune little (its memory is O(distinct values) at
# any size); the error says so instead. The Lagrangian search (32 levels or more on
# 4096 distinct values or more) costs O(distinct values) per try at any size.
# (the value of _kernels._optimal.MAX_DP_CELLS, not imported here: numba loads on the
# first fit that needs a kernel; tests/test_lloyd_max.py checks they agree)
_MAX_DP_CELLS = 2**28


def _quantile_points(summary, n_points):
    """``n_points`` weighted quantiles at equally spaced probabilities in [0, 1].

    Linear interpolation of the values at their mid-point plotting positions
    ``(W[i] + W[i+1]) / 2``, evaluated only near each probability: the bracketing
    positions are within one of ``searchsorted(W, p)``, so a few positions per point
    give exactly the interpolation on the whole column, in O(n_points log k).
    """
    W, u = summary.W, summary.u
    k = u.shape[0]
    p = np.linspace(0.0, 1.0, n_points)
    near = np.searchsorted(W, p * W[-1])[:, None] + np.arange(-2, 2)
    idx = sorted_unique(np.clip(np.concatenate([near.ravel(), [0, k - 1]]), 0, k - 1))
    cdf = (0.5 * W[idx + 1] + 0.5 * W[idx]) / W[-1]  # mid-point plotting positions
    return np.interp(p, cdf, u[idx])


def compander_init(summary, n_levels):
    """High-rate design from the sample: point density proportional to f^(1/3).

    The density is estimated on ``B`` equal-mass cells of the weighted empirical
    distribution: a cell of width ``dq`` and mass ``1/B`` has density ``1/(B dq)``, so
    it contributes ``f^(1/3) dq ∝ dq^(2/3)`` to the compressor ``g``. Thresholds and
    levels are ``g^-1(k/M)`` and ``g^-1((k + 1/2)/M)`` (the lecture's design C).
    """
    k = summary.u.shape[0]
    n_cells = int(min(k - 1, max(4 * n_levels, np.sqrt(summary.total_weight), 64)))
    q = _quantile_points(summary, n_cells + 1)
    g = np.concatenate([[0.0], np.cumsum(np.diff(q) ** (2.0 / 3.0))])
    if g[-1] <= 0:
        return quantile_init(summary, n_levels)
    g /= g[-1]
    return np.interp((np.arange(n_levels) + 0.5) / n_levels, g, q)


#: Cells of the fine grid behind ``init="summary"`` (at least 8 per level), and the
#: largest number of levels it serves (above, the default falls back to "compander").
SUMMARY_CELLS = 2048
SUMMARY_MAX_LEVELS = 256


def summary_init(summary, n_levels):
    """The exact optimum over partitions whose boundaries are on a fine grid.

    The grid is the union of ``B / 2`` equal-weight and ``B / 2`` equal-width cut points
    of the column (``B = max(2048, 8 M)`` boundaries in all; every distinct value is a
    boundary when the column has at most ``B`` of them, and the start is then the exact
    optimum). The prefix sums at grid points give the exact cost of every cell made of
    grid cells, so the dynamic programme on the ``B`` grid cells is the optimum of the
    column restricted to those boundaries, in O(M B log B), independent of the column's
    length. Columns with more than ``SUMMARY_MAX_LEVELS`` levels start from the
    compander design instead.
    """
    return _summary_start(summary, n_levels)[0]


def _summary_start(summary, n_levels):
    """:func:`summary_init`'s levels, and whether they are the exact optimum of the
    column (its grid holds every distinct value, each with a positive weight)."""
    k = summary.u.shape[0]
    if n_levels > SUMMARY_MAX_LEVELS:
        return compander_init(summary, n_levels), False
    B = max(SUMMARY_CELLS, 8 * n_levels)
    if k <= B:
        idx = np.arange(k + 1)
    else:
        W, u = summary.W, summary.u
        by_weight = np.searchsorted(W, np.linspace(0.0, W[-1], B // 2 + 1)[1:-1], side="left")
        by_value = np.searchsorted(u, np.linspace(u[0], u[-1], B // 2 + 1)[1:-1], side="left")
        idx = sorted_unique(np.concatenate([[0, k], by_weight, by_value]))
    W, S1, S2 = summary.W[idx], summary.S1[idx], summary.S2[idx]
    keep = np.concatenate([[True], np.diff(W) > 0])  # the kernel wants positive weights
    idx, W, S1, S2 = idx[keep], W[keep], S1[keep], S2[keep]
    idx[-1], W[-1] = k, summary.W[-1]
    n_cells = min(n_levels, idx.shape[0] - 1)
    pos = np.empty(n_cells + 1, dtype=np.int64)
    K.optimal_partition(W, S1, S2, n_cells, pos)
    levels = summary.u[np.minimum(idx[pos[:-1]], k - 1)].astype(np.float64)
    K.centroids(W, S1, summary.shift, pos, levels)
    if n_cells < n_levels:  # fewer grid cells than levels (weights lost to rounding)
        return compander_init(summary, n_levels), False
    return levels, bool(k <= B and keep.all())


def quantile_init(summary, n_levels):
    """Levels at the weighted quantiles ``(k + 1/2) / M``."""
    return _quantile_points(summary, 2 * n_levels + 1)[1::2]


def uniform_init(summary, n_levels):
    """Levels at the centres of ``M`` equal cells spanning the data range."""
    lo, hi = summary.u[0], summary.u[-1]
    return lo + (np.arange(n_levels) + 0.5) * (hi - lo) / n_levels


def _strictly_increasing(levels, u):
    """Make initial levels strictly increasing by snapping ties to distinct data values.

    Levels that coincide (an init on tied data) would stay tied forever under Lloyd;
    snapping to the nearest distinct values with at least one index between
    neighbours keeps every level useful. Needs ``len(u) >= len(levels)``.
    """
    if np.all(np.diff(levels) > 0):
        return levels
    M, k = len(levels), len(u)
    idx = np.clip(np.searchsorted(u, levels), 0, k - 1)
    for i in range(1, M):
        idx[i] = max(idx[i], idx[i - 1] + 1)
    idx[M - 1] = min(idx[M - 1], k - 1)
    for i in range(M - 2, -1, -1):
        idx[i] = min(idx[i], idx[i + 1] - 1)
    return u[idx].astype(np.float64)


_INITS = {
    "summary": summary_init,
    "compander": compander_init,
    "quantile": quantile_init,
    "uniform": uniform_init,
}


class LloydMaxQuantizer(BaseScalarQuantizer):
    """MSE-optimal scalar quantizer of each feature (Lloyd–Max, i.e. 1-D k-means).

    Each column is quantized to ``M`` levels (``n_levels``, or ``2 ** n_bits``)
    chosen to minimise the (weighted) mean squared error. ``algorithm="lloyd"``
    alternates the Lloyd–Max conditions — thresholds at the midpoints of adjacent
    levels, levels at the centroids of their cells — on the sorted column, at
    O(M log n) per iteration, from the exact optimum on a fine grid of the column
    (exact on columns with at most 2048 distinct values) and three other starts.
    ``algorithm="optimal"`` finds the exact global minimum by dynamic programming.

    Parameters
    ----------
    n_bits : int, array-like of shape (n_features,) or None, default=None
        Bits per value, 1 to 16: ``n_bits=b`` means exactly ``n_levels=2**b``.
        ``None`` means 4 bits unless ``n_levels`` is given (giving both is an error).
        An array gives each feature its own width (see :func:`skquant.allocate_bits`).
    n_levels : int, array-like of shape (n_features,) or None, default=None
        Number of levels of each feature, any integer from 2 to 65536 (``n_levels=5``
        quantizes like ``KBinsDiscretizer(n_bins=5)``, into codes 0 to 4), or one per
        feature as an array. The fitted arrays are padded to the largest.
    encode : {"ordinal", "onehot", "onehot-dense", "reconstruct"}, default="ordinal"
        Output of ``transform``: integer codes, a sparse or dense one-hot matrix, or
        the quantized values themselves (same float dtype as X), for pipelines that
        feed quantize–dequantize values to a model.
    algorithm : {"lloyd", "optimal"}, default="lloyd"
        ``"lloyd"``: the Lloyd–Max iteration from ``init`` (a local optimum; the
        distortion never increases between iterations). ``"optimal"``: the exact
        global minimum of the empirical MSE, by dynamic programming over the sorted
        distinct values (divide and conquer, O(M k log k) for k distinct values).
    init : {"summary", "compander", "quantile", "uniform"} or array-like, \
            default="summary"
        Initial levels for ``"lloyd"``. ``"summary"`` is the exact optimum of the
        column restricted to cell boundaries on a grid of 2048 equal-weight and
        equal-width cut points (every distinct value when there are at most 2048 of
        them: then Lloyd starts, and stays, at the exact optimum); it costs
        O(M B log B) for the grid's ``B`` cells, whatever the column's length (above
        256 levels it falls back to ``"compander"``). ``"compander"`` is the high-rate
        design with point density proportional to ``f^(1/3)``, estimated from the
        sample. ``"quantile"`` puts levels at quantiles, ``"uniform"`` spreads them
        evenly over the range. An array of shape ``(M,)`` or ``(n_features, M)`` gives
        the levels (then every feature must have the same number of levels ``M``).
    max_iter : int, default=1000
        Maximum number of Lloyd iterations per start and feature (an iteration
        costs O(M log n), so a high cap is cheap; convergence slows as M grows).
    tol : float, default=1e-7
        Stop when the relative decrease of the distortion in one iteration is at
        most ``tol``; iteration also stops at an exact fixed point.
    distribution : {"gaussian", "laplace", "uniform"}, frozen scipy.stats distribution \
            or None, default=None
        When set, the quantizer is *parametric*: fit only estimates each column's
        location and scale, and the levels and thresholds are the analytic
        Lloyd–Max design for that density (:func:`skquant.design.lloyd_max`) moved
        to the column — few samples suffice. Location and scale are the maximum
        likelihood estimates for ``"gaussian"`` (weighted mean and standard
        deviation), ``"laplace"`` (weighted median, and ``sqrt(2)`` times the mean
        absolute deviation from it) and ``"uniform"`` (mid-range and
        ``range / (2 sqrt(3))``); a scipy distribution is matched by mean and
        standard deviation (its design is standardised with its own ``mean()`` and
        ``std()``). ``algorithm``, ``init``, ``n_init``, ``max_iter`` and ``tol`` are
        then unused. ``None`` fits the levels to the sample.
    n_init : int, default=4
        Number of deterministic starts for ``"lloyd"``, 1 to 4: ``init`` first, then
        the remaining ones of ``"summary"``, ``"compander"``, ``"quantile"``,
        ``"uniform"`` in that order; the run with the lowest distortion is kept (where
        ``"summary"`` is the exact optimum, on columns with at most 2048 distinct
        values, it is the only run: no other can end lower). Each
        run also escapes Lloyd's local minima by merge-and-split moves that lower the
        distortion. Runs cost O(M log n) per iteration on the sorted column, so extra
        starts are cheap next to the sort.

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_features, M - 1)
        Decision thresholds, increasing along each row, with ``M`` the largest of
        ``max_levels_``; in the dtype of the fitted data (float32 thresholds are
        rounded up, so float32 data gets exactly the codes the float64 thresholds
        would give). A feature with fewer levels is padded with ``+inf``, so its
        padding never assigns a code.
    levels_ : ndarray of shape (n_features, M)
        Reconstruction levels; a feature with fewer levels repeats its last level.
    n_levels_ : ndarray of shape (n_features,)
        Number of levels really used by each feature (codes are ``0 .. n_levels_ - 1``).
    max_levels_ : ndarray of shape (n_features,)
        The number of levels each feature was designed for: ``n_bits`` or
        ``n_levels`` resolved once in fit (nothing after fit reads them again).
    n_iter_ : int
        The largest number of iterations over the features (``n_iter_per_feature_``).
    n_iter_per_feature_ : ndarray of shape (n_features,)
        Iterations run per feature: Lloyd iterations summed over the starts; 1 for
        the exact optimum (one pass); the analytic solver's iterations with
        ``distribution``; 0 for features stored exactly.
    mse_ : ndarray of shape (n_features,)
        Weighted mean squared error of each feature on the training data (after
        ``partial_fit``: on the sketches, each bin coded as a whole).
    loc_, scale_ : ndarray of shape (n_features,)
        Only with ``distribution``: the fitted location and scale of each feature
        (NaN for a feature with at most ``M`` distinct values, which is exact).
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
    sklearn.preprocessing.KBinsDiscretizer : Binning with a ragged ``bin_edges_``;
        its ``"kmeans"`` strategy runs full k-means per feature.

    Notes
    -----
    Values equal to a threshold go to the upper cell. Columns with at most ``M``
    distinct values get one level per distinct value (zero error) and a warning.
    Columns are fitted in parallel on up to ``numba.get_num_threads()`` threads.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer
    >>> X = np.random.default_rng(0).standard_normal((10_000, 2))
    >>> q = LloydMaxQuantizer(n_bits=2).fit(X)
    >>> q.levels_.round(1)
    array([[-1.5, -0.5,  0.5,  1.5],
           [-1.5, -0.5,  0.5,  1.5]])
    >>> q.transform([[0.1, -3.0]])
    array([[2, 0]], dtype=uint8)
    >>> round(-q.score(X), 3)  # Lloyd–Max MSE of N(0, 1) with 4 levels: 0.1175
    0.117
    """

    _parameter_constraints: dict = {
        **BaseScalarQuantizer._parameter_constraints,
        "algorithm": [StrOptions({"lloyd", "optimal"})],
        "init": [StrOptions(set(_INITS)), "array-like"],
        "max_iter": [IntervalNotBool(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_init": [IntervalNotBool(Integral, 1, len(_INITS), closed="both")],
        "distribution": [
            None,
            StrOptions({"gaussian", "laplace", "uniform"}),
            HasMethods(["pdf", "ppf", "mean", "std"]),
        ],
    }

    def __init__(
        self,
        n_bits=None,
        *,
        n_levels=None,
        encode="ordinal",
        algorithm="lloyd",
        init="summary",
        max_iter=1000,
        tol=1e-7,
        distribution=None,
        n_init=4,
    ):
        super().__init__(n_bits=n_bits, n_levels=n_levels, encode=encode)
        self.algorithm = algorithm
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.distribution = distribution

    def _check_init(self, n_levels, j):
        """The user's init levels of feature ``j`` (validated, sorted), or None."""
        if isinstance(self.init, str):
            return None
        init = np.asarray(self.init, dtype=np.float64)
        d = self.n_features_in_
        if init.shape not in ((n_levels,), (d, n_levels)):
            raise ValueError(
                f"init array must have shape ({n_levels},) or ({d}, {n_levels}) for "
                f"{n_levels} levels (one number of levels for every feature), got "
                f"{np.shape(self.init)}."
            )
        if not np.isfinite(init).all():
            raise ValueError("init array must be finite.")
        return np.sort(init if init.ndim == 1 else init[j])

    def _starts(self, summary, n_levels, j):
        """The ``n_init`` deterministic initial levels: ``init`` first, then the others.

        When ``init="summary"`` gives the exact optimum of the column (at most 2048
        distinct values), it is the only start: no start can end below the global
        minimum, and Lloyd does not leave it.
        """
        user = self._check_init(n_levels, j)
        names = [name for name in _INITS if not (user is None and name == self.init)]
        if user is not None:
            first = user
        elif self.init == "summary":
            first, exact = _summary_start(summary, n_levels)
            if exact:
                return [_strictly_increasing(first, summary.u)]
        else:
            first = _INITS[self.init](summary, n_levels)
        starts = [first] + [_INITS[name](summary, n_levels) for name in names]
        return [_strictly_increasing(s, summary.u) for s in starts[: self.n_init]]

    def _fit_column(self, summary, n_levels, j):
        if self.distribution is not None:
            return self._fit_parametric(summary, n_levels)
        scaled, unit = unit_summary(summary)  # exact power-of-two rescaling
        if unit != 1.0:
            d = self._fit_column(scaled, n_levels, j)
            thresholds, levels = from_unit(d.thresholds, d.levels, unit)
            return d._replace(thresholds=thresholds, levels=levels)
        if self.algorithm == "optimal":
            return self._fit_optimal(summary, n_levels)
        best = None
        n_iter = 0
        for levels in self._starts(summary, n_levels, j):
            levels = np.array(levels, dtype=np.float64)
            iters, converged = K.lloyd_escape(
                summary.u, summary.W, summary.S1, summary.S2, summary.shift,
                levels, min(int(self.max_iter), 2**62), self.tol, 4 * n_levels,
            )
            n_iter += iters
            cost = summary.cost(summary.positions(0.5 * (levels[1:] + levels[:-1])))
            if best is None or cost < best[0]:
                best = (cost, levels, converged)
        _, levels, converged = best
        thresholds = 0.5 * (levels[1:] + levels[:-1])
        return ColumnDesign(thresholds, levels, n_iter=n_iter, converged=bool(converged))

    def _fit_parametric(self, summary, n_levels):
        """The analytic Lloyd–Max design for ``distribution``, moved to the column."""
        scaled, unit = unit_summary(summary)  # the moments square the values
        loc, scale = scaled.location_scale(self.distribution)  # in units of `unit`
        d = _parametric_design(self.distribution, n_levels)
        if isinstance(self.distribution, str):
            centre, spread = 0.0, 1.0  # the named designs are standardised
        else:
            centre, spread = float(self.distribution.mean()), float(self.distribution.std())
        # moved to the column in its units, then back exactly (no overflow on the way)
        thresholds, levels = from_unit(
            loc + scale * ((d.thresholds - centre) / spread),
            loc + scale * ((d.levels - centre) / spread),
            unit,
        )
        return ColumnDesign(
            thresholds, levels, {"loc_": loc * unit, "scale_": scale * unit},
            n_iter=d.n_iter,
        )

    def _fit_optimal(self, summary, n_levels):
        from ._kernels import _optimal

        k = summary.u.shape[0]
        if n_levels * k > _MAX_DP_CELLS and not _optimal.lagrangian(k, n_levels):
            raise ValueError(
                f"algorithm='optimal' with {n_levels} levels on a column with {k} "
                f"distinct values needs {n_levels * k} DP cells (limit {_MAX_DP_CELLS}); "
                "use fewer levels, algorithm='lloyd', or round the data."
            )
        pos = np.empty(n_levels + 1, dtype=np.int64)
        if K.optimal_partition(summary.W, summary.S1, summary.S2, n_levels, pos) < 0:
            raise RuntimeError(
                f"algorithm='optimal' with {n_levels} levels on a column with {k} "
                "distinct values: the search over the penalty per level did not end, "
                f"and the programme by layers would need {n_levels * k} DP cells; use "
                "fewer levels, algorithm='lloyd', or round the data."
            )
        levels = summary.centroids(pos, np.zeros(n_levels))
        # a cell whose weights vanish from the float64 prefix sums (below 2**-52 of the
        # total) has no centroid: its level is the middle of its values instead
        weightless = (np.diff(summary.W[pos]) == 0) & (np.diff(pos) > 0)
        for c in np.flatnonzero(weightless):
            levels[c] = 0.5 * (summary.u[pos[c]] + summary.u[pos[c + 1] - 1])
        # the boundary between cells is any point in (u[pos-1], u[pos]); the midpoint
        # of the adjacent levels is in that gap (nearest-neighbour condition).
        thresholds = 0.5 * (levels[1:] + levels[:-1])
        return ColumnDesign(thresholds, levels, n_iter=1)


# One analytic design per (distribution, number of levels), shared by every fit: the
# designs are pure functions of their arguments (a scipy distribution is keyed by its
# name and parameters, not by the object).
_DESIGNS = {}
_DESIGNS_LOCK = threading.Lock()


def _distribution_key(distribution):
    if isinstance(distribution, str):
        return distribution
    kwds = tuple(sorted((k, repr(v)) for k, v in distribution.kwds.items()))
    return (distribution.dist.name, tuple(repr(a) for a in distribution.args), kwds)


def _parametric_design(distribution, n_levels):
    key = (_distribution_key(distribution), int(n_levels))
    d = _DESIGNS.get(key)
    if d is None:
        from .design import lloyd_max  # scipy.stats: loaded on first use

        d = lloyd_max(distribution, n_levels)
        with _DESIGNS_LOCK:
            if len(_DESIGNS) >= 256:
                _DESIGNS.clear()
            _DESIGNS[key] = d
    return d
