"""The skquant file format: fitted estimators (and their codes) without pickle.

A skquant file with codes (format version 6) is a compact container of its own
(``MAGIC``, the version, a digest and a DEFLATE body: :func:`_compact_packed`); one
without codes (:func:`save`), and every file up to version 5, is a ZIP archive
readable by ``np.load`` (an ``.npz``) holding

- ``header.json``: UTF-8 JSON describing everything (format name and version, the
  estimator's class and parameters, the type of every fitted attribute, the codes'
  shape, coding, data dtype and column names, the list of arrays, and a SHA-256 digest
  of the whole content);
- ``state.npy``: every array back to back as one uint8 array, each in the narrowest
  dtype that holds it exactly, in the order and dtypes the header's ``arrays`` list
  gives: ``param.<name>`` for array parameters, ``attr.<name>`` for fitted arrays (a
  codebook's ``levels_`` and ``thresholds_`` as ``float_rows``: exact varint residuals
  against a prediction, a byte or less per uniform level) and, for the codes, either
  ``codes`` (``coding="packed"``: bit-packed at ``ceil(log2 n_levels_)`` bits per value,
  layout in :mod:`skquant._kernels._bitpack`) or ``codes.table`` and ``codes.chunks``
  (``coding="entropy"``: rANS-coded, :mod:`skquant._coding`);
- ``codes.stream.npy`` (``coding="entropy"``, a stream above 64 KiB): the rANS stream,
  read chunk by chunk, with its own SHA-256 in the header; a smaller stream is the
  array ``codes.stream`` of the state, under the file's digest (version 5).

Files of versions 1 to 5 (up to 3 one ``.npy`` member per array, dense codebooks; 4 the
stream always its own member; 5 every file a ZIP) are read too.

Reading never unpickles and never imports a name found in the file: arrays are read
with ``allow_pickle=False`` and must be boolean or numeric; the class is looked up in
a registry of skquant's own estimators; every field is checked for type, dtype and
shape, and a digest mismatch, a truncated archive or any inconsistency raises
``ValueError`` naming the file and the problem. ``doc/file_format.rst`` is the
specification.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import re
import tempfile
import zipfile
import zlib
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import NotFittedError

from . import _coding, _libm
from . import _kernels as K
from ._compat import check_is_fitted
from ._schema import SchemaError, check_state
from ._summary import ColumnSketch

FORMAT = "skquant"
FORMAT_VERSION = 7
#: version 6: the compact container of files with codes starts with these 3 bytes and
#: the format version (one byte), then the first 16 bytes of the SHA-256 of its
#: DEFLATE body (a 128-bit check: damage and casual edits, not a signature)
MAGIC = b"SKQ"
_DIGEST_BYTES = 16
_COMPACT_HEAD = len(MAGIC) + 1 + _DIGEST_BYTES
CONTAINERS = ("zip", "compact")
HEADER = "header.json"
CODES = "codes"
#: version 4: every array but the entropy-coded stream, back to back in one member
STATE = "state"
STATE_NPY = "state.npy"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so equal content gives equal files
_MAX_HEADER_BYTES = 64 * 2**20
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MEMBER = re.compile(
    r"(param|attr)\.([A-Za-z_][A-Za-z0-9_]*)\.npy\Z|codes(\.table|\.chunks|\.stream)?\.npy\Z"
    r"|state\.npy\Z")
#: the name of an array in the state (version 4): a member name of version 3, less .npy
_ARRAY_KEY = re.compile(
    r"(param|attr)\.[A-Za-z_][A-Za-z0-9_]*\Z|codes(\.table|\.chunks|\.stream|\.adaptive)?\Z")
#: dtypes an array of the state is stored in or read back to (version 4)
_STATE_DTYPES = {np.dtype(t).str: np.dtype(t) for t in (
    "?", "i1", "u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8",
    ">i2", ">u2", ">i4", ">u4", ">i8", ">u8", ">f2", ">f4", ">f8")}
_MAX_DIMS = 32
#: a stream member at most this large is DEFLATE-compressed (its .npy header shrinks);
#: a larger one is stored, its words being near-random
_DEFLATE_STREAM_BYTES = 2**20
#: version 5: a stream of at most this many bytes is the array ``codes.stream`` of the
#: state (no member of its own, no digest of its own: about 170 bytes less); a larger
#: one is its own member, read chunk by chunk
_STATE_STREAM_BYTES = 2**16
CODINGS = ("packed", "entropy")
_ARRAY_KINDS = "biuf"  # bool, signed and unsigned integers, floats: nothing else is read
#: DEFLATE expands at most 1032-fold (a 258-byte match in 2 bits): a member declaring
#: more is forged, and is refused before its declared size is allocated
_MAX_EXPANSION = 1032


class Encoded:
    """What a skquant file holds: the estimator and, optionally, codes with metadata.

    ``codes`` is the array of codes, or None when the file holds none or when it was
    read with ``stream=True`` from an entropy-coded file (then ``coded`` decodes them
    chunk by chunk); :meth:`blocks` yields them block by block in either case.
    """

    def __init__(self, estimator, codes=None, columns=None, data_dtype=None, coded=None,
                 coding=None, where="file"):
        self.estimator = estimator
        self.codes = codes
        self.columns = columns
        self.data_dtype = data_dtype
        self.coded = coded
        self.coding = coding
        self.where = where

    @property
    def shape(self):
        """``(n_samples, n_features)`` of the codes, or None without codes."""
        if self.codes is not None:
            return self.codes.shape
        return None if self.coded is None else self.coded.shape

    def blocks(self, block_values=2**20):
        """``(first_row, codes)`` of consecutive blocks of rows, in order: slices of
        ``codes``, or the chunks of the entropy-coded stream as they are decoded (then
        a damaged stream raises ``ValueError`` naming the file and the member)."""
        if self.codes is not None:
            yield from _slices(0, self.codes, block_values)
        elif self.coded is not None:
            try:
                for first, chunk in self.coded.blocks():
                    yield from _slices(first, chunk, block_values)
            except _coding.Malformed as exc:
                raise ValueError(f"{self.where}: {exc}") from None
            except (MemoryError, GeneratorExit):
                raise
            except Exception as exc:  # zip/CRC errors of the stream member
                text = " ".join(str(exc).split())
                raise ValueError(f"{self.where}: corrupted or truncated skquant file "
                                 f"({type(exc).__name__}: {text})") from None


def _slices(first, codes, block_values):
    n, d = codes.shape
    step = max(1, block_values // max(d, 1))
    for a in range(0, n, step):
        yield first + a, codes[a:a + step]


# ----------------------------------------------------------------------- registry
def registry():
    """Class name -> class of every estimator :func:`save` and :func:`load` accept:
    the estimators of skquant's registry (``skquant._registry``). :func:`load` looks
    class names up here and nowhere else."""
    from ._registry import estimator_classes

    return estimator_classes()


# ------------------------------------------------------------------ value coding
def _is_frozen_scipy(value):
    dist = getattr(value, "dist", None)
    return (
        type(value).__name__ == "rv_continuous_frozen"
        and type(value).__module__.startswith("scipy.stats")
        and dist is not None
    )


def _scipy_distribution(name):
    """The scipy.stats continuous distribution ``name`` (only those), or None."""
    import scipy.stats

    dist = getattr(scipy.stats, name, None) if _NAME.match(name) else None
    return dist if isinstance(dist, scipy.stats.rv_continuous) else None


def _float_json(x):
    x = float(x)
    return x if math.isfinite(x) else repr(x)  # "inf", "-inf", "nan"


def _encode_value(what, value, arrays, key):
    """JSON description of ``value``; arrays go to ``arrays[key]``."""
    if value is None:
        return {"type": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"type": "bool", "value": bool(value)}
    if isinstance(value, np.integer):
        return {"type": "int", "dtype": value.dtype.name, "value": int(value)}
    if isinstance(value, Integral):
        return {"type": "int", "value": int(value)}
    if isinstance(value, np.floating):
        return {"type": "float", "dtype": value.dtype.name, "value": _float_json(value)}
    if isinstance(value, Real):
        return {"type": "float", "value": _float_json(value)}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, np.ndarray):
        if value.dtype == object and value.ndim == 1 and all(isinstance(v, str) for v in value):
            return {"type": "str_array", "value": [str(v) for v in value]}
        if value.dtype.kind not in _ARRAY_KINDS or value.dtype.fields is not None:
            raise ValueError(
                f"cannot save {what}: arrays of dtype {value.dtype} are not supported "
                "(only bool, integer and float arrays, and 1-D arrays of str)"
            )
        arrays[key] = value
        return {"type": "array", "dtype": value.dtype.str, "shape": list(value.shape)}
    if type(value) is list and value and all(type(v) is ColumnSketch for v in value):
        arrays[key] = np.ascontiguousarray(np.concatenate([v.store for v in value], axis=1))
        grids = [[_float_json(v.centre), v.log2_scale, v.mantissa_bits, v.max_bins,
                  _float_json(v.weight_unit), v.weight_exp, v.level, v.start,
                  v.store.shape[1]] for v in value]
        return {"type": "sketches", "grids": grids}
    if type(value) in (list, tuple):
        if all(isinstance(v, (Real, np.number)) and not isinstance(v, (bool, np.bool_))
               for v in value):
            ints = all(isinstance(v, Integral) for v in value)
            arrays[key] = np.asarray(value, dtype=np.int64 if ints else np.float64)
            return {"type": type(value).__name__, "length": len(value)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {}
        for k, v in value.items():
            if not (v is None or isinstance(v, (str, bool, int, float))):
                break
            items[k] = _encode_value(f"{what}[{k!r}]", v, {}, None)
        else:
            return {"type": "dict", "value": items}
    if _is_frozen_scipy(value) and _scipy_distribution(value.dist.name) is not None:
        if type(_scipy_distribution(value.dist.name)) is type(value.dist):
            args = [_float_json(a) for a in value.args]
            kwds = {str(k): _float_json(v) for k, v in value.kwds.items()}
            return {"type": "scipy_distribution", "name": value.dist.name, "args": args,
                    "kwds": kwds}
    raise ValueError(
        f"cannot save {what}={value!r}: skquant files store only None, bool, int, float, "
        "str, numeric arrays, lists of numbers, flat dicts, ColumnSketch lists and frozen "
        "scipy.stats distributions (no pickles)"
    )


def _bare(spec):
    """Version 4's shorter form of a typed value: a plain string, boolean, null,
    integer or finite number as itself (not a NumPy scalar, whose dtype is kept), an
    array as ``{"type": "array"}`` (its dtype and shape are in the arrays list)."""
    kind = spec.get("type")
    if kind == "none":
        return None
    if kind in ("bool", "str") or (kind in ("int", "float") and "dtype" not in spec
                                   and not isinstance(spec["value"], str)):
        return spec["value"]
    if kind == "array":
        return {"type": "array"}
    if kind == "dict":
        return {**spec, "value": {k: _bare(v) for k, v in spec["value"].items()}}
    return spec


class _Bad(ValueError):
    """A malformed file; the message says what is wrong (the path is added later)."""


def _expect(cond, message):
    if not cond:
        raise _Bad(message)


def _one_line(text):
    """``text`` with its unprintable characters escaped: a message quoting a forged
    field (a dtype string with newlines or NULs) stays one printable line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _json_float(what, v):
    if isinstance(v, str):
        _expect(v in ("inf", "-inf", "nan"), f"{what}: expected a number, got {v!r}")
        return float(v)
    _expect(isinstance(v, (int, float)) and not isinstance(v, bool),
            f"{what}: expected a number, got {v!r}")
    return float(v)


def _keys(what, spec, required, optional=()):
    _expect(isinstance(spec, dict), f"{what}: expected a JSON object, got {spec!r}")
    missing = set(required) - set(spec)
    extra = set(spec) - set(required) - set(optional)
    _expect(not missing, f"{what}: missing field(s) {sorted(missing)}")
    _expect(not extra, f"{what}: unexpected field(s) {sorted(extra)}")


_SCALAR_DTYPES = {
    "int": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "float": ("float16", "float32", "float64"),
}


