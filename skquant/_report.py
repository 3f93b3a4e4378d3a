"""Rate–distortion tables: fit quantizers at several bit widths and measure them."""

import io
import warnings

import numpy as np
from sklearn.base import clone

from .metrics import code_entropy


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


def normalized_mse(X, X_hat):
    """Each feature's MSE divided by its variance, averaged over the features that vary."""
    X = np.asarray(X, dtype=np.float64)
    var = X.var(axis=0)
    err = ((X - X_hat) ** 2).mean(axis=0)
    varying = var > 0
    return float(np.mean(err[varying] / var[varying])) if varying.any() else 0.0


def sqnr_from_nmse(nmse):
    """``-10 log10(nmse)`` (inf for an exact reconstruction)."""
    return -10.0 * np.log10(nmse) if nmse > 0 else np.inf


def rate_distortion_table(X, quantizers=None, bits=range(1, 9), *, file_size=True,
                          progress=None):
    """Fit every quantizer at every bit width on X and measure it on X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    quantizers : dict of str to estimator, default=None
        Templates cloned with ``n_bits=b``; :func:`default_quantizers` by default.
    bits : iterable of int
    file_size : bool, default=True
        Also measure the size of the skquant file (codes, codebook and header).
    progress : callable, default=None
        Called as ``progress(done, total, label)`` after each fit.

    Returns
    -------
    rows : list of dict
        Keys ``quantizer``, ``n_bits``, ``mse`` (mean over all values), ``nmse`` (each
        feature's MSE divided by its variance, averaged over features), ``sqnr_db``
        (``-10 log10(nmse)``: the centred SQNR of the average feature), ``entropy``
        (bits per value an entropy coder would need), ``packed_bytes`` (codes
        bit-packed at ``n_bits`` per value) and, with ``file_size``, ``file_bytes``.
    """
    quantizers = default_quantizers() if quantizers is None else quantizers
    X = np.asarray(X, dtype=np.float64)
    bits = list(bits)
    rows = []
    total = len(quantizers) * len(bits)
    for name, est in quantizers.items():
        for b in bits:
            q = clone(est).set_params(n_bits=b)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # few distinct values
                codes = q.fit(X).transform(X)
            X_hat = q.inverse_transform(codes)
            nmse = normalized_mse(X, X_hat)
            row = {
                "quantizer": name,
                "n_bits": b,
                "mse": float(((X - X_hat) ** 2).mean()),
                "nmse": nmse,
                "sqnr_db": sqnr_from_nmse(nmse),
                "entropy": code_entropy(codes),
                "packed_bytes": (X.size * b + 7) // 8,
                "raw_bytes": X.size * 8,
            }
            if file_size:
                row["file_bytes"] = encoded_size(q, codes)
            rows.append(row)
            if progress is not None:
                progress(len(rows), total, f"{name} {b} bits")
    return rows


def format_table(rows):
    """Render rows of :func:`rate_distortion_table` as a fixed-width text table.

    ``ratio`` is the raw float64 size (8 bytes per value) over the file size.
    """
    width = max([12] + [len(r["quantizer"]) for r in rows])
    head = (f"{'quantizer':<{width}} {'bits':>4} {'MSE':>10} {'SQNR dB':>8} "
            f"{'entropy':>8} {'packed B':>9}")
    with_file = bool(rows) and "file_bytes" in rows[0]
    if with_file:
        head += f" {'file B':>9} {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (f"{r['quantizer']:<{width}} {r['n_bits']:>4} {r['mse']:>10.3e} "
                f"{r['sqnr_db']:>8.2f} {r['entropy']:>8.3f} {r['packed_bytes']:>9}")
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
    """The Panter–Dite (Zador) high-rate MSE estimated from X, at each width in ``bits``.

    Returns ``(mse, nmse)``: the MSE averaged over features, and the MSE divided by each
    feature's variance averaged over the features that vary (as in the table).
    """
    X = np.asarray(X, dtype=np.float64)
    c = zador_constants(X)
    var = X.var(axis=0)
    scale = np.exp2(-2.0 * np.asarray(bits, dtype=np.float64))
    varying = var > 0
    nc = float(np.mean(c[varying] / var[varying])) if varying.any() else 0.0
    return float(np.mean(c)) * scale, nc * scale


def plot_table(rows, X, path):
    """Save MSE versus bits for every quantizer in ``rows``, with the Panter–Dite line."""
    import matplotlib

    matplotlib.use("Agg")
    from ._display import RateDistortionDisplay

    names = list(dict.fromkeys(r["quantizer"] for r in rows))
    bits = np.array(sorted({r["n_bits"] for r in rows}))
    values = {
        name: np.array([r["mse"] for r in rows if r["quantizer"] == name]) for name in names
    }
    mse, _ = panter_dite_curve(X, bits)
    display = RateDistortionDisplay(bits, values, metric="mse", panter_dite=mse).plot()
    display.figure_.savefig(path, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(display.figure_)
    return display
