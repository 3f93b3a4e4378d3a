"""Entropy coding of a scalar quantizer's codes (the ``"entropy"`` coding of skquant files).

The codes of each feature are coded with asymmetric numeral systems (rANS, the
``AnsCoder`` of `constriction <https://bamler-lab.github.io/constriction/>`_: 32-bit
words, probabilities quantized to 24 bits) under a categorical model of that feature:
the counts of the codes it uses, over the whole file. The rows are cut into chunks of
``chunk_rows`` rows, each its own coded stream (feature 0's codes of the chunk, then
feature 1's, ...), so a reader decodes one chunk at a time in bounded memory.

Members of an entropy-coded file (besides the estimator's), all ``.npy``:

- ``codes.table.npy`` (``uint8``, stored): per feature, for each code it uses in
  increasing order, the LEB128 varint of the gap to the previous used code and that of
  its count minus one (:func:`skquant._entropy.table_bytes` is its size);
- ``codes.chunks.npy`` (``int64``): the word offset of each chunk's stream, and the
  total (``n_chunks + 1`` values, from 0, non-decreasing);
- ``codes.stream.npy`` (``<u4``, stored): the streams of all chunks, one after the
  other. It is read chunk by chunk, and its own SHA-256 is in the header.

``constriction`` writes the streams only, and is imported only when a file is coded
(``pip install "skquant[coding]"``). Reading decodes them with skquant's own numba
kernel (:mod:`skquant._kernels._rans`, bit-exact with constriction 0.5's decoder, whose
rules it documents) a batch of chunks at a time, in parallel: constriction's decoder,
called once per chunk and feature, measured 6.3 times slower than zlib inflate + unpack
of the same codes bit-packed (``benchmarks/bench_coding.py``); no constriction is
needed to read.
"""

import hashlib
import math

import numba
import numpy as np

from . import _kernels
from ._entropy import column_counts, varint_bytes

CODER = "constriction-ans32-categorical"
TABLE, CHUNKS, STREAM = "codes.table", "codes.chunks", "codes.stream"
#: values per chunk (rows * features) the writer aims at
CHUNK_VALUES = 2**20
#: a reader refuses chunks of more values than this (its memory per chunk is bounded)
MAX_CHUNK_VALUES = 2**22
#: values a reader decodes at once (whole chunks, at least one)
BATCH_VALUES = 2**21
#: 24-bit probabilities: a symbol never costs more than 24 bits, a stream's end 2 words
_MAX_SYMBOL_BITS = 24
_MAX_VARINT_BYTES = 9  # values below 2**63


#: the ``.npy`` member names, as messages name them
TABLE_NPY, CHUNKS_NPY, STREAM_NPY = TABLE + ".npy", CHUNKS + ".npy", STREAM + ".npy"
#: the header fields of entropy-coded codes (besides shape, data_dtype and columns)
SPEC_FIELDS = ("coding", "coder", "chunk_rows", "symbols", "stream_sha256")
_NPY_HEADER_MAX = 4096  # bytes of a .npy header skquant writes (magic, length, dict)


class Malformed(ValueError):
    """A malformed entropy-coded member (``skquant._io`` adds the file name)."""


def _expect(cond, message):
    if not cond:
        raise Malformed(message)


def _constriction():
    try:
        import constriction
    except ImportError:
        raise ImportError(
            'entropy-coded skquant files need constriction: pip install "skquant[coding]" '
            '(or write with coding="packed")'
        ) from None
    return constriction


def _model(constriction, counts):
    # the counts as float64 (exact below 2**53): constriction's leaky quantization to
    # 24 bits is deterministic given them, so writer and reader build the same model
    return constriction.stream.model.Categorical(np.asarray(counts, dtype=np.float64),
                                                 perfect=False)


