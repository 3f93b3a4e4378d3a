"""Bytes per value against normalised MSE: skquant's entropy-coded files and the
compressors users would pick instead, on the same data in the same run.

The error is :func:`skquant.metrics.normalized_mse` (each feature's MSE over its
variance, averaged over the features) everywhere. For each target (1e-1 ... 1e-5) and
each compressor, its knob is searched for the smallest file meeting the target:

- zfp (``zfpy``) fixed-accuracy (tolerance ``2**-k``: zfp keeps bit planes down to
  ``floor(log2 tolerance)``, so powers of two are all the distinct settings; ``k``
  bisected) and fixed-rate (rate ``m / 16`` bits per value, the granularity of 4 x 4
  blocks; ``m`` bisected), on the 2-D float32 array;
- SZ3 (``pysz``), absolute error bound (bisected on a log scale, 24 steps; the
  smallest feasible file seen is kept, since SZ3's error is not monotone in the bound);
- numcodecs ``BitRound`` (``keepbits`` bisected) + zstd, float16 + zstd, and per-column
  min-max quantization to ``b`` bits (``b`` bisected; 8 bits is the usual uint8 case)
  + zstd; zstd is ``zstandard`` at level 19, on the column-major or row-major bytes,
  whichever is smaller;
- each peer except min-max is run on the raw columns and on z-scored columns (``(x -
  mean) / std`` per column, the 8 bytes of float32 mean and std per column counted),
  and the smaller file is kept: an absolute error bound on columns of different scales
  is otherwise spent on the largest one;
- skquant: ``UniformClipQuantizer``, ``DeadZoneQuantizer`` (MSE design at ``n_levels``,
  and the rate-distortion design ``lam``), ``LloydMaxQuantizer``, each fitted on the same
  float32 array as the peers (its levels are then float32 in the file), with
  entropy-coded codes. The number of levels is searched per feature (all features at
  once, one fit per step: from a high-rate guess, doubled until feasible, then
  bisected) for the smallest ``n_levels_j`` with ``nmse_j <= target``; ``lam`` (one for
  all features) is bisected on a log scale for the largest value meeting the target.
  The rows "... allocated" meet the target as the peers do, on the mean over the
  features rather than on every feature: the levels of each feature are allocated by
  a Lagrangian search (per feature, the grid point minimising estimated bytes plus
  ``mu`` times its normalised MSE, ``mu`` bisected for the target) over one grid of
  fits (``n_levels`` on a geometric grid, four points per doubling, all features at
  once); the bytes of a grid point are estimated (the codes as the coder spends them,
  plus ``LEVEL_BYTES`` a level for the codebook), the reported size is the file's.
  Each quantizer's size is that of the smaller of its two files, entropy-coded
  (``coding="entropy"``) and packed (``coding="packed"``), as ``skquant.compress``
  writes them; "skquant best" is the smallest of these files (its coding in brackets).

References (no file): the Shannon bound ``R(D) = log2(1 / D) / 2`` of the unit Gaussian,
the Shannon lower bound ``log2(e / (pi D)) / 2`` of the unit Laplacian (tight as D -> 0),
and the fixed-rate Lloyd-Max rate: ``ceil(log2 n_levels_j)`` bits per value, packed,
with the levels found by the Lloyd-Max search above.

Data: scikit-learn's bundled datasets (digits, diabetes, wine, breast cancer, iris), the
8 x 8 block DCT coefficients (``scipy.fft.dctn``, orthonormal; 64 features, one per
frequency) of the grayscale sample image china.jpg shipped with scikit-learn,
all-MiniLM-L6-v2 embeddings of 500 docstring sentences (the corpus and cache of
``bench_embeddings.py``; skipped when neither the cache nor the model is available:
the model is downloaded from HuggingFace, which needs ``sentence-transformers`` and
internet access),
and 25000 x 4 Gaussian and Laplacian samples (unit variance). Constant columns are
dropped first (the normalised MSE of a constant column is 0 if it is reconstructed
exactly and infinite otherwise, which would make every lossy peer fail on digits).

Run from the repository root (``--quick``: a small smoke run)::

    pip install ".[bench]"
    python benchmarks/bench_compression.py --table doc/_bench_compression.txt
"""

