"""The order-2 ``float_rows`` kernel against its NumPy twin (``naive_rows``), and the
loader's round trip through it, on float16, float32 and float64 rows of any bits."""

import io

import numpy as np
import pytest
from naive_rows import rows_order2 as naive_rows_order2

import skquant
from skquant import _io
from skquant._kernels import rows_order2, rows_order2_half


def _rebuild(z, dtype):
    dtype = np.dtype(dtype)
    u = _io._uint(dtype)
    z = z.astype(u)
    top = u.type(1) << u.type(8 * u.itemsize - 1)
    if dtype.itemsize == 2:
        rows_order2_half(z, top)
    else:
        fbuf = np.zeros(1, dtype=dtype)
        rows_order2(z, top, fbuf, fbuf.view(u))
    return z.view(dtype)


def _residual_cases(dtype, rng):
    u = _io._uint(dtype)
    bits = 8 * u.itemsize
    n, m = 7, 60
    yield rng.integers(0, 2**bits, size=(n, m), dtype=np.uint64).astype(u)  # any bits
    yield rng.integers(0, 8, size=(n, m)).astype(u)  # small residuals: smooth rows
    top = u.type(1) << u.type(bits - 1)
    yield np.full((n, m), top, dtype=u) - rng.integers(0, 3, size=(n, m)).astype(u)
    # real rows: their residuals, with inf, NaN (payloads), signed zeros, subnormals
    finfo = np.finfo(dtype)
    rows = np.sort(rng.standard_normal((n, m)), axis=1).astype(dtype)
    rows[1] = (np.linspace(-1.0, 1.0, m) * float(finfo.max)).astype(dtype)
    rows[2, ::7] = np.inf
    rows[3, ::5] = -np.inf
    nan_bits = rng.integers(1, 2**(finfo.nmant), size=m // 3).astype(u)
    expo = u.type(((1 << finfo.nexp) - 1) << finfo.nmant)
    rows[4, ::3] = (nan_bits | expo).view(dtype)
    rows[5] = (rng.integers(0, 4, size=m) * finfo.smallest_subnormal).astype(dtype)
    rows[6, ::2] = -0.0
    r = _io._row_residuals(rows, None, 2).astype(u).reshape(n, m)
    one = u.type(1)
    yield (r >> one) ^ (u.type(0) - (r & one))  # zigzag undone


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_rows_kernel_is_the_numpy_loop(dtype):
    rng = np.random.default_rng(3)
    for z in _residual_cases(np.dtype(dtype), rng):
        expected = naive_rows_order2(z.copy(), dtype)
        got = _rebuild(z, dtype)
        assert np.array_equal(got.view(_io._uint(dtype)), expected.view(_io._uint(dtype)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_order2_rows_round_trip_bit_for_bit(dtype):
    """What the writer codes, the loader rebuilds: rows of every kind of value."""
    rng = np.random.default_rng(4)
    rows = next(x for i, x in enumerate(_residual_cases(np.dtype(dtype), rng)) if i == 0)
    rows = rows.view(dtype)  # any bits as floats: NaNs, infinities, subnormals
    z = _io._row_residuals(rows, None, 2)
    back = _io._rows_from_residuals(z, rows.shape, np.dtype(dtype), None, 2)
    u = _io._uint(dtype)
    assert np.array_equal(back.view(u), rows.view(u))


def test_wide_order2_rows_are_rebuilt_by_the_kernel(monkeypatch):
    """A codebook of 1 x 60000 levels (the loader's widest, and what a forged file of a
    few kB declares) loads through the kernel, not a Python loop per column."""
    calls = []
    real = _io._rows_from_residuals

    def spy(z, shape, dtype, predict, order):
        calls.append((shape, order))
        return real(z, shape, dtype, predict, order)

    monkeypatch.setattr(_io, "_rows_from_residuals", spy)
    monkeypatch.setattr(_io, "_unsortable", lambda *a: pytest.fail("column loop"))
    X = np.linspace(-1, 1, 60000, dtype=np.float32)[:, None]
    with pytest.warns(UserWarning):
        q = skquant.UniformClipQuantizer(n_levels=65536, clip="minmax").fit(X)
    buf = io.BytesIO()
    skquant.compress(X, buf, q)
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    assert ((1, 60000), 2) in calls or any(o == 2 and s[1] >= 60000 for s, o in calls), calls
    assert np.array_equal(loaded.levels_, q.levels_)
