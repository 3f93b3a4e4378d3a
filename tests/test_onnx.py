"""skquant.onnx: onnxruntime gives ``transform``'s results exactly, on real data and on
values chosen to break it (thresholds and their neighbours, ties, -0.0, the largest
finite values, values outside the fitted range, overflowing rotations)."""

import copy
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skquant import (
    BinarySphericalEncoder,
    CompanderQuantizer,
    LloydMaxQuantizer,
    UniformClipQuantizer,
)
from skquant._base import _ceil_to_dtype, grid_tables
from skquant._registry import estimator_variants

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra is not installed")
import skquant.onnx as sqo  # noqa: E402

WIDTHS = [1, 3, 8, 9]  # per-feature widths: 2 to 512 levels, uint16 codes
# every variant of the project's registry, and more widths, modes and level counts
ESTIMATORS = [est for _, est in estimator_variants()] + [
    LloydMaxQuantizer(n_bits=WIDTHS),
    LloydMaxQuantizer(n_levels=[2, 5, 200, 513]),
    UniformClipQuantizer(n_bits=WIDTHS, clip="minmax"),
    UniformClipQuantizer(n_bits=8, mode="midtread"),
    UniformClipQuantizer(n_bits=WIDTHS, mode="midtread"),
    UniformClipQuantizer(n_levels=[3, 6, 100, 300], mode="midtread", clip="std"),
    UniformClipQuantizer(n_bits=3, mode="midtread", symmetric=True),
    CompanderQuantizer(n_bits=WIDTHS, compander="mu-law"),
    BinarySphericalEncoder(rotation="itq", center=True, n_bits=3, random_state=0),
]
SCALAR_ENCODES = ("ordinal", "reconstruct", "onehot-dense")
BINARY_ENCODES = ("packed", "index", "sign")
DTYPES = (np.float64, np.float32)


def _datasets():
    """Four columns of two real datasets; diabetes' column 1 (sex) has 2 values, so
    every quantizer stores it exactly (thresholds even in midtread mode)."""
    diabetes = load_diabetes().data[:, :4]
    cancer = load_breast_cancer().data[:, :4]
    return {"diabetes": diabetes, "breast_cancer": cancer}


DATA = _datasets()
# each dataset is fitted in one dtype, so both fitted dtypes are covered
FIT_DTYPE = {"diabetes": np.float64, "breast_cancer": np.float32}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """One BLAS thread: on the shared 2-core machine, BLAS threads fighting over the
    cores make the small logistic regressions of the pipeline tests 30 times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _session(model, threads=1):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _run(model, X):
    session = _session(model)
    return session.run(None, {session.get_inputs()[0].name: X})[0]


def _fitted(est, X):
    """``est`` fitted on X; scalar quantizers with ordinal codes (tests set encode)."""
    est = clone(est)
    if not isinstance(est, BinarySphericalEncoder):
        est.set_params(encode="ordinal")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # columns stored exactly
        return est.fit(X)


def _assert_identical(got, want):
    """Same dtype, shape and bits (-0.0 is not 0.0, NaN is the same NaN)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    got_bits = np.ascontiguousarray(got).view(np.uint8).reshape(got.shape[0], -1)
    want_bits = np.ascontiguousarray(want).view(np.uint8).reshape(want.shape[0], -1)
    rows = np.flatnonzero((got_bits != want_bits).any(axis=1))
    assert rows.size == 0, f"rows {rows[:10]} differ: {got[rows[:3]]} != {want[rows[:3]]}"


def _neighbours(values, dtype):
    values = np.asarray(values, dtype=dtype)
    values = values[np.isfinite(values)]
    return np.concatenate(
        [values, np.nextafter(values, dtype(-np.inf)), np.nextafter(values, dtype(np.inf))]
    )


