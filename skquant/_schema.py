"""The schema a loaded estimator's fitted state must satisfy, derived per class.

:func:`skquant.load` decodes a file's typed values, then calls :func:`check_state`
before any estimator is built: every fitted attribute is checked against the schema
of its class, and the parameters through the class's own ``_parameter_constraints``.

The schema is not hand-written per estimator. For each class of the registry
(``skquant._registry``), reference instances of every registered variant are fitted
on small float64 and float32 data of two widths (and streamed with ``partial_fit``
when the class has it); the schema records, for each fitted attribute, its kind
(int, float, array, ...), the dtypes it takes, and each array dimension as the
symbol it equals in every reference (``n_features_in_``, ``n_bits_``, the codebook
width ``M`` or ``M - 1``, ``n_iter + 1``). Attributes whose dtype follows the data
must share one dtype. A new estimator registered there is covered without any entry
here. On top of that, consistency rules that no reference can show: the scalar
quantizers' codebook (levels finite and strictly increasing, thresholds between
neighbouring levels and ``+inf`` past the last, ``n_levels_`` and ``max_levels_``
as the parameters say), and the binary encoder's own full check (orthonormal
rotation of ``n_bits_`` rows, flags consistent with the parameters).

Every refusal is a ``ValueError`` whose message names the field.
"""

import functools
import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np


class SchemaError(ValueError):
    """A field that does not satisfy its class's schema (the message names it)."""


def _fail(field, message):
    raise SchemaError(f"{field}: {message}")


class Field(NamedTuple):
    """What the references say of one fitted attribute."""

    kind: str  # "int", "float", "bool", "str", "array", "str_array", "sketches", ...
    dtypes: frozenset  # array dtypes seen (names), empty for scalars
    dims: tuple  # per dimension: a symbol name, or None (free)
    follows_data: bool  # its dtype is the data's (float32 data: float32)
    always: bool  # present in every reference of the class


def _kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, Integral):
        return "int"
    if isinstance(value, Real):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, np.ndarray):
        return "str_array" if value.dtype == object else "array"
    if isinstance(value, list) and value and type(value[0]).__name__ == "ColumnSketch":
        return "sketches"
    if isinstance(value, (list, tuple)):
        return type(value).__name__
    if isinstance(value, dict):
        return "dict"
    return type(value).__name__


def _symbols(est):
    """``{symbol: value}`` of the sizes an attribute's dimension can equal."""
    out = {"n_features_in_": getattr(est, "n_features_in_", None)}
    if isinstance(getattr(est, "n_bits_", None), Integral):
        out["n_bits_"] = est.n_bits_
    levels = getattr(est, "levels_", None)
    if isinstance(levels, np.ndarray) and levels.ndim == 2:
        out["M"] = levels.shape[1]
        out["M - 1"] = levels.shape[1] - 1
    n_iter = getattr(est, "n_iter", None)
    if isinstance(n_iter, Integral) and not isinstance(n_iter, bool):
        out["n_iter + 1"] = n_iter + 1
    return out


def _references(name):
    """Fitted reference instances of every registered variant of class ``name``."""
    from ._registry import ESTIMATORS, estimator_classes

    cls = estimator_classes()[name]
    rng = np.random.default_rng(0)
    out = []
    variants = list(ESTIMATORS[name][1].values())
    # every variant once; the first also on another width and dtype and streamed, and
    # the first that takes it with fewer bits than features, so that each dimension's
    # symbol and each dtype rule is unambiguous
    tries = [(params, 3, np.float64, "fit") for params in variants]
    tries += [(variants[0], 5, np.float64, "fit"), (variants[0], 3, np.float32, "fit")]
    if hasattr(cls, "partial_fit"):
        tries.append((variants[0], 3, np.float64, "partial_fit"))
    takes_bits = "n_bits" in cls().get_params()
    fewer = [({**params, "n_bits": 2}, 5, np.float64, "fit") for params in variants
             if takes_bits and "n_levels" not in params]

    def fitted(params, d, dtype, method):
        est = cls(**params)
        X = rng.standard_normal((40, d)).astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                getattr(est, method)(X)
            except (ValueError, TypeError):  # a variant that needs other data
                return None
        return est, dtype

    out = [r for r in (fitted(*t) for t in tries) if r is not None]
    out += next(([r] for r in (fitted(*t) for t in fewer) if r is not None), [])
    return cls, out


