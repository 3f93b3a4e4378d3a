"""Kernels of the range-searching quantizers: exact MSE of a family, affine encoding.

A *family* is a fixed quantizer shape moved and stretched: thresholds
``offset + scale * t_shape`` and levels ``offset + scale * y_shape``. Every uniform
quantizer (midrise or midtread, symmetric or affine) and every compander with a
scaled range is such a family, so one kernel gives the exact empirical MSE of any
candidate range, on a column summary (sorted distinct values ``u`` with the prefix
sums ``W``, ``S1``, ``S2`` of the weights, of ``w * (u - shift)`` and of
``w * (u - shift) ** 2``; see ``_scalar.py``).
"""

import numpy as np

from ._config import jit, prange
from ._scalar import CHUNK


@jit
def _lower_bound(u, t, lo, hi):
    """First index ``i`` in ``[lo, hi]`` with ``u[i] >= t`` (``hi`` if none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if u[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit
def _cell_sse(W, S1, S2, a, b, centroid, d):
    """Weighted squared error of the summary's values ``a .. b - 1`` about their
    centroid (``centroid``) or about the level whose centred value is ``d``."""
    wt = W[b] - W[a]
    if wt <= 0.0:
        return 0.0
    s1 = S1[b] - S1[a]
    s2 = S2[b] - S2[a]
    if centroid:
        return max(s2 - s1 * s1 / wt, 0.0)
    return max(s2 - 2.0 * d * s1 + d * d * wt, 0.0)


@jit
def family_sse(u, W, S1, S2, shift, t_shape, y_shape, offsets, scales, centroid, out):
    """Exact weighted squared error of many quantizers of one family on one column.

    Candidate ``c`` has thresholds ``offsets[c] + scales[c] * t_shape`` (a value equal
    to a threshold goes to the upper cell, the outer cells are open) and levels
    ``offsets[c] + scales[c] * y_shape``, or the cells' centroids when ``centroid``.
    Each candidate costs ``M - 1`` bisections and ``M`` cell sums: O(M log k) for
    ``M`` levels and ``k`` distinct values, whatever the number of samples. Serial:
    the estimators already fit their columns on parallel threads.

    Parameters
    ----------
    u, W, S1, S2 : column summary (k,), (k + 1,) float64 arrays, IN.
    shift : float, IN, the centre of the prefix sums.
    t_shape : (M - 1,) float64 array, IN, non-decreasing (for a positive scale).
    y_shape : (M,) float64 array, IN.
    offsets, scales : (n_candidates,) float64 arrays, IN; scales positive.
    centroid : bool, IN: reconstruct with cell centroids instead of the levels.
    out : (n_candidates,) float64 array, OUT: the weighted squared errors.
    """
    k = u.shape[0]
    M = y_shape.shape[0]
    for c in range(scales.shape[0]):
        o = offsets[c]
        s = scales[c]
        total = 0.0
        a = 0
        for m in range(M):
            b = k if m == M - 1 else _lower_bound(u, o + s * t_shape[m], a, k)
            total += _cell_sse(W, S1, S2, a, b, centroid, o + s * y_shape[m] - shift)
            a = b
        out[c] = total


@jit(parallel=True)
def affine_encode(X, scale, zero_point, n_codes, out):
    """Integer affine quantization ``clip(rint(x / scale) + zero_point, 0, n_codes - 1)``.

    The convention of PyTorch's ``quantize_per_tensor`` and ONNX ``QuantizeLinear``:
    ``rint`` rounds half to even, and ``x / scale`` is a float64 division (float32
    data are widened exactly first). Columns whose ``scale`` is not positive (NaN)
    are left unwritten for the caller to fill.

    Parameters
    ----------
    X : (n, d) float array, IN.
    scale : (d,) float64 array, IN.
    zero_point : (d,) int64 array, IN.
    n_codes : (d,) int64 array, IN, the number of codes ``2**n_bits`` of each feature.
    out : (n, d) unsigned int array, OUT.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    n, d = X.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        finite = True
        for i in range(c * CHUNK, min((c + 1) * CHUNK, n)):
            for j in range(d):
                x = np.float64(X[i, j])
                top = np.float64(n_codes[j] - 1)
                s = scale[j]
                if s > 0.0:
                    q = np.rint(x / s) + zero_point[j]
                    # NaN and +-inf always land in one of the two clipping branches,
                    # so only those test finiteness (a test per value costs ~50%)
                    if not q >= 0.0:
                        finite &= x - x == 0.0
                        q = 0.0
                    elif q > top:
                        finite &= x - x == 0.0
                        q = top
                    out[i, j] = np.int64(q)
                else:
                    finite &= x - x == 0.0
        bad[c] = not finite
    return bad


