"""
=====================================================
Variable-rate quantization: rate-distortion curves
=====================================================

Bits per value against MSE on Gaussian samples (unit variance), the rate being what an
entropy coder spends (the entropy of the codes), for:

- :class:`skquant.EntropyConstrainedQuantizer` (ECSQ), the minimum of
  ``MSE + lam * H`` over every partition into cells, at target rates;
- :class:`skquant.DeadZoneQuantizer` designed for ``MSE + lam * H`` with a fitted
  dead zone;
- the MSE-optimal symmetric midtread uniform quantizer
  (:class:`skquant.UniformClipQuantizer`), entropy-coded;
- the exact fixed-rate optimum (:class:`skquant.LloydMaxQuantizer` with
  ``algorithm="optimal"``) at ``b`` bits per value, the rate of a fixed-length code;

against Shannon's bound ``R(D) = 0.5 log2(1 / D)``. Entropy coding with ECSQ is
about 0.25 bit above the bound at high rate (Gish-Pierce); fixed-rate codes are
further away.

Run ``python examples/plot_variable_rate.py`` (the figure needs matplotlib).
"""

import numpy as np

from skquant import (
    DeadZoneQuantizer,
    EntropyConstrainedQuantizer,
    LloydMaxQuantizer,
    UniformClipQuantizer,
)


def entropy(codes):
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


X = np.random.default_rng(0).standard_normal((50_000, 1))
curves = {"ECSQ": [], "dead zone, MSE + lam H": [], "uniform, entropy-coded": [],
          "Lloyd-Max optimum, fixed-rate": []}
for rate in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5):
    q = EntropyConstrainedQuantizer(rate=rate).fit(X)
    curves["ECSQ"].append((q.entropy_[0], q.mse_[0]))
for lam in (0.5, 0.2, 0.1, 0.05, 0.02, 0.01):
    q = DeadZoneQuantizer(n_levels=63, lam=lam).fit(X)
    curves["dead zone, MSE + lam H"].append((q.entropy_[0], q.mse_[0]))
for M in (3, 5, 7, 11, 15, 21):
    q = UniformClipQuantizer(n_levels=M, symmetric=True, mode="midtread").fit(X)
    curves["uniform, entropy-coded"].append((entropy(q.transform(X)), q.mse_[0]))
for bits in (1, 2, 3):
    q = LloydMaxQuantizer(n_bits=bits, algorithm="optimal").fit(X)
    curves["Lloyd-Max optimum, fixed-rate"].append((float(bits), q.mse_[0]))
curves = {name: np.array(rows) for name, rows in curves.items()}

print("                                 bits     MSE   bits above R(D)")
for name, rows in curves.items():
    for bits, mse in rows:
        print(f"{name:>30} {bits:7.3f} {mse:8.5f} {bits - 0.5 * np.log2(1 / mse):8.3f}")

try:
    import matplotlib.pyplot as plt
except ImportError:  # the numbers above are the result
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, rows), marker in zip(curves.items(), "os^D"):
        ax.plot(rows[:, 0], rows[:, 1], marker + "-", label=name)
    r = np.linspace(0.2, 3.7, 50)
    ax.plot(r, 2.0 ** (-2 * r), "k--", label="R(D) of the Gaussian")
    ax.set_yscale("log")
    ax.set_xlabel("bits per value (entropy of the codes, or b for fixed-rate)")
    ax.set_ylabel("MSE")
    ax.set_title("N(0, 1): rate-distortion curves")
    ax.legend()
    plt.show()
