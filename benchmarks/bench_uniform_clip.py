"""UniformClipQuantizer against its peers, same data, same run.

Usage: python benchmarks/bench_uniform_clip.py [--n-samples 1000000] [--n-features 8]
       [--n-bits 4]
       python benchmarks/bench_uniform_clip.py --sort-ratio [--n-bits 4] [--quick]
       [--cpu-time]

Peers with uniform codes: faiss ``ScalarQuantizer`` (QT_4bit / QT_8bit, per-dimension
min-max range, float32) and scikit-learn's ``KBinsDiscretizer(strategy="uniform")``.
Reports fit and transform times — transform against ``X.copy()``, with numba's threads
and with one thread (``X.copy()`` uses one) — and each method's MSE relative to the
best method of the run.
"""

import argparse
import os
import time
import warnings

import numba
import numpy as np
from common import best_time, first_call_time, mixed_columns, print_table

from skquant import UniformClipQuantizer


def faiss_sq(n_bits, d):
    import faiss

    qtype = {4: faiss.ScalarQuantizer.QT_4bit, 8: faiss.ScalarQuantizer.QT_8bit}.get(n_bits)
    return None if qtype is None else faiss.ScalarQuantizer(d, qtype)


def peer_rows(X, n_bits, add):
    """faiss and KBinsDiscretizer on the same data; shared with bench_compander.py."""
    from sklearn.preprocessing import KBinsDiscretizer

    kb = KBinsDiscretizer(n_bins=2**n_bits, strategy="uniform", encode="ordinal")
    t_fit = best_time(lambda: kb.fit(X), repeat=1)
    t_tr = best_time(lambda: kb.transform(X), repeat=3)
    add("KBinsDiscretizer uniform", t_fit, t_tr, kb.inverse_transform(kb.transform(X)))
    try:
        sq = faiss_sq(n_bits, X.shape[1])
    except ImportError:
        print("# faiss not installed: pip install faiss-cpu")
        return
    if sq is None:
        print(f"# faiss ScalarQuantizer has no uniform {n_bits}-bit type")
        return
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    t_fit = best_time(lambda: sq.train(X32), repeat=1)
    t_tr = best_time(lambda: sq.compute_codes(X32), repeat=3)
    add(f"faiss ScalarQuantizer QT_{n_bits}bit (float32)", t_fit, t_tr,
        sq.decode(sq.compute_codes(X32)).astype(np.float64))


def run(estimators, title, args):
    warnings.simplefilter("ignore")
    n, d, b = args.n_samples, args.n_features, args.n_bits
    X = mixed_columns(n, d)
    print(f"# {title}: {n} x {d} float64 (normal, Laplace, logistic, gamma columns), "
          f"{b} bits, numba threads {numba.get_num_threads()}, cores {os.cpu_count()}")
    first = {name: first_call_time(lambda e=est: e.fit(X[:1000]).transform(X[:1000]))
             for name, est in estimators(b)}
    t_copy = best_time(lambda: X.copy(), repeat=15)
    results = []

    def add(name, t_fit, t_tr, X_hat):
        results.append((name, t_fit, t_tr, ((X - X_hat) ** 2).mean(axis=0)))

    single = {}
    for name, est in estimators(b):
        t_fit = best_time(lambda e=est: e.fit(X), repeat=1)
        t_tr = best_time(lambda e=est: e.transform(X), repeat=15)
        add(name, t_fit, t_tr, est.inverse_transform(est.transform(X)))
        threads = numba.get_num_threads()
        numba.set_num_threads(1)  # X.copy() is single-threaded: the like-for-like ratio
        try:
            single[name] = best_time(lambda e=est: e.transform(X), repeat=15)
        finally:
            numba.set_num_threads(threads)
    peer_rows(X, b, add)
    best = np.min([r[3] for r in results], axis=0)
    rows = []
    for name, t_fit, t_tr, mse in results:
        rel = mse / best - 1
        rows.append({
            "method": name,
            "fit s": f"{t_fit:.3f}",
            "transform s": f"{t_tr:.4f}",
            "transform / X.copy()": f"{t_tr / t_copy:.2f}",
            "1 thread / X.copy()": f"{single[name] / t_copy:.2f}" if name in single else "",
            "MSE over best (mean, max)": f"{rel.mean():+.3f}, {rel.max():+.3f}",
            "first call s": f"{first[name]:.2f}" if name in first else "",
        })
    rows.append({"method": "floor: X.copy()", "transform s": f"{t_copy:.4f}",
                 "transform / X.copy()": "1.00"})
    print_table(rows, ["method", "fit s", "transform s", "transform / X.copy()",
                       "1 thread / X.copy()", "MSE over best (mean, max)", "first call s"])
    print("# first call: fit + transform of 1000 rows in this process (numba compile "
          "or cache load)")


