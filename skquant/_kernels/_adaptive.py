"""Adaptive arithmetic coding of small columns of codes (no table in the file).

The ``"adaptive"`` features of an entropy-coded file (format version 7) are coded in
one stream of bytes, feature after feature (all rows of one, then the next), with an
arithmetic coder (Witten, Neal and Cleary 1987: 32-bit ``low`` and ``high``, the
underflow bits held back) under an adaptive model: each of the feature's ``k`` codes
starts with count 1, and a decoded code's count grows by ``2**shift`` (so the
probability of code ``s`` after ``t`` codes is ``(1 + c_s 2**shift) / (k + t
2**shift)``, a Laplace estimator for ``shift = 0``, closer to Krichevsky-Trofimov's as
``shift`` grows). With ``rescale = r > 0`` the model forgets: once the counts have
grown by ``2**(shift + r + 2)`` in all since the start or the last halving, every
count ``c`` becomes ``1 + (c - 1) // 2`` (its learnt part halved), so that it follows
data whose distribution drifts along the rows (rows sorted by class). A feature's
parameter is ``shift + 8 r`` (``shift`` 0 .. 6, ``r`` 0 .. 7). The counts are
integers, so encoder and decoder agree bit for bit; cumulative counts come from a
Fenwick tree (``O(log k)`` a code, ``O(k)`` a halving).

The rules, which ``tests/naive_adaptive.py`` restates with Python integers:

- ``range = high - low + 1``; a code with cumulative ``[lo, hi)`` of ``total``:
  ``high = low + range * hi // total - 1``, ``low = low + range * lo // total``.
- Then, while one applies: ``high < 2**31``: emit 0 (and the held-back bits as 1s);
  ``low >= 2**31``: emit 1 (held-back bits as 0s), subtract ``2**31``; ``2**30 <=
  low`` and ``high < 3 * 2**30``: hold one bit back, subtract ``2**30``; after each,
  ``low = 2 low``, ``high = 2 high + 1``.
- End: one more bit held back, then 0 if ``low < 2**30`` else 1 (and the held-back
  bits), zero bits up to a whole byte.
- The decoder reads bits most significant first, zero bits past the end.

``total`` stays at most ``k + n 2**shift <= 2**30`` (the callers bound ``k``, ``n``
and ``shift``), so every code keeps a nonempty interval.
"""

import numpy as np

from ._config import jit

TOP = (1 << 32) - 1
HALF = 1 << 31
QUARTER = 1 << 30


@jit(inline="always")
def _fenwick(k):
    """A Fenwick tree (1-based) of ``k`` counts of 1."""
    tree = np.zeros(k + 1, dtype=np.int64)
    for i in range(1, k + 1):
        tree[i] = i & -i
    return tree


@jit(inline="always")
def _prefix(tree, i):
    """Sum of the counts of codes ``0 .. i - 1``."""
    s = 0
    while i > 0:
        s += tree[i]
        i -= i & -i
    return s


@jit(inline="always")
def _add(tree, k, i, v):
    i += 1
    while i <= k:
        tree[i] += v
        i += i & -i


@jit(inline="always")
def _period(param):
    """The count growth after which the counts are halved (0: never), of ``param``."""
    r = param >> 3
    if r == 0:
        return np.int64(0)
    return np.int64(1) << ((param & 7) + r + 2)


@jit(inline="always")
def _halve(tree, count, k):
    """Halve the learnt part of every count; rebuild the tree; the new total."""
    total = np.int64(0)
    for i in range(k):
        count[i] = 1 + (count[i] - 1) // 2
        total += count[i]
        tree[i + 1] = count[i]
    for i in range(1, k + 1):
        up = i + (i & -i)
        if up <= k:
            tree[up] += tree[i]
    return total


@jit(inline="always")
def _learn(tree, count, k, s, inc, total, grown, period):
    """Count code ``s`` once more (by ``inc``; the caller adds it to ``tree`` if it reads
    the tree) and halve the counts, rebuilding the tree, when they have grown by
    ``period`` (0: never) since the start or the last halving; the new ``total`` and
    growth."""
    count[s] += inc
    total += inc
    grown += inc
    if period > 0 and grown >= period:
        total = _halve(tree, count, k)
        grown = np.int64(0)
    return total, grown


@jit
def adaptive_bits(column, k, param, weights=None):
    """The information content in bits (``sum log2(total / count)``, float64) of the
    codes ``column`` under the adaptive model of ``k`` codes and ``param``: what
    :func:`adaptive_encode` writes for them, to within the coder's precision and its
    two closing bits. With ``weights`` (float64, one per row), the sum of each row's
    bits times its weight (the model learns from every row alike)."""
    inc, period = np.int64(1) << (param & 7), _period(param)
    count = np.ones(k, dtype=np.int64)
    tree = _fenwick(k)
    total, grown, bits = np.int64(k), np.int64(0), 0.0
    for r in range(column.size):
        s = column[r]
        if weights is None:
            bits += np.log2(total / count[s])
        else:
            bits += weights[r] * np.log2(total / count[s])
        total, grown = _learn(tree, count, k, s, inc, total, grown, period)
    return bits


