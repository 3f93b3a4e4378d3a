"""Rate–distortion tables: fit quantizers at several bit widths and measure them."""

import io
import warnings

import numpy as np
from sklearn.base import clone

from . import _libm
from .metrics import _packed_widths, _rate_per_feature, code_entropy, normalized_mse


def default_quantizers():
    """The quantizers ``skquant report`` compares, by display name.

    Lloyd–Max and its exact optimum always; the uniform-clip and compander variants
    when those estimators are part of the installed skquant.
    """
    import skquant

    quantizers = {
        "lloyd-max": skquant.LloydMaxQuantizer(),
        "optimal": skquant.LloydMaxQuantizer(algorithm="optimal"),
    }
    uniform = getattr(skquant, "UniformClipQuantizer", None)
    if uniform is not None:
        quantizers["uniform-clip"] = uniform()
    compander = getattr(skquant, "CompanderQuantizer", None)
    if compander is not None:
        for name in ("mu-law", "optimal"):
            try:
                quantizers[f"compander-{name}"] = compander(compander=name)
            except TypeError:  # a compander without that parameter
                break
    return quantizers


def encoded_size(estimator, codes):
    """Bytes of the skquant file holding ``estimator`` and its ``codes``."""
    from ._io import write

    buf = io.BytesIO()
    write(buf, estimator, codes=codes)
    return buf.getbuffer().nbytes


def sqnr_from_nmse(nmse):
    """``-10 log10(nmse)`` (inf for an exact reconstruction)."""
    return -10.0 * _libm.log10(nmse) if nmse > 0 else np.inf


def _settings(bits, levels):
    """The codebook sizes of a table: ``(label, params)`` for each width or level count."""
    if levels is not None:
        return [(int(k), {"n_bits": None, "n_levels": int(k)}) for k in levels]
    return [(int(b), {"n_bits": int(b), "n_levels": None}) for b in bits]


def rate_distortion_table(X, quantizers=None, bits=range(1, 9), *, levels=None,
                          file_size=True, progress=None):
    """Fit every quantizer at every bit width (or number of levels) on X and measure it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    quantizers : dict of str to estimator, default=None
        Templates cloned with ``n_bits=b`` (or ``n_levels=k``);
        :func:`default_quantizers` by default.
    bits : iterable of int
        Bit widths (``2 ** b`` levels).
    levels : iterable of int, default=None
        Numbers of levels instead of ``bits``.
    file_size : bool, default=True
        Also measure the size of the skquant file (codes, codebook and header).
    progress : callable, default=None
        Called as ``progress(done, total, label)`` after each fit.

    Returns
    -------
    rows : list of dict
        Keys ``quantizer``, ``n_levels`` (the number of levels asked for), ``n_bits``
        (the bit width asked for, or None with ``levels``), ``mse`` (mean over all
        values), ``nmse`` (:func:`skquant.metrics.normalized_mse`), ``sqnr_db``
        (``-10 log10(nmse)``: the centred SQNR of the average feature), ``entropy``
        (the empirical entropy of the codes in bits per value), ``coded_bits`` (the
        bits per value skquant's entropy-coded file spends, per feature under the model
        its writer chooses, table included: the rate of ``rate="entropy"``,
        :func:`skquant._entropy.coded_bits`), ``packed_bytes`` (codes
        bit-packed at ``ceil(log2 n_levels_)`` bits per value) and, with
        ``file_size``, ``file_bytes``.
    """
    quantizers = default_quantizers() if quantizers is None else quantizers
    X = np.asarray(X, dtype=np.float64)
    settings = _settings(bits, levels)
    rows = []
    total = len(quantizers) * len(settings)
    for name, est in quantizers.items():
        for label, params in settings:
            q = clone(est).set_params(**params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # few distinct values
                codes = q.fit(X).transform(X)
            X_hat = q.inverse_transform(codes)
            nmse = normalized_mse(X, X_hat)
            widths = _packed_widths(q.n_levels_)
            row = {
                "quantizer": name,
                "n_levels": 2**label if levels is None else label,
                "n_bits": label if levels is None else None,
                "mse": float(((X - X_hat) ** 2).mean()),
                "nmse": nmse,
                "sqnr_db": sqnr_from_nmse(nmse),
                "entropy": code_entropy(codes),
                "coded_bits": float(_rate_per_feature(q, codes, "entropy").mean()),
                "packed_bytes": (X.shape[0] * int(widths.sum()) + 7) // 8,
                "raw_bytes": X.size * 8,
            }
            if file_size:
                row["file_bytes"] = encoded_size(q, codes)
            rows.append(row)
            if progress is not None:
                what = f"{label} bits" if levels is None else f"{label} levels"
                progress(len(rows), total, f"{name} {what}")
    return rows


def format_table(rows):
    """Render rows of :func:`rate_distortion_table` as a fixed-width text table.

    ``ratio`` is the raw float64 size (8 bytes per value) over the file size.
    """
    width = max([12] + [len(r["quantizer"]) for r in rows])
    by_levels = bool(rows) and rows[0]["n_bits"] is None
    key, title = ("n_levels", "levels") if by_levels else ("n_bits", "bits")
    head = (f"{'quantizer':<{width}} {title:>6} {'MSE':>10} {'SQNR dB':>8} "
            f"{'entropy':>8} {'coded':>8} {'packed B':>9}")
    with_file = bool(rows) and "file_bytes" in rows[0]
    if with_file:
        head += f" {'file B':>9} {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (f"{r['quantizer']:<{width}} {r[key]:>6} {r['mse']:>10.3e} "
                f"{r['sqnr_db']:>8.2f} {r['entropy']:>8.3f} {r['coded_bits']:>8.3f} "
                f"{r['packed_bytes']:>9}")
        if with_file:
            line += f" {r['file_bytes']:>9} {r['raw_bytes'] / r['file_bytes']:>6.1f}"
        lines.append(line)
    return "\n".join(lines)


