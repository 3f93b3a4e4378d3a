"""Coverage-guided fuzzing of skquant's file loader and the command line's readers.

Structure-aware: every input is turned, through atheris's FuzzedDataProvider, into
one of

- a skquant file derived from a valid one (every registered estimator variant, with
  and without codes, in the ZIP archive and, from format version 6, the compact
  container): a field of its header JSON replaced by a fuzzed value, or bytes of one
  array overwritten, and the digest recomputed the way ``doc/file_format.rst``
  describes (so mutations get past it); sometimes raw bytes of the file flipped, a ZIP
  member recompressed with another method, duplicated or added, bytes appended to a
  compact file;
- a ``.csv``, ``.npy``, ``.npz`` or ``.parquet`` file for ``skquant._cli.read_table``.

Oracle: ``skquant.load`` either raises ``ValueError`` or gives an estimator whose
``transform``, ``inverse_transform`` and ``score`` work on data of its width;
``read_table`` either raises ``CLIError`` or returns a finite 2-D float table. Any
other exception is a crash; a peak of traced memory above 1032 times the input size
(plus a 4 MiB floor), on a second run of the same input too (the first run of a path
also pays one-off costs: a lazily imported module, a numba cache entry), is an
allocation finding; libFuzzer's ``-timeout`` flags hangs
and ``-rss_limit_mb`` the process's memory. A finding writes the derived file to the
folder named by the environment variable ``SKQUANT_FUZZ_FINDINGS`` (default
``tests/fuzz_corpus/``), which ``tests/test_fuzz_corpus.py`` replays.

Run (one process; the arguments after ``--`` go to libFuzzer)::

    python benchmarks/fuzz_loader.py -- -max_total_time=1800 -timeout=20 -rss_limit_mb=3072 CORPUS

and the files derived from the corpus it grew (the inputs that reached new code) are
exported as the regression corpus with::

    python benchmarks/fuzz_loader.py --export tests/fuzz_corpus CORPUS
"""

import copy
import hashlib
import io
import json
import os
import sys
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import atheris
import numpy as np

from skquant import _cli, _coding, _io, _schema


def _instrument(module):
    """Coverage for the Python functions of ``module`` (the numba kernels are compiled
    from their bytecode, so skquant's modules are instrumented one function at a time,
    never at import)."""
    import inspect

    for obj in list(vars(module).values()):
        funcs = [obj] if inspect.isfunction(obj) else [
            v for v in vars(obj).values() if inspect.isfunction(v)] if inspect.isclass(obj) \
            else []
        for f in funcs:
            if f.__module__ == module.__name__:
                atheris.instrument_func(f)


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import loader_oracle as oracle  # noqa: E402  (the oracle the corpus replay uses)
from test_forged_files import _header_paths as _nodes  # noqa: E402
from test_forged_files import _members as forged_members  # noqa: E402
from test_forged_files import (  # noqa: E402  (version 6)
    compact_members,
    forge,  # noqa: E402  (the documented digest, every version)
    forge_compact,
)

FINDINGS = Path(os.environ.get("SKQUANT_FUZZ_FINDINGS", ROOT / "tests" / "fuzz_corpus"))
SUFFIXES = [".csv", ".npy", ".npz", ".parquet"]
_SEEDS = []
_STATS = {"n": 0, "loaded": 0, "refused": 0, "tables": 0, "warm-up": 0}


def seeds():
    """Valid files: every registered variant, fitted on small data, with codes for
    the scalar quantizers."""
    from skquant._base import BaseScalarQuantizer
    from skquant._registry import estimator_variants

    X = np.random.default_rng(0).standard_normal((30, 3))
    out, out_entropy = [], set()
    for _, est in estimator_variants():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X)
        buf = io.BytesIO()
        codes = None
        if isinstance(est, BaseScalarQuantizer):
            from sklearn.base import clone

            codes = clone(est).set_params(encode="ordinal").fit(X).transform(X)
        _io.write(buf, est, codes=codes)  # with codes: the compact container
        out.append(buf.getvalue())
        if codes is not None and type(est) not in out_entropy:  # entropy-coded, per class
            out_entropy.add(type(est))
            for container in ("zip", "compact"):
                buf = io.BytesIO()
                _io.write(buf, est, codes=codes, coding="entropy", container=container)
                out.append(buf.getvalue())
    return out + coded_seeds()


