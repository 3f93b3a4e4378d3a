"""Shared helpers of the benchmark scripts: timing with warm-up, tables, data."""

import time

import numpy as np


def best_time(func, repeat=3, warmup=1, clock=time.perf_counter):
    """Best time of ``func()`` on ``clock`` over ``repeat`` runs, after ``warmup`` runs.

    The warm-up excludes numba's compile (first-call) time, which each script
    reports on its own. ``clock``: wall time (``time.perf_counter``) or the process's
    CPU time (``time.process_time``, every thread counted), which other jobs on a
    loaded machine disturb far less.
    """
    for _ in range(warmup):
        func()
    best = np.inf
    for _ in range(repeat):
        t = clock()
        func()
        best = min(best, clock() - t)
    return best


def first_call_time(func):
    t = time.perf_counter()
    func()
    return time.perf_counter() - t


def mixed_columns(n_samples, n_features, seed=0):
    """Unimodal columns of several shapes: normal, Laplace, logistic, gamma(4)."""
    rng = np.random.default_rng(seed)
    makers = [
        rng.standard_normal,
        lambda n: rng.laplace(size=n),
        lambda n: rng.logistic(size=n),
        lambda n: rng.gamma(4.0, size=n),
    ]
    return np.stack([makers[j % 4](n_samples) for j in range(n_features)], axis=1)


def print_table(rows, columns):
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))
