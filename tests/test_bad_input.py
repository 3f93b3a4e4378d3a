"""Every row of doc/bad_input.rst: a correct result or a clear error, never a crash.

Each test names its row of the table. Runs on every scalar quantizer.
"""

import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from test_base import SCALAR_QUANTIZERS


@pytest.fixture(params=SCALAR_QUANTIZERS, ids=lambda c: c.__name__)
def Q(request):
    return request.param


@pytest.fixture
def X(rng):
    return rng.standard_normal((60, 2))


def fit_quiet(q, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return q.fit(X)


@pytest.mark.parametrize(
    "row, data, match",
    [
        ("empty rows", np.empty((0, 2)), "0 sample"),
        ("empty columns", np.empty((5, 0)), "0 feature"),
        ("1-D input", np.arange(5.0), "Expected 2D array"),
        ("3-D input", np.zeros((2, 2, 2)), "dim 3"),
        ("object with text", np.array([[1.0, "a"]], dtype=object), "could not convert"),
        ("complex", np.ones((3, 2)) + 1j, "Complex data not supported"),
        ("NaN", np.array([[0.0, np.nan], [1.0, 2.0]]), r"NaN or inf in column\(s\) 1"),
        ("+inf", np.array([[np.inf, 0.0], [1.0, 2.0]]), r"NaN or inf in column\(s\) 0"),
        ("-inf", np.array([[0.0, 1.0], [1.0, -np.inf]]), r"NaN or inf in column\(s\) 1"),
    ],
)
def test_fit_refuses(Q, row, data, match):
    with pytest.raises(ValueError, match=match):
        Q().fit(data)


def test_pandas_nullable_with_na_names_the_column(Q):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [0.5, 1.5, 2.5], "b": pd.array([1.0, None, 2.0], dtype="Float64")})
    with pytest.raises(ValueError, match=r"column\(s\) 1 \('b'\)"):
        Q().fit(df)
    ints = pd.DataFrame({"a": pd.array([1, 3, 2, 7], dtype="Int64")})
    assert fit_quiet(Q(n_bits=1), ints).levels_.dtype == np.float64


@pytest.mark.parametrize("dtype", [bool, np.float16, np.int8, np.uint32])
def test_other_numeric_dtypes_become_float64(Q, X, dtype):
    data = (X > 0) if dtype is bool else (X * 10).astype(dtype)
    q = fit_quiet(Q(n_bits=2), data)
    assert q.levels_.dtype == np.float64
    np.testing.assert_array_equal(q.transform(data), q.transform(data.astype(np.float64)))


@pytest.mark.parametrize("scale, offset", [(1e300, 0.0), (1e-300, 0.0), (1e-310, 0.0), (1.0, 1e8)])
def test_extreme_magnitudes_quantize_like_unit_data(Q, scale, offset):
    if offset and Q.__name__ == "CompanderQuantizer":
        pytest.skip("companders are defined around zero: an offset column is not unit data")
    z = np.random.default_rng(0).standard_normal((5000, 1))
    unit = fit_quiet(Q(n_bits=3), z)
    x = scale * z + offset
    q = fit_quiet(Q(n_bits=3), x)
    nmse = np.mean(((x - q.inverse_transform(q.transform(x))) / scale) ** 2)
    ref = np.mean((z - unit.inverse_transform(unit.transform(z))) ** 2)
    # subnormals hold fewer significant bits; everything else matches closely
    assert nmse == pytest.approx(ref, rel=0.05 if scale < 1e-307 else 1e-3)


def test_read_only_memmap_fortran_and_strided_views(Q, X, tmp_path):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    ref = fit_quiet(Q(n_bits=2), X).transform(X)
    np.testing.assert_array_equal(fit_quiet(Q(n_bits=2), ro).transform(ro), ref)
    F = np.asfortranarray(X)
    np.testing.assert_array_equal(fit_quiet(Q(n_bits=2), F).transform(F), ref)
    big = np.zeros((120, 4))
    big[::2, 1::2] = X
    view = big[::2, 1::2]
    np.testing.assert_array_equal(fit_quiet(Q(n_bits=2), view).transform(view), ref)


def test_transform_input_errors(Q, X):
    q = fit_quiet(Q(n_bits=2), X)
    with pytest.raises(ValueError, match="X has 1 features"):
        q.transform(X[:, :1])
    with pytest.raises(ValueError, match="0 sample"):
        q.transform(np.empty((0, 2)))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in column\(s\) 1"):
        q.transform(bad)


@pytest.mark.parametrize(
    "codes, error, match",
    [
        (np.array([[0, 9]]), ValueError, "out of range in column"),
        (np.array([[-1, 0]]), ValueError, "out of range in column"),
        (np.array([[0.5, 1.0]]), ValueError, "whole numbers"),
        (np.array([[np.nan, 1.0]]), ValueError, "whole numbers"),
        (np.array([["a", "b"]]), TypeError, "integer array"),
        (np.array([[0, 1, 2]]), ValueError, "Codes have 3 columns"),
        (np.array([0, 1]), ValueError, "2-D array of codes"),
    ],
)
def test_inverse_transform_refuses_bad_codes(Q, X, codes, error, match):
    q = fit_quiet(Q(n_bits=2), X)
    with pytest.raises(error, match=match):
        q.inverse_transform(codes)


def test_inverse_transform_accepts_integral_floats_and_empty(Q, X):
    q = fit_quiet(Q(n_bits=2), X)
    np.testing.assert_array_equal(q.inverse_transform([[1.0, 2.0]]), q.inverse_transform([[1, 2]]))
    assert q.inverse_transform(np.empty((0, 2), dtype=np.uint8)).shape == (0, 2)


@pytest.mark.parametrize(
    "params", [{"n_bits": "4"}, {"n_bits": 0}, {"n_bits": 17}, {"n_bits": 2.0}, {"encode": "bits"}]
)
def test_bad_parameters_name_the_parameter(Q, X, params):
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        Q(**params).fit(X)