def _decode_value(what, spec, arrays, key, done=None, version=FORMAT_VERSION):
    """The value a typed ``spec`` describes; ``done``: the attributes decoded before
    (for a ``float_rows`` attribute, version 4), None for a parameter. From version 4
    a plain JSON string, boolean, null, integer or number stands for itself."""
    if version >= 4 and (spec is None or isinstance(spec, (str, bool, int, float))):
        return spec
    _expect(isinstance(spec, dict) and "type" in spec, f"{what}: expected a typed value")
    kind = spec["type"]
    if kind == "none":
        _keys(what, spec, ["type"])
        return None
    if kind == "bool":
        _keys(what, spec, ["type", "value"])
        _expect(isinstance(spec["value"], bool), f"{what}: expected true or false")
        return spec["value"]
    if kind in ("int", "float"):
        _keys(what, spec, ["type", "value"], ["dtype"])
        if kind == "int":
            v = spec["value"]
            _expect(isinstance(v, int) and not isinstance(v, bool),
                    f"{what}: expected an integer, got {v!r}")
        else:
            v = _json_float(what, spec["value"])
        if "dtype" not in spec:
            return v
        dtype = spec["dtype"]
        _expect(dtype in _SCALAR_DTYPES[kind], f"{what}: bad {kind} dtype {dtype!r}")
        info = np.iinfo(dtype) if kind == "int" else None
        _expect(info is None or info.min <= v <= info.max, f"{what}: {v} overflows {dtype}")
        return np.dtype(dtype).type(v)
    if kind == "str":
        _keys(what, spec, ["type", "value"])
        _expect(isinstance(spec["value"], str), f"{what}: expected a string")
        return spec["value"]
    if kind == "str_array":
        _keys(what, spec, ["type", "value"])
        v = spec["value"]
        _expect(isinstance(v, list) and all(isinstance(s, str) for s in v),
                f"{what}: expected a list of strings")
        return np.asarray(v, dtype=object)
    if kind == "array":
        if version >= 4 and set(spec) == {"type"}:  # dtype and shape: the arrays list's
            _expect(key in arrays, f"{what}: its array is missing")
            return arrays.pop(key)
        _keys(what, spec, ["type", "dtype", "shape"])
        _expect(key in arrays, f"{what}: its array member is missing")
        arr = arrays.pop(key)
        shape = spec["shape"]
        _expect(isinstance(shape, list) and all(isinstance(s, int) for s in shape),
                f"{what}: bad shape {shape!r}")
        _expect(arr.dtype.str == spec["dtype"] and list(arr.shape) == shape,
                f"{what}: header says dtype {spec['dtype']} and shape {shape}, the array "
                f"has dtype {arr.dtype.str} and shape {list(arr.shape)}")
        return arr
    if kind in ("list", "tuple"):
        _keys(what, spec, ["type", "length"])
        _expect(key in arrays, f"{what}: its array member is missing")
        arr = arrays.pop(key)
        _expect(arr.dtype in (np.int64, np.float64) and arr.shape == (spec["length"],),
                f"{what}: expected an int64 or float64 array of length {spec['length']}")
        return list(arr.tolist()) if kind == "list" else tuple(arr.tolist())
    if kind == "dict":
        _keys(what, spec, ["type", "value"])
        _expect(isinstance(spec["value"], dict), f"{what}: expected an object")
        out = {}
        for k, v in spec["value"].items():
            item = _decode_value(f"{what}[{k!r}]", v, {}, None, version=version)
            _expect(item is None or isinstance(item, (str, bool, int, float)),
                    f"{what}[{k!r}]: a dict holds only plain values")
            out[k] = item
        return out
    if kind == "sketches":
        return _decode_sketches(what, spec, arrays, key)
    if kind == "float_rows":
        return _decode_rows(what, spec, arrays, key, done)
    if kind == "scipy_distribution":
        _keys(what, spec, ["type", "name", "args", "kwds"])
        name = spec["name"]
        dist = _scipy_distribution(name) if isinstance(name, str) else None
        _expect(dist is not None, f"{what}: {name!r} is not a scipy.stats continuous distribution")
        _expect(isinstance(spec["args"], list) and isinstance(spec["kwds"], dict),
                f"{what}: bad distribution parameters")
        args = [_json_float(what, a) for a in spec["args"]]
        kwds = {k: _json_float(what, v) for k, v in spec["kwds"].items()}
        try:
            return dist(*args, **kwds)
        except Exception as exc:  # scipy rejects the parameters
            raise _Bad(f"{what}: invalid parameters for scipy.stats.{name}: {exc}") from None
    raise _Bad(f"{what}: unknown value type {kind!r}")


def _decode_sketches(what, spec, arrays, key):
    """The ``sketches_`` of a streamed scalar quantizer: grids and their bins."""
    _keys(what, spec, ["type", "grids"])
    _expect(key in arrays, f"{what}: its array member is missing")
    store = arrays.pop(key)
    grids = spec["grids"]
    _expect(isinstance(grids, list) and grids, f"{what}: expected a list of grids")
    _expect(store.dtype == np.float64 and store.ndim == 2 and store.shape[0] == 6
            and np.isfinite(store).all(), f"{what}: bins must be a finite float64 (6, n) array")
    out, start = [], 0
    for i, g in enumerate(grids):
        _expect(isinstance(g, list) and len(g) == 9, f"{what}[{i}]: bad grid {g!r}")
        centre = _json_float(f"{what}[{i}]", g[0])
        weight_unit = _json_float(f"{what}[{i}]", g[4])
        ints = g[1:4] + g[5:]
        _expect(all(isinstance(v, int) and not isinstance(v, bool) for v in ints),
                f"{what}[{i}]: grid fields must be integers")
        log2_scale, mantissa_bits, max_bins, weight_exp, level, first, n_bins = ints
        _expect(np.isfinite(centre) and -1200 <= log2_scale <= 1100
                and 1 <= mantissa_bits <= 30 and 2 <= max_bins <= 2**24
                and np.isfinite(weight_unit) and weight_unit > 0
                and -2200 <= weight_exp <= 2200
                and 0 <= level <= 2100 and 0 <= n_bins <= max_bins
                and abs(first) <= 2**62, f"{what}[{i}]: grid out of range {g!r}")
        _expect(start + n_bins <= store.shape[1], f"{what}: fewer bins than the grids declare")
        sk = ColumnSketch(centre, log2_scale, mantissa_bits=mantissa_bits, max_bins=max_bins,
                          weight_unit=weight_unit)
        sk.level, sk.start, sk.weight_exp = level, first, weight_exp
        sk.store = store[:, start:start + n_bins].copy()
        _expect(np.all(sk.store[0] + sk.store[1] >= 0), f"{what}[{i}]: negative bin weights")
        out.append(sk)
        start += n_bins
    _expect(start == store.shape[1], f"{what}: more bins than the grids declare")
    return out


# ------------------------------------------------- compact float rows (version 4)
# A 2-D float array (a codebook's levels_ or thresholds_) is stored exactly as small
# integers: each value's bits mapped to an unsigned integer in the order of the floats
# (a bijection), less the same of a prediction (none, or the midpoints of the rows of
# another attribute: thresholds_ from levels_), differenced ``order`` times along each
# row, all modulo 2**bits, zigzag-mapped and written as LEB128 varints. A uniform
# codebook then takes about a byte per value before DEFLATE and nearly nothing after;
# any content, NaN payloads included, comes back bit for bit.
_ROW_ORDERS = (0, 1, 2)


def _uint(dtype):
    return np.dtype(f"<u{np.dtype(dtype).itemsize}")


def _sortable(a):
    """The floats' bits as unsigned integers in the floats' order (monotone bijection:
    negative values have every bit flipped, the others their sign bit set)."""
    a = np.ascontiguousarray(a)
    u = a.astype(a.dtype.newbyteorder("<"), copy=False).view(_uint(a.dtype))
    top = u.dtype.type(1) << u.dtype.type(8 * u.dtype.itemsize - 1)
    return np.where(u & top, ~u, u | top)


def _unsortable(s, dtype):
    top = s.dtype.type(1) << s.dtype.type(8 * s.dtype.itemsize - 1)
    u = np.where(s & top, s & ~top, ~s)
    return u.view(np.dtype(dtype).newbyteorder("<")).astype(dtype)


def _midpoints_as(levels, dtype):
    """The prediction of thresholds from levels: the midpoints of each row's
    neighbours, in float64, rounded to ``dtype`` (IEEE arithmetic: the same bits on
    every machine), and +inf between equal neighbours."""
    y = np.asarray(levels, dtype=np.float64)
    with np.errstate(all="ignore"):
        mid = (0.5 * (y[:, 1:] + y[:, :-1])).astype(dtype)
    # past a row's last level (the padding repeats it) a threshold is +inf
    return np.where(y[:, 1:] > y[:, :-1], mid, np.asarray(np.inf, dtype=dtype))


def _midpoints_up(levels, dtype):
    """Version 6's prediction of thresholds from levels: the midpoints of each row's
    neighbours in float64, rounded up to ``dtype`` (the smallest value of ``dtype`` not
    below them: how the quantizers round their float64 thresholds), and +inf between
    equal neighbours."""
    y = np.asarray(levels, dtype=np.float64)
    with np.errstate(all="ignore"):
        mid = 0.5 * (y[:, 1:] + y[:, :-1])
        out = mid.astype(dtype)
        low = out < mid
        out[low] = np.nextafter(out[low], np.asarray(np.inf, dtype=dtype))
    return np.where(y[:, 1:] > y[:, :-1], out, np.asarray(np.inf, dtype=dtype))


def _row_residuals(a, predict, order):
    """The zigzag-mapped residuals of ``a`` (uint64, row-major): each value's
    sortable bits less those of its prediction (``predict`` when given, else the
    extrapolation along the row: 0, the previous value, or the line through the two
    before, ``2 prev - prev2`` in float64 rounded to the dtype), modulo 2**bits."""
    if predict is None:  # as _rows_from_residuals extrapolates, all columns at once
        predict = np.zeros_like(a)
        if a.shape[1] > 1 and order > 0:
            predict[:, 1] = a[:, 0]
            if order == 1:
                predict[:, 2:] = a[:, 1:-1]
            else:
                with np.errstate(all="ignore"):
                    predict[:, 2:] = (2.0 * a[:, 1:-1].astype(np.float64)
                                      - a[:, :-2]).astype(a.dtype)
    r = _sortable(a) - _sortable(predict)
    bits = r.dtype.type(8 * r.dtype.itemsize - 1)
    z = (r << r.dtype.type(1)) ^ (r.dtype.type(0) - (r >> bits))
    return z.astype(np.uint64).reshape(-1)


#: values :func:`_rows_from_residuals` rebuilds at once (its temporaries: a few blocks
#: of this many values, 128 KiB each at most)
_ROW_BLOCK = 2**14


