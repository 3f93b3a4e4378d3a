"""Properties that hold for every input (hypothesis), for every quantizer.

The default profile keeps the examples few so the suite stays fast; run
``pytest --hypothesis-profile=thorough tests/test_properties.py`` for a long search.
doc/guarantees.rst names the tests here that back each promise.
"""

import hashlib
import os
import platform
import subprocess
import sys
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_base import SCALAR_QUANTIZERS

from skquant import BinarySphericalEncoder, CompanderQuantizer, LloydMaxQuantizer
from skquant._registry import estimator_variants


def share(fraction):
    """A ``fraction`` of the profile's examples, for the slower properties: 10 of the
    default 30, 333 of the thorough profile's 1000."""
    return max(1, round(settings.default.max_examples * fraction))


#: numba thread counts the results must not depend on (tests/conftest.py makes 4
#: available on any machine)
THREAD_COUNTS = (1, 2, 4)
#: BinarySphericalEncoder settings: every rotation, with and without centring
ENCODERS = [
    {},
    {"center": True},
    {"rotation": "random", "random_state": 0},
    {"rotation": "pca", "center": True},
    {"rotation": "itq", "center": True, "random_state": 0, "n_iter": 10},
]

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def datasets(draw, max_rows=120, max_cols=3):
    n = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, max_cols))
    # few distinct values half of the time: ties, constant columns, one row
    elements = st.one_of(finite, st.sampled_from([0.0, 1.0, -2.5, 1e-3]))
    X = draw(hnp.arrays(np.float64, (n, d), elements=elements))
    weighted = draw(st.booleans())
    w = None
    if weighted:
        # weights spanning at most 1e4: prefix sums in float64 lose a cell whose weight
        # is below 2**-52 of the total (documented in doc/guarantees.rst)
        w = draw(hnp.arrays(np.float64, n, elements=st.one_of(st.just(0.0), st.floats(1e-3, 10.0))))
        if not w.sum() > 0:
            w[0] = 1.0
    return X, w


