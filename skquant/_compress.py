"""``skquant.compress`` and ``skquant.decompress``: entropy-coded files from Python.

The Python twin of ``skquant encode --coding entropy`` and ``skquant decode``: fit a
scalar quantizer, write its codes rANS-coded (:mod:`skquant._coding`) with the
codebook, and read the reconstruction back chunk by chunk.
"""

import os

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, StrOptions, validate_params

from ._base import BaseScalarQuantizer

__all__ = ["compress", "decompress"]

_PATH = [str, os.PathLike]


@validate_params(
    {
        "X": ["array-like"],
        "path": [*_PATH, HasMethods(["write"])],
        "quantizer": [None, BaseScalarQuantizer],
        "coding": [StrOptions({"entropy", "packed"})],
    },
    prefer_skip_nested_validation=False,
)
def compress(X, path, quantizer=None, *, coding="entropy"):
    """Quantize ``X`` and write an entropy-coded skquant file.

    A clone of ``quantizer`` is fitted on ``X``; the file holds its codebook and the
    codes of ``X``, coded per feature with rANS under the feature's own categorical
    model, so that the codes take their empirical entropy in bits (plus a small
    table; a feature whose table would cost more than it saves, on few rows, is coded
    under a flat model instead, ``log2 n_levels_`` bits a value and no table), and
    the column names when ``X`` is a DataFrame. ``skquant decode`` and
    :func:`decompress` read it. The file is format 6's compact container (a 20-byte
    head and one DEFLATE body; ``doc/file_format.rst``): its estimator, as
    :func:`skquant.load` returns it, transforms and inverse-transforms bit for bit,
    but the fit's diagnostics that no method reads (``clip_min_``, ``n_iter_``, ...)
    are not stored and ``mse_`` is rounded to float16 (:func:`skquant.save` keeps
    them all).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data, as the quantizer's ``fit`` takes it.
    path : str, path-like or binary file object
        Where to write (a path is replaced only once the file is complete).
    quantizer : scalar quantizer, default=None
        An unfitted or fitted skquant scalar quantizer (it is cloned, not modified);
        ``None`` means ``UniformClipQuantizer(n_bits=8)``.
    coding : {"entropy", "packed"}, default="entropy"
        ``"entropy"`` codes with rANS (needs ``pip install "skquant[coding]"``);
        ``"packed"`` bit-packs the codes at ``ceil(log2 n_levels_)`` bits per value.

    Returns
    -------
    quantizer : scalar quantizer
        The fitted clone whose codes the file holds.

    See Also
    --------
    decompress : Read the reconstruction back.
    skquant.save : Save a quantizer without codes.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import skquant
    >>> X = np.random.default_rng(0).laplace(size=(100_000, 3))
    >>> buf = io.BytesIO()
    >>> q = skquant.compress(X, buf)
    >>> len(buf.getvalue()) < X.size  # fewer than 8 bits per 8-bit code
    True
    >>> Y = skquant.decompress(io.BytesIO(buf.getvalue()))
    >>> bool(np.array_equal(Y, q.inverse_transform(q.transform(X))))
    True
    """
    from ._compat import check_2d, named
    from ._io import write
    from ._uniform_clip import UniformClipQuantizer

    check_2d(X)
    quantizer = UniformClipQuantizer(n_bits=8) if quantizer is None else clone(quantizer)
    with named("X"):
        quantizer.fit(X)
    columns = getattr(X, "columns", None)
    columns = None if columns is None else [str(c) for c in columns]
    write(path, quantizer, codes=quantizer.transform(X), columns=columns, coding=coding)
    return quantizer


@validate_params({"path": [*_PATH, HasMethods(["read", "seek"])]},
                 prefer_skip_nested_validation=True)
def decompress(path):
    """Read the reconstruction of the data stored in a skquant file.

    The codes are decoded chunk by chunk (about a million values at a time) and each
    chunk goes through the stored quantizer's ``inverse_transform``, so the result is
    bit for bit ``quantizer.inverse_transform(quantizer.transform(X))`` and the memory
    beyond the result is bounded by a chunk. Files of packed codes (``skquant encode
    --coding packed``, older format versions) are read too.

    Parameters
    ----------
    path : str, path-like or seekable binary file object
        A file written by :func:`compress` or ``skquant encode``.

    Returns
    -------
    X : ndarray or pandas.DataFrame of shape (n_samples, n_features)
        The reconstruction, in the levels' dtype; a DataFrame with the stored column
        names when the file has them (pandas is then needed).

    Raises
    ------
    ValueError
        If the file holds no codes, or is malformed, truncated or corrupted (the
        message names the file and the member).

    See Also
    --------
    compress : Write such a file.

    Examples
    --------
    >>> import io
    >>> import pandas as pd
    >>> import skquant
    >>> from sklearn.datasets import load_diabetes
    >>> X = load_diabetes(as_frame=True).data
    >>> buf = io.BytesIO()
    >>> q = skquant.compress(X, buf, skquant.LloydMaxQuantizer(n_bits=4))
    >>> Y = skquant.decompress(buf)
    >>> list(Y.columns) == list(X.columns)
    True
    """
    from ._io import read

    enc = read(path, stream=True)
    if enc.shape is None:
        raise ValueError(f"{enc.where}: holds an estimator but no codes (written by "
                         "skquant.save); nothing to decompress")
    est = enc.estimator
    if enc.coded is None or enc.coded.plausible(np.dtype(enc.data_dtype).itemsize):
        out = np.empty(enc.shape, dtype=enc.data_dtype)
        for a, codes in enc.blocks():
            out[a:a + codes.shape[0]] = np.asarray(est.inverse_transform(codes))
    else:  # more rows than the stream could hold at DEFLATE's ratio: joined from
        # checked blocks, never allocated from the declared shape (skquant._coding)
        parts = [np.asarray(est.inverse_transform(c), dtype=enc.data_dtype)
                 for _, c in enc.blocks()]
        out = np.concatenate([np.empty((0, enc.shape[1]), enc.data_dtype), *parts])
    if enc.columns is None:
        return out
    import pandas as pd

    return pd.DataFrame(out, columns=enc.columns, copy=False)
