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
    """Finite levels and reconstructions; the file loads with RuntimeWarnings as
    errors (as under ``python -W error``: a warning inside load refuses the file)."""
    assert np.isfinite(est.levels_).all()
    codes = est.transform(X)
    if est.encode == "ordinal":
        assert np.isfinite(est.inverse_transform(codes)).all()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
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


# --------------------------------------------------------------------- every algorithm
# Beyond the registry's variants: every algorithm, distribution, compander and clipping
# mode, with overflow warnings as errors (a design must compute in scaled units, not
# overflow and clamp), on columns at the ends of float64 and float32.
_MAX = np.finfo(np.float64).max
ALGORITHMS = VARIANTS + [
    ("LloydMax-optimal", skquant.LloydMaxQuantizer(algorithm="optimal")),
    ("Compander-optimal", skquant.CompanderQuantizer(compander="optimal")),
    ("Compander-mu-law", skquant.CompanderQuantizer(compander="mu-law")),
    ("Compander-log", skquant.CompanderQuantizer(compander="log")),
    ("Compander-std", skquant.CompanderQuantizer(clip="std")),
    ("UniformClip-mse", skquant.UniformClipQuantizer(clip="mse")),
    ("UniformClip-percentile", skquant.UniformClipQuantizer(clip="percentile")),
    ("UniformClip-symmetric-std", skquant.UniformClipQuantizer(clip="std", symmetric=True)),
    ("UniformClip-1e308", skquant.UniformClipQuantizer(clip=1e308)),
    ("UniformClip-max", skquant.UniformClipQuantizer(clip=_MAX, mode="midtread")),
    ("UniformClip-1e308-symmetric", skquant.UniformClipQuantizer(clip=1e308, symmetric=True)),
    ("UniformClip-1-bit-symmetric-midtread",
     skquant.UniformClipQuantizer(n_bits=1, symmetric=True, mode="midtread")),
    ("UniformClip-2-levels-symmetric-midtread-std",
     skquant.UniformClipQuantizer(n_levels=2, symmetric=True, mode="midtread", clip="std")),
    ("DeadZone-median", skquant.DeadZoneQuantizer(center="median")),
]
_UNIT = np.clip(_BASE, -1, 1)
EXTREME = {
    "largest-float64": _UNIT * _MAX,
    "largest-float32": (_UNIT * np.finfo(np.float32).max).astype(np.float32),
    "positive-largest": np.abs(_UNIT) * _MAX,
    "negative-largest": -np.abs(_UNIT) * _MAX,
    "plus-and-minus-largest": np.where(_UNIT > 0, _MAX, -_MAX),
    "subnormal": _BASE * 1e-321,
    "positive-near-1": np.abs(_BASE) + 1.0,
    "constant-largest": np.full((300, 2), _MAX),
}