def fitted(Quantizer, X, w, n_bits, **params):
    """Fit quietly: few-distinct-value warnings are expected on drawn data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Quantizer(n_bits=n_bits, **params).fit(X, sample_weight=w)


@pytest.mark.parametrize("Quantizer", SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
@given(data=datasets(), n_bits=st.integers(1, 5), dtype=st.sampled_from([np.float64, np.float32]))
def test_codes_monotone_levels_interleave_and_idempotent(Quantizer, data, n_bits, dtype):
    X, w = data
    X = X.astype(dtype)
    q = fitted(Quantizer, X, w, n_bits)
    assert q.levels_.dtype == dtype
    codes = q.transform(X)
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        assert np.all(np.diff(codes[order, j].astype(int)) >= 0)
        L = q.n_levels_[j]
        t, y = q.thresholds_[j, : L - 1], q.levels_[j, :L]
        assert np.all(y[:-1] <= t) and np.all(t <= y[1:])
        assert codes[:, j].max() < L
    X_hat = q.inverse_transform(codes)
    assert X_hat.dtype == dtype
    for j in range(X.shape[1]):
        assert np.isin(X_hat[:, j], q.levels_[j, : q.n_levels_[j]]).all()
    np.testing.assert_array_equal(q.transform(X_hat), codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = Quantizer(**q.get_params()).fit_transform(X, sample_weight=w)
    np.testing.assert_array_equal(again, codes)  # fit_transform == fit().transform


@pytest.mark.parametrize("Quantizer", SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("tiny", [2.3e-93, 2.3e-30, 1e-17, 5e-324])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_level_that_lost_its_last_bits_stays_in_its_cell(Quantizer, tiny, dtype):
    """A cell's centroid a few ulps from its threshold rounds onto it (hypothesis found
    ``[0, -2.3e-93, 1, 1]``: the dead-zone quantizer's lower level and its threshold
    were both 0.0, so the reconstruction 0.0 re-encoded to the other code)."""
    X = np.array([[0.0], [-tiny], [1.0], [1.0], [0.5], [-tiny / 2]]).astype(dtype)
    for n_bits in (1, 2):
        q = fitted(Quantizer, X, None, n_bits)
        L = q.n_levels_[0]
        t, y = q.thresholds_[0, : L - 1], q.levels_[0, :L]
        assert np.all(y[:-1] < t) and np.all(t <= y[1:])
        codes = q.transform(X)
        np.testing.assert_array_equal(q.transform(q.inverse_transform(codes)), codes)


@given(data=datasets(), n_bits=st.integers(1, 4))
def test_lloyd_max_conditions_at_convergence(data, n_bits):
    X, w = data
    q = fitted(LloydMaxQuantizer, X, w, n_bits, tol=0.0, max_iter=10_000)
    ww = np.ones(X.shape[0]) if w is None else w
    codes = q.transform(X)
    for j in range(X.shape[1]):
        L = q.n_levels_[j]
        y = q.levels_[j, :L]
        if L == 2**n_bits:  # designed (not one level per distinct value)
            np.testing.assert_allclose(q.thresholds_[j], 0.5 * (y[1:] + y[:-1]))
        for k in range(L):
            m = (codes[:, j] == k) & (ww > 0)
            if m.any() and L == 2**n_bits:
                c = np.average(X[m, j], weights=ww[m])
                assert y[k] == pytest.approx(c, rel=1e-9, abs=1e-9 * (1 + np.abs(X).max()))


@given(data=datasets(max_rows=60), n_bits=st.integers(1, 4))
def test_optimal_beats_lloyd_and_improves_with_bits(data, n_bits):
    X, w = data
    lloyd = fitted(LloydMaxQuantizer, X, w, n_bits)
    opt = fitted(LloydMaxQuantizer, X, w, n_bits, algorithm="optimal")
    more = fitted(LloydMaxQuantizer, X, w, n_bits + 1, algorithm="optimal")
    scale = 1e-9 * (1 + np.abs(X).max() ** 2)
    assert np.all(opt.mse_ <= lloyd.mse_ * (1 + 1e-9) + scale)
    assert np.all(more.mse_ <= opt.mse_ * (1 + 1e-9) + scale)


def _at_thread_counts(run):
    """``[run() for each of THREAD_COUNTS numba threads]``, restoring the count."""
    before = numba.get_num_threads()
    try:
        results = []
        for n in THREAD_COUNTS:
            numba.set_num_threads(n)
            results.append(run())
    finally:
        numba.set_num_threads(before)
    return results


def _assert_all_identical(results):
    for r in results[1:]:
        assert len(r) == len(results[0])
        for a, b in zip(r, results[0]):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes()  # bit-identical, NaN and -0.0 included


@pytest.mark.parametrize("Quantizer", SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
@settings(max_examples=share(1 / 3))
@given(data=datasets(max_rows=200), n_bits=st.integers(1, 6))
def test_results_identical_across_thread_counts(Quantizer, data, n_bits):
    X, w = data

    def run():
        q = fitted(Quantizer, X, w, n_bits)
        codes = q.transform(X)
        return q.thresholds_, q.levels_, codes, q.inverse_transform(codes)

    _assert_all_identical(_at_thread_counts(run))


@pytest.mark.parametrize(
    "params", ENCODERS, ids=lambda p: "-".join(map(str, p.values())) or "plain"
)
@settings(max_examples=share(1 / 3))
@given(data=datasets(max_rows=600, max_cols=12), dtype=st.sampled_from([np.float64, np.float32]))
def test_encoder_identical_across_thread_counts_and_fit_transform(params, data, dtype):
    X = data[0].astype(dtype)

    def run():
        enc = BinarySphericalEncoder(**params).fit(X)
        codes = enc.transform(X)
        again = BinarySphericalEncoder(**params).fit_transform(X)
        return enc.components_, enc.mean_, codes, again, enc.inverse_transform(codes)

    results = _at_thread_counts(run)
    _assert_all_identical(results)
    np.testing.assert_array_equal(results[0][3], results[0][2])  # fit_transform


@settings(max_examples=share(1 / 3))
@given(
    data=datasets(max_rows=100, max_cols=6),
    rotation=st.sampled_from(["random", "itq"]),
    seeds=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2, unique=True),
)
def test_encoder_random_state_is_honoured(data, rotation, seeds):
    X = data[0]
    d = X.shape[1]

    def fit(random_state):
        params = {"rotation": rotation, "random_state": random_state, "n_iter": 5}
        return BinarySphericalEncoder(**params, center=True).fit(X)

    a, b = fit(seeds[0]), fit(seeds[0])
    np.testing.assert_array_equal(a.components_, b.components_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    state = fit(np.random.RandomState(seeds[0]))  # an equally seeded RandomState
    np.testing.assert_array_equal(state.components_, a.components_)
    other = fit(seeds[1])
    if rotation == "random" and d >= 2:
        # a Haar-random rotation: two seeds give the same one with probability 0
        assert not np.array_equal(other.components_, a.components_)
    # whatever the seed, the rows are orthonormal
    np.testing.assert_allclose(other.components_ @ other.components_.T, np.eye(d), atol=1e-10)


def test_results_identical_across_runs(tmp_path):
    """A fresh interpreter (another hash seed) reproduces every fitted array bit for bit."""
    assert _digest_in_fresh_process(tmp_path, "_digest_of_fits", PYTHONHASHSEED="12345") == (
        _digest_of_fits())


def _digest_in_fresh_process(tmp_path, digest, **env):
    """``digest()`` (a function of this module) computed by a fresh interpreter with
    the environment variables ``env`` added."""
    script = tmp_path / "digest.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parents[1])!r}]\n"
        f"from test_properties import {digest}\n"
        f"print({digest}())\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return out.stdout.strip()


def _digest_of_fits():
    """SHA-256 of the fitted arrays, codes and reconstructions of every estimator."""
    rng = np.random.default_rng(42)
    X = np.c_[rng.standard_normal(3000), rng.laplace(size=3000), rng.uniform(-1, 4, 3000)]
    w = rng.uniform(0, 2, 3000)
    h = hashlib.sha256()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimators = [Q(n_bits=4).fit(X, sample_weight=w) for Q in SCALAR_QUANTIZERS]
        estimators += [BinarySphericalEncoder(**p).fit(X) for p in ENCODERS]
    for est in estimators:
        codes = est.transform(X)
        for arr in (codes, est.inverse_transform(codes), *vars(est).values()):
            if isinstance(arr, np.ndarray):
                h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _blas_is_dispatched_openblas():
    """Whether NumPy's BLAS is an OpenBLAS that picks its kernels for the CPU at run
    time (then ``OPENBLAS_CORETYPE`` chooses another)."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return "DYNAMIC_ARCH" in str(blas.get("openblas configuration", "")) and (
        platform.machine().lower() in ("x86_64", "amd64"))


