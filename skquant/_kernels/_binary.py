"""Kernels of the binary spherical encoder: sign + pack, Hamming search, BSQ entropies.

Conventions shared by every kernel here:

- ``X`` is C-ordered ``(n_samples, n_features)`` float32 or float64. Packed codes are
  C-ordered ``uint8`` rows in ``np.packbits`` order: bit ``j`` of a row is bit
  ``7 - j % 8`` of byte ``j // 8`` (first bit = most significant), padding bits are 0.
- A bit is 1 exactly when its coordinate is ``> 0``: zero and negative give 0, as in the
  reference module (``x > 0``). Scaling a vector by a positive number changes no sign,
  so the sign kernels never divide by the norm (which also avoids the reference's
  float32 overflow of the squared norm for huge vectors).
- Rows are processed in fixed blocks of ``BLOCK`` rows and every output element
  is written by exactly one block, so no result depends on the number of threads.
- Hamming kernels work on codes viewed as ``uint64`` words (rows padded with zero
  bytes to a multiple of 8); the bit order inside a word does not matter for a
  popcount of an XOR.
"""

import sys

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._config import jit, prange

BLOCK = 256
#: The reference module clamps probabilities at ``CLAMP`` inside the logarithm.
CLAMP = 1e-5
LOG_CLAMP = float(np.log(CLAMP))
#: ``torch.nn.functional.normalize`` divides by ``max(norm, NORM_EPS)``.
NORM_EPS = 1e-12
#: Largest cost ``a_d`` of a bit (see the entropies below). ``exp(-a)`` is already 0
#: from ``a = 746`` on; the cap keeps sums of costs, and their products with those
#: zero probabilities, finite when ``inv_temperature`` is near the largest float.
COST_CAP = 1e300
#: The smallest normal float64.
TINY64 = float(np.finfo(np.float64).tiny)


# --------------------------------------------------------------------------- encoding
@intrinsic
def _sign_byte(typingctx, xf, at, offset, j):
    """The packed byte of the eight signs ``xf[at + t] - offset[j + t] > 0`` (t = 0..7,
    np.packbits order: ``t = 0`` is the most significant bit), plus 256 if one of the
    eight values is NaN or infinite: one ``<8 x float>`` compare whose mask becomes the
    byte (a ``vmovmskps``/``vmovmskpd`` on x86), bit-reversed into np.packbits order.
    The same operations as the scalar ``x - offset > 0`` and ``x - x != 0``. The mask's
    bit order is little-endian's (element 0 lowest), which the tests check against
    ``np.packbits``."""
    sig = types.int32(xf, at, offset, j)

    def codegen(context, builder, sig, args):
        xf_, at_, offset_, j_ = args
        vx = ir.VectorType(context.get_value_type(sig.args[0].dtype), 8)
        i8, i32 = ir.IntType(8), ir.IntType(32)

        def load(k, value, index):
            data = context.make_array(sig.args[k])(context, builder, value).data
            return builder.load(builder.bitcast(builder.gep(data, [index]), vx.as_pointer()),
                                align=1)

        x = load(0, xf_, at_)
        zero = ir.Constant(vx, [0.0] * 8)
        positive = builder.fcmp_ordered(">", builder.fsub(x, load(2, offset_, j_)), zero)
        reverse = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i8, [i8]),
                                                 "llvm.bitreverse.i8")
        byte = builder.call(reverse, [builder.bitcast(positive, i8)])
        nonfinite = builder.bitcast(builder.fcmp_unordered("!=", builder.fsub(x, x), zero), i8)
        some = builder.zext(builder.icmp_unsigned("!=", nonfinite, ir.Constant(i8, 0)), i32)
        return builder.or_(builder.zext(byte, i32), builder.shl(some, ir.Constant(i32, 8)))

    return sig, codegen


@jit(inline="always")
def _sign_row(xf, at, offset, d, out, i):
    """Pack the signs of ``xf[at : at + d] - offset`` into ``out[i]`` (whole bytes by
    :func:`_sign_byte`, the last partial byte value by value; padding bits 0). Returns
    True if the ``d`` values are finite."""
    full = d // 8
    flags = np.int32(0)
    for b in range(full):
        r = _sign_byte(xf, at + 8 * b, offset, 8 * b)
        out[i, b] = np.uint8(r & 255)
        flags |= r
    if full < out.shape[1]:
        v = np.int32(0)
        for j in range(8 * full, d):
            x = xf[at + j]
            flags |= np.int32(x - x != 0.0) << 8
            v |= np.int32(x - offset[j] > 0) << (7 - j + 8 * full)
        out[i, full] = np.uint8(v)
    return flags < 256


@jit(parallel=True)
def sign_pack(X, offset, out, bad):
    """Codes of ``X - offset`` without rotation (the reference's quantizer when
    ``offset`` is zero; subtracting 0.0 changes no sign).

    One pass over the rows: eight values at a time are compared and their mask stored
    as one byte (:func:`_sign_byte`); finiteness is checked on the way. No temporary.

    Parameters
    ----------
    X : (n, d) C-ordered float array, IN.
    offset : (d,) float array (same dtype), IN.
    out : (n, ceil(d / 8)) uint8 array, OUT: the packed codes (padding bits 0).
    bad : (n,) bool array, OUT: True where the row of ``X`` holds a NaN or inf (its
        code is then meaningless and the caller raises).
    """
    n, d = X.shape
    xf = X.reshape(n * d)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        for i in range(blk * BLOCK, min((blk + 1) * BLOCK, n)):
            bad[i] = not _sign_row(xf, i * d, offset, d, out, i)


