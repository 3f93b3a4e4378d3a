"""Rate-distortion machinery shared by the entropy-constrained designs.

A design minimising ``MSE + lam * H`` (``H`` the entropy in bits of the codes) is
given by ``solve(lam) -> (mse, bits, design)``; :func:`solve_rate` finds the
``lam`` meeting a target entropy by bisection, the achieved entropy being a
non-increasing function of ``lam``.
"""

import numpy as np

_N_BISECT = 40  # bisection steps on log(lam) at most
_RATE_TOL = 1e-4  # bits: an entropy this close below the target stops the search


def entropy_bits(weights):
    """Entropy in bits of a distribution given by non-negative ``weights``."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[w > 0]
    if w.size <= 1:
        return 0.0
    p = w / w.sum()
    return float(-(p * np.log2(p)).sum())


def solve_rate(solve, rate, scale):
    """``(lam, mse, bits, design)``: the Lagrangian design of entropy at most ``rate``
    with the smallest ``lam`` found, by bisection on ``log lam``.

    ``scale`` is the squared scale of the data (its variance). ``lam = 0`` is tried
    first: when its entropy is at most ``rate`` it is the answer. The bracket starts
    about the high-rate slope ``2 ln 2 * scale * 2**(-2 rate)`` (the slope of
    ``D(R) = c * scale * 2**(-2 R)``) and widens by factors of 16 until it holds the
    target.
    """
    found = solve(0.0)
    if found[1] <= rate:
        return (0.0, *found)
    guess = 2.0 * np.log(2.0) * scale * 2.0 ** (-2.0 * rate)
    lo, hi = guess / 4.0, guess * 4.0
    best = solve(hi)
    while best[1] > rate:  # the entropy reaches 0 (one cell) for a finite lam
        lo, hi = hi, hi * 16.0
        best = solve(hi)
    while lo > scale * 2.0**-80:
        trial = solve(lo)
        if trial[1] > rate:
            break
        hi, best, lo = lo, trial, lo / 16.0
    best_lam = hi
    for _ in range(_N_BISECT):
        if rate - best[1] <= _RATE_TOL or hi <= lo * (1.0 + 1e-9):
            break
        mid = float(np.sqrt(lo * hi))
        trial = solve(mid)
        if trial[1] <= rate:
            hi, best, best_lam = mid, trial, mid
        else:
            lo = mid
    return (best_lam, *best)