def _specials(dtype):
    info = np.finfo(dtype)
    values = [0.0, 1.0, info.max, info.tiny, info.smallest_subnormal, 1e30]
    if dtype == np.float64:  # beyond the float32 range
        values += [2.0 * float(np.finfo(np.float32).max), 1e300]
    values = np.array(values, dtype=dtype)
    return np.concatenate([values, -values])  # -0.0 included


def _scalar_adversarial(est, dtype):
    """Rows made of every threshold of ``transform`` in ``dtype`` and its neighbours,
    the float64 thresholds rounded to nearest, the levels, the affine ties
    ``(k + 1/2) * scale``, and the specials; each column gets the whole pool."""
    T64 = est.thresholds_.astype(np.float64)
    pool = [
        _neighbours(_ceil_to_dtype(T64, dtype), dtype),
        _neighbours(T64.astype(dtype), dtype),
        _neighbours(est.levels_, dtype),
        _specials(dtype),
    ]
    if hasattr(est, "zero_point_"):  # midtread (with a feature not stored exactly)
        for j in np.flatnonzero(est.scale_ > 0):
            k = np.arange(-1, est.n_levels_[j] + 1) - est.zero_point_[j]
            pool.append(_neighbours((k + 0.5) * est.scale_[j], dtype))
    pool = np.unique(np.concatenate(pool))
    pool = np.concatenate([pool, [dtype(-0.0)]])  # np.unique keeps one of 0.0 and -0.0
    rng = np.random.default_rng(0)
    d = est.n_features_in_
    return np.ascontiguousarray(
        np.stack([rng.permutation(pool) for _ in range(d)], axis=1), dtype=dtype
    )


def _sequential_rotation(Xc, W):
    """``Xc @ W`` summed term by term in the dtype of ``W`` (as the kernel does)."""
    z = np.zeros((Xc.shape[0], W.shape[1]), dtype=W.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(W.shape[0]):
            z += Xc[:, k : k + 1] * W[k]
    return z


def _overflow_flips(est, dtype, n=20):
    """Finite rows whose rotated sums overflow on the way to a total of the other
    sign: computed naively they get the wrong bits, so the rescaling must run."""
    info = np.finfo(dtype)
    rng = np.random.default_rng(2)
    d = est.n_features_in_
    X = rng.choice([-1.0, 1.0], (4000, d)) * rng.uniform(0.3, 1.0, (4000, d))
    W = np.ascontiguousarray(est.components_.T, dtype=dtype)
    mean = est.mean_.astype(dtype)
    huge = (X * float(info.max)).astype(dtype)
    unit = 2.0 ** -(info.maxexp + 8)  # dividing by a power of two is exact here
    small = (huge.astype(np.float64) * unit).astype(dtype)
    naive = _sequential_rotation(huge - mean, W) > 0
    right = _sequential_rotation(small - (est.mean_ * unit).astype(dtype), W) > 0
    return huge[(naive != right).any(axis=1)][:n]


def _binary_adversarial(est, X, dtype):
    """Rows on the hyperplanes (the mean, zeros, -0.0), subnormal and huge rows,
    rows whose centring or rotation overflows, and the data scaled to the edge."""
    info = np.finfo(dtype)
    d = est.n_features_in_
    rng = np.random.default_rng(1)
    signs = rng.choice([-1.0, 1.0], size=(40, d))
    rows = [
        np.zeros((1, d)),
        np.full((1, d), -0.0),
        est.mean_[None, :],
        signs * info.max,
        signs * info.smallest_subnormal,
        signs * info.tiny,
        signs * info.max * rng.uniform(0.5, 1.0, size=(40, d)),
        np.where(signs > 0, info.max, 1.0),  # huge and ordinary values in one row
        X[:50] / np.abs(X).max() * info.max,
        X[:50] * info.smallest_subnormal,
    ]
    for k in range(d):  # one huge coordinate, the others ordinary
        row = np.array(X[:5], dtype=np.float64)
        row[:, k] = info.max
        rows.append(row)

    out = np.concatenate([np.asarray(r, dtype=np.float64) for r in rows]).astype(dtype)
    assert np.isfinite(out).all()
    return out


@pytest.mark.parametrize("dataset", list(DATA))
@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: repr(e).replace(" ", ""))
def test_transform_is_identical(est, dataset):
    X = DATA[dataset]
    fitted = _fitted(est, X.astype(FIT_DTYPE[dataset]))
    binary = isinstance(est, BinarySphericalEncoder)
    other = DATA["breast_cancer" if dataset == "diabetes" else "diabetes"]
    for dtype in DTYPES:
        real = np.concatenate([X, other]).astype(dtype)  # the other set: out of range
        if binary:
            adversarial = _binary_adversarial(fitted, X, dtype)
        else:
            adversarial = _scalar_adversarial(fitted, dtype)
        Xt = np.concatenate([real, adversarial])
        for encode in BINARY_ENCODES if binary else SCALAR_ENCODES:
            q = copy.deepcopy(fitted).set_params(encode=encode)
            rows = Xt
            if encode == "onehot-dense":  # up to 1026 columns: a sample of the rows
                rows = Xt[np.random.default_rng(0).permutation(Xt.shape[0])[:1000]]
            got = _run(skl2onnx.to_onnx(q, rows[:1]), rows)
            _assert_identical(got, q.transform(rows))


