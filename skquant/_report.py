"""Rate–distortion tables: fit quantizers at several bit widths and measure them."""

import warnings

import numpy as np
from sklearn.base import clone

from .metrics import code_entropy


def default_quantizers():
    """The quantizers ``skquant report`` compares, by display name."""
    from ._lloyd_max import LloydMaxQuantizer

    return {
        "lloyd-max": LloydMaxQuantizer(),
        "optimal": LloydMaxQuantizer(algorithm="optimal"),
    }


def rate_distortion_table(X, quantizers=None, bits=range(1, 9)):
    """Fit every quantizer at every bit width on X and measure it on X.

    Returns a list of dict rows with keys ``quantizer``, ``n_bits``, ``nmse`` (MSE
    divided by the variance, averaged over features), ``sqnr_db`` (``-10 log10`` of
    that NMSE: the centred SQNR of the average feature), ``entropy`` (bits per value an entropy coder would need) and
    ``packed_bytes`` (codes bit-packed at ``n_bits`` per value).
    """
    quantizers = default_quantizers() if quantizers is None else quantizers
    X = np.asarray(X, dtype=np.float64)
    var = X.var(axis=0)
    varying = var > 0
    rows = []
    for name, est in quantizers.items():
        for b in bits:
            q = clone(est).set_params(n_bits=b)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # few distinct values
                codes = q.fit(X).transform(X)
            X_hat = q.inverse_transform(codes)
            err = ((X - X_hat) ** 2).mean(axis=0)
            nmse = float(np.mean(err[varying] / var[varying]))
            rows.append(
                {
                    "quantizer": name,
                    "n_bits": b,
                    "nmse": nmse,
                    "sqnr_db": -10.0 * np.log10(nmse) if nmse > 0 else np.inf,
                    "entropy": code_entropy(codes),
                    "packed_bytes": int(np.ceil(X.size * b / 8)),
                }
            )
    return rows


def format_table(rows):
    """Render rows of :func:`rate_distortion_table` as a fixed-width text table."""
    head = f"{'quantizer':<12} {'bits':>4} {'NMSE':>10} {'SQNR dB':>8} {'entropy':>8} {'packed B':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['quantizer']:<12} {r['n_bits']:>4} {r['nmse']:>10.3e} "
            f"{r['sqnr_db']:>8.2f} {r['entropy']:>8.3f} {r['packed_bytes']:>9}"
        )
    return "\n".join(lines)
