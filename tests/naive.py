"""Slow, obviously correct NumPy twins of the numba kernels (stumpy's tests/naive.py idea)."""

import itertools

import numpy as np


def encode(X, thresholds):
    """Code = number of thresholds <= x, per column."""
    return np.stack(
        [np.searchsorted(thresholds[j], X[:, j], side="right") for j in range(X.shape[1])],
        axis=1,
    )


def decode(codes, levels):
    return np.stack([levels[j][codes[:, j]] for j in range(codes.shape[1])], axis=1)


def summary(x, w=None):
    """Distinct values with total weights (zero-weight values dropped)."""
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    u = np.unique(x)
    tot = np.array([w[x == v].sum() for v in u])
    keep = tot > 0
    return u[keep], tot[keep]


def sse(u, w, thresholds, levels):
    codes = np.searchsorted(thresholds, u, side="right")
    return float((w * (u - levels[codes]) ** 2).sum())


def cell_cost(u, w):
    if w.sum() == 0:
        return 0.0
    c = (w * u).sum() / w.sum()
    return float((w * (u - c) ** 2).sum())


def lloyd_step(u, w, levels):
    """Midpoint thresholds, then centroids (empty cells keep their level)."""
    thresholds = 0.5 * (levels[1:] + levels[:-1])
    codes = np.searchsorted(thresholds, u, side="right")
    new = levels.astype(float).copy()
    for k in range(len(levels)):
        m = codes == k
        if w[m].sum() > 0:
            new[k] = (w[m] * u[m]).sum() / w[m].sum()
    return thresholds, new


def exhaustive(u, w, n_cells):
    """Minimum over every partition of the sorted points into contiguous cells."""
    k = len(u)
    best = np.inf
    for cuts in itertools.combinations(range(1, k), n_cells - 1):
        pos = (0, *cuts, k)
        best = min(best, sum(cell_cost(u[a:b], w[a:b]) for a, b in zip(pos[:-1], pos[1:])))
    return best


def best_split_merge_gain(u, w, levels):
    """Largest cost decrease of one merge-adjacent-pair + split-another-cell move."""
    M = len(levels)
    t = 0.5 * (levels[1:] + levels[:-1])
    pos = np.concatenate([[0], np.searchsorted(u, t, side="left"), [len(u)]])
    cost = [cell_cost(u[a:b], w[a:b]) for a, b in zip(pos[:-1], pos[1:])]
    best = 0.0
    for k in range(M):
        for p in range(M - 1):
            if p in (k - 1, k):
                continue
            merge = (
                cell_cost(u[pos[p] : pos[p + 2]], w[pos[p] : pos[p + 2]]) - cost[p] - cost[p + 1]
            )
            a, b = pos[k], pos[k + 1]
            for c in range(a + 1, b):
                split = cell_cost(u[a:c], w[a:c]) + cell_cost(u[c:b], w[c:b])
                best = max(best, cost[k] - split - merge)
    return best


# --- range-searching quantizers (skquant/_kernels/_uniform.py) -------------------------


def family_sse(u, w, t, y, offsets, scales, centroid=False):
    """Error of each quantizer (offset + scale * t, offset + scale * y), one at a time."""
    out = []
    for o, s in zip(offsets, scales):
        thresholds, levels = o + s * t, o + s * y
        codes = np.searchsorted(thresholds, u, side="right")
        if centroid:
            levels = levels.copy()
            for k in np.unique(codes):
                m = codes == k
                if w[m].sum() > 0:
                    levels[k] = np.average(u[m], weights=w[m])
        out.append(float((w * (u - levels[codes]) ** 2).sum()))
    return np.array(out)


def affine_encode(X, scale, zero_point, n_codes):
    """PyTorch / ONNX QuantizeLinear: clip(round_half_even(x / scale) + zp, 0, n - 1)."""
    q = np.rint(X.astype(np.float64) / scale) + zero_point
    return np.clip(q, 0, n_codes - 1).astype(np.int64)


