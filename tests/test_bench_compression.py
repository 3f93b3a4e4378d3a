"""Smoke test of benchmarks/bench_compression.py on tiny data: every searched setting
meets its error target, the searches find the smallest setting that does, and the
sizes are those of the real compressed bytes."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zfpy")
pytest.importorskip("pysz")
pytest.importorskip("zstandard")
pytest.importorskip("constriction")
if importlib.util.find_spec("numcodecs") is None:  # imported by the benchmark's workaround
    pytest.skip("numcodecs is not installed", allow_module_level=True)

from skquant import UniformClipQuantizer  # noqa: E402
from skquant._coding import feature_bits  # noqa: E402
from skquant._entropy import coded_bits, column_counts, table_model_bits  # noqa: E402
from skquant.metrics import normalized_mse  # noqa: E402

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_compression.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_compression", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def X():
    from sklearn.datasets import load_iris

    return load_iris().data


@pytest.mark.parametrize("target", [1e-2, 1e-4])
def test_peer_search_meets_target_and_is_minimal(bench, X, target):
    found = 0
    for name, prep, kind, lo, hi, make in bench.peers(X):
        memo = {}
        r = bench.search_peer(X, target, kind, lo, hi, make, memo)
        if r is None:  # float16 cannot reach 1e-4 on z-scored columns, say
            assert normalized_mse(X, make(hi)[0]) > target
            continue
        found += 1
        nbytes, knob, err = r
        X_hat, size = make(knob)
        assert err == normalized_mse(X, X_hat) <= target, (name, prep)
        assert nbytes == (size() if callable(size) else size) > 0
        if kind == "int" and knob > lo:  # one step coarser misses the target
            assert normalized_mse(X, make(knob - 1)[0]) > target, (name, prep)
    assert found >= 8


def test_zstd_size_is_the_compressed_length(bench):
    import zstandard

    a = np.arange(3000, dtype=np.uint16).reshape(1000, 3) % 7
    c = zstandard.ZstdCompressor(level=bench.ZSTD_LEVEL)
    assert bench._zstd(a) == min(len(c.compress(a.tobytes())),
                                 len(c.compress(a.tobytes(order="F"))))


@pytest.mark.parametrize("target", [1e-1, 1e-3])
def test_level_search_per_feature(bench, X, target):
    make = lambda M: UniformClipQuantizer(n_levels=M)
    q, k = bench.search_levels(make, X, target, np.ones(X.shape[1]), 4095, lambda k: k + 1)
    e = normalized_mse(X, q.inverse_transform(q.transform(X)), multioutput="raw_values")
    assert np.all(e <= target)
    np.testing.assert_array_equal(q.n_levels_, k + 1)
    # one level fewer on any feature misses the target on that feature
    q1 = make(np.where(k > 1, k, 2)).fit(X)
    e1 = normalized_mse(X, q1.inverse_transform(q1.transform(X)), multioutput="raw_values")
    assert np.all((e1 > target) | (k == 1))


def test_file_bytes_are_the_coded_size(bench, X):
    q = UniformClipQuantizer(n_levels=40).fit(X)
    total, codes, coding = bench.file_bytes(q, X)
    codes_ = q.transform(X)
    # per feature, the coder spends the cheapest of its table's model (entropy and
    # table), the flat model (log2 n_levels_ bits a value, no table) and the adaptive
    # model (format 7; its size model counts a header byte a feature on top)
    flat = X.shape[0] * np.log2(q.n_levels_) * (q.n_levels_ > 1)
    table = [table_model_bits(*column_counts(c, k)) for c, k in zip(codes_.T, q.n_levels_)]
    bits = np.minimum(table, np.where(flat > 0, flat, np.inf)).sum()
    chosen = feature_bits(codes_, q.n_levels_).sum()
    assert chosen <= bits
    # the benchmark's size model is rate="entropy"'s
    np.testing.assert_array_equal(coded_bits(codes_, q.n_levels_),
                                  feature_bits(codes_, q.n_levels_))
    # the rANS payload in 32-bit words is the entropy plus at most 2 words per stream
    assert chosen / 8 - X.shape[1] <= codes + 1e-9
    assert codes <= math.ceil(chosen / 8) + 8 + 3 * X.shape[1]
    assert coding in ("entropy", "packed")
    from skquant import _io

    # the estimator and the container (its magic, version and digest) come on top
    assert total > codes + _io._COMPACT_HEAD


def test_bounds(bench):
    (label, rd), = bench.bound_rows("Gaussian", [1e-2])
    assert rd[1e-2] == pytest.approx(math.log2(10) / 8)
    assert bench.bound_rows("iris", [1e-2]) == []


def test_skquant_sizes_are_those_of_compress_files(bench, X):
    """The benchmark's skquant size is the smaller of the two files skquant.compress
    writes for the fitted quantizer (entropy-coded and packed), byte for byte."""
    import io

    import skquant

    X32 = X.astype(np.float32)
    q = UniformClipQuantizer(n_levels=[5, 9, 17, 3]).fit(X32)
    size, coded, coding = bench.file_bytes(q, X32)
    sizes = {}
    for c in ("entropy", "packed"):
        buf = io.BytesIO()
        skquant.compress(X32, buf, q, coding=c)
        sizes[c] = len(buf.getvalue())
    assert size == min(sizes.values()) and coding == min(sizes, key=sizes.get)
    assert 0 < coded < sizes["entropy"]


def test_allocation_meets_the_mean_target_at_the_least_estimated_cost(bench, X):
    """The Lagrangian allocation of levels: the mean normalised MSE of the refitted
    quantizer meets the target, and on the grid no pair of per-feature choices meeting
    it is cheaper by more than the Lagrangian's gap (checked by brute force on two
    features)."""
    import itertools

    make = lambda M: UniformClipQuantizer(n_levels=M)
    X2 = X[:, :2]
    grid = bench.allocation_grid(make, X2, 255, lambda k: k + 1, 0.5, steps=2)
    ks, nmse, cost = grid
    assert nmse.shape == cost.shape == (ks.size, 2)
    for target in (1e-1, 1e-3):
        i = bench.allocate(grid, target)
        assert nmse[i, [0, 1]].mean() <= target
        feasible = [cost[a, 0] + cost[b, 1] for a, b in itertools.product(range(ks.size),
                                                                          repeat=2)
                    if (nmse[a, 0] + nmse[b, 1]) / 2 <= target]
        best = min(feasible)
        assert cost[i, [0, 1]].sum() <= best * 1.1 + 8, (cost[i, [0, 1]].sum(), best)
        q = bench.search_allocation(make, X2, target, grid, lambda k: k + 1)
        e = normalized_mse(X2, q.inverse_transform(q.transform(X2.astype(np.float32))))
        assert e <= target
        np.testing.assert_array_equal(q.n_levels_, np.minimum(ks[i] + 1, q.n_levels_))
    assert bench.allocate(grid, 1e-30) is None