def _rows_from_residuals(z, shape, dtype, predict, order):
    """The array of ``shape`` and ``dtype`` whose residuals (:func:`_row_residuals`)
    are ``z``, rebuilt in the memory of ``z`` when it is a writable C-contiguous array
    of the dtype's width (``_uint(dtype)``, as :func:`_read_residuals` gives it; other
    arrays are copied first): the temporaries are a few blocks of ``_ROW_BLOCK``
    values, not the array's size. ``predict`` is None, the prediction (an array of
    ``shape``), or a callable ``(r0, r1, c0, c1)`` giving that of ``[r0:r1, c0:c1]``."""
    u, dtype = _uint(dtype), np.dtype(dtype)
    native = dtype.newbyteorder("<")
    if z.dtype != u or not (z.flags.c_contiguous and z.flags.writeable):
        z = z.astype(u)
    z = z.reshape(shape)
    n, m = shape
    flat = z.reshape(-1)
    one, top = u.type(1), u.type(1) << u.type(8 * u.itemsize - 1)
    for a in range(0, flat.size, _ROW_BLOCK):  # zigzag undone: residuals mod 2**bits
        r = flat[a:a + _ROW_BLOCK]
        sign = np.subtract(u.type(0), r & one)
        r >>= one
        r ^= sign
    out = z.view(native)
    if predict is None and order == 2:
        # each column from the two before it: sequential along a row, so a kernel
        # (:mod:`skquant._kernels._rows`; float16 rounded as NumPy rounds)
        from . import _kernels

        if native.itemsize == 2:
            _kernels.rows_order2_half(z, top)
        else:
            fbuf = np.zeros(1, dtype=native)
            _kernels.rows_order2(z, top, fbuf, fbuf.view(u))
        return out if native == dtype else out.astype(dtype)
    rows, cols = max(1, _ROW_BLOCK // max(1, m)), max(1, min(m, _ROW_BLOCK))
    for a in range(0, n, rows):
        carry = top  # order 1: the sortable bits of the value before (0.0 first)
        for c in range(0, m, cols):
            r = z[a:a + rows, c:c + cols]
            if predict is not None:
                r += _sortable(predict(a, a + rows, c, c + cols) if callable(predict)
                               else predict[a:a + rows, c:c + cols])
            else:  # the prediction is 0 (order 0) or the value before (order 1)
                if order == 1:
                    np.add.accumulate(r, axis=1, out=r)  # modulo 2**bits
                r += carry
                if order == 1:
                    carry = r[:, -1:].copy()
            r[...] = np.where(r & top, r & ~top, ~r)  # :func:`_unsortable`, in place
    return out if native == dtype else out.astype(dtype)


def _read_residuals(what, buf, count, dtype, out=None):
    """The ``count`` varints of float_rows residuals of ``dtype`` in ``buf``, as an
    array of ``_uint(dtype)`` (which :func:`_rows_from_residuals` rebuilds in place);
    written into the first ``count`` values of ``out`` when given."""
    return _coding.read_varints(what, buf, count, 8 * np.dtype(dtype).itemsize,
                                dtype=_uint(dtype), out=out)


def _encode_rows(value, predict_name, predict):
    """``(spec, data)`` of the smallest exact row coding of the 2-D float array
    ``value`` (prediction ``predict``, named ``predict_name``, or none), or None when
    none takes fewer bytes than the array."""
    from ._entropy import varint_bytes

    best = None
    cands = [(None, None)] + ([] if predict is None else [(predict_name, predict)])
    for pname, p in cands:
        for order in _ROW_ORDERS if p is None else (0,):
            z = _row_residuals(value, p, order)
            size = int(varint_bytes(z).sum())
            if best is None or size < best[0]:
                best = size, pname, order, z
    size, pname, order, z = best
    if size >= value.nbytes:
        return None
    return ({"type": "float_rows", "dtype": value.dtype.str, "shape": list(value.shape),
             "order": order, "midpoints_of": pname}, _coding.write_varints(z))


def _decode_rows(what, spec, arrays, key, done):
    _keys(what, spec, ["type", "dtype", "shape", "order", "midpoints_of"])
    _expect(done is not None, f"{what}: float_rows is a fitted attribute's type only "
            "(format version 4)")
    dtype = _STATE_DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    _expect(dtype is not None and dtype.kind == "f", f"{what}: bad float dtype {spec['dtype']!r}")
    shape = spec["shape"]
    _expect(isinstance(shape, list) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape),
            f"{what}: bad shape {shape!r} (float_rows are 2-D)")
    order = spec["order"]
    _expect(order in _ROW_ORDERS and not isinstance(order, bool),
            f"{what}: order must be one of {_ROW_ORDERS}, got {order!r}")
    name, predict = spec["midpoints_of"], None
    if name is not None:
        _expect(order == 0, f"{what}: a row coding predicted from {name!r} has order 0")
        _expect(isinstance(name, str) and name in done,
                f"{what}: predicted from attribute {name!r}, which must come before it")
        src = done[name]
        _expect(isinstance(src, np.ndarray) and src.dtype == dtype
                and src.shape == (shape[0], shape[1] + 1),
                f"{what}: predicted from {name}, which must be {dtype} of shape "
                f"({shape[0]}, {shape[1] + 1})")
        def predict(r0, r1, c0, c1):
            return _midpoints_as(src[r0:r1, c0:c1 + 1], dtype)
    _expect(key in arrays, f"{what}: its array member is missing")
    z = _read_residuals(what, arrays.pop(key), shape[0] * shape[1], dtype)
    return _rows_from_residuals(z, tuple(shape), dtype, predict, order)


def _compact_attributes(specs, attributes, arrays, raw=()):
    """Version 4: store 2-D float attributes (but those named in ``raw``) as
    float_rows when that is smaller (thresholds_ predicted from levels_, which goes
    first)."""
    order = sorted(specs, key=lambda k: k != "levels_")
    out = {k: specs[k] for k in order}
    levels = attributes.get("levels_")
    for k in order:
        v = attributes[k]
        if not (isinstance(v, np.ndarray) and v.ndim == 2 and v.dtype.kind == "f"
                and v.dtype.str in _STATE_DTYPES and v.size) or k in raw:
            continue
        predict = None
        if (k == "thresholds_" and isinstance(levels, np.ndarray) and levels.dtype == v.dtype
                and levels.shape == (v.shape[0], v.shape[1] + 1)):
            predict = _midpoints_as(levels, v.dtype)
        found = _encode_rows(v, None if predict is None else "levels_", predict)
        if found is not None:
            out[k], arrays[f"attr.{k}"] = found
    return out


def _rows_bytes(attrs):
    """``{name: bytes}`` the ``float_rows`` attributes among the typed values ``attrs``
    decode to, from their declared shape and dtype alone (a malformed one is refused
    by :func:`_decode_rows`; an unknown dtype counts 8 bytes a value)."""
    out = {}
    for k, spec in attrs.items() if isinstance(attrs, dict) else ():
        if isinstance(spec, dict) and spec.get("type") == "float_rows":
            shape, dtype = spec.get("shape"), spec.get("dtype")
            if isinstance(shape, list) and len(shape) == 2 and all(map(_is_count, shape)):
                dtype = _STATE_DTYPES.get(dtype) if isinstance(dtype, str) else None
                out[k] = shape[0] * shape[1] * (8 if dtype is None else dtype.itemsize)
    return out


def _decoded(entries, attrs, held=0):
    """``(total, kept, sizes)`` of what a file decodes to: ``held`` (the inflated body of
    a compact file, held while its arrays are copied out of it, then dropped), its
    arrays as read back (the manifest ``entries``: each in its read dtype, and the
    largest of those stored in another dtype once more, as read before it is converted)
    and its ``float_rows`` attributes among the typed values ``attrs`` as decoded
    (from their declared shape and dtype: a few bytes of varints decode to an
    arithmetic progression of any length); ``kept``: the bytes once ``held`` is
    dropped; ``sizes``: by field."""
    arrays = {f"array {name}": math.prod(shape) * dtype.itemsize
              for name, _, shape, dtype in entries}
    converted = max((math.prod(shape) * stored.itemsize for _, stored, shape, dtype in entries
                     if stored != dtype), default=0)
    rows = {f"attribute {k}": v for k, v in _rows_bytes(attrs).items()}
    kept = sum(arrays.values()) + converted + sum(rows.values())
    return kept - sum(rows.values()) + max(held, sum(rows.values())), kept, {**arrays, **rows}


def _check_decoded(entries, attrs, size, held=0):
    """Refuse a file of ``size`` bytes that decodes (:func:`_decoded`) to more than
    :func:`_decode_budget` of it, naming the largest field, before anything is
    allocated (the writer stores such a file's float_rows plain, then its state
    uncompressed, rather than beyond that budget); the bytes kept once ``held`` is
    dropped."""
    total, kept, sizes = _decoded(entries, attrs, held)
    budget = _decode_budget(size)
    if total > budget:
        k = max(sizes, key=sizes.__getitem__, default="body")
        raise _Bad(f"{k}: decodes to {sizes.get(k, held)} bytes ({total} with the rest of "
                   f"the file), more than the {budget} a file of {size} bytes may decode to "
                   "(DEFLATE's 1032-fold bound, plus 2 MiB): the file is forged")
    return kept


def _decode_budget(size):
    """Bytes a file of ``size`` bytes may decode to in all (its arrays as read back, its
    float_rows and codebook rebuilt, a compact file's body): what DEFLATE can expand it
    to, plus 2 MiB, so that the reader's peak (those and its temporaries, blocks of
    at most 2 MiB) stays within 1032 times the file plus 4 MiB."""
    return _MAX_EXPANSION * size + 2**21


