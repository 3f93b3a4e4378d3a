"""
==================================================
Grid-searching ``n_bits`` in a classifier pipeline
==================================================

How many bits per feature does a classifier need? A quantizer is an ordinary
transformer, so ``n_bits`` is a hyper-parameter like any other: put the quantizer in
a :class:`~sklearn.pipeline.Pipeline` and let
:class:`~sklearn.model_selection.GridSearchCV` measure the cross-validated accuracy
at each width.

Two ways to hand the quantized features to the model:

- ``encode="reconstruct"``: the quantized *values* (quantize, then dequantize), so the
  model sees a coarser copy of the data;
- ``encode="onehot"``: one indicator column per level (sparse), so a linear model can
  give every cell its own weight — a piecewise-constant function of each feature.

On the digits (64 pixels, intensities 0 to 16, 10 classes) accuracy saturates after a
few bits per pixel.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from skquant import LloydMaxQuantizer

X, y = load_digits(return_X_y=True)
X = X / 16.0  # intensities in [0, 1]
warnings.filterwarnings("ignore", message="Column", category=UserWarning)  # constant pixels

pipe = Pipeline(
    [("quantize", LloydMaxQuantizer()), ("classify", LogisticRegression(max_iter=300))]
)
bits = [1, 2, 3, 4]
search = GridSearchCV(
    pipe,
    {"quantize__n_bits": bits, "quantize__encode": ["reconstruct", "onehot"]},
    cv=3,
).fit(X, y)

baseline = cross_val_score(LogisticRegression(max_iter=300), X, y, cv=3).mean()
results = search.cv_results_
accuracy = {
    encode: [
        results["mean_test_score"][i]
        for i, p in enumerate(results["params"])
        if p["quantize__encode"] == encode
    ]
    for encode in ("reconstruct", "onehot")
}

print(f"{'3-fold accuracy':<22}" + "".join(f"{b:>6} bit" for b in bits))
for encode, values in accuracy.items():
    print(f"encode={encode!r:<13}" + "".join(f"{v:>10.3f}" for v in values))
print(f"{'no quantization':<22}{baseline:>10.3f}")
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# Accuracy versus bits
# --------------------
fig, ax = plt.subplots(figsize=(6, 4))
for encode, values in accuracy.items():
    ax.plot(bits, values, "o-", label=f'encode="{encode}"')
ax.axhline(baseline, color="k", linestyle="--", label="float64 pixels")
ax.set(xlabel="n_bits per pixel", ylabel="3-fold CV accuracy", xticks=bits,
       title="Logistic regression on quantized digits")
ax.set_ylim(top=1.0)
ax.grid(True, alpha=0.3)
ax.legend(loc="lower right")
plt.show()

# %%
# The search refits the best pipeline on all the data; its quantizer is an ordinary
# fitted estimator, here with one level set per pixel.
best_quantizer = search.best_estimator_.named_steps["quantize"]
print(best_quantizer, best_quantizer.levels_.shape, np.unique(best_quantizer.n_levels_))
