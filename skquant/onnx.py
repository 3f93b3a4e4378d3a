"""Export fitted skquant estimators to ONNX: skl2onnx converters and inverse models.

``pip install "skquant[onnx]"`` (skl2onnx, onnx and onnxruntime). ``import
skquant.onnx`` registers a shape calculator and a converter with skl2onnx for every
skquant estimator, so :func:`skl2onnx.to_onnx` converts a fitted quantizer alone or
inside a :class:`~sklearn.pipeline.Pipeline` or a
:class:`~sklearn.compose.ColumnTransformer`; :func:`to_onnx_inverse` exports
``inverse_transform`` as a model of its own (codes in, values out).

The models use standard ONNX operators only (opset 13 and later, default domain) and
give exactly the results of ``transform``: the same codes, bit-equal reconstructions,
on float32 and float64 inputs. :doc:`/onnx` describes how, and what the models do
with the inputs ``transform`` refuses (NaN and infinities), since a model cannot
raise.

Examples
--------
>>> import numpy as np
>>> import onnxruntime as ort
>>> from skl2onnx import to_onnx
>>> import skquant.onnx  # registers the converters
>>> from skquant import LloydMaxQuantizer
>>> X = np.random.default_rng(0).standard_normal((1000, 3))
>>> q = LloydMaxQuantizer(n_bits=3).fit(X)
>>> session = ort.InferenceSession(
...     to_onnx(q, X[:1]).SerializeToString(), providers=["CPUExecutionProvider"]
... )
>>> codes = session.run(None, {session.get_inputs()[0].name: X})[0]
>>> codes.dtype, bool(np.array_equal(codes, q.transform(X)))
(dtype('uint8'), True)
>>> inverse = ort.InferenceSession(
...     skquant.onnx.to_onnx_inverse(q).SerializeToString(),
...     providers=["CPUExecutionProvider"],
... )
>>> bool(np.array_equal(inverse.run(None, {"codes": codes})[0], q.inverse_transform(codes)))
True
"""

from numbers import Integral

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import get_latest_tested_opset_version, update_registered_converter
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        UInt8TensorType,
        UInt16TensorType,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
except ImportError as exc:  # pragma: no cover - tested in a subprocess without skl2onnx
    raise ImportError(
        'skquant.onnx needs skl2onnx and onnx (and onnxruntime to run the models): '
        'pip install "skquant[onnx]".'
    ) from exc

from . import __version__, _libm
from ._base import BaseScalarQuantizer, _ceil_to_dtype, grid_tables
from ._binary_spherical import BinarySphericalEncoder
from ._compat import Interval, check_is_fitted, validate_params
from ._registry import estimator_classes
from ._uniform_clip import UniformClipQuantizer

__all__ = ["to_onnx_inverse"]

#: The oldest opset the converters write (ReduceSum with its axes as an input).
MIN_OPSET = 13

_NOT_FITTED = (
    "This %(name)s instance is not fitted yet: call 'fit' before converting it to ONNX."
)
_PROTO = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(bool): TensorProto.BOOL,
}