def _short_repr(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _upgrade(version, cls, params, attributes):
    """Bring the state of a file of an older format version to the current one.

    Version 1 had no ``n_levels`` parameter, a per-feature ``n_iter_`` and no
    ``max_levels_``; its codes were packed at ``n_bits`` per value.
    """
    from ._base import BaseScalarQuantizer

    if version >= 2 or not issubclass(cls, BaseScalarQuantizer):
        return params, attributes
    params = {**params, "n_levels": None}
    attributes = dict(attributes)
    n_iter = attributes.get("n_iter_")
    if isinstance(n_iter, np.ndarray):
        attributes["n_iter_per_feature_"] = n_iter
        attributes["n_iter_"] = int(n_iter.max()) if n_iter.size else 0
    d = attributes.get("n_features_in_")
    bits = params.get("n_bits")
    bits = 4 if bits is None else bits
    _expect(isinstance(d, int) and d >= 1, "attribute n_features_in_ must be a positive integer")
    levels = attributes.get("levels_")
    _expect(isinstance(levels, np.ndarray) and levels.ndim == 2 and levels.shape[0] == d,
            f"attribute n_features_in_ = {_short_repr(d)} must be the rows of levels_ "
            f"(shape {getattr(levels, 'shape', None)})")  # before max_levels_ is made
    try:
        widths = np.broadcast_to(np.asarray(bits, dtype=np.int64), (d,))
    except (ValueError, TypeError, OverflowError):
        raise _Bad(f"parameter n_bits: {_short_repr(bits)} is not 1 .. 16 for each of "
                   f"{d} features") from None
    _expect(np.all((widths >= 1) & (widths <= 16)), "n_bits must be within 1..16")
    attributes["max_levels_"] = np.left_shift(1, widths).astype(np.int64)
    return params, attributes


# ------------------------------------------------------------- estimator checks
def _check_scalar_quantizer(est):
    """The codebook a scalar quantizer's transform and inverse_transform rely on."""
    d = est.n_features_in_
    _expect(isinstance(d, int) and d >= 1, "n_features_in_ must be a positive integer")
    T, L, n, m = est.thresholds_, est.levels_, est.n_levels_, est.max_levels_
    for name, arr in (("thresholds_", T), ("levels_", L), ("n_levels_", n), ("max_levels_", m)):
        _expect(isinstance(arr, np.ndarray), f"{name} must be an array")
    _expect(m.dtype == np.int64 and m.shape == (d,) and np.all((m >= 2) & (m <= 2**16)),
            f"max_levels_ must be int64 of shape ({d},) within 2..65536")
    M = int(m.max())
    _expect(T.dtype in (np.float32, np.float64) and T.shape == (d, M - 1),
            f"thresholds_ must be float32/float64 of shape ({d}, {M - 1}), got "
            f"{T.dtype} {T.shape}")
    _expect(L.dtype == T.dtype and L.shape == (d, M),
            f"levels_ must be {T.dtype} of shape ({d}, {M}), got {L.dtype} {L.shape}")
    _expect(n.dtype == np.int64 and n.shape == (d,), f"n_levels_ must be int64 of shape ({d},)")
    _expect(np.all((n >= 1) & (n <= m)), "n_levels_ must be within 1 .. max_levels_")
    _expect(np.isfinite(L).all(), "levels_ must be finite")
    _expect(not np.isnan(T).any() and np.all(T[:, 1:] >= T[:, :-1]),
            "thresholds_ must increase along each row")
    names = getattr(est, "feature_names_in_", None)
    _expect(names is None or names.shape == (d,),
            "feature_names_in_ must have one name per feature")


def _check_binary_spherical(est):
    """Every fitted attribute of the encoder (its own schema: types, shapes, values)."""
    from ._binary_spherical import _check_fitted_state

    try:
        _check_fitted_state(est, full=True)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _estimator_check(est):
    from ._base import BaseScalarQuantizer

    if isinstance(est, BaseScalarQuantizer):
        return _check_scalar_quantizer
    if type(est).__name__ == "BinarySphericalEncoder":
        return _check_binary_spherical
    return None


# --------------------------------------------------------------------- writing
def _state(estimator):
    """(params, attributes) of a fitted skquant estimator."""
    cls = type(estimator)
    if registry().get(cls.__name__) is not cls:
        raise TypeError(
            f"skquant.save stores skquant estimators only ({', '.join(sorted(registry()))}); "
            f"got {cls.__module__}.{cls.__qualname__}"
        )
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise ValueError(f"{cls.__name__} is not fitted: call fit before saving it") from None
    params = estimator.get_params(deep=False)
    attributes = {k: v for k, v in vars(estimator).items() if k not in params}
    return params, attributes


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _digest(header, arrays):
    """SHA-256 of the header (without its digest) and of every array, in name order."""
    h = hashlib.sha256()
    body = {k: v for k, v in header.items() if k != "sha256"}
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        h.update(f"\0{key}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        # its bytes, not a copy of them (an object array, refused later: its pointers)
        h.update(arr.tobytes() if arr.dtype.hasobject else arr.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _widths(estimator):
    """Bits per value of a scalar quantizer's packed codes, from its fitted state."""
    from .metrics import _packed_widths

    return _packed_widths(estimator.n_levels_)


def pack_codes(codes, widths):
    """Bit-pack 2-D integer codes (row-major), ``widths[j]`` bits for column ``j``."""
    codes = np.ascontiguousarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {codes.dtype}")
    widths = np.ascontiguousarray(widths, dtype=np.int64)
    out = np.empty(K.packed_size(codes.shape[0], widths), dtype=np.uint8)
    if K.pack_bits(codes, widths, out).any():
        raise ValueError("codes must be within 0 .. 2**widths - 1")
    return out


def unpack_codes(packed, widths, n_rows, dtype=None):
    """Inverse of :func:`pack_codes`: codes of ``dtype`` (by default uint8 up to 8 bits,
    else uint16)."""
    widths = np.ascontiguousarray(widths, dtype=np.int64)
    if dtype is None:
        dtype = np.uint8 if widths.max(initial=1) <= 8 else np.uint16
    out = np.empty((n_rows, widths.shape[0]), dtype=dtype)
    K.unpack_bits(packed, widths, out)
    return out


def _check_file(file, mode):
    """A path (str or path-like) or a binary file object with ``mode`` ("read" or
    "write"); an int would be taken as a file descriptor by ``open``: refused."""
    if isinstance(file, (str, os.PathLike)) and not isinstance(file, bytes):
        if isinstance(file, str) and ("\0" in file or not file):
            raise ValueError(f"path must be a non-empty file name, got {file!r}")
        return
    if isinstance(file, (bool, int, float, bytes)) or not callable(getattr(file, mode, None)):
        raise TypeError(
            f"path must be a str, a path-like object or a binary file object with "
            f".{mode}(), got {type(file).__name__}"
        )


def write(file, estimator, codes=None, columns=None, coding="packed", container=None):
    """Write ``estimator`` (and ``codes`` it produced) to ``file`` (a path or binary file).

    ``codes`` are the ordinal codes of a scalar quantizer, shape ``(n_samples,
    n_features_in_)``; ``columns`` optionally names their columns. ``coding`` is
    ``"packed"`` (bit-packed codes, DEFLATE-compressed) or ``"entropy"`` (rANS-coded
    with a per-feature model, :mod:`skquant._coding`; needs constriction).
    ``container`` is ``"zip"`` (the ``.npz``-compatible archive) or ``"compact"``
    (format version 6's own container, smaller by about 700 bytes; see
    :func:`_compact_packed`); by default compact for a file with codes, ZIP otherwise.
    """
    _check_file(file, "write")
    if coding not in CODINGS:
        raise ValueError(f"coding must be one of {CODINGS}, got {coding!r}")
    if container is None:
        container = "zip" if codes is None else "compact"
    if container not in CONTAINERS:
        raise ValueError(f"container must be one of {CONTAINERS}, got {container!r}")
    compact = container == "compact"
    stream = None
    params, attributes = _state(estimator)
    if compact:
        attributes = _compressed_attributes(attributes)
    arrays = {}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": {
            "class": type(estimator).__name__,
            "params": {
                k: _bare(_encode_value(f"parameter {k}", v, arrays, f"param.{k}"))
                for k, v in params.items()
            },
            "attributes": {
                k: _bare(_encode_value(f"attribute {k}", v, arrays, f"attr.{k}"))
                for k, v in attributes.items()
            },
        },
        "codes": None,
    }
    for k in attributes:
        if not _NAME.match(k) or k.startswith("__"):
            raise ValueError(f"cannot save attribute {k!r}: not a plain name")
    if codes is not None:
        from ._base import BaseScalarQuantizer

        if not isinstance(estimator, BaseScalarQuantizer):
            raise TypeError("codes can be stored with a per-feature scalar quantizer only")
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"codes must have shape (n_samples, {estimator.n_features_in_}), "
                f"got {codes.shape}"
            )
        if columns is not None:
            columns = [str(c) for c in columns]
            if len(columns) != codes.shape[1]:
                raise ValueError(f"{len(columns)} column names for {codes.shape[1]} columns")
        header["codes"] = {
            "shape": list(codes.shape),
            "coding": coding,
            "data_dtype": estimator.levels_.dtype.name,
            "columns": columns,
        }
        if coding == "entropy" and compact and _coding.adaptive_allowed(*codes.shape):
            # a small file: the coders' sizes are not the file's (DEFLATE shrinks some
            # flat and table streams further), so the three choices are written and the
            # smallest file is kept
            best = None
            for mode in (None, "off", "all"):
                trial, trial_header = dict(arrays), json.loads(json.dumps(header))
                stream = _entropy_codes(codes, estimator, mode, trial, trial_header)
                packed = _compact_packed(estimator, trial_header, trial, attributes)
                if packed is None:  # beyond the reader's budget: the ZIP below
                    continue
                size = len(packed) + (0 if stream is None else 4 * stream.size)
                if best is None or size < best[0]:
                    best = (size, packed, stream)
            if best is not None:
                with _output(file) as fh:
                    fh.write(best[1])
                    if best[2] is not None:
                        fh.write(memoryview(np.ascontiguousarray(best[2], dtype="<u4")).cast("B"))
                return
        if coding == "entropy":
            stream = _entropy_codes(codes, estimator, None, arrays, header)
        else:
            widths = _widths(estimator)
            arrays[CODES] = pack_codes(codes, widths)
            header["codes"].update({"widths": widths.tolist(), "bit_order": "little"})
    if compact:
        packed = _compact_packed(estimator, header, arrays, attributes)
        if packed is not None:
            with _output(file) as fh:
                fh.write(packed)
                if stream is not None:
                    fh.write(memoryview(np.ascontiguousarray(stream, dtype="<u4")).cast("B"))
            return
        # its body would decode beyond the reader's budget of so small a file: a ZIP
    specs, raw, compress = header["estimator"]["attributes"], set(), zipfile.ZIP_DEFLATED
    while True:  # float_rows within the reader's budget of the file (else plain arrays)
        state_arrays = dict(arrays)
        header["estimator"]["attributes"] = _compact_attributes(
            specs, attributes, state_arrays, raw)
        state, header["arrays"] = _pack_state(state_arrays)
        header["sha256"] = _digest(header, state_arrays)
        text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
        rows, blob = _rows_bytes(header["estimator"]["attributes"]), None
        decoded = _decoded(_check_manifest(header["arrays"]),
                           header["estimator"]["attributes"])[0]
        if decoded <= _decode_budget(0):
            break
        blob = io.BytesIO()  # the file less its stream member: at most its size
        _write_zip(blob, text, state, None, compress)
        if decoded <= _decode_budget(len(blob.getvalue())):
            break
        if rows:
            raw.add(max(rows, key=rows.__getitem__))  # the largest float_rows plain
        elif compress == zipfile.ZIP_STORED:
            break  # (not reached: a stored state decodes to 9 times its bytes at most)
        else:
            compress = zipfile.ZIP_STORED  # the state as large as its arrays
    with _output(file) as fh:
        if blob is not None and stream is None:
            fh.write(blob.getvalue())
        else:
            _write_zip(fh, text, state, stream, compress)


def _write_zip(fh, text, state, stream, compress=zipfile.ZIP_DEFLATED):
    """The ZIP archive of a header's ``text``, the ``state`` (a member compressed with
    ``compress``) and the ``stream`` (the words of the codes' own member, or None) to
    ``fh``."""
    def member(name, compress=zipfile.ZIP_DEFLATED):
        info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
        info.compress_type = compress
        info.external_attr = 0o644 << 16
        return info

    with zipfile.ZipFile(fh, "w") as zf:
        zf.writestr(member(HEADER), text, compresslevel=9)
        zf.writestr(member(STATE_NPY, compress), _npy_bytes(state), compresslevel=9)
        if stream is not None:
            head = _coding.stream_member_bytes(stream)
            words = memoryview(np.ascontiguousarray(stream, dtype="<u4")).cast("B")
            if len(head) + len(words) <= _DEFLATE_STREAM_BYTES:  # the .npy header shrinks
                zf.writestr(member(_coding.STREAM_NPY), head + bytes(words), compresslevel=9)
            else:  # stored: its words are near-random, and read in chunks
                info = member(_coding.STREAM_NPY, zipfile.ZIP_STORED)
                with zf.open(info, "w", force_zip64=len(head) + len(words) > 2**31) as f:
                    f.write(head)
                    f.write(words)


def _entropy_codes(codes, estimator, adaptive, arrays, header):
    """Entropy-code ``codes`` into ``arrays`` and ``header["codes"]`` (``adaptive`` as
    :func:`skquant._coding.encode` takes it): the stream when it is its own member
    (above 64 KiB), else None (it is the array ``codes.stream`` of the state)."""
    spec, coded_arrays, stream = _coding.encode(codes, estimator.n_levels_,
                                                adaptive=adaptive)
    arrays.update(coded_arrays)
    if stream.nbytes <= _STATE_STREAM_BYTES:  # in the state, under its digest
        arrays[_coding.STREAM] = stream
        spec.pop("stream_sha256")
        stream = None
    header["codes"].update(spec)
    return stream


def _narrowest(arr):
    """The narrowest dtype of :data:`_STATE_DTYPES` holding every value of ``arr``
    exactly (integers within its range; floats whose bits survive the round trip)."""
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        for t in ("u1", "i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8"):
            info = np.iinfo(t)
            if info.min <= lo and hi <= info.max and np.dtype(t).itemsize <= arr.itemsize:
                return np.dtype(t)
    if arr.dtype.kind == "f":
        bits = arr.view(_uint(arr.dtype))
        for t in ("<f2", "<f4"):
            if np.dtype(t).itemsize < arr.itemsize:
                with np.errstate(all="ignore"):
                    back = arr.astype(t).astype(arr.dtype)
                if np.array_equal(back.view(_uint(arr.dtype)), bits):
                    return np.dtype(t)
    return arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype


def _pack_state(arrays):
    """``(state, manifest)``: the arrays back to back in name order, each in its
    narrowest exact dtype, as one uint8 array, and per array ``[name, stored dtype,
    shape]`` (plus its own dtype when that differs)."""
    manifest, parts = [], []
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        if arr.dtype.str not in _STATE_DTYPES:
            raise ValueError(f"cannot save {key}: arrays of dtype {arr.dtype} are not "
                             "supported (bool, 8- to 64-bit integers, 16- to 64-bit floats)")
        stored = _narrowest(arr)
        entry = [key, stored.str, list(arr.shape)]
        if stored.str != arr.dtype.str:
            entry.append(arr.dtype.str)
        manifest.append(entry)
        with np.errstate(all="ignore"):
            parts.append(arr.astype(stored).reshape(-1).view(np.uint8))
    state = np.concatenate([np.zeros(0, np.uint8), *parts])
    return state, manifest


def _check_manifest(manifest, version=FORMAT_VERSION):
    """``[(name, stored dtype, shape, dtype)]`` of a version-4 header's ``arrays``
    (``codes.stream`` from version 5)."""
    _expect(isinstance(manifest, list) and len(manifest) <= 4096,
            f"{HEADER}: arrays must be a list of at most 4096 entries")
    out, seen = [], set()
    for i, e in enumerate(manifest):
        what = f"{HEADER}: arrays[{i}]"
        _expect(isinstance(e, list) and len(e) in (3, 4), f"{what}: expected [name, dtype, "
                f"shape] or [name, dtype, shape, dtype read], got {e!r}"[:200])
        name = e[0]
        _expect(isinstance(name, str) and _ARRAY_KEY.match(name) and name not in seen
                and (version >= 5 or name != _coding.STREAM)
                and (version >= 7 or name != _coding.ADAPTIVE),
                f"{what}: bad or repeated array name {name!r}"[:200])
        seen.add(name)
        types = [_STATE_DTYPES.get(t) if isinstance(t, str) else None
                 for t in (e[1], e[3] if len(e) == 4 else e[1])]
        _expect(all(t is not None for t in types),
                f"{what}: {name}: dtype in {e[1:]!r} refused (the arrays of a skquant file "[:300]
                + "are bool, 8- to 64-bit integers or 16- to 64-bit floats, never objects)")
        stored, dtype = types
        _expect(np.can_cast(stored, dtype, "safe"),
                f"{what}: {name}: {stored} does not read back exactly as {dtype}")
        shape = e[2]
        _expect(isinstance(shape, list) and len(shape) <= _MAX_DIMS
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                        for s in shape), f"{what}: {name}: bad shape {shape!r}"[:200])
        out.append((name, stored, tuple(shape), dtype))
    return out


def _unpack_state(zf, manifest, version=FORMAT_VERSION, check=None):
    """The arrays of a version-4 file's ``state.npy``, split as its manifest says
    (sizes checked against the member before anything but its header is read, then
    ``check(entries)`` of the manifest's entries, before any array is allocated)."""
    entries = _check_manifest(manifest, version)
    sizes = [math.prod(shape) * stored.itemsize for _, stored, shape, _ in entries]
    _expect(STATE_NPY in zf.namelist(), f"{STATE_NPY}: the member is missing")
    largest = max(range(len(sizes)), key=sizes.__getitem__, default=None)
    parts = _read_array(zf, STATE_NPY, declared=sum(sizes), largest=None if largest is None
                        else f"{entries[largest][0]} of shape {entries[largest][2]}",
                        parts=[(stored, shape) for _, stored, shape, _ in entries],
                        before=None if check is None else lambda: check(entries))
    arrays = {}
    for i, (name, _, _, dtype) in enumerate(entries):  # one stored copy at a time
        part, parts[i] = parts[i], None
        arrays[name] = part if part.dtype == dtype else part.astype(dtype)
    return arrays