def _fit_strictly(est, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few distinct values
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        return type(est)(**est.get_params()).fit(X, **kw)


def _stream_strictly(est, X, weights=None):
    q = type(est)(**est.get_params())
    parts = np.array_split(np.arange(X.shape[0]), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)
        for idx in parts:
            kw = {} if weights is None else {"sample_weight": weights[idx]}
            q.partial_fit(X[idx], **kw)
    return q


@pytest.mark.parametrize("data", EXTREME)
@pytest.mark.parametrize("name, est", ALGORITHMS, ids=[v[0] for v in ALGORITHMS])
def test_every_algorithm_on_extreme_magnitudes_without_overflow(name, est, data):
    X = EXTREME[data]
    for q in (_fit_strictly(est, X), _stream_strictly(est, X)):
        _check(q, X)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            codes = q.transform(X[:5])
            if q.encode == "ordinal":
                assert np.isfinite(q.inverse_transform(codes)).all()


def test_clip_near_the_largest_float_gives_its_uniform_grid():
    """clip=1e308: the range [-1e308, 1e308] is 2e308 wide, beyond float64; its step
    (2e308 / M) is not, and the levels are the cell centres of that grid."""
    X = _BASE
    q = _fit_strictly(skquant.UniformClipQuantizer(n_bits=3, clip=1e308), X)
    step = 1e308 / 4  # 2e308 / 8, exact from the halves
    np.testing.assert_allclose(q.levels_[0], step * (np.arange(8) - 3.5), rtol=1e-15)
    assert q.clip_max_[0] == 1e308 and q.clip_min_[0] == -1e308
    assert np.isfinite(q.levels_).all() and np.isfinite(q.thresholds_).all()


@pytest.mark.parametrize("data", ["largest-float64", "largest-float32", "positive-largest"])
def test_levels_past_the_largest_float_merge_into_one(data):
    """A Gaussian design on data near the largest float puts its outer levels past it:
    those clamped to the largest float become one level (fewer, strictly increasing
    levels), every threshold lies between its two levels, and each value is coded to
    the level that the thresholds give it, in memory and after a save/load."""
    X = EXTREME[data]
    q = _fit_strictly(skquant.LloydMaxQuantizer(n_bits=4, distribution="gaussian"), X)
    big = np.finfo(X.dtype).max
    for j in range(X.shape[1]):
        n = int(q.n_levels_[j])
        y, t = q.levels_[j, :n], q.thresholds_[j, : n - 1]
        assert n < 16 and np.all(np.diff(y) > 0) and np.abs(y).max() == big
        assert np.all((t >= y[:-1]) & (t <= y[1:]))
        assert np.all(q.thresholds_[j, n - 1 :] == np.inf)
    codes = q.transform(X)
    assert np.all(codes.max(axis=0) < q.n_levels_)
    expect = np.stack([np.searchsorted(q.thresholds_[j, : q.n_levels_[j] - 1], X[:, j],
                                       side="right") for j in range(X.shape[1])], axis=1)
    np.testing.assert_array_equal(codes, expect)
    _check(q, X)


def test_two_level_symmetric_midtread_on_a_positive_column():
    """Levels -step and 0: every value of a positive column is coded 0, whatever the
    step (nothing to search); it used to fail with an empty-array error."""
    X = np.abs(_BASE) + 1.0
    q = _fit_strictly(skquant.UniformClipQuantizer(n_bits=1, symmetric=True,
                                                   mode="midtread"), X)
    assert (q.transform(X) == 1).all()  # the level 0
    np.testing.assert_array_equal(q.inverse_transform(q.transform(X)), 0.0)


@pytest.mark.parametrize("name, est", ALGORITHMS, ids=[v[0] for v in ALGORITHMS])
def test_weights_spanning_float64_stream_into_a_sorted_summary(name, est):
    """Weights from 1e-300 to 1e300 in one stream: bins of negligible weight do not
    leave their place (the thresholds increase, the file loads)."""
    X = _BASE * [1.0, 1e3]
    w = 10.0 ** np.random.default_rng(1).uniform(-300, 300, X.shape[0])
    for q in (_fit_strictly(est, X, sample_weight=w), _stream_strictly(est, X, w)):
        T = q.thresholds_
        assert not (T[:, 1:] < T[:, :-1]).any()
        _check(q, X)


@pytest.mark.parametrize("name, est", ALGORITHMS, ids=[v[0] for v in ALGORITHMS])
def test_equal_weights_give_the_unweighted_design_for_every_algorithm(name, est):
    X = _BASE * [1.0, 1e3]
    ref = _fit_strictly(est, X)
    for weight in (5e-324, 1e-300, 1e306, _MAX):
        got = _fit_strictly(est, X, sample_weight=np.full(X.shape[0], weight))
        np.testing.assert_array_equal(got.levels_, ref.levels_)
        np.testing.assert_array_equal(got.thresholds_, ref.thresholds_)


@pytest.mark.parametrize("data", ["plus-and-minus-largest", "largest-float32", "subnormal"])
@pytest.mark.parametrize("name, est", ALGORITHMS, ids=[v[0] for v in ALGORITHMS])
def test_dask_fit_of_every_algorithm_on_extreme_columns(name, est, data):
    """skquant.dask.fit merges the same sketches as partial_fit: the same design, with
    no overflow on the way."""
    da = pytest.importorskip("dask.array")
    import dask

    import skquant.dask as skd

    X = EXTREME[data]
    with dask.config.set(scheduler="sync"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)
        q = skd.fit(type(est)(**est.get_params()), da.from_array(X, chunks=(100, 2)))
    _check(q, X)
    ref = _stream_strictly(est, X)
    np.testing.assert_array_equal(q.thresholds_, ref.thresholds_)
    np.testing.assert_array_equal(q.levels_, ref.levels_)


# ------------------------------------------------------------------------- hypothesis
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    variant=st.sampled_from(ALGORITHMS),
    exponent=st.integers(-1074, 1023),
    positive=st.booleans(),
    float32=st.booleans(),
    weight_exponent=st.integers(-300, 300),
    seed=st.integers(0, 2**16),
)
def test_any_magnitude_and_any_equal_weight(variant, exponent, positive, float32,
                                           weight_exponent, seed):
    """A column scaled by 2**exponent (subnormal to the largest float), of one sign or
    both, in float32 or float64: the design is finite, computed without overflow, its
    file loads, and equal weights of 10**k are no weights."""
    _, est = variant
    x = np.random.default_rng(seed).standard_normal((120, 1))
    x = np.clip(x / 4.0, -0.999, 0.999)  # within (-1, 1): x 2**1023 stays finite
    if positive:
        x = np.abs(x)
    X = x * 2.0**exponent if exponent <= 1023 else x
    if float32:
        big = np.finfo(np.float32)
        X = np.clip(X, -big.max, big.max).astype(np.float32)
    if not np.any(X):  # underflowed to zeros: nothing of the magnitude left
        X = x
    ref = _fit_strictly(est, X)
    _check(ref, X)
    got = _fit_strictly(est, X, sample_weight=np.full(X.shape[0], 10.0**weight_exponent))
    np.testing.assert_array_equal(got.levels_, ref.levels_)
    np.testing.assert_array_equal(got.thresholds_, ref.thresholds_)
    _check(_stream_strictly(est, X), X)


