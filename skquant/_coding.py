"""Entropy coding of a scalar quantizer's codes (the ``"entropy"`` coding of skquant files).

The codes of each feature are coded with asymmetric numeral systems (rANS, the
``AnsCoder`` of `constriction <https://bamler-lab.github.io/constriction/>`_: 32-bit
words, probabilities quantized to 24 bits) under a categorical model of that feature:
the counts of the codes it uses, over the whole file. The rows are cut into chunks of
``chunk_rows`` rows, so a reader decodes one chunk at a time in bounded memory. Each
chunk is cut into ``lanes`` interleaved lanes (row ``r`` of the chunk in lane
``r % lanes``), each its own coded stream (feature 0's codes of the lane's rows, then
feature 1's, ...): the coder ``constriction-ans32-categorical-x8`` has 8 lanes, the
first coder of format 3, ``constriction-ans32-categorical``, one (its files still
load; the writer uses it when a chunk has fewer than ``8 * MIN_LANE_VALUES`` values,
where the 7 more stream ends, at most 448 bits, would cost more than 0.0034 bit a value).

Members of an entropy-coded file (besides the estimator's), all ``.npy``:

- ``codes.table.npy`` (``uint8``, stored): per feature, for each code it uses in
  increasing order, the LEB128 varint of the gap to the previous used code and that of
  its count minus one (:func:`skquant._entropy.table_bytes` is its size);
- ``codes.chunks.npy`` (``int64``): the word offset of each stream (chunk 0's lanes,
  then chunk 1's, ...), and the total (``n_chunks * lanes + 1`` values, from 0,
  non-decreasing);
- ``codes.stream.npy`` (``<u4``, stored): the streams of all lanes of all chunks, one
  after the other. It is read chunk by chunk, and its own SHA-256 is in the header
  (format version 5: only above 64 KiB; a smaller stream is the array
  ``codes.stream`` of the state, under the file's digest).

A feature is coded under the *flat model* (every one of its ``n_levels`` codes with
count 1, no table; version 5's ``flat`` field) when that takes fewer bits than its
table and the entropy of its codes: on few rows with many used codes.

From format version 7 a feature of a file of one chunk (at most ``ADAPTIVE_MAX_ROWS``
rows, ``ADAPTIVE_MAX_VALUES`` adaptive values in all) may instead be coded under an
*adaptive model* (no table: counts from 1, each coded code's count up by
``2**shift``, their learnt parts halved every ``2**(shift + r + 2)`` of growth if
``r > 0``; the ``adaptive`` field is ``[]`` or each feature's parameter ``shift + 8 r``,
-1 for a feature that is not adaptive): its codes are
not in the rANS streams but in the array ``codes.adaptive`` of the state (``uint8``),
one arithmetic-coded stream of the adaptive features one after the other
(:mod:`skquant._kernels._adaptive`). The writer takes, per feature, the smallest of
the flat model, the table and the adaptive model of the best parameter, by their
information content (the adaptive model's computed by running it over the codes:
:func:`skquant._kernels.adaptive_bits`).

``constriction`` writes the streams only, and is imported only when a file is coded
(``pip install "skquant[coding]"``). Reading decodes them with skquant's own numba
kernel (:mod:`skquant._kernels._rans`, bit-exact with constriction 0.5's decoder, whose
rules it documents) a batch of chunks at a time, in parallel, four lanes advanced
together: constriction's decoder, called once per chunk and feature, measured 6.3 times
slower than zlib inflate + unpack of the same codes bit-packed, skquant's kernel on one
stream per chunk 1.1-1.9 times slower, on 8 lanes 0.5-0.8 times
(``benchmarks/bench_coding.py``); no constriction is needed to read.
"""

import hashlib
import math

import numba
import numpy as np

from . import _kernels, _libm
from ._entropy import column_counts, table_bytes, table_model_bits, varint_bytes
from ._kernels._rans import GROUP as RANS_GROUP
from ._summary import dot

#: the coders (layouts of the stream) a reader knows, and the lanes of their chunks:
#: the first (format 3 as first released) codes each chunk as one stream; the second
#: cuts each chunk into ``LANES`` interleaved lanes (row ``r`` in lane ``r % LANES``),
#: each its own stream, which a decoder advances together
CODER_SINGLE = "constriction-ans32-categorical"
CODER = "constriction-ans32-categorical-x8"
CODERS = {CODER_SINGLE: 1, CODER: 8}
LANES = CODERS[CODER]
#: files of fewer values per chunk are written with one lane (CODER_SINGLE): a lane's
#: stream ends with up to 64 bits, negligible past this many values per lane
MIN_LANE_VALUES = 2**14
TABLE, CHUNKS, STREAM = "codes.table", "codes.chunks", "codes.stream"
#: values per chunk (rows * features) the writer aims at
CHUNK_VALUES = 2**20
#: a reader refuses chunks of more values than this (its memory per chunk is bounded)
MAX_CHUNK_VALUES = 2**22
#: codes taking more than this many times their stream's bytes are decoded a batch at
#: a time before they are joined (DEFLATE's bound: more is rare in a real file)
EXPANSION = 1032
#: values a reader decodes at once (whole chunks, at least one)
BATCH_VALUES = 2**21
#: 24-bit probabilities: a symbol never costs more than 24 bits, a stream's end 2 words
_MAX_SYMBOL_BITS = 24
_MAX_VARINT_BYTES = 9  # values below 2**63
#: the flat model is used for features of at most this many levels (all of skquant's)
MAX_FLAT_LEVELS = 2**16
#: format version 7's adaptive model: the array of its stream, files of at most this
#: many rows (one chunk) and adaptive values (what a reader decodes at once), count
#: increments ``2**shift`` up to this shift
ADAPTIVE = "codes.adaptive"
ADAPTIVE_MAX_ROWS = 2**16
ADAPTIVE_MAX_VALUES = 2**18
MAX_SHIFT = 6
#: and halvings every ``2**(shift + r + 2)`` of growth, ``r`` up to this (0: none), for
#: features of at most ``2**(r + 5)`` codes (at most 16 count updates a code a halving)
MAX_RESCALE = 7
#: bits an adaptive feature is charged for its entry in the header
_ADAPTIVE_ENTRY_BITS = 8


