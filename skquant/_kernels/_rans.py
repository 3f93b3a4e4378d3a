"""Decoding of constriction's rANS streams (the ``"entropy"`` coding of skquant files).

The streams are those of constriction 0.5's ``stack.AnsCoder`` (32-bit words, a 64-bit
state, 24-bit probabilities) under its ``Categorical(counts, perfect=False)`` model;
decoding them here is bit-exact with constriction and several times faster (no Python
call per feature and chunk, chunks decoded in parallel, four independent streams --
the lanes of a chunk -- advanced together so that their dependency chains overlap).
The rules, from constriction's
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
``log2(u) + 2``, at most 12) of two words: a slot whose quantiles fall in at most two
codes holds the first one's cumulative, probability and index, and the second one's
cumulative and probability (one 16-byte load, and a branch-free choice by
``q >= cdf[lo + 1]``); else the codes of its first and last quantile, between which the
code is bisected (rare: the slot then holds a code rarer than ``2**-k``). The refill is
branch-free too (it happens at random, once every few codes), its next word loaded
before it is needed; indices are unsigned (no wraparound code); the codes' counts are
taken in a second loop over the decoded indices, off the lanes' chains.
"""

import numpy as np

from ._config import jit, prange

PRECISION = 24
MAX_SLOT_BITS = 12
#: lanes a decoding task advances together (their dependency chains overlap)
GROUP = 4


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
    cdf : (sum(u + 2),) uint64 array, OUT: feature ``j``'s ``u + 1`` cumulatives at
        ``cdf_starts[j]``, then ``2**24`` again (read, never used).
    cdf_starts : (d,) int64 array, IN.
    slots : (sum(2**bits + 1),) int64 array, scratch: the code at quantile
        ``k << (24 - bits[j])`` of each slot ``k``, then ``u - 1``.
    entries : (2 * sum(2**bits),) uint64 array, OUT: feature ``j``'s at
        ``2 * slot_starts[j]``, two words per slot. A slot holding at most two codes
        (``lo`` and maybe ``lo + 1``): ``cdf[lo] | p_lo << 24 | lo << 48``, then
        ``cdf[lo + 1] | p_(lo + 1) << 32`` (``p_u = 0``); the decoded code is
        ``lo + (q >= cdf[lo + 1])``, without a branch. A slot holding more (codes
        rarer than the slot): ``lo | hi << 48`` (probability field 0), the codes to
        bisect between.
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
                cdf[c0 + 2] = top
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
        cdf[c0 + u + 1] = top
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
            e = 2 * (s0 + k)
            if hi - lo <= 1:
                start = cdf[c0 + lo]
                end = cdf[c0 + lo + 1]
                entries[e] = (start | (end - start) << np.uint64(24)
                              | np.uint64(lo) << np.uint64(48))
                entries[e + 1] = end | (cdf[c0 + lo + 2] - end) << np.uint64(32)
            else:
                entries[e] = np.uint64(lo) | np.uint64(hi) << np.uint64(48)
                entries[e + 1] = 0


@jit(inline="always")
def _symbol(x, words, pos, lo, entries, base, shift, cdf, c0):
    """Decode one code of a lane: ``(x, pos, index of the code)``; ``words[pos]`` is
    the lane's next word (``pos > lo`` while one remains)."""
    mask = np.uint64((1 << PRECISION) - 1)
    q = x & mask
    k = base + ((q >> shift) << np.uint64(1))  # unsigned indices: no wraparound code
    e = entries[k]
    f = entries[k + np.uint64(1)]
    prob = (e >> np.uint64(PRECISION)) & mask
    if prob == 0:  # the slot holds three codes or more: bisect (rare)
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
        end = f & np.uint64(0xFFFFFFFF)
        up = np.uint64(q >= end)
        a = np.int64((e >> np.uint64(48)) + up)
        sel = np.uint64(0) - up  # all ones past the slot's first code: branch-free
        start = e & mask
        start ^= (start ^ end) & sel
        prob ^= (prob ^ (f >> np.uint64(32))) & sel
    x = (x >> np.uint64(PRECISION)) * prob + (q - start)
    r = np.uint64(x < np.uint64(1 << 32)) & np.uint64(pos > lo)  # refill, branch-free
    x = (x << (r << np.uint64(5))) | (np.uint64(words[np.uint64(pos)]) & (np.uint64(0) - r))
    return x, pos - np.int64(r), a


