"""The scalar-quantizer contract, checked on every scalar quantizer."""

import pickle

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skquant._registry import estimator_classes

# every registered scalar quantizer (skquant._registry) whose number of levels is the
# n_bits / n_levels pair this module tests (EntropyConstrainedQuantizer's is max_levels
# and a rate: tests/test_entropy_constrained.py)
SCALAR_QUANTIZERS = [cls for cls in estimator_classes(scalar=True).values()
                     if "n_levels" in cls().get_params()]


def every_scalar_quantizer_at(bits):
    """``(id, estimator)`` of every registered scalar quantizer at ``bits`` bits per
    code: ``n_bits``, or for one sized by a rate ``2**bits`` levels at most and a
    rate of ``bits - 1`` bits (as ``benchmarks/bench_transform.py``)."""
    out = []
    for name, cls in estimator_classes(scalar=True).items():
        est = cls(n_bits=bits) if cls in SCALAR_QUANTIZERS else cls(rate=bits - 1,
                                                                   max_levels=2**bits)
        out.append((f"{name}-{bits}", est))
    return out


@pytest.fixture(params=SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
def Quantizer(request):
    return request.param


def test_dtypes_and_shapes(Quantizer, global_dtype, rng):
    X = rng.standard_normal((300, 3)).astype(global_dtype)
    q = Quantizer(n_bits=3).fit(X)
    assert q.thresholds_.shape == (3, 7) and q.levels_.shape == (3, 8)
    assert q.thresholds_.dtype == global_dtype and q.levels_.dtype == global_dtype
    assert np.all(np.diff(q.thresholds_, axis=1) > 0)
    codes = q.transform(X)
    assert codes.dtype == np.uint8 and codes.shape == X.shape
    assert q.inverse_transform(codes).dtype == global_dtype
    with pytest.warns(UserWarning, match="fewer distinct values"):
        q16 = Quantizer(n_bits=9).fit(X)
    assert q16.transform(X).dtype == np.uint16


def test_integer_input_becomes_float64(Quantizer, rng):
    X = rng.integers(0, 1000, (200, 2))
    q = Quantizer(n_bits=2).fit(X)
    assert q.levels_.dtype == np.float64


def test_code_semantics_and_out_of_range_values(Quantizer, rng):
    X = rng.standard_normal((500, 2))
    q = Quantizer(n_bits=2).fit(X)
    t = q.thresholds_.astype(np.float64)
    probe = np.array([[t[0, 0], t[1, 2]], [-1e9, 1e9]])
    np.testing.assert_array_equal(q.transform(probe), [[1, 3], [0, 3]])


def test_reconstruction_is_a_level_and_idempotent(Quantizer, rng):
    X = rng.standard_normal((400, 3))
    q = Quantizer(n_bits=3).fit(X)
    codes = q.transform(X)
    X_hat = q.inverse_transform(codes)
    for j in range(3):
        assert np.isin(X_hat[:, j], q.levels_[j]).all()
    np.testing.assert_array_equal(q.transform(X_hat), codes)


def test_encode_options_agree(Quantizer, global_dtype, rng):
    X = rng.standard_normal((200, 2)).astype(global_dtype)
    codes = Quantizer(n_bits=2).fit(X).transform(X)
    rec = Quantizer(n_bits=2, encode="reconstruct").fit(X)
    Xr = rec.transform(X)
    assert Xr.dtype == global_dtype
    np.testing.assert_array_equal(Xr, rec.inverse_transform(codes))
    oh = Quantizer(n_bits=2, encode="onehot").fit(X)
    S = oh.transform(X)
    assert sparse.issparse(S) and S.format == "csr" and S.shape == (200, 8)
    np.testing.assert_array_equal(S.toarray()[:, :4].argmax(axis=1), codes[:, 0])
    np.testing.assert_array_equal(oh.inverse_transform(S), rec.inverse_transform(codes))
    dense = Quantizer(n_bits=2, encode="onehot-dense").fit(X).transform(X)
    np.testing.assert_array_equal(dense, S.toarray())
    assert list(oh.get_feature_names_out()) == [f"x{j}_{k}" for j in range(2) for k in range(4)]


def test_few_distinct_values_get_one_level_each(Quantizer):
    X = np.array([[0.0, 5.0], [1.0, 5.0], [1.0, 5.0], [3.0, 5.0]] * 10)
    with pytest.warns(UserWarning, match=r"Column\(s\) 0, 1 have fewer distinct values"):
        q = Quantizer(n_bits=3).fit(X)
    assert q.n_levels_.tolist() == [3, 1]
    np.testing.assert_array_equal(q.inverse_transform(q.transform(X)), X)
    assert np.isinf(q.thresholds_[0, 2:]).all() and np.isinf(q.thresholds_[1]).all()
    np.testing.assert_array_equal(q.levels_[0], [0, 1, 3, 3, 3, 3, 3, 3])
    assert q.score(X) == 0.0


def test_single_sample(Quantizer):
    with pytest.warns(UserWarning):
        q = Quantizer(n_bits=4).fit([[2.5, -1.0]])
    np.testing.assert_array_equal(q.inverse_transform(q.transform([[7.0, 0.0]])), [[2.5, -1.0]])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_input_names_the_column(Quantizer, rng, bad):
    X = rng.standard_normal((50, 3))
    X[7, 2] = bad
    with pytest.raises(ValueError, match=r"NaN or inf in column\(s\) 2"):
        Quantizer().fit(X)
    q = Quantizer(n_bits=2).fit(np.nan_to_num(X, nan=0, posinf=0, neginf=0))
    with pytest.raises(ValueError, match=r"NaN or inf in column\(s\) 2"):
        q.transform(X)


def test_nonfinite_error_uses_feature_names(Quantizer, rng):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(rng.standard_normal((20, 2)), columns=["a", "b"])
    df.loc[3, "b"] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) 1 \('b'\)"):
        Quantizer().fit(df)


