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

``constriction`` is imported only when a file is coded or decoded (``pip install
"skquant[coding]"``).
"""

import hashlib
import math

import numpy as np

from ._entropy import column_counts, varint_bytes

CODER = "constriction-ans32-categorical"
TABLE, CHUNKS, STREAM = "codes.table", "codes.chunks", "codes.stream"
#: values per chunk (rows * features) the writer aims at
CHUNK_VALUES = 2**20
#: a reader refuses chunks of more values than this (its memory per chunk is bounded)
MAX_CHUNK_VALUES = 2**22
#: 24-bit probabilities: a symbol never costs more than 24 bits, a stream's end 2 words
_MAX_SYMBOL_BITS = 24
_MAX_VARINT_BYTES = 9  # values below 2**63


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
            f"table: expected {count} varints filling {buf.size} bytes")
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    last = np.flatnonzero(ends)
    starts = np.concatenate([[0], last[:-1] + 1])
    lengths = last - starts + 1
    _expect(lengths.max() <= _MAX_VARINT_BYTES, "table: a varint is too long")
    _expect(not np.any((lengths > 1) & (buf[last] == 0)), "table: a varint is not canonical")
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
class CodedCodes:
    """The entropy-coded codes of a file, decoded chunk by chunk from ``open_stream``
    (a callable returning a context manager of a binary file positioned at the first
    word of ``codes.stream.npy``, and the number of words it holds)."""

    def __init__(self, spec, arrays, n_levels, shape, dtype, open_stream):
        _expect(spec.get("coder") == CODER, f"codes: unknown coder {spec.get('coder')!r}")
        n, d = shape
        rows, used, digest = spec["chunk_rows"], spec["symbols"], spec["stream_sha256"]
        _expect(isinstance(rows, int) and not isinstance(rows, bool)
                and 1 <= rows <= max(1, MAX_CHUNK_VALUES // d),
                f"codes: chunk_rows {rows!r} out of range 1 .. {max(1, MAX_CHUNK_VALUES // d)}")
        _expect(isinstance(used, list) and len(used) == d
                and all(isinstance(u, int) and not isinstance(u, bool) for u in used),
                "codes: symbols must be one integer per feature")
        used = np.asarray(used, dtype=np.int64)
        _expect(np.all((used >= (1 if n else 0)) & (used <= (n_levels if n else 0))),
                "codes: the numbers of used codes must be within 1 .. n_levels_ "
                "(0 without rows)")
        _expect(isinstance(digest, str) and len(digest) == 64, "codes: bad stream_sha256")
        for key in (TABLE, CHUNKS):
            _expect(key in arrays, f"codes: the {key}.npy member is missing")
        table, offsets = arrays.pop(TABLE), arrays.pop(CHUNKS)
        _expect(table.dtype == np.uint8 and table.ndim == 1
                and table.size <= 2 * _MAX_VARINT_BYTES * int(used.sum()),
                "codes: the table must be a 1-D uint8 array of at most 18 bytes per used code")
        values = _read_varints(table, 2 * int(used.sum()))
        self.symbols, self.counts = [], []
        bounds = np.concatenate([[0], np.cumsum(used)])
        for j in range(d):
            gaps, counts = values[2 * bounds[j]:2 * bounds[j + 1]].reshape(-1, 2).T
            _expect(np.all(gaps < np.uint64(2**31)) and np.all(counts < np.uint64(2**62)),
                    f"codes: table of column {j} out of range")
            symbols = np.cumsum(gaps.astype(np.int64) + 1) - 1
            counts = counts.astype(np.int64) + 1
            _expect(symbols.size == 0 or symbols[-1] < n_levels[j],
                    f"codes: table of column {j} has a code beyond its {n_levels[j]} levels")
            _expect(int(counts.sum()) == n, f"codes: the counts of column {j} do not sum "
                                            f"to the {n} rows")
            self.symbols.append(symbols)
            self.counts.append(counts)
        n_chunks = -(-n // rows)
        _expect(offsets.dtype == np.int64 and offsets.shape == (n_chunks + 1,),
                f"codes: expected {n_chunks + 1} int64 chunk offsets")
        sizes = np.diff(offsets)
        coded = int(np.sum(used > 1))
        most = math.ceil(rows * coded * _MAX_SYMBOL_BITS / 32) + 2
        _expect(offsets[0] == 0 and np.all((sizes >= 0) & (sizes <= most)),
                f"codes: chunk offsets must start at 0 and grow by at most {most} words")
        self.shape, self.dtype, self.rows = (n, d), dtype, rows
        self.offsets, self.digest, self._open = offsets, digest, open_stream

    def blocks(self):
        """``(first_row, codes)`` of each chunk, in order; the stream's digest and the
        counts of every feature are checked at the end (``ValueError`` if they differ)."""
        n, d = self.shape
        if n == 0:
            return
        constriction = _constriction()
        models = [_model(constriction, c) if c.size > 1 else None for c in self.counts]
        seen = [np.zeros(c.size, dtype=np.int64) for c in self.counts]
        sha = hashlib.sha256()
        with self._open() as (f, n_words):
            _expect(n_words == int(self.offsets[-1]),
                    f"codes: the stream holds {n_words} words, the chunks {self.offsets[-1]}")
            for i, a in enumerate(range(0, n, self.rows)):
                size = int(self.offsets[i + 1] - self.offsets[i])
                raw = f.read(4 * size)
                _expect(len(raw) == 4 * size, "codes: the stream is truncated")
                sha.update(raw)
                block = np.empty((min(self.rows, n - a), d), dtype=self.dtype)
                self._decode_chunk(constriction, np.frombuffer(raw, dtype="<u4"), models,
                                   block, seen, i)
                yield a, block
        _expect(sha.hexdigest() == self.digest,
                "codes: stream checksum mismatch: the file was modified or corrupted")
        for j in range(d):
            _expect(np.array_equal(seen[j], self.counts[j]),
                    f"codes: the decoded codes of column {j} differ from its table")

    def _decode_chunk(self, constriction, words, models, block, seen, i):
        m = block.shape[0]
        try:
            coder = constriction.stream.stack.AnsCoder(words.astype(np.uint32))
            for j, model in enumerate(models):
                if model is None:
                    block[:, j] = self.symbols[j][0]
                    seen[j][0] += m
                    continue
                dense = coder.decode(model, m)
                seen[j] += np.bincount(dense, minlength=seen[j].size)[:seen[j].size]
                block[:, j] = self.symbols[j][dense]
            empty = coder.is_empty()
        except (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
            raise
        except BaseException as exc:  # constriction refuses the words (a Rust panic too)
            raise Malformed(f"codes: chunk {i} is not a valid stream ({exc})") from None
        _expect(empty, f"codes: chunk {i} holds more words than its codes need")

    def decode(self):
        """All the codes, ``(n_samples, n_features)``."""
        out = np.empty(self.shape, dtype=self.dtype)
        for a, block in self.blocks():
            out[a:a + block.shape[0]] = block
        return out
