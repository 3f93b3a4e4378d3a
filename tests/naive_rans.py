"""Pure Python/NumPy twin of skquant._kernels._rans (slow: small inputs only).

One stream, the features one after the other, written from constriction 0.5's rules
(``fast_quantized_cdf`` and ``AnsCoder``) with Python integers and a linear search.
"""

import numpy as np

PRECISION = 24


def naive_cdf(counts):
    """constriction's ``Categorical(counts, perfect=False)`` cumulatives (u + 1 ints)."""
    counts = [float(c) for c in counts]
    u = len(counts)
    scale = np.float64(2**PRECISION - u) / np.float64(sum(counts))
    cdf, cum = [], 0.0
    for i, c in enumerate(counts):
        cdf.append(int(np.float64(cum) * scale) + i)
        cum += c
    return cdf + [2**PRECISION]


def naive_decode(words, models):
    """Decode ``words`` (uint32) with ``models``: ``(counts, m)`` pairs, ``m`` symbols
    under each in turn. Returns ``(symbols, final_state, words_left)`` with
    ``symbols`` one int array per model, ``words_left`` -1 if the last word is zero."""
    stack = [int(w) for w in words]
    x = 0
    if stack:
        x = stack.pop()
        if x == 0:
            return None, 0, -1
        if stack:
            x = (x << 32) | stack.pop()
    out = []
    for counts, m in models:
        cdf = naive_cdf(counts)
        got = []
        for _ in range(m):
            q = x % 2**PRECISION
            s = 0
            while cdf[s + 1] <= q:
                s += 1
            x = (x >> PRECISION) * (cdf[s + 1] - cdf[s]) + q - cdf[s]
            if x < 2**32 and stack:
                x = (x << 32) | stack.pop()
            got.append(s)
        out.append(np.array(got, dtype=np.int64))
    return out, x, len(stack)


def naive_decode_chunk(lane_words, counts, n_rows):
    """Decode a chunk of ``n_rows`` rows in ``len(lane_words)`` lanes (row ``r`` in lane
    ``r % lanes``, each lane a stream of its rows' codes, feature by feature) with
    ``counts`` (one array per entropy-coded feature): ``(codes, states, words_left)``,
    ``codes`` of shape ``(n_rows, len(counts))`` (-1 where a lane is refused)."""
    lanes = len(lane_words)
    codes = np.full((n_rows, len(counts)), -1, dtype=np.int64)
    states, left = [], []
    for lane, words in enumerate(lane_words):
        m = len(range(lane, n_rows, lanes))
        got, x, k = naive_decode(words, [(c, m) for c in counts])
        if got is not None:
            for j, col in enumerate(got):
                codes[lane::lanes, j] = col
        states.append(x)
        left.append(k)
    return codes, states, left