def test_sparse_input_is_refused(Quantizer):
    with pytest.raises(TypeError, match="Sparse data"):
        Quantizer().fit(sparse.random(20, 3, density=0.5, format="csr"))


def test_bad_codes(Quantizer, rng):
    X = rng.standard_normal((100, 2))
    q = Quantizer(n_bits=2).fit(X)
    with pytest.raises(ValueError, match="out of range in column"):
        q.inverse_transform([[0, 4]])
    with pytest.raises(ValueError, match="out of range in column"):
        q.inverse_transform(np.array([[-1, 0]]))
    with pytest.raises(ValueError, match="Codes have 3 columns"):
        q.inverse_transform([[0, 0, 0]])
    with pytest.raises(ValueError, match="2-D array of codes"):
        q.inverse_transform([0, 1])
    with pytest.raises(ValueError, match="whole numbers"):
        q.inverse_transform([[0.5, 1.0]])
    with pytest.raises(TypeError, match="integer array"):
        q.inverse_transform(np.array([["a", "b"]]))
    np.testing.assert_array_equal(
        q.inverse_transform([[1.0, 2.0]]), q.inverse_transform([[1, 2]])
    )


def test_wrong_number_of_features_at_transform(Quantizer, rng):
    q = Quantizer().fit(rng.standard_normal((50, 3)))
    with pytest.raises(ValueError, match="X has 2 features"):
        q.transform(rng.standard_normal((5, 2)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_bits": 0}, "n_bits"),
        ({"n_bits": 17}, "n_bits"),
        ({"n_bits": 2.5}, "n_bits"),
        ({"encode": "binary"}, "encode"),
    ],
)
def test_bad_parameters(Quantizer, params, match):
    with pytest.raises(ValueError, match=match):
        Quantizer(**params).fit([[0.0], [1.0]])


def test_sample_weight_equals_repetition(Quantizer, rng):
    X = rng.standard_normal((300, 2))
    w = rng.integers(0, 4, 300)
    a = Quantizer(n_bits=3).fit(X, sample_weight=w)
    b = Quantizer(n_bits=3).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.levels_, b.levels_, rtol=1e-10)
    np.testing.assert_allclose(a.thresholds_, b.thresholds_, rtol=1e-10)
    with pytest.raises(ValueError, match="non-zero"):
        Quantizer().fit(X, sample_weight=np.zeros(300))
    with pytest.raises(ValueError, match="Negative values"):
        Quantizer().fit(X, sample_weight=-np.ones(300))


def test_score_is_minus_mse(Quantizer, rng):
    X = rng.standard_normal((500, 2))
    q = Quantizer(n_bits=2).fit(X)
    X_hat = q.inverse_transform(q.transform(X))
    assert q.score(X) == pytest.approx(-((X - X_hat) ** 2).mean())


def test_float32_codes_equal_float64_codes(Quantizer, rng):
    X = rng.standard_normal((5000, 2)).astype(np.float32)
    q32 = Quantizer(n_bits=4).fit(X)
    q64 = Quantizer(n_bits=4).fit(X.astype(np.float64))
    np.testing.assert_array_equal(q32.transform(X), q64.transform(X.astype(np.float64)))
    np.testing.assert_array_equal(q32.transform(X), q64.transform(X))