@functools.cache
def schema(name):
    """``{attribute: Field}`` of registered class ``name``, from its references."""
    cls, refs = _references(name)
    params = set(cls().get_params(deep=False))
    seen = {}
    for est, dtype in refs:
        sym = _symbols(est)
        for k, v in vars(est).items():
            if k in params:
                continue
            entry = seen.setdefault(k, {"kinds": set(), "dtypes": {}, "dims": None,
                                        "count": 0})
            entry["count"] += 1
            entry["kinds"].add(_kind(v))
            if isinstance(v, np.ndarray) and v.dtype != object:
                entry["dtypes"].setdefault(np.dtype(dtype).name, set()).add(v.dtype.name)
                cands = [{s for s, n in sym.items() if n == size} for size in v.shape]
                if entry["dims"] is None:
                    entry["dims"] = cands
                elif len(entry["dims"]) == len(cands):
                    entry["dims"] = [a & b for a, b in zip(entry["dims"], cands)]
    order = ["n_features_in_", "n_bits_", "M", "M - 1", "n_iter + 1"]
    out = {}
    for k, e in seen.items():
        kind = "array" if "array" in e["kinds"] else min(e["kinds"])
        dims = tuple(next((s for s in order if s in c), None) for c in (e["dims"] or []))
        by_data = e["dtypes"]
        follows = len(by_data) == 2 and by_data.get("float32") == {"float32"} \
            and by_data.get("float64") == {"float64"}
        dtypes = frozenset().union(*by_data.values()) if by_data else frozenset()
        out[k] = Field(kind, dtypes, dims, follows, e["count"] == len(refs))
    # scikit-learn's own attributes of every estimator: the names of the columns seen
    # in fit, and the set_output configuration
    out.setdefault("feature_names_in_", Field("str_array", frozenset(),
                                              ("n_features_in_",), False, False))
    out.setdefault("_sklearn_output_config", Field("dict", frozenset(), (), False, False))
    return out


# ----------------------------------------------------------------------- checks
def _check_kind(field, spec, value):
    kind = _kind(value)
    if kind == spec.kind:
        return
    if spec.kind == "float" and kind == "int" and not isinstance(value, (bool, np.bool_)):
        return  # a float attribute that happened to be whole (code_entropy_ of 0)
    _fail(field, f"expected {spec.kind}, got {kind}")


def check_state(cls, params, attributes):
    """Check ``attributes`` (and ``params``) of a file's estimator of class ``cls``
    against the class's schema; raises :class:`SchemaError` naming the field."""
    from ._base import BaseScalarQuantizer

    spec = schema(cls.__name__)
    for k in list(attributes):
        if hasattr(cls, k):  # would shadow a method, property or class attribute
            _fail(f"attribute {k}", f"{cls.__name__}.{k} is not a fitted attribute")
        if k not in spec:
            # a public fitted diagnostic no reference fit produced (dynamic_range_ of
            # some companders): kept as a plain value, never read by transform
            if k.startswith("_") or not k.endswith("_"):
                _fail(f"attribute {k}", f"{cls.__name__} has no such fitted attribute")
    spec = {**{k: Field(_kind(v), frozenset(), (), False, False)
               for k, v in attributes.items() if k not in spec}, **spec}
    # what must be present is what transform needs: the codebook of a scalar
    # quantizer (below), the encoder's own check; the others are diagnostics that a
    # fit may leave out (a fit storing every column exactly has no n_iter_per_feature_)
    d = attributes.get("n_features_in_")
    if not (isinstance(d, Integral) and not isinstance(d, (bool, np.bool_)) and d >= 1):
        _fail("attribute n_features_in_", f"must be a positive int, got {d!r}")
    if issubclass(cls, BaseScalarQuantizer):
        _check_codebook(cls, params, attributes)
    for k, value in attributes.items():
        _check_kind(f"attribute {k}", spec[k], value)
    sym = _symbols(_View(params, attributes))
    data_dtypes = set()
    for k, value in attributes.items():
        f = spec[k]
        if f.kind == "array" and f.dtypes:
            if value.dtype.name not in f.dtypes:
                _fail(f"attribute {k}", f"dtype {value.dtype.name} is not one of "
                      f"{sorted(f.dtypes)}")
            if value.ndim != len(f.dims):
                _fail(f"attribute {k}", f"expected {len(f.dims)} dimension(s), got "
                      f"shape {value.shape}")
            for axis, (s, n) in enumerate(zip(f.dims, value.shape)):
                if s is not None and sym.get(s) is not None and n != sym[s]:
                    _fail(f"attribute {k}", f"dimension {axis} must be {s} = {sym[s]}, "
                          f"got shape {value.shape}")
            if f.follows_data:
                data_dtypes.add(value.dtype.name)
        elif f.kind in ("str_array",):
            if value.ndim != 1 or (f.dims and value.shape[0] != d):
                _fail(f"attribute {k}", f"expected {d} names, got shape {value.shape}")
        elif f.kind == "sketches" and len(value) != d:
            _fail(f"attribute {k}", f"expected {d} sketches, got {len(value)}")
    if len(data_dtypes) > 1:
        _fail("attributes " + ", ".join(k for k in attributes if spec[k].follows_data),
              f"must share one dtype, got {sorted(data_dtypes)}")