# ---------------------------------------------------------------- graph building
class _Graph:
    """Nodes and constants of one ONNX graph under construction.

    Either a skl2onnx converter's ``scope`` and ``container`` (``transform`` inside
    whatever skl2onnx converts), or a standalone graph turned into a model by
    :meth:`model` (the inverse models). The emitters below only use this interface.
    """

    def __init__(self, opset, scope=None, container=None):
        if opset < MIN_OPSET:
            raise ValueError(
                f"skquant's ONNX converters need target_opset >= {MIN_OPSET}; got "
                f"target_opset={opset}."
            )
        self.opset = opset
        self._scope, self._container = scope, container
        self.nodes, self.initializers = [], []
        self._count = 0

    def name(self, prefix):
        if self._scope is not None:
            return self._scope.get_unique_variable_name(prefix)
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, value, dtype=None, prefix="c"):
        array = np.ascontiguousarray(value, dtype=dtype)
        name = self.name(prefix)
        tensor = numpy_helper.from_array(array, name)
        if self._container is not None:
            self._container.add_initializer(name, tensor.data_type, list(array.shape), tensor)
        else:
            self.initializers.append(tensor)
        return name

    def op(self, op_type, *inputs, out=None, n_out=1, **attrs):
        """Add a node; returns its output name (a list when ``n_out > 1``)."""
        if out is None:
            outs = [self.name(op_type.lower()) for _ in range(n_out)]
        else:
            outs = [out]
        if self._container is not None:
            self._container.add_node(
                op_type, list(inputs), outs,
                name=self._scope.get_unique_operator_name(op_type), **attrs,
            )
        else:
            self.nodes.append(
                helper.make_node(op_type, list(inputs), outs, name=self.name(op_type), **attrs)
            )
        return outs[0] if n_out == 1 else outs

    def reduce(self, op_type, x, axes, keepdims, out=None):
        """``ReduceSum`` / ``ReduceMax`` over ``axes`` (an attribute before opset 18)."""
        since = 13 if op_type == "ReduceSum" else 18
        if self.opset >= since:
            return self.op(op_type, x, self.const(axes, np.int64), out=out, keepdims=keepdims)
        return self.op(op_type, x, out=out, axes=list(axes), keepdims=keepdims)

    def cast(self, x, dtype):
        return self.op("Cast", x, to=_PROTO[np.dtype(dtype)])

    def model(self, inputs, outputs, graph_name):
        """The standalone ONNX model of this graph, checked by :mod:`onnx`."""
        graph = helper.make_graph(
            self.nodes, graph_name, inputs, outputs, initializer=self.initializers
        )
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(
            graph,
            opset_imports=opsets,
            producer_name="skquant",
            producer_version=__version__,
            ir_version=helper.find_min_ir_version_for(opsets),
        )
        onnx.checker.check_model(model, full_check=True)
        return model


# ---------------------------------------------------------- scalar quantizers
# The grid encoder is used from this many bisection rounds on (5 levels and more: it
# costs about as much as three rounds), while its tables hold at most this many
# entries (16 MiB of model).
_GRID_MIN_ROUNDS = 3
_GRID_MAX_ENTRIES = 2**20


def _threshold_codes(g, x, thresholds, n_levels, dtype):
    """int64 codes of ``x`` (n, d): the number of thresholds ``<= x`` per feature.

    The thresholds are ``transform``'s: rounded up from float64 to ``dtype``
    (``_ceil_to_dtype``), so comparing in ``dtype`` gives the float64 codes. Through
    skquant's O(1) grid (:func:`_grid_codes`) when the widest feature needs at least
    ``_GRID_MIN_ROUNDS`` bisection rounds and a grid exists, else by bisection
    (:func:`_bisection_codes`); both give exactly the codes of ``transform``.
    """
    width = int(n_levels.max())
    rounds = (width - 1).bit_length()
    if rounds >= _GRID_MIN_ROUNDS:
        codes = _grid_codes(g, x, thresholds, n_levels, dtype)
        if codes is not None:
            return codes
    return _bisection_codes(g, x, thresholds, n_levels, dtype)


def _grid_codes(g, x, thresholds, n_levels, dtype):
    """The arithmetic of ``K.grid_encode`` (None when there is no grid, or it is large).

    Cell ``clip((x - start) * inv_width, 0, G - 1)`` of the feature, in float64 (float32
    widened exactly, NaN sent to cell 0), truncated; the code is the number of
    thresholds in earlier cells plus ``x >= `` the cell's threshold. skquant's empty
    cells hold ``+inf``; here NaN, which no value reaches, so ``+inf`` gets the last
    code rather than one more.
    """
    grid = grid_tables(np.asarray(thresholds, dtype=np.float64), n_levels)
    if grid is None or grid[2].shape[0] * grid[2].shape[1] > _GRID_MAX_ENTRIES:
        return None
    start, inv_width, table = grid
    last = table.shape[1] - 1
    counts = np.ascontiguousarray(table[:, :, 0].T, dtype=np.int64)  # (G, d)
    cells = np.ascontiguousarray(table[:, :, 1].T)
    cells[np.isinf(cells)] = np.nan
    x64 = x if dtype == np.float64 else g.cast(x, np.float64)
    f = g.op("Mul", g.op("Sub", x64, g.const(start[None, :])), g.const(inv_width[None, :]))
    zero = g.const(0.0, np.float64)
    f = g.op("Where", g.op("GreaterOrEqual", f, zero), f, zero)  # NaN -> 0
    cell = g.cast(g.op("Min", f, g.const(float(last), np.float64)), np.int64)
    above = g.op("GreaterOrEqual", x64, g.op("GatherElements", g.const(cells), cell, axis=0))
    before = g.op("GatherElements", g.const(counts), cell, axis=0)
    return g.op("Add", before, g.cast(above, np.int64))


