"""doc/kbins_migration.rst: each row of the KBinsDiscretizer table, run on both
estimators on scikit-learn's bundled datasets (codes compared exactly where the page
says they are equal, MSE where it says which is smaller)."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn import datasets
from sklearn.preprocessing import KBinsDiscretizer

from skquant import LloydMaxQuantizer, UniformClipQuantizer
from skquant.metrics import code_entropy

DATASETS = ("iris", "diabetes", "wine", "breast_cancer", "digits")


def _load(name):
    return getattr(datasets, f"load_{name}")().data


def _fit(est, X, **kw):
    with warnings.catch_warnings():  # constant columns, few distinct values, tiny bins
        warnings.simplefilter("ignore", UserWarning)
        return est.fit(X, **kw)


def _kbins(X, n_bins, strategy, sample_weight=None, **params):
    params = {"encode": "ordinal", "subsample": None, **params}
    est = KBinsDiscretizer(n_bins=n_bins, strategy=strategy, **params)
    return _fit(est, X, sample_weight=sample_weight)


def _distinct(X):
    return np.array([np.unique(col).size for col in X.T])


def _column_mse(X, X_hat, w=None):
    return np.average((X - X_hat) ** 2, axis=0, weights=w)


def _cell_mean_mse(X, codes, w=None):
    """MSE of each column with its cells as given and the (weighted) mean of each cell
    as its level: the objective k-means minimises over the cells."""
    w = np.ones(X.shape[0]) if w is None else w
    out = []
    for x, c in zip(X.T, codes.T.astype(np.intp)):
        means = np.bincount(c, w * x) / np.maximum(np.bincount(c, w), 1e-300)
        out.append(np.average((x - means[c]) ** 2, weights=w))
    return np.array(out)


# --- n_bins ----------------------------------------------------------------------------


def test_n_bins_is_n_levels_also_per_feature():
    X = _load("wine")
    n = np.arange(2, 2 + X.shape[1])  # 2 .. 14 levels, one count per feature
    kb = _kbins(X, n, "uniform")
    q = _fit(UniformClipQuantizer(n_levels=n, clip="minmax"), X)
    assert np.all(_distinct(X) > n)  # no column is stored exactly here
    np.testing.assert_array_equal(q.transform(X), kb.transform(X))
    np.testing.assert_array_equal(q.n_levels_, kb.n_bins_)
    np.testing.assert_array_equal(q.max_levels_, n)
    # the defaults differ: 5 bins, 16 levels (4 bits)
    assert KBinsDiscretizer().n_bins == 5
    assert _fit(UniformClipQuantizer(clip="minmax"), X).max_levels_.tolist() == [16] * 13


# --- strategy="uniform" ----------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_uniform_is_uniform_clip_minmax(name):
    X = _load(name)
    for M in (3, 5, 16):
        kb = _kbins(X, M, "uniform")
        q = _fit(UniformClipQuantizer(n_levels=M, clip="minmax"), X)
        codes, kb_codes = q.transform(X), kb.transform(X)
        many = _distinct(X) > M
        for j in np.flatnonzero(many):  # the same edges, bit for bit
            np.testing.assert_array_equal(q.thresholds_[j], kb.bin_edges_[j][1:-1])
            assert (q.clip_min_[j], q.clip_max_[j]) == tuple(kb.bin_edges_[j][[0, -1]])
        np.testing.assert_array_equal(codes[:, many], kb_codes[:, many])
        for j in np.flatnonzero(~many):  # one level per distinct value, in order
            u = np.unique(X[:, j])
            np.testing.assert_array_equal(codes[:, j], np.searchsorted(u, X[:, j]))
            np.testing.assert_array_equal(q.inverse_transform(codes)[:, j], X[:, j])
        # values beyond the training range go to the end cells in both
        outside = np.vstack([X.min(axis=0) - 1.0, X.max(axis=0) + 1.0])
        np.testing.assert_array_equal(q.transform(outside)[:, many], kb.transform(outside)[:, many])


def test_uniform_differs_on_columns_with_few_distinct_values():
    X = _load("diabetes")  # column 1 (sex) takes two values
    kb, q = _kbins(X, 5, "uniform"), _fit(UniformClipQuantizer(n_levels=5, clip="minmax"), X)
    assert sorted(np.unique(kb.transform(X)[:, 1])) == [0, 4]
    assert sorted(np.unique(q.transform(X)[:, 1])) == [0, 1]
    assert (kb.n_bins_[1], q.n_levels_[1], q.max_levels_[1]) == (5, 2, 5)
    assert _column_mse(X, q.inverse_transform(q.transform(X)))[1] == 0.0


def test_float32_data_get_the_codes_of_the_float64_edges():
    X = _load("diabetes")
    X32 = X.astype(np.float32)
    q = _fit(UniformClipQuantizer(n_levels=5, clip="minmax"), X32)
    assert q.thresholds_.dtype == np.float32
    kb64 = _kbins(X32.astype(np.float64), 5, "uniform")
    many = _distinct(X32) > 5
    np.testing.assert_array_equal(q.transform(X32)[:, many], kb64.transform(X32)[:, many])


# --- strategy="kmeans" -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_kmeans_is_lloyd_max_with_lower_mse(name):
    X = _load(name)
    for M in (5, 7):
        kb = _kbins(X, M, "kmeans")
        kb_codes = kb.transform(X)
        kb_hat = kb.inverse_transform(kb_codes)
        # KBins reconstructs with bin centres: the midpoints of its edges
        for j in range(X.shape[1]):
            e = kb.bin_edges_[j]
            centres = 0.5 * (e[1:] + e[:-1])
            np.testing.assert_array_equal(kb_hat[:, j], centres[kb_codes[:, j].astype(int)])
        kb_mse = _column_mse(X, kb_hat)
        kmeans_mse = _cell_mean_mse(X, kb_codes)  # its cells with their means as levels
        lloyd = _fit(LloydMaxQuantizer(n_levels=M), X)
        optimal = _fit(LloydMaxQuantizer(n_levels=M, algorithm="optimal"), X)
        for q in (lloyd, optimal):  # levels are centroids: the fitted mse_ is the real one
            np.testing.assert_allclose(_column_mse(X, q.inverse_transform(q.transform(X))),
                                       q.mse_, rtol=1e-9, atol=1e-300)
        assert np.all(lloyd.mse_ <= kb_mse * (1 + 1e-9)), (name, M)
        assert np.all(optimal.mse_ <= kmeans_mse * (1 + 1e-9)), (name, M)
        assert np.all(optimal.mse_ <= lloyd.mse_ * (1 + 1e-9)), (name, M)


def test_kmeans_and_lloyd_can_stop_at_different_local_minima():
    """Iris sepal length at 3 levels: the uniform start (levels 4.9, 6.1, 7.3) puts
    thresholds on data values (5.5, 6.7); skquant's cells send a value on a threshold
    up, k-means to the centre nearer in floating point (down for the seven 5.5s), and
    the two Lloyd runs end at different fixed points (moving the 5.5s up by 1e-9 makes
    k-means end at skquant's levels). Only algorithm="optimal" is never worse."""
    x = _load("iris")[:, :1]
    kb = _kbins(x, 3, "kmeans")
    kmeans_mse = _cell_mean_mse(x, kb.transform(x))[0]
    lloyd = _fit(LloydMaxQuantizer(n_levels=3, init="uniform", n_init=1), x)
    optimal = _fit(LloydMaxQuantizer(n_levels=3, algorithm="optimal"), x)
    assert lloyd.mse_[0] > kmeans_mse * 1.001
    assert optimal.mse_[0] <= kmeans_mse


# --- strategy="quantile" and quantile_method ---------------------------------------------


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_quantile_has_no_equivalent(name):
    """Equal-count cells maximise the code entropy; skquant has no such quantizer. For
    the error, LloydMaxQuantizer is lower than the quantile bins with either
    reconstruction."""
    X = _load(name)
    for M in (3, 8):
        kb = _kbins(X, M, "quantile")
        kb_codes = kb.transform(X)
        q = _fit(LloydMaxQuantizer(n_levels=M, algorithm="optimal"), X)
        codes = q.transform(X)
        for j in range(X.shape[1]):
            kb_entropy = code_entropy(kb_codes[:, j : j + 1].astype(np.intp))
            assert kb_entropy > code_entropy(codes[:, j : j + 1])
            assert kb_entropy > 0.95 * np.log2(kb.n_bins_[j])
        assert np.all(q.mse_ <= _cell_mean_mse(X, kb_codes) * (1 + 1e-9))
        assert np.all(q.mse_ < _column_mse(X, kb.inverse_transform(kb_codes)))


def test_quantiles_of_skquant_are_inverted_cdf():
    """skquant's one quantile (clip="percentile", init="quantile", the sketches) is the
    weighted inverted CDF: numpy's method="inverted_cdf" on the rows repeated by weight."""
    X = _load("breast_cancer")
    w = np.random.default_rng(0).integers(0, 4, X.shape[0])
    q = _fit(UniformClipQuantizer(n_levels=5, clip="percentile", percentile=97.5), X,
             sample_weight=w.astype(float))
    repeated = np.repeat(X, w, axis=0)
    for p, got in ((2.5, q.clip_min_), (97.5, q.clip_max_)):
        np.testing.assert_array_equal(
            got, np.percentile(repeated, p, axis=0, method="inverted_cdf")
        )


# --- encode and dtype ------------------------------------------------------------------


def test_encode_onehot_and_ordinal():
    X = _load("breast_cancer")
    M = 5
    assert np.all(_distinct(X) > M)
    for encode in ("onehot", "onehot-dense", "ordinal"):
        kb = _kbins(X, M, "uniform", encode=encode)
        q = _fit(UniformClipQuantizer(n_levels=M, clip="minmax", encode=encode), X)
        a, b = kb.transform(X), q.transform(X)
        assert sparse.issparse(a) == sparse.issparse(b) == (encode == "onehot")
        if encode == "onehot":
            assert a.format == b.format == "csr"
            a, b = a.toarray(), b.toarray()
        np.testing.assert_array_equal(b, a)
        if encode == "ordinal":  # KBins: float codes; skquant: small integers
            assert (a.dtype, b.dtype) == (np.float64, np.uint8)
        else:
            assert a.dtype == b.dtype == np.float64
            assert kb.get_feature_names_out()[:2].tolist() == ["x0_0.0", "x0_1.0"]
            assert q.get_feature_names_out()[:2].tolist() == ["x0_0", "x0_1"]
    # skquant's fourth encoding: the quantized values, i.e. KBins' inverse_transform
    kb = _kbins(X, M, "uniform")
    r = _fit(UniformClipQuantizer(n_levels=M, clip="minmax", encode="reconstruct"), X)
    np.testing.assert_allclose(r.transform(X), kb.inverse_transform(kb.transform(X)),
                               rtol=1e-15, atol=1e-15 * np.ptp(X))


def test_dtype():
    X = _load("breast_cancer")
    kb = _kbins(X, 5, "uniform", dtype=np.float32)
    q = _fit(UniformClipQuantizer(n_levels=5, clip="minmax"), X)
    assert kb.transform(X).dtype == np.float32
    np.testing.assert_array_equal(q.transform(X).astype(np.float32), kb.transform(X))
    wide = _fit(UniformClipQuantizer(n_levels=300, clip="minmax"), X)
    assert wide.transform(X).dtype == np.uint16  # above 256 levels
    # float32 data: float32 one-hot, levels and reconstruction in both
    X32 = X.astype(np.float32)
    kb32 = _kbins(X32, 5, "uniform", encode="onehot-dense")
    q32 = _fit(UniformClipQuantizer(n_levels=5, clip="minmax", encode="onehot-dense"), X32)
    assert kb32.transform(X32).dtype == q32.transform(X32).dtype == np.float32
    q32.set_params(encode="ordinal")
    assert q32.inverse_transform(q32.transform(X32)).dtype == np.float32
    assert q.inverse_transform(q.transform(X)).dtype == np.float64


# --- subsample, random_state, sample_weight --------------------------------------------


def test_subsample_every_row_is_used():
    X = _load("breast_cancer")
    q = _fit(UniformClipQuantizer(n_levels=5, clip="minmax"), X)
    np.testing.assert_array_equal(q.transform(X), _kbins(X, 5, "uniform").transform(X))
    # a subsample is a bootstrap draw: its range is not the data's
    sub = _kbins(X, 5, "uniform", subsample=200, random_state=0)
    ranges = np.array([e[[0, -1]] for e in sub.bin_edges_])
    assert np.any(ranges[:, 0] > X.min(axis=0)) or np.any(ranges[:, 1] < X.max(axis=0))
    # skquant draws nothing at random (no random_state): two fits are identical
    again = _fit(UniformClipQuantizer(n_levels=5, clip="minmax"), X)
    np.testing.assert_array_equal(again.thresholds_, q.thresholds_)
    # data too large for memory: partial_fit streams every row through the sketches
    p = UniformClipQuantizer(n_levels=5, clip="minmax")
    for start in range(0, X.shape[0], 100):
        p.partial_fit(X[start : start + 100])
    assert p.n_samples_seen_ == X.shape[0]
    np.testing.assert_allclose(p.thresholds_, q.thresholds_, rtol=1e-12)


def test_sample_weight():
    X = _load("wine")
    w = np.random.default_rng(1).integers(0, 3, X.shape[0]).astype(float)  # zeros too
    kb = _kbins(X, 5, "uniform", sample_weight=w)
    q = _fit(UniformClipQuantizer(n_levels=5, clip="minmax"), X, sample_weight=w)
    np.testing.assert_array_equal(q.transform(X), kb.transform(X))  # zero weights: no range
    kb = _kbins(X, 5, "kmeans", sample_weight=w)
    opt = _fit(LloydMaxQuantizer(n_levels=5, algorithm="optimal"), X, sample_weight=w)
    assert np.all(opt.mse_ <= _cell_mean_mse(X, kb.transform(X), w) * (1 + 1e-9))


# --- fitted attributes and inverse_transform -------------------------------------------


def test_attributes_and_inverse_transform():
    X = _load("wine")[:, :3].copy()
    X[:, 2] = 3.0  # a constant column
    n = [3, 6, 4]
    kb = _kbins(X, n, "uniform")
    q = _fit(UniformClipQuantizer(n_levels=n, clip="minmax"), X)
    # bin_edges_: ragged, with the outer edges; thresholds_: dense, +inf padded
    assert q.thresholds_.shape == (3, 5) and q.levels_.shape == (3, 6)
    np.testing.assert_array_equal(
        q.thresholds_[0], [*kb.bin_edges_[0][1:-1], np.inf, np.inf, np.inf]
    )
    np.testing.assert_array_equal(q.thresholds_[1], kb.bin_edges_[1][1:-1])
    assert kb.bin_edges_[2].tolist() == [-np.inf, np.inf]
    # n_bins_ and n_levels_: a constant column has one of each
    assert kb.n_bins_.tolist() == [3, 6, 1] and q.n_levels_.tolist() == [3, 6, 1]
    # inverse_transform: bin centres in KBins, levels in skquant (the same centres for
    # uniform cells, to rounding); a constant column comes back as NaN from KBins
    codes = q.transform(X)
    with np.errstate(invalid="ignore"):  # KBins: the centre of (-inf, inf)
        kb_hat = kb.inverse_transform(codes.astype(np.float64))
    q_hat = q.inverse_transform(codes)
    np.testing.assert_allclose(q_hat[:, :2], kb_hat[:, :2], rtol=1e-15)
    assert np.all(np.isnan(kb_hat[:, 2])) and np.all(q_hat[:, 2] == 3.0)