import argparse
import importlib.metadata
import math
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from skquant import DeadZoneQuantizer, LloydMaxQuantizer, UniformClipQuantizer
from skquant.metrics import normalized_mse

TARGETS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
QUICK_TARGETS = (1e-1, 1e-3)
ZSTD_LEVEL = 19
# the level searches stop at 12 bits: beyond, fits slow down and the codebook (two
# float32 arrays of n_levels per feature) outweighs the codes on these data sizes
MAX_LEVELS = 4096
LLOYD_MAX_LEVELS = 4096


def nmse_per_feature(X, X_hat):
    return normalized_mse(X, X_hat, multioutput="raw_values")


# ------------------------------------------------------------------ data
def dct_blocks(names=("china.jpg",)):
    """8 x 8 block DCT coefficients of grayscale sample images: (blocks, 64)."""
    from scipy.fft import dctn
    from sklearn.datasets import load_sample_image

    out = []
    for name in names:
        g = load_sample_image(name).astype(np.float64) @ [0.299, 0.587, 0.114]
        h, w = (g.shape[0] // 8) * 8, (g.shape[1] // 8) * 8
        blocks = g[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 8, 8)
        out.append(dctn(blocks - 128.0, axes=(1, 2), norm="ortho").reshape(-1, 64))
    return np.concatenate(out)


def sentence_embeddings(n, of=2000):
    """The first ``n`` of the all-MiniLM-L6-v2 embeddings of ``of`` sentences (float64
    copy of the float32 vectors; ``of`` keeps ``bench_embeddings``' cache key), or None."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from bench_embeddings import corpus, embeddings

        return embeddings(corpus(of))[0][:n].astype(np.float64)
    except Exception as exc:  # no model, no sentence-transformers, no cache
        print(f"sentence embeddings skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    finally:
        sys.path.pop(0)


def datasets(quick):
    """``(name, loader)`` pairs; a loader returns the 2-D data or None (unavailable)."""
    from sklearn import datasets as skd

    n = 25_000
    if quick:
        return [("iris", lambda: skd.load_iris().data),
                ("Gaussian", lambda: np.random.default_rng(0).standard_normal((2000, 2)))]
    return [
        ("digits", lambda: skd.load_digits().data),
        ("diabetes", lambda: skd.load_diabetes(scaled=False).data),
        ("wine", lambda: skd.load_wine().data),
        ("breast cancer", lambda: skd.load_breast_cancer().data),
        ("iris", lambda: skd.load_iris().data),
        ("DCT 8x8 china.jpg", dct_blocks),
        ("MiniLM embeddings", lambda: sentence_embeddings(500)),
        ("Gaussian", lambda: np.random.default_rng(0).standard_normal((n, 4))),
        ("Laplacian",
         lambda: np.random.default_rng(1).laplace(scale=1 / np.sqrt(2), size=(n, 4))),
    ]


# ------------------------------------------------------------------ peers
def _bitround():
    """numcodecs' BitRound. numcodecs 0.16 parses zfpy's version as integers when it
    is imported, and zfpy 1.0.1.post0 breaks that (ValueError on 'post0'); the
    workaround strips the '.postN' suffix for that one lookup."""
    real = importlib.metadata.version

    def version(name):
        v = real(name)
        return re.sub(r"\.post\d+$", "", v) if name == "zfpy" else v

    importlib.metadata.version = version
    try:
        from numcodecs import BitRound
    finally:
        importlib.metadata.version = real
    return BitRound


def _zstd(arr):
    import zstandard

    c = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return min(len(c.compress(np.ascontiguousarray(arr).tobytes())),
               len(c.compress(np.asfortranarray(arr).tobytes(order="F"))))


class Prep:
    """The float32 array a peer compresses: the raw columns, or z-scored ones (whose
    float32 mean and std per column are counted in ``side_bytes``)."""

    def __init__(self, X, zscore):
        self.name = "z-scored" if zscore else "raw"
        if zscore:
            self.mu = X.mean(axis=0)
            sd = X.std(axis=0)
            self.sd = np.where(sd > 0, sd, 1.0)
            self.Z = ((X - self.mu) / self.sd).astype(np.float32)
            self.side_bytes = 8 * X.shape[1]
        else:
            self.mu, self.sd = 0.0, 1.0
            self.Z = X.astype(np.float32)
            self.side_bytes = 0

    def back(self, Z_hat):
        return np.asarray(Z_hat, dtype=np.float64) * self.sd + self.mu


def peers(X):
    """``(name, prep, kind, lo, hi, make)``: ``make(knob) -> (X_hat, nbytes)`` with
    ``nbytes`` an int or a callable (computed only for the chosen knob); the error
    falls as the knob grows."""
    import zfpy
    from pysz import sz, szConfig, szErrorBoundMode

    BitRound = _bitround()
    out = []
    for prep in (Prep(X, False), Prep(X, True)):
        Z, side = prep.Z, prep.side_bytes

        def zfp_acc(k, Z=Z, prep=prep, side=side):
            b = zfpy.compress_numpy(Z, tolerance=2.0 ** -k)
            return prep.back(zfpy.decompress_numpy(b)), len(b) + side

        def zfp_rate(m, Z=Z, prep=prep, side=side):
            b = zfpy.compress_numpy(Z, rate=m / 16)
            return prep.back(zfpy.decompress_numpy(b)), len(b) + side

        def sz3(log_eb, Z=Z, prep=prep, side=side):
            conf = szConfig()
            conf.errorBoundMode = szErrorBoundMode.ABS
            conf.absErrorBound = 10.0 ** -log_eb
            comp, _ = sz.compress(Z, conf)
            return prep.back(sz.decompress(comp, np.float32, Z.shape)[0]), comp.nbytes + side

        def bitround(k, Z=Z, prep=prep, side=side):
            R = BitRound(keepbits=int(k)).encode(Z).view(np.float32).reshape(Z.shape)
            return prep.back(R), lambda: _zstd(R) + side

        def float16(_, Z=Z, prep=prep, side=side):
            with np.errstate(over="ignore"):
                H = Z.astype(np.float16)
            return prep.back(H), lambda: _zstd(H) + side

        scale = float(np.abs(Z).max()) or 1.0
        top = -math.log10(scale) + 1
        out += [
            ("zfp fixed-accuracy", prep.name, "int", -8 - int(math.log2(scale)), 60, zfp_acc),
            ("zfp fixed-rate", prep.name, "int", 1, 16 * 32, zfp_rate),
            ("SZ3 abs", prep.name, "log", top, top + 12, sz3),
            ("BitRound + zstd", prep.name, "int", 0, 23, bitround),
            ("float16 + zstd", prep.name, "none", 0, 0, float16),
        ]
    lo, hi = X.min(axis=0), X.max(axis=0)
    width = np.where(hi > lo, hi - lo, 1.0)

    def minmax(b):
        top = 2**int(b) - 1
        q = np.rint((X - lo) / width * top)
        codes = q.astype(np.uint8 if b <= 8 else np.uint16)
        return lo + q / top * width, lambda: _zstd(codes) + 8 * X.shape[1]

    out.append(("min-max b bits + zstd", "raw", "int", 1, 16, minmax))
    return out


def search_peer(X, target, kind, lo, hi, make, memo):
    """Smallest file of one peer meeting ``target``: ``(nbytes, knob, nmse)`` or None."""

    def ev(k):
        if k not in memo:
            X_hat, nb = make(k)
            memo[k] = [normalized_mse(X, X_hat), nb]
        return memo[k][0]

    def size(k):
        if callable(memo[k][1]):
            memo[k][1] = memo[k][1]()
        return memo[k][1]

    if kind == "none":
        return (size(0), 0, ev(0)) if ev(0) <= target else None
    if kind == "int":
        if not ev(hi) <= target:
            return None
        a, b = lo - 1, hi  # ev(a) is taken as failing, ev(b) meets the target
        while b - a > 1:
            m = (a + b) // 2
            if ev(m) <= target:
                b = m
            else:
                a = m
        return size(b), b, memo[b][0]
    # "log": continuous; bisect, then keep the smallest feasible file seen
    if not ev(hi) <= target:
        return None
    a, b = lo, hi
    for _ in range(24):
        m = 0.5 * (a + b)
        if ev(m) <= target:
            b = m
        else:
            a = m
    best = min((size(k), k) for k, (e, _) in memo.items() if e <= target)
    return best[0], best[1], memo[best[1]][0]


# ------------------------------------------------------------------ skquant
def file_bytes(q, X):
    """``(file, codes, coding)``: the size of the smaller skquant file of X under the
    fitted quantizer ``q`` (entropy-coded or packed codes: the file
    ``skquant.compress(X, path, q, coding=...)`` writes, written here by the same
    ``skquant._io.write`` call without refitting), the size of the entropy-coded codes
    alone (stream words and table, no estimator, no container), and which coding the
    smaller file has."""
    from skquant import _io

    codes = q.transform(X)
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for coding in ("entropy", "packed"):
            path = os.path.join(tmp, f"{coding}.skq")
            _io.write(path, q, codes=codes, coding=coding)
            sizes[coding] = os.path.getsize(path)
            if coding == "entropy":
                coded = _coded_bytes(path)
    coding = min(sizes, key=sizes.get)
    return sizes[coding], coded, coding


def _coded_bytes(path):
    """Bytes of the entropy-coded codes of a skquant file: the stream's words (its own
    member or region, or an array of the state), the table and the adaptive stream
    (format version 7)."""
    from skquant import _io

    coded = _io.read(path, stream=True).coded
    adaptive = 0 if coded.adaptive is None else coded.adaptive.size
    return 4 * int(coded.offsets[-1]) + coded.table_bytes + adaptive


def _fit_eval(make, X):
    """Fit on the float32 values (those the peers get too: float32 levels halve the
    codebook in the file), score against the float64 ones."""
    X32 = X.astype(np.float32)

    def ev(M):
        q = make(M).fit(X32)
        return q, nmse_per_feature(X, q.inverse_transform(q.transform(X32)))
    return ev


def search_levels(make, X, target, start, k_max, to_levels):
    """Per feature, the smallest ``k_j`` (``n_levels_j = to_levels(k_j)``) with
    ``nmse_j <= target``: all features at once, one fit per step. Returns the fitted
    quantizer and ``k``, or None if some feature misses the target at ``k_max``."""
    ev = _fit_eval(lambda k: make(to_levels(k)), X)
    d = X.shape[1]
    lo = np.zeros(d, dtype=np.int64)  # k = lo fails (0: below the range)
    hi = np.full(d, -1, dtype=np.int64)  # smallest k seen meeting the target (-1: none)
    k = np.clip(start, 1, k_max).astype(np.int64)
    fitted = {}
    while True:
        q, e = ev(k)
        fitted[tuple(k)] = q
        ok = e <= target
        hi = np.where(ok & ((hi < 0) | (k < hi)), k, hi)
        lo = np.where(~ok & (k > lo), k, lo)
        if np.any((hi < 0) & (k >= k_max)):
            return None
        done = (hi >= 0) & (hi - lo <= 1)
        if done.all():
            break
        k = np.where(hi < 0, np.minimum(2 * k, k_max), np.where(done, hi, (lo + hi) // 2))
    key = tuple(hi)
    return (fitted[key] if key in fitted else ev(hi)[0]), hi


#: bytes a level costs in the file, roughly (float_rows of float32 levels after DEFLATE:
#: near-uniform levels a byte or less, Lloyd-Max levels about their 4 bytes); only the
#: allocation below uses them, the sizes reported are the files'
LEVEL_BYTES = {"UniformClipQuantizer": 0.5, "DeadZoneQuantizer": 1.0, "LloydMaxQuantizer": 4.0}


def _code_bytes(codes, n_levels):
    """Per feature, the bytes the coder spends on the codes, as ``skquant._coding``
    chooses: the fewest of the table's model (entropy and table), the flat model and
    (format version 7, one chunk of few rows) the adaptive model."""
    from skquant._coding import feature_bits

    return feature_bits(codes, n_levels) / 8


def allocation_grid(make, X, k_max, to_levels, level_bytes, steps=4):
    """Fits on a geometric grid of ``k`` (``steps`` per doubling, all features at
    once): per grid point, the per-feature normalised MSE and estimated bytes (codes
    and codebook). Returns ``(ks, nmse, cost)``, the last two ``(len(ks), d)``."""
    ev = _fit_eval(make, X)
    ks = sorted({min(k_max, max(1, round(2 ** (i / steps))))
                 for i in range(steps * int(math.log2(k_max)) + steps + 1)})
    X32 = X.astype(np.float32)
    nmse, cost = [], []
    for k in ks:
        q, e = ev(np.full(X.shape[1], to_levels(k)))
        nmse.append(e)
        cost.append(_code_bytes(q.transform(X32), q.n_levels_) + level_bytes * q.n_levels_)
    return np.array(ks), np.array(nmse), np.array(cost)


def allocate(grid, target):
    """The per-feature grid indices minimising the estimated bytes subject to the
    mean normalised MSE being at most ``target`` (Lagrangian: per feature, the index
    minimising ``cost + mu * nmse``, ``mu`` bisected on a log scale), or None."""
    ks, nmse, cost = grid
    d = nmse.shape[1]
    if nmse.min(axis=0).mean() > target:
        return None

    def pick(mu):
        i = np.argmin(cost + mu * nmse, axis=0)
        return i, nmse[i, np.arange(d)].mean()

    lo, hi = -10.0, 30.0  # log10 mu; at 1e30 each feature takes its smallest nmse
    best = pick(10.0**hi)[0]
    for _ in range(60):
        m = 0.5 * (lo + hi)
        i, e = pick(10.0**m)
        if e <= target:
            hi, best = m, i
        else:
            lo = m
    return best


def search_allocation(make, X, target, grid, to_levels):
    """The quantizer of the allocation of :func:`allocate` (refitted; per-feature fits
    are independent, so its errors are the grid's), if it meets ``target`` on the
    mean normalised MSE, else None."""
    i = allocate(grid, target)
    if i is None:
        return None
    ks = grid[0][i]
    q, e = _fit_eval(make, X)(np.array([to_levels(k) for k in ks]))
    return q if e.mean() <= target else None


def search_lam(make, X, target, lam0):
    """The largest ``lam`` (log-bisected, 12 steps) whose quantizer meets ``target``."""
    ev = _fit_eval(make, X)
    a, b = math.log(lam0) - 4, math.log(lam0) + 4  # lam = e**b assumed too coarse
    q, e = ev(math.exp(a))
    if e.mean() > target:
        return None
    best = q, math.exp(a)
    for _ in range(12):
        m = 0.5 * (a + b)
        q, e = ev(math.exp(m))
        if e.mean() <= target:
            a, best = m, (q, math.exp(m))
        else:
            b = m
    return best


def skquant_rows(X, targets):
    """Per quantizer, per target: ``(nbytes, description)`` or None; and the fixed-rate
    Lloyd-Max bytes (packed codes, no file)."""
    d = X.shape[1]
    X32 = X.astype(np.float32)
    specs = [
        ("UniformClipQuantizer", lambda M: UniformClipQuantizer(n_levels=M), lambda k: k + 1,
         MAX_LEVELS - 1),
        ("DeadZoneQuantizer", lambda M: DeadZoneQuantizer(n_levels=M), lambda k: 2 * k + 1,
         (MAX_LEVELS - 2) // 2),
        ("LloydMaxQuantizer", lambda M: LloydMaxQuantizer(n_levels=M), lambda k: k + 1,
         LLOYD_MAX_LEVELS - 1),
    ]
    out = {name: {} for name, *_ in specs}
    out["DeadZoneQuantizer lam"] = {}
    for name, *_ in specs:
        out[f"{name} allocated"] = {}
    fixed_rate = {}
    var = float(np.median(X.var(axis=0)[X.var(axis=0) > 0]))
    for name, make, to_levels, k_max in specs:
        grid = allocation_grid(make, X, k_max, to_levels, LEVEL_BYTES[name])
        for t in targets:
            q = search_allocation(make, X, t, grid, to_levels)
            out[f"{name} allocated"][t] = None if q is None else file_bytes(q, X32)
        start, prev_t = np.ones(d), None
        for t in targets:
            if prev_t is not None:
                start = np.ceil(start * math.sqrt(prev_t / t))
            found = search_levels(make, X, t, start, k_max, to_levels)
            prev_t = t
            if found is None:
                out[name][t] = None
                start = np.full(d, k_max)
                continue
            q, k = found
            start = k.astype(np.float64)
            M = q.n_levels_
            out[name][t] = file_bytes(q, X32)
            if name == "LloydMaxQuantizer":
                fixed_rate[t] = float(np.mean([int(m - 1).bit_length() for m in M])) / 8
            if name == "DeadZoneQuantizer":  # the lam design, at most 1.25 x these levels
                cap = 2 * np.ceil(0.625 * M).astype(np.int64) + 1
                lam = search_lam(lambda lam, cap=cap: DeadZoneQuantizer(n_levels=cap, lam=lam),
                                 X, t, 1.39 * t * var)
                out["DeadZoneQuantizer lam"][t] = None if lam is None else file_bytes(
                    lam[0], X32)
    return out, fixed_rate


# ------------------------------------------------------------------ the table
def bound_rows(name, targets):
    if name == "Gaussian":
        return [("Shannon bound R(D), unit Gaussian",
                 {t: max(0.0, 0.5 * math.log2(1 / t)) / 8 for t in targets})]
    if name == "Laplacian":
        return [("Shannon lower bound, unit Laplacian",
                 {t: max(0.0, 0.5 * math.log2(math.e / (math.pi * t))) / 8 for t in targets})]
    return []


def run_dataset(name, X, targets):
    n_values = X.size
    rows = []  # (label, {t: bytes per value or None}, {t: note})
    best_peer = {t: None for t in targets}
    t0 = time.perf_counter()
    for pname, prep, kind, lo, hi, make in peers(X):
        memo, vals = {}, {}
        for t in targets:
            r = search_peer(X, t, kind, lo, hi, make, memo)
            vals[t] = None if r is None else r[0] / n_values
            if r is not None and (best_peer[t] is None or vals[t] < best_peer[t][0]):
                best_peer[t] = (vals[t], f"{pname} ({prep})")
        rows.append((f"{pname} ({prep})", vals))
    t_sk = time.perf_counter()
    sk, fixed_rate = skquant_rows(X, targets)
    best_sk = {t: None for t in targets}
    codes_only = {}
    for qname, per_t in sk.items():
        vals = {}
        for t in targets:
            r = per_t.get(t)
            vals[t] = None if r is None else r[0] / n_values
            if r is not None and (best_sk[t] is None or vals[t] < best_sk[t][0]):
                best_sk[t] = (vals[t], f"{qname} ({r[2]})")
            if r is not None and (codes_only.get(t) is None or r[1] / n_values < codes_only[t]):
                codes_only[t] = r[1] / n_values
        rows.append((f"skquant {qname}", vals))
    rows.append(("skquant smallest coded codes alone (no estimator)", codes_only))
    rows.append(("fixed-rate Lloyd-Max (packed bits, no file)", fixed_rate))
    rows += bound_rows(name, targets)
    print(f"{name}: peers {t_sk - t0:.0f} s, skquant {time.perf_counter() - t_sk:.0f} s",
          file=sys.stderr)
    return rows, best_sk, best_peer


def format_block(name, X, targets, rows, best_sk, best_peer):
    def cell(v):
        return "-" if v is None else f"{v:.4f}" if v < 1 else f"{v:.3f}"

    head = f"{'bytes per value at normalised MSE <=':<50}" + "".join(
        f"{t:>9.0e}" for t in targets)
    lines = [f"{name}: {X.shape[0]} x {X.shape[1]} = {X.size} values", head,
             "-" * len(head)]
    for label, vals in rows:
        lines.append(f"{label:<50}" + "".join(f"{cell(vals.get(t)):>9}" for t in targets))
    lines.append("-" * len(head))
    lines.append(f"{'skquant best':<50}" + "".join(
        f"{cell(best_sk[t] and best_sk[t][0]):>9}" for t in targets))
    lines.append(f"{'best peer':<50}" + "".join(
        f"{cell(best_peer[t] and best_peer[t][0]):>9}" for t in targets))
    ratio = []
    for t in targets:
        s, p = best_sk[t], best_peer[t]
        ratio.append("-" if s is None or p is None else f"{p[0] / s[0]:.2f}")
    lines.append(f"{'best peer / skquant best (> 1: skquant smaller)':<50}"
                 + "".join(f"{r:>9}" for r in ratio))
    for t in targets:
        s, p = best_sk[t], best_peer[t]
        lines.append(f"  {t:.0e}: skquant {'-' if s is None else f'{s[0]:.4g} {s[1]}'}; "
                     f"peer {'-' if p is None else f'{p[0]:.4g} {p[1]}'}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="iris and a 2000 x 2 Gaussian, targets 1e-1 and 1e-3")
    parser.add_argument("--table", type=Path, default=None, help="also write the table here")
    parser.add_argument("--only", default=None,
                        help="run only the datasets whose name contains this text (or one "
                        "of these comma-separated texts)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    # "fewer distinct values than levels": those columns are then stored exactly
    warnings.filterwarnings("ignore", message=".*fewer distinct values", category=UserWarning)
    targets = QUICK_TARGETS if args.quick else TARGETS
    start = time.perf_counter()
    lines, summary = [], []
    cmd = "python benchmarks/bench_compression.py" + (" --quick" if args.quick else "") + (
        f" --only '{args.only}'" if args.only else "")
    for name, load in datasets(args.quick):
        if args.only and not any(o.strip().lower() in name.lower()
                                 for o in args.only.split(",")):
            continue
        X = load()
        if X is None:
            continue
        X = np.ascontiguousarray(X, dtype=np.float64)
        X = X[:, X.var(axis=0) > 0]  # constant columns carry nothing (see the docstring)
        rows, best_sk, best_peer = run_dataset(name, X, targets)
        block = format_block(name, X, targets, rows, best_sk, best_peer)
        print("\n".join(block) + "\n", flush=True)
        lines += block + [""]
        summary.append((name, best_sk, best_peer))
        if args.table:  # after each dataset, so that a partial run leaves its rows
            args.table.write_text("\n".join([f"{cmd} --table {args.table}",
                                             "(partial: the run is not finished)", ""]
                                            + lines).rstrip() + "\n", encoding="utf-8")
    from skquant._io import FORMAT_VERSION

    sizes = (f"skquant.compress files, format version {FORMAT_VERSION}, the smaller of "
             "coding='entropy' and coding='packed'")
    header = [f"{cmd} --table {args.table}" if args.table else cmd,
              f"(skquant sizes: {sizes}; zstd level {ZSTD_LEVEL}; "
              f"{time.perf_counter() - start:.0f} s)", ""]
    print(header[1])
    if args.table:
        args.table.write_text("\n".join(header + lines).rstrip() + "\n", encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