def line_minimum(u, w, alpha, beta, gamma, delta, theta_lo, centroid=False):
    """Minimum over theta > theta_lo of the error of the quantizer with thresholds
    alpha + theta beta and levels gamma + theta delta (or the cells' centroids), piece
    by piece: between two crossings of a threshold and a value the cells are fixed and
    the error quadratic (constant with centroids)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = (u[:, None] - alpha[None, :]) / beta[None, :]
    cross = np.unique(cross[np.isfinite(cross) & (cross > theta_lo)])
    ends = np.concatenate([[theta_lo], cross, [np.inf]])
    best = np.inf
    for a, b in zip(ends[:-1], ends[1:]):
        inside = a + 1.0 if np.isinf(b) else 0.5 * (a + b)
        codes = np.searchsorted(alpha + inside * beta, u, side="right")
        if centroid:
            best = min(best, sum(cell_cost(u[codes == k], w[codes == k]) for k in set(codes)))
            continue
        r, d = u - gamma[codes], delta[codes]
        A, B = (w * d * d).sum(), (w * r * d).sum()
        theta = np.clip(B / A, a, b) if A > 0 else a
        best = min(best, float((w * (r - theta * d) ** 2).sum()))
    return best


# --- binary spherical codes and Hamming search (skquant/_kernels/_binary.py) ----------


def sign_codes(X, offset, W=None):
    """Packed codes of ``(X - offset) @ W`` (``X - offset`` when W is None), and which
    rows are flagged: a NaN or inf in the row of X, or in its rotated values."""
    if W is None:
        return np.packbits(X - offset > 0, axis=1), ~np.isfinite(X).all(axis=1)
    Z = rotate(X, offset, W)
    return np.packbits(Z > 0, axis=1), ~np.isfinite(Z).all(axis=1)


def rotate(X, offset, W):
    """``(X - offset) @ W`` accumulated in the kernel's order and dtype."""
    Z = np.zeros((X.shape[0], W.shape[1]), dtype=X.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(X.shape[1]):
            Z += (X[:, k] - offset[k])[:, None] * W[k]
    return Z


def code_index(Z):
    """The reference's index: sum of (z > 0) * 2**(D-1-d)."""
    d = Z.shape[1]
    return ((Z > 0).astype(np.int64) * (2 ** np.arange(d - 1, -1, -1))).sum(axis=1)


def bit_counts(codes, n_parts):
    """Ones of every bit of packed codes, per part of ``ceil(n / n_parts)`` rows."""
    bits = np.unpackbits(codes, axis=1).astype(np.int64)
    size = -(-codes.shape[0] // n_parts)
    return np.stack([bits[p * size : (p + 1) * size].sum(axis=0) for p in range(n_parts)])


def distinct_counts(codes):
    """Multiplicities of the distinct rows, in increasing order."""
    if codes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.unique(codes, axis=0, return_counts=True)[1])


def word_statistics(words, n_parts):
    """Twin of ``K.word_statistics``: the multiplicities of the distinct words of the
    1-D uint64 ``words`` as ``np.bincount`` of them (``[0]`` for none), and the ones of
    every bit of the words' bytes (read from memory, np.packbits order) per part."""
    tally = np.bincount(np.unique(words, return_counts=True)[1], minlength=1)
    return tally, bit_counts(words.view(np.uint8).reshape(-1, 8), n_parts)


def code_entropy(codes):
    """Entropy in bits of the empirical distribution of the rows of ``codes``."""
    p = distinct_counts(codes) / codes.shape[0]
    return float(-(p * np.log2(p)).sum())


def soft_assignment(X, inv_temperature):
    """The BSQ reference's soft assignment, literally: softmax over all 2**D codes."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    x = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    bits = (np.arange(2**d)[:, None] >> np.arange(d - 1, -1, -1)) & 1
    codebook = (2.0 * bits - 1.0) / np.sqrt(d)
    logits = 2.0 * inv_temperature * x @ codebook.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def entropy(p, clamp):
    """``-sum p log(max(p, 1e-5))`` (the reference) or ``-sum p log p`` along the last axis."""
    logp = np.log(np.maximum(p, 1e-5)) if clamp else np.log(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=-1)


def hamming_distances(A, B):
    """Unpack every bit and count the differences."""
    a = np.unpackbits(A, axis=1).astype(np.int64)
    b = np.unpackbits(B, axis=1).astype(np.int64)
    return np.abs(a[:, None, :] - b[None, :, :]).sum(axis=2)


def hamming_knn(Q, B, k):
    """Stable sort of each row of the distance matrix: ties go to the smaller index."""
    D = hamming_distances(Q, B)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, idx, axis=1), idx


def bsq_clamped_entropy(T):
    """The reference's per-row entropy ``-sum p log max(p, 1e-5)`` and its gradient with
    respect to ``t``, by enumerating all ``2**D`` codes: ``p`` is the softmax of the
    logits ``<s, t> / 2`` over the sign vectors ``s``; with ``g = dH/dp`` (torch's clamp:
    ``-(log p + 1)`` where ``p >= 1e-5``, ``-log 1e-5`` below) the softmax Jacobian gives
    ``dH/dt = sum_c p_c (g_c - E[g]) s_c / 2``. ``g - E[g]`` is taken as deviations from
    ``g`` at the most likely code, so that it keeps its digits when that code has almost
    all the mass."""
    T = np.asarray(T, dtype=np.float64)
    d = T.shape[1]
    bits = (np.arange(2**d)[:, None] >> np.arange(d - 1, -1, -1)) & 1
    s = 2.0 * bits - 1.0
    logits = 0.5 * T @ s.T
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    entropy = -(p * np.maximum(log_p, np.log(1e-5))).sum(axis=1)
    g = np.where(p >= 1e-5, -(log_p + 1.0), -np.log(1e-5))
    dev = g - g[np.arange(len(T)), np.argmax(logits, axis=1)][:, None]
    centred = dev - (p * dev).sum(axis=1, keepdims=True)
    return entropy, 0.5 * (p * centred) @ s
