"""Slow, obviously correct NumPy twin of ``skquant._kernels._dead_zone``."""

import numpy as np


def dead_zone_codebook(n_below, n_above, ratio, step):
    """Thresholds and midpoint levels of the dead-zone quantizer about 0, written out."""
    half = ratio / 2
    t = [-(half + k) * step for k in reversed(range(n_below))]
    t += [(half + k) * step for k in range(n_above)]
    y = [-(half + k + 0.5) * step for k in reversed(range(n_below))] + [0.0]
    y += [(half + k + 0.5) * step for k in range(n_above)]
    return np.array(t), np.array(y)


def dead_zone_cost(u, w, n_below, n_above, ratio, step, centroid):
    """``(sse, bits)``: the weighted squared error and ``-sum_cells w log2(w / total)``
    of one candidate, from the values ``u`` and weights ``w`` directly."""
    t, y = dead_zone_codebook(n_below, n_above, ratio, step)
    codes = np.searchsorted(t, u, side="right")
    sse = bits = 0.0
    total = w.sum()
    for m in range(len(y)):
        sel = codes == m
        wt = w[sel].sum()
        if wt <= 0:
            continue
        level = (w[sel] * u[sel]).sum() / wt if centroid else y[m]
        sse += float((w[sel] * (u[sel] - level) ** 2).sum())
        bits -= wt * np.log2(wt / total)
    return sse, bits
