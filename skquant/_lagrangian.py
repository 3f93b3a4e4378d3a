"""Rate-distortion machinery shared by the entropy-constrained designs.

A design minimising ``MSE + lam * H`` (``H`` the entropy in bits of the codes) is
given by ``solve(lam) -> (mse, bits, design)``; :func:`solve_rate` finds the
``lam`` meeting a target entropy by bisection, the achieved entropy being a
non-increasing function of ``lam``.
"""

import bisect

import numpy as np

from . import _libm

_N_BISECT = 40  # bisection steps on log(lam) at most
_RATE_TOL = 1e-4  # bits: an entropy this close below the target stops the search


def entropy_bits(weights):
    """Entropy in bits of a distribution given by non-negative ``weights``."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[w > 0]
    if w.size <= 1:
        return 0.0
    p = w / w.sum()
    return float(-(p * _libm.log2(p)).sum())


class _Designs:
    """``solve`` with what the Lagrangian designs' structure gives for free.

    The minimum of ``MSE + lam * H`` over the designs is a minimum of lines in
    ``lam``, so each design is optimal on an interval of ``lam``: a ``lam`` between
    two that gave the same design gives it too, and once the breakpoint ``b`` of two
    designs found at ``l1 < l2`` (where their lines cross) gives one of the two, the
    first is optimal on ``[l1, b]`` and the second on ``[b, l2]``. :meth:`__call__`
    answers from those facts where they decide and runs ``solve`` otherwise. Once a
    run has found no new design (the bisection has closed in on two designs), an
    undecided ``lam`` first runs ``solve`` at the two neighbours' breakpoint, which
    either finds a design between them or settles their interval. The answers are the
    ones ``solve`` gives (up to ties: :func:`solve_rate` runs ``solve`` at the ``lam``
    it returns): the bisection's last steps on an entropy that jumps over its
    target (about 25 of its 40) cost one or two runs.
    """

    def __init__(self, solve):
        self.solve = solve
        self.lams = []  # sorted
        self.found = []  # solve(lam) of each
        self.settled = {}  # (l1, l2) -> the breakpoint between their designs
        self.stale = False  # whether the last run found a design already known

    def _run(self, lam):
        result = self.solve(lam)
        self.stale = any(_same(result, known) for known in self.found)
        i = bisect.bisect_left(self.lams, lam)
        self.lams.insert(i, lam)
        self.found.insert(i, result)
        return result

    def __call__(self, lam):
        while True:
            i = bisect.bisect_left(self.lams, lam)
            if i < len(self.lams) and self.lams[i] == lam:
                return self.found[i]
            if i == 0 or i == len(self.lams):
                return self._run(lam)
            l1, l2 = self.lams[i - 1], self.lams[i]
            r1, r2 = self.found[i - 1], self.found[i]
            if _same(r1, r2):
                return r1
            b = self.settled.get((l1, l2))
            if b is not None:
                if lam == b:
                    return self._run(lam)
                return r1 if lam < b else r2
            if not (self.stale and r1[1] > r2[1]):
                return self._run(lam)
            b = (r2[0] - r1[0]) / (r1[1] - r2[1])  # where their lines cross
            if not l1 < b < l2:  # rounding: no usable breakpoint
                return self._run(lam)
            rb = self._run(b)
            if _same(rb, r1):
                self.settled[(b, l2)] = b
            elif _same(rb, r2):
                self.settled[(l1, b)] = b
            # else a design between the two: look again


def _same(a, b):
    """Whether two results of ``solve`` are the same design."""
    return a[1] == b[1] and a[0] == b[0] and np.array_equal(a[2], b[2])


def solve_rate(solve, rate, scale):
    """``(lam, mse, bits, design)``: the Lagrangian design of entropy at most ``rate``
    with the smallest ``lam`` found, by bisection on ``log lam``.

    ``scale`` is the squared scale of the data (its variance). ``lam = 0`` is tried
    first: when its entropy is at most ``rate`` it is the answer. The bracket starts
    about the high-rate slope ``2 ln 2 * scale * 2**(-2 rate)`` (the slope of
    ``D(R) = c * scale * 2**(-2 R)``) and widens by factors of 16 until it holds the
    target. ``solve`` runs through :class:`_Designs` (the same answers, fewer runs).
    """
    solve = _Designs(solve)
    found = solve(0.0)
    if found[1] <= rate:
        return (0.0, *found)
    guess = 2.0 * _libm.log(2.0) * scale * 2.0 ** (-2.0 * rate)
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
    if best_lam not in solve.lams:  # decided without a run: run it, for the design
        best = solve.solve(best_lam)  # solve gives there among ties (mirror images)
    return (best_lam, *best)
