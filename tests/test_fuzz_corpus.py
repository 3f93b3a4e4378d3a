"""Replay the fuzzer's regression corpus (``tests/fuzz_corpus``).

The files are derived by ``benchmarks/fuzz_loader.py`` (``--export``: inputs of its
corpus that reached new code, and any finding): forged skquant files and CLI input
tables. Each must be refused with ``ValueError`` (a one-line message) or give an
estimator whose ``transform``, ``inverse_transform`` and ``score`` work; each table is
refused with the command line's error or read as a finite 2-D float table. The
allocation bound is the fuzzer's (measured, as there, after a warm-up that loads what
any first call loads): at most 1032 times the input size plus 4 MiB.
"""

import io
import os
import tempfile
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import skquant
from skquant import _cli

CORPUS = Path(__file__).parent / "fuzz_corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def test_corpus_is_there():
    suffixes = {p.suffix for p in FILES}
    assert len(FILES) >= 20 and ".skq" in suffixes and suffixes - {".skq"}


def _check_file(data):
    try:
        est = skquant.load(io.BytesIO(data))
    except ValueError as exc:
        assert "\n" not in str(exc), exc
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


def _check_table(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        try:
            X, _ = _cli.read_table(path)
        except _cli.CLIError as exc:
            assert "\n" not in str(exc), exc
            return "refused"
    assert X.ndim == 2 and X.dtype in (np.float32, np.float64) and np.isfinite(X).all()
    return "read"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_replay(path):
    data = path.read_bytes()

    def check():
        if path.suffix == ".skq":
            return _check_file(data)
        return _check_table(data, path.suffix)

    first = check()  # also warms up what a first call loads (schemas, kernels, imports)
    tracemalloc.start()
    try:
        assert check() == first
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1032 * len(data) + 4 * 2**20
