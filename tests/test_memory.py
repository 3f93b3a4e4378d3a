"""Peak memory of transform, inverse_transform and fit, measured with tracemalloc.

NumPy reports its allocations to tracemalloc, so the peak covers every array the
library makes (numba kernels allocate only small per-chunk buffers). The bounds are
generous but fail if a whole copy of X is made. benchmarks/bench_memory.py measures
the same peaks exactly on 10**8 values.
"""

import tracemalloc
import warnings

import numba
import numpy as np
import pytest

from skquant import (
    BinarySphericalEncoder,
    CompanderQuantizer,
    LloydMaxQuantizer,
    UniformClipQuantizer,
)
from skquant._kernels._auto import SMALL

MiB = 2**20


def traced_peak(func):
    """``(func(), peak bytes allocated by NumPy and Python during the call)``."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = func()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


SCALAR = {
    "lloyd-max": lambda: LloydMaxQuantizer(n_bits=4),
    # 32 levels: an M x n_distinct back-pointer table would be 16 columns, over the bound
    "lloyd-max-optimal": lambda: LloydMaxQuantizer(n_bits=5, algorithm="optimal"),
    "uniform-clip": lambda: UniformClipQuantizer(n_bits=4),
    "uniform-midtread": lambda: UniformClipQuantizer(n_bits=4, mode="midtread"),
    "compander": lambda: CompanderQuantizer(n_bits=4),
    "compander-optimal": lambda: CompanderQuantizer(n_bits=4, compander="optimal"),
}


@pytest.fixture(scope="module")
def big():
    # 2 * 10**7 float32 values (80 MB): the codes are 20 MB
    return np.random.default_rng(0).standard_normal((5_000_000, 4), dtype=np.float32)


@pytest.mark.parametrize("name", ["lloyd-max", "uniform-clip", "uniform-midtread", "compander"])
def test_transform_allocates_only_its_output(name, big):
    q = SCALAR[name]().fit(big[:20_000])
    # compile and build lazy tables first: more values than the NumPy twins take
    # (SMALL), so the traced call loads no kernel (a compile's objects would count)
    warm = big[: SMALL // big.shape[1] + 1]
    q.inverse_transform(q.transform(warm))
    codes, peak = traced_peak(lambda: q.transform(big))
    d, M = q.levels_.shape
    slack = MiB + 64 * d * M * 8  # O(n_features * M): codebook copies, tables
    assert codes.nbytes == big.size  # uint8
    assert peak <= codes.nbytes + slack, (peak, codes.nbytes)
    X_hat, peak = traced_peak(lambda: q.inverse_transform(codes))
    assert X_hat.dtype == np.float32
    assert peak <= X_hat.nbytes + slack, (peak, X_hat.nbytes)


def test_encoder_transform_allocates_only_its_output(big):
    enc = BinarySphericalEncoder(4, rotation="random", random_state=0).fit(big[:20_000])
    enc.transform(big[: SMALL // big.shape[1] + 1])
    codes, peak = traced_peak(lambda: enc.transform(big))
    assert codes.shape == (big.shape[0], 1)  # 4 bits in one byte per row
    assert peak <= codes.nbytes + MiB, (peak, codes.nbytes)


@pytest.fixture(scope="module")
def wide():
    # 24 columns: a copy of X is 24 columns, the fit bound below 10 (+ the DP table)
    return np.random.default_rng(1).standard_normal((50_000, 24))


@pytest.mark.parametrize("name", SCALAR)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_fit_needs_a_few_columns_not_a_copy_of_X(name, weighted, wide):
    """One thread designs one column at a time: the sorted copy of the column and its
    summary (distinct values, prefix sums), never a copy of X."""
    column = wide.shape[0] * 8
    w = np.random.default_rng(2).uniform(0.5, 2.0, wide.shape[0]) if weighted else None
    est = SCALAR[name]()
    est.fit(wide[:1000, :2])  # compile first
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)  # columns are designed one at a time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, peak = traced_peak(lambda: est.fit(wide, sample_weight=w))
    finally:
        numba.set_num_threads(before)
    # the exact DP of algorithm="optimal" is O(n) too: back-pointers for the windows
    # its bounds leave (at most 4 n_distinct int32), Hirschberg's halving beyond
    bound = 10 * column + MiB
    assert peak <= bound < wide.nbytes, (peak / column, bound / column)
    assert est.levels_.shape == (24, 2**est.n_bits)


@pytest.mark.parametrize("params", [{}, {"rotation": "pca", "center": True, "n_bits": 16}])
def test_encoder_fit_memory(params, wide):
    """Without rotation, a few columns; PCA and ITQ work on one float64 copy of the
    centred X (documented in doc/guarantees.rst)."""
    column = wide.shape[0] * 8
    enc = BinarySphericalEncoder(**params)
    enc.fit(wide[:1000])
    _, peak = traced_peak(lambda: enc.fit(wide))
    copies = 1 if params else 0
    assert peak <= copies * wide.nbytes + 10 * column + MiB, peak / column


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n_bits", [32, 100])
@pytest.mark.parametrize("rotation", ["pca", "itq"])
def test_encoder_pca_of_wide_data_never_forms_the_d_by_d_matrix(rotation, n_bits, center):
    """n_samples < n_features: one float64 copy of the centred X, the n x n Gram
    matrix and two n_bits x n_features arrays (components_ is one) -- not the
    n_features**2 floats (800 MB here) of the tall route (doc/guarantees.rst). With
    n_bits = n_samples (the most a wide X has) that is 3 copies of X at most; a
    LAPACK workspace query that copies its matrix, or ITQ's product formed while the
    centred copy is alive, would be one more."""
    X = np.random.default_rng(3).standard_normal((100, 10_000))  # 8 MB
    enc = BinarySphericalEncoder(n_bits, rotation=rotation, center=center, n_iter=5,
                                 random_state=0)
    enc.fit(X[:10, :200])  # compile first
    _, peak = traced_peak(lambda: enc.fit(X))
    bound = X.nbytes + 2 * enc.components_.nbytes + MiB
    assert peak <= bound, (peak / X.nbytes, bound / X.nbytes)


def test_entropy_coded_decoding_memory_is_bounded_by_a_chunk(tmp_path):
    """Decoding an entropy-coded file streams it chunk by chunk: the memory beyond the
    output does not grow with the rows (1.6M vs 6.4M rows of 2 features), and stays
    below a few chunks' worth of codes and levels."""
    pytest.importorskip("constriction")
    from skquant import _coding, _io, compress, decompress

    rng = np.random.default_rng(0)
    peaks = {}
    for n in (1_600_000, 6_400_000):
        X = rng.laplace(size=(n, 2)).astype(np.float32)
        compress(X, tmp_path / f"{n}.skq", UniformClipQuantizer(n_bits=8))
        del X
        decompress(tmp_path / f"{n}.skq")  # compile outside the trace

        def stream(path=tmp_path / f"{n}.skq"):
            for _ in _io.read(path, stream=True).blocks():
                pass

        _, streamed = traced_peak(stream)
        Y, whole = traced_peak(lambda path=tmp_path / f"{n}.skq": decompress(path))
        peaks[n] = streamed, whole - Y.nbytes
        del Y
    chunk = _coding.CHUNK_VALUES * 8  # a chunk of values as float64
    for n, (streamed, extra) in peaks.items():
        assert streamed < 2 * chunk and extra < 2 * chunk, (n, streamed, extra, chunk)
    assert peaks[6_400_000][0] < 1.5 * peaks[1_600_000][0], peaks
    assert peaks[6_400_000][1] < 1.5 * peaks[1_600_000][1], peaks


