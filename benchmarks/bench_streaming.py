"""Streaming partial_fit against the in-memory fit, same data, same run (issue 7).

Usage: python benchmarks/bench_streaming.py [--chunks 100] [--chunk-size 1000000]
       [--n-bits 4]

For N(0, 1) and lognormal samples, one feature: ``partial_fit`` over ``--chunks``
chunks against ``fit`` on all of them at once, with the same parameters. Reports the
relative difference of the MSE on all the data, whether feeding the chunks in another
order gives bit-identical thresholds, the wall times, and the sketch's size; then the
sketch's size as the rows of a heavy-tailed (Cauchy) stream grow from 10^5 to 10^8.
"""

import argparse
import time
import warnings

import numpy as np
from common import print_table

from skquant import CompanderQuantizer, LloydMaxQuantizer, UniformClipQuantizer
from skquant._summary import MAX_BINS, ColumnSketch


def estimators(b):
    return [
        ("LloydMax lloyd (default)", LloydMaxQuantizer(b)),
        ("LloydMax optimal", LloydMaxQuantizer(b, algorithm="optimal")),
        ("UniformClip mse (default)", UniformClipQuantizer(b)),
        ("Compander mu-law (default)", CompanderQuantizer(b)),
        ("Compander optimal, centroid", CompanderQuantizer(
            b, compander="optimal", reconstruction="centroid")),
    ]


def mse(est, X):
    return -est.score(X)


def stream(est, X, order):
    t = time.perf_counter()
    for i in order:
        est.partial_fit(X[i])
    return time.perf_counter() - t


def accuracy(args):
    n, c, b = args.chunk_size, args.chunks, args.n_bits
    rng = np.random.default_rng(0)
    rows = []
    for kind in ("normal", "lognormal"):
        X = rng.standard_normal(n * c) if kind == "normal" else rng.lognormal(size=n * c)
        X = X[:, None]
        chunks = [X[i * n : (i + 1) * n] for i in range(c)]
        for name, est in estimators(b):
            make = lambda: est.__class__(**est.get_params())  # noqa: E731
            part = make()
            t_stream = stream(part, chunks, range(c))
            again = make()
            stream(again, chunks, [0] + list(rng.permutation(np.arange(1, c))))
            same = np.array_equal(part.thresholds_, again.thresholds_)
            full = make()
            t = time.perf_counter()
            try:
                full.fit(X)
                t_full = f"{time.perf_counter() - t:.2f}"
                rel = f"{mse(part, X) / mse(full, X) - 1:+.2e}"
            except ValueError:  # the exact DP's memory limit on 10^8 values
                t_full, rel = "refused", "in-memory refused: DP > 2**28 cells"
            rows.append({
                "data": kind, "estimator": name, "MSE stream / in-memory - 1": rel,
                "other order identical": "yes" if same else "NO",
                "stream s": f"{t_stream:.2f}", "in-memory fit s": t_full,
                "sketch KiB": f"{part.sketches_[0].nbytes / 1024:.0f}",
            })
            print(rows[-1], flush=True)
        del X, chunks
    print(f"\n# {c} chunks of {n} values, {b} bits: partial_fit vs fit on all {n * c}")
    print_table(rows, list(rows[0]))


def memory(args):
    rng = np.random.default_rng(1)
    sk = ColumnSketch.from_batch(rng.standard_cauchy(10**5))
    rows, seen = [], 10**5
    rows.append({"rows": f"{seen:.0e}", "sketch KiB": f"{sk.nbytes / 1024:.0f}",
                 "level": sk.level})
    for target in (10**6, 10**7, 10**8):
        while seen < target:
            step = min(target - seen, 10**7)
            sk.add(rng.standard_cauchy(step))
            seen += step
        rows.append({"rows": f"{seen:.0e}", "sketch KiB": f"{sk.nbytes / 1024:.0f}",
                     "level": sk.level})
    print(f"\n# sketch of a Cauchy stream; bound 6 x 8 x {MAX_BINS} B = "
          f"{6 * 8 * MAX_BINS / 1024:.0f} KiB per feature")
    print_table(rows, list(rows[0]))


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--chunk-size", type=int, default=1_000_000)
    parser.add_argument("--n-bits", type=int, default=4)
    return parser.parse_args()


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    args = parse_args()
    accuracy(args)
    memory(args)