def _bisection_codes(g, x, thresholds, n_levels, dtype):
    """A constant-trip bisection over each feature's thresholds.

    The thresholds are padded to ``P - 1`` (``P`` the power of two at or above the
    widest ``n_levels``) with NaN, which no value reaches: ``log2(P)`` rounds of one
    lookup (``GatherElements`` in a ``(P - 1, d)`` table) and one comparison per value.
    Only the first ``n_levels[j] - 1`` thresholds of feature ``j`` are ever passed, so
    codes stay in ``0 .. n_levels[j] - 1`` even for NaN (code 0) and ``+inf`` (the last).
    """
    d = thresholds.shape[0]
    width = int(n_levels.max())
    P = 1 << (width - 1).bit_length()
    if P == 1:  # one level everywhere: code 0
        return g.op(
            "ConstantOfShape", g.op("Shape", x),
            value=numpy_helper.from_array(np.zeros(1, np.int64), "zero"),
        )
    t = _ceil_to_dtype(np.asarray(thresholds, dtype=np.float64), dtype)
    T = np.full((P - 1, d), np.nan, dtype=dtype)
    for j in range(d):
        T[: n_levels[j] - 1, j] = t[j, : n_levels[j] - 1]
    table = g.const(T) if P > 2 else None

    def add_round(code, ge, s):  # code + s * (x >= threshold)
        step = g.cast(ge, np.int64)
        if s > 1:
            step = g.op("Mul", step, g.const(s, np.int64))
        return step if code is None else g.op("Add", code, step)

    s = P // 2  # the first round compares with one threshold per feature
    code = add_round(None, g.op("GreaterOrEqual", x, g.const(T[s - 1 : s])), s)
    s //= 2
    while s:
        at = g.op("Add", code, g.const(s - 1, np.int64))
        ge = g.op("GreaterOrEqual", x, g.op("GatherElements", table, at, axis=0))
        code = add_round(code, ge, s)
        s //= 2
    return code


def _affine_codes(g, x, scale, zero_point, n_levels, dtype):
    """Float64 codes ``clip(round_half_even(x / scale) + zero_point, 0, n - 1)``.

    The arithmetic of ``K.affine_encode``: float32 values widened exactly, a float64
    division, ``Round`` (half to even), and NaN sent to 0 as its clipping does. (ONNX
    ``QuantizeLinear`` is not used: it divides in the input's dtype and saturates to
    the full integer range, not to ``n - 1`` per feature.)
    """
    x64 = x if dtype == np.float64 else g.cast(x, np.float64)
    q = g.op("Round", g.op("Div", x64, g.const(scale[None, :], np.float64)))
    q = g.op("Add", q, g.const(zero_point[None, :], np.float64))
    zero = g.const(0.0, np.float64)
    q = g.op("Where", g.op("GreaterOrEqual", q, zero), q, zero)  # NaN -> 0
    return g.op("Min", q, g.const(n_levels[None, :] - 1, np.float64))


def _encoder(est):
    """``"thresholds"`` or ``"affine"``: which ``_encode`` the estimator's transform runs."""
    encode = type(est)._encode
    if encode is BaseScalarQuantizer._encode:
        return "thresholds"
    if encode is UniformClipQuantizer._encode:  # midtread: fitted with a zero point
        return "affine" if hasattr(est, "zero_point_") else "thresholds"
    raise TypeError(
        f"{type(est).__name__} overrides _encode, whose codes skquant.onnx does not "
        "know how to export; no ONNX converter for it."
    )