def test_bisection_gives_the_same_codes(monkeypatch):
    """The bisection encoder (for up to 2 rounds, and where skquant has no grid) on
    every scalar quantizer, instead of the grid, and on thresholds too uneven for one."""
    monkeypatch.setattr(sqo, "_GRID_MIN_ROUNDS", 99)
    X = DATA["diabetes"]
    for est in ESTIMATORS:
        if isinstance(est, BinarySphericalEncoder):
            continue
        q = _fitted(est, X)
        for dtype in DTYPES:
            Xt = np.concatenate([X, _scalar_adversarial(q, dtype)]).astype(dtype)
            _assert_identical(_run(skl2onnx.to_onnx(q, Xt[:1]), Xt), q.transform(Xt))
    monkeypatch.undo()
    rng = np.random.default_rng(0)
    uneven = np.concatenate([rng.standard_normal(2000), [1e12, 2e12]])[:, None]
    q = _fitted(LloydMaxQuantizer(n_bits=4), uneven)
    assert grid_tables(q.thresholds_, q.n_levels_) is None
    for dtype in DTYPES:
        Xt = np.concatenate([uneven, _scalar_adversarial(q, dtype)]).astype(dtype)
        _assert_identical(_run(skl2onnx.to_onnx(q, Xt[:1]), Xt), q.transform(Xt))


def test_codes_are_right_at_thresholds_and_ties():
    """The adversarial rows really sit on the edges: codes change across every
    threshold of every feature, and midtread ties go to the even code."""
    X = DATA["breast_cancer"]
    q = _fitted(LloydMaxQuantizer(n_bits=WIDTHS), X)
    for dtype in DTYPES:
        t = _ceil_to_dtype(q.thresholds_.astype(np.float64), dtype)
        for j in range(4):
            tj = t[j, : q.n_levels_[j] - 1]
            col = np.zeros((2 * tj.size, 4), dtype=dtype)
            col[:, j] = np.concatenate([tj, np.nextafter(tj, dtype(-np.inf))])
            codes = _run(skl2onnx.to_onnx(q, col[:1]), col)[:, j].astype(int)
            k = np.arange(1, tj.size + 1)
            np.testing.assert_array_equal(codes, np.concatenate([k, k - 1]))
    m = _fitted(UniformClipQuantizer(n_bits=8, clip="minmax", mode="midtread"),
                np.linspace(-1.0, 3.0, 1001)[:, None])
    s, z = m.scale_[0], m.zero_point_[0]
    ties = np.array([[0.5 * s], [1.5 * s], [-0.5 * s], [2.5 * s]])
    assert np.all((ties[:, 0] / s) % 1 == 0.5)  # exact ties
    codes = _run(skl2onnx.to_onnx(m, ties[:1]), ties).ravel()
    np.testing.assert_array_equal(codes, z + np.array([0, 2, 0, 2]))
    _assert_identical(codes[:, None], m.transform(ties))


