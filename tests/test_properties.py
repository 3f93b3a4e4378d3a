"""Properties that hold for every input (hypothesis), for every scalar quantizer.

The default profile keeps the examples few so the suite stays fast; run
``pytest --hypothesis-profile=thorough tests/test_properties.py`` for a long search.
"""

import warnings

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skquant import LloydMaxQuantizer
from test_base import SCALAR_QUANTIZERS

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
@given(data=datasets(), n_bits=st.integers(1, 5))
def test_codes_monotone_levels_interleave_and_idempotent(Quantizer, data, n_bits):
    X, w = data
    q = fitted(Quantizer, X, w, n_bits)
    codes = q.transform(X)
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        assert np.all(np.diff(codes[order, j].astype(int)) >= 0)
        L = q.n_levels_[j]
        t, y = q.thresholds_[j, : L - 1], q.levels_[j, :L]
        assert np.all(y[:-1] <= t) and np.all(t <= y[1:])
        assert codes[:, j].max() < L
    X_hat = q.inverse_transform(codes)
    for j in range(X.shape[1]):
        assert np.isin(X_hat[:, j], q.levels_[j, : q.n_levels_[j]]).all()
    np.testing.assert_array_equal(q.transform(X_hat), codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = Quantizer(**q.get_params()).fit_transform(X, sample_weight=w)
    np.testing.assert_array_equal(again, codes)  # fit_transform == fit().transform


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


@pytest.mark.parametrize("Quantizer", SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
@settings(max_examples=10)
@given(data=datasets(max_rows=200), n_bits=st.integers(1, 6))
def test_results_identical_across_thread_counts(Quantizer, data, n_bits):
    X, w = data
    before = numba.get_num_threads()
    results = []
    try:
        for n in (1, 2, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
            q = fitted(Quantizer, X, w, n_bits)
            results.append((q.thresholds_, q.levels_, q.transform(X)))
    finally:
        numba.set_num_threads(before)
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("Quantizer", SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
@settings(max_examples=15)
@given(data=datasets(), n_bits=st.integers(1, 5))
def test_float32_codes_match_float64(Quantizer, data, n_bits):
    X, w = data
    X32 = X.astype(np.float32)
    q32 = fitted(Quantizer, X32, w, n_bits)
    q64 = fitted(Quantizer, X32.astype(np.float64), w, n_bits)
    # thresholds rounded up to float32 give float32 data the float64 codes
    np.testing.assert_array_equal(q32.transform(X32), q64.transform(X32.astype(np.float64)))
    assert q32.inverse_transform(q32.transform(X32)).dtype == np.float32