class _View:
    """Attribute access over a file's (params, attributes), for :func:`_symbols`."""

    def __init__(self, params, attributes):
        self.__dict__.update(params)
        self.__dict__.update(attributes)


def _check_codebook(cls, params, attributes):
    """The codebook transform and inverse_transform rely on: dtypes and shapes,
    ``max_levels_`` within 2..65536 and the codebook's width, levels finite and strictly
    increasing, thresholds between neighbouring levels and ``+inf`` past the last.

    ``max_levels_`` is fitted state: it need not equal what the parameters say now
    (``set_params`` after ``fit`` changes the parameters, not the fitted codebook)."""
    d = attributes["n_features_in_"]
    arrays = {}
    for k in ("thresholds_", "levels_", "n_levels_", "max_levels_"):
        arrays[k] = attributes.get(k)
        if not isinstance(arrays[k], np.ndarray):
            _fail(f"attribute {k}", f"{k} must be an array, got {_kind(arrays[k])}")
    T, L, n, m = (arrays[k] for k in ("thresholds_", "levels_", "n_levels_", "max_levels_"))
    if not (m.dtype == np.int64 and m.shape == (d,) and np.all((m >= 2) & (m <= 2**16))):
        _fail("attribute max_levels_", f"max_levels_ must be int64 of shape ({d},) within "
              f"2..65536 (n_features_in_ = {d})")
    names = " / ".join(k for k in ("n_bits", "n_levels", "lam", "rate", "max_levels")
                       if k in params)
    try:  # the parameters are valid by the class's own rule (n_bits <= 16, ...)
        cls(**params)._levels_per_feature(d)
    except (TypeError, ValueError) as exc:
        _fail(f"parameter {names}", " ".join(str(exc).split()))
    M = int(m.max())
    if not (T.dtype in (np.float32, np.float64) and T.shape == (d, M - 1)):
        _fail("attribute thresholds_", f"thresholds_ must be float32/float64 of shape "
              f"({d}, {M - 1}), got {T.dtype} {T.shape}")
    if not (L.dtype == T.dtype and L.shape == (d, M)):
        _fail("attribute levels_", f"levels_ must be {T.dtype} of shape ({d}, {M}), got "
              f"{L.dtype} {L.shape} (with thresholds_ {T.dtype} {T.shape})")
    if not (n.dtype == np.int64 and n.shape == (d,)):
        _fail("attribute n_levels_", f"n_levels_ must be int64 of shape ({d},)")
    if not np.all((n >= 1) & (n <= m)):
        _fail("attribute n_levels_", "n_levels_ must be within 1 .. max_levels_")
    if not np.isfinite(L).all():
        _fail("attribute levels_", "levels_ must be finite")
    if np.isnan(T).any() or np.any(T[:, 1:] < T[:, :-1]):
        _fail("attribute thresholds_", "thresholds_ must increase along each row")
    for j in range(d):
        k = int(n[j])
        y, t = L[j, :k], T[j, : k - 1]
        if np.any(y[1:] <= y[:-1]):
            _fail("attribute levels_", f"levels_ row {j} must increase strictly over its "
                  f"n_levels_[{j}] = {k} levels")
        with np.errstate(over="ignore"):  # the largest float's next is inf: right
            above = np.nextafter(y[1:], np.inf)
        if np.any(t < y[:-1]) or np.any(t > above):
            _fail("attribute thresholds_", f"thresholds_ row {j} must lie between "
                  "neighbouring levels")
        if np.any(T[j, k - 1:] != np.inf):
            _fail("attribute thresholds_", f"thresholds_ row {j} must be +inf past its "
                  f"n_levels_[{j}] - 1 = {k - 1} thresholds")
