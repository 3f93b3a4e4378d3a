"""Every row of doc/bad_input.rst: a correct result or the error the page names.

The page is the specification. Its answers (an exception type and a fragment of the
message, or "result") are read from it here; every test case is named after its row
(``<row>-<estimator>``), and ``test_every_row_has_a_test`` fails when a row of the
page has no test for an estimator it applies to, or a test names a row the page does
not have.
"""

import io
import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from scipy import sparse
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    InvalidParameterError,
    generate_invalid_param_val,
    make_constraint,
)

import skquant
from skquant import BinarySphericalEncoder
from skquant._registry import ESTIMATORS as REGISTRY
from skquant._registry import estimator_classes

PAGE = Path(__file__).resolve().parents[1] / "doc" / "bad_input.rst"
ESTIMATORS = list(estimator_classes().values())  # every registered estimator
ERRORS = {e.__name__: e for e in (ValueError, TypeError, InvalidParameterError, NotFittedError)}


# ------------------------------------------------------------------ the page
class Answer(NamedTuple):
    """An exception type and a message fragment, or ``error=None`` for a result."""

    error: type | None
    text: str


def _answer(cell):
    if cell == "—":
        return None
    if cell.startswith("result:"):
        return Answer(None, cell)
    match = re.fullmatch(r"``(\w+)``: ``(.+)``", cell)
    if match is None or match[1] not in ERRORS:
        raise ValueError(f"{PAGE.name}: unreadable answer {cell!r}")
    return Answer(ERRORS[match[1]], match[2])


def read_page(path=PAGE):
    """``{row: (scalar answer, encoder answer)}`` from the list-tables of the page.

    An answer is an :class:`Answer`, or None where the row does not apply.
    """
    table, cells = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("   * - "):
            cells = [line[7:].strip()]
            table.append(cells)
        elif cells is not None and line.startswith("     - "):
            cells.append(line[7:].strip())
        elif cells is not None and line.startswith("       "):
            cells[-1] += " " + line.strip()
        elif line.strip():
            cells = None
    rows = {}
    for cells in table:
        assert len(cells) == 4, cells
        if cells[0] != "row":  # the header of each table
            name = cells[0].strip("`")
            assert name not in rows, f"row {name!r} appears twice"
            rows[name] = (_answer(cells[2]), _answer(cells[3]))
    return rows


ANSWERS = read_page()
REQUESTED = set()  # every row a test names
CHECKED = set()  # (row, is the encoder) pairs a test case checks


def answer(row, Est):
    return ANSWERS[row][Est is BinarySphericalEncoder]


# The rule of the page for rows that set parameters: a row applies to the estimators
# that have every parameter it sets (EntropyConstrainedQuantizer sizes its codebook by
# max_levels, not n_bits / n_levels; only some quantizers take lam or rate).
ROW_PARAMETERS = {
    "param-type": ("n_bits",), "param-range": ("n_bits",), "n-bits-shape": ("n_bits",),
    "n-bits-values": ("n_bits",), "n-levels-range": ("n_levels",),
    "n-levels-type": ("n_levels",), "n-levels-0d": ("n_levels", "n_bits"),
    "n-levels-shape": ("n_levels",), "n-levels-values": ("n_levels",),
    "n-levels-and-bits": ("n_levels", "n_bits"), "lam-negative": ("lam",),
    "rate-range": ("rate",), "lam-and-rate": ("lam", "rate"),
    "rate-above-max-levels": ("rate", "max_levels"), "max-levels-range": ("max_levels",),
    "iterations-bool": ("max_iter", "n_init"),
}


def applies(row, Est):
    return set(ROW_PARAMETERS.get(row, ())) <= set(Est().get_params())


def sized(Est, bits):
    """The ``bits``-bit quantizer of a class: ``n_bits=bits``, or for a class sized by
    ``max_levels`` a ``rate`` of ``bits`` with ``2**bits`` levels at most."""
    if "n_bits" in Est().get_params():
        return Est(n_bits=bits)
    return Est(rate=float(bits), max_levels=2**bits)