def _scalar_codes(g, est, x, dtype):
    """int64 codes of ``transform`` for the validated input ``x`` of ``dtype``."""
    n_levels = np.asarray(est.n_levels_, dtype=np.int64)
    if _encoder(est) == "thresholds":
        return _threshold_codes(g, x, est.thresholds_, n_levels, dtype)
    affine = np.flatnonzero(est.scale_ > 0)  # the others are stored exactly
    exact = np.flatnonzero(~(est.scale_ > 0))

    def affine_part(xa, cols):
        q = _affine_codes(
            g, xa, est.scale_[cols], est.zero_point_[cols], n_levels[cols], dtype
        )
        return g.cast(q, np.int64)

    if exact.size == 0:
        return affine_part(x, affine)
    if affine.size == 0:
        return _threshold_codes(g, x, est.thresholds_, n_levels, dtype)
    xa = g.op("Gather", x, g.const(affine, np.int64), axis=1)
    xe = g.op("Gather", x, g.const(exact, np.int64), axis=1)
    codes = g.op(
        "Concat",
        affine_part(xa, affine),
        _threshold_codes(g, xe, est.thresholds_[exact], n_levels[exact], dtype),
        axis=1,
    )
    order = np.argsort(np.concatenate([affine, exact]))
    return g.op("Gather", codes, g.const(order, np.int64), axis=1)


def _codes_dtype(est):
    return np.dtype(np.uint8 if est.levels_.shape[1] <= 256 else np.uint16)


def _scalar_output(g, est, codes, dtype, out):
    """``transform``'s output from the int64 codes, written to ``out``."""
    n_levels = np.asarray(est.n_levels_, dtype=np.int64)
    d = n_levels.shape[0]
    if est.encode == "ordinal":
        return g.op("Cast", codes, out=out, to=_PROTO[_codes_dtype(est)])
    if est.encode == "reconstruct":
        levels = est.levels_[:, : int(n_levels.max())].T.astype(dtype)
        return g.op("GatherElements", g.const(levels), codes, out=out, axis=0)
    # onehot-dense: column c is (feature f[c], level k[c])
    feature = np.repeat(np.arange(d, dtype=np.int64), n_levels)
    level = np.concatenate([np.arange(n, dtype=np.int64) for n in n_levels])
    picked = g.op("Gather", codes, g.const(feature), axis=1)
    hot = g.op("Equal", picked, g.const(level[None, :]))
    return g.op("Cast", hot, out=out, to=_PROTO[np.dtype(dtype)])


# ------------------------------------------------------- binary spherical codes
def _rotate(g, xc, W):
    """``z = xc @ W`` summed as ``rotate_sign_pack`` does: ``z = 0; z += xc[:, k] * W[k]``
    for k = 0, 1, ... in the dtype of ``W``, so every rounding is the kernel's (a
    MatMul would sum in another order)."""
    d = W.shape[0]
    cols = [xc] if d == 1 else g.op(
        "Split", xc, g.const(np.ones(d, np.int64)), axis=1, n_out=d
    )
    z = None
    for k in range(d):
        term = g.op("Mul", cols[k], g.const(W[k : k + 1]))
        z = term if z is None else g.op("Add", z, term)
    return z


