"""Forged skquant files: header or arrays edited and the digest recomputed the way
``doc/file_format.rst`` describes. Each loads into an estimator whose transform,
inverse_transform and score work, or raises ValueError naming the field."""

import hashlib
import io
import json
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import skquant
from skquant import _coding, _io
from skquant._base import BaseScalarQuantizer
from skquant._registry import estimator_variants

X = np.random.default_rng(0).standard_normal((40, 3))
VARIANTS = estimator_variants()


def _saved(est):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = clone(est).fit(X)
    buf = io.BytesIO()
    _io.write(buf, est)
    return buf.getvalue()


def _typed(v, arr=None):
    """The long form of a version-4 header value: bare JSON values as typed ones, an
    array's dtype and shape (``arr``) spelled out (both forms load)."""
    if isinstance(v, dict):
        if v.get("type") == "dict":
            return {**v, "value": {k: _typed(x) for k, x in v["value"].items()}}
        if v.get("type") == "array" and arr is not None:
            return {"type": "array", "dtype": arr.dtype.str, "shape": list(arr.shape)}
        return v
    kind = ("none" if v is None else "bool" if isinstance(v, bool) else
            "int" if isinstance(v, int) else "float" if isinstance(v, float) else "str")
    return {"type": "none"} if v is None else {"type": kind, "value": v}


def _typed_header(header, arrays):
    for section, prefix in (("params", "param"), ("attributes", "attr")):
        node = header["estimator"][section]
        for k in node:
            node[k] = _typed(node[k], arrays.get(f"{prefix}.{k}"))


