"""The one place that imports scikit-learn's private helpers.

scikit-learn does not promise these names across releases; keeping every such import
here means a future rename is a one-line change (imbalanced-learn does the same).
"""

from contextlib import contextmanager
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "IntervalNotBool",
    "InvalidParameterError",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_check_feature_names_in",
    "_check_sample_weight",
    "_fit_context",
    "check_2d",
    "check_not_bool",
    "named",
    "check_is_fitted",
    "validate_data",
    "validate_params",
]


def check_not_bool(estimator, name):
    """Refuse ``True``/``False`` for an integer parameter.

    ``Interval(Integral, ...)`` admits bools (``bool`` is an ``Integral``); a bit count
    of ``True`` is a mistake, not 1.
    """
    value = getattr(estimator, name)
    if isinstance(value, bool) or (
        not isinstance(value, Integral) and getattr(value, "dtype", np.dtype(int)).kind == "b"
    ):
        raise InvalidParameterError(
            f"The {name!r} parameter of {type(estimator).__name__} must be an int, not "
            f"a bool; got {value!r}."
        )


class IntervalNotBool(Interval):
    """An :class:`Interval` constraint that refuses ``True`` and ``False``.

    For the parameters of public functions (``validate_params``), where
    :func:`check_not_bool` cannot run: ``bool`` is an ``Integral``, so
    ``Interval(Integral, ...)`` and ``Interval(Real, ...)`` admit it, and a
    neighbour count or a weight of ``True`` is a mistake, not 1.
    """

    def is_satisfied_by(self, val):
        if isinstance(val, bool) or getattr(val, "dtype", np.dtype(int)).kind == "b":
            return False
        return super().is_satisfied_by(val)

    def __str__(self):
        return f"{super().__str__()}, not a bool"


@contextmanager
def named(name):
    """Make a ``TypeError``/``ValueError`` raised inside name the parameter ``name``.

    scikit-learn's ``check_array`` says "Expected 2D array, got scalar array" without
    saying which argument; public functions wrap their input checks in this, so every
    such error starts with ``"name: "`` unless it already names it.
    """
    try:
        yield
    except (TypeError, ValueError) as exc:
        if name in str(exc):
            raise
        raise type(exc)(f"{name}: {exc}") from exc


def check_2d(X, name="X"):
    """Refuse an argument that is not 2-D (n_samples, n_features), naming it.

    Only the number of dimensions is checked (no copy and no dtype conversion), for
    inputs passed on to an estimator or a pipeline that validates the rest.
    """
    if not hasattr(X, "ndim") and not hasattr(X, "shape"):
        try:
            ndim = np.ndim(X)
        except ValueError:  # ragged nested lists
            raise ValueError(f"{name} must be a 2-D array-like; got a ragged sequence.")
    else:
        ndim = len(getattr(X, "shape", ())) if not hasattr(X, "ndim") else X.ndim
    if ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, of shape (n_samples, n_features); got {ndim} "
            f"dimension(s){' (pass X.reshape(-1, 1) for one feature)' if ndim == 1 else ''}."
        )
