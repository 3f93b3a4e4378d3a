"""skquant.torch.BinarySphericalQuantizer against the reference module and LFQ.

Forward + backward time and peak memory of one training step, ``aux_loss + <w,
quantized>`` differentiated with respect to the float32 input ``x`` of shape
``(1, N, code_dim)``, at ``inv_temperature=100``, for

- ``skquant``: :class:`skquant.torch.BinarySphericalQuantizer` (exact up to
  ``code_dim=16``, the BSQ paper's factorised bounds above; ``skquant exact``: the same
  with ``exact_max_dim=20``, exact at ``code_dim=20``);
- ``reference``: the reference module (``tests/fixtures/reference_bsq.py``);
- ``LFQ``: vector-quantize-pytorch's ``LFQ(codebook_size=2**code_dim, spherical=True)``.

Each configuration runs in its own process, on one thread (``torch.set_num_threads(1)``,
``NUMBA_NUM_THREADS=1``); after a warm-up step on 64 rows (numba cache load, torch
thread pools), the time is the best of ``--repeat`` steps and the memory the peak
resident set size of the process during the steps minus its size just before them
(``ru_maxrss``: every allocation counts, torch's and numba's). The reference and LFQ
build ``2**code_dim`` codes and an ``(N, 2**code_dim)`` soft assignment: a
configuration whose estimated memory exceeds ``--max-gb`` is not run ("too big"), and
one slower than ``--timeout`` seconds is stopped. Ratios are the peer's time (memory)
over skquant's at the same size; the loss columns show that the three agree.

Needs torch and vector-quantize-pytorch; on a machine without a GPU install them with
the CPU build of torch pinned in the same command, so that nothing pulls a CUDA build::

    pip install ".[bench]" "torch==2.13.0" vector-quantize-pytorch

Run from the repository root (about 10 minutes; ``--quick`` for a smaller grid)::

    python benchmarks/bench_bsq_torch.py
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIMS = (8, 10, 13, 16, 20, 32, 64)
SIZES = (100, 1_000, 10_000, 100_000)
IMPLS = ("skquant", "skquant exact", "reference", "LFQ")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _make(impl, d):
    if impl.startswith("skquant"):
        from skquant.torch import BinarySphericalQuantizer

        kwargs = {"exact_max_dim": 20} if impl == "skquant exact" else {}
        module = BinarySphericalQuantizer(d, **kwargs)
        return lambda x: module(x, 100.0)
    if impl == "reference":
        import importlib.util

        path = ROOT / "tests" / "fixtures" / "reference_bsq.py"
        spec = importlib.util.spec_from_file_location("reference_bsq", path)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        module = ref.BinarySphericalQuantizer(d)
        return lambda x: module(x, 100.0)
    from vector_quantize_pytorch import LFQ

    module = LFQ(codebook_size=2**d, spherical=True, entropy_loss_weight=0.1,
                 diversity_gamma=1.0)
    module.train()

    def step(x):
        out = module(x, inv_temperature=100.0)
        return out[0], out[1], out[2]

    return step


def worker(impl, d, n, repeat):
    """One configuration, in this process; prints a JSON line."""
    import torch

    torch.set_num_threads(1)
    step = _make(impl, d)
    gen = torch.Generator().manual_seed(0)

    def run(rows):
        x = torch.randn(1, rows, d, generator=gen).requires_grad_()
        w = torch.randn(1, rows, d, generator=gen)
        return x, w

    def train_step(x, w):
        quantized, _, aux = step(x)
        (aux + (quantized * w).sum()).backward()
        return float(aux)

    train_step(*run(64))  # warm-up: numba cache, thread pools, lazy imports
    x, w = run(n)
    base = _rss_bytes()
    best = float("inf")
    for _ in range(repeat):
        x.grad = None
        start = time.perf_counter()
        aux = train_step(x, w)
        best = min(best, time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    print(json.dumps({"time": best, "peak": max(peak, 0), "aux": aux}))


def estimated_gb(impl, d, n):
    """Rough memory of a step: the peers hold several (N, 2**D) float32 tensors."""
    if impl.startswith("skquant"):
        return 0.0
    return 10 * n * 2.0**d * 4 / 2**30


def run_config(impl, d, n, args):
    if impl == "skquant exact" and d != 20:
        return None
    if estimated_gb(impl, d, n) > args.max_gb:
        return {"status": "too big"}
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", impl, str(d), str(n), "--repeat",
           str(args.repeat)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": f"> {args.timeout:g} s"}
    if out.returncode != 0:
        return {"status": "failed: " + out.stderr.strip().splitlines()[-1][:60]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="code_dim 8, 13, 32; N <= 1e4")
    parser.add_argument("--dims", type=int, nargs="+", metavar="D",
                        help=f"code_dim values to run (default: {' '.join(map(str, DIMS))})")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "D", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        impl, d, n = args.worker
        worker(impl, int(d), int(n), args.repeat)
        return
    from importlib.metadata import version

    import torch

    dims, sizes = ((8, 13, 32), SIZES[1:3]) if args.quick else (DIMS, SIZES)
    if args.dims:
        dims = tuple(args.dims)
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"vector-quantize-pytorch {version('vector-quantize-pytorch')}, "
          f"{platform.processor() or platform.machine()}, one thread, float32 input, "
          f"inv_temperature=100, best of {args.repeat}")
    header = (f"{'code_dim':>8} {'N':>7}  {'impl':<13} {'fwd+bwd s':>10} {'peak MB':>9} "
              f"{'time x':>8} {'memory x':>9}  aux_loss")
    print(header)
    print("-" * len(header))
    verdict = None
    for d in dims:
        for n in sizes:
            ours = None
            for impl in IMPLS:
                res = run_config(impl, d, n, args)
                if res is None:
                    continue
                if "status" in res:
                    print(f"{d:>8} {n:>7}  {impl:<13} {res['status']:>10}")
                    continue
                if impl == "skquant":
                    ours = res
                ratio_t = ratio_m = ""
                if ours is not None and impl != "skquant":
                    ratio_t = f"{res['time'] / ours['time']:.1f}"
                    # below 1 MiB the RSS of a step is within page-size noise
                    big = ours["peak"] >= 2**20
                    ratio_m = f"{res['peak'] / ours['peak']:.1f}" if big else "n/a"
                print(f"{d:>8} {n:>7}  {impl:<13} {res['time']:>10.4f} "
                      f"{res['peak'] / 2**20:>9.1f} {ratio_t:>8} {ratio_m:>9}  "
                      f"{res['aux']:+.7f}", flush=True)
                if (d, n, impl) == (13, 10_000, "reference") and ours is not None:
                    verdict = res["time"] / ours["time"]
    if verdict is not None:
        print(f"\ncode_dim=13, N=10^4: skquant is {verdict:.0f}x faster than the reference "
              f"(target >= 50x): {'PASS' if verdict >= 50 else 'FAIL'}")


if __name__ == "__main__":
    main()
