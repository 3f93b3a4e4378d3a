"""skquant.save / skquant.load and the file format: exact round trips, no pickle, clear errors."""

import copy
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from sklearn.preprocessing import StandardScaler
from test_forged_files import _typed_header

import skquant
from skquant import _io
from skquant._registry import estimator_variants


def _estimators():
    """A fitted-estimator factory for every registered variant (skquant._registry),
    and cases of parameters the format must store (lists, tuples, arrays, scipy)."""
    cases = {
        name: (lambda cls=type(est), params=est.get_params(): cls(**params))
        for name, est in estimator_variants()
    }
    cases.update({
        "optimal-8bit": lambda: skquant.LloydMaxQuantizer(n_bits=8, algorithm="optimal"),
        "init-list": lambda: skquant.LloydMaxQuantizer(n_bits=2, init=[-1.0, 0.0, 0.5, 2.0]),
        "init-int-tuple": lambda: skquant.LloydMaxQuantizer(n_bits=2, init=(-2, -1, 1, 2)),
        "init-array": lambda: skquant.LloydMaxQuantizer(
            n_bits=2, init=np.array([[-1.0, 0.0, 0.5, 2.0]] * 3, dtype=np.float32)
        ),
        "per-feature-levels": lambda: skquant.LloydMaxQuantizer(n_levels=[3, 10, 7]),
        "gaussian": lambda: skquant.LloydMaxQuantizer(n_bits=4, distribution="gaussian"),
        "student-t": lambda: skquant.LloydMaxQuantizer(
            n_bits=3, distribution=scipy.stats.t(5, loc=0.5)
        ),
        "bsq-itq": lambda: skquant.BinarySphericalEncoder(
            n_bits=3, rotation="itq", center=True, random_state=0
        ),
        "uniform-midtread": lambda: skquant.UniformClipQuantizer(
            n_bits=8, mode="midtread", symmetric=False
        ),
        "mu-law": lambda: skquant.CompanderQuantizer(n_bits=4, compander="mu-law"),
    })
    return cases


CASES = _estimators()


@pytest.fixture
def X(rng):
    return np.c_[rng.standard_normal(600), rng.laplace(size=600), rng.uniform(-2, 5, 600)]


def _roundtrip(est):
    buf = io.BytesIO()
    skquant.save(est, buf)
    return skquant.load(io.BytesIO(buf.getvalue())), buf.getvalue()


def _same_params(a, b):
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys()
    for k in pa:
        if hasattr(pa[k], "dist"):  # a frozen scipy distribution
            assert (pa[k].dist.name, pa[k].args, pa[k].kwds) == (
                pb[k].dist.name, pb[k].args, pb[k].kwds
            )
        elif isinstance(pa[k], np.ndarray):
            np.testing.assert_array_equal(pa[k], pb[k])
        else:
            assert pa[k] == pb[k] and type(pa[k]) is type(pb[k]), k
            if isinstance(pa[k], (list, tuple)):
                assert [type(v) for v in pa[k]] == [type(v) for v in pb[k]], k


def _bit_identical(a, b):
    from scipy import sparse

    a, b = (x.toarray() if sparse.issparse(x) else np.asarray(x) for x in (a, b))
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_is_bit_identical(case, dtype, X):
    X = X.astype(dtype)
    est = CASES[case]().fit(X)
    loaded, data = _roundtrip(est)
    assert type(loaded) is type(est)
    _same_params(est, loaded)
    Xt = est.transform(X)
    _bit_identical(loaded.transform(X), Xt)
    if getattr(est, "encode", None) == "reconstruct":  # inverse_transform takes codes
        Xt = copy.deepcopy(est).set_params(encode="ordinal").transform(X)
    _bit_identical(loaded.inverse_transform(Xt), est.inverse_transform(Xt))
    for name, value in vars(est).items():  # every fitted attribute, with its type
        other = vars(loaded)[name]
        assert type(other) is type(value), name
        if isinstance(value, np.ndarray):
            _bit_identical(other, value)
    # equal content gives equal bytes (no timestamps in the archive)
    assert _roundtrip(loaded)[1] == data