@jit(parallel=True)
def rans_decode(words, lane_starts, row_starts, lanes, used, count_starts, symbols, cdf,
                cdf_starts, entries, slot_starts, bits, out, seen, states, left):
    """Decode a batch of chunks, each of ``lanes`` streams, in parallel.

    Row ``r`` of a chunk is in its lane ``r % lanes``; each lane is a constriction
    stream of its rows' codes, feature 0's then feature 1's, ... A task decodes up to
    ``GROUP`` lanes of a chunk, one code of each in turn (independent dependency
    chains: the processor overlaps them); the tasks run in parallel.

    Parameters
    ----------
    words : (W + 1,) uint32 array, IN: one padding word (read, never used), then the
        streams of all lanes of all chunks, one after the other.
    lane_starts : (c * lanes + 1,) int64 array, IN: lane ``l`` of chunk ``i`` is
        ``words[1 + lane_starts[i * lanes + l] : 1 + lane_starts[i * lanes + l + 1]]``.
    row_starts : (c + 1,) int64 array, IN: chunk ``i``'s rows of ``out``.
    lanes : int, IN: lanes per chunk (1 or more).
    used, count_starts : (d,), (d + 1,) int64 arrays, IN: codes each feature uses, and
        where they start in ``symbols`` (features with ``u >= 2`` are in the streams,
        in order).
    symbols : (sum(u),) int64 array, IN: the used codes of each feature.
    cdf, cdf_starts, entries, slot_starts, bits : IN, from :func:`rans_tables`.
    out : (rows, d) integer array, OUT: the codes.
    seen : (t, sum(u)) int64 array, IN/OUT: the tasks of thread ``i`` add the count of
        each code they decode to row ``i``.
    states : (c * lanes,) uint64 array, OUT: each lane's final state (0 if valid).
    left : (c * lanes,) int64 array, OUT: words left in each lane after decoding (0 for
        a valid stream), or -1 if its last word is zero (constriction refuses it).
    """
    d = used.size
    n_threads = seen.shape[0]
    n_chunks = row_starts.size - 1
    n_groups = (lanes + GROUP - 1) // GROUP
    n_tasks = n_chunks * n_groups
    longest = 0  # rows of the longest lane
    for c in range(n_chunks):
        longest = max(longest, (row_starts[c + 1] - row_starts[c] + lanes - 1) // lanes)
    for t in prange(n_threads):
        xs = np.zeros(GROUP, dtype=np.uint64)
        ps = np.zeros(GROUP, dtype=np.int64)
        los = np.zeros(GROUP, dtype=np.int64)
        ms = np.zeros(GROUP, dtype=np.int64)
        rows0 = np.zeros(GROUP, dtype=np.int64)
        bad = np.zeros(GROUP, dtype=np.bool_)
        flat = out.reshape(out.size)
        idx = np.empty(GROUP * longest if lanes >= GROUP else 0, dtype=np.uint16)
        for task in range(t, n_tasks, n_threads):
            c, g = task // n_groups, task % n_groups
            r0, n_rows = row_starts[c], row_starts[c + 1] - row_starts[c]
            for li in range(GROUP):
                lane = g * GROUP + li
                xs[li], ps[li], los[li], ms[li], bad[li] = 0, 0, 0, 0, False
                rows0[li] = r0 + lane
                if lane >= lanes:
                    continue
                ms[li] = max(0, (n_rows - lane + lanes - 1) // lanes)
                lo, pos = lane_starts[c * lanes + lane] + 1, lane_starts[c * lanes + lane + 1] + 1
                x = np.uint64(0)
                if pos > lo:  # words[pos - 1] is the last word
                    pos -= 1
                    x = np.uint64(words[pos])
                    if x == 0:
                        bad[li] = True
                        pos = lo
                    elif pos > lo:
                        pos -= 1
                        x = (x << np.uint64(32)) | np.uint64(words[pos])
                # from here the next word is words[pos - 1]: a lane keeps its index
                # ``pos - 1 >= lo - 1 >= 0`` (the word before its first one, or the
                # padding, is read when none remains, never used)
                xs[li], ps[li], los[li] = x, pos - 1, lo - 1
            m_min = ms[GROUP - 1]
            step = lanes
            for j in range(d):
                sa = count_starts[j]
                if used[j] < 2:
                    if used[j] == 1:
                        for li in range(GROUP):
                            for k in range(ms[li]):
                                out[rows0[li] + k * step, j] = symbols[sa]
                            seen[t, sa] += ms[li]
                    continue
                c0 = cdf_starts[j]
                base = np.uint64(2 * slot_starts[j])
                shift = np.uint64(PRECISION - bits[j])
                x0, x1, x2, x3 = xs[0], xs[1], xs[2], xs[3]
                p0, p1, p2, p3 = ps[0], ps[1], ps[2], ps[3]
                l0, l1, l2, l3 = los[0], los[1], los[2], los[3]
                o = np.uint64(rows0[0] * d + j)  # lane li's rows: o + li * d
                od = np.uint64(d)
                ostep = np.uint64(step * d)
                for k in range(m_min):
                    x0, p0, a0 = _symbol(x0, words, p0, l0, entries, base, shift, cdf, c0)
                    x1, p1, a1 = _symbol(x1, words, p1, l1, entries, base, shift, cdf, c0)
                    x2, p2, a2 = _symbol(x2, words, p2, l2, entries, base, shift, cdf, c0)
                    x3, p3, a3 = _symbol(x3, words, p3, l3, entries, base, shift, cdf, c0)
                    flat[o] = symbols[np.uint64(sa + a0)]
                    flat[o + od] = symbols[np.uint64(sa + a1)]
                    flat[o + od + od] = symbols[np.uint64(sa + a2)]
                    flat[o + od + od + od] = symbols[np.uint64(sa + a3)]
                    o += ostep
                    ib = 4 * k
                    idx[np.uint64(ib)] = a0
                    idx[np.uint64(ib + 1)] = a1
                    idx[np.uint64(ib + 2)] = a2
                    idx[np.uint64(ib + 3)] = a3
                for v in range(4 * m_min):  # counted apart: off the lanes' chains
                    seen[t, sa + np.int64(idx[v])] += 1
                xs[0], xs[1], xs[2], xs[3] = x0, x1, x2, x3
                ps[0], ps[1], ps[2], ps[3] = p0, p1, p2, p3
                for li in range(GROUP):
                    x, pos, lo = xs[li], ps[li], los[li]
                    for k in range(m_min, ms[li]):
                        x, pos, a = _symbol(x, words, pos, lo, entries, base, shift, cdf, c0)
                        out[rows0[li] + k * step, j] = symbols[sa + a]
                        seen[t, sa + a] += 1
                    xs[li], ps[li] = x, pos
            for li in range(GROUP):
                lane = g * GROUP + li
                if lane < lanes:
                    states[c * lanes + lane] = xs[li]
                    left[c * lanes + lane] = -1 if bad[li] else ps[li] - los[li]
