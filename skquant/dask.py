"""Quantizers on Dask arrays and dataframes: fit from block sketches, lazy transforms.

``pip install "skquant[dask]"``. Any Dask scheduler works: the threaded default, or a
``distributed`` cluster once a :class:`distributed.Client` is created.

- :func:`fit` fits a scalar quantizer from per-block sketches (the
  :meth:`~skquant.LloydMaxQuantizer.partial_fit` summaries) computed on the workers and
  merged in a tree: the result equals ``partial_fit`` over the same blocks and is within
  the streaming accuracy of the in-memory ``fit``. A
  :class:`~skquant.BinarySphericalEncoder` is fitted from the exact mean and
  second moments of all rows (one distributed pass) and a uniform random sample.
- :func:`transform` and :func:`inverse_transform` are lazy and work block by block;
  they equal the in-memory methods exactly.

Examples
--------
On a local cluster of worker processes (here one worker, threads only):

>>> import dask.array as da
>>> from distributed import Client, LocalCluster
>>> from skquant import LloydMaxQuantizer
>>> import skquant.dask as skd
>>> X = da.random.default_rng(0).standard_normal((20_000, 3), chunks=(5_000, 3))
>>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
...     with Client(cluster) as client:
...         q = skd.fit(LloydMaxQuantizer(n_bits=2), X)
...         codes = skd.transform(q, X).compute()
>>> q.n_samples_seen_, codes.shape, codes.dtype
(20000, (20000, 3), dtype('uint8'))
"""

import copy
import functools
import warnings
from numbers import Integral
from types import SimpleNamespace

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.base import is_dask_collection
except ImportError as exc:  # pragma: no cover - tested in a subprocess without dask
    raise ImportError(
        'skquant.dask needs Dask: pip install "skquant[dask]" (dask[array,dataframe] and '
        "distributed)."
    ) from exc

try:
    import dask.dataframe as dd
except ImportError:  # pragma: no cover - dask.array without pandas: arrays only
    dd = None

from sklearn.utils import check_random_state

from ._base import BaseScalarQuantizer, _Atomic, _nonfinite_error
from ._binary_spherical import (
    BinarySphericalEncoder,
    _nonfinite_rows,
    _power_of_two_unit,
    _raise_nonfinite,
)
from ._compat import (
    IntervalNotBool,
    InvalidParameterError,
    _check_feature_names_in,
    check_2d,
    check_is_fitted,
    named,
    validate_params,
)
from ._summary import ColumnSketch

__all__ = ["fit", "inverse_transform", "transform"]


# ------------------------------------------------------------------------- inputs
def _is_frame(X):
    return dd is not None and isinstance(X, dd.DataFrame)


def _check_collection(X, *, allow_1d=False):
    """Check a dask input eagerly (no compute); arrays come back with one column chunk."""
    if _is_frame(X):
        bad = [str(c) for c, t in X.dtypes.items() if getattr(t, "kind", "O") not in "biuf"]
        if bad:
            raise TypeError(
                f"Column(s) {', '.join(bad)} of the dask dataframe are not numeric; "
                "quantizers take numeric columns only: select or convert them first."
            )
        return X
    if isinstance(X, da.Array):
        if not (X.ndim == 2 or (allow_1d and X.ndim == 1)):
            raise ValueError(
                "Expected a 2-D dask array of shape (n_samples, n_features), got an "
                f"array with {X.ndim} dimension(s) (shape {X.shape})."
            )
        if X.dtype.kind not in "biuf":
            raise TypeError(
                f"Expected a numeric dask array, got dtype {X.dtype}; quantizers take "
                "integer or floating-point values."
            )
        if X.ndim == 2 and X.numblocks[1] > 1:  # blocks hold whole rows
            X = X.rechunk({1: -1})
        return X
    raise TypeError(
        f"Expected a dask array or a dask dataframe, got {type(X).__name__} "
        "(dask Series and other collections are not supported)."
    )


