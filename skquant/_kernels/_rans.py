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
``log2(u) + 2``, at most 12): a slot whose quantiles all fall in one code holds that
code, its cumulative and probability in one word (one load per symbol); else the codes
of its first and last quantile, between which the code is bisected. The refill is
branch-free (it happens at random, once every few codes).
"""

import numpy as np

from ._config import jit, prange

PRECISION = 24
MAX_SLOT_BITS = 12


def rans_slot_bits(used):
    """Slot-table bits of features using ``used`` codes (int64 array)."""
    used = np.asarray(used, dtype=np.int64)
    bits = np.ceil(np.log2(np.maximum(used, 1))).astype(np.int64) + 2
    return np.clip(bits, 1, MAX_SLOT_BITS)


@jit
def rans_tables(counts, count_starts, bits, cdf, cdf_starts, slots, entries, slot_starts):
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
        ``slot_starts[j]``: the code at quantile ``k << (24 - bits[j])``, then ``u - 1``.
    entries : (sum(2**bits + 1),) uint64 array, OUT: per slot, if its quantiles all
        fall in one code ``s``: ``cdf[s] | p_s << 24 | s << 48``; else the codes to
        bisect between: ``lo | hi << 48``.
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
        for k in range(nb):
            lo, hi = slots[s0 + k], slots[s0 + k + 1]
            if lo == hi:
                start = cdf[c0 + lo]
                entries[s0 + k] = (start | (cdf[c0 + lo + 1] - start) << np.uint64(24)
                                   | np.uint64(lo) << np.uint64(48))
            else:
                entries[s0 + k] = np.uint64(lo) | np.uint64(hi) << np.uint64(48)


@jit(parallel=True)
def rans_decode(words, word_starts, row_starts, used, count_starts, symbols, cdf,
                cdf_starts, entries, slot_starts, bits, out, seen, states, left):
    """Decode a batch of chunks, each its own stream, in parallel over the chunks.

    Parameters
    ----------
    words : (W + 1,) uint32 array, IN: the streams of the chunks, one after the other,
        then one padding word (read, never used).
    word_starts : (c + 1,) int64 array, IN: chunk ``i``'s words are
        ``words[word_starts[i] : word_starts[i + 1]]``.
    row_starts : (c + 1,) int64 array, IN: chunk ``i``'s rows of ``out``.
    used, count_starts : (d,), (d + 1,) int64 arrays, IN: codes each feature uses, and
        where they start in ``symbols`` (features with ``u >= 2`` are in the streams,
        in order).
    symbols : (sum(u),) int64 array, IN: the used codes of each feature.
    cdf, cdf_starts, entries, slot_starts, bits : IN, from :func:`rans_tables`.
    out : (rows, d) integer array, OUT: the codes.
    seen : (t, sum(u)) int64 array, IN/OUT: chunk ``i`` adds the count of each code it
        decodes to row ``i % t``.
    states : (c,) uint64 array, OUT: each chunk's final state (0 for a valid stream).
    left : (c,) int64 array, OUT: words left in each chunk after decoding (0 for a
        valid stream), or -1 if its last word is zero (constriction refuses it).
    """
    mask = np.uint64((1 << PRECISION) - 1)
    prec = np.uint64(PRECISION)
    word_bits = np.uint64(32)
    low = np.uint64(1) << word_bits
    zero = np.uint64(0)
    d = used.size
    n_threads = seen.shape[0]
    n_chunks = word_starts.size - 1
    for t in prange(n_threads):
        for c in range(t, n_chunks, n_threads):
            lo = word_starts[c]
            pos = word_starts[c + 1]
            x = zero
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
            for j in range(d):
                sa = count_starts[j]
                if used[j] < 2:
                    if used[j] == 1:
                        for i in range(r0, r1):
                            out[i, j] = symbols[sa]
                        seen[t, sa] += r1 - r0
                    continue
                c0 = cdf_starts[j]
                s0 = slot_starts[j]
                shift = np.uint64(PRECISION - bits[j])
                for i in range(r0, r1):
                    q = x & mask
                    e = entries[s0 + np.int64(q >> shift)]
                    prob = (e >> prec) & mask
                    if prob == 0:  # the slot holds several codes: bisect
                        a = np.int64(e & mask)
                        h = np.int64(e >> np.uint64(48))
                        while a < h:
                            m = (a + h + 1) >> 1
                            if cdf[c0 + m] <= q:
                                a = m
                            else:
                                h = m - 1
                        start = cdf[c0 + a]
                        prob = cdf[c0 + a + 1] - start
                    else:
                        a = np.int64(e >> np.uint64(48))
                        start = e & mask
                    x = (x >> prec) * prob + (q - start)
                    r = np.uint64(x < low) & np.uint64(pos > lo)  # refill, branch-free
                    pos -= np.int64(r)
                    x = (x << (r * word_bits)) | (np.uint64(words[pos]) & (zero - r))
                    out[i, j] = symbols[sa + a]
                    seen[t, sa + a] += 1
            states[c] = x
            left[c] = pos - lo
