"""Decoding speed of entropy-coded skquant codes against DEFLATE-decoding packed ones.

Same codes, same run: (a) zlib inflate of the DEFLATEd bit-packed codes + unpack
(skquant's packed coding), (b) skquant._coding.CodedCodes.decode (the rANS streams,
decoded by skquant's numba kernel, a batch of chunks at a time in parallel). Prints the
seconds and the ratio (b)/(a); ratio <= 1 is the issue's target. ``--quick`` is a
single chunk (one thread).

    python benchmarks/bench_coding.py [--quick]
"""

import argparse
import io
import time
import zlib

import numpy as np

from skquant import UniformClipQuantizer, _coding, _io


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="10**6 values instead of 10**7")
    args = p.parse_args()
    n = 250_000 if args.quick else 2_500_000
    X = np.random.default_rng(0).laplace(size=(n, 4))
    q = UniformClipQuantizer(n_bits=8).fit(X)
    codes = q.transform(X)
    widths = _io._widths(q)
    deflated = zlib.compress(_io.pack_codes(codes, widths).tobytes(), 6)
    spec, arrays, stream = _coding.encode(codes, q.n_levels_)
    raw = stream.astype("<u4").tobytes()

    def opener():
        import contextlib

        @contextlib.contextmanager
        def open_stream():
            yield io.BytesIO(raw), stream.size
        return open_stream

    def packed():
        buf = np.frombuffer(zlib.decompress(deflated), dtype=np.uint8)
        return _io.unpack_codes(buf, widths, n, codes.dtype)

    def coded():
        c = _coding.CodedCodes(spec, dict(arrays), q.n_levels_, codes.shape, codes.dtype,
                               opener())
        return c.decode()

    assert np.array_equal(packed(), codes) and np.array_equal(coded(), codes)
    times = {}
    for name, f in (("zlib+unpack", packed), ("rANS", coded)):
        best = np.inf
        for _ in range(3):
            t = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t)
        times[name] = best
    import numba

    print(f"{codes.size} values, 8-bit uniform codes of a Laplacian: packed+DEFLATE "
          f"{len(deflated)} B, rANS {4 * stream.size} B in "
          f"{arrays[_coding.CHUNKS].size - 1} chunks, {numba.get_num_threads()} threads")
    for name, t in times.items():
        print(f"{name:<12} {t:.3f} s  {codes.size / t / 1e6:.0f} M values/s")
    print(f"ratio rANS / (zlib+unpack): {times['rANS'] / times['zlib+unpack']:.2f}")


if __name__ == "__main__":
    main()