def test_feature_names_and_output_config_survive(X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = skquant.LloydMaxQuantizer(n_bits=2).set_output(transform="pandas").fit(df)
    loaded, _ = _roundtrip(est)
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    out = loaded.transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["a", "b", "c"]
    pd.testing.assert_frame_equal(out, est.transform(df))


def test_save_to_a_path_uses_the_name_as_given(tmp_path, X):
    est = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    path = tmp_path / "model.skq"
    skquant.save(est, path)
    assert path.is_file() and not (tmp_path / "model.skq.npz").exists()
    _bit_identical(skquant.load(str(path)).transform(X), est.transform(X))
    # an .npz that numpy reads: the JSON header as bytes, and the arrays back to back in
    # "state" (uint8), in the narrowest dtype that holds them exactly, as the header says
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["header.json"])
        state = npz["state"]
    assert state.dtype == np.uint8 and set(npz.files) == {"header.json", "state"}
    at, arrays = 0, {}
    for name, stored, shape, *dtype in header["arrays"]:
        size = int(np.prod(shape)) * np.dtype(stored).itemsize
        arrays[name] = state[at:at + size].view(stored).reshape(shape).astype(
            dtype[0] if dtype else stored)
        at += size
    assert at == state.size
    np.testing.assert_array_equal(arrays["attr.n_levels_"], est.n_levels_)
    stored = {e[0]: e[1] for e in header["arrays"]}
    assert arrays["attr.n_levels_"].dtype == np.int64 and stored["attr.n_levels_"] == "|u1"
    assert header["format"] == "skquant" and header["format_version"] == _io.FORMAT_VERSION
    assert header["estimator"]["class"] == "LloydMaxQuantizer"