def test_pickle_round_trip(Quantizer, rng):
    X = rng.standard_normal((100, 2))
    q = Quantizer(n_bits=3).fit(X)
    q2 = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(q2.transform(X), q.transform(X))


def test_pandas_output(Quantizer, rng):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(rng.standard_normal((50, 2)), columns=["a", "b"])
    out = Quantizer(n_bits=2).set_output(transform="pandas").fit(df).transform(df)
    assert list(out.columns) == ["a", "b"] and out.shape == (50, 2)


def test_pipeline_column_transformer_and_grid_search(Quantizer):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    search = GridSearchCV(Quantizer(), {"n_bits": [1, 2, 3]}, cv=3).fit(X)
    assert search.best_params_ == {"n_bits": 3}  # -MSE always prefers more bits
    pipe = make_pipeline(
        ColumnTransformer(
            [("q", Quantizer(encode="reconstruct"), list(range(10)))],
            remainder="passthrough",
        ),
        StandardScaler(),
        LogisticRegression(),
    )
    grid = GridSearchCV(pipe, {"columntransformer__q__n_bits": [1, 4]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.9


def test_per_feature_bit_widths(Quantizer, rng):
    X = rng.standard_normal((400, 3))
    q = Quantizer(n_bits=[1, 3, 2]).fit(X)
    assert q.thresholds_.shape == (3, 7) and q.levels_.shape == (3, 8)
    assert q.n_levels_.tolist() == [2, 8, 4]
    for j, b in enumerate([1, 3, 2]):
        single = Quantizer(n_bits=b).fit(X[:, [j]])
        M = 2**b
        np.testing.assert_array_equal(q.thresholds_[j, : M - 1], single.thresholds_[0])
        assert np.isinf(q.thresholds_[j, M - 1 :]).all()
        np.testing.assert_array_equal(q.transform(X)[:, j], single.transform(X[:, [j]])[:, 0])
    assert q.transform(X).dtype == np.uint8
    assert Quantizer(n_bits=[1, 9, 2]).fit(X).transform(X).dtype == np.uint16
    with pytest.raises(ValueError, match="one per feature"):
        Quantizer(n_bits=[1, 2]).fit(X)
    with pytest.raises(ValueError, match=r"integers in \[1, 16\]"):
        Quantizer(n_bits=[1, 2, 17]).fit(X)


# ------------------------------------------------------------------ n_levels
@pytest.mark.parametrize("M", [2, 3, 5, 6, 7, 10, 12, 255, 257])
def test_any_number_of_levels(Quantizer, rng, M):
    X = rng.standard_normal((3000, 2))
    q = Quantizer(n_levels=M).fit(X)
    assert q.thresholds_.shape == (2, M - 1) and q.levels_.shape == (2, M)
    assert q.n_levels_.tolist() == [M, M] and q.max_levels_.tolist() == [M, M]
    codes = q.transform(X)
    assert codes.dtype == (np.uint8 if M <= 256 else np.uint16)
    assert codes.max() <= M - 1 and len(np.unique(codes[:, 0])) >= min(M, 3)
    # codes are the thresholds' cells
    for j in range(2):
        np.testing.assert_array_equal(
            codes[:, j], np.searchsorted(q.thresholds_[j], X[:, j], side="right")
        ) if not hasattr(q, "zero_point_") else None
    assert np.isclose(-q.score(X), q.mse_.mean(), rtol=1e-9)


def test_n_bits_means_exactly_two_to_the_n_bits_levels(Quantizer, rng):
    X = rng.standard_normal((2000, 3))
    a = Quantizer(n_bits=3).fit(X)
    b = Quantizer(n_levels=8).fit(X)
    for name in ("thresholds_", "levels_", "n_levels_", "max_levels_", "mse_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = Quantizer(n_bits=[1, 3, 2]).fit(X)
    d = Quantizer(n_levels=[2, 8, 4]).fit(X)
    np.testing.assert_array_equal(c.thresholds_, d.thresholds_)
    assert Quantizer().fit(X).max_levels_.tolist() == [16] * 3  # the default: 4 bits


def test_per_feature_levels_fit_transform_save_load_and_stream(Quantizer, rng, tmp_path):
    import skquant

    levels = [3, 10, 7, 2, 300]
    X = rng.standard_normal((4000, 5))
    q = Quantizer(n_levels=levels).fit(X)
    assert q.n_levels_.tolist() == levels and q.levels_.shape == (5, 300)
    codes = q.transform(X)
    assert codes.dtype == np.uint16 and np.all(codes.max(axis=0) <= np.array(levels) - 1)
    for j, M in enumerate(levels):  # each feature is the one-feature design
        single = Quantizer(n_levels=M).fit(X[:, [j]])
        np.testing.assert_array_equal(q.thresholds_[j, : M - 1], single.thresholds_[0])
    skquant.save(q, tmp_path / "q.skq")
    loaded = skquant.load(tmp_path / "q.skq")
    np.testing.assert_array_equal(loaded.transform(X), codes)
    streamed = Quantizer(n_levels=levels)
    for part in np.array_split(X, 4):
        streamed.partial_fit(part)
    assert streamed.n_levels_.tolist() == levels
    assert np.all(streamed.transform(X).max(axis=0) <= np.array(levels) - 1)


class _Poison:
    """A parameter value that fails when anything reads it as a number."""

    def __index__(self):
        raise AssertionError("a constructor parameter was read after fit")

    __int__ = __float__ = __array__ = __len__ = __iter__ = __index__

    def __eq__(self, other):
        raise AssertionError("a constructor parameter was read after fit")

    __hash__ = object.__hash__


def test_nothing_after_fit_reads_n_bits_or_n_levels(Quantizer, rng, tmp_path):
    """transform, inverse_transform, score, the metrics, save and load, the encoded
    file and the report use the fitted attributes only."""
    from skquant import _io, metrics

    X = rng.standard_normal((500, 3))
    q = Quantizer(n_levels=[3, 5, 16]).fit(X)
    codes, X_hat, score = q.transform(X), q.inverse_transform(q.transform(X)), q.score(X)
    report = metrics.storage_report(q, X)
    rd = metrics.rate_distortion_score(q, X, lam=0.01)
    q.n_bits = q.n_levels = _Poison()  # set_params would validate nothing either
    np.testing.assert_array_equal(q.transform(X), codes)
    np.testing.assert_array_equal(q.inverse_transform(codes), X_hat)
    assert q.score(X) == score and metrics.rate_distortion_score(q, X, lam=0.01) == rd
    assert metrics.storage_report(q, X)["packed_bytes"] == report["packed_bytes"]
    assert report["n_bits"].tolist() == [2, 3, 4]  # ceil(log2 M)
    q.n_bits = q.n_levels = None  # a file stores the parameters as they are
    _io.write(tmp_path / "codes.skq", q, codes=codes)
    enc = _io.read(tmp_path / "codes.skq")
    np.testing.assert_array_equal(enc.codes, codes)
    np.testing.assert_array_equal(enc.estimator.transform(X), codes)


def test_set_params_after_fit_then_save_and_load(Quantizer, rng, tmp_path):
    """The defect: after set_params(n_bits=5) on a fitted quantizer, save wrote a file
    that load refused (shape mismatch)."""
    import skquant

    X = rng.standard_normal((800, 2))
    q = Quantizer(n_bits=3).fit(X)
    q.set_params(n_bits=5)
    skquant.save(q, tmp_path / "q.skq")
    loaded = skquant.load(tmp_path / "q.skq")
    np.testing.assert_array_equal(loaded.transform(X), q.transform(X))
    assert loaded.get_params()["n_bits"] == 5 and loaded.max_levels_.tolist() == [8, 8]
    # refitting the loaded estimator uses its parameters
    assert loaded.fit(X).max_levels_.tolist() == [32, 32]


def test_a_failed_fit_leaves_the_estimator_as_it_was(Quantizer, rng, tmp_path):
    import skquant

    X = rng.standard_normal((300, 2))
    q = Quantizer(n_bits=2).fit(X)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(q).items()}
    bad = X[:, [0, 1, 0]].copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        q.fit(bad)  # another number of features, and a NaN
    with pytest.raises(ValueError, match="n_levels"):
        q.set_params(n_bits=None, n_levels=1).fit(X)
    q.set_params(n_bits=2, n_levels=None)
    assert vars(q).keys() == before.keys()
    for k, v in before.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(vars(q)[k], v)
        else:
            assert vars(q)[k] == v
    with pytest.raises(ValueError, match="NaN"):
        q.partial_fit(bad[:, :2] * np.array([1.0, np.nan]))
    assert not hasattr(q, "sketches_")
    skquant.save(q.fit(X), tmp_path / "q.skq")  # a later fit and save work
    np.testing.assert_array_equal(skquant.load(tmp_path / "q.skq").transform(X), q.transform(X))


def test_save_and_load_after_partial_fit_then_continue(Quantizer, rng, tmp_path):
    import skquant

    X = rng.standard_normal((6000, 2))
    a, b, c = np.array_split(X, 3)
    q = Quantizer(n_bits=3).partial_fit(a).partial_fit(b)
    skquant.save(q, tmp_path / "q.skq")
    loaded = skquant.load(tmp_path / "q.skq")
    np.testing.assert_array_equal(loaded.transform(X), q.transform(X))
    assert loaded.n_samples_seen_ == 4000
    q.partial_fit(c)
    loaded.partial_fit(c)  # the stream continues from the saved sketches
    assert loaded.n_samples_seen_ == q.n_samples_seen_ == 6000
    np.testing.assert_array_equal(loaded.thresholds_, q.thresholds_)
    np.testing.assert_array_equal(loaded.levels_, q.levels_)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_levels": 1}, "'n_levels' parameter"),
        ({"n_levels": 0}, "'n_levels' parameter"),
        ({"n_levels": -1}, "'n_levels' parameter"),
        ({"n_levels": 65537}, "'n_levels' parameter"),
        ({"n_levels": 2.5}, "'n_levels' parameter"),
        ({"n_levels": True}, "'n_levels' parameter of"),
        ({"n_levels": np.array(5)}, "'n_levels' parameter of .* not a 0-d array"),
        ({"n_bits": np.array(17)}, "'n_bits' parameter of .* not a 0-d array"),
        ({"n_bits": np.array(4.7)}, "'n_bits' parameter of .* not a 0-d array"),
        ({"n_levels": [3, 4]}, "n_levels must be an int or an array of 3 ints"),
        ({"n_levels": [3, 1, 4]}, r"n_levels values must be integers in \[2, 65536\]"),
        ({"n_levels": [3, 2.5, 4]}, r"n_levels values must be integers in \[2, 65536\]"),
        ({"n_levels": [3, True, 4]}, "n_levels values must be integers"),
        ({"n_bits": 3, "n_levels": 5}, "n_bits or n_levels, not both"),
        ({"n_bits": 4, "n_levels": 16}, "n_bits or n_levels, not both"),
    ],
)
def test_bad_n_levels(Quantizer, params, match):
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(ValueError, match=match):
        Quantizer(**params).fit(X)
    with pytest.raises(ValueError, match=match):
        Quantizer(**params).partial_fit(X)