@pytest.mark.skipif(not _blas_is_dispatched_openblas(),
                    reason="needs an x86-64 OpenBLAS with run-time kernel dispatch")
def test_scalar_fits_do_not_depend_on_the_blas_kernel(tmp_path):
    """Every registered scalar-quantizer variant fits the same bits with OpenBLAS's
    generic kernels (``OPENBLAS_CORETYPE=Prescott``) as with this CPU's: no fit sums
    through the BLAS, whose kernel (so the order of a dot product's sum) depends on
    the machine. ``BinarySphericalEncoder``'s rotations are LAPACK's and not covered."""
    assert _digest_in_fresh_process(tmp_path, "_digest_of_scalar_variants",
                                    OPENBLAS_CORETYPE="Prescott") == _digest_of_scalar_variants()


def _numpy_avx512_targets():
    """NumPy's run-time dispatch targets for AVX-512 that this CPU has (its SIMD loops
    of ``np.exp``, ``np.log1p``, ``np.cbrt`` ... round differently from the C library
    it calls on other CPUs); empty on a CPU without AVX-512."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    return [t for t in __cpu_dispatch__
            if ("AVX512" in t or t == "X86_V4") and __cpu_features__.get(t)]


@pytest.mark.skipif(not _numpy_avx512_targets(),
                    reason="needs a CPU where NumPy dispatches AVX-512 loops")
def test_scalar_fits_do_not_depend_on_numpy_simd_loops(tmp_path):
    """Every registered scalar-quantizer variant fits the same bits with NumPy's
    AVX-512 loops disabled (``NPY_DISABLE_CPU_FEATURES``: the loops of a CPU without
    AVX-512, which call the C library) as with them: the designs' transcendental
    functions go through ``skquant._libm`` (the C library's, the same on every CPU)."""
    off = " ".join(_numpy_avx512_targets())
    assert _digest_in_fresh_process(tmp_path, "_digest_of_scalar_variants",
                                    NPY_DISABLE_CPU_FEATURES=off) == _digest_of_scalar_variants()


def _digest_of_scalar_variants():
    """SHA-256 of the fitted arrays and codes of every registered scalar variant, fitted
    with and without sample weights on columns of different scales."""
    rng = np.random.default_rng(7)
    X = np.c_[rng.standard_normal(2000), 1e-3 * rng.laplace(size=2000),
              rng.standard_t(3, 2000) * 50.0]
    w = rng.uniform(0, 2, 2000)
    h = hashlib.sha256()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for vid, est in estimator_variants(scalar=True):
            for weights in (None, w):
                est.fit(X, sample_weight=weights)
                h.update(vid.encode())
                for arr in (est.transform(X), *vars(est).values()):
                    if isinstance(arr, np.ndarray):
                        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("Quantizer", SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
@settings(max_examples=share(1 / 2))
@given(data=datasets(), n_bits=st.integers(1, 5))
def test_float32_codes_match_float64(Quantizer, data, n_bits):
    X, w = data
    X32 = X.astype(np.float32)
    q32 = fitted(Quantizer, X32, w, n_bits)
    q64 = fitted(Quantizer, X32.astype(np.float64), w, n_bits)
    # thresholds rounded up to float32 give float32 data the float64 codes
    np.testing.assert_array_equal(q32.transform(X32), q64.transform(X32.astype(np.float64)))
    assert q32.inverse_transform(q32.transform(X32)).dtype == np.float32


@pytest.mark.parametrize(
    "compander", ["mu-law", "a-law", "log", "normal-float", "gaussian", "laplace", "optimal"]
)
@settings(max_examples=share(1 / 2))
@given(data=datasets(), n_bits=st.integers(1, 5))
def test_centroid_reconstruction_never_worse_than_midpoint(compander, data, n_bits):
    X, w = data
    mid = fitted(CompanderQuantizer, X, w, n_bits, compander=compander)
    cen = fitted(CompanderQuantizer, X, w, n_bits, compander=compander, reconstruction="centroid")
    scale = 1e-9 * (1 + np.abs(X).max() ** 2)
    assert np.all(cen.mse_ <= mid.mse_ * (1 + 1e-9) + scale)
    # and mse_ is the real training error of each
    ww = np.ones(X.shape[0]) if w is None else w
    for q in (mid, cen):
        err = (X - q.inverse_transform(q.transform(X))) ** 2
        np.testing.assert_allclose(q.mse_, ww @ err / ww.sum(), rtol=1e-9, atol=scale)


@settings(max_examples=share(1 / 2))
@given(data=datasets(), n_bits=st.integers(1, 4))
def test_encoder_float32_codes_match_float64(data, n_bits):
    """Without rotation and centring, codes are signs: float32 input, exactly the
    float64 codes of the same values (sign codes in float32)."""
    X32 = data[0].astype(np.float32)
    e32 = BinarySphericalEncoder(encode="sign").fit(X32)
    e64 = BinarySphericalEncoder(encode="sign").fit(X32.astype(np.float64))
    s32 = e32.transform(X32)
    assert s32.dtype == np.float32
    s64 = e64.transform(X32.astype(np.float64))
    np.testing.assert_array_equal(s32 > 0, s64 > 0)
    np.testing.assert_array_equal(s32, s64.astype(np.float32))
    assert e32.inverse_transform(s32).dtype == np.float32


@pytest.mark.parametrize(
    "Quantizer, scale, offset",
    [
        (LloydMaxQuantizer, 1.0, 1e8),
        (SCALAR_QUANTIZERS[1], 1.0, 1e8),
        *[(Q, 1e-300, 0.0) for Q in SCALAR_QUANTIZERS],
    ],
    ids=lambda v: getattr(v, "__name__", repr(v)),
)
@settings(max_examples=share(1 / 3))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300), n_bits=st.integers(1, 5))
def test_shifted_and_tiny_columns_quantize_like_unit_data(
    Quantizer, scale, offset, seed, n, n_bits
):
    """``1e8 + N(0, 1)`` and ``1e-300 N(0, 1)``: no worse than ``N(0, 1)`` (peers lose
    precision here by summing raw x and x**2). Companders are defined around 0, so
    only the scale applies to them."""
    z = np.random.default_rng(seed).standard_normal((n, 1))
    unit = fitted(Quantizer, z, None, n_bits)
    ref = np.mean((z - unit.inverse_transform(unit.transform(z))) ** 2)
    x = scale * z + offset
    q = fitted(Quantizer, x, None, n_bits)
    nmse = np.mean(((x - q.inverse_transform(q.transform(x))) / scale) ** 2)
    # 1e8 + z rounds z to about 1.5e-8, which changes the error by far less than this
    assert nmse <= ref * (1 + 1e-3) + 1e-12


