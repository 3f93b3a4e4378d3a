"""The one place that imports scikit-learn's private helpers.

scikit-learn does not promise these names across releases; keeping every such import
here means a future rename is a one-line change (imbalanced-learn does the same).
"""

from numbers import Integral

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
    "check_not_bool",
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
        not isinstance(value, Integral) and getattr(value, "dtype", None) == bool
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
        if isinstance(val, bool) or getattr(val, "dtype", None) == bool:
            return False
        return super().is_satisfied_by(val)

    def __str__(self):
        return f"{super().__str__()}, not a bool"
