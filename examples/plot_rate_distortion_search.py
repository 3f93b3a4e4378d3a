"""
=======================================================
Choosing bit widths: rate–distortion search and refit
=======================================================

``score = -MSE`` always prefers more bits. Two ways to find the right trade-off:

1. A grid search over ``n_bits`` scored by :func:`skquant.metrics.make_rate_distortion_scorer`
   picks the knee of the rate–distortion curve: the width beyond which one more bit
   buys less than ``lam`` of normalised MSE.
2. In a classification pipeline, a ``refit`` callable takes the *smallest* width whose
   cross-validated accuracy is within a tolerance of the best.

Run ``python examples/plot_rate_distortion_search.py`` to print the results and show
the figure, or add ``--plot FILE.png`` to save it instead (the figure needs matplotlib).
"""

import argparse
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skquant import LloydMaxQuantizer
from skquant.metrics import make_rate_distortion_scorer

BITS = [1, 2, 3, 4, 5, 6]


def knee_search(lam=0.01):
    """Grid-search n_bits on the diabetes data with the rate–distortion scorer."""
    X = load_diabetes().data
    search = GridSearchCV(
        LloydMaxQuantizer(), {"n_bits": BITS}, scoring=make_rate_distortion_scorer(lam), cv=5
    )
    search.fit(X)
    return search


def smallest_within(tolerance):
    """A refit callable: the smallest n_bits whose mean score is within tolerance of the best."""

    def refit(cv_results):
        scores = np.asarray(cv_results["mean_test_score"])
        bits = np.asarray([p["quantize__n_bits"] for p in cv_results["params"]])
        ok = scores >= scores.max() - tolerance
        return int(np.flatnonzero(ok)[np.argmin(bits[ok])])

    return refit


def classifier_search(tolerance=0.01):
    """Accuracy versus bits with quantize-dequantize features in a classifier."""
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(
        LloydMaxQuantizer(encode="reconstruct"), StandardScaler(), LogisticRegression()
    )
    pipe.steps[0] = ("quantize", pipe.steps[0][1])
    search = GridSearchCV(
        pipe, {"quantize__n_bits": BITS}, cv=5, refit=smallest_within(tolerance)
    )
    search.fit(X, y)
    return search


def main(argv=None):
    parser = argparse.ArgumentParser(description="Choosing bit widths by rate-distortion.")
    parser.add_argument("--plot", metavar="FILE.png")
    args = parser.parse_args(argv)
    # diabetes' "sex" column has two values: each keeps an exact level (a UserWarning)
    warnings.filterwarnings("ignore", message="Column", category=UserWarning)
    knee = knee_search()
    clf = classifier_search()
    print("rate-distortion score (lam=0.01) on diabetes, per n_bits:")
    for b, s in zip(BITS, knee.cv_results_["mean_test_score"]):
        print(f"  {b} bits: {s:+.4f}")
    print(f"chosen: n_bits={knee.best_params_['n_bits']}")
    print("accuracy of quantize -> scale -> logistic regression on breast_cancer:")
    for b, s in zip(BITS, clf.cv_results_["mean_test_score"]):
        print(f"  {b} bits: {s:.4f}")
    print(f"smallest n_bits within 0.01 of the best: {clf.best_params_['quantize__n_bits']}")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        if args.plot:
            raise SystemExit('matplotlib is needed for --plot: pip install "skquant[plot]"')
        return knee, clf
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(BITS, knee.cv_results_["mean_test_score"], "o-")
    a.set(xlabel="n_bits", ylabel="-(NMSE + lam * bits)", title="rate-distortion score")
    b.plot(BITS, clf.cv_results_["mean_test_score"], "o-")
    b.set(xlabel="n_bits", ylabel="CV accuracy", title="classifier accuracy")
    fig.tight_layout()
    if args.plot:
        fig.savefig(args.plot)
    else:  # on screen, and in the gallery (which collects pyplot figures)
        plt.show()
    return knee, clf


if __name__ == "__main__":
    main()