@pytest.mark.parametrize("est", [LloydMaxQuantizer(n_bits=WIDTHS),
                                 UniformClipQuantizer(n_bits=WIDTHS, mode="midtread")],
                         ids=["thresholds", "midtread"])
def test_non_finite_inputs_give_the_documented_codes(est, global_dtype):
    """skquant raises on NaN and inf; the model cannot: NaN and -inf give code 0 and
    +inf the last code of the feature (doc/onnx.rst), also with one level only."""
    X = DATA["diabetes"].copy()
    X[:, 3] = 0.5  # a constant feature: one level, no threshold
    q = _fitted(est, X)
    assert q.n_levels_[3] == 1
    bad = np.array([[np.nan] * 4, [np.inf] * 4, [-np.inf] * 4], dtype=global_dtype)
    codes = _run(skl2onnx.to_onnx(q, bad[:1]), bad)
    np.testing.assert_array_equal(codes, [[0] * 4, q.n_levels_ - 1, [0] * 4])
    with pytest.raises(ValueError, match="NaN or inf"):
        q.transform(bad)
    levels = _run(skl2onnx.to_onnx(copy.deepcopy(q).set_params(encode="reconstruct"),
                                   bad[:1]), bad)
    np.testing.assert_array_equal(
        levels, q.levels_[np.arange(4), codes].astype(global_dtype)
    )


def test_empty_input_gives_empty_output():
    q = _fitted(LloydMaxQuantizer(n_bits=3), DATA["diabetes"])
    b = _fitted(BinarySphericalEncoder(rotation="random", random_state=0), DATA["diabetes"])
    empty = np.empty((0, 4))
    assert _run(skl2onnx.to_onnx(q, DATA["diabetes"][:1]), empty).shape == (0, 4)
    assert _run(skl2onnx.to_onnx(b, DATA["diabetes"][:1]), empty).shape == (0, 1)


def test_binary_codes_of_overflowing_rows(global_dtype):
    """Rows whose rotated sums overflow are rescaled by a power of two, which changes
    no sign. skquant takes it from the largest such row of a block, the model from
    each row: the model's code of every row is skquant's code of that row alone, and
    here of the whole batch too. (With 4 features no overflow can flip a sign, so 16.)"""
    X = load_breast_cancer().data[:, :16]
    b = _fitted(BinarySphericalEncoder(rotation="random", random_state=0, center=True), X)
    flips = _overflow_flips(b, global_dtype)
    assert flips.shape[0] >= 5  # naive sums give these rows wrong bits
    info = np.finfo(global_dtype)
    rows = np.array(X[:6], dtype=np.float64) / np.abs(X).max()
    rows[:3] *= float(info.max)  # overflow
    rows[3:, 0] = float(info.max) / 3  # overflow, from a smaller largest magnitude
    rows = np.concatenate([flips, rows.astype(global_dtype), X[:5].astype(global_dtype)])
    for encode in BINARY_ENCODES:
        q = copy.deepcopy(b).set_params(encode=encode)
        got = _run(skl2onnx.to_onnx(q, rows[:1]), rows)
        _assert_identical(got, np.concatenate([q.transform(rows[[i]]) for i in range(len(rows))]))
        _assert_identical(got, q.transform(rows))


# ------------------------------------------------------------------- inverse
@pytest.mark.parametrize("est", [e for e in ESTIMATORS
                                 if not isinstance(e, BinarySphericalEncoder)],
                         ids=lambda e: repr(e).replace(" ", ""))