def test_codes_are_bit_packed_and_read_back(X):
    est = skquant.LloydMaxQuantizer(n_bits=3).fit(X)
    codes = est.transform(X)
    buf = io.BytesIO()
    _io.write(buf, est, codes=codes, columns=["x", "y", "z"], container="zip")
    packed = _members(buf.getvalue())[1]["codes"]
    assert packed.dtype == np.uint8 and packed.shape == (600 * 3 * 3 // 8,)
    enc = _io.read(io.BytesIO(buf.getvalue()))
    _bit_identical(enc.codes, codes)
    assert enc.columns == ["x", "y", "z"] and enc.data_dtype == np.float64


def test_save_refuses_what_it_cannot_store(X):
    with pytest.raises(TypeError, match="skquant estimators only"):
        skquant.save(StandardScaler().fit(X), io.BytesIO())
    with pytest.raises(ValueError, match="not fitted"):
        skquant.save(skquant.LloydMaxQuantizer(), io.BytesIO())
    if hasattr(skquant, "BinarySphericalEncoder"):
        est = skquant.BinarySphericalEncoder(
            n_bits=2, rotation="random", random_state=np.random.RandomState(0)
        ).fit(X)
        with pytest.raises(ValueError, match="cannot save parameter random_state"):
            skquant.save(est, io.BytesIO())


# ------------------------------------------------------------------ bad files
@pytest.fixture
def saved(X):
    est = skquant.LloydMaxQuantizer(n_bits=3).fit(X)
    buf = io.BytesIO()
    _io.write(buf, est, codes=est.transform(X), columns=["a", "b", "c"], container="zip")
    return buf.getvalue()


def _members(data):
    """Header and arrays of a file (version 4: the arrays of state.npy), with every
    ``float_rows`` attribute replaced by the plain array it decodes to."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read("header.json"))
        if "arrays" in header:
            arrays = _io._unpack_state(zf, header["arrays"])
        else:
            arrays = {
                n[:-4]: np.load(io.BytesIO(zf.read(n)), allow_pickle=False)
                for n in zf.namelist()
                if n != "header.json"
            }
    rows = [k for k, v in header["estimator"]["attributes"].items()
            if isinstance(v, dict) and v["type"] == "float_rows"]
    if rows:
        est = skquant.load(io.BytesIO(data))
        for k in rows:
            value = getattr(est, k)
            arrays[f"attr.{k}"] = value
            header["estimator"]["attributes"][k] = {
                "type": "array", "dtype": value.dtype.str, "shape": list(value.shape)}
    _typed_header(header, arrays)
    return header, arrays


def _zip(header, arrays, raw=None):
    """A skquant-like archive from a header and arrays (raw: extra members as bytes):
    at format version 4 the arrays back to back in state.npy, as the header's arrays
    list says (rewritten here), before one member per array."""
    buf = io.BytesIO()
    members = arrays
    if header.get("format_version", 0) >= 4 and "arrays" in header:
        keys = list(arrays)
        header["arrays"] = [[k, arrays[k].dtype.str, list(arrays[k].shape)] for k in keys]
        blob = b"".join(np.ascontiguousarray(arrays[k]).tobytes() for k in keys)
        members = {"state": np.frombuffer(blob, dtype=np.uint8)}
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for key, arr in members.items():
            member = io.BytesIO()
            np.save(member, arr, allow_pickle=True)
            zf.writestr(key + ".npy", member.getvalue())
        for name, data in (raw or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _edited(data, edit, fix_digest=True):
    """Apply ``edit(header, arrays)`` and rewrite, recomputing the digest like a forger
    (the arrays list of a version-4 header first, as ``_zip`` writes it)."""
    header, arrays = _members(data)
    edit(header, arrays)
    if fix_digest:
        _zip(header, arrays)
        header["sha256"] = _io._digest(header, arrays)
    return _zip(header, arrays)


def _load_error(data, match):
    with pytest.raises(ValueError, match=match) as info:
        skquant.load(io.BytesIO(data))
    message = str(info.value)
    assert "\n" not in message and message.startswith("file: ")
    return message


def test_untouched_fixture_loads(saved):
    assert isinstance(skquant.load(io.BytesIO(saved)), skquant.LloydMaxQuantizer)
    assert isinstance(skquant.load(io.BytesIO(_edited(saved, lambda h, a: None))),
                      skquant.LloydMaxQuantizer)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_truncated_files_are_refused(saved, fraction):
    _load_error(saved[: int(len(saved) * fraction)], "ZIP|truncated|corrupted")


def test_corrupted_member_data_is_refused(saved):
    with zipfile.ZipFile(io.BytesIO(saved)) as zf:
        infos = zf.infolist()
    for info in infos:  # flip one byte in the middle of each member's stored data
        data = bytearray(saved)
        start = info.header_offset + 30 + len(info.filename.encode())
        data[start + info.compress_size // 2] ^= 0x5A
        _load_error(bytes(data), "corrupted|truncated|checksum|not valid JSON")


def test_not_a_skquant_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        skquant.load(tmp_path / "missing.skq")
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a ZIP archive"):
        skquant.load(tmp_path / "a.csv")
    plain = io.BytesIO()
    np.savez(plain, X=np.zeros(3))
    _load_error(plain.getvalue(), "no header.json")


def test_hand_edit_without_digest_is_detected(saved):
    def edit(header, arrays):
        header["estimator"]["params"]["n_bits"]["value"] = 4

    _load_error(_edited(saved, edit, fix_digest=False), "checksum mismatch")

    def edit_levels(header, arrays):
        arrays["attr.levels_"] = arrays["attr.levels_"] + 1.0

    _load_error(_edited(saved, edit_levels, fix_digest=False), "checksum mismatch")


def _set(path, value):
    def edit(header, arrays):
        node = header
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set(["format"], "other"), "not a skquant file"),
        (_set(["format_version"], _io.FORMAT_VERSION + 1), "newer than this skquant reads"),
        (_set(["estimator", "class"], "os.system"), "unknown estimator class 'os.system'"),
        (_set(["estimator", "class"], "StandardScaler"), "unknown estimator class"),
        (_set(["estimator", "params", "n_bits", "value"], 99), "invalid parameters"),
        (_set(["estimator", "params", "n_bits"], {"type": "str", "value": "3"}),
         "invalid parameters"),
        (_set(["estimator", "params", "tol"], {"type": "float", "value": "1e-7; rm -rf"}),
         "expected a number"),
        (_set(["estimator", "params", "extra"], {"type": "none"}), "parameters must be"),
        (_set(["estimator", "attributes", "__class__"], {"type": "str", "value": "x"}),
         "bad attribute name"),
        (_set(["estimator", "attributes", "levels_", "shape"], [3, 9]), "header says"),
        (_set(["estimator", "attributes", "levels_", "type"], "pickle"), "unknown value type"),
        (_set(["estimator", "attributes", "n_features_in_", "value"], 4),
         "max_levels_ must be int64 of shape"),
        (_set(["codes", "widths"], [4, 4, 4]), r"widths \[4, 4, 4\] differs"),
        (_set(["codes", "shape"], [601, 3]), "packed bytes"),
        (_set(["codes", "columns"], ["a"]), "one string per column"),
        (_set(["codes", "bit_order"], "big"), "bit order"),
        (_set(["unexpected"], 1), "unexpected field"),
    ],
)
def test_hand_edited_header_gets_a_clear_error(saved, edit, match):
    _load_error(_edited(saved, edit), match)


def _array_edit(key, func, sync=True):
    """Replace ``arrays[key]`` by ``func(arrays[key])``; ``sync`` updates the header to match."""

    def edit(header, arrays):
        arrays[key] = func(arrays[key])
        spec = header["estimator"]["attributes"].get(key.split(".", 1)[1])
        if sync and spec is not None:
            spec["dtype"], spec["shape"] = arrays[key].dtype.str, list(arrays[key].shape)

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (_array_edit("attr.thresholds_", lambda t: t[:, ::-1].copy()),
         "thresholds_ must increase"),
        (_array_edit("attr.levels_", lambda v: np.where(v > 1, np.nan, v)),
         "levels_ must be finite"),
        (_array_edit("attr.n_levels_", lambda n: n + 1), "n_levels_ must be within"),
        (_array_edit("attr.levels_", lambda v: v[:, :4].copy()),
         "levels_ must be float64 of shape"),
        (_array_edit("attr.levels_", lambda v: v.astype(np.float32)), "levels_ must be float64"),
        (_array_edit("attr.levels_", lambda v: v.astype(np.float32), sync=False), "header says"),
        (lambda h, a: a.pop("attr.levels_"), "array member is missing"),
        (lambda h, a: a.__setitem__("attr.surplus", np.zeros(2)), "not described by the header"),
        (lambda h, a: a.__setitem__("codes", a["codes"][:-1].copy()), "packed bytes"),
        (lambda h, a: a.pop("codes"), "codes.npy member is missing"),
    ],
)
def test_hand_edited_arrays_get_a_clear_error(saved, edit, match):
    _load_error(_edited(saved, edit), match)


def test_codes_out_of_range_and_padding_are_checked(rng):
    # column 0 has 3 distinct values, so 3 levels; 5 rows x 2 columns x 3 bits = 30 bits
    X = np.c_[[0.0, 1.0, 2.0, 1.0, 0.0], rng.standard_normal(5)]
    with pytest.warns(UserWarning, match="fewer distinct values"):
        est = skquant.LloydMaxQuantizer(n_bits=3).fit(X)
    buf = io.BytesIO()
    _io.write(buf, est, codes=est.transform(X), container="zip")
    saved = buf.getvalue()
    assert _io.read(io.BytesIO(saved)).codes.tolist() == est.transform(X).tolist()

    def out_of_range(header, arrays):  # 3 levels are packed in 2 bits: code 3 fits
        codes = np.zeros((5, 2), dtype=np.uint8)
        codes[2, 0] = 3
        arrays["codes"] = _io.pack_codes(codes, [2, 3])

    _load_error(_edited(saved, out_of_range), r"codes out of range in column\(s\) \[0\]")

    def padding(header, arrays):
        arrays["codes"] = arrays["codes"].copy()
        arrays["codes"][-1] |= 0x80

    _load_error(_edited(saved, padding), "nonzero padding bits")


class _Trap:
    """Unpickling this would create a file: loading must never get that far."""

    path = None

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_loading_never_unpickles(saved, tmp_path):
    _Trap.path = str(tmp_path / "pwned")
    header, arrays = _members(saved)
    trap = np.array([_Trap()], dtype=object)
    # an object array in place of a fitted array, with a forged digest
    arrays["attr.levels_"] = trap
    header["estimator"]["attributes"]["levels_"]["dtype"] = "|O"
    bad = _zip(header, arrays)
    _load_error(bad, "refused")
    # a raw pickle as an extra member
    evil = _zip(*_members(saved), raw={"payload.pkl": pickle.dumps(_Trap())})
    _load_error(evil, "unexpected member 'payload.pkl'")
    # a pickle disguised as a .npy member name
    evil = _zip(*_members(saved), raw={"attr.x.npy": pickle.dumps(_Trap())})
    _load_error(evil, "corrupted|truncated|member")
    assert not (tmp_path / "pwned").exists()
    # and np.load with pickles allowed would indeed have run the trap (the test is real)
    member = io.BytesIO()
    np.save(member, trap, allow_pickle=True)
    np.load(io.BytesIO(member.getvalue()), allow_pickle=True)
    assert (tmp_path / "pwned").exists()


def test_structured_and_string_arrays_are_refused(saved):
    header, arrays = _members(saved)
    arrays["attr.levels_"] = np.zeros(3, dtype=[("a", "<f8")])
    _load_error(_zip(header, arrays), "refused")
    header, arrays = _members(saved)
    arrays["attr.levels_"] = np.array(["a", "b"])
    _load_error(_zip(header, arrays), "refused")


def test_nan_in_json_is_refused(saved):
    header, arrays = _members(saved)
    text = json.dumps(header).replace('"value": 1e-07', '"value": NaN')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("header.json", text)
        for key, arr in arrays.items():
            m = io.BytesIO()
            np.save(m, arr)
            zf.writestr(key + ".npy", m.getvalue())
    _load_error(buf.getvalue(), "not valid JSON")


def test_declared_shape_must_match_the_member_size(saved):
    """A header promising a huge array is refused before anything is allocated."""
    header, arrays = _members(saved)
    header["format_version"] = 3  # one member per array
    header.pop("arrays")
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    member.write(b"\0" * 64)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        for key, arr in arrays.items():
            m = io.BytesIO()
            np.save(m, arr)
            zf.writestr(key + ".npy", m.getvalue() if key != "attr.levels_" else member.getvalue())
    _load_error(buf.getvalue(), r"needs 8000000000\d+ bytes")


def test_declared_state_must_match_the_state_size(saved):
    """Version 4: a header whose arrays list promises a huge array is refused before
    anything but the state's .npy header is read."""
    import tracemalloc

    header, arrays = _members(saved)
    data = _zip(header, arrays)
    header = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("header.json"))
    entry = next(e for e in header["arrays"] if e[0] == "attr.levels_")
    entry[2] = [10**6, 10**6]
    header["sha256"] = _io._digest(header, arrays)
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        state = src.read("state.npy")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
        zf.writestr("state.npy", state)
    tracemalloc.start()
    try:
        _load_error(buf.getvalue(), r"header's arrays take 8000000\d+ \(the largest: "
                    r"attr.levels_ of shape \(1000000, 1000000\)")
        assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------- fuzzing