def cases(*rows, result=False):
    """Parametrize ``(row, Est)`` over the estimators whose answer for each row is an
    error (or, with ``result=True``, a result) and to which the row applies."""
    REQUESTED.update(rows)
    params = []
    for row in rows:
        for Est in ESTIMATORS:
            a = ANSWERS.get(row, (None, None))[Est is BinarySphericalEncoder]
            if a is not None and (a.error is None) == result and applies(row, Est):
                CHECKED.add((row, Est is BinarySphericalEncoder))
                params.append(pytest.param(row, Est, id=f"{row}-{Est.__name__}"))
    return pytest.mark.parametrize("row, Est", params)


# ------------------------------------------------------------------- helpers
@pytest.fixture
def X(rng):
    return rng.standard_normal((60, 2))


def make(Est, **params):
    """The estimator of the page: the registry's ``"small"`` variant of the class (2
    bits for most scalar quantizers), 2 bits for the encoder (one per feature)."""
    small = REGISTRY[Est.__name__][1].get("small", {})
    return Est(**{**small, **params})


def fit(Est, data, **kwargs):
    """Fit quietly (few distinct values warn, and are not what these rows test)."""
    est = kwargs.pop("est", None) or make(Est)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(data, **kwargs)


def _fit_and_score(Est, X, weights):
    """``fit`` with these weights, and ``score`` (of a good fit) with them."""
    calls = [lambda: fit(Est, X, sample_weight=weights)]
    if Est is not BinarySphericalEncoder:
        calls.append(lambda: fit(Est, X).score(X, sample_weight=weights))
    return calls


def put(X, row, value):
    """``X`` with ``value`` in column 1 of ``row``."""
    Y = np.array(X, dtype=np.result_type(X, np.asarray(value)))
    Y[row, 1] = value
    return Y


def frame(X, dtype, na):
    """DataFrame of X with column "b" of a nullable ``dtype`` (pd.NA in row 1 if ``na``)."""
    pd = pytest.importorskip("pandas")
    b = X[:, 1] > 0 if dtype == "boolean" else X[:, 1] * 10 if dtype == "Int64" else X[:, 1]
    b = pd.array(np.round(b) if dtype == "Int64" else b, dtype=dtype)
    if na:
        b[1] = pd.NA
    return pd.DataFrame({"a": X[:, 0], "b": b})


def codes_for(Est, scalar, encoder):
    return np.asarray(encoder if Est is BinarySphericalEncoder else scalar)