def test_uniform_clip_offset_column_regression():
    """Found by the property test: the affine search on 1e8 + z used to end 3.9% worse."""
    rng = np.random.default_rng(54)
    z = rng.standard_normal((int(rng.integers(2, 300)), 1))
    unit = SCALAR_QUANTIZERS[1](n_bits=5).fit(z)
    shifted = SCALAR_QUANTIZERS[1](n_bits=5).fit(z + 1e8)
    assert shifted.mse_[0] <= unit.mse_[0] * (1 + 1e-3)


# ------------------------------------------------------------- known limits
# doc/guarantees.rst lists these; each test asserts the current behaviour, so it fails
# when the behaviour changes and the page is updated with the code.
def _weighted_centroid_errors(q, x, w):
    """Cells of feature 0 whose level is not the weighted mean of their values."""
    codes = q.transform(x[:, None])[:, 0]
    return [
        k for k in np.unique(codes)
        if not np.isclose(q.levels_[0, k], np.average(x[codes == k], weights=w[codes == k]))
    ]


@pytest.mark.parametrize("algorithm", ["lloyd", "optimal"])
def test_weights_within_2_52_of_the_total_keep_their_cells(algorithm):
    rng = np.random.default_rng(0)
    x = np.r_[rng.standard_normal(200), 50.0, 51.0]
    w = np.r_[np.ones(200), 2.0**-40, 2.0**-40]  # 2**-47.6 of the total: still added
    q = LloydMaxQuantizer(n_bits=2, algorithm=algorithm, tol=0.0).fit(x[:, None], sample_weight=w)
    assert np.all(np.diff(q.levels_[0]) > 0)
    assert _weighted_centroid_errors(q, x, w) == []


