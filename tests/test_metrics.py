import numpy as np
import pytest

from skquant import LloydMaxQuantizer
from skquant.metrics import code_entropy, mse, sqnr_db


def test_mse_and_sqnr(rng):
    X = rng.standard_normal((1000, 2))
    X_hat = X + 0.1
    assert mse(X, X_hat) == pytest.approx(0.01)
    np.testing.assert_allclose(mse(X, X_hat, multioutput="raw_values"), [0.01, 0.01])
    power = (X**2).mean(axis=0)
    np.testing.assert_allclose(
        sqnr_db(X, X_hat, multioutput="raw_values"), 10 * np.log10(power / 0.01)
    )
    np.testing.assert_allclose(
        sqnr_db(X + 100, X_hat + 100, centered=True, multioutput="raw_values"),
        10 * np.log10(X.var(axis=0) / 0.01),
    )
    assert sqnr_db(X, X) == np.inf
    with pytest.raises(ValueError, match="shape"):
        mse(X, X[:, :1])


def test_sqnr_gains_about_6_db_per_bit(rng):
    X = rng.standard_normal((100_000, 1))
    gains = []
    for b in (5, 6):
        q = LloydMaxQuantizer(n_bits=b).fit(X)
        gains.append(sqnr_db(X, q.inverse_transform(q.transform(X))))
    assert 5.5 < gains[1] - gains[0] < 6.3


def test_code_entropy():
    assert code_entropy([0, 0, 1, 1]) == pytest.approx(1.0)
    assert code_entropy([3, 3, 3]) == 0.0
    np.testing.assert_allclose(
        code_entropy(np.array([[0, 0], [1, 0], [2, 1], [3, 1]]), multioutput="raw_values"),
        [2.0, 1.0],
    )
    with pytest.raises(TypeError, match="integers"):
        code_entropy([0.5, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        code_entropy([-1, 0])