@jit(parallel=True)
def rotate_sign_pack(X, offset, W, out, bad):
    """Codes of ``(X - offset) @ W``: centre, rotate, sign and pack, in one pass.

    Rows go four at a time, so each element of ``W`` loaded feeds four products; the
    rotated rows live in a ``(4, n_bits)`` buffer per block of rows (the only float
    temporary). ``z[j]`` is accumulated over the input coordinates in increasing
    order (``z = 0; z += (x[k] - offset[k]) * W[k]`` for k = 0, 1, ...), in the dtype
    of ``X``.

    Parameters
    ----------
    X : (n, d) float array, IN.
    offset : (d,) float array (same dtype), IN.
    W : (d, n_bits) float array (same dtype), IN: the projection, ``components_.T``.
    out : (n, ceil(n_bits / 8)) uint8 array, OUT.
    bad : (n,) bool array, OUT: True where the rotated row is not finite (a NaN or inf
        in the row of ``X``, or an overflow).
    """
    n, d = X.shape
    n_bits = W.shape[1]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        xc = np.empty((4, d), dtype=X.dtype)
        z = np.empty((4, n_bits), dtype=X.dtype)
        zf = z.reshape(4 * n_bits)
        zero = np.zeros(n_bits, dtype=X.dtype)
        stop = min((blk + 1) * BLOCK, n)
        for i0 in range(blk * BLOCK, stop, 4):
            m = min(4, stop - i0)
            for r in range(4):  # a short last group repeats its last row
                i = i0 + min(r, m - 1)
                for k in range(d):
                    xc[r, k] = X[i, k] - offset[k]
            z[:] = 0.0
            for k in range(d):
                x0 = xc[0, k]
                x1 = xc[1, k]
                x2 = xc[2, k]
                x3 = xc[3, k]
                for j in range(n_bits):
                    w = W[k, j]
                    z[0, j] += x0 * w
                    z[1, j] += x1 * w
                    z[2, j] += x2 * w
                    z[3, j] += x3 * w
            for r in range(m):
                bad[i0 + r] = not _sign_row(zf, r * n_bits, zero, n_bits, out, i0 + r)


# --------------------------------------------------------------------------- statistics
#: Parts of the rows in the code-statistics kernels: a fixed split (a function of the
#: shapes only), so that no result depends on the number of threads.
STAT_PARTS = 16
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_SEED = np.uint64(0x9E3779B97F4A7C15)
_S32 = np.uint64(32)
_S33 = np.uint64(33)


@jit(parallel=True)
def code_bit_counts(codes, out):
    """Number of rows with each bit set, per part of the rows.

    Each part (consecutive rows, ``ceil(n / n_parts)`` of them) counts the values of
    every byte column in a ``(n_bytes, 256)`` histogram, one increment per byte, and
    turns it into bit counts at the end.

    Parameters
    ----------
    codes : (n, n_bytes) uint8 array, IN: packed codes (``np.packbits`` order).
    out : (n_parts, 8 * n_bytes) int64 array, OUT: ``out[p, j]`` is the number of rows
        of part ``p`` whose bit ``j`` is 1.
    """
    n, n_bytes = codes.shape
    n_parts = out.shape[0]
    size = (n + n_parts - 1) // n_parts
    for p in prange(n_parts):
        hist = np.zeros((n_bytes, 256), dtype=np.int64)
        for i in range(p * size, min(n, (p + 1) * size)):
            for b in range(n_bytes):
                hist[b, codes[i, b]] += 1
        for b in range(n_bytes):
            for t in range(8):
                c = 0
                for v in range(256):
                    c += hist[b, v] * ((v >> (7 - t)) & 1)
                out[p, 8 * b + t] = c


@jit(inline="always")
def _mix(k):
    """MurmurHash3's 64-bit finaliser: a bijection of uint64 whose bits all avalanche."""
    k ^= k >> _S33
    k *= _MIX1
    k ^= k >> _S33
    k *= _MIX2
    k ^= k >> _S33
    return k


@jit(inline="always")
def _row_hash(words, i):
    h = _SEED
    for t in range(words.shape[1]):
        h = _mix(h ^ words[i, t])
    return h


@jit(inline="always")
def _count_row(table, words, i, h):
    """Add row ``i`` of ``words`` to the open-addressing ``table``; returns the probes.

    ``table`` has ``w + 1`` columns: a row's words, then its count (0: empty slot).
    The start slot takes the low 32 bits of ``h`` to the table's range (multiply and
    shift); collisions probe the next slots in turn.
    """
    size = table.shape[0]
    w = words.shape[1]
    s = np.int64(((h & np.uint64(0xFFFFFFFF)) * np.uint64(size)) >> _S32)
    probes = 0
    while True:
        c = table[s, w]
        if c == 0:
            for q in range(w):
                table[s, q] = words[i, q]
            table[s, w] = 1
            return probes
        same = True
        for q in range(w):
            if table[s, q] != words[i, q]:
                same = False
                break
        if same:
            table[s, w] = c + np.uint64(1)
            return probes
        s += 1
        if s == size:
            s = 0
        probes += 1