@contextlib.contextmanager
def _output(file):
    """A binary file to write: a file object as given, or for a path a new temporary
    file beside it that replaces the path only once it is complete (a failed write
    leaves an existing file as it was and no partial file behind)."""
    if not isinstance(file, (str, os.PathLike)):
        yield file
        return
    path = os.path.abspath(os.fspath(file))
    if os.path.isdir(path):
        raise ValueError(f"path is a directory, not a file name: {os.fspath(file)}")
    if not os.path.isdir(os.path.dirname(path)):
        raise FileNotFoundError(f"no such directory: {os.path.dirname(path)} (of path "
                                f"{os.fspath(file)})")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".skquant-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------- the compact container (version 6)
# A file with codes (skquant.compress, skquant encode) is, from version 6, not a ZIP
# archive but ``MAGIC``, the format version (one byte), the SHA-256 of the body as
# stored, the body (raw DEFLATE) and, for a stream above 64 KiB, the stream's words:
# about 700 bytes less than the ZIP, which on small data is most of the file. The body
# is a varint (the header's length), a short JSON header and the arrays back to back
# as its manifest ``m`` gives them (as version 4's state.npy). Reading expands the
# short header into version 5's, and checks everything as it does for a ZIP file.

#: fitted diagnostics that no method of a loaded estimator reads (transform, inverse
#: transform, ONNX export and partial_fit read the codebook, and a midtread uniform
#: quantizer's scale_ and zero_point_): not in a compressed file, whose estimator is
#: there to decode the data (skquant.save keeps them)
_DIAGNOSTICS = frozenset({
    "clip_min_", "clip_max_", "clip_gap_", "scale_", "loc_", "x_max_", "dynamic_range_",
    "entropy_", "lam_", "step_", "dead_zone_", "center_", "zero_code_", "n_iter_",
    "n_iter_per_feature_"})
#: diagnostics kept rounded (to float16, or float32 when float16 would not hold them in
#: its normal range): the fit's error per feature
_ROUNDED = frozenset({"mse_"})


#: the preset dictionary of the body's DEFLATE stream (version 6): text a short header
#: repeats, so that DEFLATE codes it as back-references (about 200 bytes less a file).
#: Part of the format: any change to it is a new format version.
COMPACT_DICTIONARY = "".join((
    '"p":{"A":87.6,"clip":"absmax","compander":"mu-law","dynamic_range":',
    '"mu":255.0,"n_std":3.0,"percentile":99.9,"reconstruction":"midpoint"',
    '"algorithm":"lloyd","distribution":{"type":"scipy_distribution","name":"',
    '"init":"summary","max_iter":1000,"n_init":4,"tol":1e-07,"max_levels":256,',
    '"rate":null,"lam":null,"center":0.0,"dead_zone":"fit","mode":"midtread",',
    '"symmetric":true,"encode":"reconstruct","clip":"minmax","clip":"std",',
    '"feature_names_in_":{"type":"str_array","value":["',
    '"sketches_":{"type":"sketches","grids":[[',
    '"_sklearn_output_config":{"type":"dict","value":{"transform":"pandas"}},',
    '"n_samples_seen_":["attr.sketches_","<f8",[6,',
    '"levels_":{"type":"float_rows","dtype":"<f8","shape":[',
    '"order":0,"midpoints_of":"levels_"},',
    '"stream_sha256":"","columns":["","coder":"constriction-ans32-categorical-x8",',
    '"chunk_rows":262144,"symbols":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16',
    '["attr.scale_","<f8"],["attr.zero_point_","|u1"],',
    '{"c":"CompanderQuantizer","p":{"n_bits":4},"a":{"n_features_in_":',
    '{"c":"EntropyConstrainedQuantizer","p":{"rate":2.0},"a":{"n_features_in_":',
    '"decimals":[-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,-1,',
    '"decimals":[0,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,2,2,2,2,2,2,2,2,3,3,3,3,4,4,4,4,',
    '"a":{"n_features_in_":10,"thresholds_":{"type":"used_rows"},"levels_":',
    '{"type":"used_rows","dtype":"<f8","order":1}},"x":{"shape":[1000,10],"symbols":[',
    ']},"m":[["attr.levels_","|u1",[1000]],["attr.max_levels_","|u1"],["attr.mse_","<f2"],',
    '["attr.n_levels_","|u1"],["attr.thresholds_","|u1",[1000]],["codes.stream","<u4",[',
    ']],["codes.table","|u1",[100]],["param.n_levels","|u1"]]}',
    '{"c":"UniformClipQuantizer","p":{"n_bits":8},"a":{"n_features_in_":10,',
    '"thresholds_":{"type":"used_rows"},"levels_":{"type":"used_rows","dtype":"<f8",',
    '"order":2,"decimals":[2,2,2,1,0,2]}},"x":{"shape":[1000,10],"flat":[0,1,2,3,4,5]},',
    '"m":[["attr.levels_","|u1",[1000]],["attr.max_levels_","<u2"],["attr.mse_","<f2"],',
    '["attr.n_levels_","|u1"],["attr.thresholds_","|u1",[1000]],["codes.stream","<u4",[',
    '1000]]]}',
    '{"c":"DeadZoneQuantizer","p":{"lam":0.01,"n_levels":{"type":"array"}},"a":{',
    '"n_features_in_":10,"thresholds_":{"type":"used_rows"},"levels_":{"type":"used_rows",',
    '"dtype":"<f4","order":2}},"x":{"shape":[1000,10],"symbols":[3,10,4,14,5,7]},"m":[',
    '["attr.levels_","|u1",[100]],["attr.max_levels_","|u1"],["attr.mse_","<f2"],',
    '["attr.n_levels_","|u1"],["attr.thresholds_","|u1",[100]],["codes.stream","<u4",[',
    '100]],["codes.table","|u1",[100]],["param.n_levels","|u1"]]}',
    '{"c":"LloydMaxQuantizer","p":{"n_levels":{"type":"array"}},"a":{"n_features_in_":',
    '10,"thresholds_":{"type":"used_rows"},"levels_":{"type":"used_rows","dtype":"<f4",',
    '"order":2}},"x":{"shape":[1000,10],"coding":"packed"},"m":[["attr.levels_","|u1",[',
    '100]],["attr.max_levels_","|u1"],["attr.mse_","<f2"],["attr.n_levels_","|u1"],',
    '["attr.thresholds_","|u1",[100]],["codes","|u1",[1000]],["param.n_levels","|u1"]]}',
    '"flat":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63]},"m":[["attr.levels_","|u1",[',
    '{"c":"UniformClipQuantizer","p":{"n_levels":{"type":"array"}},"a":{"n_features_in_":',
    '10,"thresholds_":{"type":"used_rows"},"levels_":{"type":"used_rows","dtype":"<f4",',
    '"order":2}},"x":{"shape":[1000,10],"coding":"packed"},"m":[["attr.levels_","|u1",[',
    '100]],["attr.max_levels_","|u1"],["attr.mse_","<f2"],["attr.n_levels_","|u1"],',
    '["attr.thresholds_","|u1",[100]],["codes","|u1",[1000]],["param.n_levels","|u1"]]}',
    '{"c":"UniformClipQuantizer","p":{"n_levels":{"type":"array"}},"a":{"n_features_in_":',
    '10,"thresholds_":{"type":"used_rows"},"levels_":{"type":"used_rows","dtype":"<f4",',
    '"order":2}},"x":{"shape":[1000,10],"flat":[0,1,2,3,4,5,6,7,8,9]},"m":[["attr.levels_",',
    '"|u1",[100]],["attr.max_levels_","|u1"],["attr.mse_","<f2"],["attr.n_levels_","|u1"],',
    '["attr.thresholds_","|u1",[100]],["codes.stream","<u4",[100]],["param.n_levels","|u1"]]}',
)).encode("ascii")


def _compressed_attributes(attributes):
    """The fitted attributes a compressed file keeps: all but :data:`_DIAGNOSTICS`
    (``scale_`` is kept with a ``zero_point_``, which transform reads with it), and
    ``mse_`` rounded."""
    out = {}
    for k, v in attributes.items():
        if k in _DIAGNOSTICS and not (k == "scale_" and "zero_point_" in attributes):
            continue
        if k in _ROUNDED and isinstance(v, np.ndarray) and v.dtype == np.float64:
            v = _rounded(v)
        out[k] = v
    return out


def _rounded(a):
    """``a`` (float64) rounded to float16 if every value is 0 or in float16's normal
    range, else to float32 likewise, else ``a``: 10 or 23 significant bits."""
    with np.errstate(all="ignore"):
        for t, tiny in ((np.float16, 2.0**-14), (np.float32, 2.0**-126)):
            r = a.astype(t)
            m = np.abs(a)
            if np.all(np.isfinite(r) & ((a == 0) | (m >= tiny))):
                return r.astype(np.float64)
    return a


def _compact_packed(estimator, header, arrays, attributes):
    """Version 6's compact container of ``header`` (version 5's, before its digest)
    and ``arrays``, less the stream's words that follow it: parameters at their
    default left out, array attributes named by the manifest only, the codebook as
    :func:`_encode_used_rows` stores it (unless its dense form would be out of
    proportion to the file, see :func:`_dense_budget`: then as in version 5), the
    codes' fields that follow from the estimator left out. None when even version 5's
    form would decode to more than :func:`_decode_budget` of the file (a small body
    holding a large codebook: the ZIP container, which stores it less compressed,
    is written instead)."""
    for used_rows in (True, False):
        packed, dense, decoded = _compact_body(estimator, header, dict(arrays),
                                               attributes, used_rows)
        size = _COMPACT_HEAD + len(packed)
        if decoded <= _decode_budget(size) and (dense or 0) <= _dense_budget(size):
            return (MAGIC + bytes([FORMAT_VERSION])
                    + hashlib.sha256(packed).digest()[:_DIGEST_BYTES] + packed)
        if dense is None:
            break
    return None


def _dense_budget(size):
    """Bytes a ``used_rows`` codebook may take dense in a compact file of ``size``
    bytes: a sixteenth of what DEFLATE can expand the file to plus 4 MiB,
    ``(1032 * size + 4 MiB) // 16`` (the reader's temporaries while rebuilding it stay
    within ``1032 * size + 4 MiB``)."""
    return (_MAX_EXPANSION * size + 2**22) // 16


def _compact_body(estimator, header, arrays, attributes, used_rows):
    """``(body as stored, dense bytes of a used_rows codebook or None, bytes the reader
    decodes it to: see :func:`_decoded`)``."""
    est_spec = header["estimator"]
    defaults = type(estimator)().get_params(deep=False)
    params = {}
    for k, v in est_spec["params"].items():
        scratch = {}
        default = _bare(_encode_value(k, defaults[k], scratch, k)) if k in defaults else None
        if k in defaults and not scratch and default == v:
            continue  # the class's default
        params[k] = v
    attrs = dict(est_spec["attributes"])
    rows = _encode_used_rows(attributes, arrays) if used_rows else None
    dense = None
    if rows is not None:
        attrs.update(rows)
        dense = attributes["levels_"].nbytes
    else:
        attrs = _compact_attributes(attrs, attributes, arrays)
    attrs = {k: v for k, v in attrs.items() if v != {"type": "array"}}  # in the manifest
    short = {"c": est_spec["class"]}
    if params:
        short["p"] = params
    if attrs:
        short["a"] = attrs
    if header["codes"] is not None:
        short["x"] = _short_codes(header["codes"], estimator)
    codes = header["codes"]
    if codes is not None and codes.get("coding") == "entropy":  # arrays at their default
        if arrays[_coding.TABLE].size == 0:
            del arrays[_coding.TABLE]
        words = arrays.get(_coding.STREAM)
        if words is not None and np.array_equal(arrays[_coding.CHUNKS], [0, words.size]):
            del arrays[_coding.CHUNKS]
    state, manifest = _pack_state(arrays)
    d = getattr(estimator, "n_features_in_", None)
    short["m"] = [e[:2] if e[2] == [d] and (e[3] if len(e) == 4 else e[1])
                  == _DEFAULT_READ.get(e[1][-2]) else e for e in manifest]
    text = json.dumps(short, separators=(",", ":"), allow_nan=False).encode("utf-8")
    body = bytes(_coding.write_varints([len(text)])) + text + state.tobytes()
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                            COMPACT_DICTIONARY)
    total, kept, _ = _decoded(_check_manifest(manifest), attrs, len(body))
    if dense is not None:  # rebuilt once the body is dropped
        total = max(total, kept + dense + attributes["thresholds_"].nbytes)
    return comp.compress(body) + comp.flush(), dense, total


#: the dtype an array of a short manifest entry ``[name, stored dtype]`` is read as
#: (its shape is ``(n_features_in_,)``), by the stored dtype's kind
_DEFAULT_READ = {"u": "<i8", "i": "<i8", "f": "<f8", "b": "|b1"}


