"""
===========================================
Per-feature bit allocation under a budget
===========================================

Given a budget of bits per row, :func:`skquant.allocate_bits` measures each
feature's operational distortion–rate curve and gives bits greedily to the feature
whose MSE drops most. It is compared here with the same width for every feature and
with the high-rate rule of reverse water-filling,
``b_j = b̄ + ½ log2(σ_j² / geometric mean σ²)``, on scikit-learn's diabetes and
breast-cancer data (total MSE in the data's units).

Run ``python examples/plot_bit_allocation.py`` (the figure needs matplotlib).
"""

import warnings

import numpy as np
from sklearn import datasets

from skquant import LloydMaxQuantizer, allocate_bits, reverse_water_filling
from skquant._allocation import _greedy


def allocation_table(names=("diabetes", "breast_cancer"), per_feature=(2, 3, 4)):
    rows = []
    for name in names:
        X = getattr(datasets, f"load_{name}")().data
        d = X.shape[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alloc = allocate_bits(LloydMaxQuantizer(), X, 3 * d, max_bits=8)
        curves = alloc.curves
        for b in per_feature:
            greedy = curves[np.arange(d), _greedy(curves, alloc.rates, b * d)].sum()
            wf = reverse_water_filling(X.var(axis=0), b * d, max_bits=8)
            rows.append(
                (name, b, greedy, curves[:, b - 1].sum(), curves[np.arange(d), wf - 1].sum())
            )
    return rows


def main():
    rows = allocation_table()
    print(f"{'data':<14} {'bits/feature':>12} {'greedy':>10} {'uniform':>10} {'water-fill':>10}")
    for name, b, g, u, w in rows:
        print(f"{name:<14} {b:>12} {g:>10.4g} {u:>10.4g} {w:>10.4g}")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is needed for the figure: pip install "skquant[plot]"')
        return rows
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, name in zip(axes, ("diabetes", "breast_cancer")):
        sub = [r for r in rows if r[0] == name]
        bits = [r[1] for r in sub]
        for i, label in enumerate(("greedy", "same width", "water-filling")):
            ax.semilogy(bits, [r[2 + i] for r in sub], "o-", label=label)
        ax.set(title=name, xlabel="bits per feature (average)", ylabel="total MSE")
    axes[0].legend()
    fig.tight_layout()
    return rows


if __name__ == "__main__":
    main()
