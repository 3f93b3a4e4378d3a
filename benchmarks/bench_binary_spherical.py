"""Benchmarks of BinarySphericalEncoder, bsq_auxiliary_loss and the Hamming k-NN.

Every row runs in this one process on the same data; each timed function is called
once first and the timings are the best of ``--repeat`` warm calls, interleaved with
the peer's so that a busy machine slows both alike. Compile times are measured on
their own, in a fresh process with an empty numba cache (section 0).

0. Import and first calls: ``import skquant`` compiles nothing (checked); the first
   call of each entry point with an empty cache is its numba compile time.
1. Encoding 200 000 x 64 (float32 and float64; numba at 1 and 2 threads) without
   rotation: ``transform`` against ``np.packbits(X > 0, axis=1)`` (target: at most
   1.0x its time), and ``fit`` against ``transform`` (target: at most 2.0x). The codes
   are checked to equal ``np.packbits(X > 0, axis=1)``, bit for bit. Rotated
   encoders for information.
2. ``bsq_auxiliary_loss`` on 10 000 x 13 against the reference PyTorch module on the CPU
   (target: at least 100x faster, the same value; skipped when torch is missing).
3. Hamming k-NN (k = 10) of 1 000 queries in 200 000 codes of 64 bits against
   ``faiss.IndexBinaryFlat`` (skipped when faiss is not installed).
4. Quality: Hamming-ranking recall@10 of the true Euclidean neighbours on scikit-learn's
   digits for random, pca and itq rotations (the table of doc/binary_spherical.rst).

Run from the repository root, with skquant installed (``pip install ".[bench]"``)::

    python benchmarks/bench_binary_spherical.py
"""

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from common import best_time
from sklearn.datasets import load_digits

from skquant import BinarySphericalEncoder, bsq_auxiliary_loss, hamming_knn

ROOT = Path(__file__).resolve().parents[1]


def best_of(func, repeat):
    """Best of ``repeat`` warm calls (one more warm-up call is made first)."""
    return best_time(func, repeat=repeat, warmup=1)


def best_interleaved(funcs, repeat):
    """Best time of each function, calling them in turn ``repeat`` times (after one
    warm-up call each), so that a busy machine slows all of them alike."""
    for func in funcs:
        func()
    best = [np.inf] * len(funcs)
    for _ in range(repeat):
        for k, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def verdict(ok):
    return "PASS" if ok else "FAIL"


COMPILE_PROBE = r"""
import json, time
import numpy as np
t = time.perf_counter()
import skquant
import numba
out = {"import": time.perf_counter() - t}
from skquant import _kernels as K
# dispatchers (parallel ones are wrapped by _config.threadsafe: .kernel)
dispatchers = [getattr(v, "kernel", v) for v in vars(K).values()]
dispatchers = [d for d in dispatchers if isinstance(d, numba.core.registry.CPUDispatcher)]
out["compiled_at_import"] = sum(len(d.signatures) for d in dispatchers)
X = np.random.default_rng(0).standard_normal((1000, 64)).astype(np.float32)
calls = {
    "fit + transform (rotation=None)": lambda: skquant.BinarySphericalEncoder().fit(X).transform(X),
    "fit + transform (rotation='itq')": lambda: skquant.BinarySphericalEncoder(
        16, rotation="itq", center=True, n_iter=2).fit(X).transform(X),
    "bsq_auxiliary_loss": lambda: skquant.bsq_auxiliary_loss(X[:, :13]),
    "hamming_knn": lambda: skquant.hamming_knn(np.packbits(X > 0, axis=1)[:5],
                                               np.packbits(X > 0, axis=1), 3),
}
for name, call in calls.items():
    t = time.perf_counter()
    call()
    first = time.perf_counter() - t
    t = time.perf_counter()
    call()
    out[name] = (first, time.perf_counter() - t)
print(json.dumps(out))
"""


def bench_compile():
    print("\n== 0. import and first calls (fresh process, empty numba cache) ==")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        run = subprocess.run(
            [sys.executable, "-c", COMPILE_PROBE], env=env, capture_output=True, text=True
        )
    if run.returncode:
        raise RuntimeError(run.stderr)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"import skquant                      {out.pop('import') * 1e3:9.1f} ms")
    compiled = out.pop("compiled_at_import")
    print(f"kernels compiled by the import      {compiled:9d}      {verdict(compiled == 0)}")
    print(f"{'first call (compile)':>56} {'second call':>12}")
    for name, (first, second) in out.items():
        print(f"{name:38} {first:13.2f} s {second * 1e3:9.2f} ms")


