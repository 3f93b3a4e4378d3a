"""LloydMaxQuantizer against its peers, same data, same run.

Usage: python benchmarks/bench_lloyd_max.py [--n-samples 1000000] [--n-features 8]
       [--n-bits 4] [--repeat 3] [--skip-slow] [--levels 16,64,256]
       [--levels-columns 2] [--only-levels] [--cpu-time]

Reports fit and transform times, their ratios to the NumPy floors (np.sort of every
column, X.copy(), codes.astype(float64)), and each method's MSE relative to the exact
optimum (LloydMaxQuantizer(algorithm="optimal"), checked against Ckmeans.1d.dp through
ckwrap and against kmeans1d). skquant and the floor are timed on 1 numba thread (the
peers are single-threaded) and again on 2 threads; best of ``--repeat`` runs. Last, the
default fit's gap to the exact optimum on every column of scikit-learn's bundled
datasets at 2, 4, 8 and 16 levels.

The exact optimum at several numbers of levels (``--levels``) is timed per column on
the first ``--levels-columns`` columns (one of each shape first: normal, Laplace, ...),
1 thread, against np.sort of the same columns and against ckwrap and kmeans1d on the
same columns in the same run (one run each: they take seconds to minutes per column).
``--only-levels`` prints that table alone. ``--cpu-time`` times that table in CPU
seconds of the process (``time.process_time``, every thread counted) instead of wall
seconds: on a machine shared with other jobs, wall times measure the others' load too.
"""

import argparse
import os
import subprocess
import sys
import time
import warnings

import numba
import numpy as np
from common import best_time, first_call_time, mixed_columns, print_table

from skquant import LloydMaxQuantizer


def column_mse(X, X_hat):
    return ((X - X_hat) ** 2).mean(axis=0)


def per_column(fit_one, X):
    """Fit a 1-D method per column; return the reconstruction."""
    return np.stack([fit_one(np.ascontiguousarray(X[:, j])) for j in range(X.shape[1])], axis=1)


def ckwrap_recon(x, M):
    import ckwrap

    r = ckwrap.ckmeans(x, M)
    return np.asarray(r.centers)[r.labels]


def kmeans1d_recon(x, M):
    import kmeans1d

    labels, centroids = kmeans1d.cluster(x, M)
    return np.asarray(centroids)[labels]


def sklearn_kmeans_recon(x, M):
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=M, n_init=1, random_state=0).fit(x[:, None])
    return km.cluster_centers_[km.labels_, 0]


FIRST_CALL = """
import time, numpy as np
X = np.random.default_rng(0).standard_normal((1000, 4))
t = time.perf_counter()
{imp}
q = {est}.fit(X); q.transform(X)
print(time.perf_counter() - t)
"""


def fresh_process_time(imp, est):
    code = FIRST_CALL.format(imp=imp, est=est)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def gap_table():
    """The default fit's largest gap to the exact optimum over the columns of each
    bundled dataset (columns with at most M distinct values are exact in both)."""
    from sklearn import datasets

    loaders = {
        "digits": datasets.load_digits,
        "diabetes (unscaled)": lambda: datasets.load_diabetes(scaled=False),
        "wine": datasets.load_wine,
        "breast cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
    }
    rows = []
    for name, load in loaders.items():
        X = load().data
        row = {"dataset": name, "columns": str(X.shape[1])}
        for M in (2, 4, 8, 16):
            opt = LloydMaxQuantizer(n_levels=M, algorithm="optimal").fit(X).mse_
            default = LloydMaxQuantizer(n_levels=M).fit(X).mse_
            before = LloydMaxQuantizer(n_levels=M, init="compander", n_init=3).fit(X).mse_
            gap = np.max(np.where(opt > 0, default / np.where(opt > 0, opt, 1) - 1, 0))
            was = np.max(np.where(opt > 0, before / np.where(opt > 0, opt, 1) - 1, 0))
            row[f"M={M}"] = f"{gap:.1e} ({was:.1e})"
        rows.append(row)
    print("# default LloydMaxQuantizer(): largest MSE gap to the exact optimum over the "
          "columns (in brackets: init='compander', n_init=3, the previous default)")
    print_table(rows, ["dataset", "columns", "M=2", "M=4", "M=8", "M=16"])


def clock_time(func, clock):
    """Seconds of one run of ``func()`` on ``clock`` (``time.perf_counter`` or
    ``time.process_time``)."""
    t = clock()
    func()
    return clock() - t


