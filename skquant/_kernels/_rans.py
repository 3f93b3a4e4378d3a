"""Decoding of constriction's rANS streams (the ``"entropy"`` coding of skquant files).

The streams are those of constriction 0.5's ``stack.AnsCoder`` (32-bit words, a 64-bit
state, 24-bit probabilities) under its ``Categorical(counts, perfect=False)`` model;
decoding them here is bit-exact with constriction and several times faster (no Python
call per feature and chunk, chunks decoded in parallel). The rules, from constriction's
source (``fast_quantized_cdf`` and ``AnsCoder``), checked against it in
``tests/test_coding.py``:

- Model of a feature using ``u >= 2`` codes with counts ``c`` (``n`` in all):
  ``scale = float64(2**24 - u) / float64(n)`` and
  ``cdf[i] = uint32(float64(c[0] + ... + c[i-1]) * scale) + i``, ``cdf[u] = 2**24``
  (so every used code has a probability of at least ``2**-24``).
- Start: the words are popped from the END of the stream. No word: ``x = 0``. Else the
  last word must be nonzero (constriction refuses the stream), ``x = w[-1]``, and if a
  word remains ``x = (x << 32) | w[-2]``.
- Each symbol: ``q = x & (2**24 - 1)``; ``s`` with ``cdf[s] <= q < cdf[s + 1]``;
  ``x = (x >> 24) * (cdf[s + 1] - cdf[s]) + q - cdf[s]``; then if ``x < 2**32`` and a
  word remains, ``x = (x << 32) | next word``.
- A valid stream ends with ``x == 0`` and no word left.

The symbol search uses, per feature, a table of ``2**k`` slots (``k`` about
``log2(u) + 1``, at most 12): slot ``b`` holds the symbol whose interval holds quantile
``b << (24 - k)``, and a quantile's symbol is found by bisection between the symbols of
its slot and the next one.
"""

import numpy as np

from ._config import jit, prange

PRECISION = 24
MAX_SLOT_BITS = 12


def rans_slot_bits(used):
    """Slot-table bits of features using ``used`` codes (int64 array)."""
    used = np.asarray(used, dtype=np.int64)
    bits = np.ceil(np.log2(np.maximum(used, 1))).astype(np.int64) + 1
    return np.clip(bits, 1, MAX_SLOT_BITS)


@jit
def rans_tables(counts, count_starts, bits, cdf, cdf_starts, slots, slot_starts):
    """The cdf and slot tables of every feature (constriction's quantization).

    Parameters
    ----------
    counts : (sum(u),) int64 array, IN: the counts of the codes each feature uses,
        feature ``j``'s at ``count_starts[j] : count_starts[j + 1]``.
    count_starts : (d + 1,) int64 array, IN.
    bits : (d,) int64 array, IN: slot-table bits of each feature (1 .. 12).
    cdf : (sum(u + 1),) uint64 array, OUT: feature ``j``'s ``u + 1`` cumulatives at
        ``cdf_starts[j]`` (``j + count_starts[j]``).
    cdf_starts : (d,) int64 array, IN.
    slots : (sum(2**bits + 1),) int64 array, OUT: feature ``j``'s slot table at
        ``slot_starts[j]``, its last entry ``u - 1``.
    slot_starts : (d,) int64 array, IN.
    """
    top = 1 << PRECISION
    for j in range(count_starts.size - 1):
        a, b = count_starts[j], count_starts[j + 1]
        u = b - a
        c0 = cdf_starts[j]
        if u < 2:  # not entropy-coded: a single code
            cdf[c0] = 0
            if u == 1:
                cdf[c0 + 1] = top
            continue
        total = 0.0
        for i in range(a, b):
            total += np.float64(counts[i])
        scale = np.float64(top - u) / total
        cum = 0.0
        for i in range(u):
            cdf[c0 + i] = np.uint64(np.uint32(cum * scale)) + np.uint64(i)
            cum += np.float64(counts[a + i])
        cdf[c0 + u] = top
        s0 = slot_starts[j]
        nb = 1 << bits[j]
        shift = PRECISION - bits[j]
        s = 0
        for k in range(nb):
            t = np.uint64(k << shift)
            while s + 1 < u and cdf[c0 + s + 1] <= t:
                s += 1
            slots[s0 + k] = s
        slots[s0 + nb] = u - 1


