"""Decoding speed of entropy-coded skquant codes against DEFLATE-decoding packed ones.

Same codes, same run: (a) zlib inflate of the DEFLATEd bit-packed codes + unpack
(skquant's packed coding), (b) skquant._coding.CodedCodes.decode (the rANS streams,
decoded by skquant's numba kernel, a batch of chunks at a time in parallel). The two
are timed interleaved, best of ``--repeats``; prints the seconds and the ratio (b)/(a)
(ratio <= 1 is the issue's target). ``--quick`` is 10**6 values (a single chunk),
else 10**7 (10 chunks); ``--threads`` sets numba's threads (default: all).

    python benchmarks/bench_coding.py [--quick] [--threads 1] [--bits 8]
"""

import argparse
import contextlib
import io
import time
import zlib

import numba
import numpy as np

from skquant import UniformClipQuantizer, _coding, _io


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="10**6 values instead of 10**7")
    p.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    p.add_argument("--bits", type=int, default=8, help="bits of the uniform codes")
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    numba.set_num_threads(args.threads)
    n = 250_000 if args.quick else 2_500_000
    X = np.random.default_rng(0).laplace(size=(n, 4))
    q = UniformClipQuantizer(n_bits=args.bits).fit(X)
    codes = q.transform(X)
    widths = _io._widths(q)
    deflated = zlib.compress(_io.pack_codes(codes, widths).tobytes(), 6)
    spec, arrays, stream = _coding.encode(codes, q.n_levels_)
    raw = stream.astype("<u4").tobytes()

    @contextlib.contextmanager
    def open_stream():
        yield io.BytesIO(raw), stream.size

    def packed():
        buf = np.frombuffer(zlib.decompress(deflated), dtype=np.uint8)
        return _io.unpack_codes(buf, widths, n, codes.dtype)

    def coded():
        c = _coding.CodedCodes(spec, dict(arrays), q.n_levels_, codes.shape, codes.dtype,
                               open_stream)
        return c.decode()

    assert np.array_equal(packed(), codes) and np.array_equal(coded(), codes)
    runs = {"zlib+unpack": packed, "rANS": coded}
    times = dict.fromkeys(runs, np.inf)
    for _ in range(args.repeats):
        for name, f in runs.items():
            t = time.perf_counter()
            f()
            times[name] = min(times[name], time.perf_counter() - t)

    lanes = _coding.CODERS[spec["coder"]]
    n_chunks = (arrays[_coding.CHUNKS].size - 1) // lanes
    entropy = sum(-(c * np.log2(c / n)).sum()
                  for c in (np.unique(col, return_counts=True)[1] for col in codes.T)) / 8
    print(f"{codes.size} values, {args.bits}-bit uniform codes of a Laplacian: packed+DEFLATE "
          f"{len(deflated)} B, rANS {4 * stream.size} B ({4 * stream.size / entropy:.4f} x "
          f"the empirical entropy) in {n_chunks} chunks of {lanes} lanes, "
          f"{numba.get_num_threads()} threads")
    for name, t in times.items():
        print(f"{name:<12} {t:.4f} s  {codes.size / t / 1e6:.0f} M values/s")
    print(f"ratio rANS / (zlib+unpack): {times['rANS'] / times['zlib+unpack']:.2f}")


if __name__ == "__main__":
    main()