def zador_constants(X):
    """Per-column estimate of ``(1/12) (int f^(1/3))^3`` from the data.

    The integral is estimated on ``B = max(8, sqrt(n))`` equal-mass cells of the
    empirical distribution: a cell of width ``dq`` holding mass ``1/B`` has density
    ``1/(B dq)``, so it contributes ``(1/B)^(1/3) dq^(2/3)``. Columns with ties have
    cells of width 0, which contribute nothing (a discrete column has no density).
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    B = max(8, int(np.sqrt(n)))
    q = np.quantile(X, np.linspace(0.0, 1.0, B + 1), axis=0)
    integral = ((1.0 / B) ** (1.0 / 3.0) * np.diff(q, axis=0) ** (2.0 / 3.0)).sum(axis=0)
    return integral**3 / 12.0


def panter_dite_curve(X, bits):
    """The Panter–Dite (Zador) high-rate MSE estimated from X, at each width in ``bits``
    (``log2`` of the number of levels, so fractional widths are ``M`` levels).

    Returns ``(mse, nmse)``: the MSE averaged over features, and the MSE divided by each
    feature's variance averaged over all features, a constant one counting 0 (as
    :func:`skquant.metrics.normalized_mse`).
    """
    X = np.asarray(X, dtype=np.float64)
    c = zador_constants(X)
    var = X.var(axis=0)
    scale = _libm.exp2(-2.0 * np.asarray(bits, dtype=np.float64))
    nc = float(np.mean(np.where(var > 0, c / np.where(var > 0, var, 1.0), 0.0)))
    return float(np.mean(c)) * scale, nc * scale


def differential_entropies(X):
    """Per-column estimate of the differential entropy ``h`` in bits, from the data.

    On ``B = max(8, sqrt(n))`` equal-mass cells of the empirical distribution, a cell of
    width ``dq`` holding mass ``1/B`` has density ``1/(B dq)``, so ``h = sum_k (1/B)
    log2(B dq_k)``; cells of width 0 (values repeated: atoms, which have no density)
    are left out.
    """
    X = np.asarray(X, dtype=np.float64)
    B = max(8, int(np.sqrt(X.shape[0])))
    dq = np.diff(np.quantile(X, np.linspace(0.0, 1.0, B + 1), axis=0), axis=0)
    with np.errstate(divide="ignore"):
        terms = np.where(dq > 0, _libm.log2(np.where(dq > 0, B * dq, 1.0)), 0.0)
    return terms.sum(axis=0) / B


def gish_pierce_curve(X, bits):
    """The Gish–Pierce high-rate MSE of entropy-coded uniform codes estimated from X,
    ``(1/12) 2^(2 h) 2^(-2 R)`` per feature at each rate ``R`` in ``bits`` (bits per
    value), with ``h`` from :func:`differential_entropies`.

    Returns ``(mse, nmse)`` as :func:`panter_dite_curve`: the MSE averaged over
    features, and the variance-normalised MSE averaged over features (a constant
    feature counting 0). It lies 1.53 dB (a factor ``pi e / 6``) above the Shannon
    bound of a Gaussian of the same entropy, and below the Panter–Dite line.
    """
    X = np.asarray(X, dtype=np.float64)
    var = X.var(axis=0)
    c = np.where(var > 0, _libm.exp2(2.0 * differential_entropies(X)) / 12.0, 0.0)
    scale = _libm.exp2(-2.0 * np.asarray(bits, dtype=np.float64))
    nc = float(np.mean(np.where(var > 0, c / np.where(var > 0, var, 1.0), 0.0)))
    return float(np.mean(c)) * scale, nc * scale