@jit(parallel=True)
def rans_decode(words, word_starts, row_starts, coded, cdf, cdf_starts, slots,
                slot_starts, bits, dense, states, left):
    """Decode a batch of chunks, each its own stream, in parallel over the chunks.

    Parameters
    ----------
    words : (W,) uint32 array, IN: the streams of the chunks, one after the other.
    word_starts : (c + 1,) int64 array, IN: chunk ``i``'s words are
        ``words[word_starts[i] : word_starts[i + 1]]``.
    row_starts : (c + 1,) int64 array, IN: chunk ``i``'s rows of ``dense``.
    coded : (e,) int64 array, IN: the entropy-coded features (``u >= 2``), in stream
        order.
    cdf, cdf_starts, slots, slot_starts, bits : IN, from :func:`rans_tables`.
    dense : (rows, d) uint16 array, OUT: the index of each value among its feature's
        used codes (columns of features not in ``coded`` are left alone).
    states : (c,) uint64 array, OUT: each chunk's final state (0 for a valid stream).
    left : (c,) int64 array, OUT: words left in each chunk after decoding (0 for a
        valid stream), or -1 if its last word is zero (constriction refuses it).
    """
    mask = np.uint64((1 << PRECISION) - 1)
    prec = np.uint64(PRECISION)
    word_bits = np.uint64(32)
    low = np.uint64(1) << word_bits
    for c in prange(word_starts.size - 1):
        lo = word_starts[c]
        pos = word_starts[c + 1]
        x = np.uint64(0)
        if pos > lo:
            pos -= 1
            x = np.uint64(words[pos])
            if x == 0:
                states[c] = x
                left[c] = -1
                continue
            if pos > lo:
                pos -= 1
                x = (x << word_bits) | np.uint64(words[pos])
        r0, r1 = row_starts[c], row_starts[c + 1]
        for jj in range(coded.size):
            j = coded[jj]
            c0 = cdf_starts[j]
            s0 = slot_starts[j]
            shift = np.uint64(PRECISION - bits[j])
            for i in range(r0, r1):
                q = x & mask
                k = s0 + np.int64(q >> shift)
                a = slots[k]
                h = slots[k + 1]
                while a < h:
                    m = (a + h + 1) >> 1
                    if cdf[c0 + m] <= q:
                        a = m
                    else:
                        h = m - 1
                start = cdf[c0 + a]
                x = (x >> prec) * (cdf[c0 + a + 1] - start) + (q - start)
                if x < low and pos > lo:
                    pos -= 1
                    x = (x << word_bits) | np.uint64(words[pos])
                dense[i, j] = a
        states[c] = x
        left[c] = pos - lo


@jit(parallel=True)
def rans_expand(dense, used, count_starts, symbols, seen, out):
    """The codes of decoded rows, and the count of each used code.

    Parameters
    ----------
    dense : (rows, d) uint16 array, IN: from :func:`rans_decode` (ignored for features
        using fewer than two codes).
    used : (d,) int64 array, IN: codes each feature uses.
    count_starts : (d + 1,) int64 array, IN: where each feature's codes start in
        ``symbols`` and ``seen``.
    symbols : (sum(u),) int64 array, IN: the used codes of each feature.
    seen : (sum(u),) int64 array, IN/OUT: incremented by the counts of ``dense``.
    out : (rows, d) integer array, OUT: the codes.
    """
    rows, d = out.shape
    for j in prange(d):
        a = count_starts[j]
        if used[j] == 0:
            continue
        if used[j] == 1:
            for i in range(rows):
                out[i, j] = symbols[a]
            seen[a] += rows
            continue
        for i in range(rows):
            s = np.int64(dense[i, j])
            out[i, j] = symbols[a + s]
            seen[a + s] += 1
