"""Extreme magnitudes and weights, on every registered scalar quantizer variant and the
parametric designs: fit, partial_fit and skquant.dask.fit give finite levels and
reconstructions and files that load; equal weights of any size are no weights."""

import io
import warnings

import numpy as np
import pytest
from scipy import sparse

import skquant
from skquant._registry import estimator_variants

rng = np.random.default_rng(0)
_BASE = rng.standard_normal((300, 2))
DATA = {
    "largest-float64": _BASE / np.abs(_BASE).max() * 1.7e308,
    "largest-float32": (_BASE / np.abs(_BASE).max() * 3.4e38).astype(np.float32),
    "subnormal-float64": _BASE * 1e-310,
    "subnormal-float32": (_BASE * 1e-40).astype(np.float32),
    "constant-5e-324": np.full((300, 2), 5e-324),
    "lowest-and-normal": np.c_[np.full(300, -np.finfo(np.float64).max), _BASE[:, 1]],
}
VARIANTS = estimator_variants(scalar=True) + [
    ("LloydMax-gaussian", skquant.LloydMaxQuantizer(distribution="gaussian")),
    ("LloydMax-laplace", skquant.LloydMaxQuantizer(distribution="laplace")),
    ("Compander-gaussian", skquant.CompanderQuantizer(compander="gaussian")),
    ("UniformClip-midtread", skquant.UniformClipQuantizer(mode="midtread")),
    ("UniformClip-std", skquant.UniformClipQuantizer(clip="std")),
]


def _check(est, X):
    assert np.isfinite(est.levels_).all()
    codes = est.transform(X)
    if est.encode == "ordinal":
        assert np.isfinite(est.inverse_transform(codes)).all()
    buf = io.BytesIO()
    skquant.save(est, buf)
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    again = loaded.transform(X)
    if sparse.issparse(codes):
        codes, again = codes.toarray(), again.toarray()
    np.testing.assert_array_equal(again, codes)


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("name, est", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_fit_and_partial_fit_on_extreme_magnitudes(name, est, data):
    X = DATA[data]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a constant column: few values
        fitted = type(est)(**est.get_params()).fit(X)
        streamed = type(est)(**est.get_params())
        for part in np.array_split(X, 3):
            streamed.partial_fit(part)
    _check(fitted, X)
    _check(streamed, X)


@pytest.mark.parametrize("weight", [1e-300, 1e306, 1.7e308])
@pytest.mark.parametrize("name, est", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_equal_weights_of_any_size_give_the_unweighted_design(name, est, weight):
    X = _BASE * [1.0, 1e3]
    w = np.full(X.shape[0], weight)
    new = lambda: type(est)(**est.get_params())  # noqa: E731
    ref, got = new().fit(X), new().fit(X, sample_weight=w)
    np.testing.assert_array_equal(got.thresholds_, ref.thresholds_)
    np.testing.assert_array_equal(got.levels_, ref.levels_)
    a, b = new(), new()
    for part in np.array_split(X, 3):
        a.partial_fit(part)
        b.partial_fit(part, sample_weight=np.full(part.shape[0], weight))
    np.testing.assert_array_equal(b.thresholds_, a.thresholds_)


def test_weights_spanning_float64_in_a_stream():
    """Batches whose weights differ by 1e600 stream without overflow; the heavier batch
    decides the design as it would alone on the same grid."""
    X = _BASE
    q = skquant.LloydMaxQuantizer(n_bits=2)
    q.partial_fit(X[:100], sample_weight=np.full(100, 1e-300))
    q.partial_fit(X[100:], sample_weight=np.full(200, 1e300))
    assert np.isfinite(q.levels_).all() and q.sketches_[0].weight_exp > 0
    sk = q.sketches_[0]
    assert np.isfinite(sk.store).all()


def test_dask_fit_on_subnormal_and_huge_columns():
    da = pytest.importorskip("dask.array")
    import skquant.dask as skd

    for X in (DATA["subnormal-float64"], DATA["largest-float64"], DATA["constant-5e-324"]):
        Xd = da.from_array(X, chunks=(100, 2))
        with warnings.catch_warnings(), __import__("dask").config.set(scheduler="sync"):
            warnings.simplefilter("ignore", UserWarning)
            q = skd.fit(skquant.LloydMaxQuantizer(n_bits=3), Xd)
            ref = skquant.LloydMaxQuantizer(n_bits=3)
            for part in np.array_split(X, 3):
                ref.partial_fit(part)
        _check(q, X)
        np.testing.assert_array_equal(q.thresholds_, ref.thresholds_)
