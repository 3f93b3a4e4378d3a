"""skquant: scikit-learn compatible quantizers with numba kernels.

Names are loaded on first use: ``import skquant`` imports neither numba nor scipy,
and each estimator's module (with its kernels, compiled on their first call) is
imported when the estimator is first named. The estimators are those of the registry
(``skquant._registry``).
"""

import importlib

from ._registry import ESTIMATORS

__version__ = "0.1.0"

# public name -> the module defining it; the estimators come from the registry
_EXPORTS = {
    **{name: module for name, (module, _) in ESTIMATORS.items()},
    "BitAllocation": "skquant._allocation",
    "allocate_bits": "skquant._allocation",
    "reverse_water_filling": "skquant._allocation",
    "bsq_auxiliary_loss": "skquant._binary_spherical",
    "hamming_distances": "skquant._hamming",
    "hamming_knn": "skquant._hamming",
    "QuantizerDisplay": "skquant._display",
    "RateDistortionDisplay": "skquant._display",
    "ColumnSketch": "skquant._summary",
    "compress": "skquant._compress",
    "decompress": "skquant._compress",
    "load": "skquant._io",
    "save": "skquant._io",
}
_SUBMODULES = ("design", "metrics")

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in ESTIMATORS:
        # scikit-learn first, from this shallow frame: its ~1500 modules (numpy, scipy,
        # pandas, ...) cost ~50 ms less CPU than when each is imported below the
        # estimator module's own nested imports (measured: python
        # benchmarks/bench_cold_start.py); the estimator needs them anyway
        import sklearn.base  # noqa: F401
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"skquant.{name}")
    else:
        raise AttributeError(f"module 'skquant' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