# ------------------------------------------------------------------ errors
# Each error row: the calls that must raise the page's error (all of them).
BAD_CALLS = {
    "nan": lambda E, X: [lambda: fit(E, put(X, 0, np.nan))],
    "pos-inf": lambda E, X: [lambda: fit(E, put(X, 0, np.inf))],
    "neg-inf": lambda E, X: [lambda: fit(E, put(X, 0, -np.inf))],
    "nan-transform": lambda E, X: [
        lambda: fit(E, X).transform(put(X, 3, np.nan)),
        lambda: fit(E, X).score(put(X, 3, np.nan)),
    ],
    "inf-transform": lambda E, X: [
        lambda: fit(E, X).transform(put(X, 3, np.inf)),
        lambda: fit(E, X).transform(put(X, 3, -np.inf)),
        lambda: fit(E, X).score(put(X, 3, -np.inf)),
    ],
    "no-rows": lambda E, X: [lambda: fit(E, X[:0]), lambda: fit(E, X).transform(X[:0])],
    "no-columns": lambda E, X: [lambda: fit(E, np.empty((5, 0)))],
    "1-d": lambda E, X: [lambda: fit(E, X[:, 0]), lambda: fit(E, X).transform(X[:, 0])],
    "3-d": lambda E, X: [lambda: fit(E, X[None]), lambda: fit(E, X).transform(X[None])],
    "scalar": lambda E, X: [lambda: fit(E, 3.0), lambda: fit(E, X).transform(3.0)],
    "ragged": lambda E, X: [lambda: fit(E, [[1.0, 2.0], [3.0]])],
    "sparse": lambda E, X: [
        lambda: fit(E, sparse.csr_matrix(X)),
        lambda: fit(E, X).transform(sparse.csr_matrix(X)),
    ],
    "object-text": lambda E, X: [lambda: fit(E, np.array([[1.0, "a"], [2.0, 3.0]], dtype=object))],
    "str-text": lambda E, X: [lambda: fit(E, np.array([["a", "b"], ["c", "d"]]))],
    "complex": lambda E, X: [lambda: fit(E, X + 1j), lambda: fit(E, X).transform(X + 1j)],
    "pandas-float-na": lambda E, X: [lambda: fit(E, frame(X, "Float64", na=True))],
    "pandas-int-na": lambda E, X: [lambda: fit(E, frame(X, "Int64", na=True))],
    "pandas-boolean-na": lambda E, X: [lambda: fit(E, frame(X, "boolean", na=True))],
    "pandas-object-na": lambda E, X: [
        lambda: fit(E, frame(X, "Float64", na=True).astype(object))
    ],
    "n-features": lambda E, X: [
        lambda: fit(E, X).transform(X[:, :1]),
        lambda: fit(E, X).score(X[:, :1]),
    ],
    "feature-names": lambda E, X: [
        lambda: fit(E, frame(X, "Float64", na=False)).transform(
            frame(X, "Float64", na=False).rename(columns={"b": "c"})
        )
    ],
    "not-fitted": lambda E, X: [lambda: make(E).transform(X), lambda: make(E).inverse_transform(X)],
    # sample weights
    "weight-negative": lambda E, X: _fit_and_score(E, X, np.r_[-1.0, np.ones(59)]),
    "weight-nan": lambda E, X: _fit_and_score(E, X, np.r_[np.nan, np.ones(59)]),
    "weight-inf": lambda E, X: _fit_and_score(E, X, np.r_[np.inf, np.ones(59)]),
    "weight-zero": lambda E, X: _fit_and_score(E, X, np.zeros(60)),
    "weight-length": lambda E, X: _fit_and_score(E, X, np.ones(6)),
    # codes
    "codes-too-large": lambda E, X: [
        lambda: fit(E, X).inverse_transform(codes_for(E, [[0, 9]], [[4]]))
    ],
    "codes-negative": lambda E, X: [
        lambda: fit(E, X).inverse_transform(codes_for(E, [[-1, 0]], [[-1]]))
    ],
    "codes-uint64": lambda E, X: [
        lambda: fit(E, X).inverse_transform(
            codes_for(E, [[2**63, 0]], [[2**63]]).astype(np.uint64)
        )
    ],
    "codes-fraction": lambda E, X: [lambda: fit(E, X).inverse_transform([[0.5, 1.0]])],
    "codes-nan": lambda E, X: [lambda: fit(E, X).inverse_transform([[np.nan, 1.0]])],
    "codes-huge-float": lambda E, X: [
        lambda: fit(E, X).inverse_transform([[1e308, 1.0]]),
        lambda: fit(E, X).inverse_transform([[-1e308, 1.0]]),
    ],
    "codes-str": lambda E, X: [lambda: fit(E, X).inverse_transform(np.array([["a", "b"]]))],
    "codes-object": lambda E, X: [
        lambda: fit(E, X).inverse_transform(np.array([[1, 0]], dtype=object))
    ],
    "codes-bool": lambda E, X: [lambda: fit(E, X).inverse_transform(np.array([[True, False]]))],
    "codes-columns": lambda E, X: [
        lambda: fit(E, X).inverse_transform(codes_for(E, [[0, 1, 2]], [[0, 0]]).astype(np.uint8))
    ],
    "codes-1-d": lambda E, X: [lambda: fit(E, X).inverse_transform(np.array([0, 1]))],
    "codes-3-d": lambda E, X: [
        lambda: fit(E, X).inverse_transform(np.zeros((1, 1, 2), dtype=np.uint8))
    ],
    "codes-padding": lambda E, X: [
        lambda: fit(E, X).inverse_transform(np.array([[0b11100000]], dtype=np.uint8))
    ],
    "codes-not-one-hot": lambda E, X: [
        lambda: fit(E, X, est=make(E, encode="onehot-dense")).inverse_transform(
            [[1, 1, 0, 0, 0, 1, 0, 0]]
        )
    ],
    # parameters
    "param-type": lambda E, X: [
        lambda: fit(E, X, est=make(E, n_bits="4")),
        lambda: fit(E, X, est=make(E, n_bits=2.0)),
        lambda: fit(E, X, est=make(E, n_bits=True)),
    ],
    "param-range": lambda E, X: [lambda: fit(E, X, est=make(E, n_bits=0))]
    + ([] if E is BinarySphericalEncoder else [lambda: fit(E, X, est=make(E, n_bits=17))]),
    "param-option": lambda E, X: [lambda: fit(E, X, est=make(E, encode="bits"))],
    "n-bits-shape": lambda E, X: [lambda: fit(E, X, est=make(E, n_bits=[2, 3, 4]))],
    "n-bits-values": lambda E, X: [lambda: fit(E, X, est=make(E, n_bits=[0, 3]))],
    "n-bits-too-many": lambda E, X: [lambda: fit(E, X, est=E(n_bits=3, rotation="random"))],
    "n-bits-no-rotation": lambda E, X: [lambda: fit(E, X, est=E(n_bits=1))],
    "n-levels-range": lambda E, X: [
        lambda v=v: fit(E, X, est=E(n_levels=v)) for v in (1, 0, -1, 65537)
    ],
    "n-levels-type": lambda E, X: [
        lambda v=v: fit(E, X, est=E(n_levels=v)) for v in (2.5, True, "5")
    ],
    "n-levels-0d": lambda E, X: [
        lambda: fit(E, X, est=E(n_levels=np.array(5))),
        lambda: fit(E, X, est=E(n_bits=np.array(17))),
        lambda: fit(E, X, est=E(n_bits=np.array(4.7))),
    ],
    "n-levels-shape": lambda E, X: [lambda: fit(E, X, est=E(n_levels=[3, 4, 5]))],
    "n-levels-values": lambda E, X: [
        lambda: fit(E, X, est=E(n_levels=[1, 3])),
        lambda: fit(E, X, est=E(n_levels=[2.5, 3])),
    ],
    "n-levels-and-bits": lambda E, X: [lambda: fit(E, X, est=E(n_bits=3, n_levels=5))],
    "lam-negative": lambda E, X: [lambda: fit(E, X, est=make(E, lam=-0.1))],
    "rate-range": lambda E, X: [
        lambda v=v: fit(E, X, est=E(rate=v)) for v in (0.0, -1.0)
    ],
    "lam-and-rate": lambda E, X: [lambda: fit(E, X, est=E(lam=0.1, rate=2.0))],
    "rate-above-max-levels": lambda E, X: [lambda: fit(E, X, est=E(rate=2.5, max_levels=4))],
    "max-levels-range": lambda E, X: [
        lambda v=v: fit(E, X, est=E(max_levels=v)) for v in (1, 65537, 2.5)
    ],
    "iterations-bool": lambda E, X: [
        lambda p=p, v=v, how=how: fit(E, X, est=E(**{p: v}) if how else E().set_params(**{p: v}))
        for p in ("max_iter", "n_init") for v in (True, np.bool_(True)) for how in (0, 1)
    ],
    "index-too-wide": lambda E, X: [
        lambda: fit(E, np.random.default_rng(0).standard_normal((10, 64)), est=E(encode="index"))
    ],
}


