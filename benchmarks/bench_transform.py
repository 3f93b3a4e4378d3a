"""Transform against the memory floor: every registered scalar quantizer's
``transform`` (``encode="ordinal"``) on 10^6 x 8 values against ``X.copy()`` of the
same array, in the same run, at 4 and 8 bits, float64 and float32, with numba on 1
and 2 threads (targets of issue 16: at most 1.2x at 4 bits on 2 threads, at most
1.5x at 8 bits). The peers' rows: ``np.searchsorted`` per column on the Lloyd-Max
thresholds and scikit-learn's ``KBinsDiscretizer(strategy="quantile").transform``
(single-threaded NumPy; listed under thread count 1). Timings are the best of
``--repeat`` warm calls interleaved with the copy's, so that a busy machine slows both
alike; the first call (compile, grid tables) is excluded.

``--lanes`` instead compares, at 8 bits on float32 data and 1 thread (CPU time, best
of ``--repeat`` interleaved), the point grid's two paths: eight values at a time
through explicit gathers (the default on AVX2 hosts without AVX-512) and one value at
a time (LLVM's own vectorisation), and checks that their codes are equal.

Run from the repository root, with skquant installed::

    python benchmarks/bench_transform.py [--quick] [--json out.json] [--lanes]
"""

import argparse
import json
import time

import numba
import numpy as np
from common import mixed_columns, print_table

from skquant._registry import estimator_classes


def interleaved(funcs, repeat):
    for f in funcs:
        f()
    best = [np.inf] * len(funcs)
    for _ in range(repeat):
        for k, f in enumerate(funcs):
            t = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


def make(name, cls, bits):
    """The quantizer at ``bits`` bits per code: ``n_bits``, or for the
    entropy-constrained one ``2**bits`` levels at most and a rate of ``bits - 1``."""
    if name == "EntropyConstrainedQuantizer":
        return cls(rate=bits - 1, max_levels=2**bits)
    return cls(n_bits=bits)


def run(n_samples, n_features, repeat, threads):
    rows = []
    X64 = mixed_columns(n_samples, n_features)
    fit_rows = X64[:: max(1, n_samples // 20000)]
    for name, cls in estimator_classes(scalar=True).items():
        for bits in (4, 8):
            est = make(name, cls, bits).fit(fit_rows)
            for dtype in (np.float64, np.float32):
                X = np.ascontiguousarray(X64, dtype=dtype)
                for t in threads:
                    numba.set_num_threads(t)
                    copy, tr = interleaved([X.copy, lambda: est.transform(X)], repeat)
                    rows.append({
                        "quantizer": name, "bits": bits, "dtype": np.dtype(dtype).name,
                        "threads": t, "copy_ms": round(copy * 1e3, 2),
                        "transform_ms": round(tr * 1e3, 2), "ratio": round(tr / copy, 2),
                    })
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    from sklearn.preprocessing import KBinsDiscretizer

    for bits in (4, 8):
        edges = [np.asarray(t) for t in
                 estimator_classes()["LloydMaxQuantizer"](n_bits=bits).fit(fit_rows).thresholds_]
        kb = KBinsDiscretizer(n_bins=2**bits, strategy="quantile", encode="ordinal",
                              quantile_method="averaged_inverted_cdf").fit(fit_rows)
        peers = {
            "np.searchsorted per column": lambda: [
                np.searchsorted(edges[j], X64[:, j], side="right") for j in range(n_features)
            ],
            "KBinsDiscretizer quantile": lambda: kb.transform(X64),
        }
        for name, func in peers.items():
            copy, tr = interleaved([X64.copy, func], repeat)
            rows.append({
                "quantizer": name, "bits": bits, "dtype": "float64", "threads": 1,
                "copy_ms": round(copy * 1e3, 2), "transform_ms": round(tr * 1e3, 2),
                "ratio": round(tr / copy, 2),
            })
    return rows


def lanes(n_samples, n_features, repeat):
    """Rows of ``--lanes``: the point grid with and without ``_point8``."""
    from skquant._kernels import _scalar

    numba.set_num_threads(1)
    X64 = mixed_columns(n_samples, n_features)
    X = X64.astype(np.float32)
    real = _scalar.explicit_gathers
    default = real()
    rows = []
    for name, cls in estimator_classes(scalar=True).items():
        est = make(name, cls, 8).fit(X64[:: max(1, n_samples // 20000)])
        best, codes = {}, {}
        for mode in (True, False) * 2:
            _scalar.explicit_gathers = lambda mode=mode: mode
            codes[mode] = est.transform(X)
            for _ in range(repeat):
                t = time.process_time()
                est.transform(X)
                best[mode] = min(best.get(mode, np.inf), time.process_time() - t)
        _scalar.explicit_gathers = real
        if not np.array_equal(codes[True], codes[False]):
            raise AssertionError(f"{name}: the two paths' codes differ")
        rows.append({"quantizer": name, "lanes_ms": round(best[True] * 1e3, 2),
                     "one_by_one_ms": round(best[False] * 1e3, 2),
                     "speedup": round(best[False] / best[True], 2),
                     "default": "lanes" if default else "one by one"})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--n-samples", type=int, default=10**6)
    p.add_argument("--json", help="write the rows to this file")
    p.add_argument("--lanes", action="store_true",
                   help="compare the point grid's eight-value and one-value paths")
    a = p.parse_args()
    repeat = a.repeat or (3 if a.quick else 9)
    if a.lanes:
        rows = lanes(a.n_samples, 8, repeat)
        print_table(rows, list(rows[0]))
        return
    threads = [t for t in (1, 2) if t <= numba.config.NUMBA_NUM_THREADS]
    rows = run(a.n_samples, 8, repeat, threads)
    print_table(rows, list(rows[0]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