def _members(data):
    """The header and arrays of a file (version 4: the arrays of ``state.npy``), with
    every ``float_rows`` attribute as the plain array it decodes to."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read(_io.HEADER))
        if "arrays" in header:
            arrays = _io._unpack_state(zf, header["arrays"])
        else:
            arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist()
                      if n != _io.HEADER}
    rows = [k for k, v in header["estimator"]["attributes"].items()
            if isinstance(v, dict) and v["type"] == "float_rows"]
    if rows:
        est = skquant.load(io.BytesIO(data))
        for k in rows:
            _set_array(header, arrays, k, getattr(est, k))
    _typed_header(header, arrays)
    return header, arrays


def forge(header, arrays, method=zipfile.ZIP_DEFLATED, extra=(), digest=True, version=None,
          layout=None):
    """A file of ``header`` and ``arrays``, the digest recomputed as documented:
    at format version 4 (or ``version``) the arrays back to back in ``state.npy``
    with the manifest in the header's ``arrays``, at 3 one member per array.
    ``layout`` picks the members' layout whatever the header's (forged) version."""
    if version is not None:
        header["format_version"] = version
    if (header["format_version"] if layout is None else layout) >= 4:
        keys = sorted(arrays)
        header["arrays"] = [[k, arrays[k].dtype.str, list(arrays[k].shape)] for k in keys]
        blob = b"".join(np.ascontiguousarray(arrays[k]).tobytes() for k in keys)
        members = {_io.STATE: np.frombuffer(blob, dtype=np.uint8)}
    else:
        header.pop("arrays", None)
        members = arrays
    if digest:
        header["sha256"] = _io._digest(header, arrays)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        zf.writestr(zipfile.ZipInfo(_io.HEADER), json.dumps(header), compress_type=method)
        for k in sorted(members):
            zf.writestr(zipfile.ZipInfo(k + ".npy"), _io._npy_bytes(members[k]),
                        compress_type=method)
        for name, blob in extra:
            zf.writestr(zipfile.ZipInfo(name), blob)
    return buf.getvalue()


def works_or_names(data, field):
    """The file loads into a working estimator, or ValueError names ``field``."""
    try:
        est = skquant.load(io.BytesIO(data))
    except ValueError as exc:
        message = str(exc)
        assert "\n" not in message
        assert field in message, message
        return None
    d = est.n_features_in_
    Z = np.random.default_rng(1).standard_normal((9, d)) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = est.transform(Z)
        codes = (np.minimum(np.arange(9)[:, None], est.n_levels_ - 1)
                 if isinstance(est, BaseScalarQuantizer) else out)
        X_hat = est.inverse_transform(codes)
        assert np.isfinite(X_hat).all()
        assert np.isfinite(est.score(Z)) or isinstance(est, BaseScalarQuantizer)
    return est


def _set_array(header, arrays, name, value, sync=True):
    arrays[f"attr.{name}"] = value
    if sync:
        header["estimator"]["attributes"][name] = {
            "type": "array", "dtype": value.dtype.str, "shape": list(value.shape)}


def _mutations(arr):
    """Hostile replacements of a fitted array."""
    out = {
        "shorter": arr[:-1] if arr.ndim and arr.shape[0] > 1 else arr.reshape(-1)[:0],
        "longer": np.concatenate([arr, arr[:1]]) if arr.ndim else np.zeros(2),
        "2-d": np.atleast_2d(arr).repeat(2, axis=0),
        "int": arr.astype(np.int64),
        "complex": arr.astype(np.complex128),
        "float32": arr.astype(np.float32),
        "bool": arr.astype(bool),
    }
    if arr.dtype.kind == "f":
        for v in (np.nan, np.inf, -1e308):
            a = arr.copy()
            a.reshape(-1)[: max(1, a.size // 2)] = v
            out[f"{v}"] = a
        out["reversed"] = arr[..., ::-1].copy()
    if arr.dtype.kind in "iu":
        for v in (-1, 2**40, 0):
            out[f"{v}"] = np.full_like(arr, v)
        out["float"] = arr.astype(np.float64) + 0.5
    return out


@pytest.mark.parametrize("vid, est", VARIANTS, ids=[v for v, _ in VARIANTS])
def test_every_fitted_array_mutated(vid, est):
    header, arrays = _members(_saved(est))
    names = [k.split(".", 1)[1] for k in arrays if k.startswith("attr.")]
    assert names
    refused = 0
    for name in names:
        for what, value in _mutations(arrays[f"attr.{name}"]).items():
            h, a = json.loads(json.dumps(header)), dict(arrays)
            try:
                _set_array(h, a, name, value)
            except ValueError:
                continue
            refused += works_or_names(forge(h, a), name) is None
    assert refused > len(names)  # the checks refuse most of these


@pytest.mark.parametrize("vid, est", VARIANTS, ids=[v for v, _ in VARIANTS])
def test_every_field_gets_a_wrong_type(vid, est):
    header, arrays = _members(_saved(est))
    values = [{"type": "str", "value": "transform"}, {"type": "int", "value": 2**70},
              {"type": "float", "value": "nan"}, {"type": "bool", "value": True},
              {"type": "none"}, {"type": "str_array", "value": ["a"]}]
    for section in ("params", "attributes"):
        for name in header["estimator"][section]:
            for value in values:
                h, a = json.loads(json.dumps(header)), dict(arrays)
                h["estimator"][section][name] = value
                a.pop(f"{'param' if section == 'params' else 'attr'}.{name}", None)
                works_or_names(forge(h, a), name)


def test_binary_encoder_flags_flipped():
    est = skquant.BinarySphericalEncoder(rotation="random", random_state=0).fit(X)
    buf = io.BytesIO()
    _io.write(buf, est)
    header, arrays = _members(buf.getvalue())
    for param, value, field in [("rotation", {"type": "none"}, "components_"),
                                ("center", {"type": "bool", "value": True}, "center"),
                                ("n_bits", {"type": "int", "value": 2}, "n_bits")]:
        h = json.loads(json.dumps(header))
        h["estimator"]["params"][param] = value
        works_or_names(forge(h, dict(arrays)), field)
    h = json.loads(json.dumps(header))  # the derived flag version 1 stored
    h["estimator"]["attributes"]["_identity"] = {"type": "bool", "value": True}
    with pytest.raises(ValueError, match="_identity"):
        skquant.load(io.BytesIO(forge(h, dict(arrays))))


def test_per_feature_scale_of_wrong_length_is_refused():
    est = skquant.UniformClipQuantizer(mode="midtread", n_bits=3).fit(X)
    header, arrays = _members(_saved(est))
    for n in (1, 2, 4, 100):
        h, a = json.loads(json.dumps(header)), dict(arrays)
        _set_array(h, a, "scale_", np.full(n, 0.1))
        with pytest.raises(ValueError, match=r"scale_: dimension 0 must be n_features_in_"):
            skquant.load(io.BytesIO(forge(h, a)))


def test_strings_where_methods_or_arrays_are_expected():
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    for name in ("transform", "_encode", "_grid"):
        h = json.loads(json.dumps(header))
        h["estimator"]["attributes"][name] = {"type": "str", "value": "x"}
        with pytest.raises(ValueError, match=name):
            skquant.load(io.BytesIO(forge(h, dict(arrays))))
    h, a = json.loads(json.dumps(header)), dict(arrays)
    a.pop("attr.levels_")
    h["estimator"]["attributes"]["levels_"] = {"type": "str", "value": "levels"}
    with pytest.raises(ValueError, match="levels_ must be an array"):
        skquant.load(io.BytesIO(forge(h, a)))


@pytest.mark.parametrize("edit, match", [
    (lambda L, T: L.__setitem__((0, 1), np.nan), "levels_ must be finite"),
    (lambda L, T: L.__setitem__((0, 1), np.inf), "levels_ must be finite"),
    (lambda L, T: L.__setitem__((0, 1), L[0, 0]), "levels_ row 0 must increase strictly"),
    (lambda L, T: T.__setitem__((1, 0), L[1, 2]), "thresholds_"),
    (lambda L, T: T.__setitem__((2, 2), 5.0), "thresholds_"),
    (lambda L, T: T.__setitem__((0, 0), np.nan), "thresholds_ must increase"),
])
def test_bad_codebooks(edit, match):
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    L, T = arrays["attr.levels_"].copy(), arrays["attr.thresholds_"].copy()
    edit(L, T)
    arrays["attr.levels_"], arrays["attr.thresholds_"] = L, T
    with pytest.raises(ValueError, match=match):
        skquant.load(io.BytesIO(forge(header, arrays)))


def test_thresholds_past_the_last_level_must_be_inf():
    Xs = np.c_[np.r_[np.zeros(20), np.ones(20)], X[:, 1:]]  # column 0: 2 of 4 levels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = skquant.LloydMaxQuantizer(n_bits=2, encode="onehot").fit(Xs)
    buf = io.BytesIO()
    _io.write(buf, est)
    header, arrays = _members(buf.getvalue())
    T = arrays["attr.thresholds_"].copy()
    assert est.n_levels_[0] == 2 and T[0, 1] == np.inf
    T[0, 1:] = [0.7, 0.8]  # would give codes 2, 3 to a feature of 2 levels
    arrays["attr.thresholds_"] = T
    with pytest.raises(ValueError, match=r"thresholds_ row 0 must be \+inf"):
        skquant.load(io.BytesIO(forge(header, arrays)))


def test_huge_declared_shapes_are_refused_without_allocating():
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    data = forge(header, arrays, version=3)  # one member per array (version 4: test_io)
    npy = _io._npy_bytes(arrays["attr.levels_"])
    forged = npy.replace(b"(3, 4)", b"(3000000000, 4000)")
    assert forged != npy
    h = json.loads(json.dumps(header))
    h["estimator"]["attributes"]["levels_"]["shape"] = [3000000000, 4000]
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            blob = src.read(info.filename)
            if info.filename == "attr.levels_.npy":
                blob = forged
            dst.writestr(info, blob)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="attr.levels_.npy"):
            skquant.load(io.BytesIO(out.getvalue()))
        assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_other_compression_methods_are_refused_before_decompressing(method):
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    arrays["attr.mse_"] = np.zeros(100 * 2**20 // 8)  # ~100 MiB, compresses to bytes
    header["estimator"]["attributes"]["mse_"]["shape"] = [arrays["attr.mse_"].size]
    data = forge(header, arrays, method=method)
    assert len(data) < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="compression method"):
            skquant.load(io.BytesIO(data))
        assert tracemalloc.get_traced_memory()[1] < 8 * 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("version", [3, 4])
def test_duplicate_extra_and_strangely_named_members(version):
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    surplus = "checksum mismatch" if version == 3 else "unexpected member 'attr.surplus_.npy'"
    cases = [([("attr.levels_.npy", _io._npy_bytes(arrays["attr.levels_"]))],
              "duplicate" if version == 3 else "unexpected member 'attr.levels_.npy'"),
             ([("header.json", b"{}")], "duplicate"),
             ([("attr.surplus_.npy", _io._npy_bytes(np.zeros(3)))], surplus),
             ([("attr.a\nb.npy", b"x")], "unexpected member 'attr.a\\\\nb.npy'"),
             ([("../../etc/passwd", b"x")], "unexpected member")]
    if version == 4:
        cases.append(([("state.npy", b"x")], "duplicate"))
    for extra, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays),
                                          extra=extra, version=version)))
        assert "\n" not in str(info.value)
    # a version-3 file holding a state, a version-4 file holding per-array members
    with pytest.raises(ValueError, match="unexpected member 'state.npy' in a file of format "
                       "version 3"):
        skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays), extra=[
            ("state.npy", _io._npy_bytes(np.zeros(0, np.uint8)))], version=3)))


def test_parameters_go_through_the_estimators_constraints():
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    for value in ({"type": "int", "value": 17}, {"type": "bool", "value": True},
                  {"type": "float", "value": 2.5}):
        h = json.loads(json.dumps(header))
        h["estimator"]["params"]["n_bits"] = value
        with pytest.raises(ValueError, match="n_bits"):
            skquant.load(io.BytesIO(forge(h, dict(arrays))))
    # a valid n_bits other than the codebook's is set_params after fit (issue 13): it
    # loads, and the fitted codebook (not the parameter) decides the codes
    h = json.loads(json.dumps(header))
    h["estimator"]["params"]["n_bits"] = {"type": "int", "value": 3}
    loaded = skquant.load(io.BytesIO(forge(h, dict(arrays))))
    original = skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays))))
    X = np.random.default_rng(0).standard_normal((50, original.n_features_in_))
    assert loaded.n_bits == 3 and np.array_equal(loaded.max_levels_, original.max_levels_)
    np.testing.assert_array_equal(loaded.transform(X), original.transform(X))


# ------------------------------------------------ compact codebooks (format version 4)
def _random_floats(rng, dtype, shape):
    """Every kind of float: normal, subnormal, zeros of both signs, infinities, NaNs
    with payloads, and smooth rows (which code small)."""
    u = np.dtype(f"u{np.dtype(dtype).itemsize}")
    raw = rng.integers(0, np.iinfo(u).max, size=shape, dtype=u, endpoint=True).view(dtype)
    smooth = (np.cumsum(rng.random(shape), axis=-1) * 3 - 5).astype(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, np.finfo(dtype).tiny / 3,
                        np.finfo(dtype).max], dtype=dtype)
    out = np.where(rng.random(shape) < 0.5, raw, smooth)
    k = min(special.size, out.size)
    out.reshape(-1)[:k] = special[:k]
    return out


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_rows_come_back_bit_for_bit(dtype):
    """Any array, any prediction order, with or without the midpoint prediction: the
    row coding of version 4 decodes to the same bits (NaN payloads included)."""
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (3, 7), (5, 1), (2, 300), (4, 0), (0, 3)]:
        a = _random_floats(rng, dtype, shape)
        levels = _random_floats(rng, dtype, (shape[0], shape[1] + 1))
        for predict in (None, _io._midpoints_as(levels, dtype)):
            for order in (0, 1, 2) if predict is None else (0,):
                z = _io._row_residuals(a, predict, order)
                data = _coding.write_varints(z)
                back = _io._rows_from_residuals(
                    _coding.read_varints("x", data, a.size, 8 * a.itemsize), shape, dtype,
                    predict, order)
                assert back.dtype == a.dtype and back.shape == a.shape
                assert back.tobytes() == a.tobytes(), (shape, order, predict is None)


def test_uniform_codebooks_are_stored_compactly():
    """A uniform codebook of 256 float32 levels per feature takes about a byte per
    level and nothing per threshold before DEFLATE (4 + 4 bytes dense), and the
    loaded levels and thresholds are the fitted ones bit for bit."""
    Xw = np.random.default_rng(0).standard_normal((5000, 4)) * [1, 10, 100, 1e-3]
    est = skquant.UniformClipQuantizer(n_bits=8, clip="minmax").fit(
        (Xw + [0, 5, -300, 1]).astype(np.float32))
    assert np.all(est.n_levels_ == 256)
    buf = io.BytesIO()
    _io.write(buf, est)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        header = json.loads(zf.read(_io.HEADER))
    sizes = {e[0]: np.prod(e[2]) for e in header["arrays"]}
    spec = header["estimator"]["attributes"]
    assert spec["levels_"]["type"] == spec["thresholds_"]["type"] == "float_rows"
    assert spec["thresholds_"]["midpoints_of"] == "levels_"
    assert sizes["attr.levels_"] <= 1.1 * est.levels_.size
    assert sizes["attr.thresholds_"] <= 1.01 * est.thresholds_.size
    assert len(buf.getvalue()) < 0.2 * (est.levels_.nbytes + est.thresholds_.nbytes)
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    for k in ("levels_", "thresholds_"):
        assert getattr(loaded, k).tobytes() == getattr(est, k).tobytes()


def _rows_file(edit):
    """A saved LloydMaxQuantizer whose float_rows levels_/thresholds_ go through
    ``edit(header, arrays)`` (arrays as stored: the varint bytes), digest recomputed."""
    est = clone(skquant.UniformClipQuantizer(n_bits=6, clip="minmax")).fit(
        np.random.default_rng(2).standard_normal((500, 3)))
    buf = io.BytesIO()
    _io.write(buf, est)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        header = json.loads(zf.read(_io.HEADER))
        arrays = _io._unpack_state(zf, header["arrays"])
    attrs = header["estimator"]["attributes"]
    assert attrs["levels_"]["type"] == attrs["thresholds_"]["type"] == "float_rows"
    edit(header, arrays)
    return forge(header, arrays)


def _flip(key, at):
    def edit(h, a):
        v = a[key].copy()
        v[at % v.size] ^= 0x41
        a[key] = v
    return edit


def _spec(name, field, value):
    def edit(h, a):
        h["estimator"]["attributes"][name][field] = value
    return edit


def _reorder(h, a):  # thresholds_ (predicted from levels_) before levels_
    attrs = h["estimator"]["attributes"]
    h["estimator"]["attributes"] = {"thresholds_": attrs.pop("thresholds_"), **attrs}


@pytest.mark.parametrize("edit, field", [
    (_flip("attr.levels_", 0), "levels_"),
    (_flip("attr.levels_", 7), "levels_"),
    (_flip("attr.levels_", -1), "levels_"),
    (_flip("attr.thresholds_", 3), "thresholds_"),
    (_flip("attr.thresholds_", -1), "thresholds_"),
    (lambda h, a: a.__setitem__("attr.levels_", a["attr.levels_"][:-1]), "levels_"),
    (lambda h, a: a.__setitem__("attr.levels_", np.r_[a["attr.levels_"], 0]), "levels_"),
    (lambda h, a: a.__setitem__("attr.levels_", np.r_[np.uint8(0x80), a["attr.levels_"][1:]]),
     "levels_"),
    (lambda h, a: a.__setitem__("attr.thresholds_", np.r_[
        np.full(5, 0xFF, np.uint8), np.uint8(0x7F), a["attr.thresholds_"][1:]]),
     "thresholds_"),  # an overlong varint
    (lambda h, a: a.__setitem__("attr.thresholds_", np.r_[
        np.uint8(0x80), np.uint8(0), a["attr.thresholds_"][1:]]),
     "thresholds_"),  # not canonical
    (lambda h, a: a.__setitem__("attr.levels_", a["attr.levels_"].astype(np.int16)), "levels_"),
    (_spec("levels_", "order", 3), "levels_"),
    (_spec("levels_", "order", True), "levels_"),
    (_spec("levels_", "dtype", "<i4"), "levels_"),
    (_spec("levels_", "dtype", "<f8"), "levels_"),
    (_spec("levels_", "shape", [3, 65]), "levels_"),
    (_spec("levels_", "shape", [3, 64, 1]), "levels_"),
    (_spec("levels_", "midpoints_of", "levels_"), "levels_"),
    (_spec("thresholds_", "midpoints_of", "mse_"), "thresholds_"),
    (_spec("thresholds_", "midpoints_of", None), "thresholds_"),
    (_spec("thresholds_", "order", 1), "thresholds_"),
    (_spec("thresholds_", "extra", 1), "thresholds_"),
    (_spec("n_levels_", "type", "float_rows"), "n_levels_"),
    (_reorder, "thresholds_"),
])
def test_forged_float_rows(edit, field):
    """Edited bytes or fields of a compact codebook: the file loads into a working
    estimator, or ValueError names the attribute."""
    works_or_names(_rows_file(edit), field)


def test_float_rows_is_not_a_parameter_type():
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    header["estimator"]["params"]["tol"] = {"type": "float_rows", "dtype": "<f8",
                                            "shape": [1, 1], "order": 0,
                                            "midpoints_of": None}
    arrays["param.tol"] = np.zeros(1, np.uint8)
    with pytest.raises(ValueError, match="parameter tol: float_rows is a fitted attribute"):
        skquant.load(io.BytesIO(forge(header, arrays)))


# ------------------------------------------------ entropy-coded codes (8 lanes, v4)
def _coded_file(n=2**17, d=1):
    """A valid entropy-coded file of 8-lane chunks (``n * d >= 2**17`` values):
    ``(header, arrays, stream member bytes)``."""
    pytest.importorskip("constriction")
    Xc = np.random.default_rng(5).standard_normal((n, d))
    q = skquant.UniformClipQuantizer(n_bits=2, encode="ordinal").fit(Xc)
    buf = io.BytesIO()
    _io.write(buf, q, codes=q.transform(Xc), coding="entropy", container="zip")
    header, arrays = _members(buf.getvalue())
    assert header["codes"]["coder"] == _coding.CODER
    if _coding.STREAM in arrays:  # a small stream (format 5): made its own member
        words = arrays.pop(_coding.STREAM)
        header["codes"]["stream_sha256"] = hashlib.sha256(words.tobytes()).hexdigest()
        return header, arrays, _io._npy_bytes(words)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        stream = zf.read(_coding.STREAM_NPY)
    return header, arrays, stream


def _forge_coded(header, arrays, words, n, counts, offsets):
    """The file of ``_coded_file`` declaring ``n`` rows of one feature whose used
    codes 0 .. have ``counts``, the chunk table ``offsets`` and stream ``words``."""
    h, a = json.loads(json.dumps(header)), dict(arrays)
    words = np.asarray(words, dtype="<u4")
    h["codes"].update(shape=[n, 1], symbols=[len(counts)],
                      stream_sha256=hashlib.sha256(words.tobytes()).hexdigest())
    a["codes.table"] = _coding.write_varints(np.ravel([[0, c - 1] for c in counts]))
    a["codes.chunks"] = np.asarray(offsets, dtype=np.int64)
    member = _coding.stream_member_bytes(words) + words.tobytes()
    return forge(h, a, extra=[(_coding.STREAM_NPY, member)])


def _peak(f):
    tracemalloc.start()
    try:
        try:
            out = f()
        except ValueError as exc:
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _every_reader(data):
    """(outcome, peak) of load, read (whole) and read(stream=True).blocks()."""
    def blocks():
        for _ in _io.read(io.BytesIO(data), stream=True).blocks():
            pass
    return [_peak(lambda: skquant.load(io.BytesIO(data))),
            _peak(lambda: _io.read(io.BytesIO(data))), _peak(blocks)]


def test_many_rows_over_empty_lanes_are_refused_before_allocating():
    """The chunk table gives 64 chunks of 2**20 rows (2**26 codes, 64 MiB) to lanes
    without words, which decode to the first used code only: refused from the table
    and the chunk offsets, before any code is allocated, by every reader."""
    header, arrays, _ = _coded_file()
    rows = header["codes"]["chunk_rows"]
    n = 64 * rows
    data = _forge_coded(header, arrays, [], n, [n - 1, 1], np.zeros(64 * 8 + 1))
    assert len(data) < 4096
    for out, peak in _every_reader(data):
        assert isinstance(out, ValueError) and "codes.chunks.npy" in str(out), out
        assert "lanes without words" in str(out) and peak < 2**20, (out, peak)


def test_few_words_declaring_many_rows_allocate_only_what_they_decode_to():
    """A valid stream (one word in one lane: a single code 1 among 2**24 codes 0) is
    a file whose codes compress 2**20-fold: load checks it and allocates nothing in
    proportion to its rows; the chunks stream in bounded memory; decoding it whole
    gives the codes, joined from checked chunks."""
    import constriction

    header, arrays, _ = _coded_file()
    rows = header["codes"]["chunk_rows"]
    n = 16 * rows
    lane = np.zeros(-(-rows // 8), np.int32)
    lane[-1] = 1
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(lane, _coding._model(constriction, [n - 1, 1]))
    words = coder.get_compressed()
    offsets = np.r_[0, np.full(16 * 8, words.size)]
    data = _forge_coded(header, arrays, words, n, [n - 1, 1], offsets)
    (est, p_load), (enc, p_read), (_, p_blocks) = _every_reader(data)
    assert isinstance(est, skquant.UniformClipQuantizer) and p_load < 2**20
    # two batches of uint8 codes (the caller holds the last block while the next is
    # decoded) and the decoder's per-thread scratch: not the 16 MiB of all codes
    assert p_blocks < 3.5 * _coding.BATCH_VALUES
    assert enc.codes.shape == (n, 1) and int(enc.codes.sum()) == 1
    assert enc.codes[8 * (lane.size - 1), 0] == 1
    # a second code 1 the table does not have: refused while decoding
    bad = _forge_coded(header, arrays, words, n, [n - 2, 2], offsets)
    for out, peak in _every_reader(bad)[1:]:
        assert isinstance(out, ValueError) and "codes.stream.npy" in str(out), out
    # decompress: the reconstruction joined from checked blocks, and refused likewise
    Y = skquant.decompress(io.BytesIO(data))
    assert Y.shape == (n, 1) and np.unique(Y).size == 2
    with pytest.raises(ValueError, match=r"codes\.stream\.npy"):
        skquant.decompress(io.BytesIO(bad))


@pytest.mark.parametrize("edit, match", [
    # a word in a lane without rows (the last chunk has one row: lanes 1 .. 7 are empty)
    (lambda n, r: (n + 1, [n - 1 + 1, 1], "last lane"), r"codes\.chunks\.npy: lane 7"),
    # more words in the chunk table than the stream holds, and fewer
    (lambda n, r: (n, [n - 1, 1], "more"), r"codes\.stream\.npy: the stream holds"),
    (lambda n, r: (n, [n - 1, 1], "fewer"), r"codes\.stream\.npy: the stream holds"),
    # no feature coded (one code each), yet words in the stream
    (lambda n, r: (n, [n], "words"), r"codes\.chunks\.npy: stream offsets must .* 0 words"),
])
def test_chunk_offsets_against_rows_and_words(edit, match):
    import constriction

    header, arrays, _ = _coded_file()
    rows = header["codes"]["chunk_rows"]
    n, counts, how = edit(8 * rows, rows)
    coder = constriction.stream.stack.AnsCoder()
    sym = np.zeros(rows // 8, np.int32)
    sym[0] = 1
    coder.encode_reverse(sym, _coding._model(constriction, [8 * rows - 1, 1]))
    words = coder.get_compressed()
    n_chunks = -(-n // rows)
    offsets = np.r_[0, np.full(8 * n_chunks, words.size)]
    if how == "last lane":
        offsets[-1] += 1
        words = np.r_[words, 1]
    elif how == "more":
        offsets[-1] += 2
    elif how == "fewer":
        words = np.r_[words, 1]
    data = _forge_coded(header, arrays, words, n, counts, offsets)
    for out, _ in _every_reader(data):
        assert isinstance(out, ValueError), out
        assert __import__("re").search(match, str(out)), out


@pytest.mark.parametrize("shape", [[2**70, 1], [2**63, 1], [-1, 1], [1.5, 1], [True, 1],
                                   [2**17, 2**40], "2**17", [2**17], None])
def test_coded_shape_out_of_range(shape):
    header, arrays, stream = _coded_file()
    header["codes"]["shape"] = shape
    data = forge(header, dict(arrays), extra=[(_coding.STREAM_NPY, stream)])
    for out, peak in _every_reader(data):
        assert isinstance(out, ValueError) and "codes" in str(out), out
        assert peak < 2**20


# ------------------------------------- version 5: the flat model, the stream in the state
def _coded(rows=200, adaptive=False):
    """A small entropy-coded file (its stream in the state; features 0 and 1 under
    the flat model, feature 2 under its table, or with ``adaptive`` under the adaptive
    model of version 7) as header and arrays."""
    pytest.importorskip("constriction")
    from unittest import mock

    rng = np.random.default_rng(5)
    Z = np.c_[rng.standard_normal((rows, 2)), rng.laplace(size=rows) * 1e-3]
    q = skquant.UniformClipQuantizer(n_levels=[200, 150, 3]).fit(Z)
    buf = io.BytesIO()
    # without adaptive features (the models of version 5): no file may have them
    with mock.patch.object(_coding, "ADAPTIVE_MAX_ROWS", rows if adaptive else 0):
        _io.write(buf, q, codes=q.transform(Z), coding="entropy", container="zip")
    header, arrays = _members(buf.getvalue())
    assert header["codes"]["flat"] == [0, 1] and _coding.STREAM in arrays
    assert header["codes"]["adaptive"] == ([-1, -1, header["codes"]["adaptive"][2]]
                                           if adaptive else [])
    assert (_coding.ADAPTIVE in arrays) == adaptive
    assert "stream_sha256" not in header["codes"]
    return q, Z, header, arrays


def test_a_small_stream_is_in_the_state_and_loads_bit_for_bit():
    q, Z, header, arrays = _coded()
    enc = _io.read(io.BytesIO(forge(header, arrays)))
    assert np.array_equal(enc.codes, q.transform(Z))
    with zipfile.ZipFile(io.BytesIO(forge(header, arrays))) as zf:
        assert zf.namelist() == [_io.HEADER, _io.STATE_NPY]


def _codes_field(key, value):
    def edit(header, arrays):
        if value is KeyError:
            del header["codes"][key]
        else:
            header["codes"][key] = value
    return edit


def _edit_array(key, fn):
    def edit(header, arrays):
        arrays[key] = fn(arrays[key])
    return edit


def _flip_word(words):
    out = words.copy()
    out[len(out) // 2] ^= np.uint32(1 << 7)
    return out


@pytest.mark.parametrize("edit, field", [
    (_codes_field("flat", [5]), "flat"),
    (_codes_field("flat", [1, 0]), "flat"),
    (_codes_field("flat", [0, 0]), "flat"),
    (_codes_field("flat", ["0"]), "flat"),
    (_codes_field("flat", {"0": 1}), "flat"),
    (_codes_field("flat", [True]), "flat"),
    (_codes_field("flat", [0, 1, 2]), "codes.table.npy"),  # feature 2 has a table
    (_codes_field("flat", [0]), "codes.table.npy"),  # feature 1 has no table
    (_codes_field("flat", []), "codes.table.npy"),
    (_codes_field("flat", KeyError), "flat"),
    (_codes_field("symbols", [199, 150, 3]), "column 0"),
    (_codes_field("symbols", [2**17, 150, 3]), "symbols"),
    (_codes_field("stream_sha256", "0" * 64), "stream_sha256"),
    (_edit_array(_coding.STREAM, lambda w: w.astype("<f4")), "codes.stream"),
    (_edit_array(_coding.STREAM, lambda w: w.astype("<u8")), "codes.stream"),
    (_edit_array(_coding.STREAM, lambda w: w.reshape(1, -1)), "codes.stream"),
    (_edit_array(_coding.STREAM, lambda w: w[:-1]), "codes.stream"),
    (_edit_array(_coding.STREAM, lambda w: np.r_[w, np.uint32(7)]), "codes.stream"),
    (_edit_array(_coding.STREAM, lambda w: np.zeros(10**6, "<u4")), "codes.stream"),
    (_edit_array(_coding.STREAM, _flip_word), "codes.stream"),
])
def test_forged_flat_and_state_stream(edit, field):
    """Version 5's fields edited, the digest recomputed: the file loads into a working
    estimator with codes within its levels, or ValueError names the field."""
    q, Z, header, arrays = _coded()
    edit(header, arrays)
    data = forge(header, arrays)
    try:
        enc = _io.read(io.BytesIO(data))
    except ValueError as exc:
        assert field in str(exc) and "\n" not in str(exc), str(exc)
        return
    assert np.all(enc.codes < enc.estimator.n_levels_)
    works_or_names(data, field)


def test_version_5_fields_are_refused_in_older_files():
    q, Z, header, arrays = _coded()
    with pytest.raises(ValueError, match="bad or repeated array name 'codes.stream'"):
        skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays),
                                      version=4)))
    arrays = dict(arrays)
    stream = arrays.pop(_coding.STREAM)
    header["codes"]["stream_sha256"] = __import__("hashlib").sha256(
        stream.tobytes()).hexdigest()
    member = [(_coding.STREAM_NPY, _io._npy_bytes(stream))]
    # version 5's flat and version 7's adaptive (here [])
    with pytest.raises(ValueError, match=r"unexpected field\(s\) \['adaptive', 'flat'\]"):
        skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), arrays, extra=member,
                                      version=4)))
    # the stream both as a member and as an array of the state
    arrays[_coding.STREAM] = stream
    with pytest.raises(ValueError, match="both a member and an array"):
        skquant.load(io.BytesIO(forge(header, arrays, extra=member)))


# ------------------------------------------------- version 7: the adaptive model
def _flip_byte(stream):
    out = stream.copy()
    out[len(out) // 2] ^= np.uint8(1 << 3)
    return out


@pytest.mark.parametrize("edit, field", [
    (_codes_field("adaptive", [-1, -1, 7]), "adaptive"),  # shift 7
    (_codes_field("adaptive", [-1, -1, 63]), "adaptive"),
    (_codes_field("adaptive", [-1, -1, -2]), "adaptive"),
    (_codes_field("adaptive", [-1, -1, -1]), "adaptive"),
    (_codes_field("adaptive", [-1, -1, "0"]), "adaptive"),
    (_codes_field("adaptive", [-1, -1, True]), "adaptive"),
    (_codes_field("adaptive", [0]), "adaptive"),
    (_codes_field("adaptive", {"2": 0}), "adaptive"),
    (_codes_field("adaptive", []), "codes.adaptive"),  # the array without its features
    (_codes_field("adaptive", KeyError), "adaptive"),
    (_codes_field("adaptive", [0, -1, 0]), "adaptive"),  # feature 0 is flat
    (_codes_field("adaptive", [-1, 0, 0]), "adaptive"),
    # halvings (r = 1) on a feature of 150 codes (at most 2**6)
    (lambda h, a: h["codes"].update(flat=[0], adaptive=[-1, 8, 0]), "adaptive"),
    (_codes_field("flat", [0, 1, 2]), "adaptive"),
    (_codes_field("symbols", [200, 150, 2]), "adaptive"),
    (_codes_field("shape", [400, 3]), "codes"),
    (_edit_array(_coding.ADAPTIVE, lambda a: a.astype("<u2")), "codes.adaptive"),
    (_edit_array(_coding.ADAPTIVE, lambda a: a.reshape(1, -1)), "codes.adaptive"),
    (_edit_array(_coding.ADAPTIVE, lambda a: a[:-1]), "codes.adaptive"),
    (_edit_array(_coding.ADAPTIVE, lambda a: a[:1]), "codes.adaptive"),
    (_edit_array(_coding.ADAPTIVE, lambda a: np.r_[a, np.uint8(0)]), "codes.adaptive"),
    (_edit_array(_coding.ADAPTIVE, lambda a: np.zeros(10**5, "u1")), "codes.adaptive"),
    (_edit_array(_coding.ADAPTIVE, _flip_byte), "codes.adaptive"),
    (lambda header, arrays: arrays.pop(_coding.ADAPTIVE), "codes.adaptive"),
])
def test_forged_adaptive_members_are_refused_naming_the_field(edit, field):
    """Version 7's ``adaptive`` field and ``codes.adaptive`` array edited, the digest
    recomputed: ValueError names the field (or the file loads into a working estimator
    with codes within its levels: another valid shift)."""
    q, Z, header, arrays = _coded(adaptive=True)
    assert np.array_equal(_io.read(io.BytesIO(forge(json.loads(json.dumps(header)),
                                                    dict(arrays)))).codes, q.transform(Z))
    edit(header, arrays)
    data = forge(header, arrays)
    with pytest.raises(ValueError) as exc:
        _io.read(io.BytesIO(data))
    assert field in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_another_valid_shift_decodes_to_other_codes_or_is_refused():
    """The stream decodes under any parameter; a reader refuses it unless it is exactly
    the encoding of what it decodes to (then the codes are within their levels)."""
    q, Z, header, arrays = _coded(adaptive=True)
    shift = header["codes"]["adaptive"][2]
    for other in range(8 * _coding.MAX_RESCALE + 8):
        if other == shift or not _coding.adaptive_param_ok(other, 3):
            continue
        header["codes"]["adaptive"][2] = other
        try:
            enc = _io.read(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays))))
        except ValueError as exc:
            assert "codes.adaptive" in str(exc)
        else:
            assert np.all(enc.codes < enc.estimator.n_levels_)


def test_version_7_adaptive_is_refused_in_older_files():
    q, Z, header, arrays = _coded(adaptive=True)
    with pytest.raises(ValueError, match="bad or repeated array name 'codes.adaptive'"):
        skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays),
                                      version=6)))
    arrays = dict(arrays)
    arrays.pop(_coding.ADAPTIVE)
    header["codes"]["adaptive"] = []
    with pytest.raises(ValueError, match=r"unexpected field\(s\) \['adaptive'\]"):
        skquant.load(io.BytesIO(forge(header, arrays, version=6)))


def _header_paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _header_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _header_paths(v, path + (i,))


def _replaced(header, path, value):
    """A deep copy of the JSON ``header`` with the node at ``path`` set to ``value``."""
    h = json.loads(json.dumps(header))
    node = h
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return h


def _with_header(data, header):
    """``data`` with its header replaced, the digest recomputed as documented."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
        arrays = _io._unpack_state(zf, json.loads(members[_io.HEADER])["arrays"])
    try:
        header["sha256"] = _io._digest(header, arrays)
    except Exception:  # a header the digest cannot even be taken of: left as it is
        pass
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, json.dumps(header) if name == _io.HEADER else blob)
    return buf.getvalue()