@cases(*BAD_CALLS)
def test_error_rows(row, Est, X):
    error, fragment = answer(row, Est)
    calls = BAD_CALLS[row](Est, X)
    assert calls
    for call in calls:
        with pytest.raises(error, match=re.escape(fragment)):
            call()


def _invalid_values(Est):
    """``(name, value)`` pairs outside each parameter's constraints: a value of no
    accepted type, and the out-of-range values scikit-learn's generator finds."""
    for name, constraints in Est._parameter_constraints.items():
        yield name, object()
        constraints = [make_constraint(c) for c in constraints]
        for constraint in constraints:
            try:
                value = generate_invalid_param_val(constraint)
            except NotImplementedError:
                continue
            if not any(c.is_satisfied_by(value) for c in constraints):
                yield name, value


@cases("param-any")
def test_every_parameter_is_validated(row, Est, X):
    error, fragment = answer(row, Est)
    tried = 0
    for name, value in _invalid_values(Est):
        with pytest.raises(error, match=f"The '{name}' {re.escape(fragment)} {Est.__name__}"):
            fit(Est, X, est=make(Est, **{name: value}))
        tried += 1
    assert tried >= len(Est._parameter_constraints)


# ------------------------------------------------------------------ results
def _same_fit(Est, data, reference):
    """Fitting and transforming ``data`` gives what the float64 ``reference`` gives."""
    got, ref = fit(Est, data), fit(Est, reference)
    np.testing.assert_array_equal(got.transform(data), ref.transform(reference))
    if Est is BinarySphericalEncoder:
        np.testing.assert_array_equal(got.components_, ref.components_)
    else:
        assert got.levels_.dtype == np.float64
        np.testing.assert_array_equal(got.levels_, ref.levels_)
    return got