def _fuzz_sources(X):
    """Valid files of several estimator types (one with bit-packed codes), and one
    with a pickle trap in place of a fitted array (its digest forged to match)."""
    files = []
    for case in ("LloydMaxQuantizer-default", "uniform-midtread",
                 "CompanderQuantizer-normal-float-5-levels", "bsq-itq", "student-t"):
        if case in CASES:
            files.append(_roundtrip(CASES[case]().fit(X))[1])
    est = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    buf = io.BytesIO()
    _io.write(buf, est, codes=est.transform(X), columns=["a", "b", "c"], container="zip")
    files.append(buf.getvalue())
    header, arrays = _members(buf.getvalue())
    arrays["attr.levels_"] = np.array([_Trap()], dtype=object)
    header["estimator"]["attributes"]["levels_"]["dtype"] = "|O"
    header["sha256"] = _io._digest(header, arrays)
    return files, _zip(header, arrays)


def _mutate(data, rng, kind):
    data = bytearray(data)
    if kind == "random-bytes":
        return rng.randbytes(rng.randint(0, 4096))
    if kind == "truncation":
        return bytes(data[: rng.randrange(len(data))])
    if kind == "bit-flips":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "byte-mutations":  # overwrite, insert or delete a few bytes
        for _ in range(rng.randint(1, 4)):
            p, op = rng.randrange(len(data)), rng.randrange(3)
            if op == 0:
                data[p] = rng.randrange(256)
            elif op == 1:
                data[p:p] = rng.randbytes(rng.randint(1, 8))
            else:
                del data[p : p + rng.randint(1, 8)]
    return bytes(data)


