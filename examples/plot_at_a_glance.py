"""
===================
skquant at a glance
===================

A scalar quantizer replaces each value of a feature by one of a few levels, stored as
a code of a few bits. The left panel shows what :class:`~skquant.LloydMaxQuantizer`
does to one feature of scikit-learn's breast-cancer data with 3 bits (8 levels): the
thresholds cut the line into cells that are narrow where the values are dense, and
each level is the mean of its cell, so the mean squared error is as small as 8 levels
allow. The right panel measures what the bits buy on the whole data set: the
signal-to-noise ratio of three quantizers (Lloyd–Max, uniform with the clipping range of
smallest error, and the data's high-rate optimal compander) from 1 to 8 bits, next to the high-rate
(Panter–Dite) prediction of about 6 dB per bit. The figure is the one on the
documentation's front page.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer

from skquant import (
    CompanderQuantizer,
    LloydMaxQuantizer,
    QuantizerDisplay,
    RateDistortionDisplay,
    UniformClipQuantizer,
)

data = load_breast_cancer()
X = data.data
feature = list(data.feature_names).index("mean area")

q = LloydMaxQuantizer(n_bits=3).fit(X)
print(f"{data.feature_names[feature]} with 3 bits:")
print("  thresholds", q.thresholds_[feature].round(0))
print("  levels    ", q.levels_[feature].round(0))
print(f"  RMS error {q.mse_[feature] ** 0.5:.1f} for values from {X[:, feature].min():.0f} "
      f"to {X[:, feature].max():.0f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
QuantizerDisplay.from_estimator(q, X, feature=feature, ax=left)
left.set(title="one feature with 3 bits (8 levels)", xlabel=data.feature_names[feature])
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # columns with few distinct values
    rd = RateDistortionDisplay.from_estimators(
        {
            "Lloyd–Max": LloydMaxQuantizer(),
            "uniform, MSE clipping": UniformClipQuantizer(),
            "optimal compander": CompanderQuantizer(compander="optimal"),
        },
        X, bits=range(1, 9), metric="sqnr", ax=right,
    )
right.set_title("all 30 features: SQNR against bits")
for name, values in rd.values.items():
    print(f"{name:<22} SQNR (dB) at 1..8 bits: " + " ".join(f"{v:5.1f}" for v in values))
fig.tight_layout()
plt.show()