def estimators(b):
    return [
        ("skquant mse, affine midrise (default)", UniformClipQuantizer(b)),
        ("skquant mse, symmetric midrise", UniformClipQuantizer(b, symmetric=True)),
        ("skquant mse, affine midtread", UniformClipQuantizer(b, symmetric=False,
                                                              mode="midtread")),
        ("skquant minmax, affine midrise", UniformClipQuantizer(b, clip="minmax",
                                                                symmetric=False)),
        ("skquant minmax, affine midtread", UniformClipQuantizer(
            b, clip="minmax", symmetric=False, mode="midtread")),
    ]


def _sort_ratio_column(kind, n, rng):
    """One column of the --sort-ratio run: N(0,1), Laplace, heavy (Student t, 3 dof,
    0.1% of the values x 20: embedding-like tails) or scikit-learn's breast-cancer
    "mean area" column resampled to n values (a real column: 539 distinct values,
    repeated)."""
    if kind == "N(0,1)":
        return rng.standard_normal(n)
    if kind == "Laplace":
        return rng.laplace(size=n)
    if kind == "heavy":
        x = rng.standard_t(3, n)
        x[rng.choice(n, n // 1000 + 1, replace=False)] *= 20.0
        return x
    from sklearn.datasets import load_breast_cancer

    return rng.choice(load_breast_cancer().data[:, 3], n)


def sort_ratio(args):
    """Fit time of every exact range search on one column over ``np.sort`` of it, with
    ``clip="minmax"`` (the same fit without a search: validation and summary) as the
    estimator's own floor; "search" is the fit's time above that floor (the range
    search alone) over ``np.sort``. ``--cpu-time``: every time in CPU seconds of the
    process (``time.process_time``, one thread) instead of wall seconds."""
    warnings.simplefilter("ignore")
    numba.set_num_threads(1)
    clock = time.process_time if args.cpu_time else time.perf_counter
    rng = np.random.default_rng(0)
    b = args.n_bits
    searches = [
        ("sym midrise", dict(symmetric=True)),
        ("sym midtread", dict(symmetric=True, mode="midtread")),
        ("affine midrise", dict()),
        ("affine midtread", dict(mode="midtread")),
    ]
    kinds = ("N(0,1)", "Laplace", "heavy", "cancer")
    sizes = (10**4, 10**5) if args.quick else (10**4, 10**5, 10**6)
    unit = "CPU" if args.cpu_time else "wall"
    print(f"# fit of one column / np.sort of it, {b} bits, 1 thread, clip='mse', "
          f"{unit} time, load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(best of 3 interleaved rounds, of 5 runs each up to 10^5 values); heavy: "
          "Student t (3 dof) with 0.1% of values x 20 (embedding-like tails); cancer: "
          "breast-cancer 'mean area' resampled; "
          "minmax: the fit with clip='minmax' (no search: validation, sort, summary); "
          "X fit: the whole fit; X search: the fit minus the minmax fit (the search "
          "alone); affine midrise is the default")
    rows = []
    for n in sizes:
        for kind in kinds:
            x = _sort_ratio_column(kind, n, rng)
            X = x[:, None]
            ests = {"minmax": UniformClipQuantizer(b, clip="minmax")}
            ests.update({name: UniformClipQuantizer(b, **p) for name, p in searches})
            for est in ests.values():
                est.fit(X)  # compiled or loaded from numba's cache
            repeat = 5 if n <= 10**5 else 1  # short fits: more draws of the load
            best = {name: np.inf for name in ["np.sort", *ests]}
            for _ in range(3):  # interleaved: the peers share the machine's load
                best["np.sort"] = min(best["np.sort"], best_time(
                    lambda: np.sort(x), repeat=max(repeat, 3), warmup=0, clock=clock))
                for name, est in ests.items():
                    best[name] = min(best[name], best_time(
                        lambda e=est: e.fit(X), repeat=repeat, warmup=0, clock=clock))
            t_sort = best["np.sort"]
            row = {"n": n, "column": kind, "np.sort ms": f"{t_sort * 1e3:.2f}",
                   "minmax": f"{best['minmax'] / t_sort:.1f}"}
            for name, _ in searches:
                row[name + " fit"] = f"{best[name] / t_sort:.1f}"
                search = max(best[name] - best["minmax"], 0.0)
                row[name + " search"] = f"{search / t_sort:.1f}"
                row[name + " gap"] = float(ests[name].clip_gap_[0])
            rows.append(row)
    cols = ["n", "column", "np.sort ms", "minmax"] + [
        name + part for name, _ in searches for part in (" fit", " search")]
    print_table(rows, cols)
    gaps = {name: max(r[name + " gap"] for r in rows) for name, _ in searches}
    print("# largest clip_gap_ of each search (0: certified optimum):", gaps)
    print(f"# load at the end: {os.getloadavg()[0]:.2f}")


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-bits", type=int, default=4)
    parser.add_argument("--sort-ratio", action="store_true",
                        help="ratio of each exact range search to np.sort per column")
    parser.add_argument("--quick", action="store_true",
                        help="--sort-ratio on 10^4 and 10^5 values only")
    parser.add_argument("--cpu-time", action="store_true",
                        help="--sort-ratio timed in process CPU seconds (loaded machine)")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    if args.sort_ratio:
        sort_ratio(args)
    else:
        run(estimators, "UniformClipQuantizer", args)