def _rescaled_rows(g, est, x, z, W, dtype):
    """``z`` with the rows that overflow recomputed as skquant's ``_repack`` does.

    A finite row whose centred or rotated values overflow is multiplied (as is the
    mean) by the power of two ``2 ** (1 - E - extra)``, ``E`` the binary exponent of
    its largest magnitude, which changes no sign. The rows are found, gathered,
    rescaled, rotated and scattered back; none of it costs anything when no row
    overflows (zero rows). skquant takes ``E`` of the largest magnitude among all the
    overflowing rows of a block of rows; here each row gets its own (see
    :doc:`/onnx`).
    """
    d = W.shape[0]
    extra = 2 + int(np.ceil(_libm.log2(d)))
    emax = np.finfo(dtype).maxexp
    # An overflowing row has a magnitude of at least max / (2 d (1 + eps)^(d + 1)),
    # so its exponent is above emax - log2(d) - 4: the table spans 32 more.
    e_lo = emax - extra - 32
    n_exp = emax - e_lo
    e = e_lo + np.arange(n_exp + 1)
    factors = np.ldexp(1.0, 1 - e - extra)  # float64, as skquant computes them
    mean = np.asarray(est.mean_, dtype=np.float64)
    scaled_means = (mean[None, :] * factors[:, None]).astype(dtype)
    largest_mean = float(np.abs(mean).max())
    e_mean = int(np.frexp(largest_mean)[1]) if largest_mean > 0 else e_lo
    # the row's exponent is e_lo + #{i : 2**(e_lo + i) <= max |x|}, and at least e_mean's
    powers = np.ldexp(1.0, e_lo + np.arange(n_exp)).astype(dtype)

    bad = g.op("IsNaN", g.reduce("ReduceSum", g.op("Sub", z, z), [1], keepdims=0))
    rows = g.op("Reshape", g.op("NonZero", bad), g.const([-1], np.int64))
    xm = g.op("Gather", x, rows, axis=0)
    largest = g.reduce("ReduceMax", g.op("Abs", xm), [1], keepdims=1)
    above = g.cast(g.op("GreaterOrEqual", largest, g.const(powers[None, :])), np.int64)
    index = g.op(
        "Max",
        g.reduce("ReduceSum", above, [1], keepdims=0),
        g.const(int(np.clip(e_mean - e_lo, 0, n_exp)), np.int64),
    )
    factor = g.op("Gather", g.const(factors.astype(dtype)[:, None]), index, axis=0)
    xcm = g.op(
        "Sub", g.op("Mul", xm, factor), g.op("Gather", g.const(scaled_means), index, axis=0)
    )
    zm = _rotate(g, xcm, W)
    at = g.op("Unsqueeze", rows, g.const([1], np.int64))
    return g.op("ScatterND", z, at, zm)


def _bsq_bits(g, est, x, dtype):
    """Boolean bits ``(n, n_bits_)`` of ``transform``: ``components_ @ (x - mean_) > 0``."""
    offset = np.asarray(est.mean_).astype(dtype)
    zero = g.const(0, dtype)
    if est._identity:  # x - 0.0 has the sign of x (and -0.0 - 0.0 is not > 0 either)
        z = g.op("Sub", x, g.const(offset[None, :])) if offset.any() else x
        return g.op("Greater", z, zero)
    W = np.ascontiguousarray(est.components_.T, dtype=dtype)
    z = _rotate(g, g.op("Sub", x, g.const(offset[None, :])), W)
    z = _rescaled_rows(g, est, x, z, W, dtype)
    return g.op("Greater", z, zero)