def test_scalar_inverse_is_identical(est):
    for dataset, X in DATA.items():
        q = _fitted(est, X.astype(FIT_DTYPE[dataset]))
        n = q.n_levels_
        # every code of every feature, then codes just out of range
        codes = np.stack([np.arange(n.max()) % m for m in n], axis=1)
        codes = np.concatenate([codes, q.transform(X)]).astype(q.transform(X[:1]).dtype)
        got = _run(sqo.to_onnx_inverse(q), codes)
        _assert_identical(got, q.inverse_transform(codes))
        wide = np.concatenate([codes.astype(np.int64), [n, -np.ones_like(n)]])
        got = _run(sqo.to_onnx_inverse(q, np.int64), wide)
        _assert_identical(got[:-2], q.inverse_transform(codes))
        assert np.isnan(got[-2:]).all()  # out of range: NaN, where skquant raises
        with pytest.raises(ValueError, match="out of range"):
            q.inverse_transform(wide)


@pytest.mark.parametrize("est", [e for e in ESTIMATORS
                                 if isinstance(e, BinarySphericalEncoder)],
                         ids=lambda e: repr(e).replace(" ", ""))
def test_binary_inverse(est):
    """Equal without a rotation; with one, to rounding: numpy's matrix product sums in
    the order of its BLAS, which no other program reproduces bit for bit."""
    X = DATA["diabetes"]
    b = _fitted(est, X)
    exact = b.rotation is None
    for encode in BINARY_ENCODES:
        for dtype in DTYPES if encode == "sign" else (np.float64,):
            codes = b.set_params(encode=encode).transform(X.astype(dtype))
            got = _run(sqo.to_onnx_inverse(b, codes.dtype), codes)
            want = b.inverse_transform(codes)
            if exact:
                _assert_identical(got, want)
            else:
                assert got.dtype == want.dtype
                np.testing.assert_allclose(got, want, rtol=0, atol=8 * np.finfo(dtype).eps)
    # invalid codes, which inverse_transform refuses: NaN rows
    bad = {
        np.uint8: np.array([[1]], dtype=np.uint8),  # a padding bit set (3 or 4 bits)
        np.int64: np.array([[-1], [2**b.n_bits_]]),  # indices out of range
        np.float64: np.array([[np.nan] + [1.0] * (b.n_bits_ - 1)]),  # NaN sign codes
    }
    for dtype, codes in bad.items():
        assert np.isnan(_run(sqo.to_onnx_inverse(b, dtype), codes)).all()
        with pytest.raises(ValueError, match="padding|out-of-range|NaN"):
            b.inverse_transform(codes)


# ------------------------------------------------------------------ pipelines
def _onnx_predictions(pipe, X):
    model = skl2onnx.to_onnx(pipe, X[:1], options={LogisticRegression: {"zipmap": False}})
    session = _session(model)
    return session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize(
    "quantizer",
    [LloydMaxQuantizer(n_bits=3, encode="reconstruct"),
     UniformClipQuantizer(n_bits=4, mode="midtread", encode="onehot-dense")],
    ids=["reconstruct", "onehot-dense"],
)
def test_pipeline_predictions(quantizer):
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), quantizer, LogisticRegression(max_iter=2000))
    pipe.fit(X, y)
    labels, proba = _onnx_predictions(pipe, X)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-9)
    # the quantized features themselves are identical
    Z = pipe[:2].transform(X)
    _assert_identical(_run(skl2onnx.to_onnx(pipe[:2], X[:1]), X), Z)


def test_column_transformer_predictions():
    X, y = load_digits(return_X_y=True)
    X = X[:600].astype(np.float64)  # digits 0-9, a third of the set
    y = y[:600]
    pipe = make_pipeline(
        ColumnTransformer(
            [("q", LloydMaxQuantizer(n_bits=2, encode="onehot-dense"), list(range(16, 48))),
             ("s", StandardScaler(), list(range(48, 64)))],
            remainder="drop",
        ),
        LogisticRegression(max_iter=300),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pixels with few values; lbfgs iterations
        pipe.fit(X, y)
    labels, proba = _onnx_predictions(pipe, X)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=1e-9)