def bench_encode(repeat):
    print("\n== 1. encode 200000 x 64 without rotation ==")
    threads = numba.get_num_threads()
    rows = []
    try:
        for dtype in (np.float32, np.float64):
            X = np.random.default_rng(0).standard_normal((200_000, 64)).astype(dtype)
            reference = np.packbits(X > 0, axis=1)
            for n_threads in sorted({1, threads}):
                numba.set_num_threads(n_threads)
                enc = BinarySphericalEncoder().fit(X)
                assert np.array_equal(enc.transform(X), reference)  # bit for bit
                t_fit, t_ours, t_numpy = best_interleaved(
                    [
                        lambda: BinarySphericalEncoder().fit(X),
                        lambda: enc.transform(X),
                        lambda: np.packbits(X > 0, axis=1),
                    ],
                    3 * repeat,
                )
                rows.append((np.dtype(dtype).name, n_threads, t_fit, t_ours, t_numpy))
    finally:
        numba.set_num_threads(threads)
    print(
        f"{'dtype':8} {'threads':>7} {'fit':>8} {'transform':>10} {'packbits':>9} "
        f"{'transform/packbits':>19} {'fit/transform':>14}"
    )
    for name, n_threads, t_fit, t_ours, t_numpy in rows:
        r1, r2 = t_ours / t_numpy, t_fit / t_ours
        print(
            f"{name:8} {n_threads:7d} {t_fit * 1e3:6.2f}ms {t_ours * 1e3:8.2f}ms "
            f"{t_numpy * 1e3:7.2f}ms {r1:13.2f}x {verdict(r1 <= 1.0)} {r2:8.2f}x "
            f"{verdict(r2 <= 2.0)}"
        )
    print("(targets: transform at most 1.0x np.packbits(X > 0, axis=1), fit without a")
    print(" rotation at most 2.0x transform; the codes equal np.packbits(X > 0) exactly)")
    X = np.random.default_rng(0).standard_normal((200_000, 64)).astype(np.float32)
    for rotation, n_bits in (("itq", 64), ("random", 32)):
        enc = BinarySphericalEncoder(
            n_bits, rotation=rotation, center=True, random_state=0
        ).fit(X[:20_000])
        W = enc.components_.T.astype(np.float32)
        mean = enc.mean_.astype(np.float32)
        t_ours, t_numpy = best_interleaved(
            [lambda: enc.transform(X), lambda: np.packbits((X - mean) @ W > 0, axis=1)],
            repeat,
        )
        print(
            f"rotation={rotation!r:8} n_bits={n_bits}: skquant {t_ours * 1e3:7.2f} ms, "
            f"NumPy (X - mean) @ W + packbits {t_numpy * 1e3:7.2f} ms"
        )