def _short_codes(spec, est):
    """The codes' fields less those at their value by default (:func:`_full_codes`)."""
    full = _full_codes({"shape": spec["shape"]}, est, spec.get("coding"))
    short = {k: v for k, v in spec.items() if k == "shape" or full.get(k, KeyError) != v}
    if spec.get("coding") != "entropy":  # the default coding
        short["coding"] = spec.get("coding")
    return short


def _full_codes(spec, est, coding=None, version=FORMAT_VERSION):
    """The codes' field of a version-6 compact header with its defaults filled in:
    ``coding`` "entropy", ``columns`` null, ``data_dtype`` that of ``levels_``; for
    entropy-coded codes ``chunk_rows`` (2**20 values), ``coder`` (by the lanes of
    such chunks), ``symbols`` (``n_levels_``), ``flat`` (none) and from version 7
    ``adaptive`` (none); for packed codes
    ``widths`` (of ``n_levels_``) and ``bit_order`` little. Only the defaults are
    computed here (from the loaded estimator); every field is checked by
    :func:`_build_codes`."""
    _expect(isinstance(spec, dict), f"codes: expected a JSON object, got {_short_repr(spec)}")
    coding = spec.get("coding", "entropy") if coding is None else coding
    d = est.n_features_in_
    out = {"coding": coding, "columns": None, "data_dtype": est.levels_.dtype.name}
    if coding == "entropy":
        rows = _coding.chunk_rows_for(d)
        shape = spec.get("shape")
        n = shape[0] if (isinstance(shape, list) and len(shape) == 2 and _is_count(shape[0])) \
            else 0
        n = min(n, rows)
        out.update(chunk_rows=rows, flat=[], symbols=est.n_levels_.tolist(),
                   coder=_coding.CODER if _coding.lanes_for(n, d) > 1 else _coding.CODER_SINGLE)
        if version >= 7:
            out["adaptive"] = []
    elif coding == "packed":
        out.update(widths=_widths(est).tolist(), bit_order="little")
    out.update(spec)
    return out


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _encode_used_rows(attributes, arrays):
    """Version 6: ``levels_`` and ``thresholds_`` of a scalar quantizer as the levels
    each feature uses (``n_levels_[j]`` of row ``j``, the padding after them being
    the last repeated) and the thresholds between them (the others are ``+inf``),
    each as ``float_rows`` residuals; ``{name: spec}`` with the varints in ``arrays``,
    or None when the codebook is not of that form."""
    L, T = attributes.get("levels_"), attributes.get("thresholds_")
    n = attributes.get("n_levels_")
    if not (isinstance(L, np.ndarray) and isinstance(T, np.ndarray)
            and isinstance(n, np.ndarray) and L.ndim == 2 and L.dtype.kind == "f"
            and L.dtype.str in _STATE_DTYPES and T.dtype == L.dtype
            and T.shape == (L.shape[0], L.shape[1] - 1) and n.shape == (L.shape[0],)
            and n.dtype.kind in "iu" and L.size and np.all((n >= 1) & (n <= L.shape[1]))):
        return None
    from ._entropy import varint_bytes

    d, M = L.shape
    u = _uint(L.dtype)
    cols = np.arange(M)
    bits = np.ascontiguousarray(L).view(u)
    last = bits[np.arange(d), n - 1][:, None]
    if np.any((cols >= n[:, None]) & (bits != last)):
        return None  # padding that does not repeat the last level
    if np.any((cols[:-1] >= n[:, None] - 1) & ~(T == np.inf)):
        return None  # a threshold past the last level that is not +inf
    used = cols < n[:, None]
    best = None
    for order in _ROW_ORDERS:  # the prediction of a level is from levels before it
        z = _row_residuals(L, None, order).reshape(d, M)
        size = int(varint_bytes(z[used]).sum())
        if best is None or size < best[0]:
            best = size, order, z
    _, order, z = best
    rows, decimals = [], []
    for j in range(d):  # a row of decimal numbers: as integers of 10**-p, if smaller
        zj = z[j, :n[j]]
        found = _decimal_row(L[j, :n[j]])
        if found is not None and varint_bytes(found[1]).sum() < varint_bytes(zj).sum():
            decimals.append(found[0])
            rows.append(found[1])
        else:
            decimals.append(-1)
            rows.append(zj)
    data = _coding.write_varints(np.concatenate(rows))
    P = _midpoints_up(L, L.dtype)
    used = cols[:-1] < n[:, None] - 1
    zt = _row_residuals(T, P, 0).reshape(d, M - 1)[used]
    arrays["attr.levels_"] = data
    arrays["attr.thresholds_"] = _coding.write_varints(zt)
    spec = {"type": "used_rows", "dtype": L.dtype.str, "order": order}
    if max(decimals) >= 0:
        spec["decimals"] = decimals
    return {"levels_": spec, "thresholds_": {"type": "used_rows"}}


#: a level of a decimal row is at most this large as an integer (of 10**-p), so that
#: the differences of a row sum exactly in int64
_DECIMAL_LIMIT = 2**45
_MAX_DECIMALS = 15


def _decimal_row(y):
    """``(p, zigzagged varint values)`` of the levels ``y`` of one row when each is
    the integer ``k`` of 10**-p (``k / 10**p`` in float64 rounded to ``y``'s dtype,
    bit for bit) for the smallest such ``p`` of 0 .. 15: the first ``k``, then the
    differences; None if there is none (the data values of a column stored exactly,
    where it was written with ``p`` decimals, are such levels)."""
    u = _uint(y.dtype)
    y64 = y.astype(np.float64)
    with np.errstate(all="ignore"):
        for p in range(_MAX_DECIMALS + 1):
            scale = 10.0**p
            k = np.rint(y64 * scale)
            if not np.all(np.abs(k) < _DECIMAL_LIMIT):
                return None
            k = k.astype(np.int64)  # as the reader rebuilds them (-0.0 is not decimal)
            if np.array_equal((k.astype(np.float64) / scale).astype(y.dtype).view(u),
                              y.view(u)):
                diffs = np.diff(k, prepend=np.int64(0))
                return p, ((diffs << 1) ^ (diffs >> 63)).astype(np.uint64)
    return None


def _decimal_levels(z, p, dtype):
    """The levels of a decimal row from its varint values (:func:`_decimal_row`)."""
    zi = z.astype(np.int64)
    diffs = (z >> np.uint64(1)).astype(np.int64) ^ -(zi & 1)
    _expect(np.all(np.abs(diffs) < 2 * _DECIMAL_LIMIT),
            "attribute levels_: a decimal level out of range")
    k = np.cumsum(diffs)
    _expect(np.all(np.abs(k) < _DECIMAL_LIMIT), "attribute levels_: a decimal level out of "
            "range")
    with np.errstate(all="ignore"):
        return (k.astype(np.float64) / 10.0**p).astype(dtype)


def _decode_used_rows(attrs, arrays, budget, left):
    """Rebuild ``levels_`` and ``thresholds_`` of :func:`_encode_used_rows` into
    ``arrays`` (dense, as plain array attributes), the codebook's width and its
    counts checked first: ``max_levels_`` 2 .. 65536, ``n_levels_`` 1 .. its width,
    one per feature, and the dense codebook at most ``budget`` bytes (DEFLATE's
    expansion of the file's bytes), its levels and thresholds at most ``left``
    (what :func:`_decode_budget` leaves)."""
    spec, tspec = attrs.get("levels_"), attrs.get("thresholds_")
    _keys("attribute levels_", spec, ["type", "dtype", "order"], ["decimals"])
    _keys("attribute thresholds_", tspec, ["type"])
    _expect(tspec["type"] == "used_rows", "attribute thresholds_: used_rows go together "
            "with levels_")
    dtype = _STATE_DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    _expect(dtype is not None and dtype.kind == "f",
            f"attribute levels_: bad float dtype {_short_repr(spec['dtype'])}")
    order = spec["order"]
    _expect(order in _ROW_ORDERS and not isinstance(order, bool),
            f"attribute levels_: order must be one of {_ROW_ORDERS}, got {_short_repr(order)}")
    d = attrs.get("n_features_in_")
    _expect(_is_count(d) and d >= 1, "attribute n_features_in_: must be a positive integer")
    got = {}
    for k in ("n_levels_", "max_levels_"):
        a = arrays.get(f"attr.{k}")
        _expect(isinstance(a, np.ndarray) and a.dtype == np.int64 and a.shape == (d,),
                f"attribute {k}: must be int64 of shape ({d},) (n_features_in_)")
        got[k] = a
    n, m = got["n_levels_"], got["max_levels_"]
    _expect(np.all((m >= 2) & (m <= 2**16)), "attribute max_levels_: must be within 2..65536")
    M = int(m.max())
    _expect(np.all((n >= 1) & (n <= M)), "attribute n_levels_: must be within 1 .. max_levels_")
    _expect(d * M * dtype.itemsize <= budget and d * (2 * M - 1) * dtype.itemsize <= left,
            f"attribute levels_: a codebook of {d} x {M} from a file this small is forged "
            "(the writer stores such a one as float_rows)")
    for k in ("levels_", "thresholds_"):
        _expect(f"attr.{k}" in arrays, f"attribute {k}: its array is missing")
    decimals = spec.get("decimals", [-1] * d)
    _expect(isinstance(decimals, list) and len(decimals) == d
            and all(isinstance(p, int) and not isinstance(p, bool)
                    and -1 <= p <= _MAX_DECIMALS for p in decimals),
            f"attribute levels_: decimals must be one integer of -1 .. {_MAX_DECIMALS} per "
            "feature")
    native, u = dtype.newbyteorder("<"), _uint(dtype)
    L = np.zeros((d, M), dtype=u)
    _read_residuals("attribute levels_", arrays.pop("attr.levels_"), int(n.sum()), dtype,
                    L.reshape(-1))
    for j0, j1, _ in _used_row_blocks(L, n):
        for j in range(j0, j1):  # a decimal row: as the residuals of the levels it holds
            if decimals[j] >= 0:
                y = _decimal_levels(L[j, :n[j]], decimals[j], native)
                L[j, :n[j]] = _row_residuals(y[None, :], None, order)
    L = _rows_from_residuals(L, (d, M), native, None, order)  # in place
    for j0, j1, used in _used_row_blocks(None, n, M):  # the padding repeats the last level
        np.copyto(L[j0:j1], L[np.arange(j0, j1), n[j0:j1] - 1][:, None], where=~used)
    T = np.zeros((d, M - 1), dtype=u)
    _read_residuals("attribute thresholds_", arrays.pop("attr.thresholds_"),
                    int((n - 1).sum()), dtype, T.reshape(-1))
    for _ in _used_row_blocks(T, n - 1):
        pass

    def predict(r0, r1, c0, c1):
        return _midpoints_up(L[r0:r1, c0:c1 + 1], dtype)

    T = _rows_from_residuals(T, (d, M - 1), native, predict, 0)
    if native != dtype:
        L, T = L.astype(dtype), T.astype(dtype)
    arrays["attr.levels_"], arrays["attr.thresholds_"] = L, T
    attrs["levels_"] = attrs["thresholds_"] = {"type": "array"}