# ---------------------------------------------------------------- bad input
def test_unfitted_and_unexportable_estimators_are_refused():
    X = DATA["diabetes"]
    with pytest.raises(NotFittedError, match="before converting it to ONNX"):
        skl2onnx.to_onnx(LloydMaxQuantizer(), X[:1])
    with pytest.raises(NotFittedError, match="before converting it to ONNX"):
        sqo.to_onnx_inverse(BinarySphericalEncoder())
    q = _fitted(LloydMaxQuantizer(n_bits=2), X).set_params(encode="onehot")
    with pytest.raises(ValueError, match=r"encode='onehot'.*encode='onehot-dense'"):
        skl2onnx.to_onnx(q, X[:1])
    codes = np.array([[0, 1, 2, 3]], dtype=np.uint8)  # the inverse takes codes
    _assert_identical(_run(sqo.to_onnx_inverse(q), codes), q.inverse_transform(codes))
    with pytest.raises(ValueError, match="codes_dtype must be an integer dtype"):
        sqo.to_onnx_inverse(q, np.float64)
    q.set_params(encode="ordinal")
    with pytest.raises(ValueError, match="target_opset >= 13; got target_opset=12"):
        skl2onnx.to_onnx(q, X[:1], target_opset=12)
    with pytest.raises(ValueError, match="'target_opset' parameter"):
        sqo.to_onnx_inverse(q, target_opset=12)
    with pytest.raises(ValueError, match="fitted on 4 features.*has 3 columns"):
        skl2onnx.to_onnx(q, X[:1, :3])

    class Rounded(LloydMaxQuantizer):
        def _encode(self, X):
            return super()._encode(np.round(X))

    sqo._register()  # a subclass defined later is registered again, and refused
    with pytest.raises(TypeError, match="Rounded overrides _encode"):
        skl2onnx.to_onnx(_fitted(Rounded(n_bits=2), X), X[:1])


def test_oldest_opset_runs_the_same():
    X = DATA["breast_cancer"]
    for est, encode in [(UniformClipQuantizer(n_bits=WIDTHS, mode="midtread"), "reconstruct"),
                        (BinarySphericalEncoder(rotation="random", random_state=0), "index")]:
        q = _fitted(est, X).set_params(encode=encode)
        Xt = np.concatenate([X, _binary_adversarial(q, X, np.float64)
                             if encode == "index" else X * 1e300])
        _assert_identical(_run(skl2onnx.to_onnx(q, X[:1], target_opset=13), Xt),
                          q.transform(Xt))
    inverse = sqo.to_onnx_inverse(q.set_params(encode="packed"), target_opset=13)
    assert inverse.opset_import[0].version == 13


def test_models_use_standard_operators_only():
    X = DATA["diabetes"]
    for est in ESTIMATORS:
        q = _fitted(est, X)
        for model in (skl2onnx.to_onnx(q, X[:1]), sqo.to_onnx_inverse(q)):
            assert {o.domain for o in model.opset_import} <= {""}
            assert {n.domain for n in model.graph.node} <= {""}


def test_imports():
    # import skquant imports none of the onnx packages; without skl2onnx,
    # skquant.onnx says what to install
    code = (
        "import sys, skquant\n"
        "assert not {'onnx', 'skl2onnx', 'onnxruntime'} & set(sys.modules)\n"
        "sys.modules['skl2onnx'] = None\n"
        "import skquant.onnx\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert 'ImportError: skquant.onnx needs skl2onnx and onnx' in out.stderr
    assert 'pip install "skquant[onnx]"' in out.stderr
