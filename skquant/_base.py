"""The scalar-quantizer contract shared by every per-feature quantizer in skquant.

A subclass decides only how one column is designed, in ``_fit_column``; this base
validates input, summarises the columns (sorted in ``fit``, sketched in
``partial_fit``), handles columns with fewer distinct values than levels, stores the
dense codebook and implements ``transform``, ``inverse_transform``, ``score`` and the
feature names.
"""

import sys
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numba
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

from . import _kernels as K
from ._compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _check_sample_weight,
    _fit_context,
    check_is_fitted,
    check_not_bool,
    validate_data,
)
from ._summary import ColumnSketch, summarize_column


def _ceil_to_dtype(values, dtype):
    """Round float64 thresholds up to ``dtype``.

    For a value ``x`` representable in ``dtype``, ``x >= t`` holds exactly when
    ``x >= ceil_dtype(t)``: float32 data gets the same codes as with float64 thresholds.
    """
    out = values.astype(dtype)
    low = out < values
    out[low] = np.nextafter(out[low], np.inf)
    return out


# The O(1) encoder's grid: at most this many cells per feature, and in all; it is used
# from _GRID_MIN_LEVELS levels on (below, bisection takes as few comparisons).
_GRID_CELLS = 2**16
_GRID_ENTRIES = 2**23
_GRID_MIN_LEVELS = 8


def grid_tables(thresholds, n_levels):
    """The grid of :func:`K.grid_encode` for a codebook, or ``None``.

    The grid has ``G`` cells over each feature's thresholds, at least two per gap
    between consecutive thresholds, so that each cell holds at most one. ``None`` when
    that needs more than ``_GRID_CELLS`` cells (thresholds far more unevenly spaced
    than any compander's): the estimator then encodes by bisection. Thresholds are
    compared as float64, which for float32 data gives the float32 codes (they are
    rounded up from the float64 design; see ``_ceil_to_dtype``).
    """
    T = np.asarray(thresholds, dtype=np.float64)
    # near the largest float the spans overflow, between subnormals their inverse does:
    # such codebooks are encoded by bisection (None), without floating-point warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _grid_tables(T, n_levels)


def _grid_tables(T, n_levels):
    d = T.shape[0]
    rows = [T[j, : n_levels[j] - 1] for j in range(d)]
    G = 1
    for t in rows:
        if t.size >= 2:
            gap = np.diff(t).min()
            if not gap > 0:
                return None
            G = max(G, int(np.ceil(min(2.0 * (t[-1] - t[0]) / gap, 2.0 * _GRID_CELLS))) + 1)
    if G > _GRID_CELLS or G * d > _GRID_ENTRIES:
        return None
    start, inv_width = np.zeros(d), np.zeros(d)
    table = np.zeros((d, G, 2))
    table[:, :, 1] = np.inf
    for j, t in enumerate(rows):
        if t.size == 0:
            continue
        start[j] = t[0]
        if t.size >= 2:
            inv_width[j] = G / (t[-1] - t[0])
            if not 0.0 < inv_width[j] < np.inf:
                return None
        cell = np.clip((t - start[j]) * inv_width[j], 0, G - 1).astype(np.int64)
        if np.any(np.diff(cell) == 0):
            return None
        table[j, :, 0] = np.searchsorted(cell, np.arange(G), side="left")
        table[j, cell, 1] = t
    return start, inv_width, table


# The grids are derived data: cached per estimator outside its __dict__, so they are
# neither pickled nor saved in skquant files, and transform leaves the estimator as it is.
_GRIDS = weakref.WeakKeyDictionary()


def _map_columns(func, n_columns):
    """``[func(j) for j in range(n_columns)]`` on up to numba's thread count of threads.

    Each column is independent, so the result does not depend on the thread count.
    """
    n_threads = min(numba.get_num_threads(), n_columns)
    if n_threads <= 1:
        return [func(j) for j in range(n_columns)]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(func, range(n_columns)))