def test_score_validates_sample_weight_like_fit(Quantizer, rng):
    X = rng.standard_normal((100, 2))
    q = Quantizer(n_bits=2).fit(X)
    w = np.ones(100)
    assert q.score(X, sample_weight=w) == q.score(X)
    assert q.score(X, sample_weight=w * 1e308) == q.score(X)  # only ratios count
    for bad, match in [(-w, "(?i)negative"), (w * np.nan, "NaN"), (w * 0, "zero"),
                       (np.ones(99), "shape"), (w * np.inf, "infinity")]:
        with pytest.raises(ValueError, match=match):
            q.score(X, sample_weight=bad)
        with pytest.raises(ValueError, match=match):
            Quantizer(n_bits=2).fit(X, sample_weight=bad)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name, est", every_scalar_quantizer_at(4), ids=lambda v: str(v))
def test_columns_summarised_in_shared_buffers_fit_as_alone(name, est, weighted, rng):
    # a fit summarises its columns one after the other in each thread's reused buffers
    # (SummaryScratch): each column's codebook must be that of a fit of it alone, so no
    # design may keep a view of a summary past its column
    import numba

    n = 20000  # 3 columns take the kernels (more values than K.SMALL)
    X = np.column_stack([rng.standard_normal(n), rng.laplace(size=n) * 5.0 + 3.0,
                         np.round(rng.standard_normal(n) * 4.0)])
    sw = rng.random(n) if weighted else None
    alone = [clone(est).fit(X[:, [j]], sample_weight=sw) for j in range(3)]
    threads = numba.get_num_threads()
    try:
        for t in {1, threads}:
            numba.set_num_threads(t)
            together = clone(est).fit(X, sample_weight=sw)
            for j, one in enumerate(alone):
                np.testing.assert_array_equal(together.levels_[j, : one.n_levels_[0]],
                                              one.levels_[0, : one.n_levels_[0]])
                np.testing.assert_array_equal(together.mse_[j], one.mse_[0])
    finally:
        numba.set_num_threads(threads)
