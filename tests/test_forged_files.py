"""Forged skquant files: header or arrays edited and the digest recomputed the way
``doc/file_format.rst`` describes. Each loads into an estimator whose transform,
inverse_transform and score work, or raises ValueError naming the field."""

import io
import json
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone

import skquant
from skquant import _io
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


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read(_io.HEADER))
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist()
                  if n != _io.HEADER}
    return header, arrays


def forge(header, arrays, method=zipfile.ZIP_DEFLATED, extra=(), digest=True):
    """A file of ``header`` and ``arrays``, the digest recomputed as documented."""
    if digest:
        header["sha256"] = _io._digest(header, arrays)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        zf.writestr(zipfile.ZipInfo(_io.HEADER), json.dumps(header), compress_type=method)
        for k in sorted(arrays):
            zf.writestr(zipfile.ZipInfo(k + ".npy"), _io._npy_bytes(arrays[k]),
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
    data = forge(header, arrays)
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


def test_duplicate_extra_and_strangely_named_members():
    header, arrays = _members(_saved(skquant.LloydMaxQuantizer(n_bits=2)))
    cases = [([("attr.levels_.npy", _io._npy_bytes(arrays["attr.levels_"]))], "duplicate"),
             ([("header.json", b"{}")], "duplicate"),
             ([("attr.surplus_.npy", _io._npy_bytes(np.zeros(3)))], "checksum mismatch"),
             ([("attr.a\nb.npy", b"x")], "unexpected member 'attr.a\\\\nb.npy'"),
             ([("../../etc/passwd", b"x")], "unexpected member")]
    for extra, match in cases:
        with pytest.raises(ValueError, match=match) as info:
            skquant.load(io.BytesIO(forge(json.loads(json.dumps(header)), dict(arrays),
                                          extra=extra)))
        assert "\n" not in str(info.value)


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