CONVERSIONS = {  # row -> [(input, the same values as a float64 array)]
    "object-numbers": lambda X: [(X.astype(object), X)],
    "str-numbers": lambda X: [(X.astype(str), X.astype(str).astype(np.float64))],
    "bool": lambda X: [(X > 0, (X > 0).astype(np.float64))],
    "float16": lambda X: [(X.astype(np.float16), X.astype(np.float16).astype(np.float64))],
    "integers": lambda X: [
        ((X * 10).astype(t), (X * 10).astype(t).astype(np.float64))
        for t in (np.int8, np.uint32, np.int64)
    ],
    "pandas-nullable": lambda X: [
        (df, df.to_numpy(dtype=np.float64))
        for df in (frame(X, t, na=False) for t in ("Int64", "Float64", "boolean"))
    ],
}


@cases(*CONVERSIONS, result=True)
def test_converted_inputs_give_the_float64_result(row, Est, X):
    pairs = CONVERSIONS[row](X)
    for data, reference in pairs:
        got = _same_fit(Est, data, reference)
    if row == "bool" and Est is not BinarySphericalEncoder:
        np.testing.assert_array_equal(got.levels_[:, :2], [[0.0, 1.0]] * 2)


SCALES = {  # row -> scales of N(0, 1) data (the scalar quantizers)
    "huge": [1e300, "largest"],
    "tiny": [1e-300],
    "subnormal": [1e-310],
}
POWERS = {  # row -> (float64 power of two, float32 power of two or None) (the encoder)
    "huge": (2.0**1021, 2.0**125),
    "tiny": (2.0**-1000, None),
    "subnormal": (2.0**-1040, None),
}
ENCODERS = [
    {},
    {"center": True},
    {"rotation": "random", "random_state": 0},
    {"rotation": "pca", "center": True},
    {"rotation": "itq", "center": True, "random_state": 0},
]


@cases(*SCALES, result=True)
def test_extreme_magnitudes(row, Est):
    rng = np.random.default_rng(0)
    if Est is BinarySphericalEncoder:  # signs do not depend on the scale
        X = rng.standard_normal((300, 4))
        power64, power32 = POWERS[row]
        for params in ENCODERS:
            unit = Est(**params).fit(X)
            big = X * power64
            est = Est(**params).fit(big)
            np.testing.assert_array_equal(est.transform(big), unit.transform(X))
            assert est.score(big) == pytest.approx(unit.score(X), rel=1e-12)
            if power32 is not None:
                X32 = (X * power32).astype(np.float32)
                ref32 = Est(**params).fit(X.astype(np.float32)).transform(X.astype(np.float32))
                np.testing.assert_array_equal(Est(**params).fit(X32).transform(X32), ref32)
        return
    z = rng.standard_normal((5000, 1))
    unit = fit(Est, z, est=sized(Est, 3))
    ref = np.mean((z - unit.inverse_transform(unit.transform(z))) ** 2)
    for scale in SCALES[row]:
        if scale == "largest":  # the largest |x| is 1.7e308
            scale = 1.7e308 / np.abs(z).max()
        x = scale * z
        with np.errstate(over="ignore"):  # mse_ of such data is inf, as it should be
            q = fit(Est, x, est=sized(Est, 3))
        nmse = np.mean(((x - q.inverse_transform(q.transform(x))) / scale) ** 2)
        # subnormals hold fewer significant bits; everything else matches closely
        assert nmse == pytest.approx(ref, rel=0.05 if row == "subnormal" else 1e-3)