#: the ``.npy`` member names, as messages name them
TABLE_NPY, CHUNKS_NPY, STREAM_NPY = TABLE + ".npy", CHUNKS + ".npy", STREAM + ".npy"
#: the header fields of entropy-coded codes (besides shape, data_dtype and columns), up
#: to format version 4
SPEC_FIELDS = ("coding", "coder", "chunk_rows", "symbols", "stream_sha256")
#: the array of the state holding a small stream (format version 5)
STREAM_IN_STATE = STREAM


def spec_fields(version, in_state):
    """The header fields of entropy-coded codes (besides shape, data_dtype and
    columns) in a file of format ``version``: from version 5 ``flat`` (the features
    coded under the flat model), and ``stream_sha256`` only when the stream is its own
    member (``in_state``: it is the array ``codes.stream`` of the state, covered by
    the file's digest); from version 7 ``adaptive`` (the features under the adaptive
    model, and their shifts)."""
    fields = ["coding", "coder", "chunk_rows", "symbols"]
    if version >= 5:
        fields.append("flat")
    if version >= 7:
        fields.append("adaptive")
    if not in_state:
        fields.append("stream_sha256")
    return fields
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


def lanes_for(chunk_rows, n_features):
    """Lanes of the chunks of ``chunk_rows`` rows: ``LANES`` if each lane has at least
    ``MIN_LANE_VALUES`` values, else 1."""
    return LANES if chunk_rows * n_features >= LANES * MIN_LANE_VALUES else 1


# ------------------------------------------------------------------ varints
def write_varints(values):
    """Unsigned LEB128 varints of uint64 ``values`` (uint8)."""
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


#: bytes of varints read at once (the temporaries of a read are bounded by this)
_VARINT_BLOCK = 2**14


