"""skquant.dask on a LocalCluster against the in-memory path, same data (issue 7).

Usage: python benchmarks/bench_dask.py [--rows 100000000] [--features 4]
       [--chunk-rows 2000000] [--n-bits 4] [--workers 2] [--skip-in-memory]

The data, ``--rows`` x ``--features`` float64 (normal, Laplace, logistic and gamma(4)
columns, as in ``common.mixed_columns``), is generated block by block from a fixed
seed: the Dask path generates each row block on a worker and never materialises the
array; the in-memory path, run afterwards in a fresh process, fills one NumPy array
block by block with the same values.

Dask (``--workers`` worker processes, one thread each, numba limited to one thread
per worker): each measurement starts a fresh cluster, warms it up on a small array
(loading the numba kernels), then reports the time, the throughput in values per
second and each worker's peak resident memory (``ru_maxrss``, a high-water mark, so
fresh workers for every row), with the warm-up's peak beside it:

- ``generate``: generate the blocks and sum them (the floor of the other two rows);
- ``fit``: ``skquant.dask.fit`` of a LloydMaxQuantizer (generation included);
- ``transform``: ``skquant.dask.transform`` to codes, summed per column on the
  workers (generation included). The sums are checked against the in-memory
  ``transform`` of the Dask-fitted estimator: they must be equal.

In memory (one process, numba's default threads): filling the array, ``fit`` and
``transform``, with the process's peak resident memory. The last line compares the MSE
on all the data of the Dask fit with that of the in-memory fit.
"""

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from common import mixed_columns, print_table

from skquant import LloydMaxQuantizer

GiB = 2.0**30


def block(k, n_rows, n_features, seed):
    """Row block ``k``: its own generator, so any process makes the same values."""
    return mixed_columns(n_rows, n_features, seed=[seed, k])


def row_chunks(rows, chunk_rows):
    n_full, rest = divmod(rows, chunk_rows)
    return (chunk_rows,) * n_full + ((rest,) if rest else ())


def dask_array(rows, n_features, chunk_rows, seed):
    import dask.array as da

    def make(block_info=None):
        info = block_info[None]
        return block(info["chunk-location"][0], info["chunk-shape"][0], n_features, seed)

    chunks = (row_chunks(rows, chunk_rows), (n_features,))
    return da.map_blocks(make, chunks=chunks, dtype=np.float64, meta=np.empty((0, 0)))


def peak_rss(client):
    """Each worker's peak resident memory so far, in GiB (ru_maxrss is in KiB)."""
    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GiB
    return sorted(client.run(rss).values())


def on_fresh_cluster(args, work):
    """``work(client)`` on new workers; returns its result, the time, the workers'
    peak memory after the warm-up and after the work."""
    from distributed import Client, LocalCluster

    import skquant.dask as skd

    with LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True,
        dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"},
    ) as cluster, Client(cluster) as client:
        small = dask_array(20_000, args.features, 5_000, seed=1)
        q = skd.fit(LloydMaxQuantizer(n_bits=args.n_bits), small)
        skd.transform(q, small).sum().compute()
        warm = peak_rss(client)
        start = time.perf_counter()
        result = work(client)
        elapsed = time.perf_counter() - start
        return result, elapsed, warm, peak_rss(client)


def run_dask(args):
    import skquant.dask as skd

    X = dask_array(args.rows, args.features, args.chunk_rows, args.seed)
    out = {}
    _, out["generate"], *out["generate mem"] = on_fresh_cluster(
        args, lambda client: X.sum().compute()
    )
    q, out["fit"], *out["fit mem"] = on_fresh_cluster(
        args, lambda client: skd.fit(LloydMaxQuantizer(n_bits=args.n_bits), X)
    )
    sums, out["transform"], *out["transform mem"] = on_fresh_cluster(
        args, lambda client: skd.transform(q, X).sum(axis=0, dtype=np.uint64).compute()
    )
    return q, sums, out


