"""skquant._libm: NumPy's transcendental functions through the C library, the same bits
on every CPU. The twin is NumPy itself on a CPU without AVX-512 (where its loops call
the C library): a fresh interpreter with NumPy's AVX-512 loops disabled."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from skquant import _libm

UNARY = ["exp", "log", "log2", "log10", "expm1", "log1p", "exp2", "cbrt"]
# Python 3.10 has no math.exp2 / math.cbrt: _libm then takes pow(2, x) and NumPy's cbrt
EXACT = [f for f in UNARY if sys.version_info >= (3, 11) or f not in ("exp2", "cbrt")]
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 710.0, -750.0, 1e-310, -1e-310,
           1e308, -1e308, 2.0**-1074]


def _values():
    """Test values made without a transcendental function (the same on every CPU)."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(3000) * 4, rng.uniform(-1, 1, 1000),
                        SPECIAL,
                        np.ldexp(rng.uniform(0.5, 1.0, 1000), rng.integers(-1000, 1000, 1000))])
    return x, np.abs(x[::-1])


def _domain(f, x):
    """The values ``f`` is compared on: the exponentials without the arguments that
    overflow (the special values are checked on their own below)."""
    return x[np.abs(x) < 700] if f.startswith("exp") else x


def _reference(tmp_path):
    """NumPy's results with its AVX-512 loops disabled, from a fresh interpreter."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    off = " ".join(t for t in __cpu_dispatch__ if "AVX512" in t or t == "X86_V4")
    out = tmp_path / "ref.npz"
    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
        "from test_libm import _domain, _values\n"
        "x, y = _values()\n"
        "with np.errstate(all='ignore'):\n"
        f"    r = {{f: getattr(np, f)(_domain(f, x)) for f in {UNARY!r}}}\n"
        "    r['power'] = np.power(y, x)\n"
        f"np.savez({str(out)!r}, **r)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "NPY_DISABLE_CPU_FEATURES": off})
    return dict(np.load(out))


def test_same_bits_as_numpy_without_avx512(tmp_path):
    ref = _reference(tmp_path)
    x, y = _values()
    with np.errstate(all="ignore"):
        for f in EXACT:
            np.testing.assert_array_equal(getattr(_libm, f)(_domain(f, x)), ref[f], err_msg=f)
        np.testing.assert_array_equal(_libm.power(y, x), ref["power"])


@pytest.mark.parametrize("f", UNARY)
def test_shapes_scalars_and_special_values(f):
    func, ufunc = getattr(_libm, f), getattr(np, f)
    x = np.array(SPECIAL + [-8.0, 0.5]).reshape(2, 8)
    with np.errstate(all="ignore"):
        out, want = func(x), ufunc(x)
    assert out.shape == (2, 8) and out.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(out), finite)
    np.testing.assert_array_equal(out[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(out[finite], want[finite], rtol=4e-16, atol=0)
    for v in (2.5, 3, np.float64(2.5), np.array(2.5)):
        r = func(v)
        assert type(r) is np.float64 and r == pytest.approx(float(ufunc(float(v))), rel=4e-16)
    assert func(np.empty((0, 3))).shape == (0, 3)
    assert func([1.0, 2.0]).shape == (2,)


def test_special_values_warn_like_numpy():
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        assert _libm.log(np.array([0.0, 1.0]))[0] == -np.inf
    with pytest.warns(RuntimeWarning, match="overflow"):
        assert _libm.exp(1000.0) == np.inf
    with np.errstate(invalid="ignore"):
        assert math.isnan(_libm.log(-1.0))


def test_power_broadcasts():
    out = _libm.power(np.array([[2.0], [3.0]]), np.array([0.5, -1.0, 2.0]))
    np.testing.assert_array_equal(out, np.power(np.array([[2.0], [3.0]]), [0.5, -1.0, 2.0]))
    assert _libm.power(2.0, 10) == 1024.0
    with np.errstate(divide="ignore"):
        assert _libm.power(0.0, -1.0) == np.inf
    assert _libm.power(-8.0, 1 / 3) != _libm.power(-8.0, 1 / 3)  # NaN, as np.power
