"""The scalar-quantizer contract shared by every per-feature quantizer in skquant.

A subclass decides only how one column is designed, in its one hook ``_fit_column``,
which returns a :class:`ColumnDesign` record; this base validates input and
parameters, summarises the columns (sorted in ``fit``, sketched in ``partial_fit``),
handles columns with fewer distinct values than levels, turns the records into the
fitted attributes and implements ``transform``, ``inverse_transform``, ``score`` and
the feature names.
"""

import contextvars
import sys
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning

from ._compat import (
    Interval,
    InvalidParameterError,
    StrOptions,
    _check_feature_names_in,
    _check_sample_weight,
    _fit_context,
    check_is_fitted,
    validate_data,
)
from ._kernels import _auto as K
from ._summary import (
    ColumnSketch,
    SummaryScratch,
    midpoints,
    settled_summary,
    summarize_column,
    unit_summary,
)


def _ceil_to_dtype(values, dtype):
    """Round float64 thresholds up to ``dtype``.

    For a value ``x`` representable in ``dtype``, ``x >= t`` holds exactly when
    ``x >= ceil_dtype(t)``: float32 data gets the same codes as with float64 thresholds.
    """
    with np.errstate(over="ignore"):  # beyond float32's range: +-inf, rounded up below
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


#: grids of more cells than this per feature (a compander's, whose thresholds crowd
#: near zero) leave the cache: such codebooks encode through the coarse grid of
#: ``scan_grid_tables`` (``_SCAN_CELLS_PER_LEVEL`` cells per level) instead
_GRID_CACHE_CELLS = 4096
_SCAN_CELLS_PER_LEVEL = 16


def scan_grid_tables(thresholds, n_levels):
    """The coarse grid of :func:`K.scan_grid_encode`: ``(start, inv_width, counts,
    thresholds)`` with ``G = _SCAN_CELLS_PER_LEVEL * M`` cells per feature.

    Cells may hold several thresholds (compared one by one), so it exists for any
    codebook; a feature whose span or its inverse is not finite gets one cell
    (``inv_width = 0``: every threshold compared). Same threshold semantics as
    :func:`grid_tables` (float64 comparisons).
    """
    T = np.ascontiguousarray(thresholds, dtype=np.float64)
    d, width = T.shape
    G = _SCAN_CELLS_PER_LEVEL * (width + 1)
    start, inv_width = np.zeros(d), np.zeros(d)
    counts = np.zeros((d, G + 1), dtype=np.int32)
    for j in range(d):
        t = T[j, : n_levels[j] - 1]
        counts[j, 1:] = t.size  # one cell (g = 0) holds them all unless spread below
        if t.size == 0:
            continue
        start[j] = t[0]
        if t.size >= 2:
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                iw = G / (t[-1] - t[0])
            if 0.0 < iw < np.inf:
                inv_width[j] = iw
        with np.errstate(over="ignore", invalid="ignore"):
            f = (t - start[j]) * inv_width[j]
        # the kernel's map: NaN (inf * 0) and values below 0 to cell 0, above G - 1 to
        # the last cell, then truncation
        f = np.where(f >= 0.0, f, 0.0)
        cell = np.minimum(f, G - 1).astype(np.int64)
        counts[j] = np.searchsorted(cell, np.arange(G + 1), side="left")
    return start, inv_width, counts, T


#: cells per feature of the encoder's grid (``window_grid_tables``): at least this many
#: (finer cells hold fewer thresholds; measured faster than coarser ones even at 16
#: levels), about ``_WINDOW_CELLS_PER_LEVEL`` per level for more levels, at most
#: ``_GRID_CELLS``, and ``_WINDOW_ENTRIES`` in all (many features get coarser cells:
#: still exact, a few more halving steps)
_WINDOW_MIN_CELLS = 4096
_WINDOW_CELLS_PER_LEVEL = 16
_WINDOW_ENTRIES = 2**20  # 4 MB of counts
#: cells per level of the coarser grid tried first (``window_grid_tables``): when its
#: cells still hold one threshold at most, its smaller tables stay in the L1 cache of
#: the vectorised encoder's gathers (measured ~10% faster at 16 and 256 levels)
_WINDOW_COARSE_PER_LEVEL = 4
#: ... and the finer grid tried last (this many times the default's cells, within the
#: caps): a compander's crowded thresholds get one per cell (mu-law, 8 bits: 4096
#: cells need windows of 4, 16384 of 2, measured 25% faster)
_WINDOW_FINE_FACTOR = 4
#: widest window of the grid encoder (4 halving steps); beyond, the cell search costs
#: more than a bisection over all the thresholds (measured on a log compander, 8 bits)
_WINDOW_MAX_TOP = 16
#: codebooks of at most this many levels encode through ``K.tree_encode`` (beyond the
#: twins' size): four comparisons and no gather per value, where the grid gathers two
#: table entries (measured 1.9x faster at 16 levels, float32, 1 thread)
_TREE_LEVELS = 16