@pytest.mark.parametrize("coding", [None, "packed", "entropy"])
def test_every_header_field_gets_hostile_values(coding):
    """Every node of a version-4 header (the estimator's fields, the codes' fields, the
    arrays manifest) replaced by hostile JSON -- null, a boolean, negative and huge
    integers, a fraction, "nan", a string, empty and one-element lists, an object --
    with the digest recomputed: the file loads into a working estimator whose codes
    read, or ValueError names the edited field (or the object holding it)."""
    if coding == "entropy":
        pytest.importorskip("constriction")
    est = skquant.LloydMaxQuantizer(n_bits=2, encode="ordinal").fit(X)
    buf = io.BytesIO()
    _io.write(buf, est, codes=None if coding is None else est.transform(X),
              coding=coding or "packed", container="zip")
    data = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read(_io.HEADER))
    hostile = [None, True, -1, 2**64, 1.5, "nan", "x", [], [1], {}]
    checked = 0
    for path in list(_header_paths(header))[1:]:
        if path == ("sha256",):
            continue
        names = [str(k) for k in path if isinstance(k, str)]
        if path[0] == "arrays" and len(path) > 1:  # an entry names its array
            names.append(header["arrays"][path[1]][0])
        for value in hostile:
            h = _replaced(header, path, value)
            forged = _with_header(data, h)
            try:
                works_or_names(forged, "")
                if coding is not None:
                    _io.read(io.BytesIO(forged))
            except ValueError as exc:
                message = str(exc)
                assert "\n" not in message
                short = [n.rstrip("_").split(".")[-1].rstrip("s") for n in names]
                assert any(n in message for n in short + ["header.json", "checksum",
                                                          "format"]), (path, value, message)
            checked += 1
    assert checked > 100


