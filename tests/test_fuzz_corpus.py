"""Replay the fuzzer's regression corpus (``tests/fuzz_corpus``).

The files are derived by ``benchmarks/fuzz_loader.py`` (``--export``: inputs of its
corpus that reached new code, and any finding): forged skquant files and CLI input
tables. Each must be refused with ``ValueError`` (a one-line message) or give an
estimator whose ``transform``, ``inverse_transform`` and ``score`` work; each table is
refused with the command line's error or read as a finite 2-D float table (the
oracle of ``tests/loader_oracle.py``, the fuzzer's own). The
allocation bound is the fuzzer's (measured, as there, after a warm-up that loads what
any first call loads): at most 1032 times the input size plus 4 MiB.
"""

import tracemalloc
from pathlib import Path

import pytest
from loader_oracle import check_file, check_table

CORPUS = Path(__file__).parent / "fuzz_corpus"
FILES = sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def test_corpus_is_there():
    suffixes = {p.suffix for p in FILES}
    assert len(FILES) >= 20 and ".skq" in suffixes and suffixes - {".skq"}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_replay(path):
    data = path.read_bytes()

    def check():
        if path.suffix == ".skq":
            return check_file(data)
        return check_table(data, path.suffix)

    first = check()  # also warms up what a first call loads (schemas, kernels, imports)
    tracemalloc.start()
    try:
        assert check() == first
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1032 * len(data) + 4 * 2**20