def _row_blocks(X):
    """The delayed row blocks of X and each block's first row (None if unknown)."""
    if _is_frame(X):
        return list(X.to_delayed()), [None] * X.npartitions
    sizes = X.chunks[0]
    blocks = list(X.to_delayed().ravel())
    if np.isnan(sizes).any():
        return blocks, [None] * len(blocks)
    return blocks, [int(s) for s in np.cumsum((0,) + sizes[:-1])]


def _weight_blocks(sample_weight, X, n_blocks):
    """Delayed blocks of ``sample_weight``, one per row block of X."""
    if sample_weight is None:
        return [None] * n_blocks
    known = isinstance(X, da.Array) and not np.isnan(X.chunks[0]).any()
    if not is_dask_collection(sample_weight):
        if not known:
            raise TypeError(
                "With a dask dataframe (or unknown chunk sizes) pass sample_weight as a "
                "dask Series or array with one partition per partition of X."
            )
        sample_weight = da.from_array(np.asarray(sample_weight), chunks=-1)
    if dd is not None and isinstance(sample_weight, dd.Series):
        if sample_weight.npartitions != n_blocks:
            raise ValueError(
                f"sample_weight has {sample_weight.npartitions} partitions but X has "
                f"{n_blocks} row blocks; partition them alike."
            )
        return list(sample_weight.to_delayed())
    if not isinstance(sample_weight, da.Array):
        raise TypeError(
            "sample_weight must be a dask array, a dask Series or (for a dask array X) "
            f"an array-like, got {type(sample_weight).__name__}."
        )
    if sample_weight.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-D, got shape {sample_weight.shape}."
        )
    if known and not np.isnan(sample_weight.chunks[0]).any():
        if sample_weight.shape[0] != X.shape[0]:
            raise ValueError(
                f"sample_weight has {sample_weight.shape[0]} rows but X has {X.shape[0]}."
            )
        if sample_weight.chunks[0] != X.chunks[0]:  # align the row chunks (cheap)
            sample_weight = sample_weight.rechunk((X.chunks[0],))
    elif sample_weight.numblocks[0] != n_blocks:
        raise ValueError(
            f"sample_weight has {sample_weight.numblocks[0]} row chunks but X has "
            f"{n_blocks}, and their sizes are not known: give them the same row chunks."
        )
    return list(sample_weight.to_delayed())


def _where(k, offset, n_rows):
    """Where a block lies, for error messages raised on the workers."""
    if offset is None:
        return f"row block {k} of the dask input"
    return f"rows {offset}..{offset + n_rows - 1} (row block {k}) of the dask input"


def _block_values(block, n_features, k, dtype=np.float64):
    """A computed block (ndarray or pandas DataFrame) as a 2-D array of ``dtype``."""
    if hasattr(block, "to_numpy"):
        x = block.to_numpy(dtype=dtype, na_value=np.nan)
    else:
        x = np.asarray(block, dtype=dtype)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(
            f"Row block {k} has shape {x.shape}; expected (n_rows, {n_features})."
        )
    return x


def _block_weights(weights, n_rows, k, offset):
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n_rows:
        raise ValueError(
            f"Row block {k}: sample_weight has {w.shape[0]} rows but X has {n_rows}; "
            "give sample_weight the row chunks (partitions) of X."
        )
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError(
            f"sample_weight must be finite and non-negative; {_where(k, offset, n_rows)} "
            "holds a negative, NaN or inf weight."
        )
    return w


def _tree_reduce(parts, combine, split_every):
    """Combine delayed ``parts`` ``split_every`` at a time, level by level."""
    while len(parts) > 1:
        parts = [
            group[0] if len(group) == 1 else dask.delayed(combine, pure=True)(*group)
            for group in (parts[i : i + split_every] for i in range(0, len(parts), split_every))
        ]
    return parts[0]