@pytest.mark.parametrize("algorithm", ["lloyd", "optimal"])
def test_weights_below_2_52_of_the_total_count_for_nothing(algorithm):
    """Weights below 2**-52 of the total vanish from the float64 prefix sums: the design
    ignores those values: Lloyd's levels are those without them, and the optimum
    spends no cell on them (both go to the top level); the levels stay in order."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.standard_normal(200), 50.0, 51.0]
    w = np.r_[np.ones(200), 2.0**-50, 2.0**-50]
    q = LloydMaxQuantizer(n_bits=2, algorithm=algorithm).fit(x[:, None], sample_weight=w)
    assert np.all(np.diff(q.levels_[0]) > 0)
    top = q.inverse_transform(q.transform([[50.0], [51.0]]))[:, 0]
    assert top[0] == top[1] == q.levels_[0, -1]
    heavy = LloydMaxQuantizer(n_bits=2, algorithm=algorithm).fit(x[:200, None])
    if algorithm == "lloyd":  # the weightless values change nothing
        np.testing.assert_allclose(q.levels_, heavy.levels_, rtol=1e-12)
    else:  # the optimum spends no cell on them: the heavy values' optimum
        err = lambda est: np.sum((x[:200] - est.inverse_transform(  # noqa: E731
            est.transform(x[:200, None]))[:, 0]) ** 2)
        assert err(q) <= err(heavy) * (1 + 1e-12)


@pytest.mark.parametrize(
    "distribution, scale",
    [
        ("laplace", 1e300),
        ("uniform", 1e300),
        ("laplace", 1e-300),
        ("gaussian", 1e150),
        ("gaussian", 1e200),
        ("gaussian", 1e-300),
    ],
)
def test_parametric_design_at_extreme_magnitudes(distribution, scale):
    z = np.random.default_rng(0).standard_normal((2000, 1))
    unit = LloydMaxQuantizer(n_bits=3, distribution=distribution).fit(z)
    ref = np.mean((z - unit.inverse_transform(unit.transform(z))) ** 2)
    x = scale * z
    with np.errstate(all="ignore"):
        q = LloydMaxQuantizer(n_bits=3, distribution=distribution).fit(x)
    nmse = np.mean(((x - q.inverse_transform(q.transform(x))) / scale) ** 2)
    assert nmse == pytest.approx(ref, rel=1e-6)