def read_varints(what, buf, count, bits=63, dtype=np.uint64, out=None):
    """``count`` canonical unsigned LEB128 varints of at most ``bits`` bits filling the
    1-D uint8 array ``buf`` exactly (of ``dtype``, an unsigned dtype holding ``bits``
    bits; the values are written into it directly); anything else raises
    :class:`Malformed` starting with ``what``. The one reader of the file's varints
    (the stream tables here, the ``float_rows`` of ``skquant._io``): ``count`` is
    checked against the bytes before the output is allocated (a varint takes a byte at
    least), and the bytes are read ``_VARINT_BLOCK`` at a time (the temporaries are
    bounded by that, not by the count or the bytes). ``out``: a 1-D array of ``dtype``
    of at least ``count`` values, the first ``count`` of which are written (and
    returned) instead of a new array."""
    _expect(isinstance(buf, np.ndarray) and buf.dtype == np.uint8 and buf.ndim == 1,
            f"{what}: expected a 1-D uint8 array, got "
            f"{getattr(buf, 'dtype', type(buf).__name__)} of shape {getattr(buf, 'shape', ())}")
    most = -(-bits // 7)
    step = _VARINT_BLOCK  # bytes read at once (more than a varint's longest)
    ends = sum(int(np.count_nonzero(buf[a:a + step] < 0x80)) for a in range(0, buf.size, step))
    _expect(0 <= count <= buf.size and ends == count
            and (buf.size == 0 or buf[-1] < 0x80),
            f"{what}: expected {count} varints filling {buf.size} bytes")
    if out is None:
        out = np.zeros(count, dtype=dtype)
    _expect(out.dtype == dtype and out.ndim == 1 and out.size >= count,
            f"{what}: no room for {count} varints")
    out = out[:count]
    top = bits - 7 * (most - 1)  # bits of a varint's last byte when it has ``most``
    at, k = 0, 0
    while at < buf.size:
        block = buf[at:at + step]
        last = np.flatnonzero(block < 0x80)
        _expect(last.size, f"{what}: a varint is longer than {most} bytes")
        starts = np.concatenate([[0], last[:-1] + 1])
        lengths = last - starts + 1
        _expect(lengths.max() <= most, f"{what}: a varint is longer than {most} bytes")
        _expect(not np.any((lengths > 1) & (block[last] == 0)),
                f"{what}: a varint is not canonical")
        _expect(not np.any((lengths == most) & (block[last] >> top != 0)),
                f"{what}: a varint overflows {bits} bits")
        part = block[:int(last[-1]) + 1]
        pos = np.arange(part.size) - np.repeat(starts, lengths)
        bits7 = (part & 0x7F).astype(np.uint64) << (7 * pos).astype(np.uint64)
        # the parts' bits do not overlap: a sum is an or
        out[k:k + last.size] = np.add.reduceat(bits7, starts)
        k += last.size
        at += part.size
    return out


# ------------------------------------------------------------------ writing
def adaptive_param_ok(param, k):
    """Whether ``param`` (``shift + 8 r``) is an adaptive model of a feature of ``k``
    codes."""
    shift, r = param & 7, param >> 3
    return (0 <= param and shift <= MAX_SHIFT and r <= MAX_RESCALE
            and (r == 0 or k <= 2 ** (r + 5)))


def _model_bits(column, symbols, counts, n_levels, adaptive):
    """``(flat, table, adaptive, param)``: the bits a feature's codes ``column`` (used
    codes ``symbols``, their ``counts``) take under the flat model over all
    ``n_levels`` codes (``n log2 n_levels``, no table; inf where it is not allowed),
    under the table of the used codes (its varints and ``n H``, the empirical
    entropy: :func:`skquant._entropy.table_model_bits`), and under the adaptive model
    of the best parameter (inf unless ``adaptive``; its information content,
    :func:`skquant._kernels.adaptive_bits`, plus its header entry). All as the coders
    spend them to within a bit a value per 2**20 values. A constant feature has its
    table only (flat and adaptive need two codes at least)."""
    n = float(counts.sum())
    k = int(n_levels)
    coded = table_model_bits(symbols, counts) if symbols.size else 0.0
    if symbols.size < 2:
        return math.inf, coded, math.inf, -1
    flat = n * math.log2(k) if k <= MAX_FLAT_LEVELS else math.inf
    best, param = math.inf, -1
    if adaptive and k <= MAX_FLAT_LEVELS:
        column = np.ascontiguousarray(column, dtype=np.int64)
        for r in range(MAX_RESCALE + 1):
            for shift in range(MAX_SHIFT + 1):
                if adaptive_param_ok(shift + 8 * r, k):
                    bits = _kernels.adaptive_bits(column, k, shift + 8 * r)
                    if bits + _ADAPTIVE_ENTRY_BITS < best:
                        best, param = bits + _ADAPTIVE_ENTRY_BITS, shift + 8 * r
    return flat, coded, best, param


def _choose(column, symbols, counts, n_levels, adaptive, mode=None):
    """The writer's automatic model of one feature: ``(bits, flat, param)``, ``bits``
    what it takes (:func:`_model_bits`), ``flat`` whether it is the flat model,
    ``param`` the adaptive model's parameter (-1: not adaptive). ``adaptive``: whether
    it may be adaptive; ``mode="all"``: adaptive whenever it may be (at its best
    parameter)."""
    flat, table, ada, param = _model_bits(column, symbols, counts, n_levels, adaptive)
    if not (ada < min(flat, table) or (mode == "all" and param >= 0)):
        param = -1
    is_flat = param < 0 and flat < min(table, ada)
    bits = ada if param >= 0 else flat if is_flat else table
    return bits, is_flat, param


def feature_bits(codes, n_levels, sample_weight=None):
    """Per feature of ``codes`` (n_samples, n_features), the bits :func:`encode` spends
    on its codes under the model it chooses (the fewest of the flat model, the table and
    the adaptive model; no container, no termination): a float64 array. The one size
    model of ``rate="entropy"`` (:func:`skquant._entropy.coded_bits` checks its input
    and calls it). With ``sample_weight`` (positive sum), each feature keeps the model
    chosen for the unweighted codes, and its payload is ``n`` times the weighted mean
    of the bits its rows take under that model (the table's and header's bits
    unchanged)."""
    codes = np.asarray(codes)
    n, d = codes.shape
    levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
    may_adapt, budget = adaptive_allowed(n, d), ADAPTIVE_MAX_VALUES // max(n, 1)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        sample_weight = sample_weight * (n / sample_weight.sum())  # mean 1
    out, adapts = np.zeros(d), 0
    for j in range(d):
        symbols, counts = column_counts(codes[:, j], levels[j])
        bits, is_flat, param = _choose(codes[:, j], symbols, counts, levels[j],
                                              may_adapt and adapts < budget)
        adapts += param >= 0
        if sample_weight is not None and param >= 0:
            column = np.ascontiguousarray(codes[:, j], dtype=np.int64)
            bits = (_kernels.adaptive_bits(column, int(levels[j]), param, sample_weight)
                    + _ADAPTIVE_ENTRY_BITS)
        elif sample_weight is not None and not is_flat and symbols.size > 1:
            weighted = column_counts(codes[:, j], levels[j], sample_weight)[1]
            bits = (dot(weighted, _libm.log2(n / counts))
                    + 8 * table_bytes(symbols, counts))
        out[j] = bits
    return out


def adaptive_allowed(n, d):
    """Whether features of a file of ``n`` rows and ``d`` features may be adaptive
    (the file is one chunk of at most ``ADAPTIVE_MAX_ROWS`` rows)."""
    return 0 < n <= min(ADAPTIVE_MAX_ROWS, chunk_rows_for(d))


def encode(codes, n_levels, flat=None, adaptive=None):
    """Entropy-code ``codes`` (n_samples, n_features): ``(spec, arrays, stream)`` with
    ``spec`` the header fields, ``arrays`` the table and chunk members (and the
    adaptive stream) and ``stream`` the uint32 words of all chunks.

    Each feature is coded under the model of its table (the counts of the codes it
    uses), under the flat model (every one of its ``n_levels`` codes equally likely:
    no table) or under the adaptive model (no table; files of one chunk), whichever
    takes fewest bits (``flat=None`` and ``adaptive=None``), or as ``flat`` (a boolean
    per feature) and ``adaptive`` (a parameter per feature, -1 for none) say (tests).
    ``adaptive="off"``: no adaptive feature (the smaller of flat and table);
    ``adaptive="all"``: every feature that may be adaptive is (at its best parameter). The
    bits are those of the coders; DEFLATE may shrink a flat or table feature further
    in a compact file, so :func:`skquant._io.write` writes the three and keeps the
    smallest file."""
    constriction = _constriction()
    codes = np.asarray(codes)
    n, d = codes.shape
    levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
    mode = adaptive if isinstance(adaptive, str) else None
    if mode is not None:
        if mode not in ("off", "all"):
            raise ValueError(f"adaptive must be 'off', 'all' or one parameter per feature, got "
                             f"{adaptive!r}")
        adaptive = None
    auto = flat is None and adaptive is None
    may_adapt = adaptive_allowed(n, d) and mode != "off"
    budget = ADAPTIVE_MAX_VALUES // max(n, 1)  # adaptive features at most
    tables, used, lookups, models, flats, adapts = [], [], [], [], [], []
    for j in range(d):
        symbols, counts = column_counts(codes[:, j], levels[j])
        if n and (symbols[-1] >= levels[j] or codes[:, j].min() < 0):
            raise ValueError(f"codes of column {j} must be within 0 .. {levels[j] - 1}")
        shift = -1
        if auto:
            _, is_flat, shift = _choose(codes[:, j], symbols, counts, levels[j],
                                           may_adapt and len(adapts) < budget, mode)
        else:
            is_flat = flat is not None and bool(flat[j]) and n > 0 and levels[j] >= 2
            if adaptive is not None and adaptive[j] >= 0 and n > 0 and levels[j] >= 2:
                if (not may_adapt or len(adapts) >= budget
                        or not adaptive_param_ok(int(adaptive[j]), int(levels[j]))):
                    raise ValueError(f"column {j} cannot be coded under the adaptive model")
                shift, is_flat = int(adaptive[j]), False
        if shift >= 0:  # no table, not in the rANS streams
            adapts.append((j, shift))
            used.append(int(levels[j]))
            lookups.append(None)
            models.append(None)
            continue
        if is_flat:  # every code 0 .. n_levels - 1, count 1: no table
            flats.append(j)
            symbols = np.arange(int(levels[j]))
            counts = np.ones(symbols.size, dtype=np.int64)
        else:
            gaps = np.diff(symbols, prepend=-1) - 1
            tables.append(np.column_stack([gaps, counts - 1]).ravel())
        used.append(int(symbols.size))
        lookup = np.zeros(int(levels[j]), dtype=np.int32)
        lookup[symbols] = np.arange(symbols.size, dtype=np.int32)
        lookups.append(lookup)
        models.append(_model(constriction, counts) if symbols.size > 1 else None)
    table = write_varints(np.concatenate(tables) if tables else np.zeros(0, np.int64))
    rows = chunk_rows_for(d)
    lanes = lanes_for(min(n, rows), d)
    words, offsets = [], [0]
    coded = [j for j in range(d) if models[j] is not None]
    for a in range(0, n, rows):
        for lane in range(lanes):
            block = codes[a + lane:a + rows:lanes]
            coder = constriction.stream.stack.AnsCoder()
            for j in reversed(coded):  # a stack: the last encoded is the first decoded
                coder.encode_reverse(lookups[j][block[:, j]], models[j])
            w = coder.get_compressed().astype("<u4", copy=False)
            words.append(w)
            offsets.append(offsets[-1] + w.size)
    stream = np.concatenate(words) if words else np.zeros(0, dtype="<u4")
    spec = {
        "coding": "entropy",
        "coder": CODER if lanes > 1 else CODER_SINGLE,
        "chunk_rows": rows,
        "symbols": used,
        "flat": flats,
        "adaptive": _shift_list(adapts, d),
        "stream_sha256": hashlib.sha256(stream.tobytes()).hexdigest(),
    }
    arrays = {TABLE: table, CHUNKS: np.asarray(offsets, dtype=np.int64)}
    if adapts:
        arrays[ADAPTIVE] = encode_adaptive(codes, adapts, levels)
    return spec, arrays, stream


def _shift_list(adapts, d):
    """The ``adaptive`` field: [] or each feature's parameter (-1: not adaptive)."""
    if not adapts:
        return []
    out = [-1] * d
    for j, shift in adapts:
        out[j] = shift
    return out


def encode_adaptive(codes, adapts, levels):
    """The adaptive stream (uint8) of the columns ``(feature, parameter)`` of
    ``adapts``."""
    features = np.array([j for j, _ in adapts], dtype=np.int64)
    shifts = np.array([s for _, s in adapts], dtype=np.int64)
    k = np.asarray(levels, dtype=np.int64)[features]
    # at most 30 bits a code (a probability is never below 2**-30) and the end
    out = np.zeros(4 * codes.shape[0] * features.size + 8, dtype=np.uint8)
    size = _kernels.adaptive_encode(codes, features, k, shifts, out)
    if size < 0:
        raise ValueError("codes out of range of their levels (adaptive model)")
    return out[:size].copy()


# ------------------------------------------------------------------ reading
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_spec(spec, shape):
    """Check the header fields of entropy-coded codes against the codes' ``shape``
    (``n_samples, n_features``), before any member is read: ``(chunk_rows, used,
    lanes, flat, shifts)`` with ``used`` the number of codes each feature uses (int64
    array), ``lanes`` the streams of each chunk, ``flat`` whether each feature is coded
    under the flat model (bool array; version 5's ``flat``, none before) and
    ``shifts`` the parameter of each feature under the adaptive model, -1 for the others
    (int64 array; version 7's ``adaptive``, none before)."""
    n, d = shape
    used = spec.get("symbols")
    # first the list of one entry per feature, so that d is bounded by the header's size
    _expect(isinstance(used, list) and len(used) == d
            and all(_is_int(u) and 0 <= u <= 2**16 for u in used),
            "codes: symbols must be one integer of 0 .. 65536 per feature")
    flat = spec.get("flat", [])
    _expect(isinstance(flat, list) and len(flat) <= d and all(_is_int(j) for j in flat)
            and all(0 <= j < d for j in flat) and flat == sorted(set(flat)),
            "codes: flat must be a list of increasing feature indices")
    is_flat = np.zeros(d, dtype=bool)
    is_flat[np.asarray(flat, dtype=np.int64)] = True
    _expect(n > 0 or not flat, "codes: flat features without rows")
    coder = spec.get("coder")
    _expect(isinstance(coder, str) and coder in CODERS, f"codes: unknown coder {coder!r}")
    rows, digest = spec.get("chunk_rows"), spec.get("stream_sha256")
    top = max(1, MAX_CHUNK_VALUES // max(d, 1))
    _expect(_is_int(rows) and 1 <= rows <= top,
            f"codes: chunk_rows {rows!r} out of range 1 .. {top}")
    shifts = _check_adaptive(spec.get("adaptive", []), n, d, rows, is_flat, used)
    used = np.asarray(used, dtype=np.int64)
    top = np.where(is_flat | (shifts >= 0), MAX_FLAT_LEVELS, min(n, 2**16))
    _expect(np.all((used >= (1 if n else 0)) & (used <= (top if n else 0))),
            "codes: the numbers of used codes (symbols) must be within 1 .. n_levels_ "
            "and the number of rows (0 without rows)")
    _expect(np.all(used[is_flat | (shifts >= 0)] >= 2),
            "codes: a flat or adaptive feature has at least 2 codes")
    _expect(digest is None or (isinstance(digest, str) and len(digest) == 64
                               and all(c in "0123456789abcdef" for c in digest)),
            "codes: bad stream_sha256")
    return rows, used, CODERS[coder], is_flat, shifts


def _check_adaptive(adaptive, n, d, rows, is_flat, used):
    """The parameter of each feature (-1: not adaptive) from version 7's ``adaptive``
    field (``[]``, or one integer per feature: its parameter ``shift + 8 r``, -1 if it
    is not adaptive; none flat, ``r > 0`` only for features of at most ``2**(r + 5)``
    codes, ``used``), in a file of one chunk of at most ``ADAPTIVE_MAX_ROWS`` rows and
    ``ADAPTIVE_MAX_VALUES`` adaptive values."""
    top = MAX_SHIFT + 8 * MAX_RESCALE
    _expect(isinstance(adaptive, list) and len(adaptive) in (0, d)
            and all(_is_int(v) and -1 <= v <= top for v in adaptive),
            f"codes: adaptive must be [] or one parameter of -1 .. {top} per feature")
    _expect(all(v == -1 or adaptive_param_ok(v, int(u)) for v, u in zip(adaptive, used)),
            f"codes: an adaptive parameter (shift + 8 r) must have shift <= {MAX_SHIFT}, "
            "and r = 0 or at most 2**(r + 5) codes (symbols)")
    shifts = np.full(d, -1, dtype=np.int64)
    if adaptive:
        shifts[:] = adaptive
        m = int(np.sum(shifts >= 0))
        _expect(m > 0, "codes: adaptive lists no adaptive feature (it is [] then)")
        _expect(not np.any(is_flat & (shifts >= 0)), "codes: a feature both flat and adaptive")
        _expect(0 < n <= min(rows, ADAPTIVE_MAX_ROWS) and n * m <= ADAPTIVE_MAX_VALUES,
                f"codes: adaptive features in a file of {n} rows in chunks of {rows} (at "
                f"most one chunk of {ADAPTIVE_MAX_ROWS} rows, {ADAPTIVE_MAX_VALUES} "
                "adaptive values)")
    return shifts


def _max_words(rows, coded, lanes=1):
    """Words a lane of a chunk of ``rows`` rows (in ``lanes`` lanes) of ``coded``
    entropy-coded features can take."""
    if coded == 0:  # nothing is coded: the writer's streams are empty
        return 0
    return math.ceil(-(-rows // lanes) * coded * _MAX_SYMBOL_BITS / 32) + 2


def check_member_sizes(spec, shape, infos):
    """Refuse ``codes.*`` members larger than a file with this header can hold, from
    the archive's directory (``infos``: member name -> ``zipfile.ZipInfo``) alone,
    before anything is read or allocated."""
    rows, used, lanes, flat, shifts = check_spec(spec, shape)
    n = shape[0]
    n_chunks = -(-n // rows)
    tabled = ~flat & (shifts < 0)
    coded = int(np.sum((used > 1) & (shifts < 0)))
    limits = {
        TABLE_NPY: 2 * _MAX_VARINT_BYTES * int(used[tabled].sum()),
        CHUNKS_NPY: 8 * (n_chunks * lanes + 1),
        STREAM_NPY: 4 * n_chunks * lanes * _max_words(rows, coded, lanes),
    }
    for name, limit in limits.items():
        _expect(name in infos, f"{name}: the member is missing (at format version 4: its "
                "entry of the header's arrays)")
        size = infos[name].file_size
        _expect(size <= limit + _NPY_HEADER_MAX,
                f"{name}: {size} bytes, more than the {limit} (plus a .npy header) "
                "its header allows")


def read_npy_header(f, what, error=Malformed):
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at ``f``'s position
    (format 1.0 or 2.0, as NumPy writes them), ``f`` left at the first data byte; any
    other version, or a malformed header, raises ``error`` starting with ``what``.
    Shared by the loader (``skquant._io``) and the stream reader below."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)
    except ValueError as exc:
        raise error(f"{what}: bad .npy header ({' '.join(str(exc).split())})") from None
    raise error(f"{what}: unsupported .npy version {version}")


def _stream_header(f, size):
    """Read the .npy header of ``codes.stream.npy`` from ``f`` (``size`` bytes in all):
    the number of words, checked to fill the member exactly."""
    shape, fortran, dtype = read_npy_header(f, STREAM_NPY)
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


def state_stream_opener(words):
    """Version 5: the opener (as :func:`stream_opener`'s) of a stream held in the state
    as the array ``codes.stream`` (1-D ``<u4``, checked here)."""
    import contextlib
    import io

    _expect(words.dtype == np.dtype("<u4") and words.ndim == 1,
            f"{STREAM}: expected a 1-D <u4 array, got {words.dtype} of shape {words.shape}")

    @contextlib.contextmanager
    def open_stream():
        yield io.BytesIO(words.tobytes()), int(words.size)

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
        self.cdf_starts = self.count_starts[:-1] + 2 * np.arange(d, dtype=np.int64)
        widths = np.where(used > 1, 1 << self.bits, 0)
        self.slot_starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        self.cdf = np.zeros(int(self.count_starts[-1]) + 2 * d, dtype=np.uint64)
        slots = np.zeros(int(widths.sum()) + 1, dtype=np.int64)
        self.entries = np.zeros(2 * int(widths.sum()), dtype=np.uint64)
        flat = np.concatenate([np.zeros(0, np.int64), *counts]).astype(np.int64)
        _kernels.rans_tables(flat, self.count_starts, self.bits, self.cdf, self.cdf_starts,
                             slots, self.entries, self.slot_starts)

    def new_seen(self, n_threads):
        """Per-thread counts of the decoded codes (sum the rows for the totals)."""
        return np.zeros((n_threads, self.symbols.size), dtype=np.int64)

    def decode(self, words, lane_starts, row_starts, out, seen, lanes=1, padded=False):
        """Decode chunks of ``lanes`` lanes (lane ``l`` of chunk ``i`` is
        ``words[lane_starts[i * lanes + l]:lane_starts[i * lanes + l + 1]]``, the
        chunk rows ``row_starts[i]:row_starts[i + 1]`` of ``out``), counting the codes
        into ``seen``: ``(states, left)`` per lane, see
        :func:`skquant._kernels.rans_decode`. ``padded``: ``words`` has already one
        leading padding word (not counted in ``lane_starts``)."""
        if not padded:
            buf = np.zeros(words.size + 1, dtype=np.uint32)
            buf[1:] = words
            words = buf
        n_lanes = lane_starts.size - 1
        states = np.zeros(n_lanes, dtype=np.uint64)
        left = np.zeros(n_lanes, dtype=np.int64)
        _kernels.rans_decode(words, np.asarray(lane_starts, dtype=np.int64),
                             np.asarray(row_starts, dtype=np.int64), lanes, self.used,
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
        rows, used, lanes, flat, shifts = check_spec(spec, shape)
        for key in (TABLE, CHUNKS):
            _expect(key in arrays, f"{key}.npy: the member is missing")
        table, offsets = arrays.pop(TABLE), arrays.pop(CHUNKS)
        self.table_bytes = int(getattr(table, 'nbytes', 0))  # its stored size
        adaptive = shifts >= 0
        self.shifts = shifts
        self.adaptive = self._adaptive_stream(arrays, n, adaptive)
        tabled = np.where(flat | adaptive, 0, used)  # flat and adaptive: no table
        _expect(table.dtype == np.uint8 and table.ndim == 1
                and table.size <= 2 * _MAX_VARINT_BYTES * int(tabled.sum()),
                f"{TABLE_NPY}: expected a 1-D uint8 array of at most 18 bytes per used "
                f"code, got {table.dtype} of shape {table.shape}")
        values = read_varints(TABLE_NPY, table, 2 * int(tabled.sum()))
        n_levels = np.broadcast_to(np.asarray(n_levels, dtype=np.int64), (d,))
        self.symbols, self.counts, self.flat = [], [], flat
        bounds = np.concatenate([[0], np.cumsum(tabled)])
        self.n_levels = n_levels
        for j in range(d):
            if flat[j] or adaptive[j]:  # every code of the feature: no table
                _expect(used[j] == n_levels[j],
                        f"codes: {'flat' if flat[j] else 'adaptive'} column {j} must use its "
                        f"{n_levels[j]} levels (n_levels_), symbols says {used[j]}")
                u = 0 if adaptive[j] else used[j]  # adaptive: not in the rANS streams
                self.symbols.append(np.arange(u, dtype=np.int64))
                self.counts.append(np.ones(u, dtype=np.int64))
                continue
            gaps, counts = values[2 * bounds[j]:2 * bounds[j + 1]].reshape(-1, 2).T
            _expect(np.all(gaps < np.uint64(2**31)) and np.all(counts < np.uint64(2**62)),
                    f"{TABLE_NPY}: the table of column {j} is out of range")
            symbols = np.cumsum(gaps.astype(np.int64) + 1) - 1
            counts = counts.astype(np.int64) + 1
            _expect(symbols.size == 0 or symbols[-1] < n_levels[j],
                    f"{TABLE_NPY}: the table of column {j} has a code beyond its "
                    f"{n_levels[j]} levels (n_levels_)")
            _expect(sum(counts.tolist()) == n, f"{TABLE_NPY}: the counts of column {j} do "
                                               f"not sum to the {n} rows")
            self.symbols.append(symbols)
            self.counts.append(counts)
        n_chunks = -(-n // rows)
        _expect(offsets.dtype == np.int64 and offsets.shape == (n_chunks * lanes + 1,),
                f"{CHUNKS_NPY}: expected {n_chunks * lanes + 1} int64 offsets ({lanes} "
                f"per chunk, and the total), got {offsets.dtype} of shape {offsets.shape}")
        sizes = np.diff(offsets)
        used = np.where(adaptive, 0, used)  # the codes of each feature in the rANS streams
        most = _max_words(rows, int(np.sum(used > 1)), lanes)
        _expect(offsets[0] == 0 and np.all((sizes >= 0) & (sizes <= most)),
                f"{CHUNKS_NPY}: stream offsets must start at 0 and grow by 0 .. {most} words")
        self._check_lanes(n, rows, lanes, used, sizes)
        with open_stream() as (_, n_words):  # its .npy header only: nothing allocated
            _expect(n_words == int(offsets[-1]),
                    f"{STREAM_NPY}: the stream holds {n_words} words, the chunk offsets "
                    f"({CHUNKS_NPY}) {offsets[-1]}")
        self.shape, self.dtype, self.rows, self.lanes = (n, d), dtype, rows, lanes
        # no stream_sha256: the stream is an array of the state (format version 5),
        # covered by the file's digest
        self.offsets, self.digest = offsets, spec.get("stream_sha256")
        self._open = open_stream

    @staticmethod
    def _adaptive_stream(arrays, n, adaptive):
        """The adaptive stream (version 7; None without adaptive features), checked to
        be a 1-D uint8 array of at most the bytes its codes can take."""
        if not adaptive.any():
            _expect(ADAPTIVE not in arrays, f"{ADAPTIVE}: present but no feature is "
                    "adaptive")
            return None
        _expect(ADAPTIVE in arrays, f"{ADAPTIVE}: the array is missing")
        words = arrays.pop(ADAPTIVE)
        most = 4 * n * int(adaptive.sum()) + 8
        _expect(words.dtype == np.uint8 and words.ndim == 1 and words.size <= most,
                f"{ADAPTIVE}: expected a 1-D uint8 array of at most {most} bytes, got "
                f"{words.dtype} of shape {words.shape}")
        return words

    def _decode_adaptive(self):
        """The codes of the adaptive features (n, m), uint16; the stream must be exactly
        their encoding (anything else is refused)."""
        n = self.shape[0]
        features = np.flatnonzero(self.shifts >= 0)
        levels = self.n_levels[features].astype(np.int64)
        shifts = self.shifts[features]
        out = np.zeros((n, features.size), dtype=np.uint16)
        _kernels.adaptive_decode(self.adaptive, levels, shifts, out)
        again = np.zeros(self.adaptive.size + 8, dtype=np.uint8)
        size = _kernels.adaptive_encode(out, np.arange(features.size, dtype=np.int64),
                                        levels, shifts, again)
        _expect(size == self.adaptive.size
                and np.array_equal(again[:size], self.adaptive),
                f"{ADAPTIVE}: not a valid stream (it is not the encoding of the codes it "
                "decodes to)")
        return features, out

    def _check_lanes(self, n, rows, lanes, used, sizes):
        """The rows the chunk table gives each lane against its words, before anything
        is decoded: a lane without rows has no word; a lane without words decodes
        (from state 0, as constriction does) every code of every coded feature as its
        first used code, so its rows are at most that code's count. A file declaring
        many rows over a few words is refused here, not after its codes are allocated
        and decoded."""
        n_chunks = sizes.size // lanes
        if n_chunks == 0:
            return
        chunk = np.full(n_chunks, rows, dtype=np.int64)
        chunk[-1] = n - (n_chunks - 1) * rows
        lane_rows = np.maximum(0, (chunk[:, None] - np.arange(lanes) + lanes - 1) // lanes)
        lane_rows = lane_rows.reshape(-1)
        idle = np.flatnonzero((lane_rows == 0) & (sizes > 0))
        _expect(idle.size == 0, f"{CHUNKS_NPY}: lane {int(idle[:1].sum()) % lanes} of chunk "
                f"{int(idle[:1].sum()) // lanes} has no rows but {int(sizes[idle[:1]].sum())} "
                "words")
        if not np.any(used > 1):
            return
        empty = int(lane_rows[sizes == 0].sum())
        for j in np.flatnonzero((used > 1) & ~self.flat):  # flat: no counts to bound
            first = int(self.counts[j][0])
            _expect(empty <= first,
                    f"{CHUNKS_NPY}: {empty} rows are in lanes without words, which decode "
                    f"to the first used code of column {j} only, more than its count "
                    f"{first} ({TABLE_NPY})")

    def _batches(self, target):
        """Decode the chunks a batch at a time (about ``BATCH_VALUES`` values, in
        parallel) into ``target(first_row, n_rows)`` (a C-contiguous array of the
        batch's codes), yielding ``(first_row, codes)`` of each chunk; the stream's
        digest and the counts of every feature are checked at the end (``ValueError``
        if they differ)."""
        n, d = self.shape
        if n == 0:
            return
        if self.adaptive is not None:  # checked before anything else is decoded
            features, adaptive = self._decode_adaptive()
        tables = Tables(self.counts, self.symbols)
        lanes, offsets = self.lanes, self.offsets
        n_chunks = (offsets.size - 1) // lanes
        per_batch = max(1, BATCH_VALUES // max(1, self.rows * d))
        tasks = per_batch * -(-lanes // RANS_GROUP)
        seen = tables.new_seen(max(1, min(tasks, numba.get_num_threads())))
        sha = hashlib.sha256()
        with self._open() as (f, n_words):
            _expect(n_words == int(offsets[-1]),
                    f"{STREAM_NPY}: the stream holds {n_words} words, the chunk offsets "
                    f"{offsets[-1]}")
            for c0 in range(0, n_chunks, per_batch):
                c1 = min(n_chunks, c0 + per_batch)
                first, last = offsets[c0 * lanes], offsets[c1 * lanes]
                words = np.empty(int(last - first) + 1, dtype=np.uint32)
                words[0] = 0
                raw = memoryview(words[1:]).cast("B")
                got = f.readinto(raw) if raw.nbytes else 0
                _expect(got == raw.nbytes, f"{STREAM_NPY}: the stream is truncated")
                if words.dtype.byteorder == ">":  # pragma: no cover (big-endian hosts)
                    words.byteswap(inplace=True)
                sha.update(raw)
                a0 = c0 * self.rows
                row_starts = np.minimum(np.arange(c0, c1 + 1, dtype=np.int64) * self.rows,
                                        n) - a0
                block = target(a0, int(row_starts[-1]))
                states, left = tables.decode(
                    words, offsets[c0 * lanes:c1 * lanes + 1] - first, row_starts, block,
                    seen, lanes, padded=True)
                if self.adaptive is not None:  # one chunk (check_spec)
                    block[:, features] = adaptive
                for i in range(c1 - c0):
                    lane = slice(i * lanes, (i + 1) * lanes)
                    _expect(np.all(left[lane] >= 0), f"{STREAM_NPY}: chunk {c0 + i} is not a "
                                                     "valid stream (its last word is zero)")
                    _expect(np.all(left[lane] == 0) and np.all(states[lane] == 0),
                            f"{STREAM_NPY}: chunk {c0 + i} does not end at its last word "
                            f"({CHUNKS_NPY})")
                total = seen.sum(axis=0)  # so far: never more than the table's counts
                for j in np.flatnonzero(~self.flat):
                    a, b = tables.count_starts[j], tables.count_starts[j + 1]
                    _expect(np.all(total[a:b] <= self.counts[j]),
                            f"{STREAM_NPY}: the decoded codes of column {j} differ from its "
                            f"table ({TABLE_NPY})")
                for i in range(c1 - c0):
                    yield a0 + int(row_starts[i]), block[row_starts[i]:row_starts[i + 1]]
                block = None  # freed (unless the caller keeps it) before the next batch
        _expect(self.digest is None or sha.hexdigest() == self.digest,
                f"{STREAM_NPY}: stream checksum mismatch (stream_sha256): the file was "
                "modified or corrupted")
        seen = seen.sum(axis=0)
        for j in np.flatnonzero(~self.flat):  # a flat model has no counts to match
            a, b = tables.count_starts[j], tables.count_starts[j + 1]
            _expect(np.array_equal(seen[a:b], self.counts[j]),
                    f"{STREAM_NPY}: the decoded codes of column {j} differ from its table "
                    f"({TABLE_NPY})")

    def blocks(self):
        """``(first_row, codes)`` of each chunk, in order (see :meth:`_batches`)."""
        d = self.shape[1]
        yield from self._batches(lambda a, rows: np.empty((rows, d), dtype=self.dtype))

    def decode(self):
        """All the codes, ``(n_samples, n_features)``. Decoded in place when they take
        at most ``EXPANSION`` times the bytes of the stream and chunk table (plus 4
        MiB); codes compressing more (a feature nearly constant, or a forged file
        declaring many rows) are decoded a batch at a time and joined at the end, so
        that memory grows only with chunks already checked (each ends exactly at its
        last word, no code more frequent than its table says)."""
        d = self.shape[1]
        if self.plausible(np.dtype(self.dtype).itemsize):
            out = np.empty(self.shape, dtype=self.dtype)
            for _ in self._batches(lambda a, rows: out[a:a + rows]):
                pass
            return out
        parts = [codes for _, codes in self.blocks()]
        return np.concatenate([np.empty((0, d), self.dtype), *parts])

    def plausible(self, itemsize):
        """Whether all the rows, at ``itemsize`` bytes a value, take at most
        ``EXPANSION`` times the stream and chunk table (plus 4 MiB): then they may be
        allocated before they are decoded."""
        n, d = self.shape
        words = int(self.offsets[-1]) + 2 * self.offsets.size
        return n * d * itemsize <= EXPANSION * 4 * words + 2**22

    def verify(self):
        """Check the stream against its SHA-256 (``stream_sha256``) without decoding it:
        read in pieces of 1 MiB (what :func:`skquant.load` does: it needs no codes).
        A stream held in the state (format version 5) has no digest of its own: the
        file's covers it."""
        if self.digest is None:
            return
        sha = hashlib.sha256()
        with self._open() as (f, n_words):
            _expect(n_words == int(self.offsets[-1]),
                    f"{STREAM_NPY}: the stream holds {n_words} words, the chunk offsets "
                    f"{self.offsets[-1]}")
            left = 4 * n_words
            while left:
                piece = f.read(min(left, 2**20))
                _expect(piece, f"{STREAM_NPY}: the stream is truncated")
                sha.update(piece)
                left -= len(piece)
        _expect(sha.hexdigest() == self.digest,
                f"{STREAM_NPY}: stream checksum mismatch (stream_sha256): the file was "
                "modified or corrupted")