# ------------------------------------------------------------ scalar quantizers
def _block_sketches(block, weights, grids, names, k, offset):
    """One sketch per feature of a row block, on the grids of the first block."""
    x = _block_values(block, len(grids), k)
    bad = np.flatnonzero(~np.isfinite(x).all(axis=0))
    if bad.size:
        raise _nonfinite_error(
            SimpleNamespace(feature_names_in_=names), bad,
            f" (in {_where(k, offset, x.shape[0])})",
        )
    w = _block_weights(weights, x.shape[0], k, offset)
    xt = np.ascontiguousarray(x.T)  # contiguous columns for the sketch kernels
    sketches = [ColumnSketch.from_grid(grid).add(xt[j], w) for j, grid in enumerate(grids)]
    return sketches, x.shape[0]


def _merge_sketches(*parts):
    sketches, n_rows = parts[0]
    for other, n in parts[1:]:
        sketches = [a.merge(b) for a, b in zip(sketches, other)]
        n_rows += n
    return sketches, n_rows


def _fit_scalar(estimator, X, sample_weight, split_every):
    blocks, offsets = _row_blocks(X)
    weights = _weight_blocks(sample_weight, X, len(blocks))
    with _Atomic(estimator):  # a fit that fails leaves the estimator as it was
        for name in ("sketches_", "n_samples_seen_"):  # fit starts a new stream
            estimator.__dict__.pop(name, None)
        # the first block with rows (and a positive weight) is sketched on the client:
        # that validates it, sets the feature names and the sketches' grids
        for first, (block, w) in enumerate(zip(blocks, weights)):
            x0, w0 = dask.compute(block, w)
            w0 = _block_weights(w0, len(x0), first, offsets[first])
            if len(x0) and (w0 is None or np.any(np.asarray(w0, dtype=np.float64) > 0)):
                break
        else:
            raise ValueError("X has no rows (with a positive sample weight) to fit on.")
        estimator._validate_params()
        sketches, dtype, n_rows = estimator._sketch_batch(x0, w0)
        grids = [sk.grid for sk in sketches]
        names = getattr(estimator, "feature_names_in_", None)
        parts = [
            dask.delayed(_block_sketches, pure=True)(block, w, grids, names, k, offset)
            for k, (block, w, offset) in enumerate(zip(blocks, weights, offsets))
            if k != first
        ]
        if parts:
            rest, n_rest = dask.compute(_tree_reduce(parts, _merge_sketches, split_every))[0]
            sketches = [a.merge(b) for a, b in zip(sketches, rest)]
            n_rows += n_rest
        estimator._fit_sketches(sketches, dtype)
        estimator.n_samples_seen_ = n_rows
    return estimator


# -------------------------------------------------------- BinarySphericalEncoder
def _moments(x):
    """``(n, mean, centred Gram, unit)`` of a block, in units of a power of two."""
    if x.shape[0] == 0:
        return 0, np.zeros(x.shape[1]), np.zeros((x.shape[1],) * 2), 1.0
    unit = _power_of_two_unit(np.abs(x).max())
    xs = x / unit
    mean = xs.mean(axis=0)
    xc = xs - mean
    return x.shape[0], mean, xc.T @ xc, unit


def _merge_moments(a, b):
    """Chan et al.'s pairwise update of the mean and the co-moment matrix."""
    (na, ma, Ga, ua), (nb, mb, Gb, ub) = a, b
    if na == 0 or nb == 0:
        return b if na == 0 else a
    unit = max(ua, ub)  # powers of two: the rescaling is exact (or underflows)
    ra, rb = ua / unit, ub / unit
    ma, Ga, mb, Gb = ma * ra, Ga * (ra * ra), mb * rb, Gb * (rb * rb)
    n = na + nb
    delta = mb - ma
    return n, ma + delta * (nb / n), Ga + Gb + np.outer(delta, delta) * (na * nb / n), unit


