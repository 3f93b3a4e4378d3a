"""Peak memory of transform, inverse_transform and fit, measured exactly.

Usage: python benchmarks/bench_memory.py [--n-values 100000000] [--n-features 4]
       [--fit-rows 2000000] [--fit-features 8]

The peak is tracemalloc's: every NumPy allocation is reported to it (numba kernels
allocate only small per-chunk buffers, which it does not see). Each call is measured
once after a warm-up on a few rows (compile time and lazily built tables excluded).

- transform / inverse_transform of ``--n-values`` float32 values: the peak against
  the output's size (the promise of doc/guarantees.rst: the output plus
  O(n_features * M));
- fit on ``--fit-rows`` x ``--fit-features`` float64 values, on one numba thread and
  on all of them: the peak in columns (one column is ``fit-rows * 8`` bytes) and
  against the size of X (the promise: a few columns per thread, never a copy of X).
"""

import argparse
import os
import time
import tracemalloc
import warnings

import numba
import numpy as np
from common import mixed_columns, print_table

from skquant import (
    BinarySphericalEncoder,
    CompanderQuantizer,
    LloydMaxQuantizer,
    UniformClipQuantizer,
)

SCALAR = {
    "LloydMax 4 bits": lambda: LloydMaxQuantizer(n_bits=4),
    "LloydMax optimal 3 bits": lambda: LloydMaxQuantizer(n_bits=3, algorithm="optimal"),
    "UniformClip 4 bits": lambda: UniformClipQuantizer(n_bits=4),
    "UniformClip midtread 8 bits": lambda: UniformClipQuantizer(n_bits=8, mode="midtread"),
    "Compander mu-law 4 bits": lambda: CompanderQuantizer(n_bits=4, compander="mu-law"),
    "Compander optimal 4 bits": lambda: CompanderQuantizer(n_bits=4, compander="optimal"),
}
ENCODERS = {
    "BinarySpherical packed": lambda: BinarySphericalEncoder(),
    "BinarySpherical random, packed": lambda: BinarySphericalEncoder(
        rotation="random", random_state=0
    ),
    "BinarySpherical index": lambda: BinarySphericalEncoder(encode="index"),
    "BinarySpherical sign": lambda: BinarySphericalEncoder(encode="sign"),
}
FIT_ENCODERS = {
    "BinarySpherical (no rotation)": lambda: BinarySphericalEncoder(),
    "BinarySpherical pca": lambda: BinarySphericalEncoder(rotation="pca", center=True),
}


def traced(func):
    """``(func(), peak bytes allocated during the call, seconds)``."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        t = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - t
        return result, tracemalloc.get_traced_memory()[1] - base, seconds
    finally:
        tracemalloc.stop()


def mb(n_bytes):
    return f"{n_bytes / 2**20:.1f}"


def transform_rows(X):
    rows = []

    def add(name, what, out, peak, seconds):
        rows.append({
            "estimator": name, "call": what, "output MiB": mb(out.nbytes),
            "peak MiB": mb(peak), "peak - output": f"{(peak - out.nbytes) / 2**10:.0f} KiB",
            "peak / output": f"{peak / out.nbytes:.4f}", "s": f"{seconds:.2f}",
        })

    sample = X[:200_000]
    for name, make in SCALAR.items():
        q = make().fit(sample)
        q.inverse_transform(q.transform(X[:10]))  # warm-up: compile, lazy tables
        codes, peak, s = traced(lambda: q.transform(X))
        add(name, "transform", codes, peak, s)
        X_hat, peak, s = traced(lambda c=codes: q.inverse_transform(c))
        add(name, "inverse_transform", X_hat, peak, s)
        del codes, X_hat
    for name, make in ENCODERS.items():
        enc = make().fit(sample)
        enc.transform(X[:10])
        codes, peak, s = traced(lambda: enc.transform(X))
        add(name, "transform", codes, peak, s)
        del codes
    return rows


def fit_rows(X):
    rows = []
    column = X.shape[0] * X.itemsize
    makers = {**SCALAR, **FIT_ENCODERS}
    for name, make in makers.items():
        make().fit(X[:2000])  # warm-up: compile
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            before = numba.get_num_threads()
            numba.set_num_threads(threads)
            try:
                _, peak, s = traced(lambda: make().fit(X))
            finally:
                numba.set_num_threads(before)
            rows.append({
                "estimator": name, "threads": threads, "peak MiB": mb(peak),
                "peak / column": f"{peak / column:.2f}", "peak / X": f"{peak / X.nbytes:.3f}",
                "s": f"{s:.2f}",
            })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-values", type=int, default=10**8)
    parser.add_argument("--n-features", type=int, default=4)
    parser.add_argument("--fit-rows", type=int, default=2 * 10**6)
    parser.add_argument("--fit-features", type=int, default=8)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"# numpy {np.__version__}, numba {numba.__version__}, "
          f"numba threads {numba.get_num_threads()}, cores {os.cpu_count()}")

    n = args.n_values // args.n_features
    X = np.random.default_rng(0).standard_normal((n, args.n_features), dtype=np.float32)
    print(f"\n## transform of {n} x {args.n_features} = {X.size:.3g} float32 values "
          f"({mb(X.nbytes)} MiB)\n")
    print_table(transform_rows(X), ["estimator", "call", "output MiB", "peak MiB",
                                     "peak - output", "peak / output", "s"])
    del X

    X = mixed_columns(args.fit_rows, args.fit_features)
    print(f"\n## fit on {args.fit_rows} x {args.fit_features} float64 "
          f"(one column {mb(args.fit_rows * 8)} MiB, X {mb(X.nbytes)} MiB)\n")
    print_table(fit_rows(X), ["estimator", "threads", "peak MiB", "peak / column",
                              "peak / X", "s"])


if __name__ == "__main__":
    main()