def _bsq_output(g, est, bits, dtype, out):
    n_bits = int(est.n_bits_)
    if est.encode == "packed":  # bit j is worth 2 ** (7 - j % 8) in byte j // 8
        n_bytes = (n_bits + 7) // 8
        weights = np.zeros((n_bits, n_bytes), dtype=np.float32)
        j = np.arange(n_bits)
        weights[j, j // 8] = 2.0 ** (7 - j % 8)  # sums of distinct powers of two < 256:
        packed = g.op("MatMul", g.cast(bits, np.float32), g.const(weights))  # exact
        return g.op("Cast", packed, out=out, to=TensorProto.UINT8)
    if est.encode == "index":  # the first bit is the most significant
        weights = np.left_shift(1, np.arange(n_bits - 1, -1, -1, dtype=np.int64))
        terms = g.op("Mul", g.cast(bits, np.int64), g.const(weights[None, :]))
        return g.reduce("ReduceSum", terms, [1], keepdims=1, out=out)
    level = np.dtype(dtype).type(1.0 / np.sqrt(n_bits))
    return g.op("Where", bits, g.const(level, dtype), g.const(-level, dtype), out=out)


# --------------------------------------------------------------- skl2onnx glue
def _check_exportable(est, inverse=False):
    """Raise a clear error for an estimator that cannot be exported (its transform,
    or with ``inverse`` its inverse_transform, which takes ordinal codes whatever the
    ``encode``)."""
    check_is_fitted(est, msg=_NOT_FITTED)
    if isinstance(est, BaseScalarQuantizer) and not inverse:
        if est.encode == "onehot":
            raise ValueError(
                f"{type(est).__name__}(encode='onehot') returns a sparse matrix, which "
                "ONNX cannot output; set encode='onehot-dense' (the same columns, dense) "
                "before converting."
            )
        _encoder(est)


def _input_dtype(variable):
    """The float dtype ``transform`` computes in for an input variable of skl2onnx."""
    if isinstance(variable.type, FloatTensorType):
        return np.float32
    return np.float64  # double, or integers that skquant converts to float64


def _n_features(variable):
    shape = variable.type.shape
    return shape[1] if shape is not None and len(shape) == 2 else None


def _shape_calculator(operator):
    est = operator.raw_operator
    _check_exportable(est)
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    variable = operator.inputs[0]
    n = variable.type.shape[0] if variable.type.shape else None
    d = _n_features(variable)
    if isinstance(d, Integral) and d != est.n_features_in_:
        raise ValueError(
            f"{type(est).__name__} is fitted on {est.n_features_in_} features, but its "
            f"ONNX input {variable.onnx_name!r} has {d} columns."
        )
    float_type = FloatTensorType if _input_dtype(variable) == np.float32 else DoubleTensorType
    if isinstance(est, BinarySphericalEncoder):
        n_bits = int(est.n_bits_)
        out = {
            "packed": UInt8TensorType([n, (n_bits + 7) // 8]),
            "index": Int64TensorType([n, 1]),
            "sign": float_type([n, n_bits]),
        }[est.encode]
    elif est.encode == "ordinal":
        codes = UInt8TensorType if _codes_dtype(est) == np.uint8 else UInt16TensorType
        out = codes([n, est.n_features_in_])
    elif est.encode == "reconstruct":
        out = float_type([n, est.n_features_in_])
    else:
        out = float_type([n, int(np.sum(est.n_levels_))])
    operator.outputs[0].type = out


def _converter(scope, operator, container):
    est = operator.raw_operator
    _check_exportable(est)
    g = _Graph(container.target_opset_onnx, scope, container)
    variable = operator.inputs[0]
    dtype = _input_dtype(variable)
    x = variable.full_name
    if not isinstance(variable.type, (FloatTensorType, DoubleTensorType)):
        x = g.cast(x, np.float64)
    out = operator.outputs[0].full_name
    if isinstance(est, BinarySphericalEncoder):
        _bsq_output(g, est, _bsq_bits(g, est, x, dtype), dtype, out)
    else:
        _scalar_output(g, est, _scalar_codes(g, est, x, dtype), dtype, out)


def _estimator_classes():
    """Every estimator class of skquant's registry, and the subclasses of the scalar
    quantizers defined so far."""
    found = list(estimator_classes().values())
    todo = [c for c in found if issubclass(c, BaseScalarQuantizer)]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return found


def _register():
    for cls in _estimator_classes():
        update_registered_converter(
            cls, f"Skquant{cls.__name__}", _shape_calculator, _converter
        )


_register()


# ------------------------------------------------------------- inverse models
def _scalar_inverse(g, est, codes):
    """``inverse_transform`` of integer codes; codes out of range give NaN."""
    n_levels = np.asarray(est.n_levels_, dtype=np.int64)
    width = int(n_levels.max())
    levels = est.levels_[:, :width].T  # (width, d), and a row of NaN
    levels = np.concatenate([levels, np.full((1, levels.shape[1]), np.nan)])
    c = g.cast(codes, np.int64)
    valid = g.op(
        "And",
        g.op("GreaterOrEqual", c, g.const(0, np.int64)),
        g.op("Less", c, g.const(n_levels[None, :])),
    )
    at = g.op("Where", valid, c, g.const(width, np.int64))
    return g.op(
        "GatherElements", g.const(levels.astype(est.levels_.dtype)), at, out="values", axis=0
    )


def _bsq_inverse(g, est, codes, codes_dtype):
    """``inverse_transform`` of packed, index or sign codes; invalid rows give NaN."""
    n_bits = int(est.n_bits_)
    if codes_dtype == np.uint8:  # packed
        n_bytes = (n_bits + 7) // 8
        c = g.op("Unsqueeze", g.cast(codes, np.int64), g.const([2], np.int64))
        shifts = np.left_shift(1, np.arange(7, -1, -1, dtype=np.int64))
        all_bits = g.op("Mod", g.op("Div", c, g.const(shifts[None, None, :])),
                        g.const(2, np.int64))
        all_bits = g.op("Reshape", all_bits, g.const([-1, 8 * n_bytes], np.int64))
        bits = g.op("Slice", all_bits, g.const([0], np.int64), g.const([n_bits], np.int64),
                    g.const([1], np.int64))
        bits = g.cast(bits, bool)
        if n_bits % 8:
            padding = g.op("Slice", all_bits, g.const([n_bits], np.int64),
                           g.const([8 * n_bytes], np.int64), g.const([1], np.int64))
            valid = g.op("Equal", g.reduce("ReduceSum", padding, [1], keepdims=1),
                         g.const(0, np.int64))
        else:
            valid = None
        out_dtype = np.float64
    elif codes_dtype.kind in "iu":  # index, first bit most significant
        c = g.cast(codes, np.int64)
        weights = np.left_shift(1, np.arange(n_bits - 1, -1, -1, dtype=np.int64))
        bits = g.cast(g.op("Mod", g.op("Div", c, g.const(weights[None, :])),
                           g.const(2, np.int64)), bool)
        valid = g.op("GreaterOrEqual", c, g.const(0, np.int64))
        if n_bits < 63:  # else every non-negative int64 is a code
            valid = g.op("And", valid, g.op("Less", c, g.const(1 << n_bits, np.int64)))
        out_dtype = np.float64
    else:  # sign codes, read by their sign
        bits = g.op("Greater", codes, g.const(0, codes_dtype))
        finite = g.reduce("ReduceSum", g.op("Sub", codes, codes), [1], keepdims=1)
        valid = g.op("Not", g.op("IsNaN", finite))
        out_dtype = np.float32 if codes_dtype == np.float32 else np.float64
    level = 1.0 / np.sqrt(n_bits)
    signs = g.op("Where", bits, g.const(level, np.float64), g.const(-level, np.float64))
    values = g.op("MatMul", signs, g.const(np.asarray(est.components_, np.float64)))
    if np.any(est.mean_):
        values = g.op("Add", values, g.const(np.asarray(est.mean_, np.float64)[None, :]))
    if valid is not None:
        values = g.op("Where", valid, values, g.const(np.nan, np.float64))
    if out_dtype == np.float64:
        return g.op("Identity", values, out="values")
    return g.op("Cast", values, out="values", to=TensorProto.FLOAT)


@validate_params(
    {
        "estimator": [BaseScalarQuantizer, BinarySphericalEncoder],
        "codes_dtype": [None, type, str, np.dtype],
        "target_opset": [
            Interval(Integral, MIN_OPSET, onnx.defs.onnx_opset_version(), closed="both"),
            None,
        ],
    },
    prefer_skip_nested_validation=True,
)
def to_onnx_inverse(estimator, codes_dtype=None, *, target_opset=None):
    """The ONNX model of ``estimator.inverse_transform``: codes in, values out.

    Parameters
    ----------
    estimator : fitted scalar quantizer or BinarySphericalEncoder
        The estimator whose ``inverse_transform`` is exported.
    codes_dtype : dtype, default=None
        The dtype of the model's input ``"codes"``. Scalar quantizers: any integer
        dtype, default the one ``transform(encode="ordinal")`` returns (uint8 or
        uint16); the input has shape ``(n_samples, n_features_in_)``.
        :class:`~skquant.BinarySphericalEncoder`: as its ``inverse_transform`` reads
        codes, uint8 means packed codes ``(n_samples, ceil(n_bits_ / 8))``, another
        integer dtype index codes ``(n_samples, 1)`` and a float dtype sign codes
        ``(n_samples, n_bits_)``; default the dtype of the estimator's ``encode``
        (float64 for ``"sign"``).
    target_opset : int, default=None
        The ONNX opset (13 or later); ``None`` is skl2onnx's latest tested opset.

    Returns
    -------
    model : onnx.ModelProto
        Input ``"codes"``, output ``"values"``: the levels, in the dtype of
        ``levels_`` (scalar quantizers), or the unit directions of
        ``inverse_transform`` in float64 (float32 for float32 sign codes). Where
        ``inverse_transform`` raises on invalid codes (out of range, non-zero padding
        bits, NaN sign codes) the model, which cannot raise, outputs NaN: per value
        for scalar quantizers, for the whole row for binary codes.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skquant import UniformClipQuantizer
    >>> from skquant.onnx import to_onnx_inverse
    >>> X = np.random.default_rng(0).standard_normal((500, 2))
    >>> q = UniformClipQuantizer(n_bits=2).fit(X)
    >>> session = ort.InferenceSession(
    ...     to_onnx_inverse(q).SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> codes = np.array([[0, 3], [2, 4]], dtype=np.uint8)  # 4 is out of range
    >>> session.run(None, {"codes": codes})[0].round(3)
    array([[-1.446,  1.441],
           [ 0.489,    nan]])
    >>> q.inverse_transform(codes[:1]).round(3)
    array([[-1.446,  1.441]])
    """
    _check_exportable(estimator, inverse=True)
    if codes_dtype is None:
        if isinstance(estimator, BinarySphericalEncoder):
            codes_dtype = {"packed": np.uint8, "index": np.int64, "sign": np.float64}[
                estimator.encode
            ]
        else:
            codes_dtype = _codes_dtype(estimator)
    try:
        codes_dtype = np.dtype(codes_dtype)
    except TypeError as exc:
        raise TypeError(f"codes_dtype must be a numpy dtype; got {codes_dtype!r}.") from exc
    scalar = isinstance(estimator, BaseScalarQuantizer)
    allowed = "iu" if scalar else "iuf"
    if codes_dtype.kind not in allowed or codes_dtype not in _ONNX_CODES:
        what = "an integer dtype" if scalar else "uint8, another integer or a float dtype"
        raise ValueError(
            f"codes_dtype must be {what} for {type(estimator).__name__}; got "
            f"codes_dtype={codes_dtype}."
        )
    if target_opset is None:
        target_opset = min(get_latest_tested_opset_version(), onnx.defs.onnx_opset_version())
    g = _Graph(target_opset)
    if scalar:
        shape = [None, estimator.n_features_in_]
        _scalar_inverse(g, estimator, "codes")
        out_dtype = estimator.levels_.dtype
        out_shape = shape
    else:
        n_bits = int(estimator.n_bits_)
        if codes_dtype == np.uint8:
            shape = [None, (n_bits + 7) // 8]
        elif codes_dtype.kind in "iu":
            shape = [None, 1]
        else:
            shape = [None, n_bits]
        _bsq_inverse(g, estimator, "codes", codes_dtype)
        out_dtype = np.float32 if codes_dtype == np.float32 else np.float64
        out_shape = [None, estimator.n_features_in_]
    return g.model(
        [helper.make_tensor_value_info("codes", _ONNX_CODES[codes_dtype], shape)],
        [helper.make_tensor_value_info("values", _PROTO[np.dtype(out_dtype)], out_shape)],
        f"{type(estimator).__name__}.inverse_transform",
    )


_ONNX_CODES = {
    np.dtype(t): helper.np_dtype_to_tensor_dtype(np.dtype(t))
    for t in (
        np.uint8, np.uint16, np.uint32, np.uint64,
        np.int8, np.int16, np.int32, np.int64,
        np.float32, np.float64,
    )
}