def load_reference_module():
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    path = ROOT / "tests" / "fixtures" / "make_bsq_reference.py"
    spec = importlib.util.spec_from_file_location("make_bsq_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_aux_loss(repeat):
    print("\n== 2. auxiliary loss, 10000 x 13 (batch 10, tokens 1000), inv_temperature=100 ==")
    x = np.random.default_rng(1).standard_normal((10, 1000, 13)).astype(np.float32)
    res = bsq_auxiliary_loss(x)
    t_ours = best_of(lambda: bsq_auxiliary_loss(x), repeat)
    ref = load_reference_module()
    if ref is None:
        print(f"skquant bsq_auxiliary_loss         {t_ours * 1e3:9.2f} ms")
        print("reference module: SKIPPED (torch is not installed)")
        return
    import torch

    torch.set_num_threads(numba.get_num_threads())
    module = ref.BinarySphericalQuantizer(13)
    xt = torch.from_numpy(x)

    def run_reference():
        with torch.no_grad():
            return float(module(xt)[2])

    loss_ref = run_reference()  # warm-up
    t_ref = np.inf
    for _ in range(2):  # ours again between the slow reference runs
        start = time.perf_counter()
        run_reference()
        t_ref = min(t_ref, time.perf_counter() - start)
        t_ours = min(t_ours, best_of(lambda: bsq_auxiliary_loss(x), repeat))
    ratio = t_ref / t_ours
    print(f"skquant bsq_auxiliary_loss         {t_ours * 1e3:9.2f} ms   loss {res.loss:+.7f}")
    print(
        f"reference module (torch {torch.__version__}, {torch.get_num_threads()} threads) "
        f"{t_ref * 1e3:9.1f} ms   loss {loss_ref:+.7f}"
    )
    rel = abs(res.loss - loss_ref) / abs(loss_ref)
    print(f"relative difference of the losses  {rel:.1e}  {verdict(rel <= 1e-5)}")
    print(f"speed-up {ratio:.0f}x (target >= 100)  {verdict(ratio >= 100)}")


def bench_knn(repeat):
    print("\n== 3. Hamming k-NN: 1000 queries, 200000 codes of 64 bits, k = 10 ==")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((201_000, 64)).astype(np.float32)
    codes = BinarySphericalEncoder().fit(X[:8]).transform(X)
    base, queries = codes[:200_000], codes[200_000:]
    d_ours, i_ours = hamming_knn(queries, base, 10)
    try:
        import faiss
    except ImportError:
        t_ours = best_of(lambda: hamming_knn(queries, base, 10), repeat)
        print(f"skquant hamming_knn                {t_ours * 1e3:9.2f} ms")
        print("faiss IndexBinaryFlat: SKIPPED (faiss is not installed)")
        return
    index = faiss.IndexBinaryFlat(64)
    index.add(base)
    t_ours, t_faiss = best_interleaved(
        [lambda: hamming_knn(queries, base, 10), lambda: index.search(queries, 10)], repeat
    )
    print(f"skquant hamming_knn                {t_ours * 1e3:9.2f} ms")
    d_faiss, _ = index.search(queries, 10)
    same = np.array_equal(d_ours, d_faiss)
    print(
        f"faiss {faiss.__version__} IndexBinaryFlat.search ({faiss.omp_get_max_threads()} "
        f"threads) {t_faiss * 1e3:9.2f} ms"
    )
    print(f"same distances as faiss: {same}; faiss/skquant time {t_faiss / t_ours:.2f}x")


def bench_recall():
    print("\n== 4. quality: digits, Hamming-ranking recall@10 of the Euclidean 10-NN ==")
    print("(queries: 300 random rows, base: the other 1497, fitted on the base, center=True;")
    print(" seed 0, and mean +- std over random_state 0..4 for the rotations' random parts)")
    X = load_digits().data.astype(np.float64)
    perm = np.random.default_rng(0).permutation(len(X))
    queries, base = X[perm[:300]], X[perm[300:]]
    d2 = (queries**2).sum(1)[:, None] + (base**2).sum(1)[None, :] - 2 * queries @ base.T
    true = np.argsort(d2, axis=1, kind="stable")[:, :10]

    def recall(enc):
        _, found = hamming_knn(enc.transform(queries), enc.transform(base), 10)
        return np.mean([len(set(t) & set(f)) / 10 for t, f in zip(true, found)])

    print(f"{'n_bits':>6} {'rotation':>8} {'seed 0':>8} {'mean':>7} {'std':>6}")
    for n_bits in (32, 16):
        for rotation in ("random", "pca", "itq"):
            values = [
                recall(
                    BinarySphericalEncoder(
                        n_bits, rotation=rotation, center=True, random_state=seed
                    ).fit(base)
                )
                for seed in range(5)
            ]
            print(
                f"{n_bits:>6} {rotation:>8} {values[0]:8.3f} {np.mean(values):7.3f} "
                f"{np.std(values):6.3f}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="warm calls per timing")
    args = parser.parse_args()
    print(
        f"numpy {np.__version__}, numba {numba.__version__} ({numba.get_num_threads()} "
        f"threads), Python {platform.python_version()}, {platform.machine()}"
    )
    bench_compile()
    bench_encode(args.repeat)
    bench_aux_loss(args.repeat)
    bench_knn(args.repeat)
    bench_recall()


if __name__ == "__main__":
    main()