def _data_thresholds(thresholds, n_levels, dtype, width=None):
    """``thresholds`` as data of ``dtype`` compares them: ``+inf`` past each feature's
    last threshold (and up to ``width`` columns), rounded up to ``dtype``
    (``_ceil_to_dtype``: the float64 codes)."""
    T64 = np.asarray(thresholds, dtype=np.float64)
    d = T64.shape[0]
    width = T64.shape[1] if width is None else width
    if width > T64.shape[1]:
        T64 = np.concatenate([T64, np.full((d, width - T64.shape[1]), np.inf)], axis=1)
    valid = np.arange(width) < (np.asarray(n_levels) - 1)[:, None]
    T = np.where(valid, T64, np.inf)
    if np.dtype(dtype) != np.float64:
        T = _ceil_to_dtype(T, dtype)
    return np.ascontiguousarray(T)


def tree_thresholds(thresholds, n_levels, dtype):
    """The ``(d, 15)`` thresholds of :func:`K.tree_encode` (codebooks of at most 16
    levels) for data of ``dtype``."""
    return _data_thresholds(thresholds, n_levels, dtype, _TREE_LEVELS - 1)


def window_grid_tables(thresholds, n_levels, dtype, arithmetic=np.float64):
    """The tables of :func:`K.window_grid_encode` for data of ``dtype``:
    ``(start, inv_width, counts, T, top)``.

    ``T`` is ``thresholds`` in ``dtype`` (rounded up, as ``_ceil_to_dtype``: the
    float64 codes), ``+inf`` past each feature's last threshold and padded by
    ``top - 1`` columns; the cells are those of ``T``'s values under the kernel's map
    (the same arithmetic), so the codes are exact whatever the rounding. The grid is
    the first of ``_WINDOW_COARSE_PER_LEVEL`` cells per level, the default (see
    ``_WINDOW_MIN_CELLS``) and ``_WINDOW_FINE_FACTOR`` times the default whose cells
    hold one threshold at most, else the default. A
    feature whose span or its inverse is not finite gets one cell (``inv_width = 0``):
    its window is all its thresholds, as in :func:`K.encode`.

    ``arithmetic`` is that of the cells: float64 (the NumPy twin's), or float32 for
    float32 data (``start`` and ``inv_width`` are then float32 and the kernel computes
    the cells in float32, twice as many per vector; the twin does not take them).
    """
    cell_dtype = np.dtype(arithmetic)
    if cell_dtype != np.float64 and cell_dtype != np.dtype(dtype):
        raise ValueError(f"cells in {cell_dtype} arithmetic need {cell_dtype} data")
    T = _data_thresholds(thresholds, n_levels, dtype)
    d, width = T.shape
    per_feature = max(_WINDOW_MIN_CELLS, _WINDOW_CELLS_PER_LEVEL * (width + 1))
    G = max(16, min(per_feature, _GRID_CELLS, _WINDOW_ENTRIES // max(d, 1)))
    coarse = max(16, _WINDOW_COARSE_PER_LEVEL * (width + 1))
    fine = min(_WINDOW_FINE_FACTOR * G, _GRID_CELLS, _WINDOW_ENTRIES // max(d, 1))
    default = None
    for size in sorted({min(coarse, G), G, max(fine, G)}):
        tables = _window_tables(T, n_levels, size, cell_dtype)
        if tables[4] <= 2:  # one threshold per cell at most: one comparison
            return tables
        if size == G:
            default = tables
    return default


def _window_tables(T, n_levels, G, cell_dtype):
    """:func:`window_grid_tables` with ``G`` cells per feature."""
    d = T.shape[0]
    start, inv_width = np.zeros(d, cell_dtype), np.zeros(d, cell_dtype)
    counts = np.zeros((d, G + 1), dtype=np.int32)
    most = 0
    for j in range(d):
        t = T[j, : n_levels[j] - 1].astype(cell_dtype)
        counts[j, 1:] = t.size  # one cell (g = 0) holds them all unless spread below
        if t.size == 0:
            continue
        start[j] = t[0]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            iw = cell_dtype.type(G / (np.float64(t[-1]) - t[0])) if t.size >= 2 else 0.0
            if 0.0 < iw < np.inf:
                inv_width[j] = iw
            f = (t - start[j]) * inv_width[j]  # in cell_dtype, as the kernel
        # the kernel's map: NaN and values <= 0 to cell 0, beyond G - 1 to the last
        # cell, then truncation
        f = np.where(f > 0.0, f, 0.0)
        cell = np.minimum(f, G - 1).astype(np.int64)
        counts[j] = np.searchsorted(cell, np.arange(G + 1), side="left")
        most = max(most, int(np.diff(counts[j]).max()))
    top = 1 << most.bit_length()  # a power of two above the fullest cell
    T = np.concatenate([T, np.full((d, top), np.inf, T.dtype)], axis=1)
    return start, inv_width, counts, np.ascontiguousarray(T), top


#: cells per level of :func:`point_grid_tables`'s grids, tried in turn: the first
#: whose cells hold one threshold at most is used (smaller tables stay in the cache:
#: measured 5-10% faster per halving at 8 bits, float32, 1 thread)
_POINT_CELLS_PER_LEVEL = (1, 2, 4, 16, 64)


def point_grid_tables(thresholds, n_levels, dtype, arithmetic=np.float64):
    """The tables of :func:`K.point_grid_encode` for data of ``dtype``: ``(start,
    inv_width, E, T)``, or ``None`` when no grid of ``_POINT_CELLS_PER_LEVEL`` cells
    per level (at most ``_GRID_CELLS``) puts each threshold in a cell of its own.

    ``T`` is that of :func:`window_grid_tables` (the thresholds as ``dtype`` compares
    them, ``+inf`` past each feature's last). Feature ``j``'s ``G`` cells span its
    thresholds with half a cell on either side; a threshold's position is computed as
    the kernel computes a value's, in ``arithmetic`` (float64, or float32 for float32
    data), and clamped alike, so the kernel's comparisons of positions are those of
    the values. Features with fewer than two thresholds get a unit cell width.
    """
    cell_dtype = np.dtype(arithmetic)
    if cell_dtype != np.float64 and cell_dtype != np.dtype(dtype):
        raise ValueError(f"cells in {cell_dtype} arithmetic need {cell_dtype} data")
    from . import _kernels

    T = _data_thresholds(thresholds, n_levels, dtype)
    d, width = T.shape
    if width + 1 >= 1 << (31 - _kernels.POINT_BITS - 1):  # the first codes must fit E
        return None
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for per_level in _POINT_CELLS_PER_LEVEL:
            G = max(16, per_level * (width + 1))
            if G > _GRID_CELLS or G * d > _WINDOW_ENTRIES:
                return None
            tables = _point_tables(T, n_levels, G, cell_dtype, _kernels.POINT_BITS)
            if tables is not None:
                pad = np.full((d, 1), np.inf, T.dtype)
                return (*tables, np.ascontiguousarray(np.concatenate([T, pad], axis=1)))
    return None


def _point_tables(T, n_levels, G, cell_dtype, bits):
    """:func:`point_grid_tables` with ``G`` cells per feature, or ``None``."""
    d = T.shape[0]
    ctype = cell_dtype.type
    start, inv_width = np.zeros(d, cell_dtype), np.ones(d, cell_dtype)
    E = np.empty((d, G), dtype=np.int32)
    last = np.nextafter(ctype(G), ctype(0))
    none = (1 << bits) + 1  # K.POINT_NONE: the position of a cell without a threshold
    for j in range(d):
        t = T[j, : n_levels[j] - 1].astype(cell_dtype)
        if t.size and not np.isfinite(t).all():
            return None
        if t.size >= 2:
            half = 0.5 * (np.float64(t[-1]) - np.float64(t[0])) / (G - 1)
            start[j] = ctype(t[0] - half)
            inv_width[j] = ctype(G / (np.float64(t[-1]) + half - np.float64(start[j])))
        elif t.size == 1:
            start[j] = ctype(t[0] - 0.5)
        if not (np.isfinite(start[j]) and 0.0 < inv_width[j] < np.inf):
            return None
        f = (t - start[j]) * inv_width[j]  # in cell_dtype, as the kernel
        f = np.where(f > 0.0, f, ctype(0))
        f = np.minimum(f, last)
        g = f.astype(np.int64)
        if np.any(np.diff(g) == 0):
            return None  # two thresholds in a cell
        pos = np.full(G, none, dtype=np.int64)
        pos[g] = np.ceil((f - np.floor(f)) * ctype(1 << bits)).astype(np.int64)
        first = np.searchsorted(g, np.arange(G), side="left")
        E[j] = (first << (bits + 1)) | pos
    return start, inv_width, E


def _float32_keys(t):
    """The keys of :func:`K.key_grid_encode` of float32 values: their bits as a
    sign-magnitude integer (int64)."""
    b = np.asarray(t, dtype=np.float32).view(np.int32).astype(np.int64)
    m = np.minimum(b & 0x7FFFFFFF, 0x7F800000)
    return np.where(b < 0, -m, m)


def key_grid_tables(thresholds, n_levels, dtype):
    """The tables of :func:`K.key_grid_encode` for float32 data: ``(zero_band, low,
    high, shift, E)``, or ``None`` (other dtypes, non-finite or tied thresholds as
    float32, or a grid beyond ``_GRID_CELLS`` cells per feature or
    ``_WINDOW_ENTRIES`` in all).

    Feature ``j``'s cells are ``2 ** shift[j]`` keys wide, ``shift`` the largest that
    puts each threshold in a cell of its own: the smallest gap between the keys of
    two thresholds of one sign sets it; ``zero_band`` closes the gap of keys around 0
    (all the binades between the smallest thresholds and 0) to one cell; the
    thresholds are those of the float32 data (rounded up, ``_data_thresholds``). Log
    and mu-law companders' thresholds are close to evenly spaced in keys: a few
    cells per level where the point grid needs 64 (:func:`point_grid_tables`).
    """
    if np.dtype(dtype) != np.float32:
        return None
    T = _data_thresholds(thresholds, n_levels, np.float32)
    d, width = T.shape
    code_bits = max(int(width).bit_length(), 1)  # codes 0 .. width
    top_shift = 30 - code_bits  # (code << (shift + 1)) | low fits an int32
    if top_shift < 0:
        return None
    params = np.zeros((4, d), dtype=np.int64)
    rows = []
    widest = 1
    for j in range(d):
        t = T[j, : int(n_levels[j]) - 1]
        if not np.isfinite(t).all():
            return None
        k = _float32_keys(t)
        if np.any(np.diff(k) <= 0):
            return None  # tied as float32 (or -0.0 and 0.0)
        same = ((k[1:] > 0) & (k[:-1] > 0)) | ((k[1:] < 0) & (k[:-1] < 0))
        gaps = np.diff(k)[same]
        s = min(int(gaps.min()).bit_length() - 1 if gaps.size else top_shift, top_shift)
        nonzero = np.abs(k[k != 0])
        while True:
            zb = max(int(nonzero.min()) - (1 << s), 0) if nonzero.size else 0
            k2 = np.where(k >= 0, np.maximum(k - zb, 0) + 1, np.minimum(k + zb, 0))
            lo = int(k2[0]) - 1 if k2.size else 0
            g = (k2 - lo) >> s
            G = int(g[-1]) + 1 if g.size else 1
            # one threshold per cell, and the last cell's keys within int32
            if np.all(np.diff(g) > 0) and lo + (G << s) - 1 < 2**31:
                break
            s -= 1
        widest = max(widest, G)
        if G > _GRID_CELLS or widest * d > _WINDOW_ENTRIES:  # before building more rows
            return None
        params[:, j] = zb, lo, lo + (G << s) - 1, s
        first = np.searchsorted(g, np.arange(G), side="left")
        low = np.full(G, 1 << s, dtype=np.int64)
        low[g] = (k2 - lo) & ((1 << s) - 1)
        rows.append((first << (s + 1)) | low)
    E = np.zeros((d, widest), dtype=np.int32)
    for j, r in enumerate(rows):
        E[j, : len(r)] = r
    return (*(np.ascontiguousarray(p, dtype=np.int32) for p in params), E)


#: ``callback(done, total)``, called after each feature of a fit is designed when set
#: (the command line's progress bar); a context variable, so that fits in other threads
#: or contexts never call it
fit_progress = contextvars.ContextVar("skquant_fit_progress", default=None)

# The grids are derived data: cached per estimator outside its __dict__, so they are
# neither pickled nor saved in skquant files, and transform leaves the estimator as it is.
_GRIDS = weakref.WeakKeyDictionary()
_WINDOWS = weakref.WeakKeyDictionary()


def _map_columns(func, n_columns, serial=False):
    """``[func(j) for j in range(n_columns)]`` on up to numba's thread count of threads
    (one thread if ``serial``: small columns, designed faster than threads start).

    Each column is independent, so the result does not depend on the thread count.
    """
    if serial:
        return [func(j) for j in range(n_columns)]
    import numba

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


class ColumnDesign(NamedTuple):
    """What the subclass hook :meth:`BaseScalarQuantizer._fit_column` returns for one
    feature.

    Attributes
    ----------
    thresholds : array-like of shape (n_levels - 1,)
        Increasing decision thresholds (float64).
    levels : array-like of shape (n_levels,)
        Reconstruction levels (float64).
    attributes : dict, default=None
        Per-feature diagnostics keyed by the fitted attribute they go to (names end
        with ``_``, e.g. ``{"scale_": 0.1}``); the base stacks them into arrays of
        shape ``(n_features,)``. Features stored exactly, for which the hook is not
        called, get the value the class declares in ``_exact_attributes`` (NaN if it
        declares none).
    n_iter : int or None, default=None
        Iterations the design ran (``None``: the design does not iterate). The base
        sets ``n_iter_per_feature_`` and ``n_iter_`` (their maximum) from them.
    converged : bool, default=True
        False when the iteration stopped at its limit; the base warns once for all
        such features.
    """

    thresholds: np.ndarray
    levels: np.ndarray
    attributes: dict | None = None
    n_iter: int | None = None
    converged: bool = True


# attributes that fit sets outside the codebook: validate_data's, partial_fit's
_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "sketches_", "n_samples_seen_")
MAX_LEVELS = 2**16


def _check_weights(sample_weight, X, what="sample_weight"):
    """Validated float64 row weights (finite, non-negative, not all zero), or None."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.max(initial=0.0) > 0:
        raise ValueError(f"{what} sums to zero: at least one row needs a positive weight.")
    return sample_weight


def relative_weights(sample_weight):
    """The weights as the designs use them: only their ratios count, so equal weights
    are no weights (exactly the unweighted design), and weights beyond ``2**+-64`` are
    divided by the largest (so that their sums neither overflow nor underflow)."""
    if sample_weight is None:
        return None
    top = sample_weight.max()
    if np.all(sample_weight == top):
        return None
    return sample_weight / top if not 2.0**-64 <= top <= 2.0**64 else sample_weight


class _Atomic:
    """Restores an estimator's ``__dict__`` if the block raises: a fit that fails
    leaves the estimator as it was."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __enter__(self):
        self.state = dict(self.estimator.__dict__)
        return self.estimator

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self.estimator.__dict__.clear()
            self.estimator.__dict__.update(self.state)
        return False


def _as_integer(value, name, lo, hi, what, owner):
    """``value`` (an int, or a 1-D array-like of ints) as int64, within ``[lo, hi]``."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, (bool, np.bool_)) or getattr(dtype, "kind", "") == "b":
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int, not a bool; got {value!r}."
        )
    if isinstance(value, np.ndarray) and value.ndim == 0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be an int or a 1-D array of ints "
            f"(one per feature), not a 0-d array; got {value!r} (pass int(...) instead)."
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" or (arr.size and (arr.min() < lo or arr.max() > hi)):
        shown = arr.tolist() if arr.dtype.kind in "biuf" and arr.size <= 20 else value
        raise InvalidParameterError(
            f"{name} values must be integers in [{lo}, {hi}] ({what}), got {shown!r}."
        )
    return arr.astype(np.int64)


def resolve_levels(n_bits, n_levels, n_features, owner="the quantizer"):
    """The number of levels of each feature, from the ``n_bits`` / ``n_levels``
    parameters: an int64 array of shape ``(n_features,)``.

    ``n_bits=b`` means ``n_levels=2**b``; with neither, 4 bits. Each is an int or one
    per feature (a 1-D array-like of ints; 0-d arrays are refused). Raises
    ``InvalidParameterError`` (a ``ValueError``) naming the parameter.
    """
    if n_bits is not None and n_levels is not None:
        raise InvalidParameterError(
            f"{owner} takes n_bits or n_levels, not both (got n_bits={n_bits!r} and "
            f"n_levels={n_levels!r}): n_bits=b means n_levels=2**b."
        )
    if n_levels is None:
        name, value, lo, hi = "n_bits", 4 if n_bits is None else n_bits, 1, 16
        what = "bits per value"
    else:
        name, value, lo, hi = "n_levels", n_levels, 2, MAX_LEVELS
        what = "levels per feature"
    arr = _as_integer(value, name, lo, hi, what, owner)
    if arr.ndim == 0:
        arr = np.full(n_features, int(arr), dtype=np.int64)
    elif arr.ndim != 1 or arr.shape[0] != n_features:
        raise InvalidParameterError(
            f"{name} must be an int or an array of {n_features} ints (one per "
            f"feature), got shape {arr.shape}."
        )
    return np.left_shift(1, arr) if name == "n_bits" else arr


def _mse(summary, thresholds, levels):
    """Weighted MSE of a codebook on a summary, computed in power-of-two units so that
    squares of extreme values do not overflow on the way (inf if the MSE itself does)."""
    scaled, unit = unit_summary(summary)
    if unit == 1.0:
        return summary.sse(thresholds, levels) / summary.total_weight
    with np.errstate(over="ignore"):
        return scaled.sse(thresholds / unit, levels / unit) / scaled.total_weight * unit * unit


def _final_column(dtype, thresholds, levels):
    """One column's codebook as ``transform`` applies it, in ``dtype``.

    Levels beyond the range of ``dtype`` are clamped to it, and levels that then
    coincide (or that rounding to ``dtype`` makes equal) are merged into one: a column
    designed past the largest float (a Gaussian design on data near it) gets fewer,
    strictly increasing levels. Each threshold is clamped above its lower level and at
    most its upper one (a design's thresholds lie there; past the float range, an
    overflowed one would not, nor one whose level lost its last bits to rounding, a
    centroid of values a few ulps from a threshold): every level is then in its own
    cell, so that encoding a reconstruction gives its code back. ``mse_`` is computed
    on this codebook, so it is the training error of the very codes ``transform``
    gives.
    """
    big = np.finfo(dtype).max
    y = np.clip(np.asarray(levels, dtype=np.float64), -big, big).astype(dtype)
    t = _ceil_to_dtype(np.asarray(thresholds, dtype=np.float64), dtype)
    keep = np.r_[True, y[1:] > y[:-1]]
    if not keep.all():  # merge runs of equal levels; a run's last threshold stays
        y = y[keep]
        t = t[np.flatnonzero(keep)[1:] - 1]
    # each level in its own cell [t[k-1], t[k]): above y[k], at most y[k+1]
    return np.minimum(np.maximum(t, np.nextafter(y[:-1], y[1:])), y[1:]), y


def _codebook(dtype, thresholds, levels, M):
    """Dense ``thresholds_`` / ``levels_`` padded to ``M`` levels, and ``n_levels_``,
    from the columns of :func:`_final_column`."""
    d = len(levels)
    T = np.full((d, M - 1), np.inf, dtype=dtype)
    L = np.empty((d, M), dtype=dtype)
    n_levels = np.empty(d, dtype=np.int64)
    for j, (t, y) in enumerate(zip(thresholds, levels)):
        n = len(y)
        n_levels[j] = n
        T[j, : n - 1] = t
        L[j, :n] = y
        L[j, n:] = y[-1]
    return {"thresholds_": T, "levels_": L, "n_levels_": n_levels}


class BaseScalarQuantizer(TransformerMixin, BaseEstimator):
    """Base class of the per-feature scalar quantizers (not for direct use).

    A subclass implements one hook, ``_fit_column(summary, n_levels, j)``: the design
    of feature ``j`` from its :class:`~skquant._summary.ColumnSummary` (sorted
    distinct values with weights and prefix sums, exact in ``fit`` and sketched in
    ``partial_fit``), for ``n_levels`` levels, returning a :class:`ColumnDesign`. The
    hook is called only for columns with more distinct values than levels, in
    parallel threads, and must not change the estimator (per-fit values it needs are
    computed from its parameters; fitted attributes come from the records). A
    subclass may also declare, in the class attribute ``_exact_attributes``, the
    value each of its per-feature attributes takes on columns stored exactly (a
    constant, or a function of the column's summary; NaN by default).

    The base validates the input and the parameters, resolves ``n_bits`` /
    ``n_levels`` once into ``max_levels_``, stores columns with few distinct values
    exactly, stacks the records into the dense codebook (``thresholds_``,
    ``levels_``, ``n_levels_``), ``mse_`` and the per-feature attributes, and
    implements ``partial_fit``, ``transform``, ``inverse_transform``, ``score`` and
    the feature names. Everything after fit reads only fitted attributes. A fit that
    raises leaves the estimator as it was.
    """

    _parameter_constraints: dict = {
        "n_bits": [Interval(Integral, 1, 16, closed="both"), "array-like", None],
        "n_levels": [Interval(Integral, 2, MAX_LEVELS, closed="both"), "array-like", None],
        "encode": [StrOptions({"ordinal", "onehot", "onehot-dense", "reconstruct"})],
    }
    _exact_attributes: dict = {}
    _store_few_exactly = True

    def __init__(self, n_bits=None, *, n_levels=None, encode="ordinal"):
        self.n_bits = n_bits
        self.n_levels = n_levels
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
        return X, _check_weights(sample_weight, X)

    def _levels_per_feature(self, n_features):
        """``n_bits`` / ``n_levels`` resolved to one level count per feature (an int64
        array); subclasses may extend it (see the class docstring)."""
        return resolve_levels(self.n_bits, self.n_levels, n_features, type(self).__name__)

    def _fit_column(self, summary, n_levels, j):
        """The design of feature ``j`` (the subclass hook; see the class docstring).

        Parameters
        ----------
        summary : ColumnSummary
            The feature's summary, with more than ``n_levels`` distinct values.
        n_levels : int
            Number of levels to design.
        j : int
            Index of the feature (for per-feature parameters).

        Returns
        -------
        design : ColumnDesign
        """
        raise NotImplementedError

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
        with _Atomic(self):
            X, sample_weight = self._validate_fit_input(X, sample_weight)
            sample_weight = relative_weights(sample_weight)
            for name in ("sketches_", "n_samples_seen_"):  # fit starts afresh
                self.__dict__.pop(name, None)
            scratch = SummaryScratch()  # each thread's column buffers, reused
            self._design(
                lambda j: summarize_column(X[:, j], sample_weight, scratch), X.shape[1],
                X.dtype, serial=K.small(X.size),
            )
        return self

    def _sketch_batch(self, X, sample_weight=None):
        """Validate a batch; return the sketches of every batch so far with it (new
        sketches: the fitted ones are left unchanged), the data dtype and the rows."""
        first = not hasattr(self, "sketches_")
        X, sample_weight = self._validate_fit_input(X, sample_weight, reset=first)
        self._levels_per_feature(X.shape[1])  # bad parameters fail before the work
        bad = np.flatnonzero(~np.isfinite(X).all(axis=0))
        if bad.size:
            raise _nonfinite_error(self, bad)
        if first:
            return _map_columns(
                lambda j: ColumnSketch.from_batch(X[:, j], sample_weight), X.shape[1]
            ), X.dtype, X.shape[0]
        sketches = self.sketches_
        return _map_columns(
            lambda j: sketches[j].copy().add(X[:, j], sample_weight), X.shape[1]
        ), self.levels_.dtype, X.shape[0]

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
        ``partial_fit`` after ``fit`` starts a new stream. A saved and loaded
        estimator continues its stream (the sketches are saved with it).

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
        with _Atomic(self):
            sketches, dtype, n_rows = self._sketch_batch(X, sample_weight)
            self._fit_sketches(sketches, dtype)
            self.n_samples_seen_ = getattr(self, "n_samples_seen_", 0) + n_rows
        return self

    def _fit_sketches(self, sketches, dtype):
        """Design every column from its sketch (partial_fit, skquant.dask)."""
        self._design(lambda j: sketches[j].to_summary(), len(sketches), np.dtype(dtype))
        self.sketches_ = sketches

    def _design(self, summary_of, n_features, dtype, serial=False):
        """Summarise and design every column, then set every fitted attribute at once.

        ``summary_of(j)`` gives the :class:`ColumnSummary` of feature ``j`` (``None``
        if the column holds NaN or inf); ``serial``: one column after the other.
        """
        max_levels = self._levels_per_feature(n_features)

        def one(j):
            summary = summary_of(j)
            if summary is None:
                return None
            summary = settled_summary(summary)
            M, k = int(max_levels[j]), summary.u.shape[0]
            if k == 1 or (k <= M and self._store_few_exactly):  # one level per value
                levels = summary.u.copy()
                derived = {  # declared as functions of the column's summary
                    k: v(summary) for k, v in self._exact_attributes.items() if callable(v)
                }
                record = ColumnDesign(midpoints(levels), levels, derived)
                exact = True
            else:
                record = self._fit_column(summary, M, j)
                exact = False
            t, y = _final_column(dtype, record.thresholds, record.levels)
            return record, t, y, _mse(summary, t.astype(np.float64), y.astype(np.float64)), exact

        hook = fit_progress.get()
        if hook is not None:
            lock, done = threading.Lock(), [0]
            design = one

            def one(j):
                result = design(j)
                with lock:
                    done[0] += 1
                    hook(done[0], n_features)
                return result

        results = _map_columns(one, n_features, serial)
        bad = [j for j, r in enumerate(results) if r is None]
        if bad:
            raise _nonfinite_error(self, bad)
        records = [r[0] for r in results]
        exact = [r[4] for r in results]
        fitted = _codebook(dtype, [r[1] for r in results], [r[2] for r in results],
                           int(max_levels.max()))
        fitted["max_levels_"] = max_levels
        with np.errstate(over="ignore"):
            fitted["mse_"] = np.array([r[3] for r in results], dtype=np.float64)
        names = dict.fromkeys(k for r in records for k in (r.attributes or {}))
        for name in names:
            if not (name.endswith("_") and name.isidentifier()) or name in fitted:
                raise RuntimeError(f"{type(self).__name__}._fit_column: bad attribute {name!r}")
            fill = self._exact_attributes.get(name, np.nan)
            fill = np.nan if callable(fill) else fill
            kind = np.asarray(fill).dtype.kind
            fitted[name] = np.array(
                [(r.attributes or {}).get(name, fill) for r in records],
                dtype=np.int64 if kind in "iu" else np.float64,
            )
        if any(r.n_iter is not None for r in records):
            per_feature = np.array([r.n_iter or 0 for r in records], dtype=np.int64)
            fitted["n_iter_per_feature_"] = per_feature
            fitted["n_iter_"] = int(per_feature.max())
        # the new fit replaces every fitted attribute of an earlier one
        for name in [k for k in vars(self) if k.endswith("_") and k not in _INPUT_ATTRIBUTES]:
            del self.__dict__[name]
        self.__dict__.update(fitted)
        self._warn(exact, records, fitted)

    def _warn(self, exact, records, fitted):
        few = [j for j, e in enumerate(exact)
               if e and fitted["n_levels_"][j] < fitted["max_levels_"][j]]
        if few:
            warnings.warn(
                f"Column(s) {_column_names(self, few)} have fewer distinct values than "
                "their number of levels (max_levels_): each distinct value gets its own "
                "level (zero error); n_levels_ holds the real count.",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        stopped = [j for j, r in enumerate(records) if not r.converged]
        if stopped:
            limit = getattr(self, "max_iter", None)
            warnings.warn(
                f"The iteration reached its limit (max_iter={limit}) before converging "
                f"on feature(s) {_column_names(self, stopped)}; increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=_user_stacklevel(),
            )


    # ---------------------------------------------------------------- transform
    @property
    def _codes_dtype(self):
        return np.uint8 if self.levels_.shape[1] <= 256 else np.uint16

    def _grid(self):
        """The grid of :func:`grid_tables` for ``thresholds_``, or the coarse one of
        :func:`scan_grid_tables` when that one is missing or too large for the cache
        (4 tables instead of 3), or ``None`` (bisection).

        Built on first use and rebuilt when a refit replaces ``thresholds_``.
        """
        entry = _GRIDS.get(self)
        if entry is None or entry[0] is not self.thresholds_:
            grid = None
            if self.levels_.shape[1] >= _GRID_MIN_LEVELS:
                grid = grid_tables(self.thresholds_, self.n_levels_)
                if grid is None or grid[2].shape[1] > _GRID_CACHE_CELLS:
                    grid = scan_grid_tables(self.thresholds_, self.n_levels_)
            entry = (self.thresholds_, grid)
            _GRIDS[self] = entry
        return entry[1]

    def _bisection_thresholds(self, dtype, columns=slice(None)):
        """``thresholds_[columns]`` in ``dtype`` (rounded up), padded with ``+inf`` to
        ``2**b - 1`` columns, as :func:`K.encode`'s bisection needs."""
        T = self.thresholds_[columns]
        if T.dtype != dtype:
            T = _ceil_to_dtype(T.astype(np.float64), dtype)
        top = 1 << int(T.shape[1]).bit_length()  # the power of two above M - 1
        if top - 1 != T.shape[1]:
            T = np.concatenate([T, np.full((T.shape[0], top - 1 - T.shape[1]), np.inf, T.dtype)], 1)
        return np.ascontiguousarray(T)

    def _derived(self, key, build):
        """``build()``, computed on first use for ``key`` and kept until a refit
        replaces ``thresholds_`` (the encoders' tables)."""
        entry = _WINDOWS.get(self)
        if entry is None or entry[0] is not self.thresholds_:
            entry = (self.thresholds_, {})
            _WINDOWS[self] = entry
        value = entry[1].get(key)
        if value is None:
            value = entry[1][key] = build()
        return value

    def _window_grid(self, dtype, arithmetic=np.float64):
        """The tables of :func:`window_grid_tables` for data of ``dtype`` (cells in
        ``arithmetic``)."""
        return self._derived(
            (np.dtype(dtype), np.dtype(arithmetic)),
            lambda: window_grid_tables(self._encoding_thresholds(dtype), self.n_levels_,
                                       dtype, arithmetic))

    def _point_grid(self, dtype):
        """The tables of :func:`point_grid_tables` for data of ``dtype`` (cells in
        its own arithmetic), or ``None``."""
        return self._derived(
            ("point", np.dtype(dtype)),
            lambda: (point_grid_tables(self._encoding_thresholds(dtype), self.n_levels_,
                                       dtype, dtype),))[0]

    def _key_grid(self, dtype):
        """The tables of :func:`key_grid_tables` for data of ``dtype``, or ``None``."""
        return self._derived(
            ("key", np.dtype(dtype)),
            lambda: (key_grid_tables(self._encoding_thresholds(dtype), self.n_levels_,
                                     dtype),))[0]

    def _tree_thresholds(self, dtype):
        """The thresholds of :func:`K.tree_encode` for data of ``dtype``."""
        return self._derived(
            ("tree", np.dtype(dtype)),
            lambda: tree_thresholds(self._encoding_thresholds(dtype), self.n_levels_, dtype))

    def _encoding_thresholds(self, dtype):
        """The thresholds that define the codes of data of ``dtype`` (``thresholds_``;
        a subclass whose codes follow a formula gives that formula's thresholds)."""
        return self.thresholds_

    def _encode(self, X):
        """Validated X -> ordinal codes, raising on NaN/inf.

        Codebooks of at most ``_TREE_LEVELS`` levels beyond the twins' size: by a
        branch-free bisection whose thresholds are picked by selects, no gather
        (:func:`K.tree_encode`). Others, beyond the twins' size, through a grid whose
        cells hold one threshold at most, one table entry per value
        (:func:`K.point_grid_encode`) when there is such a grid, or for float32 data
        through a grid over the values' bits (:func:`K.key_grid_encode`) when its
        table is smaller (companders: their uneven thresholds are close to evenly
        spaced in the bits); else through a grid
        over the thresholds with a
        short branch-free bisection in the cell (:func:`K.window_grid_encode`), or by
        bisection over all the thresholds (:func:`K.encode`) when a cell would hold
        more than ``_WINDOW_MAX_TOP - 1`` of them; all with the thresholds' exact
        semantics. Float32 data beyond the NumPy twins' size get cells in float32
        arithmetic (their own tables, same codes).
        """
        codes = np.empty(X.shape, dtype=self._codes_dtype)
        if self.levels_.shape[1] <= _TREE_LEVELS and X.size > K.SMALL:
            from . import _kernels

            bad = _kernels.tree_encode(X, self._tree_thresholds(X.dtype), codes)
            return self._raise_nonfinite(X, bad, codes)
        if X.size > K.SMALL and X.shape[1] > 0:
            tables = self._point_grid(X.dtype)
            keys = self._key_grid(X.dtype)
            if keys is not None and (tables is None or keys[4].shape[1] < tables[2].shape[1]):
                from . import _kernels

                bad = _kernels.key_grid_encode(X, *keys, codes)
                return self._raise_nonfinite(X, bad, codes)
            if tables is not None:
                from . import _kernels

                bad = _kernels.point_grid_encode(X, *tables, codes)
                return self._raise_nonfinite(X, bad, codes)
        if X.dtype == np.float32 and X.size > K.SMALL:  # never the twin's (float64 cells)
            tables = self._window_grid(X.dtype, np.float32)
            if tables[4] <= _WINDOW_MAX_TOP:
                from . import _kernels

                bad = _kernels.window_grid_encode(X, *tables, codes)
                return self._raise_nonfinite(X, bad, codes)
        tables = self._window_grid(X.dtype)
        if tables[4] <= _WINDOW_MAX_TOP:
            bad = K.window_grid_encode(X, *tables, codes)
        else:  # thresholds too unevenly spread for any grid (a log compander's)
            T = tables[3][:, : self.levels_.shape[1] - 1]
            top = 1 << int(T.shape[1]).bit_length()  # padded to 2**b - 1 columns
            T = np.concatenate([T, np.full((T.shape[0], top - 1 - T.shape[1]), np.inf, T.dtype)], 1)
            bad = K.encode(X, np.ascontiguousarray(T), codes)
        return self._raise_nonfinite(X, bad, codes)

    def _raise_nonfinite(self, X, bad, codes):
        """``codes``, or the error naming the columns of the first flagged chunk."""
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
            uint8 when every feature has at most 256 levels (``levels_.shape[1] <=
            256``) and uint16 otherwise: code ``k`` means
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
            # saturate as for uint64: 1e308 must not wrap in the cast (the range
            # check that follows refuses it)
            codes = np.clip(codes.astype(np.float64), -(2.0**62), 2.0**62).astype(np.int64)
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
            Data to quantize and reconstruct, finite.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, validated as in ``fit`` (finite, not all zero).

        Returns
        -------
        score : float
            ``-mean((X - Q(X)) ** 2)`` over all entries (rows weighted).
        """
        check_is_fitted(self)
        X, sample_weight = self._validate_fit_input(X, sample_weight, reset=False)
        sample_weight = relative_weights(sample_weight)
        X_hat = self._decode(self._encode(X), check=False)
        with np.errstate(over="ignore"):  # inf is the error of data near 1e308
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
