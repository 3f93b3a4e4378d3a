"""The scalar-quantizer contract shared by every per-feature quantizer in skquant.

A subclass decides only how one column is designed, in ``_fit_column``; this base
validates input, sorts and summarises the columns, handles columns with fewer distinct
values than levels, stores the dense codebook and implements ``transform``,
``inverse_transform``, ``score`` and the feature names.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import NamedTuple

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
    check_is_fitted,
    validate_data,
)

_NO_WEIGHTS = np.empty(0, dtype=np.float64)


class ColumnSummary(NamedTuple):
    """A sorted column collapsed to distinct values with weights.

    ``u`` holds the ``k`` distinct values (increasing); ``W``, ``S1``, ``S2`` the prefix
    sums (length ``k + 1``) of the weights, of ``w * (u - shift)`` and of
    ``w * (u - shift) ** 2``. Every column design works from this summary, so the
    same code serves weighted data, tied data and (later) streamed summaries.
    """

    u: np.ndarray
    W: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    shift: float

    @property
    def weights(self):
        """The weight of each distinct value."""
        return np.diff(self.W)

    @property
    def total_weight(self):
        return self.W[-1]

    def cost(self, pos):
        """Weighted squared error of the partition ``pos`` with centroid levels."""
        return K.partition_cost(self.W, self.S1, self.S2, pos)

    def centroids(self, pos, levels):
        """Centroids of the cells ``pos``; empty cells keep ``levels`` (a copy is returned)."""
        out = np.array(levels, dtype=np.float64)
        K.centroids(self.W, self.S1, self.shift, np.asarray(pos, dtype=np.int64), out)
        return out

    def positions(self, thresholds):
        """Cell boundaries (indices into ``u``) of the given thresholds."""
        pos = np.empty(len(thresholds) + 2, dtype=np.int64)
        K.cell_positions(self.u, np.asarray(thresholds, dtype=np.float64), pos)
        return pos

    def sse(self, thresholds, levels):
        """Exact weighted squared error of the quantizer (thresholds, levels)."""
        pos = self.positions(thresholds)
        return K.sse_exact(self.u, self.W, pos, np.asarray(levels, dtype=np.float64))


def summarize_column(column, sample_weight=None):
    """Sort one column and collapse it to a :class:`ColumnSummary`.

    Returns ``None`` when the column holds NaN or inf (sorting puts them at the ends).
    """
    if sample_weight is None:
        xs = np.array(column, dtype=np.float64)
        xs.sort()
        ws = _NO_WEIGHTS
    else:
        order = np.argsort(column, kind="stable")
        xs = np.asarray(column, dtype=np.float64)[order]
        ws = sample_weight[order]
    if not (np.isfinite(xs[0]) and np.isfinite(xs[-1])):
        return None
    shift = float(xs[xs.shape[0] // 2])
    u, W, S1, S2 = K.summarize_sorted(xs, ws, shift)
    return ColumnSummary(u, W, S1, S2, shift)


def unit_summary(summary):
    """The summary of the column divided by a power of two near its largest ``|x|``,
    and that power (1 for columns of ordinary magnitude).

    Designs square the data: near 1e300 the squares overflow and on subnormal columns
    they underflow. Dividing by a power of two is exact, so a design on the scaled
    column, multiplied back, is the design of the column itself.
    """
    exponent = int(np.frexp(max(-summary.u[0], summary.u[-1], np.finfo(float).tiny))[1])
    if -64 <= exponent <= 64:
        return summary, 1.0
    unit = float(np.ldexp(1.0, exponent))
    u, W, S1, S2 = K.summarize_sorted(summary.u / unit, summary.weights, summary.shift / unit)
    return ColumnSummary(u, W, S1, S2, summary.shift / unit), unit


def _ceil_to_dtype(values, dtype):
    """Round float64 thresholds up to ``dtype``.

    For a value ``x`` representable in ``dtype``, ``x >= t`` holds exactly when
    ``x >= ceil_dtype(t)``: float32 data gets the same codes as with float64 thresholds.
    """
    out = values.astype(dtype)
    low = out < values
    out[low] = np.nextafter(out[low], np.inf)
    return out


def _map_columns(func, n_columns):
    """``[func(j) for j in range(n_columns)]`` on up to numba's thread count of threads.

    Each column is independent, so the result does not depend on the thread count.
    """
    n_threads = min(numba.get_num_threads(), n_columns)
    if n_threads <= 1:
        return [func(j) for j in range(n_columns)]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        return list(pool.map(func, range(n_columns)))


def _column_names(estimator, columns):
    names = getattr(estimator, "feature_names_in_", None)
    return ", ".join(
        f"{j} ({names[j]!r})" if names is not None else str(j) for j in columns
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
    def _validate_fit_input(self, X, sample_weight):
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            ensure_all_finite=False,
            accept_sparse=False,
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return X, sample_weight

    def _bits_per_feature(self, n_features):
        """``n_bits`` as an int array of one width per feature (validated)."""
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

    def _fit_columns(self, X, sample_weight, fit_column=None):
        """Summarise and design every column; set the codebook attributes."""
        fit_column = self._fit_column if fit_column is None else fit_column
        n_features = X.shape[1]
        bits = self._bits_per_feature(n_features)

        def one(j):
            summary = summarize_column(X[:, j], sample_weight)
            if summary is None:
                return None
            k = summary.u.shape[0]
            M = 2 ** int(bits[j])
            if k <= M:
                levels = summary.u.copy()
                thresholds = 0.5 * (levels[1:] + levels[:-1])
                return thresholds, levels, {"exact": True}
            thresholds, levels, info = fit_column(summary, M, j)
            info.setdefault("exact", False)
            return (
                np.asarray(thresholds, dtype=np.float64),
                np.asarray(levels, dtype=np.float64),
                info,
            )

        results = _map_columns(one, n_features)
        bad = [j for j, r in enumerate(results) if r is None]
        if bad:
            raise ValueError(
                f"Input X contains NaN or inf in column(s) {_column_names(self, bad)}; "
                "quantizers need finite values: impute or drop them first."
            )
        self._set_codebook(
            X.dtype, [r[0] for r in results], [r[1] for r in results], 2 ** int(bits.max())
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
                stacklevel=4,  # user -> _fit_context wrapper -> fit -> here
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

    def _encode(self, X):
        """Validated X -> ordinal codes, raising on NaN/inf."""
        thresholds = self.thresholds_
        if thresholds.dtype != X.dtype:
            thresholds = _ceil_to_dtype(thresholds.astype(np.float64), X.dtype)
        codes = np.empty(X.shape, dtype=self._codes_dtype)
        bad = K.encode(X, thresholds, codes)
        if bad.any():
            chunk = np.flatnonzero(bad)[0]
            rows = X[chunk * K.CHUNK : (chunk + 1) * K.CHUNK]
            cols = np.flatnonzero(~np.isfinite(rows).all(axis=0))
            raise ValueError(
                f"Input X contains NaN or inf in column(s) {_column_names(self, cols)}; "
                "quantizers need finite values: impute or drop them first."
            )
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
