"""
==============================================================
Uniform, Lloyd-Max and companding quantizers versus bit width
==============================================================

The "Numerical Comparisons" of the lecture on non-uniform quantization (EE269,
Stanford): the mean squared error of three fixed-rate scalar quantizers with
``M = 2**b`` levels, for ``b = 1 .. 8`` bits, for a unit-variance Gaussian and a
unit-variance Laplacian source, next to Zador's (Panter and Dite's) high-rate
formula ``(1/12) (int f^(1/3))^3 2^(-2b)``:

- (A) the uniform quantizer with the MSE-optimal clipping range,
  :func:`skquant.design.optimal_uniform`;
- (B) the Lloyd-Max quantizer, :func:`skquant.design.lloyd_max`;
- (C) the high-rate compander (point density proportional to ``f^(1/3)``),
  :func:`skquant.design.high_rate_compander`.

Every number is exact for the density (closed-form partial moments), not estimated from
samples. Run ``python examples/plot_lecture_comparison.py`` to print the table and show
the figure, or add ``--plot comparison.png`` to save it instead (the figure needs
matplotlib: ``pip install skquant[plot]``).
"""

import argparse
import sys

import numpy as np

from skquant.design import high_rate_compander, lloyd_max, optimal_uniform, panter_dite_mse

SOURCES = {"gaussian": "Gaussian", "laplace": "Laplacian"}
# key: (legend label, table column header)
METHODS = {
    "uniform": ("optimised uniform (A)", "uniform (A)"),
    "lloyd_max": ("Lloyd-Max (B)", "Lloyd-Max (B)"),
    "compander": ("compander (C)", "compander (C)"),
    "zador": ("Zador / Panter-Dite", "Zador"),
}


def compare(distribution, max_bits=8):
    """MSE of designs A, B, C and the Zador curve for ``b = 1 .. max_bits``."""
    bits = np.arange(1, max_bits + 1)
    levels = 2**bits
    return {
        "bits": bits,
        "uniform": np.array([optimal_uniform(distribution, m).mse for m in levels]),
        "lloyd_max": np.array([lloyd_max(distribution, m).mse for m in levels]),
        "compander": np.array([high_rate_compander(distribution, m).mse for m in levels]),
        "zador": panter_dite_mse(distribution, bits),
    }


def format_table(results):
    """The comparison as a plain-text table, one block per source."""
    lines = []
    for name, res in results.items():
        lines.append(f"{SOURCES[name]} source, unit variance: MSE")
        lines.append("bits" + "".join(f"{header:>15}" for _, header in METHODS.values()))
        for i, b in enumerate(res["bits"]):
            lines.append(f"{b:>4}" + "".join(f"{res[key][i]:>15.4e}" for key in METHODS))
        lines.append("")
    return "\n".join(lines)


def plot(results, fig):
    """Draw MSE versus bits (log scale), one panel per source, on ``fig``."""
    styles = {"uniform": "s-", "lloyd_max": "o-", "compander": "^-", "zador": "k--"}
    axes = fig.subplots(1, len(results), sharey=True)
    for ax, (name, res) in zip(np.atleast_1d(axes), results.items()):
        for key, (label, _) in METHODS.items():
            ax.semilogy(res["bits"], res[key], styles[key], label=label, markersize=4)
        ax.set_title(f"{SOURCES[name]} source (unit variance)")
        ax.set_xlabel("bits per sample b")
        ax.grid(True, which="both", alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("MSE")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    return fig


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib, an optional extra: pip install skquant[plot]"
        ) from exc


def main(argv=None):
    """Print the comparison table; save the figure with ``--plot FILE``.

    Returns the results: for each source, the arrays ``bits``, ``uniform``,
    ``lloyd_max``, ``compander`` and ``zador``.
    """
    parser = argparse.ArgumentParser(description="Lecture comparison of quantizer designs.")
    parser.add_argument("--plot", metavar="FILE", help="save the figure to FILE (PNG, PDF, ...)")
    parser.add_argument("--max-bits", type=int, default=8, help="largest bit width (default 8)")
    args = parser.parse_args(argv)

    results = {name: compare(name, args.max_bits) for name in SOURCES}
    print(format_table(results))

    if args.plot:  # a figure outside pyplot: no backend or global state is touched
        _matplotlib()
        from matplotlib.figure import Figure

        plot(results, Figure(figsize=(10, 4))).savefig(args.plot, dpi=120)
        print(f"figure saved to {args.plot}")
    else:  # on screen, and in the gallery (which collects pyplot figures)
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            return results
        plot(results, plt.figure(figsize=(10, 4)))
        plt.show()
    return results


if __name__ == "__main__":
    try:
        main()
    except ImportError as exc:
        sys.exit(str(exc))