FIXTURES = Path(__file__).parent / "fixtures"
OLD_FILES = [sorted((FIXTURES / f"format_v{v}").glob("*codes*.skq"))[:1]
             or sorted((FIXTURES / f"format_v{v}").glob("*.skq"))[:1] for v in (1, 2, 3)]
OLD_FILES += [sorted((FIXTURES / "format_v3").glob("*entropy*.skq"))[:1]]


@pytest.mark.parametrize("path", [p for files in OLD_FILES for p in files],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_header_field_of_older_versions_gets_hostile_values(path):
    """The same for files of format versions 1 to 3 (one member per array, the digest
    over the members' arrays): a working estimator, or a one-line ValueError naming
    the field (or the object holding it)."""
    if "entropy" in path.stem:
        pytest.importorskip("constriction")
    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {m: zf.read(m) for m in zf.namelist()}
    header = json.loads(members[_io.HEADER])
    arrays = {m[:-4]: np.load(io.BytesIO(b)) for m, b in members.items()
              if m.endswith(".npy") and m != _coding.STREAM_NPY}
    checked = 0
    for field in list(_header_paths(header))[1:]:
        if field == ("sha256",):
            continue
        names = [str(k).rstrip("_").split(".")[-1].rstrip("s") for k in field
                 if isinstance(k, str)]
        for value in (None, -1, 2**64, "nan", [1], {}):
            h = json.loads(json.dumps(header))
            node = h
            for k in field[:-1]:
                node = node[k]
            node[field[-1]] = value
            try:
                h["sha256"] = _io._digest(h, arrays)
            except Exception:
                pass
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                for m, b in members.items():
                    zf.writestr(m, json.dumps(h) if m == _io.HEADER else b)
            try:
                works_or_names(buf.getvalue(), "")
                _io.read(io.BytesIO(buf.getvalue()))
            except ValueError as exc:
                message = str(exc)
                assert "\n" not in message
                assert any(n in message for n in names + ["header.json", "checksum",
                                                          "format"]), (field, value, message)
            checked += 1
    assert checked > 50


# ------------------------------------------- version 6: the compact container
def compact_members(data, raw=False):
    """``(header, arrays, stream)`` of a compact file: its short header, its arrays as
    read (``used_rows`` as their varints) and the bytes after the body (and, ``raw``,
    the arrays' bytes as stored)."""
    assert data[:3] == _io.MAGIC
    inflate = __import__("zlib").decompressobj(-15, zdict=_io.COMPACT_DICTIONARY)
    body = inflate.decompress(data[_io._COMPACT_HEAD:])
    stream = inflate.unused_data
    length, at, shift = 0, 0, 0
    while True:
        byte = body[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
    header = json.loads(body[at:at + length])
    d = header.get("a", {}).get("n_features_in_")
    state, arrays = body[at + length:], {}
    stored_bytes = state
    for e in header["m"]:
        name, stored = e[0], np.dtype(e[1])
        shape = tuple(e[2]) if len(e) > 2 else (d,)
        read = np.dtype(e[3]) if len(e) > 3 else (
            stored if len(e) > 2 else np.dtype(_io._DEFAULT_READ[stored.kind]))
        n = int(np.prod(shape)) * stored.itemsize
        arrays[name] = np.frombuffer(state[:n], dtype=stored).reshape(shape).astype(read)
        state = state[n:]
    assert not state
    return (header, arrays, stream, stored_bytes) if raw else (header, arrays, stream)


def forge_compact(header, arrays, stream=b"", digest=True, manifest=True, version=None,
                  state=None):
    """A compact file of ``header`` (short form) and ``arrays``, its manifest (``m``,
    unless ``manifest`` is false) and digest recomputed as doc/file_format.rst says;
    ``state``: the arrays' bytes as given (the header's manifest kept)."""
    import zlib

    keys = sorted(arrays)
    if manifest:
        header = {**header, "m": [[k, arrays[k].dtype.str, list(arrays[k].shape)]
                                  for k in keys]}
    text = json.dumps(header, separators=(",", ":")).encode()
    if state is None:
        state = b"".join(np.ascontiguousarray(arrays[k]).tobytes() for k in keys)
    body = bytes(_coding.write_varints([len(text)])) + text + state
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                            _io.COMPACT_DICTIONARY)
    packed = comp.compress(body) + comp.flush()
    sha = hashlib.sha256(packed).digest()[:_io._DIGEST_BYTES] if digest else b"\0" * 16
    return (_io.MAGIC + bytes([_io.FORMAT_VERSION if version is None else version]) + sha
            + packed + stream)


def _compact_file(est, coding="entropy", data=X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = clone(est).fit(data)
    buf = io.BytesIO()
    _io.write(buf, est, codes=est.transform(data) if coding else None, coding=coding or
              "packed", container="compact")
    return est, buf.getvalue()


def _read_all(data):
    """Every reader on ``data``: load, read (whole) and decompress; ValueError or not."""
    skquant.load(io.BytesIO(data))
    enc = _io.read(io.BytesIO(data))
    if enc.codes is not None:
        assert np.all(enc.codes < enc.estimator.n_levels_)
        skquant.decompress(io.BytesIO(data))


SCALAR = [(v, e) for v, e in VARIANTS if isinstance(e, BaseScalarQuantizer)]


@pytest.mark.parametrize("vid, est", SCALAR, ids=[v for v, _ in SCALAR])
def test_compact_files_round_trip_bit_for_bit(vid, est):
    """Every scalar variant, float64 and float32, both codings: the compact file's
    estimator transforms and inverse-transforms as the saved one, bit for bit, and
    decompress gives inverse_transform(transform(X)); its re-forged twin (manifest and
    digest recomputed) is the same file's content."""
    est = clone(est).set_params(encode="ordinal")
    Z = np.random.default_rng(3).standard_normal((25, 3)) * 2
    for dtype in (np.float64, np.float32):
        for coding in ("entropy", "packed"):
            q, data = _compact_file(est, coding, X.astype(dtype))
            assert data[:4] == _io.MAGIC + bytes([_io.FORMAT_VERSION])
            loaded = skquant.load(io.BytesIO(data))
            assert np.array_equal(loaded.transform(Z.astype(dtype)), q.transform(Z.astype(dtype)))
            codes = q.transform(X.astype(dtype))
            assert np.array_equal(loaded.inverse_transform(codes), q.inverse_transform(codes))
            assert np.array_equal(skquant.decompress(io.BytesIO(data)),
                                  q.inverse_transform(codes))
            header, arrays, stream = compact_members(data)
            again = forge_compact(header, arrays, stream)
            assert np.array_equal(_io.read(io.BytesIO(again)).codes, codes)


def test_compact_files_keep_what_methods_read_and_round_mse():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((200, 3)) * [1e-3, 1.0, 1e6]
    q = skquant.UniformClipQuantizer(n_bits=5, mode="midtread").fit(Z)
    buf = io.BytesIO()
    skquant.compress(Z, buf, q)
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    assert not hasattr(loaded, "clip_min_") and not hasattr(loaded, "clip_gap_")
    assert np.array_equal(loaded.scale_, q.scale_)  # midtread's transform reads it
    assert np.array_equal(loaded.zero_point_, q.zero_point_)
    assert np.allclose(loaded.mse_, q.mse_, rtol=2**-10) and loaded.mse_.dtype == np.float64
    assert not np.array_equal(loaded.mse_, q.mse_)  # rounded
    # save keeps every attribute
    buf = io.BytesIO()
    skquant.save(q, buf)
    assert np.array_equal(skquant.load(io.BytesIO(buf.getvalue())).clip_min_, q.clip_min_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decimal_rows_come_back_bit_for_bit(dtype):
    """Columns of decimal numbers stored exactly (one level per distinct value) are
    decimal rows: 1 .. 4 decimals, negative values, a signed zero (not decimal: a row
    of residuals), integers; each level comes back bit for bit and costs about a
    byte (a -0.0 level once came back as 0.0)."""
    rng = np.random.default_rng(0)
    cols = [np.round(rng.uniform(-5, 5, 300), 1) + 0.0, np.round(rng.uniform(0, 1, 300), 4),
            np.round(rng.uniform(100, 1000, 300)), np.r_[-0.0, np.round(rng.normal(size=299), 2)]]
    Z = np.column_stack(cols).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = skquant.UniformClipQuantizer(n_bits=12).fit(Z)
    buf = io.BytesIO()
    skquant.compress(Z, buf, q)
    header, arrays, _ = compact_members(buf.getvalue())
    decimals = header["a"]["levels_"]["decimals"]
    assert decimals == [1, 4, 0, -1]  # -0.0 is not a decimal number
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    assert np.array_equal(loaded.levels_.view(np.uint8), q.levels_.view(np.uint8))
    assert np.array_equal(loaded.thresholds_.view(np.uint8), q.thresholds_.view(np.uint8))
    buf = io.BytesIO()  # the decimal columns alone: about a byte a level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = skquant.compress(Z[:, :3], buf, skquant.UniformClipQuantizer(n_bits=12))
    _, arrays, _ = compact_members(buf.getvalue())
    assert arrays["attr.levels_"].size < 1.2 * q.n_levels_.sum()


def _hostile_compact(data, field_ok=()):
    """Every node of the short header of ``data`` replaced by hostile JSON, the
    manifest kept and the digest recomputed: each file loads into a working estimator
    whose codes read, or ValueError names the field (or the object holding it)."""
    header, arrays, stream, state = compact_members(data, raw=True)
    hostile = [None, True, -1, 2**64, 1.5, "nan", "x", [], [1], {}]
    checked = 0
    for path in list(_header_paths(header))[1:]:
        names = [str(k) for k in path if isinstance(k, str)]
        if path[0] == "m" and len(path) > 1:
            names.append(header["m"][path[1]][0])
        for value in hostile:
            h = _replaced(header, path, value)
            forged = forge_compact(h, arrays, stream, manifest=False, state=state)
            try:
                works_or_names(forged, "")
                _read_all(forged)
            except ValueError as exc:
                message = str(exc)
                assert "\n" not in message
                short = [n.rstrip("_").split(".")[-1].rstrip("s") for n in names]
                short += {"c": ["class"], "p": ["param"], "a": ["attribute", "n_features"],
                          "x": ["codes"], "m": ["arrays", "manifest", "dtype"]}.get(
                              path[0], [])
                assert any(n in message for n in short + ["header", "format", *field_ok]), (
                    path, value, message)
            checked += 1
    return checked


@pytest.mark.parametrize("coding", [None, "packed", "entropy"])
def test_every_compact_header_field_gets_hostile_values(coding):
    if coding == "entropy":
        pytest.importorskip("constriction")
    est = skquant.LloydMaxQuantizer(n_levels=[3, 4, 5], encode="ordinal")
    _, data = _compact_file(est, coding)
    assert _hostile_compact(data) > 100


def test_every_compact_array_mutated():
    """Every array of a compact file (used_rows varints, n_levels_, the stream in the
    body, ...) mutated as the ZIP files' are, digest recomputed: a working estimator
    or ValueError naming the array or what it holds."""
    pytest.importorskip("constriction")
    for est in (skquant.UniformClipQuantizer(n_levels=[3, 4, 5], mode="midtread"),
                skquant.DeadZoneQuantizer(n_levels=7)):
        _, data = _compact_file(est, "entropy")
        header, arrays, stream = compact_members(data)
        for key in sorted(arrays):
            base = arrays[key]
            muts = list(_mutations(base.astype(np.int64) if base.dtype.kind == "u" else base)
                        .values())
            if base.dtype.kind == "u":  # the same dtype, other values
                muts += [np.zeros_like(base), np.full_like(base, np.iinfo(base.dtype).max)]
            for arr in muts:
                forged = forge_compact(header, {**arrays, key: arr}, stream)
                try:
                    _read_all(forged)
                    works_or_names(forged, "")
                except ValueError as exc:
                    name = key.split(".", 1)[-1].rstrip("_")
                    assert "\n" not in str(exc)
                    assert any(n in str(exc) for n in (
                        name, "arrays", "body", "manifest", "codes", "levels", "thresholds",
                        "n_features_in_")), (key, str(exc))


@pytest.mark.parametrize("edit, field", [
    (lambda h, a: h["a"]["levels_"].update(decimals=[1, 1]), "decimals"),
    (lambda h, a: h["a"]["levels_"].update(decimals=[16, 1, 1]), "decimals"),
    (lambda h, a: h["a"]["levels_"].update(decimals=[True, 1, 1]), "decimals"),
    (lambda h, a: h["a"]["levels_"].update(decimals=[1, 1, 1]), "levels_"),
    (lambda h, a: h["a"]["levels_"].update(order=3), "order"),
    (lambda h, a: h["a"]["levels_"].update(dtype="<i8"), "dtype"),
    (lambda h, a: h["a"]["levels_"].update(extra=1), "levels_"),
    (lambda h, a: h["a"]["thresholds_"].update(type="float_rows"), "thresholds_"),
    (lambda h, a: h["a"].pop("thresholds_"), "thresholds_"),
    (lambda h, a: a.update({"attr.max_levels_": np.full(3, 2**16, np.int64)}),
     "levels_"),
    (lambda h, a: a.update({"attr.max_levels_": np.full(3, 2**17, np.int64)}),
     "max_levels_"),
    (lambda h, a: a.update({"attr.n_levels_": np.array([0, 1, 1])}), "n_levels_"),
    (lambda h, a: a.update({"attr.n_levels_": np.array([1, 2])}), "n_levels_"),
    (lambda h, a: a.update({"attr.levels_": a["attr.levels_"][:-1]}), "levels_"),
    (lambda h, a: a.update({"attr.thresholds_": np.r_[a["attr.thresholds_"],
                                                      np.uint8(0)]}), "thresholds_"),
    (lambda h, a: a.update({"attr.levels_": np.full(a["attr.levels_"].size, 0x7F,
                                                    np.uint8)}), "levels_"),
])
def test_forged_used_rows(edit, field):
    """The compact codebook edited, the digest recomputed: refused naming the field,
    or an estimator that works; never a dense codebook out of proportion to the file."""
    _, data = _compact_file(skquant.UniformClipQuantizer(n_levels=[5, 6, 7]), "packed")
    header, arrays, stream = compact_members(data)
    assert header["a"]["levels_"]["type"] == "used_rows"
    header["a"]["levels_"].setdefault("decimals", [-1, -1, -1])
    edit(header, arrays)
    forged = forge_compact(header, arrays, stream)
    out, peak = _peak(lambda: _read_all(forged))
    assert peak < 2**23
    if isinstance(out, ValueError):
        assert field in str(out) and "\n" not in str(out), str(out)
    else:
        works_or_names(forged, field)


def test_compact_container_damage_is_refused():
    """Magic, version, digest, truncation, trailing bytes, a body that inflates past
    DEFLATE's bound, a stream declared but missing: each a one-line ValueError."""
    import zlib

    _, data = _compact_file(skquant.LloydMaxQuantizer(n_bits=2), "entropy")
    header, arrays, stream = compact_members(data)
    cases = {
        "newer": (data[:3] + bytes([_io.FORMAT_VERSION + 1]) + data[4:],
                  "newer than this skquant reads"),
        "older": (data[:3] + b"\x05" + data[4:], "format_version"),
        "digest": (data[:5] + bytes([data[5] ^ 1]) + data[6:], "checksum"),
        "trailing": (data + b"\0" * 8, "after the body"),
        "no digest": (data[:10], "truncated"),
        "no body": (data[:_io._COMPACT_HEAD], "truncated"),
    }
    for cut in (0.3, 0.6, 0.95):
        cases[f"cut {cut}"] = (data[:int(len(data) * cut)], "")
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = comp.compress(b"\0" * 2**22) + comp.flush()  # 4 MiB from 4 kB: refused
    cases["zeros"] = (_io.MAGIC + b"\x06" + hashlib.sha256(zeros).digest()[:16] + zeros,
                      "header")
    skquant.load(io.BytesIO(data))  # warm-up: the class's schema is built once
    for name, (blob, match) in cases.items():
        out, peak = _peak(lambda blob=blob: skquant.load(io.BytesIO(blob)))
        assert isinstance(out, ValueError) and match in str(out), (name, out)
        assert "\n" not in str(out), (name, out)
        assert peak < 1032 * len(blob) + 2**22, (name, peak)  # the fuzzer's bound
    # the stream after the body: only with stream_sha256 (above 64 KiB)
    a = dict(arrays)
    words = a.pop(_coding.STREAM)
    a[_coding.CHUNKS] = np.array([0, words.size], dtype=np.int64)  # no default then
    h = json.loads(json.dumps(header))
    h["x"]["stream_sha256"] = hashlib.sha256(words.tobytes()).hexdigest()
    h["x"]["coder"] = _coding.CODER_SINGLE
    moved = forge_compact(h, a, words.tobytes())
    assert np.array_equal(_io.read(io.BytesIO(moved)).codes,
                          _io.read(io.BytesIO(data)).codes)
    for blob, match in ((forge_compact(h, a, words.tobytes()[:-1]), "whole words"),
                        (forge_compact(h, a, words.tobytes()[:-4]), "the stream holds"),
                        (forge_compact(h, a, words.tobytes()[::-1]), "codes.stream")):
        with pytest.raises(ValueError, match=match):
            _read_all(blob)


def test_compact_body_is_inflated_within_deflates_bound(monkeypatch):
    """The body is inflated to at most DEFLATE's bound of the file's bytes (1032-fold):
    with a bound of 1, a valid file whose body inflates 8-fold is refused."""
    _, data = _compact_file(skquant.LloydMaxQuantizer(n_bits=2), "packed",
                            np.tile(X[:2], (5000, 1)))  # 7.5 kB of codes in a small file
    assert len(data) < 1000
    skquant.load(io.BytesIO(data))
    monkeypatch.setattr(_io, "_MAX_EXPANSION", 1)
    with pytest.raises(ValueError, match="more than DEFLATE can expand to"):
        skquant.load(io.BytesIO(data))


def test_a_large_sparse_codebook_is_stored_dense():
    """A codebook whose dense form would be out of proportion to a compact file (14-bit
    levels, few used) is stored as in version 5 (float_rows), and loads. (At 16 bits
    even those decode beyond the file's bound: see the next tests.)"""
    Z = np.repeat(np.arange(5.0)[:, None], 20, axis=0) * [1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = skquant.UniformClipQuantizer(n_bits=14).fit(Z)
    buf = io.BytesIO()
    skquant.compress(Z, buf, q)
    header, _, _ = compact_members(buf.getvalue())
    assert header["a"]["levels_"]["type"] == "float_rows"
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    assert np.array_equal(loaded.levels_, q.levels_)
    assert np.array_equal(skquant.decompress(io.BytesIO(buf.getvalue())), q.inverse_transform(
        q.transform(Z)))


def _bomb_rows(h, a, n=2**22):
    """levels_ as float_rows of 3 x n/3 zero residuals (n one-byte varints, which
    DEFLATE packs about 1000-fold): 8 n bytes of levels from a file of a few kB."""
    h["estimator"]["attributes"]["levels_"]["shape"] = [3, n // 3]
    a["attr.levels_"] = np.zeros(3 * (n // 3), dtype=np.uint8)


def test_float_rows_decoding_beyond_deflates_bound_are_refused_before_allocating():
    """float_rows whose declared shape decodes to more than 1032 times the file (plus
    2 MiB) are refused naming the attribute, before the state is read (the peak is
    nothing like the 32 MiB the levels would take), in a ZIP and a compact file."""
    data = _rows_file(_bomb_rows)
    assert len(data) < 2**15
    for out, peak in _every_reader(data)[:2]:
        assert isinstance(out, ValueError), out
        assert "attribute levels_: decodes to 33554424 bytes" in str(out), out
        assert peak < 2**20, peak
    est, _ = _compact_file(skquant.UniformClipQuantizer(n_bits=6, clip="minmax"), None)
    short = {"c": "UniformClipQuantizer", "p": {"n_bits": 6, "clip": "minmax"},
             "a": {"n_features_in_": 3, "levels_": {
                 "type": "float_rows", "dtype": "<f8", "shape": [3, 2**22 // 3],
                 "order": 0, "midpoints_of": None}}}
    arrays = {"attr.levels_": np.zeros(3 * (2**22 // 3), dtype=np.uint8),
              "attr.thresholds_": est.thresholds_, "attr.n_levels_": est.n_levels_,
              "attr.max_levels_": est.max_levels_}
    data = forge_compact(short, arrays)
    assert len(data) < 2**15
    for out, peak in _every_reader(data)[:2]:
        assert isinstance(out, ValueError), out
        assert "attribute levels_: decodes to 33554424 bytes" in str(out), out
        # the body is inflated (4 MiB) to be parsed, no more
        assert peak < 5 * 2**20, peak


def test_the_bound_is_the_whole_files():
    """Just within the bound a forged file loads (or names the field), and the bound
    counts the file's bytes: the same float_rows from a file of a tenth the size (the
    varints of a larger bound) are refused."""
    n = 3 * 2**16  # 1.5 MiB of levels from 196608 one-byte varints
    works_or_names(_rows_file(lambda h, a: _bomb_rows(h, a, n)), "levels_")
    with pytest.raises(ValueError, match="attribute levels_: decodes to"):
        skquant.load(io.BytesIO(_rows_file(lambda h, a: _bomb_rows(h, a, 2**23))))


@pytest.mark.parametrize("container", ["zip", "compact"])
def test_a_codebook_compressing_beyond_deflates_bound_is_stored_less_compressed(container):
    """16-bit levels of an exact grid (3 features of 65536, 3 MiB with the thresholds)
    compress to a few hundred bytes, beyond what the loader accepts of so small a file:
    the writer stores the levels as a plain array (through DEFLATE: a ZIP file in
    either container), which loads to the same estimator within DEFLATE's bound."""
    Z = np.repeat(np.arange(5.0)[:, None], 20, axis=0) * [1, 2, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = skquant.UniformClipQuantizer(n_bits=16).fit(Z)
    buf = io.BytesIO()
    _io.write(buf, q, container=container)
    data = buf.getvalue()
    assert data[:2] == b"PK" and len(data) < 4096
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        attrs = json.loads(zf.read(_io.HEADER))["estimator"]["attributes"]
    assert attrs["levels_"]["type"] == "array"  # (and here thresholds_ too)
    decoded = q.levels_.nbytes + q.thresholds_.nbytes
    assert decoded > 1032 * len(data)  # what a float_rows file would need
    loaded, peak = _peak(lambda: skquant.load(io.BytesIO(data)))
    assert peak <= 1032 * len(data) + 2**22, peak
    for k in ("levels_", "thresholds_"):
        assert getattr(loaded, k).tobytes() == getattr(q, k).tobytes()
    assert np.array_equal(loaded.transform(Z), q.transform(Z))
