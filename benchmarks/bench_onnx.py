"""onnxruntime running skquant's ONNX models against skquant's own transform.

Usage: python benchmarks/bench_onnx.py [--n-samples 1000000] [--n-features 8]
       [--repeat 5]

For each estimator, on the same 10^6 x 8 data in float64 and in float32, with 1 and 2
threads (numba's threads for skquant, ``intra_op_num_threads`` for onnxruntime): the
best of ``--repeat`` warmed-up runs of ``transform`` and of the onnxruntime session,
and their ratio (onnxruntime time / transform time; above 1, onnxruntime is slower).
Every run also checks whether both outputs are identical (for the peer: equal codes,
which both give as floats). The peer is scikit-learn's
``KBinsDiscretizer`` (16 quantile bins, the same size as 4 bits) with sklearn-onnx's
own converter, timed the same way against scikit-learn's ``transform``.
"""

import argparse
import os
import warnings

import numba
import numpy as np
from common import best_time, mixed_columns, print_table
from sklearn.preprocessing import KBinsDiscretizer

from skquant import BinarySphericalEncoder, LloydMaxQuantizer, UniformClipQuantizer


def estimators():
    return [
        ("KBinsDiscretizer 16 bins (peer)",
         KBinsDiscretizer(n_bins=16, encode="ordinal", strategy="quantile",
                          quantile_method="averaged_inverted_cdf")),
        ("LloydMax 1 bit", LloydMaxQuantizer(n_bits=1)),
        ("LloydMax 4 bits", LloydMaxQuantizer(n_bits=4)),
        ("LloydMax 4 bits reconstruct", LloydMaxQuantizer(n_bits=4, encode="reconstruct")),
        ("LloydMax 8 bits", LloydMaxQuantizer(n_bits=8)),
        ("UniformClip 12 bits minmax", UniformClipQuantizer(n_bits=12, clip="minmax")),
        ("UniformClip 8 bits midtread", UniformClipQuantizer(n_bits=8, mode="midtread")),
        ("BinarySpherical packed", BinarySphericalEncoder()),
        ("BinarySpherical random rotation",
         BinarySphericalEncoder(rotation="random", random_state=0)),
    ]


def run_transform(est, X, threads, repeat):
    """Best time of ``est.transform(X)`` on ``threads`` numba threads, and its output."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return best_time(lambda: est.transform(X), repeat=repeat), est.transform(X)
    finally:
        numba.set_num_threads(before)


def run_onnxruntime(ort, model, X, threads, repeat):
    """Best time of an onnxruntime session on ``threads`` threads, and its output."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: X}
    return best_time(lambda: session.run(None, feed), repeat=repeat), session.run(None, feed)[0]


def identical(est, got, want):
    same = got.shape == want.shape and np.array_equal(got, want)
    if isinstance(est, KBinsDiscretizer):  # equal codes (both give floats)
        return bool(same)
    # skquant: the same dtype and the same bits
    return bool(same and got.dtype == want.dtype
                and np.array_equal(got.view(np.uint8), want.view(np.uint8)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import onnxruntime as ort
    import skl2onnx

    import skquant.onnx  # noqa: F401 (registers the converters)

    warnings.simplefilter("ignore")
    n, d = args.n_samples, args.n_features
    X64 = mixed_columns(n, d)
    print(f"# transform of {n} x {d} values (normal, Laplace, logistic, gamma columns), "
          f"onnxruntime {ort.__version__}, skl2onnx {skl2onnx.__version__}, "
          f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; best of "
          f"{args.repeat} after a warm-up")
    rows, failures = [], {}
    for name, est in estimators():
        est.fit(X64[:200_000])
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            row = {"estimator": name, "dtype": np.dtype(dtype).name}
            model = skl2onnx.to_onnx(est, X[:1]).SerializeToString()
            same = True
            for t in (1, 2):
                t_tr, want = run_transform(est, X, t, args.repeat)
                row[f"transform {t}t ms"] = f"{1e3 * t_tr:.1f}"
                try:
                    t_ort, got = run_onnxruntime(ort, model, X, t, args.repeat)
                except Exception as exc:  # the peer's converter fails on float64
                    row[f"onnxruntime {t}t ms"] = "fails"
                    row["identical"] = "no model"
                    failures[f"{name}, {row['dtype']}"] = str(exc).strip().splitlines()[0]
                    continue
                row[f"onnxruntime {t}t ms"] = f"{1e3 * t_ort:.1f}"
                row[f"ratio {t}t"] = f"{t_ort / t_tr:.1f}"
                same &= identical(est, got, want)
                row["identical"] = str(same)
            rows.append(row)
    print_table(rows, ["estimator", "dtype", "transform 1t ms", "onnxruntime 1t ms",
                       "ratio 1t", "transform 2t ms", "onnxruntime 2t ms", "ratio 2t",
                       "identical"])
    for name, error in failures.items():
        print(f"# {name}: onnxruntime refuses the model: {error}")


if __name__ == "__main__":
    main()