def coded_seeds():
    """Entropy-coded files (needs constriction): one lane per chunk (30 x 3 values),
    the 8 interleaved lanes of ``constriction-ans32-categorical-x8`` (one chunk of
    2**17 values, nearly all one code: a stream of a few hundred words, so that the
    file stays small and fast to fuzz), and features under the adaptive model of
    format version 7 (200 x 2 Laplacian values at 4 bits)."""
    from skquant import UniformClipQuantizer, _coding

    try:
        _coding._constriction()
    except ImportError:
        return []
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random((2**17, 1)) < 0.01, rng.standard_normal((2**17, 1)), 0.0)
    out = []
    for X, bits in ((rng.standard_normal((30, 3)), 2), (sparse, 2),
                    (rng.laplace(size=(200, 2)), 4)):
        q = UniformClipQuantizer(n_bits=bits, clip="minmax", encode="ordinal").fit(X)
        buf = io.BytesIO()
        for container in ("zip", "compact"):
            buf = io.BytesIO()
            _io.write(buf, q, codes=q.transform(X), coding="entropy", container=container)
            out.append(buf.getvalue())
    return out


def _members(data):
    """``(header, arrays, streams, layout)``: the forging view of
    tests/test_forged_files.py (every format version; float_rows decoded), the members
    outside the state (the entropy-coded stream) as bytes, and the format version
    whose member layout the file has."""
    if data[:3] == _io.MAGIC:  # version 6's compact container: the short header
        header, arrays, tail = compact_members(data)
        return header, arrays, {"tail": tail}, "compact"
    header, arrays = forged_members(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        streams = {n: zf.read(n) for n in zf.namelist() if "stream" in n}
    return header, arrays, streams, header["format_version"]


def _zip(header, arrays, streams, layout, method=zipfile.ZIP_DEFLATED, extra=(),
         restream=False):
    """The file, its digests recomputed as documented (doc/file_format.rst); the
    stream's own digest too when ``restream`` (its words were edited)."""
    if layout == "compact":
        codes = header.get("x")
        tail = streams["tail"] + b"".join(blob for _, blob in extra)
        if restream and isinstance(codes, dict) and "stream_sha256" in codes:
            codes["stream_sha256"] = hashlib.sha256(tail).hexdigest()
        return forge_compact(header, arrays, tail)
    codes = header.get("codes")
    if restream and isinstance(codes, dict) and _coding.STREAM_NPY in streams:
        try:
            stream = np.load(io.BytesIO(streams[_coding.STREAM_NPY]), allow_pickle=False)
            codes["stream_sha256"] = hashlib.sha256(stream.tobytes()).hexdigest()
        except Exception:  # a damaged stream member: its digest stays as it was
            pass
    return forge(header, arrays, method, extra=[*streams.items(), *extra], layout=layout)


def _value(fdp):
    choice = fdp.ConsumeIntInRange(0, 11)
    return [
        lambda: None, lambda: fdp.ConsumeBool(), lambda: fdp.ConsumeInt(8),
        lambda: fdp.ConsumeFloat(), lambda: fdp.ConsumeUnicodeNoSurrogates(12),
        lambda: [fdp.ConsumeInt(2) for _ in range(fdp.ConsumeIntInRange(0, 4))],
        lambda: {"type": fdp.PickValueInList(
            ["none", "bool", "int", "float", "str", "array", "list", "dict", "sketches",
             "str_array", "scipy_distribution", "tuple"])},
        lambda: fdp.PickValueInList(["nan", "inf", "-inf", "<f8", "|O", "<c16", "|b1"]),
        lambda: [fdp.ConsumeIntInRange(0, 2**40) for _ in range(fdp.ConsumeIntInRange(0, 3))],
        lambda: 2 ** fdp.ConsumeIntInRange(0, 80),
        lambda: -fdp.ConsumeIntInRange(0, 2**20),
        lambda: {"type": "str", "value": fdp.ConsumeUnicodeNoSurrogates(8)},
    ][choice]()


_VIEWS = {}


def mutate_file(fdp):
    i = fdp.ConsumeIntInRange(0, len(_SEEDS) - 1)
    if i not in _VIEWS:
        _VIEWS[i] = _members(_SEEDS[i])
    header, arrays, streams, layout = copy.deepcopy(_VIEWS[i])
    restream = False
    kind = fdp.ConsumeIntInRange(0, 10)
    method, extra = zipfile.ZIP_DEFLATED, ()
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        if kind <= 4:  # a header field
            paths = list(_nodes(header))[1:]
            path = paths[fdp.ConsumeIntInRange(0, len(paths) - 1)]
            node = header
            for key in path[:-1]:
                node = node[key]
            if fdp.ConsumeIntInRange(0, 7) == 0 and isinstance(node, dict):
                del node[path[-1]]
            else:
                node[path[-1]] = _value(fdp)
        elif kind <= 7 and arrays:  # bytes of an array, or its dtype
            key = sorted(arrays)[fdp.ConsumeIntInRange(0, len(arrays) - 1)]
            arr = np.array(arrays[key])
            if fdp.ConsumeBool() and arr.size:
                raw = bytearray(arr.tobytes())
                for _ in range(fdp.ConsumeIntInRange(1, 8)):
                    raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
                arr = np.frombuffer(bytes(raw), dtype=arr.dtype).reshape(arr.shape).copy()
            else:
                dtype = fdp.PickValueInList(["<f4", "<f8", "<i8", "<i4", "|u1", "|b1", "<u8"])
                arr = arr.astype(dtype) if fdp.ConsumeBool() else arr.ravel()[
                    : fdp.ConsumeIntInRange(0, arr.size)].astype(dtype)
            arrays[key] = arr
            spec = header.get("estimator", {}).get("attributes", {}).get(
                key.split(".", 1)[-1]) if layout != "compact" else None
            if isinstance(spec, dict) and spec.get("type") == "array" and fdp.ConsumeBool():
                spec["dtype"], spec["shape"] = arr.dtype.str, list(arr.shape)
        elif kind == 8 and streams:  # words of the entropy-coded stream
            name = "tail" if layout == "compact" else _coding.STREAM_NPY
            raw = bytearray(streams[name])
            for _ in range(fdp.ConsumeIntInRange(1, 8) if raw else 0):
                raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
            if fdp.ConsumeIntInRange(0, 3) == 0:
                raw = raw[: fdp.ConsumeIntInRange(0, len(raw))]
            streams[name] = bytes(raw)
            restream = fdp.ConsumeIntInRange(0, 7) != 0
        elif kind == 9:
            method = fdp.PickValueInList([zipfile.ZIP_STORED, zipfile.ZIP_BZIP2,
                                          zipfile.ZIP_LZMA])
        else:
            extra = [(fdp.PickValueInList(["header.json", "attr.levels_.npy", "x/../y",
                                           "attr.a\nb.npy", "codes.npy"]),
                      fdp.ConsumeBytes(64))]
    out = _zip(header, arrays, streams, layout, method, extra, restream)
    if fdp.ConsumeIntInRange(0, 15) == 0:  # raw damage of the archive
        raw = bytearray(out)
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
        out = bytes(raw)
    return out


def check_file(data):
    _STATS[oracle.check_file(data)] += 1


def check_table(data, suffix):
    if oracle.check_table(data, suffix) == "read":
        _STATS["tables"] += 1


def _table_bytes(fdp, suffix):
    if fdp.ConsumeBool() or suffix == ".csv":
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
    buf = io.BytesIO()
    shape = (fdp.ConsumeIntInRange(0, 6), fdp.ConsumeIntInRange(0, 4))
    arr = np.frombuffer(fdp.ConsumeBytes(8 * shape[0] * shape[1]).ljust(
        8 * shape[0] * shape[1], b"\0"), dtype="<f8").reshape(shape)
    if suffix == ".npz":
        np.savez(buf, arr)
    else:
        np.save(buf, arr)
    raw = bytearray(buf.getvalue())
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        if raw:
            raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
    return bytes(raw)


def save_finding(data, suffix, why):
    FINDINGS.mkdir(parents=True, exist_ok=True)
    name = FINDINGS / f"finding-{hashlib.sha1(data).hexdigest()[:12]}{suffix}"
    name.write_bytes(data)
    print(f"FINDING {name.name}: {why}", file=sys.stderr, flush=True)


def _bound(data):
    return 1032 * len(data) + 4 * 2**20


def _peak_of(data, suffix):
    """Bytes allocated at the peak of checking ``data``, above what was live before."""
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        if suffix == ".skq":
            check_file(data)
        else:
            check_table(data, suffix)
    except Exception as exc:
        save_finding(data, suffix, f"{type(exc).__name__}: {exc}")
        raise
    return tracemalloc.get_traced_memory()[1] - base


def TestOneInput(raw):
    fdp = atheris.FuzzedDataProvider(raw)
    target = fdp.ConsumeIntInRange(0, 4)
    _STATS["n"] += 1
    if target <= 2:
        data, suffix = mutate_file(fdp), ".skq"
    else:
        suffix = SUFFIXES[fdp.ConsumeIntInRange(0, 3)]
        data = _table_bytes(fdp, suffix)
    peak = _peak_of(data, suffix)
    if peak > _bound(data):
        # a first call also pays one-off costs (a lazily imported module, a numba
        # cache entry loaded): an input is flagged only if it allocates again
        _STATS["warm-up"] += 1
        peak = _peak_of(data, suffix)
    if peak > _bound(data):
        save_finding(data, suffix, f"peak allocation {peak} bytes for {len(data)} input bytes")
        raise MemoryError(f"allocated {peak} bytes for an input of {len(data)}")
    if _STATS["n"] % 2000 == 0:
        print(f"stats {_STATS}", file=sys.stderr, flush=True)


def derive(raw):
    """``(data, suffix)``: the file that :func:`TestOneInput` checks for ``raw``."""
    fdp = atheris.FuzzedDataProvider(raw)
    if fdp.ConsumeIntInRange(0, 4) <= 2:
        return mutate_file(fdp), ".skq"
    suffix = SUFFIXES[fdp.ConsumeIntInRange(0, 3)]
    return _table_bytes(fdp, suffix), suffix


def export(corpus_dirs, out, limit):
    """Write the files derived from a libFuzzer corpus (``--export OUT``): the
    regression corpus that ``tests/test_fuzz_corpus.py`` replays. Keeps at most
    ``limit`` files, smallest inputs first, one per distinct derived file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _SEEDS.extend(seeds())
    raws = sorted((p.read_bytes() for d in corpus_dirs for p in Path(d).iterdir()), key=len)

    written = set()
    for raw in raws:
        data, suffix = derive(raw)
        digest = hashlib.sha1(data).hexdigest()[:12]
        if digest in written:
            continue
        written.add(digest)
        (out / f"seed-{digest}{suffix}").write_bytes(data)
        if len(written) >= limit:
            break
    print(f"{len(written)} files in {out}")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--export":
        # python benchmarks/fuzz_loader.py --export tests/fuzz_corpus CORPUS_DIR...
        return export(sys.argv[3:], sys.argv[2], limit=80)
    for module in (_io, _coding, _schema, _cli, zipfile, json.decoder):
        _instrument(module)
    _SEEDS.extend(seeds())
    for data in _SEEDS:  # warm up the schema caches and numba before measuring
        check_file(data)
    tracemalloc.start()
    argv = [sys.argv[0]] + [a for a in sys.argv[1:] if a != "--"]
    atheris.Setup(argv, TestOneInput)
    try:
        atheris.Fuzz()
    finally:
        print(f"stats {_STATS}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