@cases("weight-overflow", result=True)
def test_equal_weights_of_any_size_are_no_weights(row, Est, X):
    ref = fit(Est, X)
    streamed = make(Est).partial_fit(X[:30]).partial_fit(X[30:])
    for c in (1e308, 1e-300, 1e306):
        w = np.full(60, c)
        est = fit(Est, X, sample_weight=w)
        np.testing.assert_array_equal(est.thresholds_, ref.thresholds_)
        np.testing.assert_array_equal(est.levels_, ref.levels_)
        assert est.score(X, sample_weight=w) == ref.score(X)
        part = make(Est).partial_fit(X[:30], sample_weight=w[:30])
        part.partial_fit(X[30:], sample_weight=w[30:])
        np.testing.assert_array_equal(part.thresholds_, streamed.thresholds_)


@cases("weight-span", result=True)
def test_weights_spanning_float64(row, Est, X):
    """Weights from 1e-300 to 1e300 in fit and in a stream: increasing thresholds, finite
    levels, and a file that loads with the same codes."""
    w = 10.0 ** np.random.default_rng(3).uniform(-300, 300, X.shape[0])
    streamed = make(Est)
    for idx in np.array_split(np.arange(X.shape[0]), 3):
        streamed.partial_fit(X[idx], sample_weight=w[idx])
    for est in (fit(Est, X, sample_weight=w), streamed):
        T = est.thresholds_
        assert not (T[:, 1:] < T[:, :-1]).any() and np.isfinite(est.levels_).all()
        buf = io.BytesIO()
        skquant.save(est, buf)
        loaded = skquant.load(io.BytesIO(buf.getvalue()))
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def _layouts(X, tmp_path):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    big = np.zeros((2 * X.shape[0], 2 * X.shape[1]))
    big[::2, 1::2] = X
    return {
        "read-only-memmap": np.memmap(path, dtype=np.float64, mode="r", shape=X.shape),
        "fortran-order": np.asfortranarray(X),
        "strided-view": big[::2, 1::2],
    }


@cases("read-only-memmap", "fortran-order", "strided-view", result=True)
def test_layouts_give_the_same_codes(row, Est, X, tmp_path):
    data = _layouts(X, tmp_path)[row]
    assert not data.flags.c_contiguous or not data.flags.writeable
    _same_fit(Est, data, X)


ACCEPTED_CODES = {  # row -> (scalar codes, encoder codes), each with its equivalent
    "codes-fraction": (None, ([[0.5, -0.25]], np.array([[0b10000000]], dtype=np.uint8))),
    "codes-whole-float": (
        ([[1.0, 2.0]], [[1, 2]]),
        ([[1.0, 0.0]], np.array([[0b10000000]], dtype=np.uint8)),
    ),
    "codes-bool": ((np.array([[True, False]]), [[1, 0]]), None),
    "codes-huge-float": (None, ([[1e308, -1e308]], np.array([[0b10000000]], dtype=np.uint8))),
    "codes-1-d": (None, (np.array([2, 1]), np.array([[0b10000000], [0b01000000]], np.uint8))),
    "codes-no-rows": (
        (np.empty((0, 2), dtype=np.uint8), np.empty((0, 2), dtype=np.int64)),
        (np.empty((0, 1), dtype=np.uint8), np.empty((0, 2))),
    ),
}


@cases(*ACCEPTED_CODES, result=True)
def test_accepted_codes(row, Est, X):
    est = fit(Est, X)
    codes, same = ACCEPTED_CODES[row][Est is BinarySphericalEncoder]
    got = est.inverse_transform(codes)
    np.testing.assert_array_equal(got, est.inverse_transform(same))
    assert got.shape == (np.shape(same)[0], 2) and got.dtype == np.float64


# ---------------------------------------------------------------- the tie
def test_every_row_has_a_test():
    assert len(ANSWERS) >= 50
    assert REQUESTED - set(ANSWERS) == set(), "rows tested but missing from the page"
    assert set(ANSWERS) - REQUESTED == set(), "rows of the page without a test"
    expected = {
        (row, encoder)
        for row, answers in ANSWERS.items()
        for encoder, a in enumerate(answers)
        if a is not None
    }
    assert expected - CHECKED == set(), "(row, is the encoder) pairs without a test case"