def chunk_rows_for(n_features):
    return max(1, CHUNK_VALUES // max(1, n_features))


# ------------------------------------------------------------------ varints
def _write_varints(values):
    v = np.asarray(values, dtype=np.uint64)
    lengths = varint_bytes(v)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    out = np.zeros(int(lengths.sum()), dtype=np.uint8)
    for b in range(int(lengths.max(initial=0))):
        has = lengths > b
        byte = (v[has] >> np.uint64(7 * b)) & np.uint64(0x7F)
        more = (lengths[has] > b + 1).astype(np.uint64) << np.uint64(7)
        out[starts[has] + b] = (byte | more).astype(np.uint8)
    return out


def _read_varints(buf, count):
    """``count`` canonical varints filling ``buf`` exactly (uint64)."""
    buf = np.asarray(buf, dtype=np.uint8)
    ends = buf < 0x80
    _expect(int(ends.sum()) == count and (buf.size == 0 or ends[-1]),
            f"{TABLE_NPY}: expected {count} varints filling {buf.size} bytes")
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    last = np.flatnonzero(ends)
    starts = np.concatenate([[0], last[:-1] + 1])
    lengths = last - starts + 1
    _expect(lengths.max() <= _MAX_VARINT_BYTES, f"{TABLE_NPY}: a varint is too long")
    _expect(not np.any((lengths > 1) & (buf[last] == 0)), f"{TABLE_NPY}: a varint is not canonical")
    pos = np.arange(buf.size) - np.repeat(starts, lengths)
    parts = (buf & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
    return np.add.reduceat(parts, starts)  # the parts' bits do not overlap: a sum is an or


# ------------------------------------------------------------------ writing
def encode(codes, n_levels):
    """Entropy-code ``codes`` (n_samples, n_features): ``(spec, arrays, stream)`` with
    ``spec`` the header fields, ``arrays`` the table and chunk members and ``stream``
    the uint32 words of all chunks."""
    constriction = _constriction()
    codes = np.asarray(codes)
    n, d = codes.shape
    levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
    tables, used, lookups, models = [], [], [], []
    for j in range(d):
        symbols, counts = column_counts(codes[:, j], levels[j])
        if n and (symbols[-1] >= levels[j] or codes[:, j].min() < 0):
            raise ValueError(f"codes of column {j} must be within 0 .. {levels[j] - 1}")
        gaps = np.diff(symbols, prepend=-1) - 1
        tables.append(np.column_stack([gaps, counts - 1]).ravel())
        used.append(int(symbols.size))
        lookup = np.zeros(int(levels[j]), dtype=np.int32)
        lookup[symbols] = np.arange(symbols.size, dtype=np.int32)
        lookups.append(lookup)
        models.append(_model(constriction, counts) if symbols.size > 1 else None)
    table = _write_varints(np.concatenate(tables) if tables else np.zeros(0, np.int64))
    rows = chunk_rows_for(d)
    words, offsets = [], [0]
    coded = [j for j in range(d) if models[j] is not None]
    for a in range(0, n, rows):
        block = codes[a:a + rows]
        coder = constriction.stream.stack.AnsCoder()
        for j in reversed(coded):  # a stack: the last encoded is the first decoded
            coder.encode_reverse(lookups[j][block[:, j]], models[j])
        w = coder.get_compressed().astype("<u4", copy=False)
        words.append(w)
        offsets.append(offsets[-1] + w.size)
    stream = np.concatenate(words) if words else np.zeros(0, dtype="<u4")
    spec = {
        "coding": "entropy",
        "coder": CODER,
        "chunk_rows": rows,
        "symbols": used,
        "stream_sha256": hashlib.sha256(stream.tobytes()).hexdigest(),
    }
    arrays = {TABLE: table, CHUNKS: np.asarray(offsets, dtype=np.int64)}
    return spec, arrays, stream


# ------------------------------------------------------------------ reading
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_spec(spec, shape):
    """Check the header fields of entropy-coded codes against the codes' ``shape``
    (``n_samples, n_features``), before any member is read: ``(chunk_rows, used)``
    with ``used`` the number of codes each feature uses (int64 array)."""
    n, d = shape
    _expect(spec.get("coder") == CODER, f"codes: unknown coder {spec.get('coder')!r}")
    rows, used, digest = spec.get("chunk_rows"), spec.get("symbols"), spec.get("stream_sha256")
    top = max(1, MAX_CHUNK_VALUES // max(d, 1))
    _expect(_is_int(rows) and 1 <= rows <= top,
            f"codes: chunk_rows {rows!r} out of range 1 .. {top}")
    _expect(isinstance(used, list) and len(used) == d and all(_is_int(u) for u in used),
            "codes: symbols must be one integer per feature")
    used = np.asarray(used, dtype=np.int64)
    _expect(np.all((used >= (1 if n else 0)) & (used <= (min(n, 2**16) if n else 0))),
            "codes: the numbers of used codes (symbols) must be within 1 .. n_levels_ "
            "and the number of rows (0 without rows)")
    _expect(isinstance(digest, str) and len(digest) == 64
            and all(c in "0123456789abcdef" for c in digest), "codes: bad stream_sha256")
    return rows, used


def _max_words(rows, coded):
    """Words a chunk of ``rows`` rows of ``coded`` entropy-coded features can take."""
    return math.ceil(rows * coded * _MAX_SYMBOL_BITS / 32) + 2


def check_member_sizes(spec, shape, infos):
    """Refuse ``codes.*`` members larger than a file with this header can hold, from
    the archive's directory (``infos``: member name -> ``zipfile.ZipInfo``) alone,
    before anything is read or allocated."""
    rows, used = check_spec(spec, shape)
    n = shape[0]
    n_chunks = -(-n // rows)
    limits = {
        TABLE_NPY: 2 * _MAX_VARINT_BYTES * int(used.sum()),
        CHUNKS_NPY: 8 * (n_chunks + 1),
        STREAM_NPY: 4 * n_chunks * _max_words(rows, int(np.sum(used > 1))),
    }
    for name, limit in limits.items():
        _expect(name in infos, f"{name}: the member is missing")
        size = infos[name].file_size
        _expect(size <= limit + _NPY_HEADER_MAX,
                f"{name}: {size} bytes, more than the {limit} (plus a .npy header) "
                "its header allows")


def _stream_header(f, size):
    """Read the .npy header of ``codes.stream.npy`` from ``f`` (``size`` bytes in all):
    the number of words, checked to fill the member exactly."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise Malformed(f"{STREAM_NPY}: unsupported .npy version {version}")
    except Malformed:
        raise
    except ValueError as exc:
        raise Malformed(f"{STREAM_NPY}: bad .npy header ({exc})") from None
    _expect(dtype == np.dtype("<u4") and not fortran and len(shape) == 1,
            f"{STREAM_NPY}: expected a 1-D <u4 array, got {dtype} of shape {shape}")
    _expect(f.tell() + 4 * shape[0] == size,
            f"{STREAM_NPY}: {shape[0]} words do not fill its {size} bytes")
    return shape[0]


def stream_opener(file):
    """A callable opening the stream member of the skquant file ``file`` (a path, or a
    seekable binary file that stays open): a context manager of ``(f, n_words)``, ``f``
    positioned at the first word."""
    import contextlib
    import zipfile

    @contextlib.contextmanager
    def open_stream():
        with zipfile.ZipFile(file) as zf, zf.open(STREAM_NPY) as f:
            yield f, _stream_header(f, zf.getinfo(STREAM_NPY).file_size)

    return open_stream


def stream_member_bytes(stream):
    """The ``.npy`` header of the stream member (the words follow it)."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<u4", "fortran_order": False, "shape": (int(stream.size),)})
    return buf.getvalue()


class Tables:
    """The decoding tables of features whose used codes have ``counts`` (one int64
    array per feature) and are ``symbols`` (default: ``0 .. u - 1``), for
    :func:`skquant._kernels.rans_decode`."""

    def __init__(self, counts, symbols=None):
        d = len(counts)
        used = np.array([c.size for c in counts], dtype=np.int64)
        self.used = used
        self.count_starts = np.concatenate([[0], np.cumsum(used)]).astype(np.int64)
        if symbols is None:
            symbols = [np.arange(u) for u in used]
        self.symbols = np.concatenate([np.zeros(0, np.int64), *symbols]).astype(np.int64)
        self.bits = _kernels.rans_slot_bits(used)
        self.cdf_starts = self.count_starts[:-1] + np.arange(d, dtype=np.int64)
        widths = np.where(used > 1, (1 << self.bits) + 1, 0)
        self.slot_starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        self.cdf = np.zeros(int(self.count_starts[-1]) + d, dtype=np.uint64)
        slots = np.zeros(int(widths.sum()), dtype=np.int64)
        self.entries = np.zeros(slots.size, dtype=np.uint64)
        flat = np.concatenate([np.zeros(0, np.int64), *counts]).astype(np.int64)
        _kernels.rans_tables(flat, self.count_starts, self.bits, self.cdf, self.cdf_starts,
                             slots, self.entries, self.slot_starts)

    def new_seen(self, n_threads):
        """Per-thread counts of the decoded codes (sum the rows for the totals)."""
        return np.zeros((n_threads, self.symbols.size), dtype=np.int64)

    def decode(self, words, word_starts, row_starts, out, seen):
        """Decode chunks (``words[word_starts[i]:word_starts[i + 1]]`` holding rows
        ``row_starts[i]:row_starts[i + 1]`` of ``out``, counted into ``seen``):
        ``(states, left)``, see :func:`skquant._kernels.rans_decode`."""
        n_chunks = word_starts.size - 1
        padded = np.zeros(words.size + 1, dtype=np.uint32)
        padded[:-1] = words
        states = np.zeros(n_chunks, dtype=np.uint64)
        left = np.zeros(n_chunks, dtype=np.int64)
        _kernels.rans_decode(padded, np.asarray(word_starts, dtype=np.int64),
                             np.asarray(row_starts, dtype=np.int64), self.used,
                             self.count_starts, self.symbols, self.cdf, self.cdf_starts,
                             self.entries, self.slot_starts, self.bits, out, seen, states,
                             left)
        return states, left


class CodedCodes:
    """The entropy-coded codes of a file, decoded chunk by chunk from ``open_stream``
    (a callable returning a context manager of a binary file positioned at the first
    word of ``codes.stream.npy``, and the number of words it holds).

    Everything but the stream is checked here: the header fields, the table (canonical
    varints, codes within ``n_levels``, counts summing to the rows) and the chunk
    offsets (from 0, non-decreasing, each chunk within the words its rows can take);
    the stream is checked while it is decoded (its SHA-256, each chunk ending exactly
    at its last word)."""

    def __init__(self, spec, arrays, n_levels, shape, dtype, open_stream):
        n, d = shape
        rows, used = check_spec(spec, shape)
        for key in (TABLE, CHUNKS):
            _expect(key in arrays, f"{key}.npy: the member is missing")
        table, offsets = arrays.pop(TABLE), arrays.pop(CHUNKS)
        _expect(table.dtype == np.uint8 and table.ndim == 1
                and table.size <= 2 * _MAX_VARINT_BYTES * int(used.sum()),
                f"{TABLE_NPY}: expected a 1-D uint8 array of at most 18 bytes per used "
                f"code, got {table.dtype} of shape {table.shape}")
        values = _read_varints(table, 2 * int(used.sum()))
        n_levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
        self.symbols, self.counts = [], []
        bounds = np.concatenate([[0], np.cumsum(used)])
        for j in range(d):
            gaps, counts = values[2 * bounds[j]:2 * bounds[j + 1]].reshape(-1, 2).T
            _expect(np.all(gaps < np.uint64(2**31)) and np.all(counts < np.uint64(2**62)),
                    f"{TABLE_NPY}: the table of column {j} is out of range")
            symbols = np.cumsum(gaps.astype(np.int64) + 1) - 1
            counts = counts.astype(np.int64) + 1
            _expect(symbols.size == 0 or symbols[-1] < n_levels[j],
                    f"{TABLE_NPY}: the table of column {j} has a code beyond its "
                    f"{n_levels[j]} levels (n_levels_)")
            _expect(int(counts.sum()) == n, f"{TABLE_NPY}: the counts of column {j} do not "
                                            f"sum to the {n} rows")
            self.symbols.append(symbols)
            self.counts.append(counts)
        n_chunks = -(-n // rows)
        _expect(offsets.dtype == np.int64 and offsets.shape == (n_chunks + 1,),
                f"{CHUNKS_NPY}: expected {n_chunks + 1} int64 chunk offsets, got "
                f"{offsets.dtype} of shape {offsets.shape}")
        sizes = np.diff(offsets)
        most = _max_words(rows, int(np.sum(used > 1)))
        _expect(offsets[0] == 0 and np.all((sizes >= 0) & (sizes <= most)),
                f"{CHUNKS_NPY}: chunk offsets must start at 0 and grow by 0 .. {most} words")
        self.shape, self.dtype, self.rows = (n, d), dtype, rows
        self.offsets, self.digest, self._open = offsets, spec["stream_sha256"], open_stream

    def blocks(self):
        """``(first_row, codes)`` of each chunk, in order; the stream's digest and the
        counts of every feature are checked at the end (``ValueError`` if they differ).
        The chunks are read and decoded a batch at a time (about ``BATCH_VALUES``
        values), in parallel."""
        n, d = self.shape
        if n == 0:
            return
        tables = Tables(self.counts, self.symbols)
        n_chunks = self.offsets.size - 1
        per_batch = max(1, BATCH_VALUES // max(1, self.rows * d))
        seen = tables.new_seen(max(1, min(per_batch, numba.get_num_threads())))
        sha = hashlib.sha256()
        with self._open() as (f, n_words):
            _expect(n_words == int(self.offsets[-1]),
                    f"{STREAM_NPY}: the stream holds {n_words} words, the chunk offsets "
                    f"{self.offsets[-1]}")
            for c0 in range(0, n_chunks, per_batch):
                c1 = min(n_chunks, c0 + per_batch)
                size = int(self.offsets[c1] - self.offsets[c0])
                raw = f.read(4 * size)
                _expect(len(raw) == 4 * size, f"{STREAM_NPY}: the stream is truncated")
                sha.update(raw)
                a0 = c0 * self.rows
                row_starts = np.minimum(np.arange(c0, c1 + 1, dtype=np.int64) * self.rows,
                                        n) - a0
                block = np.empty((int(row_starts[-1]), d), dtype=self.dtype)
                states, left = tables.decode(
                    np.frombuffer(raw, dtype="<u4"), self.offsets[c0:c1 + 1] - self.offsets[c0],
                    row_starts, block, seen)
                for i in range(c1 - c0):
                    _expect(left[i] >= 0, f"{STREAM_NPY}: chunk {c0 + i} is not a valid "
                                          "stream (its last word is zero)")
                    _expect(left[i] == 0 and states[i] == 0,
                            f"{STREAM_NPY}: chunk {c0 + i} does not end at its last word "
                            f"({CHUNKS_NPY})")
                for i in range(c1 - c0):
                    yield a0 + int(row_starts[i]), block[row_starts[i]:row_starts[i + 1]]
        _expect(sha.hexdigest() == self.digest,
                f"{STREAM_NPY}: stream checksum mismatch (stream_sha256): the file was "
                "modified or corrupted")
        seen = seen.sum(axis=0)
        for j in range(d):
            a, b = tables.count_starts[j], tables.count_starts[j + 1]
            _expect(np.array_equal(seen[a:b], self.counts[j]),
                    f"{STREAM_NPY}: the decoded codes of column {j} differ from its table "
                    f"({TABLE_NPY})")

    def decode(self):
        """All the codes, ``(n_samples, n_features)``."""
        out = np.empty(self.shape, dtype=self.dtype)
        for a, block in self.blocks():
            out[a:a + block.shape[0]] = block
        return out