def _used_row_blocks(full, n, m=None):
    """Spread the ``n.sum()`` values at the start of ``full`` (C order, ``m`` columns)
    to the first ``n[j]`` of each row ``j`` (the rest 0), blocks of rows at a time from
    the last (``full`` None: only the blocks): yields ``(j0, j1, used)`` once rows
    ``j0:j1`` are in place (``used``: the mask of their values), a block's temporaries
    about ``_ROW_BLOCK`` values."""
    d, m = (n.size, m) if full is None else full.shape
    starts = np.concatenate([[0], np.cumsum(n)])
    cols = np.arange(m)
    rows = max(1, _ROW_BLOCK // max(1, m))
    for j0 in reversed(range(0, d, rows)):
        j1 = min(d, j0 + rows)
        used = cols < n[j0:j1, None]
        if full is not None and starts[j1] != j1 * m:  # a row before is short
            part = full.reshape(-1)[starts[j0]:starts[j1]].copy()  # (theirs lie before)
            full[j0:j1] = 0
            full[j0:j1][used] = part
        yield j0, j1, used


def _read_compact(f, size):
    """``(header, arrays, end)`` of a version-6 compact file (``f`` after its first
    ``len(MAGIC)`` bytes, ``size`` bytes in all): the header expanded to version 5's
    form, the arrays (the codebook rebuilt), and the offset where the body ends (a
    stream above 64 KiB follows). The digest is checked before anything is parsed;
    the body is inflated to at most what DEFLATE can expand the file's bytes to."""
    head = f.read(1 + _DIGEST_BYTES)
    _expect(len(head) == 1 + _DIGEST_BYTES, "truncated skquant file (no digest)")
    version = head[0]
    _expect(version >= 6, f"bad format_version {version} for the compact container")
    _expect(version <= FORMAT_VERSION,
            f"format version {version} is newer than this skquant reads "
            f"({FORMAT_VERSION}): upgrade skquant")
    limit = _MAX_EXPANSION * size + 1024
    start = f.tell()
    # two passes: the first finds the body's end and inflated size and checks the
    # digest keeping nothing, the second inflates into one buffer of that size (the
    # memory is the body's, not twice it)
    produced, end = _inflate(f, limit, head[1:])
    f.seek(start)
    body = bytearray(produced)
    _inflate(f, limit, None, memoryview(body))
    end += _COMPACT_HEAD
    length, at = 0, 0
    for shift in range(0, 35, 7):  # the header's length: one varint
        _expect(at < len(body), "truncated body")
        byte = body[at]
        at += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
    else:
        raise _Bad("the header's length is not a varint of at most 5 bytes")
    _expect(length <= min(_MAX_HEADER_BYTES, len(body) - at),
            f"the header's length {length} exceeds the body")

    def parse_constant(c):
        raise _Bad(f"header: {c} is not valid JSON")

    try:
        short = json.loads(bytes(body[at:at + length]).decode("utf-8"),
                           parse_constant=parse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Bad(f"header is not valid JSON ({exc})") from None
    _keys("header", short, ["c", "m"], ["p", "a", "x"])
    manifest = short["m"]
    if isinstance(manifest, list) and any(isinstance(e, list) and len(e) == 2
                                          for e in manifest):
        attrs = short.get("a")
        d = attrs.get("n_features_in_") if isinstance(attrs, dict) else None
        _expect(_is_count(d) and 1 <= d <= 2**40, "header: an entry [name, dtype] of the "
                "arrays (shape (n_features_in_,)) needs a positive n_features_in_")
        manifest = [[*e, [d], _DEFAULT_READ.get(e[1][-2:-1], "?")]
                    if isinstance(e, list) and len(e) == 2 and isinstance(e[1], str)
                    and len(e[1]) == 3 else e for e in manifest]
    entries = _check_manifest(manifest, version)
    total = _check_decoded(entries, short.get("a"), size, len(body))
    state = np.frombuffer(body, dtype=np.uint8, offset=at + length)
    sizes = [math.prod(shape) * stored.itemsize for _, stored, shape, _ in entries]
    _expect(sum(sizes) == state.size, f"the arrays of the manifest take {sum(sizes)} bytes, "
            f"the body holds {state.size}")
    arrays, pos = {}, 0
    for (name, stored, shape, dtype), n in zip(entries, sizes):
        arrays[name] = state[pos:pos + n].view(stored).reshape(shape).astype(dtype)
        pos += n
    del state, body  # dropped before the codebook is rebuilt
    params = short.get("p", {})
    attrs = short.get("a", {})
    _expect(isinstance(params, dict) and isinstance(attrs, dict),
            "estimator params and attributes must be JSON objects")
    name = short["c"]
    cls = registry().get(name) if isinstance(name, str) else None
    _expect(cls is not None,
            f"unknown estimator class {_short_repr(name)} (known: {', '.join(sorted(registry()))})")
    defaults = cls().get_params(deep=False)
    _expect(set(params) <= set(defaults),
            f"estimator params: {sorted(set(params) - set(defaults))} are not parameters of "
            f"{name}")
    full = {}
    for k, v in defaults.items():
        if k in params:
            full[k] = params[k]
        else:
            scratch = {}
            full[k] = _bare(_encode_value(f"parameter {k}", v, scratch, None))
            _expect(not scratch, f"parameter {k}: its default is an array")
    implied = {}  # array attributes: named by the manifest (first: float_rows follow)
    for key in arrays:
        prefix, _, k = key.partition(".")
        if prefix == "param":
            _expect(k in params, f"parameter {k}: an array without its entry in the header")
        elif prefix == "attr" and k not in attrs:
            implied[k] = {"type": "array"}
    attrs = {**implied, **attrs}
    levels = attrs.get("levels_")
    if isinstance(levels, dict) and levels.get("type") == "used_rows":
        _decode_used_rows(attrs, arrays, _dense_budget(size), _decode_budget(size) - total)
    header = {"format": FORMAT, "format_version": version,
              "estimator": {"class": name, "params": full, "attributes": attrs},
              "codes": short.get("x"), "arrays": manifest}
    return header, arrays, end


def _inflate(f, limit, digest, out=None):
    """Inflate the body at ``f``'s position, 64 KiB of output at a time: ``(inflated
    bytes, stored bytes)``; at most ``limit`` bytes (DEFLATE's bound of the file), the
    stored bytes checked against ``digest`` (when given), the output written to
    ``out`` (when given, of the size of the first pass)."""
    inflate = zlib.decompressobj(-15, zdict=COMPACT_DICTIONARY)
    produced, read, sha = 0, 0, hashlib.sha256()
    while not inflate.eof:
        piece = f.read(2**16)
        _expect(piece, "truncated skquant file (the body ends early)")
        read += len(piece)
        data = piece
        while data and not inflate.eof:
            chunk = inflate.decompress(data, 2**16)
            _expect(produced + len(chunk) <= limit,
                    "the body inflates to more than DEFLATE can expand to: the file is "
                    "forged")
            if out is not None:
                out[produced:produced + len(chunk)] = chunk
            produced += len(chunk)
            data = inflate.unconsumed_tail
        if inflate.eof:
            piece = piece[:len(piece) - len(inflate.unused_data)]
            read -= len(inflate.unused_data)
        sha.update(piece)
    if digest is not None:
        _expect(sha.digest()[:_DIGEST_BYTES] == digest,
                "checksum mismatch: the file was modified or corrupted after it was written")
    return produced, read


def _compact_stream_opener(file, start, size):
    """The opener (as :func:`skquant._coding.stream_opener`'s) of the stream after a
    compact file's body: the words from ``start`` to the end (``size`` bytes)."""
    @contextlib.contextmanager
    def open_stream():
        left = size - start
        _expect(left % 4 == 0, f"{_coding.STREAM_NPY}: {left} bytes after the body are not "
                "whole words")
        if isinstance(file, (str, os.PathLike)):
            with open(file, "rb") as f:
                f.seek(start)
                yield f, left // 4
        else:
            file.seek(start)
            yield file, left // 4

    return open_stream


def _open_compact(file):
    """``(header, arrays, end, size)`` of the compact file ``file`` (see
    :func:`_read_compact`), ``size`` its bytes."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(len(MAGIC))
            return (*_read_compact(f, size), size)
    size = file.seek(0, os.SEEK_END)
    file.seek(len(MAGIC))
    return (*_read_compact(file, size), size)


def _is_compact(file):
    """Whether ``file`` (a path or seekable binary file) starts with :data:`MAGIC`;
    a file object is left at the byte after it."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    file.seek(0)
    return file.read(len(MAGIC)) == MAGIC


# --------------------------------------------------------------------- reading
def _check_member(info, archive_size):
    """Refuse a member before any byte of it is decompressed: only STORED and DEFLATE
    (bzip2 and lzma decompress without a bound in ``zipfile``), and a declared size
    DEFLATE can reach from compressed bytes the archive really holds."""
    name = info.filename
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Bad(f"member {name!r}: compression method {info.compress_type} refused "
                   "(only STORED and DEFLATE are read)")
    if info.compress_size > archive_size:
        raise _Bad(f"member {name!r} declares {info.compress_size} compressed bytes, "
                   f"more than the archive's {archive_size}")
    if info.file_size > _MAX_EXPANSION * info.compress_size + 1024:
        raise _Bad(
            f"member {name!r} declares {info.file_size} bytes from {info.compress_size} "
            "compressed ones, more than DEFLATE can expand to: the archive is forged"
        )


def _read_array(zf, name, declared=None, largest=None, parts=None, before=None):
    """The array of member ``name``, refused before its data is allocated if it does
    not fill the member exactly (or, with ``declared``, hold ``declared`` bytes; then
    ``before()`` is called, the member's checks passed and nothing allocated).
    ``parts``: ``[(dtype, shape)]`` of the arrays back to back in a 1-D uint8 member
    (``state.npy``), read into one array each: the list of them (no copy of the
    member's bytes is made)."""
    info = zf.getinfo(name)
    if info.file_size > _MAX_EXPANSION * info.compress_size + 1024:
        raise _Bad(
            f"member {name} declares {info.file_size} bytes from {info.compress_size} "
            "compressed ones, more than DEFLATE can expand to: the archive is forged"
        )
    with zf.open(name) as f:
        shape, fortran, dtype = _coding.read_npy_header(f, f"member {name}", _Bad)
        if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
            raise _Bad(
                f"member {name} has dtype {dtype}: refused (skquant files hold only bool "
                "and numeric arrays, never pickled objects)"
            )
        # the data must fill the member exactly: checked before anything is allocated
        expected = f.tell() + math.prod(shape) * dtype.itemsize
        if declared is not None and math.prod(shape) * dtype.itemsize != declared:
            raise _Bad(f"member {name}: holds {math.prod(shape) * dtype.itemsize} bytes of "
                       f"arrays, the header's arrays take {declared} (the largest: "
                       f"{largest})")
        if expected != zf.getinfo(name).file_size:
            raise _Bad(
                f"member {name}: shape {shape} of {dtype} needs {expected} bytes, the "
                f"member holds {zf.getinfo(name).file_size}"
            )
        if before is not None:
            before()
        if parts is not None:
            _expect(dtype == np.uint8 and len(shape) == 1,
                    f"{name}: expected a 1-D uint8 array, got {dtype} {shape}")
            out = [np.empty(shape, dtype=dtype) for dtype, shape in parts]
            for arr in out:
                buf = arr.reshape(-1).view(np.uint8)
                for a in range(0, buf.size, 2**20):  # the member's bytes a MiB at a time
                    piece = buf[a:a + 2**20]
                    _expect(f.readinto(piece) == piece.size, f"member {name}: truncated")
            _expect(not f.read(1), f"member {name}: trailing bytes after the array")
            return out
    with zf.open(name) as f:
        arr = np.lib.format.read_array(f, allow_pickle=False)
        if f.read(1):
            raise _Bad(f"member {name}: trailing bytes after the array")
    return arr


class _Size:
    """The size of an array of the state, where the coder's checks expect a member's."""

    def __init__(self, file_size):
        self.file_size = file_size


def _read(file):
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise _Bad(f"not a skquant file: not a ZIP archive, or truncated ({exc})") from None
    with zf:
        names = zf.namelist()
        _expect(len(names) == len(set(names)), "duplicate members in the archive")
        _expect(HEADER in names, f"not a skquant file: no {HEADER}")
        archive_size = zf.fp.seek(0, os.SEEK_END)
        for info in zf.infolist():
            _check_member(info, archive_size)
        for name in names:
            _expect(name == HEADER or _MEMBER.match(name),
                    f"unexpected member {name!r} (a skquant file holds {HEADER} and "
                    "param./attr./codes .npy arrays only)")
        _expect(zf.getinfo(HEADER).file_size <= _MAX_HEADER_BYTES, f"{HEADER} is too large")

        def parse_constant(c):
            raise _Bad(f"{HEADER}: {c} is not valid JSON")

        try:
            header = json.loads(zf.read(HEADER).decode("utf-8"), parse_constant=parse_constant)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Bad(f"{HEADER} is not valid JSON ({exc})") from None
        _keys(HEADER, header, ["format", "format_version", "estimator", "codes", "sha256"],
              ["arrays"])
        _expect(header["format"] == FORMAT, f"not a skquant file (format {header['format']!r})")
        version = header["format_version"]
        _expect(isinstance(version, int) and not isinstance(version, bool) and version >= 1,
                f"bad format_version {version!r}")
        _expect(version <= FORMAT_VERSION,
                f"format version {version} is newer than this skquant reads "
                f"({FORMAT_VERSION}): upgrade skquant")
        _expect(("arrays" in header) == (version >= 4),
                f"{HEADER}: the arrays field is in files of format version 4 and later only"
                if version < 4 else f"{HEADER}: missing field(s) ['arrays']")
        if version >= 4:
            for name in names:
                _expect(name in (HEADER, STATE_NPY, _coding.STREAM_NPY),
                        f"unexpected member {name!r} (a skquant file of format version "
                        f"{version} holds {HEADER}, {STATE_NPY} and {_coding.STREAM_NPY} only)")
        else:
            _expect(STATE_NPY not in names,
                    f"unexpected member {STATE_NPY!r} in a file of format version {version}")
        codes = header["codes"]
        coded = isinstance(codes, dict) and codes.get("coding") == "entropy" and version >= 3
        if coded:
            shape = codes.get("shape")
            _expect(isinstance(shape, list) and len(shape) == 2
                    and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                            for s in shape), f"codes: bad shape {shape!r}")
            infos = {i.filename: i for i in zf.infolist()}
            if version >= 4:  # the table and offsets (version 5: small streams too)
                infos = {k: v for k, v in infos.items() if k == _coding.STREAM_NPY}
                for name, stored, dims, dtype in _check_manifest(header["arrays"], version):
                    if name in (_coding.TABLE, _coding.CHUNKS, _coding.STREAM):
                        _expect(name + ".npy" not in infos,
                                f"{_coding.STREAM_NPY}: both a member and an array of the "
                                "state")
                        infos[name + ".npy"] = _Size(math.prod(dims) * dtype.itemsize)
            _coding.check_member_sizes(codes, shape, infos)
        if version >= 4:
            est = header["estimator"]
            arrays = _unpack_state(zf, header["arrays"], version, lambda entries: (
                _check_decoded(entries, est.get("attributes") if isinstance(est, dict)
                               else None, archive_size)))
        else:  # the entropy-coded stream is read chunk by chunk when decoded
            arrays = {name[: -len(".npy")]: _read_array(zf, name) for name in names
                      if name not in (HEADER, _coding.STREAM_NPY)}
        _expect(_coding.STREAM_NPY not in names or coded,
                f"{_coding.STREAM_NPY}: present but the header declares no entropy-coded codes")
    _expect(header["sha256"] == _digest(header, arrays),
            "checksum mismatch: the file was modified or corrupted after it was written")
    return header, arrays


def _build_estimator(spec, arrays, version=FORMAT_VERSION):
    _keys("estimator", spec, ["class", "params", "attributes"])
    name = spec["class"]
    cls = registry().get(name) if isinstance(name, str) else None
    _expect(cls is not None,
            f"unknown estimator class {name!r} (known: {', '.join(sorted(registry()))})")
    _expect(isinstance(spec["params"], dict) and isinstance(spec["attributes"], dict),
            "estimator params and attributes must be JSON objects")
    expected = set(cls().get_params(deep=False))
    stored = expected - {"n_levels"} if version == 1 else expected
    _expect(set(spec["params"]) == stored,
            f"estimator params: {name} parameters must be {sorted(stored)}, got "
            f"{sorted(spec['params'])}")
    params = {k: _decode_value(f"parameter {k}", v, arrays, f"param.{k}", version=version)
              for k, v in spec["params"].items()}
    attributes = {}
    for k, v in spec["attributes"].items():
        _expect(isinstance(k, str) and _NAME.match(k) and not k.startswith("__")
                and k not in expected, f"bad attribute name {k!r}")
        attributes[k] = _decode_value(f"attribute {k}", v, arrays, f"attr.{k}",
                                      attributes if version >= 4 else None, version)
    params, attributes = _upgrade(version, cls, params, attributes)
    est = cls(**params)  # __init__ only stores them: validated next, then the state
    try:
        est._validate_params()
    except (ValueError, TypeError) as exc:
        raise _Bad(f"invalid parameters for {name}: {exc}") from None
    if version == 1:  # derived flags version 1 stored (_identity) are properties now
        attributes = {k: v for k, v in attributes.items()
                      if not isinstance(getattr(cls, k, None), property)}
    try:  # the class's own schema, before any fitted attribute is set
        check_state(cls, params, attributes)
    except SchemaError as exc:
        raise _Bad(f"{name}: {exc}") from None
    # set the instance dict directly: no property or descriptor runs
    est.__dict__.update(attributes)
    check = _estimator_check(est)
    if check is not None:
        try:
            check(est)
        except AttributeError as exc:
            raise _Bad(f"{name}: missing fitted attribute ({exc})") from None
    return est


def _build_codes(spec, arrays, est, version=FORMAT_VERSION, open_stream=None):
    """``(codes, columns, data_dtype)``: ``codes`` an array, or for entropy-coded codes
    a :class:`skquant._coding.CodedCodes` reading the stream with ``open_stream``."""
    if spec is None:
        for key in (CODES, _coding.TABLE, _coding.CHUNKS, _coding.STREAM, _coding.ADAPTIVE):
            _expect(key not in arrays, f"{key}.npy present but the header declares no codes")
        return None, None, None
    from ._base import BaseScalarQuantizer

    _expect(isinstance(est, BaseScalarQuantizer), "codes stored with a non-scalar quantizer")
    coding = spec.get("coding", "packed") if isinstance(spec, dict) and version >= 3 else "packed"
    _expect(coding in CODINGS, f"codes: unknown coding {coding!r} (one of {CODINGS})")
    width_key = "n_bits" if version == 1 else "widths"
    coding_key = ["coding"] if version >= 3 else []
    in_state = _coding.STREAM in arrays  # version 5: a small stream
    if coding == "entropy":
        _keys("codes", spec, ["shape", "data_dtype", "columns",
                              *_coding.spec_fields(version, in_state)])
    else:
        _keys("codes", spec, ["shape", width_key, "bit_order", "data_dtype", "columns",
                              *coding_key])
    shape = spec["shape"]
    _expect(isinstance(shape, list) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape),
            f"codes: bad shape {shape!r}")
    _expect(shape[1] == est.n_features_in_,
            f"codes: {shape[1]} columns, the estimator has {est.n_features_in_}")
    _expect(spec["data_dtype"] == est.levels_.dtype.name, "codes: data dtype differs from levels_")
    columns = spec["columns"]
    _expect(columns is None or (isinstance(columns, list) and len(columns) == shape[1]
                                and all(isinstance(c, str) for c in columns)),
            "codes: columns must be null or one string per column")
    if coding == "entropy":
        for key in (CODES,):
            _expect(key not in arrays, f"{key}.npy present in an entropy-coded file")
        if in_state:
            open_stream = _coding.state_stream_opener(arrays.pop(_coding.STREAM))
        coded = _coding.CodedCodes(spec, arrays, est.n_levels_, tuple(shape),
                                   est._codes_dtype, open_stream)
        return coded, columns, np.dtype(spec["data_dtype"])
    for key in (_coding.TABLE, _coding.CHUNKS, _coding.STREAM, _coding.ADAPTIVE):
        _expect(key not in arrays, f"{key}.npy present in a file of packed codes")
    if version == 1:  # packed at the n_bits parameter's widths
        widths = _libm.log2(est.max_levels_).astype(np.int64)
        declared = int(widths[0]) if np.all(widths == widths[0]) else widths.tolist()
    else:
        widths = _widths(est)
        declared = widths.tolist()
    _expect(spec[width_key] == declared,
            f"codes: {width_key} {spec[width_key]!r} differs from the estimator's {declared!r}")
    _expect(spec["bit_order"] == "little", f"codes: unknown bit order {spec['bit_order']!r}")
    _expect(CODES in arrays, "codes: the codes.npy member is missing")
    packed = arrays.pop(CODES)
    size = K.packed_size(shape[0], widths)
    _expect(packed.dtype == np.uint8 and packed.shape == (size,),
            f"codes: expected {size} packed bytes (uint8), got {packed.dtype} {packed.shape}")
    tail = shape[0] * int(widths.sum()) % 8
    _expect(tail == 0 or packed[-1] >> tail == 0, "codes: nonzero padding bits")
    codes = unpack_codes(packed, widths, shape[0], est._codes_dtype)
    bad = (codes >= est.n_levels_).any(axis=0) if codes.size else np.zeros(shape[1], bool)
    _expect(not bad.any(), f"codes out of range in column(s) {np.flatnonzero(bad).tolist()}")
    return codes, columns, np.dtype(spec["data_dtype"])