def _sample_block(block, n_features, dtype, seed, max_samples, with_moments, k, offset):
    """Moments of a row block and its ``max_samples`` rows of smallest random keys."""
    x = _block_values(block, n_features, k, dtype)
    rows = _nonfinite_rows(x)
    if rows.size:
        if offset is None:
            raise ValueError(
                f"Input X contains NaN or infinity in {rows.size} row(s) of row block "
                f"{k} (rows {', '.join(map(str, rows[:10]))} of that block); binary "
                "spherical codes need finite values: drop or impute those rows first."
            )
        _raise_nonfinite(rows + offset)
    moments = _moments(x.astype(np.float64, copy=False)) if with_moments else None
    keys = np.random.default_rng(seed).random(x.shape[0])
    return _bottom_k(x.shape[0], moments, keys, x, max_samples)


def _bottom_k(n, moments, keys, sample, max_samples):
    if keys.shape[0] > max_samples:  # a uniform sample: the rows of smallest keys
        keep = np.argpartition(keys, max_samples)[:max_samples]
        keys, sample = keys[keep], sample[keep]
    return n, moments, keys, sample


def _merge_samples(max_samples, *parts):
    moments = parts[0][1]
    if moments is not None:
        moments = functools.reduce(_merge_moments, [p[1] for p in parts])
    return _bottom_k(
        sum(p[0] for p in parts),
        moments,
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
        max_samples,
    )


def _fit_binary_spherical(estimator, X, max_samples, random_state, split_every):
    estimator._validate_params()
    if not (isinstance(max_samples, Integral) and max_samples >= 1):
        raise ValueError(f"max_samples must be an integer >= 1, got {max_samples!r}.")
    frame = _is_frame(X)
    if frame:  # float32 columns stay float32, as in the in-memory fit
        dtype = np.float32 if all(t == np.float32 for t in X.dtypes) else np.float64
        n_features = len(X.columns)
    else:
        dtype, n_features = X.dtype, X.shape[1]
    blocks, offsets = _row_blocks(X)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    seeds = np.random.SeedSequence(seed).spawn(len(blocks))
    with_moments = bool(estimator.center) or estimator.rotation in ("pca", "itq")
    parts = [
        dask.delayed(_sample_block, pure=True)(
            block, n_features, dtype, s, max_samples, with_moments, k, offset
        )
        for k, (block, s, offset) in enumerate(zip(blocks, seeds, offsets))
    ]
    combine = functools.partial(_merge_samples, max_samples)
    n, moments, keys, sample = dask.compute(_tree_reduce(parts, combine, split_every))[0]
    if n == 0:
        raise ValueError("X has no rows to fit on.")
    sample = sample[np.argsort(keys, kind="stable")]
    if frame:
        import pandas as pd

        sample = pd.DataFrame(sample, columns=X.columns)
    if not with_moments:  # the fit needs no statistic of the data
        return estimator.fit(sample)
    _, mean, gram, unit = moments
    if not estimator.center:  # directions of the uncentred second moments
        gram = gram + n * np.outer(mean, mean)
    Xs = estimator._validate(sample, reset=True)
    estimator._fit(Xs, moments=(mean * unit, gram))
    return estimator