@jit(inline="always")
def _put(out, nbits, bit):
    """Write ``bit`` at bit ``nbits`` of ``out`` (zeroed); False if ``out`` is full."""
    if nbits >= 8 * out.size:
        return False
    if bit:
        out[nbits >> 3] |= np.uint8(0x80 >> (nbits & 7))
    return True


@jit(inline="always")
def _emit(out, nbits, bit, pending):
    """Write ``bit`` and the ``pending`` bits held back (its opposite) at bit ``nbits``:
    the bits written then, or -1 if ``out`` is full."""
    for i in range(pending + 1):
        if not _put(out, nbits, bit if i == 0 else 1 - bit):
            return -1
        nbits += 1
    return nbits


@jit
def adaptive_encode(codes, features, levels, shifts, out):
    """Code the columns ``features`` of ``codes`` (one after the other) into ``out``.

    Parameters
    ----------
    codes : (n, d) integer array, IN: codes within ``0 .. levels[f] - 1``.
    features : (m,) int64 array, IN: the columns coded, in order.
    levels, shifts : (m,) int64 arrays, IN: each coded column's codes ``k`` and
        parameter ``shift + 8 rescale``.
    out : (B,) uint8 array, OUT, zeroed by the caller.

    Returns the bytes written, or -1 if they do not fit in ``out`` (or a code is out of
    range).
    """
    n = codes.shape[0]
    low, high, pending, nbits = np.int64(0), np.int64(TOP), 0, 0
    for f in range(features.size):
        j, k, inc = features[f], levels[f], np.int64(1) << (shifts[f] & 7)
        period, grown = _period(shifts[f]), np.int64(0)
        tree = _fenwick(k)
        count = np.ones(k, dtype=np.int64)
        total = np.int64(k)
        for r in range(n):
            s = np.int64(codes[r, j])
            if s < 0 or s >= k:
                return -1
            lo = _prefix(tree, s)
            rng = high - low + 1
            high = low + rng * (lo + count[s]) // total - 1
            low = low + rng * lo // total
            while True:
                if high < HALF:
                    bit = 0
                elif low >= HALF:
                    bit = 1
                    low -= HALF
                    high -= HALF
                elif low >= QUARTER and high < 3 * QUARTER:
                    pending += 1
                    low -= QUARTER
                    high -= QUARTER
                    low = 2 * low
                    high = 2 * high + 1
                    continue
                else:
                    break
                nbits = _emit(out, nbits, bit, pending)
                if nbits < 0:
                    return -1
                pending = 0
                low = 2 * low
                high = 2 * high + 1
            _add(tree, k, s, inc)
            total, grown = _learn(tree, count, k, s, inc, total, grown, period)
    if features.size == 0:
        return 0
    pending += 1
    bit = 0 if low < QUARTER else 1
    nbits = _emit(out, nbits, bit, pending)
    return -1 if nbits < 0 else (nbits + 7) >> 3


@jit(inline="always")
def _get(stream, pos):
    if pos >= 8 * stream.size:
        return np.int64(0)
    return np.int64((stream[pos >> 3] >> (7 - (pos & 7))) & 1)


@jit
def adaptive_decode(stream, levels, shifts, out):
    """Decode ``out.shape[1]`` columns of ``out.shape[0]`` codes from ``stream``
    (uint8), as :func:`adaptive_encode` coded them; returns the bits read (past the
    stream's end, zero bits are read). Any stream decodes to codes within range: a
    caller checks it is the encoding of what it decodes to."""
    n, m = out.shape
    low, high, value, pos = np.int64(0), np.int64(TOP), np.int64(0), 0
    if m == 0:
        return 0
    for _ in range(32):
        value = 2 * value + _get(stream, pos)
        pos += 1
    for f in range(m):
        k, inc = levels[f], np.int64(1) << (shifts[f] & 7)
        period, grown = _period(shifts[f]), np.int64(0)
        tree = _fenwick(k)
        count = np.ones(k, dtype=np.int64)
        total = np.int64(k)
        top = 1
        while 2 * top <= k:
            top *= 2
        for r in range(n):
            rng = high - low + 1
            target = ((value - low + 1) * total - 1) // rng
            # the code s with prefix(s) <= target < prefix(s + 1)
            s, rest, step = 0, target, top
            while step > 0:
                nxt = s + step
                if nxt <= k and tree[nxt] <= rest:
                    s = nxt
                    rest -= tree[nxt]
                step >>= 1
            if s >= k:  # never for low <= value <= high; kept in range regardless
                s = k - 1
            lo = target - rest
            high = low + rng * (lo + count[s]) // total - 1
            low = low + rng * lo // total
            while True:
                if high < HALF:
                    pass
                elif low >= HALF:
                    low -= HALF
                    high -= HALF
                    value -= HALF
                elif low >= QUARTER and high < 3 * QUARTER:
                    low -= QUARTER
                    high -= QUARTER
                    value -= QUARTER
                else:
                    break
                low = 2 * low
                high = 2 * high + 1
                value = 2 * value + _get(stream, pos)
                pos += 1
            out[r, f] = s
            _add(tree, k, s, inc)
            total, grown = _learn(tree, count, k, s, inc, total, grown, period)
    return pos
