"""skquant.dask on a real distributed.LocalCluster: fits against the in-memory fit and
partial_fit, transforms against the in-memory transform (exactly), errors."""

import subprocess
import sys

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

import dask  # noqa: E402
import pandas as pd  # noqa: E402

import skquant.dask as skd  # noqa: E402
from skquant import (  # noqa: E402
    BinarySphericalEncoder,
    CompanderQuantizer,
    EntropyConstrainedQuantizer,
    LloydMaxQuantizer,
    UniformClipQuantizer,
)
from skquant._registry import estimator_variants  # noqa: E402

N, CHUNK = 30_000, 5_000  # six row blocks


@pytest.fixture(scope="module")
def client():
    """Two worker processes, one thread each; closed even when a test fails."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.standard_normal(N), rng.lognormal(size=N), 3 + 0.5 * rng.laplace(size=N)]
    )
    w = rng.uniform(0.0, 2.0, N)
    return X, w


def _mse(q, X, w=None):
    """Per-column (weighted) MSE of the quantizer on all of X."""
    X_hat = q.inverse_transform(q.set_params(encode="ordinal").transform(X))
    return np.average((X - X_hat) ** 2, axis=0, weights=w)


# every registered scalar quantizer's default, and the exact optimum at 8 levels
VARIANTS = [
    (name, est) for name, est in estimator_variants(scalar=True)
    if name.endswith("-default")
] + [("LloydMaxQuantizer-optimal", LloydMaxQuantizer(n_bits=3, algorithm="optimal"))]
ESTIMATORS = [est for _, est in VARIANTS]
IDS = [name for name, _ in VARIANTS]


def test_the_cluster_is_the_scheduler(client):
    assert dask.base.get_scheduler() == client.get
    assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_fit_is_within_the_streaming_tolerance_of_fit(client, data, estimator, weighted):
    X, w = data
    w = w if weighted else None
    Xd = da.from_array(X, chunks=(CHUNK, 2))  # column chunks are merged by fit
    wd = None if w is None else da.from_array(w, chunks=CHUNK)
    q = skd.fit(estimator.set_params(encode="ordinal"), Xd, wd)
    exact = type(estimator)(**estimator.get_params()).fit(X, sample_weight=w)
    assert q.n_samples_seen_ == N and q.n_features_in_ == 3
    assert len(q.sketches_) == 3
    mse, ref = _mse(q, X, w), _mse(exact, X, w)
    if getattr(estimator, "rate", None) is not None or (
        isinstance(estimator, EntropyConstrainedQuantizer) and estimator.lam is None
    ):  # designed for an entropy, met to within the search's steps: compare the
        # distortions at equal rate, on the curve D ~ 2**(-2 H) (6.02 dB per bit)
        mse, ref = mse * 4.0**q.entropy_, ref * 4.0**exact.entropy_
    np.testing.assert_array_less(np.abs(mse - ref) / ref, 1e-3)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_fit_equals_partial_fit_in_any_order(client, data, estimator):
    X, w = data
    Xd = da.from_array(X, chunks=(CHUNK, 3))
    q = skd.fit(type(estimator)(**estimator.get_params()), Xd, w, split_every=2)
    ref = type(estimator)(**estimator.get_params())
    order = [0, *np.random.default_rng(1).permutation(np.arange(1, N // CHUNK))]
    for k in order:  # the first block sets the sketches' grids, then any order
        rows = slice(k * CHUNK, (k + 1) * CHUNK)
        ref.partial_fit(X[rows], sample_weight=w[rows])
    assert q.n_samples_seen_ == ref.n_samples_seen_ == N
    np.testing.assert_allclose(q.thresholds_, ref.thresholds_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(q.levels_, ref.levels_, rtol=1e-12, atol=1e-12)
    if isinstance(estimator, LloydMaxQuantizer) and estimator.algorithm == "lloyd":
        # another fan-in, the same merged sketches
        q8 = skd.fit(type(estimator)(**estimator.get_params()), Xd, w, split_every=8)
        np.testing.assert_array_equal(q8.thresholds_, q.thresholds_)


def test_fit_ignores_a_previous_stream(client, data):
    X, _ = data
    q = LloydMaxQuantizer(n_bits=3).partial_fit(X[:1000] * 100)
    skd.fit(q, da.from_array(X, chunks=(CHUNK, 3)))
    assert q.n_samples_seen_ == N
    ref = LloydMaxQuantizer(n_bits=3)
    for k in range(N // CHUNK):
        ref.partial_fit(X[k * CHUNK : (k + 1) * CHUNK])
    np.testing.assert_allclose(q.thresholds_, ref.thresholds_, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "params, dtype, out_dtype",
    [
        ({"n_bits": 4, "encode": "ordinal"}, np.float64, np.uint8),
        ({"n_bits": 10, "encode": "ordinal"}, np.float64, np.uint16),
        ({"n_bits": 3, "encode": "reconstruct"}, np.float32, np.float32),
        ({"n_bits": 2, "encode": "onehot-dense"}, np.float64, np.float64),
    ],
    ids=["uint8", "uint16", "reconstruct32", "onehot-dense"],
)
def test_transform_equals_in_memory_exactly(client, data, params, dtype, out_dtype):
    X = data[0].astype(dtype)
    q = UniformClipQuantizer(**params).fit(X[:5000])  # values beyond the range too
    Xd = da.from_array(X, chunks=((7000, 3000, 10_000, 10_000), (2, 1)))
    Y = skd.transform(q, Xd)
    assert Y.dtype == out_dtype
    expected = q.transform(X)
    assert Y.chunks == ((7000, 3000, 10_000, 10_000), (expected.shape[1],))
    got = Y.compute()
    assert got.dtype == out_dtype
    np.testing.assert_array_equal(got, expected)
    if params["encode"] == "reconstruct":
        return
    X_hat = skd.inverse_transform(q, Y)
    assert X_hat.dtype == q.levels_.dtype and X_hat.chunks[1] == (3,)
    np.testing.assert_array_equal(X_hat.compute(), q.inverse_transform(expected))


def test_transform_is_lazy(data):
    X, _ = data
    q = LloydMaxQuantizer(n_bits=3).fit(X)
    calls = []

    def block(k):
        calls.append(k)
        return X[k * CHUNK : (k + 1) * CHUNK]

    Xd = da.concatenate(
        [da.from_delayed(dask.delayed(block)(k), (CHUNK, 3), X.dtype) for k in range(6)]
    )
    Y = skd.inverse_transform(q, skd.transform(q, Xd))
    assert calls == []  # building the graph computed nothing
    assert Y.numblocks == (6, 1)
    out = Y.compute(scheduler="sync")  # in this process, so the calls are seen
    assert sorted(calls) == list(range(6))
    np.testing.assert_array_equal(out, q.inverse_transform(q.transform(X)))


def test_dataframe_in_and_out(client, data):
    X, w = data
    pdf = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(N) * 2)
    ddf = dd.from_pandas(pdf, npartitions=4)
    wdf = dd.from_pandas(pd.Series(w, index=pdf.index), npartitions=4)
    q = skd.fit(LloydMaxQuantizer(n_bits=3), ddf, wdf)
    assert list(q.feature_names_in_) == ["a", "b", "c"]
    ref = LloydMaxQuantizer(n_bits=3)
    for i in range(4):  # the partitions, in order
        ref.partial_fit(ddf.partitions[i].compute(), sample_weight=wdf.partitions[i].compute())
    np.testing.assert_allclose(q.thresholds_, ref.thresholds_, rtol=1e-12, atol=1e-12)

    codes = skd.transform(q, ddf)
    assert isinstance(codes, dd.DataFrame) and list(codes.columns) == ["a", "b", "c"]
    got = codes.compute()
    assert (got.dtypes == np.uint8).all()
    pd.testing.assert_index_equal(got.index, pdf.index)
    np.testing.assert_array_equal(got.to_numpy(), q.transform(pdf))
    back = skd.inverse_transform(q, codes).compute()
    assert list(back.columns) == ["a", "b", "c"] and (back.dtypes == np.float64).all()
    np.testing.assert_array_equal(back.to_numpy(), q.inverse_transform(got.to_numpy()))

    q.set_params(encode="onehot-dense")
    onehot = skd.transform(q, ddf)
    assert list(onehot.columns) == list(q.get_feature_names_out())
    np.testing.assert_array_equal(onehot.compute().to_numpy(), q.transform(pdf))


def test_dataframe_errors(client, data):
    X, _ = data
    pdf = pd.DataFrame(X[:2000], columns=["a", "b", "c"])
    pdf["d"] = "text"
    with pytest.raises(TypeError, match="Column\\(s\\) d .*not numeric"):
        skd.fit(LloydMaxQuantizer(), dd.from_pandas(pdf, npartitions=2))
    q = LloydMaxQuantizer().fit(pdf[["a", "b", "c"]])
    with pytest.raises(ValueError, match="feature names"):  # sklearn's own check, eager
        skd.transform(q, dd.from_pandas(pdf[["a", "c", "b"]], npartitions=2))


@pytest.mark.parametrize("frame", [False, True], ids=["array", "dataframe"])
def test_nan_in_a_block_names_the_column(client, data, frame):
    X = data[0].copy()
    X[12_345, 1] = np.nan
    if frame:
        Xd = dd.from_pandas(pd.DataFrame(X, columns=["a", "b", "c"]), npartitions=6)
        match = r"column\(s\) 1 \('b'\).*row block 2"
    else:
        Xd = da.from_array(X, chunks=(CHUNK, 3))
        match = r"column\(s\) 1;.*rows 10000\.\.14999 \(row block 2\)"
    with pytest.raises(ValueError, match=match):
        skd.fit(UniformClipQuantizer(), Xd)
    X[12_345, 1] = 0.0
    X[7, 2] = np.inf  # in the first block: partial_fit's own message
    with pytest.raises(ValueError, match=r"NaN or inf in column\(s\) 2"):
        skd.fit(UniformClipQuantizer(), da.from_array(X, chunks=(CHUNK, 3)))
    q = UniformClipQuantizer().fit(data[0])
    X[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in column\(s\) 2"):
        skd.transform(q, da.from_array(X, chunks=(CHUNK, 3))).compute()


def test_input_errors(client, data):
    X, w = data
    Xd = da.from_array(X, chunks=(CHUNK, 3))
    q = LloydMaxQuantizer()
    with pytest.raises(ValueError, match="2-D dask array"):
        skd.fit(q, Xd[:, 0])
    with pytest.raises(TypeError, match="numeric dask array"):
        skd.fit(q, Xd.astype(complex))
    with pytest.raises(ValueError, match="sample_weight has 29999 rows but X has 30000"):
        skd.fit(q, Xd, da.from_array(w[1:], chunks=CHUNK))
    with pytest.raises(ValueError, match="1-D"):
        skd.fit(q, Xd, da.from_array(w[:, None], chunks=CHUNK))
    with pytest.raises(ValueError, match="split_every"):
        skd.fit(q, Xd, split_every=1)
    bad = w.copy()
    bad[20_000] = -1.0
    with pytest.raises(ValueError, match="non-negative.*row block 4"):
        skd.fit(q, Xd, da.from_array(bad, chunks=CHUNK))
    # unknown row-chunk sizes: weights need as many blocks, of the same lengths
    w3 = dd.from_pandas(pd.Series(w), npartitions=3).to_dask_array()
    with pytest.raises(ValueError, match="3 row chunks but X has 6"):
        skd.fit(q, Xd, w3)
    Xu = dd.from_pandas(pd.DataFrame(X), npartitions=3).to_dask_array()
    assert np.isnan(Xu.chunks[0]).all()
    w_misaligned = da.from_array(w, chunks=((5000, 5000, 20_000),))
    with pytest.raises(ValueError, match="Row block 0: sample_weight has 5000 rows"):
        skd.fit(q, Xu, w_misaligned)
    with pytest.raises(TypeError, match="sample_weight as a dask Series"):
        skd.fit(q, Xu, w)
    with pytest.raises(TypeError, match="skquant's"):
        skd.fit(object(), Xd)


def test_onehot_transform_is_refused(client, data):
    X, _ = data
    q = CompanderQuantizer(n_bits=2, encode="onehot").fit(X)
    with pytest.raises(ValueError, match='"onehot-dense".*"ordinal"'):
        skd.transform(q, da.from_array(X, chunks=(CHUNK, 3)))
    # the one-hot matrix is still accepted back by inverse_transform
    onehot = q.set_params(encode="onehot-dense").transform(X)
    q.set_params(encode="onehot")
    back = skd.inverse_transform(q, da.from_array(onehot, chunks=(CHUNK, 4)))
    np.testing.assert_array_equal(back.compute(), q.inverse_transform(onehot))


def test_numpy_passes_through(data):
    X, w = data
    q = skd.fit(LloydMaxQuantizer(n_bits=3), X, w)
    ref = LloydMaxQuantizer(n_bits=3).fit(X, sample_weight=w)
    np.testing.assert_array_equal(q.thresholds_, ref.thresholds_)
    assert not hasattr(q, "sketches_")
    codes = skd.transform(q, X)
    assert isinstance(codes, np.ndarray)
    np.testing.assert_array_equal(codes, ref.transform(X))
    np.testing.assert_array_equal(skd.inverse_transform(q, codes), ref.inverse_transform(codes))


# ----------------------------------------------------------- BinarySphericalEncoder
@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((8, 8)) * np.linspace(3, 0.2, 8)
    return (rng.standard_normal((N, 8)) @ A + 1.5).astype(np.float32)


@pytest.mark.parametrize(
    "encode, out_dtype, width", [("packed", np.uint8, 1), ("index", np.int64, 1),
                                 ("sign", np.float32, 6)]
)
def test_binary_spherical_transform_equals_in_memory(client, embeddings, encode, out_dtype, width):
    X = embeddings
    enc = BinarySphericalEncoder(6, rotation="itq", center=True, random_state=0, encode=encode)
    enc.fit(X)
    Xd = da.from_array(X, chunks=(CHUNK, 4))
    codes = skd.transform(enc, Xd)
    assert codes.dtype == out_dtype and codes.chunks == ((CHUNK,) * 6, (width,))
    got = codes.compute()
    np.testing.assert_array_equal(got, enc.transform(X))
    back = skd.inverse_transform(enc, codes)
    np.testing.assert_array_equal(back.compute(), enc.inverse_transform(got))
    if encode == "index":  # 1-D index codes are accepted too
        flat = skd.inverse_transform(enc, codes[:, 0])
        assert flat.chunks == ((CHUNK,) * 6, (8,))
        np.testing.assert_array_equal(flat.compute(), enc.inverse_transform(got))


def test_binary_spherical_fit_on_a_sample(client, embeddings):
    X = embeddings
    Xd = da.from_array(X, chunks=(CHUNK, 8))
    for params in ({}, {"rotation": "random", "n_bits": 5, "random_state": 2}):
        enc = skd.fit(BinarySphericalEncoder(**params), Xd, max_samples=2000, random_state=0)
        ref = BinarySphericalEncoder(**params).fit(X)
        # no statistic of the data enters these fits: the encoders are the same
        np.testing.assert_array_equal(enc.components_, ref.components_)
        np.testing.assert_array_equal(skd.transform(enc, Xd).compute(), ref.transform(X))
        # the diagnostics come from a uniform sample of 2000 rows
        np.testing.assert_allclose(enc.bit_balance_, ref.bit_balance_, atol=0.05)
    # the sample is reproducible, and another seed gives another sample
    a = skd.fit(BinarySphericalEncoder(), Xd, max_samples=500, random_state=1).bit_balance_
    b = skd.fit(BinarySphericalEncoder(), Xd, max_samples=500, random_state=1).bit_balance_
    c = skd.fit(BinarySphericalEncoder(), Xd, max_samples=500, random_state=2).bit_balance_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_binary_spherical_pca_from_exact_moments(client, embeddings):
    X = embeddings
    Xd = da.from_array(X, chunks=(CHUNK, 8))
    for center in (True, False):
        enc = skd.fit(
            BinarySphericalEncoder(4, rotation="pca", center=center), Xd, max_samples=1000
        )
        ref = BinarySphericalEncoder(4, rotation="pca", center=center).fit(X)
        np.testing.assert_allclose(enc.mean_, ref.mean_, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(enc.components_, ref.components_, atol=1e-6)
    # ITQ: the same principal directions, the rotation fitted on the sample
    enc = skd.fit(BinarySphericalEncoder(4, rotation="itq", center=True, random_state=0),
                  Xd, max_samples=N)
    ref = BinarySphericalEncoder(4, rotation="itq", center=True, random_state=0).fit(X)
    np.testing.assert_allclose(enc.components_, ref.components_, atol=1e-5)
    np.testing.assert_allclose(enc.itq_loss_, ref.itq_loss_, rtol=1e-5)


def test_binary_spherical_errors(client, embeddings):
    X = embeddings.copy()
    X[17_001, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 row\(s\) \(row\(s\) 17001\)"):
        skd.fit(BinarySphericalEncoder(center=True), da.from_array(X, chunks=(CHUNK, 8)))
    with pytest.raises(TypeError, match="no sample_weight"):
        skd.fit(BinarySphericalEncoder(), da.from_array(X, chunks=(CHUNK, 8)), np.ones(N))


# ------------------------------------------------------------------------- imports
def test_imports():
    # import skquant does not import dask; without dask, skquant.dask says what to install
    code = (
        "import sys, skquant\n"
        "assert 'dask' not in sys.modules, 'import skquant imported dask'\n"
        "sys.modules['dask'] = None\n"
        "import skquant.dask\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert 'ImportError: skquant.dask needs Dask: pip install "skquant[dask]"' in out.stderr


def test_public_functions_validate_their_parameters(client):
    X = da.from_array(np.random.default_rng(0).standard_normal((200, 2)), chunks=(100, 2))
    for kwargs, match in [({"split_every": 1}, "split_every"),
                          ({"split_every": True}, "split_every"),
                          ({"max_samples": 0}, "max_samples"),
                          ({"random_state": "x"}, "random_state")]:
        with pytest.raises(ValueError, match=match):
            skd.fit(LloydMaxQuantizer(), X, **kwargs)
    for func in (skd.fit, skd.transform, skd.inverse_transform):
        with pytest.raises(TypeError, match="skquant's|not an estimator instance"):
            func("not an estimator", X)
        with pytest.raises(ValueError, match="'X' parameter"):
            func(LloydMaxQuantizer(), 3.0)