@pytest.mark.parametrize("make, container", [
    # uniform levels: float_rows of about a byte a value, a 75 kB file
    (lambda: UniformClipQuantizer(n_bits=16, clip="minmax"), "zip"),
    (lambda: UniformClipQuantizer(n_bits=16, clip="minmax"), "compact"),
    (lambda: CompanderQuantizer(n_bits=16), "compact"),  # used_rows that do not compress
])
def test_a_large_codebook_loads_within_deflates_bound_of_its_file(make, container):
    """50 features of 65536 levels (52 MB of levels and thresholds) save to a file that
    loads within 1032 times its size (the uniform codebook's 75 kB file: 749-fold; it
    peaked at 262 MB, 3457-fold, when the varints were decoded through temporaries of
    the codebook's size): float_rows and used_rows decode in the memory of the arrays
    they build, in blocks."""
    import io

    import skquant
    from skquant import _io

    X = np.random.default_rng(0).standard_normal((70000, 50))
    est = make().fit(X)
    buf = io.BytesIO()
    _io.write(buf, est, container=container)
    data = buf.getvalue()
    skquant.load(io.BytesIO(data))  # warm (imports)
    loaded, peak = traced_peak(lambda: skquant.load(io.BytesIO(data)))
    fitted = est.levels_.nbytes + est.thresholds_.nbytes
    assert peak <= 1032 * len(data), (peak, len(data))
    assert peak < 1.3 * fitted + 4 * MiB, (peak, fitted)  # not several copies (was 5)
    for k in ("levels_", "thresholds_"):
        assert getattr(loaded, k).tobytes() == getattr(est, k).tobytes()
    assert np.array_equal(loaded.transform(X[:5000]), est.transform(X[:5000]))
