"""The loader's oracle, shared by the fuzzer (``benchmarks/fuzz_loader.py``) and the
replay of its corpus (``tests/test_fuzz_corpus.py``).

``skquant.load`` either refuses a file with a one-line ``ValueError`` or gives an
estimator whose ``transform``, ``inverse_transform`` and ``score`` work on data of its
width; the command line's ``read_table`` either refuses a table with a one-line
``CLIError`` or reads a finite 2-D float table. Anything else raises.
"""

import io
import os
import tempfile
import warnings

import numpy as np

import skquant
from skquant import _cli


def check_file(data):
    """``"refused"`` or ``"loaded"`` for the bytes of a skquant file."""
    try:
        est = skquant.load(io.BytesIO(data))
    except ValueError as exc:
        assert "\n" not in str(exc), f"multi-line message: {exc!r}"
        return "refused"
    d = est.n_features_in_
    X = np.random.default_rng(1).standard_normal((7, d)) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codes = est.transform(X)
        if hasattr(est, "n_levels_"):  # ordinal codes, whatever the encode parameter
            codes = np.minimum(np.arange(7)[:, None], est.n_levels_ - 1)
        est.inverse_transform(codes)
        if hasattr(est, "score"):
            assert not np.isnan(est.score(X))
    return "loaded"


def check_table(data, suffix):
    """``"refused"`` or ``"read"`` for the bytes of a table file named ``*suffix``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        try:
            X, _ = _cli.read_table(path)
        except _cli.CLIError as exc:
            assert "\n" not in str(exc), f"multi-line message: {exc!r}"
            return "refused"
    assert X.ndim == 2 and X.dtype in (np.float32, np.float64) and np.isfinite(X).all()
    return "read"