# ------------------------------------------------------------------------ public
@validate_params(
    {
        "estimator": "no_validation",  # checked below: skquant's estimators only
        "X": ["array-like"],
        "sample_weight": ["array-like", None],
        "split_every": [IntervalNotBool(Integral, 2, None, closed="left")],
        "max_samples": [IntervalNotBool(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def fit(
    estimator,
    X,
    sample_weight=None,
    *,
    split_every=8,
    max_samples=100_000,
    random_state=None,
):
    """Fit a skquant estimator on a dask array or dataframe.

    Scalar quantizers (:class:`~skquant.LloydMaxQuantizer`,
    :class:`~skquant.UniformClipQuantizer`, :class:`~skquant.CompanderQuantizer`):
    the first row block is computed and passed to ``estimator.partial_fit``, which
    validates it, sets ``n_features_in_`` and ``feature_names_in_`` and chooses the
    bins of the per-feature sketches. Every other block is summarised on the workers
    by sketches on the same bins, the sketches are merged in a tree (``split_every``
    at a time) and the codebook is designed once from the merged sketches. The
    result is the one ``partial_fit`` gives over the same blocks, in any order, and
    its MSE is within the streaming guarantee of the in-memory ``fit`` (see
    :ref:`streaming`). The first block sets the bins, so it should hold at least a
    few hundred rows.

    :class:`~skquant.BinarySphericalEncoder`: one pass over the data computes, on
    the workers, the exact mean and the centred second-moment matrix of all rows
    (merged pairwise, Chan et al.), when ``center=True`` or ``rotation`` is
    ``"pca"`` or ``"itq"``, and a uniform random sample of ``max_samples`` rows
    (the rows with the smallest random keys). ``mean_`` and the principal
    directions come from the exact moments; the ITQ rotation, ``itq_loss_``,
    ``bit_balance_`` and ``code_entropy_`` come from the sample. ``rotation=None``
    and ``"random"`` need no statistic of the data, so with ``center=False`` the
    fit is exactly the in-memory one.

    Data that is not a dask collection is passed to ``estimator.fit``.

    Parameters
    ----------
    estimator : estimator instance
        A skquant scalar quantizer or a :class:`~skquant.BinarySphericalEncoder`;
        fitted in place.
    X : dask.array.Array of shape (n_samples, n_features) or dask.dataframe.DataFrame
        Finite numeric training data. Arrays split in columns are rechunked to one
        column chunk. A dataframe's columns must all be numeric; they give
        ``feature_names_in_``.
    sample_weight : dask.array.Array, dask.dataframe.Series or array-like, default=None
        Non-negative row weights (scalar quantizers only). A dask array is rechunked
        to the row chunks of X when both sizes are known; otherwise it needs one
        block per row block of X, with the same lengths (checked on the workers). An
        in-memory array is accepted with a dask array X of known chunk sizes.
    split_every : int, default=8
        Fan-in of the tree reduction (at least 2).
    max_samples : int, default=100_000
        :class:`~skquant.BinarySphericalEncoder` only: rows in the random sample.
    random_state : int, RandomState instance or None, default=None
        :class:`~skquant.BinarySphericalEncoder` only: seeds the sample. The sample
        depends on the seed and on the row chunks. The rotation is seeded by the
        estimator's own ``random_state``.

    Returns
    -------
    estimator : estimator instance
        The fitted estimator. Scalar quantizers also get ``sketches_`` and
        ``n_samples_seen_``, as after ``partial_fit``.

    Raises
    ------
    ValueError
        For NaN or inf in X (naming the column(s) and the block, raised when the
        block is computed), wrong dimensions or misaligned ``sample_weight``.
    TypeError
        For non-numeric data or an estimator that is not skquant's.

    See Also
    --------
    transform : Lazy, block-by-block transform.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skquant import LloydMaxQuantizer
    >>> import skquant.dask as skd
    >>> X = da.random.default_rng(0).standard_normal((40_000, 2), chunks=(10_000, 2))
    >>> q = skd.fit(LloydMaxQuantizer(n_bits=2), X)
    >>> q.levels_.round(2)
    array([[-1.54, -0.47,  0.43,  1.5 ],
           [-1.5 , -0.44,  0.46,  1.5 ]])
    >>> exact = LloydMaxQuantizer(n_bits=2).fit(X.compute())
    >>> bool(np.allclose(q.levels_, exact.levels_, atol=1e-3))
    True
    """
    if not isinstance(estimator, (BinarySphericalEncoder, BaseScalarQuantizer)):
        raise TypeError(
            "skquant.dask.fit fits skquant's scalar quantizers and BinarySphericalEncoder; "
            f"got estimator={type(estimator).__name__}."
        )
    if isinstance(random_state, (bool, np.bool_)):
        raise InvalidParameterError(
            "The 'random_state' parameter of fit must be an int, a RandomState instance "
            f"or None, not a bool; got {random_state!r}."
        )
    if not is_dask_collection(X):
        if is_dask_collection(sample_weight):
            raise TypeError("X is in memory but sample_weight is a dask collection.")
        check_2d(X)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return estimator.fit(X, **kwargs)
    with named("X"):
        X = _check_collection(X)
    if isinstance(estimator, BinarySphericalEncoder):
        if sample_weight is not None:
            raise TypeError("BinarySphericalEncoder.fit takes no sample_weight.")
        return _fit_binary_spherical(estimator, X, max_samples, random_state, split_every)
    return _fit_scalar(estimator, X, sample_weight, split_every)  # a scalar quantizer


def _apply_block(block, estimator, method, n_out, dtype):
    """``estimator.<method>`` of one computed block (empty blocks too)."""
    if len(block) == 0:
        return np.empty((0, n_out), dtype=dtype)
    with warnings.catch_warnings():  # said once, on the client, when the graph is built
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.asarray(getattr(estimator, method)(block))


def _apply_partition(part, estimator, method, columns, dtype):
    import pandas as pd

    out = _apply_block(part, estimator, method, len(columns), dtype)
    return pd.DataFrame(out, columns=columns, index=part.index)


def _probe(estimator, X, method):
    """One in-memory row shaped like X's, valid for ``method``: the output's columns
    and dtype come from the estimator itself (and bad inputs fail now, not later)."""
    n_columns = 1 if X.ndim == 1 else len(X.columns) if _is_frame(X) else X.shape[1]
    row = np.zeros((1, n_columns) if X.ndim == 2 else 1)
    if (
        method == "inverse_transform"
        and isinstance(estimator, BaseScalarQuantizer)
        and n_columns == int(estimator.n_levels_.sum())
        and estimator.encode in ("onehot", "onehot-dense")
    ):
        row[0, np.concatenate([[0], np.cumsum(estimator.n_levels_)[:-1]])] = 1
    if _is_frame(X):
        import pandas as pd

        return pd.DataFrame(row, columns=X.columns).astype(X.dtypes.to_dict())
    return row.astype(X.dtype)


def _apply(estimator, X, method):
    if not isinstance(estimator, (BaseScalarQuantizer, BinarySphericalEncoder)):
        raise TypeError(
            f"skquant.dask.{method} takes skquant's quantizers and BinarySphericalEncoder; "
            f"got estimator={type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    if not is_dask_collection(X):
        with named("X"):
            return getattr(estimator, method)(X)
    if method == "transform" and getattr(estimator, "encode", None) == "onehot":
        raise ValueError(
            'encode="onehot" gives a scipy sparse matrix, which a dask array does not '
            'hold block by block; use encode="onehot-dense" (dense indicators) or '
            '"ordinal" (codes): estimator.set_params(encode="onehot-dense").'
        )
    one_d = method == "inverse_transform" and isinstance(estimator, BinarySphericalEncoder)
    with named("X"):
        X = _check_collection(X, allow_1d=one_d)
    out = np.asarray(getattr(estimator, method)(_probe(estimator, X, method)))
    n_out, dtype = out.shape[1], out.dtype
    slim = copy.copy(estimator)  # what the workers need: no sketches, later edits unseen
    slim.__dict__.pop("sketches_", None)
    est = dask.delayed(slim, pure=True)
    token = f"{type(estimator).__name__.lower()}-{method.replace('_', '-')}"
    if _is_frame(X):
        import pandas as pd

        if method == "transform":
            columns = list(estimator.get_feature_names_out())
        else:
            columns = list(_check_feature_names_in(estimator, None))
        meta = pd.DataFrame(np.empty((0, n_out), dtype=dtype), columns=columns)
        return X.map_partitions(
            _apply_partition, est, method, columns, dtype, meta=meta, token=token
        )
    return X.map_blocks(
        _apply_block,
        est,
        method,
        n_out,
        dtype,
        dtype=dtype,
        chunks=(X.chunks[0], (n_out,)),
        meta=np.empty((0, 0), dtype=dtype),
        token=token,
        **({"new_axis": 1} if X.ndim == 1 else {}),
    )


@validate_params(
    {"estimator": "no_validation", "X": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def transform(estimator, X):
    """Transform a dask array or dataframe lazily, block by block.

    Each row block is passed to ``estimator.transform`` when the result is computed,
    so the output equals the in-memory ``transform`` exactly. Arrays keep their row
    chunks and get one column chunk; dataframes keep their partitions and index and
    get the columns of ``get_feature_names_out()``. Data that is not a dask
    collection is passed to ``estimator.transform``.

    Parameters
    ----------
    estimator : estimator instance
        A fitted skquant scalar quantizer or :class:`~skquant.BinarySphericalEncoder`.
        ``encode="onehot"`` (a sparse matrix) is refused: use ``"onehot-dense"``.
    X : dask.array.Array of shape (n_samples, n_features) or dask.dataframe.DataFrame
        Data to transform; NaN or inf raise ``ValueError`` when the block is computed.

    Returns
    -------
    Xt : dask.array.Array or dask.dataframe.DataFrame
        Lazy; the dtype and columns of the in-memory ``transform`` (uint8 or uint16
        codes, the reconstruction in the float dtype of X, ``onehot-dense``
        indicators, or packed uint8 codes of a BinarySphericalEncoder).

    See Also
    --------
    inverse_transform : The lazy inverse.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skquant import UniformClipQuantizer
    >>> import skquant.dask as skd
    >>> X = da.random.default_rng(1).standard_normal((10_000, 3), chunks=(2_500, 3))
    >>> q = UniformClipQuantizer(n_bits=4).fit(X.compute())
    >>> codes = skd.transform(q, X)  # nothing is computed yet
    >>> codes.dtype, codes.chunks
    (dtype('uint8'), ((2500, 2500, 2500, 2500), (3,)))
    >>> bool(np.array_equal(codes.compute(), q.transform(X.compute())))
    True
    """
    return _apply(estimator, X, "transform")


@validate_params(
    {"estimator": "no_validation", "X": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def inverse_transform(estimator, X):
    """Map dask codes back to values lazily, block by block.

    Each row block is passed to ``estimator.inverse_transform`` when the result is
    computed, so the output equals the in-memory method exactly. Arrays keep their
    row chunks and get one column chunk; dataframes keep their partitions and index
    and get the columns ``feature_names_in_`` (or ``x0, x1, ...``). Data that is not
    a dask collection is passed to ``estimator.inverse_transform``.

    Parameters
    ----------
    estimator : estimator instance
        A fitted skquant scalar quantizer or :class:`~skquant.BinarySphericalEncoder`.
    X : dask.array.Array or dask.dataframe.DataFrame
        Codes as :func:`transform` gives them (for a BinarySphericalEncoder, index
        codes may also be a 1-D array); invalid codes raise ``ValueError`` when the
        block is computed.

    Returns
    -------
    X_hat : dask.array.Array or dask.dataframe.DataFrame
        Lazy, of shape ``(n_samples, n_features_in_)``, in the dtype of the in-memory
        ``inverse_transform``.

    See Also
    --------
    transform : The lazy transform.

    Examples
    --------
    >>> import dask.array as da
    >>> from skquant import CompanderQuantizer
    >>> import skquant.dask as skd
    >>> X = da.random.default_rng(2).standard_normal((10_000, 2), chunks=(5_000, 2))
    >>> q = skd.fit(CompanderQuantizer(n_bits=3), X)
    >>> X_hat = skd.inverse_transform(q, skd.transform(q, X))
    >>> X_hat.dtype, X_hat.chunks
    (dtype('float64'), ((5000, 5000), (2,)))
    >>> round(float(((X - X_hat) ** 2).mean().compute()), 3)  # the MSE
    0.157
    """
    return _apply(estimator, X, "inverse_transform")
