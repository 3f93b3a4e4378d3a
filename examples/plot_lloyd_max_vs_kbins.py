"""
==============================================
Lloyd–Max versus KBinsDiscretizer on digits
==============================================

scikit-learn's :class:`~sklearn.preprocessing.KBinsDiscretizer` bins each feature
and, on ``inverse_transform``, puts every value back at the *middle of its bin*.
:class:`skquant.LloydMaxQuantizer` chooses the bins *and* the values to minimise the
mean squared error: thresholds halfway between levels, each level the mean of its
cell (the Lloyd–Max conditions).

Here both compress the 64 pixels of the 8x8 digits (intensities 0 to 16) to 1–4 bits
per pixel. With the same number of bins, Lloyd–Max reconstructs the images with a
smaller error than the ``"uniform"`` and ``"quantile"`` strategies. (The ``"kmeans"``
strategy runs a scikit-learn ``KMeans`` per feature and width — much slower, so it is
left out to keep this example quick — and reconstructs at bin-edge midpoints,
not at the centroids; Lloyd–Max's default starts include its ``"uniform"``
initialisation, so it is never worse than that strategy's Lloyd iteration.)
"""

# %%
# Reconstruction error per bit width
# -----------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.preprocessing import KBinsDiscretizer

from skquant import LloydMaxQuantizer

X, y = load_digits(return_X_y=True)
# KBinsDiscretizer gives a constant pixel one bin (-inf, inf), whose centre is NaN:
# keep the 61 pixels that vary, and put the constant ones back for the images below
varies = X.std(axis=0) > 0
bits = [1, 2, 3, 4]


def reconstruct(quantizer, X):
    """Quantize-dequantize the pixels that vary; the constant ones stay as they are."""
    out = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pixels with fewer distinct values than bins
        Xv = X[:, varies]
        out[:, varies] = quantizer.inverse_transform(quantizer.fit(Xv).transform(Xv))
    return out


quantizers = {
    "LloydMaxQuantizer": lambda b: LloydMaxQuantizer(n_bits=b),
    **{
        f"KBins {strategy}": (
            lambda b, s=strategy: KBinsDiscretizer(n_bins=2**b, encode="ordinal", strategy=s)
        )
        for strategy in ("uniform", "quantile")
    },
}
mse = {
    name: [((X - reconstruct(make(b), X))[:, varies] ** 2).mean() for b in bits]
    for name, make in quantizers.items()
}

print(f"{'MSE per pixel':<18}" + "".join(f"{b:>8} bit" for b in bits))
for name, values in mse.items():
    print(f"{name:<18}" + "".join(f"{v:>12.3f}" for v in values))

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in mse.items():
    ax.semilogy(bits, values, "o-", label=name)
ax.set(xlabel="bits per pixel", ylabel="MSE per pixel (intensity 0-16)", xticks=bits,
       title="Reconstruction error on digits")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()

# %%
# What the images look like at 1 and 2 bits per pixel
# ----------------------------------------------------
# The first digit of each class, quantized with each method.
first = [np.flatnonzero(y == k)[0] for k in range(10)]
rows = {"original": X}
for b in (1, 2):
    rows[f"Lloyd–Max {b} bit"] = reconstruct(LloydMaxQuantizer(n_bits=b), X)
    rows[f"KBins uniform {b} bit"] = reconstruct(quantizers["KBins uniform"](b), X)

fig, axes = plt.subplots(len(rows), 10, figsize=(8, 0.9 * len(rows)))
for axes_row, (label, images) in zip(axes, rows.items()):
    for ax, i in zip(axes_row, first):
        ax.imshow(images[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set_xticks([])
        ax.set_yticks([])
    axes_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
fig.tight_layout()
plt.show()