@jit(parallel=True)
def code_counts(words, bucket_bits, grouped, counts):
    """Multiplicities of the distinct rows of ``words``, in O(n) expected time.

    Rows are hashed (MurmurHash3's finaliser over their words) and moved to ``2 **
    bucket_bits`` buckets by the top bits of the hash: a counting sort over
    ``STAT_PARTS`` fixed parts of the rows, so each bucket keeps its rows in index
    order. Each bucket then counts its rows in its own open-addressing table of
    ``1.5 m + 1`` slots (``m`` rows: small enough to stay in cache), buckets in
    parallel. A bucket whose probes exceed ``32 m + 64`` (only rows crafted to
    collide do that) stops, and the function returns -1: the caller then counts
    by sorting.

    Parameters
    ----------
    words : (n, w) uint64 array, IN: the codes as words (zero-padded rows).
    bucket_bits : int, IN, 1 to 12.
    grouped : (n, w) uint64 array, OUT: scratch, the rows in bucket order.
    counts : (n,) int64 array, OUT: bucket by bucket, over the bucket's range of rows,
        the multiplicity of each of its distinct rows, then zeros.

    Returns
    -------
    probes : int
        Probes beyond the first slot, in all; -1 if some bucket gave up.
    """
    n, w = words.shape
    n_buckets = 1 << bucket_bits
    shift = np.uint64(64 - bucket_bits)
    size = (n + STAT_PARTS - 1) // STAT_PARTS
    hist = np.zeros((STAT_PARTS, n_buckets), dtype=np.int64)
    for p in prange(STAT_PARTS):
        for i in range(p * size, min(n, (p + 1) * size)):
            hist[p, _row_hash(words, i) >> shift] += 1
    start = np.empty(n_buckets + 1, dtype=np.int64)
    pos = np.empty((STAT_PARTS, n_buckets), dtype=np.int64)
    acc = 0
    for b in range(n_buckets):
        start[b] = acc
        for p in range(STAT_PARTS):
            pos[p, b] = acc
            acc += hist[p, b]
    start[n_buckets] = acc
    for p in prange(STAT_PARTS):
        for i in range(p * size, min(n, (p + 1) * size)):
            b = _row_hash(words, i) >> shift
            k = pos[p, b]
            for q in range(w):
                grouped[k, q] = words[i, q]
            pos[p, b] = k + 1
    probes = np.zeros(n_buckets, dtype=np.int64)
    for b in prange(n_buckets):
        lo = start[b]
        m = start[b + 1] - lo
        rows = grouped[lo : lo + m]
        table = np.zeros((m + m // 2 + 1, w + 1), dtype=np.uint64)
        budget = 32 * m + 64
        total = 0
        for t in range(m):
            total += _count_row(table, rows, t, _row_hash(rows, t))
            if total > budget:
                total = -1
                break
        probes[b] = total
        k = lo
        if total >= 0:
            for s in range(table.shape[0]):
                if table[s, w] > 0:
                    counts[k] = table[s, w]
                    k += 1
        for t in range(k, lo + m):
            counts[t] = 0
    if probes.min() < 0:
        return -1
    return probes.sum()


#: Slots per row in the tables of :func:`word_statistics` (a load of 1/8 at most:
#: few collisions, so few mispredicted branches).
WORD_SLOTS = 8
#: ``(w >> t) & LANES`` holds bit ``t`` of each of the 8 bytes of the word ``w``, one
#: per byte lane; sums of at most 255 of them do not carry from lane to lane.
LANES = np.uint64(0x0101010101010101)
#: Byte lane ``L`` of a word read from memory is the byte at address offset
#: ``L ^ LANE_FLIP``.
LANE_FLIP = 0 if sys.byteorder == "little" else 7


@jit(inline="always")
def _bit_lanes(words, lo, hi, ones):
    """Add to ``ones`` (64 counts, ``np.packbits`` order) the bits of ``words[lo:hi]``.

    Rows go 255 at a time into 8 byte-lane sums (one per bit of a byte), which a
    vectorised loop adds without carries; each chunk's lanes are then spread.
    """
    for c0 in range(lo, hi, 255):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.uint64(0)
        for i in range(c0, min(hi, c0 + 255)):
            w = words[i]
            a0 += w & LANES
            a1 += (w >> np.uint64(1)) & LANES
            a2 += (w >> np.uint64(2)) & LANES
            a3 += (w >> np.uint64(3)) & LANES
            a4 += (w >> np.uint64(4)) & LANES
            a5 += (w >> np.uint64(5)) & LANES
            a6 += (w >> np.uint64(6)) & LANES
            a7 += (w >> np.uint64(7)) & LANES
        for t, a in enumerate((a0, a1, a2, a3, a4, a5, a6, a7)):
            for lane in range(8):
                byte = lane ^ LANE_FLIP
                ones[8 * byte + 7 - t] += np.int64((a >> np.uint64(8 * lane)) & np.uint64(255))


@jit(parallel=True)
def word_statistics(words, bucket_bits, ones):
    """Bit counts and multiplicities of codes of up to 64 bits (one word a row).

    ``code_bit_counts`` and the count of :func:`code_counts`, for one word a row, in
    two parallel passes instead of three over the rows, with the same hash ``h =
    mix(word ^ SEED)`` (a bijection: the words are counted by their hashes).

    1. Over ``STAT_PARTS`` fixed parts of the rows: the part's bits are counted in
       byte lanes, its hashes kept in a buffer of the part's size and counted by
       bucket (the top ``bucket_bits`` bits of ``h``), and then moved, bucket by
       bucket, into the part's own range of a scratch array (a counting sort that
       reads the part twice while it is in cache).
    2. Over ``STAT_PARTS`` groups of buckets: each bucket's hashes, from every part,
       are counted in an open-addressing table of a power of two ``>= WORD_SLOTS *
       m`` slots (``m`` rows, a few hundred: it stays in cache) indexed by the low
       bits of ``h``, one table per group, whose used slots are emptied after each
       bucket; ``h = 0`` marks an empty slot, so that one hash is counted aside. A
       bucket whose probes exceed ``32 m + 64`` (only rows crafted to collide do
       that) stops, and the count gives up. The multiplicities above 1 go to a
       second scratch array (touched only when rows repeat), tallied last, serially.

    Parameters
    ----------
    words : (n,) uint64 array, IN: the codes, one word each (zero-padded).
    bucket_bits : int, IN, 1 to 12.
    ones : (STAT_PARTS, 64) int64 array, OUT: ``ones[p, j]`` is the number of rows of
        part ``p`` (``ceil(n / STAT_PARTS)`` consecutive rows) whose bit ``j`` is 1,
        as :func:`code_bit_counts` counts them.

    Returns
    -------
    tally : (largest + 1,) int64 array
        ``tally[c]`` distinct words occur ``c`` times (``largest``: the largest
        multiplicity; ``[0]`` when ``n == 0``): ``np.bincount`` of the
        multiplicities. Empty if some bucket gave up.
    """
    n = words.shape[0]
    n_buckets = 1 << bucket_bits
    shift = np.uint64(64 - bucket_bits)
    size = (n + STAT_PARTS - 1) // STAT_PARTS
    # offsets[p, b]: where bucket b starts in part p's range (from the part's start)
    offsets = np.zeros((STAT_PARTS, n_buckets + 1), dtype=np.int64)
    grouped = np.empty(n, dtype=np.uint64)
    for p in prange(STAT_PARTS):
        lo = min(n, p * size)
        hi = min(n, lo + size)
        ones[p, :] = 0
        _bit_lanes(words, lo, hi, ones[p])
        hashes = np.empty(hi - lo, dtype=np.uint64)
        ends = offsets[p]
        for i in range(lo, hi):
            h = _mix(words[i] ^ _SEED)
            hashes[i - lo] = h
            ends[(h >> shift) + np.uint64(1)] += 1
        for b in range(n_buckets):
            ends[b + 1] += ends[b]
        cursor = ends[:n_buckets].copy()
        for h in hashes:
            b = h >> shift
            grouped[lo + cursor[b]] = h
            cursor[b] += 1
    multiple = np.empty(n, dtype=np.int64)  # multiplicities above 1, bucket by bucket
    first = np.zeros(n_buckets + 1, dtype=np.int64)  # where each bucket's go
    for bucket in range(n_buckets):
        first[bucket + 1] = first[bucket]
        for part in range(STAT_PARTS):
            first[bucket + 1] += offsets[part, bucket + 1] - offsets[part, bucket]
    singles = np.zeros(n_buckets, dtype=np.int64)
    multiples = np.zeros(n_buckets, dtype=np.int64)  # -1: the bucket gave up
    for g in prange(STAT_PARTS):
        b0 = g * n_buckets // STAT_PARTS
        b1 = (g + 1) * n_buckets // STAT_PARTS
        longest = 0
        for b in range(b0, b1):
            longest = max(longest, first[b + 1] - first[b])
        slots = 16
        while slots < WORD_SLOTS * longest:
            slots *= 2
        keys = np.zeros(slots, dtype=np.uint64)
        seen = np.empty(slots, dtype=np.int64)
        used = np.empty(longest, dtype=np.int64)  # the slots in use, in order of use
        for b in range(b0, b1):
            m = first[b + 1] - first[b]
            slots = 16
            while slots < WORD_SLOTS * m:
                slots *= 2
            mask = np.uint64(slots - 1)
            n_used = 0
            zeros = 0
            budget = 32 * m + 64
            for p in range(STAT_PARTS):
                base = min(n, p * size)
                for t in range(base + offsets[p, b], base + offsets[p, b + 1]):
                    h = grouped[t]
                    if h == 0:
                        zeros += 1
                        continue
                    s = np.int64(h & mask)
                    while True:
                        key = keys[s]
                        if key == h:
                            seen[s] += 1
                            break
                        if key == 0:
                            keys[s] = h
                            seen[s] = 1
                            used[n_used] = s
                            n_used += 1
                            break
                        s = (s + 1) & (slots - 1)
                        budget -= 1
                    if budget < 0:
                        break
                if budget < 0:
                    break
            n_ones = 0
            top = first[b]
            for q in range(n_used):
                s = used[q]
                keys[s] = 0
                if seen[s] == 1:
                    n_ones += 1
                else:
                    multiple[top] = seen[s]
                    top += 1
            if zeros == 1:
                n_ones += 1
            elif zeros > 1:
                multiple[top] = zeros
                top += 1
            singles[b] = n_ones
            multiples[b] = top - first[b] if budget >= 0 else -1
    # the tally, serially (no name below is one of the parallel loops' own)
    biggest = 0  # all copies of a word are in its bucket
    for bucket in range(n_buckets):
        if multiples[bucket] < 0:
            return np.zeros(0, dtype=np.int64)
        biggest = max(biggest, first[bucket + 1] - first[bucket])
    tally = np.zeros(biggest + 2, dtype=np.int64)  # tally[1] even when n == 0
    tally[1] = singles.sum()
    largest = 1 if tally[1] else 0
    for bucket in range(n_buckets):
        for row in range(first[bucket], first[bucket] + multiples[bucket]):
            times = multiple[row]
            tally[times] += 1
            largest = max(largest, times)
    return tally[: largest + 1]


# --------------------------------------------------------------------------- Hamming
@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of a uint64 (LLVM ``ctpop``: one instruction where available)."""
    if not (isinstance(x, types.Integer) and x.bitwidth == 64 and not x.signed):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    # the count (0..64) is returned as int64, so sums stay integers in numba's typing
    return types.int64(types.uint64), codegen


@jit(parallel=True)
def hamming_matrix(A, B, out):
    """All Hamming distances between the rows of ``A`` and of ``B``.

    Parameters
    ----------
    A : (n, w) uint64 array, IN: packed codes as words.
    B : (m, w) uint64 array, IN.
    out : (n, m) int32 array, OUT: ``out[i, j]`` = number of differing bits.
    """
    n, w = A.shape
    m = B.shape[0]
    for i in prange(n):
        for j in range(m):
            c = 0
            for t in range(w):
                c += _popcount(A[i, t] ^ B[j, t])
            out[i, j] = c


@jit
def _distance(Q, i, B, j):
    if Q.shape[1] == 1:  # codes of up to 64 bits: one word
        return _popcount(Q[i, 0] ^ B[j, 0])
    c = 0
    for t in range(Q.shape[1]):
        c += _popcount(Q[i, t] ^ B[j, t])
    return c


@jit(parallel=True)
def hamming_knn(Q, B, k, out_dist, out_idx):
    """The ``k`` nearest rows of ``B`` to each row of ``Q`` in Hamming distance.

    One pass over ``B`` per query. A row is a candidate when it would enter the
    current top ``k`` in (distance, index) order: its distance ``c`` is below the
    threshold ``tau``, or equal to it while fewer than ``k`` candidates lie at or below
    ``tau``. Candidates go to a small buffer (in index order) and to a histogram of
    distances; ``tau`` drops as soon as ``k`` candidates lie strictly below it, so after
    the first rows almost every row costs one popcount and one comparison. A full
    buffer is compacted to the candidates still at or below ``tau`` (at most ``2k``).
    The survivors are then placed by a counting sort on the distance, stable in the
    index. The result is ordered by (distance, index): ties go to the smaller index,
    whatever the thread count.

    Parameters
    ----------
    Q : (n, w) uint64 array, IN: query codes as words.
    B : (m, w) uint64 array, IN: base codes, ``m >= k``.
    k : int, IN, ``1 <= k <= m``.
    out_dist : (n, k) int32 array, OUT.
    out_idx : (n, k) int64 array, OUT.
    """
    for i in prange(Q.shape[0]):
        _knn_one(Q, i, B, k, out_dist[i], out_idx[i])


@jit
def _knn_one(Q, i, B, k, out_dist, out_idx):
    """:func:`hamming_knn` for query ``i`` (rows ``out_dist``, ``out_idx``)."""
    m = B.shape[0]
    max_d = 64 * Q.shape[1]
    cap = 4 * k + 64
    hist = np.zeros(max_d + 1, dtype=np.int64)
    cand_d = np.empty(cap, dtype=np.int64)
    cand_j = np.empty(cap, dtype=np.int64)
    size = 0
    tau = max_d
    count = 0  # candidates with distance <= tau
    for j in range(m):
        c = _distance(Q, i, B, j)
        if c < tau or (c == tau and count < k):
            if size == cap:  # compact: drop candidates above tau
                kept = 0
                for t in range(size):
                    if cand_d[t] <= tau:
                        cand_d[kept] = cand_d[t]
                        cand_j[kept] = cand_j[t]
                        kept += 1
                size = kept
            cand_d[size] = c
            cand_j[size] = j
            size += 1
            hist[c] += 1
            count += 1
            while count - hist[tau] >= k:
                count -= hist[tau]
                tau -= 1
    # hist[d] becomes the first output slot of distance d (exact for d <= tau)
    start = 0
    for dd in range(tau + 1):
        n_d = hist[dd]
        hist[dd] = start
        start += n_d
    for t in range(size):
        c = cand_d[t]
        if c <= tau:
            pos = hist[c]
            if pos < k:
                out_dist[pos] = c
                out_idx[pos] = cand_j[t]
                hist[c] = pos + 1


# --------------------------------------------------------------------------- entropies
# The reference's soft assignment of a normalised row x to the 2**D codes
# c in {-1/sqrt(D), +1/sqrt(D)}**D is softmax(2 * inv_temperature * <x, c>). The logit is
# a sum over dimensions, so the softmax is a product of independent Bernoullis: bit d
# is 1 with probability sigmoid(t_d), t_d = scale * x_d, scale = 4 * inv_temperature /
# sqrt(D). Per dimension the kernels keep a_d = |t_d| and e_d = exp(-a_d): the likely
# value of bit d has probability 1 / (1 + e_d), the other e_d / (1 + e_d). A code is
# described by the set F of bits it sets to their unlikely value; its probability is
# p_max * exp(-C) with p_max the probability of the most likely code and C the sum of
# a_d over F (its "cost"), so p < CLAMP exactly when C > B = log p_max - log CLAMP.


@jit
def _row_costs(x, scale, a, e):
    """``a[d] = |t_d|`` and ``e[d] = exp(-a[d])`` for one row; returns ``sum log1p(e)``.

    The row is normalised as ``torch.nn.functional.normalize`` does (divided by
    ``max(norm, NORM_EPS)``). The entropy kernels take float64 rows only (the caller
    converts), so they compile once.
    """
    d = x.shape[0]
    big = 0.0
    for k in range(d):
        big = max(big, abs(x[k]))
    s = 0.0
    if big > 0.0:  # scaled sum of squares: no overflow for entries above 1e154
        inv_big = 1.0 / big
        if TINY64 <= inv_big < np.inf:
            for k in range(d):
                v = x[k] * inv_big
                s += v * v
        else:  # 1 / big overflows (subnormal rows) or is subnormal (rows near 1.8e308)
            for k in range(d):
                v = x[k] / big
                s += v * v
    norm = big * np.sqrt(s)
    if norm < np.inf:
        factor = scale / max(norm, NORM_EPS)
    else:  # the norm of a row near the largest float overflows, its reciprocal not
        factor = scale / np.sqrt(s) / big
    lse = 0.0
    for k in range(d):
        # a zero coordinate is a fair bit at any temperature (inf * 0 would be NaN)
        ak = min(abs(factor * x[k]), COST_CAP) if x[k] != 0.0 else 0.0
        a[k] = ak
        e[k] = np.exp(-ak)
        lse += np.log1p(e[k])
    return lse


@jit
def _sorted_costs(a, e, start, stop, cost, weight, tmp_c, tmp_w):
    """Costs of all 2**(stop-start) patterns of dims start..stop-1, sorted increasingly.

    ``weight`` gets ``exp(-cost)`` (as products of the ``e``). Each dimension doubles
    the sorted list by merging it with itself shifted by ``a[d]``: O(2**k) in all.
    Returns the number of entries.
    """
    cost[0] = 0.0
    weight[0] = 1.0
    size = 1
    for dd in range(start, stop):
        ad = a[dd]
        ed = e[dd]
        i = 0
        j = 0
        k = 0
        # the shifted list's last entry is the largest, so the first list ends first
        while j < size:
            v = cost[j] + ad
            if i < size and cost[i] <= v:
                tmp_c[k] = cost[i]
                tmp_w[k] = weight[i]
                i += 1
            else:
                tmp_c[k] = v
                tmp_w[k] = weight[j] * ed
                j += 1
            k += 1
        size *= 2
        for t in range(size):
            cost[t] = tmp_c[t]
            weight[t] = tmp_w[t]
    return size


@jit
def _low_mass_correction(a, e, budget, p_max, c1, w1, c2, w2, tmp_c, tmp_w, W2, S2):
    """``sum over codes with C > budget of p * (budget - C)`` (<= 0), meet in the middle.

    That is ``sum_{p < CLAMP} p log(p / CLAMP)``: added to the Shannon entropy it gives
    the reference's ``-sum p log(max(p, CLAMP))``. Both halves of the dimensions are
    enumerated with sorted costs; for each first-half cost ``C1`` the second-half codes
    with ``C2 > budget - C1`` form a suffix whose weight and weighted-cost sums ``W2``,
    ``S2`` are precomputed. O(2**(D/2)) per row instead of O(2**D).
    """
    d = a.shape[0]
    h = d // 2
    n1 = _sorted_costs(a, e, 0, h, c1, w1, tmp_c, tmp_w)
    n2 = _sorted_costs(a, e, h, d, c2, w2, tmp_c, tmp_w)
    W2[n2] = 0.0
    S2[n2] = 0.0
    for t in range(n2 - 1, -1, -1):
        W2[t] = W2[t + 1] + w2[t]
        S2[t] = S2[t + 1] + w2[t] * c2[t]
    corr = 0.0
    k = n2  # first second-half index with c2 > budget - c1[i]; only moves down
    for i in range(n1):
        thr = budget - c1[i]
        while k > 0 and c2[k - 1] > thr:
            k -= 1
        if k < n2:
            corr += w1[i] * ((budget - c1[i]) * W2[k] - S2[k])
    return p_max * corr


@jit
def _affordable_order(a, budget, order):
    """Write into ``order[:m]`` the dimensions with ``a <= budget``, by increasing
    cost (insertion sort: stable, D is small); return ``m``."""
    m = 0
    for k in range(a.shape[0]):
        if a[k] <= budget:
            j = m
            while j > 0 and a[order[j - 1]] > a[k]:
                order[j] = order[j - 1]
                j -= 1
            order[j] = k
            m += 1
    return m


@jit
def _high_mass_entropy(a, e, budget, p_max, log_p_max, order, st_i, st_c, st_p, cap):
    """The reference's clamped entropy by enumerating the codes with ``p >= CLAMP``.

    ``-sum_{p >= CLAMP} p log p - log(CLAMP) * (1 - sum_{p >= CLAMP} p)``: depth-first
    over flip sets in increasing-cost order, pruned at the budget. Returns NaN when
    more than ``cap`` codes qualify (the caller then uses the meet in the middle).
    """
    m = _affordable_order(a, budget, order)
    plogp = p_max * log_p_max
    other = 0.0
    count = 0
    top = 1
    st_i[0] = 0
    st_c[0] = 0.0
    st_p[0] = p_max
    while top > 0:
        top -= 1
        start = st_i[top]
        c = st_c[top]
        p = st_p[top]
        for j in range(start, m):
            c2 = c + a[order[j]]
            if c2 > budget:
                break
            p2 = p * e[order[j]]
            plogp += p2 * (log_p_max - c2)
            other += p2
            count += 1
            if count > cap:
                return np.nan
            if j + 1 < m:
                st_i[top] = j + 1
                st_c[top] = c2
                st_p[top] = p2
                top += 1
    low_mass = -np.expm1(log_p_max) - other
    return -plogp - LOG_CLAMP * low_mass


@jit
def _row_terms(x, scale, clamp, cap, a, e, order, st_i, st_c, st_p, work, q0, q1):
    """Entropy (clamped or not) and bit probabilities of one row; see below."""
    d = x.shape[0]
    lse = _row_costs(x, scale, a, e)
    entropy = lse
    total_cost = 0.0
    for k in range(d):
        q_high = 1.0 / (1.0 + e[k])
        q_low = e[k] * q_high
        entropy += a[k] * q_low
        total_cost += a[k]
        if x[k] > 0:
            q0[k] = q_low
            q1[k] = q_high
        else:
            q0[k] = q_high
            q1[k] = q_low
    log_p_max = -lse
    budget = log_p_max - LOG_CLAMP
    if not (clamp and total_cost > budget):  # no code has p < CLAMP
        return entropy
    if budget < 0.0:
        return -LOG_CLAMP
    p_max = np.exp(log_p_max)
    value = _high_mass_entropy(a, e, budget, p_max, log_p_max, order, st_i, st_c, st_p, cap)
    if value == value:
        return value
    h = d // 2
    n1 = 1 << h
    n2 = 1 << (d - h)
    c1 = work[:n1]
    w1 = work[n1 : 2 * n1]
    rest = work[2 * n1 :]
    c2 = rest[:n2]
    w2 = rest[n2 : 2 * n2]
    tmp_c = rest[2 * n2 : 3 * n2]
    tmp_w = rest[3 * n2 : 4 * n2]
    W2 = rest[4 * n2 : 5 * n2 + 1]
    S2 = rest[5 * n2 + 1 : 6 * n2 + 2]
    return entropy + _low_mass_correction(
        a, e, budget, p_max, c1, w1, c2, w2, tmp_c, tmp_w, W2, S2
    )


@jit(parallel=True)
def bsq_sample_terms(X, scale, clamp, out_entropy, out_q0, out_q1):
    """Per-row entropy of the factorised soft assignment, and its bit probabilities.

    The Shannon entropy of a row is the sum of its binary entropies,
    ``log1p(e_d) + a_d e_d / (1 + e_d)``, O(D). With ``clamp`` it becomes the
    reference's ``-sum p log(max(p, CLAMP))``, which differs only for rows whose least
    likely code has ``p < CLAMP``: if even the most likely code is below ``CLAMP`` the
    value is ``-log CLAMP``; otherwise the codes above ``CLAMP`` are enumerated when
    there are few (peaked rows), else the mass below is handled by a meet in the middle.

    Parameters
    ----------
    X : (n, D) float64 array, IN.
    scale : float, IN: ``4 * inv_temperature / sqrt(D)``.
    clamp : bool, IN: compute the reference's clamped entropy (cost up to O(2**(D/2))
        per row) instead of the Shannon entropy.
    out_entropy : (n,) float64 array, OUT: per-row entropy (nats).
    out_q0, out_q1 : (n, D) float64 arrays, OUT: probabilities of bit 0 and of bit 1
        (each computed directly, so that tiny ones keep their relative precision).
    """
    n, d = X.shape
    h = d // 2
    n1 = 1 << h
    n2 = 1 << (d - h)
    cap = n1 + n2
    n_stack = d * (d + 1) // 2 + 1
    n_work = 2 * n1 + 6 * n2 + 2 if clamp else 0
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        a = np.empty(d)
        e = np.empty(d)
        order = np.empty(d, dtype=np.int64)
        st_i = np.empty(n_stack, dtype=np.int64)
        st_c = np.empty(n_stack)
        st_p = np.empty(n_stack)
        work = np.empty(n_work)
        for i in range(blk * BLOCK, min((blk + 1) * BLOCK, n)):
            out_entropy[i] = _row_terms(
                X[i], scale, clamp, cap, a, e, order, st_i, st_c, st_p, work,
                out_q0[i], out_q1[i],
            )


@jit
def _accumulate_pairs(A, B, out):
    """``out += A.T @ B`` on one thread.

    Two rows of ``out`` at a time, summed over the rows of ``A`` and ``B`` four at a
    time: each load of ``B`` feeds two products and each partial sum collects four,
    in a fixed order.
    """
    r, n_hi = A.shape
    n_lo = B.shape[1]
    r4 = r - r % 4
    o0 = np.empty(n_lo)
    o1 = np.empty(n_lo)
    for h0 in range(0, n_hi, 2):
        h1 = min(h0 + 1, n_hi - 1)
        o0[:] = 0.0
        o1[:] = 0.0
        for i in range(0, r4, 4):
            a00 = A[i, h0]
            a01 = A[i + 1, h0]
            a02 = A[i + 2, h0]
            a03 = A[i + 3, h0]
            a10 = A[i, h1]
            a11 = A[i + 1, h1]
            a12 = A[i + 2, h1]
            a13 = A[i + 3, h1]
            for lo in range(n_lo):
                b0 = B[i, lo]
                b1 = B[i + 1, lo]
                b2 = B[i + 2, lo]
                b3 = B[i + 3, lo]
                o0[lo] += a00 * b0 + a01 * b1 + a02 * b2 + a03 * b3
                o1[lo] += a10 * b0 + a11 * b1 + a12 * b2 + a13 * b3
        for i in range(r4, r):
            a0 = A[i, h0]
            a1 = A[i, h1]
            for lo in range(n_lo):
                o0[lo] += a0 * B[i, lo]
                o1[lo] += a1 * B[i, lo]
        for lo in range(n_lo):
            out[h0, lo] += o0[lo]
        if h1 != h0:
            for lo in range(n_lo):
                out[h1, lo] += o1[lo]


@jit(parallel=True)
def bsq_codebook_partials(Q0, Q1, h, rows, out):
    """Per-part sums of all 2**D code probabilities, in one parallel region.

    The probability of code ``(hi << (D-h)) | lo`` for row ``i`` is ``A[i, hi] *
    B[i, lo]``, with ``A`` the probabilities of every pattern of the first ``h`` bits
    and ``B`` those of the remaining bits (index order, first bit most significant).
    The rows are split into ``n_parts = out.shape[0]`` consecutive parts of equal size
    (a function of ``n`` and ``n_parts`` only); each part builds ``A`` and ``B`` for
    ``rows`` rows at a time and adds ``A.T @ B`` to its own ``out[p]``. The caller adds
    the parts in order, so the result does not depend on the thread count.

    Parameters
    ----------
    Q0, Q1 : (n, D) float64 arrays, IN: bit probabilities from :func:`bsq_sample_terms`.
    h : int, IN: bits of the first half.
    rows : int, IN: rows per table block (the tables take ``rows * (2**h + 2**(D-h))``
        floats per thread).
    out : (n_parts, 2**h, 2**(D-h)) float64 array, OUT.
    """
    n = Q0.shape[0]
    n_parts = out.shape[0]
    size = (n + n_parts - 1) // n_parts
    for p in prange(n_parts):
        _part_sums(Q0, Q1, h, rows, p * size, min(n, (p + 1) * size), out[p])


@jit
def _part_sums(Q0, Q1, h, rows, start, stop, out):
    """``out`` = sum over rows ``start..stop-1`` of their code probabilities."""
    d = Q0.shape[1]
    n_hi, n_lo = out.shape
    A = np.empty((rows, n_hi))
    B = np.empty((rows, n_lo))
    out[:] = 0.0
    for first in range(start, stop, rows):
        r = min(rows, stop - first)
        for t in range(r):
            _expand(Q0[first + t], Q1[first + t], 0, h, A[t])
            _expand(Q0[first + t], Q1[first + t], h, d, B[t])
        _accumulate_pairs(A[:r], B[:r], out)


@jit
def _expand(q0, q1, start, stop, out):
    """Product probabilities of all bit patterns of dims ``start..stop-1`` (index order)."""
    out[0] = 1.0
    size = 1
    for dd in range(start, stop):
        p1 = q1[dd]
        p0 = q0[dd]
        for m in range(size - 1, -1, -1):
            v = out[m]
            out[2 * m + 1] = v * p1
            out[2 * m] = v * p0
        size *= 2