def in_memory(args, q_dask_path):
    """The in-memory part, in this (fresh) process; prints one JSON line."""
    warnings.simplefilter("ignore")
    n, d = args.rows, args.features
    LloydMaxQuantizer(n_bits=args.n_bits).fit(block(0, 1000, d, 1)).transform(
        block(0, 1000, d, 1)
    )  # load the kernels first
    start = time.perf_counter()
    X = np.empty((n, d))
    row = 0
    for k, size in enumerate(row_chunks(n, args.chunk_rows)):
        X[row : row + size] = block(k, size, d, args.seed)
        row += size
    out = {"generate": time.perf_counter() - start}
    start = time.perf_counter()
    q = LloydMaxQuantizer(n_bits=args.n_bits).fit(X)
    out["fit"] = time.perf_counter() - start
    start = time.perf_counter()
    q.transform(X)
    out["transform"] = time.perf_counter() - start
    out["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GiB
    with open(q_dask_path, "rb") as f:
        q_dask = pickle.load(f)
    codes = q_dask.transform(X)
    out["sums"] = codes.sum(axis=0, dtype=np.uint64).tolist()
    # MSE on all the data, a row slice at a time (no (n, d) temporaries)
    sse = np.zeros((2, d))
    for lo in range(0, n, 10_000_000):
        part = X[lo : lo + 10_000_000]
        for i, est in enumerate((q, q_dask)):
            sse[i] += ((part - est.inverse_transform(est.transform(part))) ** 2).sum(axis=0)
    out["mse"], out["mse dask"] = (sse / n).tolist()
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--chunk-rows", type=int, default=2_000_000)
    parser.add_argument("--n-bits", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-in-memory", action="store_true")
    parser.add_argument("--in-memory-part", metavar="PICKLE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_memory_part:
        return in_memory(args, args.in_memory_part)

    import dask
    import distributed

    n_values = args.rows * args.features
    n_blocks = len(row_chunks(args.rows, args.chunk_rows))
    print(f"# {args.rows} x {args.features} float64 ({n_values * 8 / GiB:.1f} GiB), "
          f"{n_blocks} row blocks of {args.chunk_rows}, LloydMaxQuantizer(n_bits={args.n_bits}); "
          f"dask {dask.__version__}, distributed {distributed.__version__}, "
          f"{args.workers} workers x 1 thread, cores {os.cpu_count()}")
    q_dask, sums, dk = run_dask(args)

    mem = None
    if not args.skip_in_memory:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "q_dask.pickle")
            with open(path, "wb") as f:
                pickle.dump(q_dask, f)
            cmd = [sys.executable, __file__, "--in-memory-part", path,
                   *sys.argv[1:]]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            mem = json.loads(res.stdout.strip().splitlines()[-1])

    def rate(t):
        return f"{n_values / t / 1e6:.1f}"

    rows = []
    for step in ("generate", "fit", "transform"):
        warm, peak = dk[f"{step} mem"]
        row = {
            "step": step,
            "Dask s": f"{dk[step]:.2f}",
            "Dask Mvalues/s": rate(dk[step]),
            "Dask peak RSS per worker GiB (after warm-up)": ", ".join(
                f"{p:.2f} ({w:.2f})" for w, p in zip(warm, peak)
            ),
        }
        if mem:
            row.update({
                "in-memory s": f"{mem[step]:.2f}",
                "in-memory Mvalues/s": rate(mem[step]),
                "Dask / in-memory throughput": f"{mem[step] / dk[step]:.2f}",
            })
        rows.append(row)
    columns = ["step", "Dask s", "Dask Mvalues/s", "Dask peak RSS per worker GiB (after warm-up)"]
    if mem:
        columns += ["in-memory s", "in-memory Mvalues/s", "Dask / in-memory throughput"]
    print_table(rows, columns)
    if mem:
        print(f"in-memory process peak RSS (array, fit, transform): {mem['peak']:.2f} GiB")
        mse, mse_dask = np.array(mem["mse"]), np.array(mem["mse dask"])
        rel = np.abs(mse_dask - mse) / mse
        print("MSE on all the data, Dask fit vs in-memory fit, relative difference per "
              f"feature: {', '.join(f'{r:.1e}' for r in rel)} (max {rel.max():.1e})")
        same = [int(s) for s in sums] == mem["sums"]
        print(f"Dask transform codes, column sums equal to the in-memory transform's: {same}")


if __name__ == "__main__":
    main()