def line_sweep(u, w, alpha, beta, gamma, delta, theta_lo, piece_theta, piece_value,
               centroid=False):
    """Exact error of the quantizers along a line, minimised on every piece.

    At parameter ``theta`` the thresholds are ``alpha + theta * beta`` (increasing for
    every ``theta > theta_lo``) and the levels ``gamma + theta * delta``. While no
    threshold crosses a data value the cells are fixed and the error is a quadratic
    in ``theta``; the crossings ``theta = (u_i - alpha_m) / beta_m`` are sorted and
    swept in order, each moving one value to the next cell, with the quadratic's
    coefficients updated in O(1). The minimum of the quadratic on each piece (clipped
    to the piece, 1e-12 relative inside its ends) is the exact global minimiser along
    the line, up to the rounding of the running sums and that margin — callers
    re-evaluate the best pieces with :func:`family_sse`.
    O(P log P) for ``P = k (M - 1)`` crossings; the sort is NumPy's (several times
    faster than numba's argsort), between two compiled passes. With ``centroid`` the
    cells are reconstructed by their centroids (``gamma`` and ``delta`` unused): the
    error is then constant on each piece, kept up to date from per-cell sums, and the
    piece's midpoint is returned.

    Parameters
    ----------
    u, w : (k,) float64 arrays, IN: distinct values and their weights.
    alpha, beta : (M - 1,) float64 arrays, IN.
    gamma, delta : (M,) float64 arrays, IN.
    theta_lo : float, IN: the line starts just above ``theta_lo``; it has no end.
    piece_theta, piece_value : (k (M - 1) + 1,) float64 arrays, OUT: the minimiser of
        each piece and the error there.

    Returns
    -------
    n_pieces : the number of pieces written.
    """
    cell = np.empty(u.shape[0], dtype=np.int64)
    at, move = _line_events(u, alpha, beta, theta_lo, cell)
    order = np.argsort(at)
    if centroid:
        return _line_partitions(
            u, w, gamma.shape[0], cell, at[order], move[order], theta_lo,
            piece_theta, piece_value,
        )
    return _line_pieces(
        u, w, gamma, delta, cell, at[order], move[order], theta_lo, piece_theta, piece_value
    )


@jit
def _line_events(u, alpha, beta, theta_lo, cell):
    """Cells just above ``theta_lo`` (OUT) and the crossings: where, and which value
    moves (``2 i`` to the cell below for a rising threshold, ``2 i + 1`` above)."""
    k = u.shape[0]
    m_thr = alpha.shape[0]
    n_events = 0
    for i in range(k):
        c = 0
        for m in range(m_thr):
            t = alpha[m] + theta_lo * beta[m]
            if t < u[i] or (t == u[i] and beta[m] <= 0.0):
                c += 1
            if beta[m] != 0.0 and (u[i] - alpha[m]) / beta[m] > theta_lo:
                n_events += 1
        cell[i] = c
    at = np.empty(n_events, dtype=np.float64)
    move = np.empty(n_events, dtype=np.int64)
    e = 0
    for i in range(k):
        for m in range(m_thr):
            if beta[m] != 0.0:
                th = (u[i] - alpha[m]) / beta[m]
                if th > theta_lo:
                    at[e] = th
                    move[e] = 2 * i + (0 if beta[m] > 0.0 else 1)
                    e += 1
    return at, move


@jit
def _line_pieces(u, w, gamma, delta, cell, at, move, theta_lo, piece_theta, piece_value):
    """The sweep proper: crossings sorted by ``at``, one quadratic minimum per piece."""
    k = u.shape[0]
    n_events = at.shape[0]
    # error = C - 2 theta B + theta^2 A with r = u - gamma_c, d = delta_c
    A = 0.0
    B = 0.0
    C = 0.0
    for i in range(k):
        r = u[i] - gamma[cell[i]]
        d = delta[cell[i]]
        A += w[i] * d * d
        B += w[i] * r * d
        C += w[i] * r * r
    n = 0
    prev = theta_lo
    for idx in range(n_events + 1):
        th = at[idx] if idx < n_events else np.inf
        if th > prev:
            # the quadratic's minimiser, kept inside the open piece: at a crossing the
            # cells change, and with levels that are not midpoints the error jumps
            nudge = min(1e-12 * (abs(prev) + abs(th)), 0.5 * (th - prev))
            best = B / A if A > 0.0 else prev
            if best <= prev:
                best = prev + nudge
            elif best >= th:
                best = th - nudge
            if np.isfinite(best):
                piece_theta[n] = best
                piece_value[n] = C - 2.0 * best * B + best * best * A
                n += 1
            prev = th
        if idx < n_events:
            i = move[idx] >> 1
            c = cell[i]
            c2 = c + 1 if move[idx] & 1 else c - 1
            r, d = u[i] - gamma[c], delta[c]
            r2, d2 = u[i] - gamma[c2], delta[c2]
            A += w[i] * (d2 * d2 - d * d)
            B += w[i] * (r2 * d2 - r * d)
            C += w[i] * (r2 * r2 - r * r)
            cell[i] = c2
    return n