# ------------------------------------------------- weightless and indistinguishable values
_SPAN = 10.0 ** np.linspace(-300, 300, 60)


@pytest.mark.parametrize("data", ["subnormal", "largest-float64", "mixed"])
@pytest.mark.parametrize("name, est", ALGORITHMS, ids=[v[0] for v in ALGORITHMS])
def test_weights_spanning_float64_on_extreme_columns(name, est, data):
    """Weights 1e-300..1e300 on 60 rows leave only a few values with a weight of their
    own, and rescaling a column near the largest float sends its tiny values to zero:
    the base decides on the values the designs see (it used to call the design with
    fewer values than levels: IndexError, "negative dimensions")."""
    X = {"subnormal": _BASE[:60] * 1e-310,
         "largest-float64": _UNIT[:60] * _MAX,
         "mixed": np.where(np.arange(60)[:, None] % 2 == 0, _UNIT[:60] * _MAX,
                           _BASE[:60] * 1e-300)}[data]
    for q in (_fit_strictly(est, X, sample_weight=_SPAN),
              _stream_strictly(est, X, _SPAN)):
        assert np.isfinite(q.levels_).all()
        assert np.all(q.levels_[:, 1:] >= q.levels_[:, :-1])
        _check(q, X)


def test_mixed_column_values_a_rescaling_merges_are_stored_exactly():
    """Values 1e-300 next to 1.7e308: in units of the largest they are 0, so a column
    of three such values and two large ones has three distinct values to the design,
    and 4 levels store it exactly (the tiny values share the level 0)."""
    X = np.array([[1e-300], [2e-300], [-1e-300], [1e308], [-1e308]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        q = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    assert q.n_levels_[0] == 3
    np.testing.assert_array_equal(q.levels_[0, :3], [-1e308, 0.0, 1e308])


def test_a_first_batch_of_mostly_tiny_values_holds_its_largest_ones():
    """The sketch's scale comes from the first batch's quartiles; a batch whose
    quartiles are 1e-300 and whose farthest values are near the largest float used to
    refuse the next batch (its values were beyond the grid): the grid now holds the
    first batch's farthest value, and partial_fit works where fit does."""
    rng = np.random.default_rng(5)
    X = np.where(rng.random((90, 2)) < 0.6, _UNIT[:90] * 1e-300, _UNIT[:90] * _MAX)
    for name, est in ALGORITHMS:
        q = _stream_strictly(est, X)
        _check(q, X)
    q = skquant.LloydMaxQuantizer(n_bits=2).partial_fit(X[:30])
    assert q.sketches_[0].log2_scale > -900


def test_a_later_batch_far_beyond_the_first_is_refused_clearly():
    """Values 2**600 scales of the first batch away do not fit the sketch's grid: a
    ValueError that says what to do (it was an AttributeError on the way)."""
    q = skquant.LloydMaxQuantizer(n_bits=2).partial_fit(_BASE)
    with pytest.raises(ValueError, match="beyond the range of the sketch.*first batch"):
        q.partial_fit(np.full((3, 2), 1e200))
    assert q.n_samples_seen_ == _BASE.shape[0]  # the failed batch left it as it was