def read(file, stream=False):
    """Read a skquant file written by :func:`write`; returns an :class:`Encoded`.

    Entropy-coded codes are decoded whole, unless ``stream`` is true: then
    ``Encoded.codes`` is None and ``Encoded.blocks()`` decodes them chunk by chunk in
    bounded memory (``file``, if a file object, must stay open until then).

    Raises ``ValueError`` naming the file and the problem for anything malformed.
    """
    return _read_file(file, "stream" if stream else "decode")


def _read_file(file, mode):
    """:func:`read`; ``mode``: entropy-coded codes are decoded whole (``"decode"``),
    left to ``Encoded.blocks()`` (``"stream"``), or only their stream's checksum is
    verified (``"verify"``: :func:`load`, which needs no codes, allocates nothing in
    proportion to the rows a file declares)."""
    _check_file(file, "read")
    where = os.fspath(file) if isinstance(file, (str, os.PathLike)) else "file"
    try:
        if isinstance(file, (str, os.PathLike)) and not os.path.isfile(file):
            raise FileNotFoundError(f"no such file: {where}")
        if _is_compact(file):
            header, arrays, end, size = _open_compact(file)
        else:
            header, arrays = _read(file)
        version = header["format_version"]
        est = _build_estimator(header["estimator"], arrays, version)
        spec, opener = header["codes"], _coding.stream_opener(file)
        if "sha256" not in header:  # the compact container (version 6)
            if spec is not None:
                spec = _full_codes(spec, est, version=version)
            external = (isinstance(spec, dict) and spec.get("coding") == "entropy"
                        and _coding.STREAM not in arrays)
            _expect(external or end == size,
                    f"{size - end} bytes after the body, where no stream is declared")
            if isinstance(spec, dict) and spec.get("coding") == "entropy":
                arrays.setdefault(_coding.TABLE, np.zeros(0, np.uint8))
                if _coding.STREAM in arrays and isinstance(arrays[_coding.STREAM], np.ndarray):
                    arrays.setdefault(_coding.CHUNKS, np.array(
                        [0, arrays[_coding.STREAM].size], dtype=np.int64))
            opener = _compact_stream_opener(file, end, size)
        codes, columns, dtype = _build_codes(spec, arrays, est, version, opener)
        _expect(not arrays, f"array member(s) not described by the header: {sorted(arrays)}")
        coded = None
        if isinstance(codes, _coding.CodedCodes):
            coded, codes = codes, None
            if mode == "decode":
                codes = coded.decode()
            elif mode == "verify":
                coded.verify()
    except (_Bad, _coding.Malformed) as exc:
        raise ValueError(f"{where}: {_one_line(str(exc))}") from None
    except FileNotFoundError:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        # zip/zlib/CRC errors, truncated members, malformed .npy headers: nothing read
        # from the file is ever executed, so any failure here means a damaged file
        text = _one_line(" ".join(str(exc).split()))
        raise ValueError(
            f"{where}: corrupted or truncated skquant file ({type(exc).__name__}: {text})"
        ) from None
    coding = None if header["codes"] is None else "entropy" if coded is not None else "packed"
    return Encoded(est, codes, columns, dtype, coded, coding, where)


def save(estimator, path):
    """Save a fitted skquant estimator to a file, without pickle.

    The file is a ZIP archive (``.npz``-compatible) with a JSON header describing the
    estimator's class, parameters and fitted attributes, and one ``.npy`` array per
    fitted array; see the file-format page of the documentation.

    Parameters
    ----------
    estimator : estimator instance
        A fitted skquant estimator (any class exported by ``skquant``).
    path : str, path-like or binary file object
        Where to write; the name is used as given (no suffix is added).

    Raises
    ------
    TypeError
        If ``estimator`` is not a skquant estimator.
    ValueError
        If it is not fitted, or holds a parameter or attribute the format cannot
        store (for example a callable or a random-state object).

    See Also
    --------
    load : Read the estimator back.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import skquant
    >>> X = np.random.default_rng(0).standard_normal((1000, 3))
    >>> q = skquant.LloydMaxQuantizer(n_bits=3).fit(X)
    >>> buf = io.BytesIO()
    >>> skquant.save(q, buf)
    >>> q2 = skquant.load(io.BytesIO(buf.getvalue()))
    >>> bool(np.array_equal(q2.transform(X), q.transform(X)))
    True
    """
    write(path, estimator)


def load(path):
    """Load an estimator saved by :func:`save` (or by ``skquant encode``).

    Loading never unpickles and never imports a name read from the file; the class
    must be one of skquant's estimators. The loaded estimator's ``transform`` and
    ``inverse_transform`` are bit-identical to the saved one's. Codes stored in the
    file are checked (their table, chunk offsets and checksum) but not decoded: use
    :func:`skquant.decompress` or ``skquant decode`` for them.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file to read.

    Returns
    -------
    estimator : estimator instance
        The fitted estimator.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a skquant file, or is truncated, corrupted or edited
        (the checksum or any field's type, dtype or shape does not match); the
        message names the problem.
    MemoryError
        If the arrays of a valid file do not fit in memory (a member cannot declare
        more than 1032 times its compressed size, DEFLATE's limit, so a small file
        cannot make the reader allocate much).

    See Also
    --------
    save : Write an estimator.
    """
    return _read_file(path, "verify").estimator
