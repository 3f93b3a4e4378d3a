"""The one registry of skquant's estimators.

Each estimator class is listed once, with the module that defines it and the parameter
variants the cross-cutting tests run (scikit-learn's estimator checks, save and load,
``partial_fit``, Dask, bad input, thread safety, the documentation). ``skquant``
exports the classes listed here, :func:`skquant.load` accepts only them, and every
common test reads this table: a new estimator is one new module plus one entry here.
"""

import importlib

# class name -> (defining module, {variant id: constructor parameters}). Every class
# has a "default" variant (its defaults); scalar quantizers also a "small" one (a
# small codebook, for the bad-input tests).
ESTIMATORS = {
    "LloydMaxQuantizer": ("skquant._lloyd_max", {
        "default": {},
        "small": {"n_bits": 2},
        "optimal-onehot": {"algorithm": "optimal", "encode": "onehot"},
        "reconstruct": {"encode": "reconstruct"},
        "laplace-3-levels": {"distribution": "laplace", "n_levels": 3},
        "5-levels": {"n_levels": 5},
    }),
    "UniformClipQuantizer": ("skquant._uniform_clip", {
        "default": {},
        "small": {"n_bits": 2},
        "symmetric-midtread-onehot": {
            "symmetric": True, "mode": "midtread", "n_bits": 8, "encode": "onehot",
        },
        "percentile-reconstruct": {"clip": "percentile", "encode": "reconstruct"},
        "midtread-7-levels": {"mode": "midtread", "n_levels": 7},
    }),
    "CompanderQuantizer": ("skquant._compander", {
        "default": {},
        "small": {"n_bits": 2},
        "optimal-centroid-reconstruct": {
            "compander": "optimal", "reconstruction": "centroid", "encode": "reconstruct",
        },
        "a-law-mse-3-bits": {"compander": "a-law", "clip": "mse", "n_bits": 3},
        "normal-float-onehot-dense": {"compander": "normal-float", "encode": "onehot-dense"},
        "normal-float-5-levels": {"compander": "normal-float", "n_levels": 5},
    }),
    "EntropyConstrainedQuantizer": ("skquant._entropy_constrained", {
        "default": {},
        "small": {"rate": 2.0, "max_levels": 4},
        "rate-2-onehot": {"rate": 2.0, "encode": "onehot"},
        "lam-reconstruct": {"lam": 0.05, "encode": "reconstruct"},
        "lam-8-levels": {"lam": 0.01, "max_levels": 8},
    }),
    "DeadZoneQuantizer": ("skquant._dead_zone", {
        "default": {},
        "small": {"n_bits": 2},
        "ratio-2-midpoint": {"dead_zone": 2.0, "reconstruction": "midpoint"},
        "lam-7-levels-onehot": {"lam": 0.05, "n_levels": 7, "encode": "onehot"},
        "median-reconstruct": {"center": "median", "encode": "reconstruct"},
    }),
    "BinarySphericalEncoder": ("skquant._binary_spherical", {
        "default": {},
        "sign-centred": {"encode": "sign", "center": True},
        "index-itq": {"encode": "index", "rotation": "itq", "center": True, "n_iter": 5},
        "random": {"rotation": "random"},
    }),
}


def estimator_classes(scalar=None):
    """``{name: class}`` of the registered estimators, in registry order.

    ``scalar=True`` keeps the per-feature scalar quantizers, ``False`` the others.
    """
    from ._base import BaseScalarQuantizer

    out = {}
    for name, (module, _) in ESTIMATORS.items():
        cls = getattr(importlib.import_module(module), name)
        if scalar is None or issubclass(cls, BaseScalarQuantizer) == scalar:
            out[name] = cls
    return out


def estimator_variants(scalar=None):
    """``[(id, estimator)]``: a new instance of every registered variant, with ids
    ``"<class>-<variant>"``."""
    return [
        (f"{name}-{variant}", cls(**params))
        for name, cls in estimator_classes(scalar).items()
        for variant, params in ESTIMATORS[name][1].items()
    ]