@jit(parallel=True)
def grid_encode(X, start, inv_width, table, out):
    """Codes (the number of thresholds ``<= x``, as :func:`encode`) in O(1) per value.

    Feature ``j`` has a grid of ``G`` cells, cell ``g`` holding the values whose
    ``(x - start[j]) * inv_width[j]``, clipped to ``[0, G - 1]``, truncates to ``g``.
    That map is monotone in ``x``, even in floating point, so a threshold whose own
    cell is before ``g`` is below every value of cell ``g`` and one whose cell is after
    is above; with at most one threshold per cell (the caller's grid is fine enough),
    the code is ``table[j, g, 0]`` (the number of thresholds in earlier cells) plus one
    comparison with ``table[j, g, 1]``, the threshold in cell ``g`` (``+inf`` if none).
    Exact for any cell shapes; the two entries share a cache line, so this runs at
    about the speed of the affine formula, against a bisection's log2(M) dependent
    loads.

    Parameters
    ----------
    X : (n, d) float array, IN.
    start, inv_width : (d,) float64 arrays, IN.
    table : (d, G, 2) float64 array, IN.
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    n, d = X.shape
    last = np.float64(table.shape[1] - 1)
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        finite = True
        for i in range(c * CHUNK, min((c + 1) * CHUNK, n)):
            for j in range(d):
                x = X[i, j]
                f = (x - start[j]) * inv_width[j]
                if not f >= 0.0:  # NaN and -inf come here, +inf below (or NaN if
                    finite &= x - x == 0.0  # inv_width is 0): as in affine_encode
                    f = 0.0
                elif f > last:
                    finite &= x - x == 0.0
                    f = last
                g = np.int64(f)
                out[i, j] = np.int64(table[j, g, 0]) + (x >= table[j, g, 1])
        bad[c] = not finite
    return bad


@jit
def _cell_error(cw, c1, c2):
    return max(c2 - c1 * c1 / cw, 0.0) if cw > 0.0 else 0.0


@jit
def _line_partitions(u, w, n_cells, cell, at, move, theta_lo, piece_theta, piece_value):
    """The sweep with centroid levels: the partition's error on each piece."""
    k = u.shape[0]
    centre = u[k // 2]  # sums about the median keep the cell errors accurate
    cw = np.zeros(n_cells)
    c1 = np.zeros(n_cells)
    c2 = np.zeros(n_cells)
    for i in range(k):
        r = u[i] - centre
        cw[cell[i]] += w[i]
        c1[cell[i]] += w[i] * r
        c2[cell[i]] += w[i] * r * r
    total = 0.0
    for m in range(n_cells):
        total += _cell_error(cw[m], c1[m], c2[m])
    n = 0
    prev = theta_lo
    n_events = at.shape[0]
    for idx in range(n_events + 1):
        th = at[idx] if idx < n_events else np.inf
        if th > prev:
            if np.isfinite(th):
                piece_theta[n] = 0.5 * (prev + th)
            else:
                piece_theta[n] = prev + max(abs(prev), 1.0)
            piece_value[n] = total
            n += 1
            prev = th
        if idx < n_events:
            i = move[idx] >> 1
            a = cell[i]
            b = a + 1 if move[idx] & 1 else a - 1
            total -= _cell_error(cw[a], c1[a], c2[a]) + _cell_error(cw[b], c1[b], c2[b])
            r = u[i] - centre
            cw[a] -= w[i]
            c1[a] -= w[i] * r
            c2[a] -= w[i] * r * r
            cw[b] += w[i]
            c1[b] += w[i] * r
            c2[b] += w[i] * r * r
            total += _cell_error(cw[a], c1[a], c2[a]) + _cell_error(cw[b], c1[b], c2[b])
            cell[i] = b
    return n