def _user_stacklevel():
    """The ``stacklevel`` of the first frame outside skquant (and scikit-learn's
    wrappers), so warnings point at the user's call, whichever path led here."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "skquant", "sklearn"
    ):
        frame, level = frame.f_back, level + 1
    return level


def _column_names(estimator, columns):
    names = getattr(estimator, "feature_names_in_", None)
    return ", ".join(
        f"{j} ({names[j]!r})" if names is not None else str(j) for j in columns
    )


def _nonfinite_error(estimator, columns, where=""):
    """The ValueError for NaN or inf in ``columns`` (named as ``estimator`` names them)."""
    return ValueError(
        f"Input X contains NaN or inf in column(s) {_column_names(estimator, columns)}; "
        f"quantizers need finite values: impute or drop them first{where}."
    )


class BaseScalarQuantizer(TransformerMixin, BaseEstimator):
    """Base class of the per-feature scalar quantizers (not for direct use).

    Subclasses implement ``_fit_column(summary, n_levels, j)`` returning
    ``(thresholds, levels, info)``: float64 arrays of length ``n_levels - 1`` and
    ``n_levels`` for a column with more than ``n_levels`` distinct values, and a dict of
    per-feature diagnostics (``info["n_iter"]`` etc.) collected into fitted attributes.
    """

    _parameter_constraints: dict = {
        "n_bits": [Interval(Integral, 1, 16, closed="both"), "array-like"],
        "encode": [StrOptions({"ordinal", "onehot", "onehot-dense", "reconstruct"})],
    }

    def __init__(self, n_bits=4, *, encode="ordinal"):
        self.n_bits = n_bits
        self.encode = encode

    # ------------------------------------------------------------------ fitting
    def _validate_fit_input(self, X, sample_weight, reset=True):
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            ensure_all_finite=False,
            accept_sparse=False,
            reset=reset,
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            if not np.isfinite(sample_weight.sum()):
                raise ValueError(
                    "sample_weight sums to inf: the weights are too large to add up in "
                    "float64; divide them by a common factor."
                )
        return X, sample_weight

    def _bits_per_feature(self, n_features):
        """``n_bits`` as an int array of one width per feature (validated)."""
        check_not_bool(self, "n_bits")
        bits = np.asarray(self.n_bits)
        if bits.ndim == 0:
            return np.full(n_features, int(bits), dtype=np.int64)
        if bits.ndim != 1 or bits.shape[0] != n_features:
            raise ValueError(
                f"n_bits must be an int or an array of {n_features} ints (one per "
                f"feature), got shape {bits.shape}."
            )
        if bits.dtype.kind not in "iu" or bits.min() < 1 or bits.max() > 16:
            raise ValueError(f"n_bits values must be integers in [1, 16], got {bits.tolist()}.")
        return bits.astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the codebook of every feature from all of X.

        Each column is sorted and summarised exactly, then designed by the estimator's
        rule (see the class documentation). ``fit`` discards the sketches of an earlier
        :meth:`partial_fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, finite. float32 is kept, other numerics become float64.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, used by every estimate of the design
            (weighted MSE, moments, percentiles, densities, centroids).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, sample_weight = self._validate_fit_input(X, sample_weight)
        for name in ("sketches_", "n_samples_seen_"):  # fit starts afresh
            self.__dict__.pop(name, None)
        self._design(
            lambda j: summarize_column(X[:, j], sample_weight), X.shape[1], X.dtype
        )
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Add a batch of rows to the per-feature sketches and refit the codebook.

        Each feature keeps a :class:`~skquant.ColumnSketch`, a weighted
        histogram of at most ``2**16`` bins with exact moments per bin, whatever the
        number of rows; the codebook is redesigned from the sketches after every batch
        with the same algorithm as ``fit``. Batches may come in any order: sketches
        merge associatively and commutatively. The bins' centre and scale are taken
        from the first batch, so it should hold at least a few hundred rows. See
        :ref:`streaming` for the accuracy guarantee. ``fit`` discards the sketches; a
        ``partial_fit`` after ``fit`` starts a new stream.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training rows, finite.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows.

        Returns
        -------
        self : object
            The estimator, fitted on all batches so far.
        """
        first = not hasattr(self, "sketches_")
        X, sample_weight = self._validate_fit_input(X, sample_weight, reset=first)
        self._bits_per_feature(X.shape[1])
        bad = np.flatnonzero(~np.isfinite(X).all(axis=0))
        if bad.size:
            raise _nonfinite_error(self, bad)
        if first:
            sketches = _map_columns(
                lambda j: ColumnSketch.from_batch(X[:, j], sample_weight), X.shape[1]
            )
            dtype = X.dtype
        else:
            sketches = self.sketches_
            batch = X.shape[0] if sample_weight is None else sample_weight.sum()
            if batch > np.finfo(np.float64).max - sketches[0].total_weight:
                raise ValueError(
                    "The weights of all partial_fit batches sum to inf: they are too large "
                    "to add up in float64; divide them by a common factor."
                )
            _map_columns(lambda j: sketches[j].add(X[:, j], sample_weight), X.shape[1])
            dtype = self.levels_.dtype
        self._fit_sketches(sketches, dtype)
        self.n_samples_seen_ = getattr(self, "n_samples_seen_", 0) + X.shape[0]
        return self

    def _fit_sketches(self, sketches, dtype):
        """Design every column from its sketch (partial_fit, skquant.dask)."""
        self.sketches_ = sketches
        self._design(lambda j: sketches[j].to_summary(), len(sketches), np.dtype(dtype))

    def _design(self, summary_of, n_features, dtype):
        """Design the codebook from ``summary_of(j)`` for each feature; subclasses
        resolve their parameters around :meth:`_fit_summaries` and set the fitted
        attributes from the per-feature infos."""
        raise NotImplementedError

    def _fit_summaries(self, summary_of, n_features, dtype, fit_column=None):
        """Summarise and design every column; set the codebook attributes.

        ``summary_of(j)`` gives the :class:`ColumnSummary` of feature ``j`` (``None``
        if the column holds NaN or inf). Returns the per-feature infos, each with the
        column's ``"min"`` and ``"max"``.
        """
        fit_column = self._fit_column if fit_column is None else fit_column
        bits = self._bits_per_feature(n_features)

        def one(j):
            summary = summary_of(j)
            if summary is None:
                return None
            k = summary.u.shape[0]
            M = 2 ** int(bits[j])
            if k <= M:
                levels = summary.u.copy()
                thresholds = 0.5 * (levels[1:] + levels[:-1])
                info = {"exact": True}
            else:
                thresholds, levels, info = fit_column(summary, M, j)
                info.setdefault("exact", False)
            info.update(min=float(summary.u[0]), max=float(summary.u[-1]))
            return (
                np.asarray(thresholds, dtype=np.float64),
                np.asarray(levels, dtype=np.float64),
                info,
            )

        results = _map_columns(one, n_features)
        bad = [j for j, r in enumerate(results) if r is None]
        if bad:
            raise _nonfinite_error(self, bad)
        self._set_codebook(
            dtype, [r[0] for r in results], [r[1] for r in results], 2 ** int(bits.max())
        )
        few = [
            j for j, r in enumerate(results) if r[2].get("exact") and len(r[1]) < 2 ** bits[j]
        ]
        if few:
            warnings.warn(
                f"Column(s) {_column_names(self, few)} have fewer distinct values than "
                f"their 2**n_bits levels (n_bits={self.n_bits}): each distinct value "
                "gets its own level (zero error); n_levels_ holds the real count.",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        return [r[2] for r in results]

    def _set_codebook(self, dtype, thresholds, levels, M):
        """Store dense ``thresholds_`` / ``levels_``, padded to ``M`` levels per feature."""
        d = len(levels)
        T = np.full((d, M - 1), np.inf, dtype=np.float64)
        L = np.empty((d, M), dtype=np.float64)
        n_levels = np.empty(d, dtype=np.int64)
        for j, (t, y) in enumerate(zip(thresholds, levels)):
            n = len(y)
            n_levels[j] = n
            T[j, : n - 1] = t
            L[j, :n] = y
            L[j, n:] = y[-1]
        self.thresholds_ = _ceil_to_dtype(T, dtype)
        self.levels_ = L.astype(dtype)
        self.n_levels_ = n_levels

    # ---------------------------------------------------------------- transform
    @property
    def _codes_dtype(self):
        return np.uint8 if self.levels_.shape[1] <= 256 else np.uint16

    def _grid(self):
        """The grid of :func:`grid_tables` for ``thresholds_`` (``None``: bisection).

        Built on first use and rebuilt when a refit replaces ``thresholds_``.
        """
        entry = _GRIDS.get(self)
        if entry is None or entry[0] is not self.thresholds_:
            grid = None
            if self.levels_.shape[1] >= _GRID_MIN_LEVELS:
                grid = grid_tables(self.thresholds_, self.n_levels_)
            entry = (self.thresholds_, grid)
            _GRIDS[self] = entry
        return entry[1]

    def _encode(self, X):
        """Validated X -> ordinal codes, raising on NaN/inf.

        In O(1) per value through a grid over the thresholds when there is one (with
        the thresholds' exact semantics), else by bisection.
        """
        grid = self._grid()
        if grid is not None:
            codes = np.empty(X.shape, dtype=self._codes_dtype)
            if not K.grid_encode(X, *grid, codes).any():
                return codes  # else: NaN or inf, named by the bisection below
        thresholds = self.thresholds_
        if thresholds.dtype != X.dtype:
            thresholds = _ceil_to_dtype(thresholds.astype(np.float64), X.dtype)
        codes = np.empty(X.shape, dtype=self._codes_dtype)
        bad = K.encode(X, thresholds, codes)
        if bad.any():
            chunk = np.flatnonzero(bad)[0]
            rows = X[chunk * K.CHUNK : (chunk + 1) * K.CHUNK]
            cols = np.flatnonzero(~np.isfinite(rows).all(axis=0))
            raise _nonfinite_error(self, cols)
        return codes

    def transform(self, X):
        """Quantize X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to quantize; float32 stays float32, other numerics become float64.

        Returns
        -------
        Xt : ndarray or sparse matrix
            With ``encode="ordinal"``, integer codes of shape (n_samples, n_features),
            uint8 for ``n_bits <= 8`` and uint16 otherwise: code ``k`` means
            ``thresholds_[j, k-1] <= x < thresholds_[j, k]``, and values outside the
            fitted range get the end codes. ``"onehot"`` gives a CSR matrix and
            ``"onehot-dense"`` a dense array with ``n_levels_.sum()`` columns;
            ``"reconstruct"`` gives the quantized values in the dtype of X.
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            ensure_all_finite=False,
            reset=False,
        )
        codes = self._encode(X)
        if self.encode == "ordinal":
            return codes
        if self.encode == "reconstruct":
            return self._decode(codes, check=False).astype(X.dtype, copy=False)
        onehot = self._onehot(codes, X.dtype)
        return onehot.toarray() if self.encode == "onehot-dense" else onehot

    def _onehot(self, codes, dtype):
        n, d = codes.shape
        offsets = np.concatenate([[0], np.cumsum(self.n_levels_)[:-1]])
        indices = (codes.astype(np.int64) + offsets).ravel()
        indptr = np.arange(0, n * d + 1, d, dtype=np.int64)
        data = np.ones(n * d, dtype=dtype)
        return sparse.csr_matrix(
            (data, indices, indptr), shape=(n, int(self.n_levels_.sum()))
        )

    # -------------------------------------------------------- inverse_transform
    def _check_codes(self, codes):
        """Validate codes given to inverse_transform; returns a C-ordered integer array."""
        n_features = self.n_features_in_
        if sparse.issparse(codes):
            codes = codes.toarray()
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array of codes, got an array with {codes.ndim} dimension(s)."
            )
        n_onehot = int(self.n_levels_.sum())
        if self.encode in ("onehot", "onehot-dense") and codes.shape[1] == n_onehot:
            codes = self._from_onehot(codes)
        if codes.shape[1] != n_features:
            raise ValueError(
                f"Codes have {codes.shape[1]} columns, but {type(self).__name__} is "
                f"fitted on {n_features} features."
            )
        kind = codes.dtype.kind
        if kind == "f":
            if not np.isfinite(codes).all() or np.any(codes != np.round(codes)):
                raise ValueError(
                    "Codes must be integers; got floating-point codes that are not "
                    "whole numbers (or NaN/inf)."
                )
            codes = codes.astype(np.int64)
        elif kind == "b":
            codes = codes.astype(np.uint8)
        elif kind not in "iu":
            raise TypeError(f"Codes must be an integer array, got dtype {codes.dtype}.")
        elif codes.dtype == np.uint64:  # saturate: 2**63 and up must not wrap to < 0
            codes = np.minimum(codes, np.uint64(np.iinfo(np.int64).max))
        if codes.dtype not in (np.uint8, np.uint16):
            codes = codes.astype(np.int64, copy=False)
        return np.ascontiguousarray(codes)

    def _from_onehot(self, onehot):
        onehot = np.asarray(onehot)
        out = np.empty((onehot.shape[0], self.n_features_in_), dtype=np.int64)
        start = 0
        for j, n in enumerate(self.n_levels_):
            block = onehot[:, start : start + n]
            if np.any(block.sum(axis=1) != 1):
                raise ValueError(
                    f"One-hot codes of feature {j} must have exactly one 1 per row."
                )
            out[:, j] = block.argmax(axis=1)
            start += n
        return out

    def _decode(self, codes, check=True):
        out = np.empty(codes.shape, dtype=self.levels_.dtype)
        bad = K.decode(codes, self.levels_, self.n_levels_, out)
        if check and bad.any():
            codes64 = codes.astype(np.int64)
            cols = np.flatnonzero(
                ((codes64 < 0) | (codes64 >= self.n_levels_)).any(axis=0)
            )
            j = cols[0]
            raise ValueError(
                f"Codes out of range in column(s) {_column_names(self, cols)}: feature "
                f"{j} takes codes 0..{self.n_levels_[j] - 1}, got values in "
                f"[{codes64[:, j].min()}, {codes64[:, j].max()}]."
            )
        return out

    def inverse_transform(self, X):
        """Map codes back to their levels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Integer codes (as produced by ``encode="ordinal"``; with a one-hot
            ``encode`` the one-hot matrix is accepted too). Codes outside
            ``0 .. n_levels_[j] - 1`` raise ``ValueError``.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features)
            The levels, in the float dtype of the data seen in ``fit``.
        """
        check_is_fitted(self)
        return self._decode(self._check_codes(X))

    # -------------------------------------------------------------- evaluation
    def score(self, X, y=None, sample_weight=None):
        """Minus the mean squared reconstruction error (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``-mean((X - Q(X)) ** 2)`` over all entries (rows weighted).
        """
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            ensure_all_finite=False,
            reset=False,
        )
        X_hat = self._decode(self._encode(X), check=False)
        err = ((X.astype(np.float64) - X_hat) ** 2).mean(axis=1)
        return -float(np.average(err, weights=sample_weight))

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The input names, or with a one-hot ``encode`` one name per level,
            ``"<feature>_<code>"``.
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        if self.encode in ("onehot", "onehot-dense"):
            names = [f"{name}_{k}" for name, n in zip(names, self.n_levels_) for k in range(n)]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.encode == "reconstruct" else []
        )
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags
