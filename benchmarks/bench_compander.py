"""CompanderQuantizer against its peers, same data, same run.

Usage: python benchmarks/bench_compander.py [--n-samples 1000000] [--n-features 8]
       [--n-bits 4]

The same table as bench_uniform_clip.py (peers: faiss ScalarQuantizer with uniform
codes, KBinsDiscretizer uniform; transform against X.copy()), for the companders; the
MSE column is relative to the best method of the run.
"""

from bench_uniform_clip import parse_args, run

from skquant import CompanderQuantizer, UniformClipQuantizer


def estimators(b):
    return [
        ("skquant mu-law (absmax)", CompanderQuantizer(b)),
        ("skquant mu-law (mse range)", CompanderQuantizer(b, clip="mse")),
        ("skquant normal-float (absmax)", CompanderQuantizer(b, compander="normal-float")),
        ("skquant gaussian, centroid", CompanderQuantizer(
            b, compander="gaussian", reconstruction="centroid")),
        ("skquant optimal", CompanderQuantizer(b, compander="optimal")),
        ("skquant optimal, centroid", CompanderQuantizer(
            b, compander="optimal", reconstruction="centroid")),
        ("skquant uniform mse (reference)", UniformClipQuantizer(b)),
    ]


if __name__ == "__main__":
    run(estimators, "CompanderQuantizer", parse_args())