@pytest.mark.parametrize("kind", ["random-bytes", "truncation", "bit-flips", "byte-mutations"])
def test_fuzzed_files_load_exactly_or_raise_value_error(kind, X, tmp_path):
    """Hundreds of damaged files: each loads to the very estimator that was saved (the
    damage hit nothing the digest covers, e.g. a timestamp), or raises ValueError
    naming the file; never another exception, never a crash, never the trap."""
    import random

    _Trap.path = str(tmp_path / "pwned")
    files, trap = _fuzz_sources(X)
    originals = [skquant.load(io.BytesIO(f)) for f in files]
    rng = random.Random(kind)
    loaded = refused = 0
    for i in range(250):
        source = i % (len(files) + 1)
        data = _mutate(trap if source == len(files) else files[source], rng, kind)
        try:
            est = skquant.load(io.BytesIO(data))
        except ValueError as exc:
            message = str(exc)
            assert message.startswith("file: ") and "\n" not in message, message
            refused += 1
            continue
        assert source < len(files)  # the trap file never loads
        original = originals[source]
        assert type(est) is type(original)
        for a, b in ((est.transform(X), original.transform(X)),):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        loaded += 1
    assert refused >= 150 and loaded + refused == 250
    assert not (tmp_path / "pwned").exists()


def test_forged_member_size_is_refused_before_allocating(saved):
    """A member whose central-directory size is forged to match a huge .npy header:
    refused from the sizes alone, without allocating the declared 3.2 GB."""
    import struct
    import tracemalloc

    header = io.BytesIO()
    shape = (4 * 10**8,)
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    declared = len(header.getvalue()) + 8 * shape[0]
    with zipfile.ZipFile(io.BytesIO(saved)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["attr.levels_.npy"] = header.getvalue() + b"\0" * 64
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    data = bytearray(buf.getvalue())
    entry = data.find(b"PK\x01\x02")  # the central directory entry of the member
    while data[entry + 46 : entry + 46 + len("attr.levels_.npy")] != b"attr.levels_.npy":
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = struct.pack("<I", declared)  # uncompressed size
    tracemalloc.start()
    try:
        _load_error(bytes(data), "more than DEFLATE can expand to")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_reader_never_allows_pickle():
    """Every array read in skquant/_io.py passes allow_pickle=False."""
    source = Path(_io.__file__).read_text(encoding="utf-8")
    calls = re.findall(r"(?:\bnp\.load|\.format\.read_array)\((.*)\)", source)
    assert calls
    for args in calls:
        assert "allow_pickle=False" in args, args


V1 = Path(__file__).parent / "fixtures" / "format_v1"


@pytest.mark.parametrize("path", sorted(V1.glob("*.skq")), ids=lambda p: p.stem)
def test_version_1_files_still_load(path):
    """Files written by skquant's format version 1 (before n_levels) load into
    estimators whose transform and inverse_transform equal the version-1 ones."""
    from sklearn.datasets import load_diabetes, load_wine

    enc = _io.read(path)
    est = enc.estimator
    expected = np.load(path.with_name(path.stem + ".expected.npz"))
    X = (load_wine() if path.stem.startswith(("uniform", "compander", "binary")) else
         load_diabetes()).data
    if "float32" in path.stem:
        X = X.astype(np.float32)
    _bit_identical(est.transform(X), expected["transform"])
    if "inverse" in expected:
        _bit_identical(est.inverse_transform(expected["transform"]), expected["inverse"])
        assert est.max_levels_.shape == (X.shape[1],)
        assert isinstance(getattr(est, "n_iter_", 0), int)
    if enc.codes is not None:
        _bit_identical(enc.codes, expected["transform"])
    # and it saves again, in the current version, to the same estimator
    buf = io.BytesIO()
    skquant.save(est, buf)
    _bit_identical(skquant.load(io.BytesIO(buf.getvalue())).transform(X), expected["transform"])


def test_save_and_load_validate_the_path(tmp_path, X):
    est = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    for bad in (3, 2.5, True, b"model.skq", None, object()):
        with pytest.raises(TypeError, match="path must be"):
            skquant.save(est, bad)
        with pytest.raises(TypeError, match="path must be"):
            skquant.load(bad)
    with pytest.raises(ValueError, match="non-empty file name"):
        skquant.save(est, "")
    with pytest.raises(FileNotFoundError):
        skquant.load(tmp_path / "missing.skq")
    # a directory, or a file in a missing one: refused naming the path given, and no
    # temporary file is made anywhere (not even in the directory's parent)
    (tmp_path / "d").mkdir()
    for write in (lambda p: skquant.save(est, p), lambda p: skquant.compress(X, p)):
        with pytest.raises(ValueError, match="path is a directory, not a file name: .*d$"):
            write(tmp_path / "d")
        with pytest.raises(FileNotFoundError, match="no such directory: .*nowhere"):
            write(tmp_path / "nowhere" / "model.skq")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["d"]


def test_a_failed_save_leaves_the_existing_file_and_no_partial_file(tmp_path, X):
    path = tmp_path / "model.skq"
    est = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    skquant.save(est, path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="not fitted"):
        skquant.save(skquant.LloydMaxQuantizer(), path)
    bad = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    bad.random_state_ = object()  # an attribute the format cannot store
    with pytest.raises(ValueError, match="cannot save"):
        skquant.save(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skq"]


def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path, X, monkeypatch):
    path = tmp_path / "model.skq"
    est = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    skquant.save(est, path)
    before = path.read_bytes()

    def fail(arr):
        raise OSError("disk full")

    monkeypatch.setattr(_io, "_npy_bytes", fail)
    with pytest.raises(OSError, match="disk full"):
        skquant.save(skquant.LloydMaxQuantizer(n_bits=3).fit(X), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skq"]


V2 = Path(__file__).parent / "fixtures" / "format_v2"


@pytest.mark.parametrize("path", sorted(V2.glob("*.skq")), ids=lambda p: p.stem)
@pytest.mark.filterwarnings("ignore:Column.*fewer distinct values")
def test_version_2_files_still_load(path):
    """Files of format version 2 (packed codes, no coding field; written by
    tests/fixtures/make_format_v2.py) load to estimators whose transform and
    inverse_transform, and whose stored codes, equal the version-2 ones bit for bit."""
    from sklearn.datasets import load_diabetes, load_wine

    enc = _io.read(path)
    expected = np.load(path.with_name(path.stem + ".expected.npz"))
    X = (load_diabetes() if path.stem.startswith("lloyd") else load_wine()).data
    _bit_identical(enc.estimator.transform(X), expected["transform"])
    _bit_identical(enc.estimator.inverse_transform(expected["transform"]), expected["inverse"])
    if "codes" in path.stem:
        _bit_identical(enc.codes, expected["transform"])
    else:
        assert enc.codes is None


FIXTURES = Path(__file__).parent / "fixtures"
V3_TO_7 = [p for v in (3, 4, 5, 6, 7) for p in sorted((FIXTURES / f"format_v{v}").glob("*.skq"))]


def test_version_7_fixtures_hold_every_model():
    """The format-7 fixtures (tests/fixtures/make_format.py 7) code features under each
    of the three models of format 7, adaptive, flat and table, so that a reader of a
    later format is checked on all of them (test_version_3_and_4_files_still_load)."""
    pytest.importorskip("constriction")
    models = {}
    for path in sorted((FIXTURES / "format_v7").glob("*codes_entropy*.skq")):
        coded = _io.read(path, stream=True).coded
        adaptive = coded.shifts >= 0
        models[path.stem] = {"adaptive": int(adaptive.sum()), "flat": int(coded.flat.sum()),
                             "table": int((~coded.flat & ~adaptive).sum())}
    assert models["lloyd_max_codes_entropy"]["adaptive"] > 0
    assert models["uniform_named_codes_entropy_f32"]["flat"] > 0
    assert models["table_and_flat_codes_entropy"] == {"adaptive": 0, "flat": 1, "table": 1}
    assert models["uniform_codes_entropy_zip"]["adaptive"] > 0
    assert models["uniform_codes_entropy_zip"]["flat"] > 0


@pytest.mark.parametrize("name", ["ecsq_codes_entropy", "lloyd_max_codes_entropy",
                                  "table_and_flat_codes_entropy",
                                  "uniform_codes_entropy_zip",
                                  "uniform_named_codes_entropy_f32"])
def test_the_writer_codes_the_version_7_fixtures_byte_for_byte(name):
    """skquant._coding.encode of a format-7 fixture's codes writes its coded members
    byte for byte (the models, their parameters, the tables, the adaptive stream and the
    rANS words), in one of the three ways a compact file is written (the writer's
    choice, no adaptive feature, every feature that may be adaptive): the writer's model
    choice has not changed since the fixtures were written."""
    pytest.importorskip("constriction")
    from skquant import _coding

    path = FIXTURES / "format_v7" / f"{name}.skq"
    codes = np.load(path.with_name(name + ".expected.npz"))["transform"]
    enc = _io.read(path, stream=True)
    coded, levels = enc.coded, enc.estimator.n_levels_
    with coded._open() as (f, n_words):
        words = np.frombuffer(f.read(4 * n_words), dtype="<u4")
    matches = []
    for mode in (None, "off", "all"):
        spec, arrays, stream = _coding.encode(codes, levels, adaptive=mode)
        shifts = np.array(spec["adaptive"] or [-1] * codes.shape[1])
        adaptive = arrays.get(_coding.ADAPTIVE)
        matches.append(
            spec["flat"] == np.flatnonzero(coded.flat).tolist()
            and np.array_equal(shifts, coded.shifts)
            and arrays[_coding.TABLE].size == coded.table_bytes
            and (adaptive is None) == (coded.adaptive is None)
            and (adaptive is None or np.array_equal(adaptive, coded.adaptive))
            and np.array_equal(arrays[_coding.CHUNKS], coded.offsets)
            and np.array_equal(stream, words))
    assert any(matches), matches
    # one way beyond 2**16 rows and in a ZIP file: the writer's choice
    assert matches[0] or (codes.shape[0] <= _coding.ADAPTIVE_MAX_ROWS and "zip" not in name)


def _file_version(path):
    data = path.read_bytes()
    if data[:3] == _io.MAGIC:  # the compact container (version 6)
        return data[3]
    return json.loads(zipfile.ZipFile(path).read("header.json"))["format_version"]


@pytest.mark.parametrize("path", V3_TO_7, ids=lambda p: f"{p.parent.name}-{p.stem}")
@pytest.mark.filterwarnings("ignore:Column.*fewer distinct values")
def test_version_3_and_4_files_still_load(path):
    """Files of format version 3 (one .npy member per array, dense codebooks; written
    by tests/fixtures/make_format.py 3), 4 (state.npy, compact codebooks, the
    stream its own member; make_format.py 4), 5 (small streams in the state, the flat
    model), 6 (files with codes in the compact container) and 7 (adaptive features)
    load to estimators whose
    transform and inverse_transform, and whose stored codes (packed or entropy-coded),
    equal the saved ones bit for bit; decompress reads them too."""
    import importlib.util

    version = int(path.parent.name[-1])
    spec = importlib.util.spec_from_file_location(
        "make_format", path.parent.parent / "make_format.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    if "entropy" in path.stem:
        pytest.importorskip("constriction")
    enc = _io.read(path)
    assert _file_version(path) == version
    assert (path.read_bytes()[:3] == _io.MAGIC) == (
        version >= 6 and "codes" in path.stem and "zip" not in path.stem)
    expected = np.load(path.with_name(path.stem + ".expected.npz"))
    X = make.data(path.stem)
    _bit_identical(enc.estimator.transform(X), expected["transform"])
    _bit_identical(enc.estimator.inverse_transform(expected["transform"]), expected["inverse"])
    if "codes" in path.stem:
        _bit_identical(enc.codes, expected["transform"])
        _bit_identical(skquant.decompress(path), expected["inverse"])
    else:
        assert enc.codes is None