def levels_table(X, levels, repeat, skip_slow, cpu_time=False):
    """The exact optimum per column at each number of levels: seconds per column, the
    ratio to np.sort of the column, and the peers' time over skquant's (1 thread)."""
    clock = time.process_time if cpu_time else time.perf_counter
    n, d = X.shape
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    cols = [np.ascontiguousarray(X[:, j]) for j in range(d)]
    for M in levels:  # compile both paths (below and from 32 levels)
        LloydMaxQuantizer(n_levels=M, algorithm="optimal").fit(X[:5000])
    sorts = []
    rows = []
    for M in levels:
        q = LloydMaxQuantizer(n_levels=M, algorithm="optimal")
        fits = []
        for _ in range(repeat):  # interleaved with the floor, best of each
            sorts.append(clock_time(lambda: [np.sort(c) for c in cols], clock))
            fits.append(clock_time(lambda: q.fit(X), clock))
        t_opt = min(fits) / d
        row = {"levels": str(M), "optimal s/column": f"{t_opt:.3f}", "_t": t_opt}
        if not skip_slow:
            for name, fn in (("ckwrap", ckwrap_recon), ("kmeans1d", kmeans1d_recon)):
                try:
                    recon = {}
                    t = clock_time(lambda: recon.update(r=per_column(lambda x: fn(x, M), X)),
                                   clock) / d
                except ImportError:
                    row[f"{name} s/column"] = "not installed"
                    continue
                agrees = np.allclose(column_mse(X, recon["r"]), q.mse_, rtol=1e-9)
                row[f"{name} s/column"] = f"{t:.2f}"
                row[f"{name} / optimal"] = f"{t / t_opt:.1f}x" + ("" if agrees else " (differs)")
        rows.append(row)
    numba.set_num_threads(threads)
    t_sort = min(sorts) / d
    for row in rows:
        row["optimal / np.sort"] = f"{row.pop('_t') / t_sort:.1f}"
    print(f"# exact optimum per column, {n} values x {d} columns, 1 thread, "
          f"{'CPU' if cpu_time else 'wall'} seconds; np.sort {min(sorts) / d:.4f} s per "
          f"column (best of all {len(sorts)} runs, interleaved with the fits; fits best of "
          f"{repeat})")
    print_table(rows, ["levels", "optimal s/column", "optimal / np.sort", "ckwrap s/column",
                       "ckwrap / optimal", "kmeans1d s/column", "kmeans1d / optimal"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-bits", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--skip-slow", action="store_true",
                        help="skip ckwrap, kmeans1d and KMeans")
    parser.add_argument("--levels", default="16,64,256",
                        help="numbers of levels of the exact-optimum table")
    parser.add_argument("--levels-columns", type=int, default=2,
                        help="columns timed in the exact-optimum table")
    parser.add_argument("--only-levels", action="store_true",
                        help="print the exact-optimum table alone")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the exact-optimum table in process CPU seconds")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    n, d, b = args.n_samples, args.n_features, args.n_bits
    M = 2**b
    X = mixed_columns(n, d)
    print(f"# {n} x {d} float64, {b} bits, numba threads {numba.get_num_threads()}, "
          f"cores {os.cpu_count()}")
    levels = [int(v) for v in args.levels.split(",") if v]
    if levels:
        levels_table(X[:, :max(1, min(args.levels_columns, d))], levels, args.repeat,
                     args.skip_slow, args.cpu_time)
        print()
    if args.only_levels:
        return

    R = args.repeat
    compile_fit = first_call_time(lambda: LloydMaxQuantizer(n_bits=b).fit(X[:1000]))
    compile_opt = first_call_time(
        lambda: LloydMaxQuantizer(n_bits=b, algorithm="optimal").fit(X[:1000])
    )
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # the single-thread ratios; restored below
    opt = LloydMaxQuantizer(n_bits=b, algorithm="optimal")
    t_opt = best_time(lambda: opt.fit(X), repeat=R)
    opt_mse = opt.mse_
    floor_sort = best_time(lambda: [np.sort(X[:, j]) for j in range(d)], repeat=R)
    floor_sort_axis0 = best_time(lambda: np.sort(X, axis=0), repeat=R)

    rows = []

    def add(name, t_fit, X_hat):
        rel = column_mse(X, X_hat) / opt_mse - 1
        rows.append({
            "method": name,
            "fit s": f"{t_fit:.3f}",
            "fit / sort": f"{t_fit / floor_sort:.2f}",
            "MSE over optimum (mean, max)": f"{rel.mean():+.2e}, {rel.max():+.2e}",
        })

    lloyd = LloydMaxQuantizer(n_bits=b)
    t_default = best_time(lambda: lloyd.fit(X), repeat=R)
    add("skquant lloyd (default), 1 thread", t_default,
        lloyd.inverse_transform(lloyd.transform(X)))
    add("skquant optimal, 1 thread", t_opt, opt.inverse_transform(opt.transform(X)))
    numba.set_num_threads(threads)
    if threads > 1:
        t2 = best_time(lambda: lloyd.fit(X), repeat=R)
        add(f"skquant lloyd (default), {threads} threads", t2,
            lloyd.inverse_transform(lloyd.transform(X)))
        t2 = best_time(lambda: opt.fit(X), repeat=R)
        add(f"skquant optimal, {threads} threads", t2, opt.inverse_transform(opt.transform(X)))
    from sklearn.preprocessing import KBinsDiscretizer

    for strategy in ("kmeans", "quantile"):
        kb = KBinsDiscretizer(n_bins=M, strategy=strategy, encode="ordinal")
        t = best_time(lambda: kb.fit(X), repeat=1, warmup=0)
        add(f"KBinsDiscretizer {strategy}", t, kb.inverse_transform(kb.transform(X)))
    peer_ratios = {}
    if not args.skip_slow:
        recon = {}
        t = best_time(lambda: recon.update(r=per_column(lambda x: sklearn_kmeans_recon(x, M), X)),
                      repeat=1, warmup=0)
        add("sklearn KMeans per column", t, recon["r"])
        peers = (("ckwrap (Ckmeans.1d.dp) per column (exact)", ckwrap_recon, "ckwrap"),
                 ("kmeans1d per column (exact)", kmeans1d_recon, "kmeans1d"))
        for name, fn, extra in peers:
            try:
                t = best_time(lambda: recon.update(r=per_column(lambda x: fn(x, M), X)),
                              repeat=1, warmup=0)
            except ImportError:
                print(f"# {extra} not installed: pip install skquant[bench]")
                continue
            add(name, t, recon["r"])
            rows[-1]["exact agrees"] = str(
                np.allclose(column_mse(X, recon["r"]), opt_mse, rtol=1e-9))
            rows[-1]["optimal speed-up"] = f"{t / t_opt:.1f}x"
            peer_ratios[extra] = t / t_opt
    rows.append({"method": "floor: np.sort per column", "fit s": f"{floor_sort:.3f}",
                 "fit / sort": "1.00"})
    rows.append({"method": "floor: np.sort(X, axis=0)", "fit s": f"{floor_sort_axis0:.3f}",
                 "fit / sort": f"{floor_sort_axis0 / floor_sort:.2f}"})
    print_table(rows, ["method", "fit s", "fit / sort", "MSE over optimum (mean, max)",
                       "exact agrees", "optimal speed-up"])
    print()
    print(f"# 1 thread: optimal / np.sort {t_opt / floor_sort:.1f}x, default / np.sort "
          f"{t_default / floor_sort:.2f}x"
          + "".join(f", optimal {r:.1f}x faster than {k}" for k, r in peer_ratios.items()))
    print(f"# first call (compile, this process, 1000 rows): fit {compile_fit:.2f} s, "
          f"optimal {compile_opt:.2f} s")
    print()
    gap_table()

    # transform and inverse_transform against their floors
    codes = lloyd.transform(X)
    t_copy = best_time(lambda: X.copy(), repeat=5)
    t_astype = best_time(lambda: codes.astype(np.float64), repeat=5)
    t_tr = best_time(lambda: lloyd.transform(X), repeat=5)
    t_inv = best_time(lambda: lloyd.inverse_transform(codes), repeat=5)
    edges = [np.asarray(t, dtype=np.float64) for t in lloyd.thresholds_]
    t_ss = best_time(lambda: [np.searchsorted(edges[j], X[:, j], side="right") for j in range(d)])
    kb = KBinsDiscretizer(n_bins=M, strategy="quantile", encode="ordinal").fit(X)
    t_kb = best_time(lambda: kb.transform(X), repeat=3)
    print()
    def row(operation, t, ratio):
        return {"operation": operation, "s": f"{t:.4f}", "ratio": ratio}

    print_table([
        row("skquant transform", t_tr, f"{t_tr / t_copy:.2f} x X.copy()"),
        row("np.searchsorted per column", t_ss, f"{t_ss / t_copy:.2f} x X.copy()"),
        row("KBinsDiscretizer.transform", t_kb, f"{t_kb / t_copy:.2f} x X.copy()"),
        row("X.copy()", t_copy, "1.00"),
        row("skquant inverse_transform", t_inv, f"{t_inv / t_astype:.2f} x astype"),
        row("codes.astype(float64)", t_astype, "1.00"),
    ], ["operation", "s", "ratio"])

    print()
    first_sq = fresh_process_time("from skquant import LloydMaxQuantizer", "LloydMaxQuantizer()")
    first_kb = fresh_process_time(
        "from sklearn.preprocessing import KBinsDiscretizer",
        "KBinsDiscretizer(n_bins=16, encode='ordinal')",
    )
    head = "first call (fresh process, warm numba cache)"
    print_table([
        {head: "skquant import+fit+transform", "s": f"{first_sq:.3f}"},
        {head: "KBinsDiscretizer import+fit+transform", "s": f"{first_kb:.3f}"},
        {head: "skquant compile (this process, fit only)", "s": f"{compile_fit:.3f}"},
    ], [head, "s"])


if __name__ == "__main__":
    main()
