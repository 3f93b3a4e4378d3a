"""Pure Python twin of skquant._kernels._adaptive (slow: small inputs only).

The same arithmetic coder and adaptive model (counts from 1, each decoded code's count
up by ``2**shift``; with ``rescale = r > 0`` the learnt part of every count halved each
time the counts have grown by ``2**(shift + r + 2)``; a feature's parameter is ``shift
+ 8 r``), with Python integers, a list of counts and a linear search.
"""

import numpy as np

TOP, HALF, QUARTER = 2**32 - 1, 2**31, 2**30


def _model(k, param):
    """``(count, learn)``: the counts, and the function updating them after code s."""
    inc, r = 2 ** (param % 8), param // 8
    count, grown = [1] * k, [0]

    def learn(s):
        count[s] += inc
        grown[0] += inc
        if r and grown[0] >= 2 ** (param % 8 + r + 2):
            count[:] = [1 + (c - 1) // 2 for c in count]
            grown[0] = 0
    return count, learn


def naive_adaptive_bits(column, k, param, weights=None):
    """``sum log2(total / count)`` of ``column`` under the model (each row's term times
    its weight, with ``weights``)."""
    count, learn = _model(k, param)
    bits = 0.0
    for r, s in enumerate(column):
        bits += (1.0 if weights is None else weights[r]) * np.log2(sum(count) / count[s])
        learn(s)
    return bits


def naive_adaptive_encode(columns, levels, shifts):
    """The bytes coding ``columns`` (one int sequence per feature) under the adaptive
    models of ``levels`` codes and increments ``2**shifts``."""
    bits, low, high, pending = [], 0, TOP, 0

    def emit(bit):
        nonlocal pending
        bits.append(bit)
        bits.extend([1 - bit] * pending)
        pending = 0

    for col, k, shift in zip(columns, levels, shifts):
        count, learn = _model(k, shift)
        for s in col:
            lo, total = sum(count[:s]), sum(count)
            rng = high - low + 1
            high = low + rng * (lo + count[s]) // total - 1
            low = low + rng * lo // total
            while True:
                if high < HALF:
                    emit(0)
                elif low >= HALF:
                    emit(1)
                    low, high = low - HALF, high - HALF
                elif low >= QUARTER and high < 3 * QUARTER:
                    pending += 1
                    low, high = low - QUARTER, high - QUARTER
                else:
                    break
                low, high = 2 * low, 2 * high + 1
            learn(s)
    if len(columns):
        pending += 1
        emit(0 if low < QUARTER else 1)
    bits += [0] * (-len(bits) % 8)
    return np.packbits(np.array(bits, dtype=np.uint8)) if bits else np.zeros(0, np.uint8)


def naive_adaptive_decode(stream, n, levels, shifts):
    """``n`` codes of each feature from ``stream`` (uint8): an (n, m) int64 array."""
    bits = np.unpackbits(np.asarray(stream, dtype=np.uint8)).tolist()
    pos = 0

    def get():
        nonlocal pos
        pos += 1
        return bits[pos - 1] if pos - 1 < len(bits) else 0

    out = np.zeros((n, len(levels)), dtype=np.int64)
    low, high, value = 0, TOP, 0
    if not len(levels):
        return out
    for _ in range(32):
        value = 2 * value + get()
    for f, (k, shift) in enumerate(zip(levels, shifts)):
        count, learn = _model(k, shift)
        for r in range(n):
            total = sum(count)
            rng = high - low + 1
            target = ((value - low + 1) * total - 1) // rng
            s, lo = 0, 0
            while lo + count[s] <= target:
                lo += count[s]
                s += 1
            high = low + rng * (lo + count[s]) // total - 1
            low = low + rng * lo // total
            while True:
                if high < HALF:
                    pass
                elif low >= HALF:
                    low, high, value = low - HALF, high - HALF, value - HALF
                elif low >= QUARTER and high < 3 * QUARTER:
                    low, high, value = low - QUARTER, high - QUARTER, value - QUARTER
                else:
                    break
                low, high, value = 2 * low, 2 * high + 1, 2 * value + get()
            out[r, f] = s
            learn(s)
    return out
