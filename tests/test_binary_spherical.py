"""Tests of skquant._binary_spherical (BinarySphericalEncoder, bsq_auxiliary_loss)
and of its kernels, skquant._kernels._binary."""

import importlib.util
import io
import pickle
from pathlib import Path

import naive
import numba
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError

import skquant
from skquant import BinarySphericalEncoder, bsq_auxiliary_loss, hamming_knn
from skquant import _kernels as K
from skquant._binary_spherical import (
    _check_fitted_state,
    _code_statistics,
    _principal_directions,
)
from skquant._hamming import _as_words
from skquant._kernels import _binary as KB

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = np.load(FIXTURES / "bsq_reference.npz")
PARITY_DIMS = [1, 4, 8, 13, 16]
# float32 cannot hold probabilities below ~1e-45: where the exact per-sample entropy is
# astronomically small (D=1, inv_temperature=100: 2e-173) the reference returns 0.
TINY = float(np.finfo(np.float32).tiny)


def digits_split(seed=0, n_queries=300):
    X = load_digits().data.astype(np.float64)
    perm = np.random.default_rng(seed).permutation(len(X))
    return X[perm[n_queries:]], X[perm[:n_queries]]


def recall_at_10(encoder, base, queries):
    """Hamming-ranking recall@10 of the 10 true Euclidean neighbours (ties by index)."""
    # digits are small integers: these squared distances are exact
    d2 = (queries**2).sum(1)[:, None] + (base**2).sum(1)[None, :] - 2 * queries @ base.T
    true = np.argsort(d2, axis=1, kind="stable")[:, :10]
    _, found = hamming_knn(encoder.transform(queries), encoder.transform(base), 10)
    return np.mean([len(set(t) & set(f)) / 10 for t, f in zip(true, found)])


@pytest.fixture
def restore_threads():
    n = numba.get_num_threads()
    yield
    numba.set_num_threads(n)


# ------------------------------------------------------------ reference parity
@pytest.mark.parametrize("d", PARITY_DIMS)
def test_codes_match_reference(d):
    x = REFERENCE[f"x_D{d}"]
    X = x.reshape(-1, d)
    index = BinarySphericalEncoder(encode="index").fit_transform(X)
    np.testing.assert_array_equal(index.ravel(), REFERENCE[f"indices_D{d}_T1"])
    sign = BinarySphericalEncoder(encode="sign").fit_transform(X)
    assert sign.dtype == np.float32
    # the reference's straight-through sum x + (q - x) rounds in float32
    np.testing.assert_allclose(sign, REFERENCE[f"quantized_D{d}_T1"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("inv_temperature", [1.0, 100.0])
@pytest.mark.parametrize("d", PARITY_DIMS)
def test_aux_loss_matches_reference(d, inv_temperature):
    key = f"D{d}_T{inv_temperature:g}"
    x = REFERENCE[f"x_D{d}"]  # (batch, tokens, D), as the reference consumes it
    res = bsq_auxiliary_loss(x, inv_temperature=inv_temperature)
    assert res.exact
    for name in ("aux_loss", "per_sample_entropy", "codebook_entropy"):
        got = res.loss if name == "aux_loss" else getattr(res, name)
        np.testing.assert_allclose(
            got, REFERENCE[f"{name}_{key}"], rtol=1e-5, atol=TINY, err_msg=name
        )
    flat = bsq_auxiliary_loss(x.reshape(-1, d), inv_temperature=inv_temperature)
    assert flat == res


def test_parity_cases_exercise_the_clamp():
    """Without the 1e-5 clamp the per-sample entropy would miss the reference by more
    than the tolerance in these cases, so the parity test really checks the clamp."""
    for d, tau in [(8, 100.0), (13, 100.0), (16, 1.0), (16, 100.0)]:
        x = REFERENCE[f"x_D{d}"].reshape(-1, d)
        shannon = naive.entropy(naive.soft_assignment(x, tau), clamp=False).mean()
        ref = float(REFERENCE[f"per_sample_entropy_D{d}_T{tau:g}"])
        assert abs(shannon - ref) > 1e-5 * ref


def test_live_reference_module():
    """Run the reference PyTorch module itself on fresh inputs (when torch is there)."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "make_bsq_reference", FIXTURES / "make_bsq_reference.py"
    )
    ref_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref_mod)
    rng = np.random.default_rng(123)
    for d in PARITY_DIMS:
        x = rng.standard_normal((3, 20, d)).astype(np.float32)
        x[0, 0] = 0.0  # a zero vector: all bits 0 in both
        for tau in (1.0, 100.0):
            ref = ref_mod.reference_outputs(x, tau)
            X = x.reshape(-1, d)
            index = BinarySphericalEncoder(encode="index").fit_transform(X).ravel()
            np.testing.assert_array_equal(index, ref["indices"])
            sign = BinarySphericalEncoder(encode="sign").fit_transform(X)
            np.testing.assert_allclose(sign, ref["quantized"], rtol=0, atol=1e-6)
            res = bsq_auxiliary_loss(x, inv_temperature=tau)
            np.testing.assert_allclose(res.loss, ref["aux_loss"], rtol=1e-5, atol=TINY)
            np.testing.assert_allclose(
                res.per_sample_entropy, ref["per_sample_entropy"], rtol=1e-5, atol=TINY
            )
            np.testing.assert_allclose(
                res.codebook_entropy, ref["codebook_entropy"], rtol=1e-5, atol=TINY
            )


# ------------------------------------------------------------ encoding kernels
@pytest.mark.parametrize("d", [1, 7, 8, 9, 23, 64])
def test_sign_pack_kernels_match_twin(global_dtype, d):
    dtype = global_dtype
    rng = np.random.default_rng(d)
    X = rng.standard_normal((600, d)).astype(dtype)
    X[1] = 0.0
    X[2, 0] = -0.0
    X[3] = np.finfo(dtype).smallest_subnormal
    X[4, -1] = np.inf  # positive: bit 1, but the row is flagged
    X[5, 0] = np.nan
    X[6, d // 2] = -np.inf
    out = np.empty((600, (d + 7) // 8), dtype=np.uint8)
    bad = np.empty(600, dtype=bool)
    K.sign_pack(X, np.zeros(d, dtype), out, bad)
    codes, flagged = naive.sign_codes(X, np.zeros(d, dtype))
    np.testing.assert_array_equal(out, codes)
    np.testing.assert_array_equal(np.flatnonzero(bad), [4, 5, 6])
    np.testing.assert_array_equal(bad, flagged)
    assert out[3].tolist() == np.packbits(np.ones(d, bool)).tolist()  # subnormals > 0
    offset = rng.standard_normal(d).astype(dtype)
    K.sign_pack(X, offset, out, bad)
    codes, flagged = naive.sign_codes(X, offset)
    np.testing.assert_array_equal(out, codes)
    np.testing.assert_array_equal(bad, flagged)
    W = np.linalg.qr(rng.standard_normal((d, d)))[0][:, : max(1, d - 3)]
    W = np.ascontiguousarray(W, dtype=dtype)
    out = np.empty((600, (W.shape[1] + 7) // 8), dtype=np.uint8)
    K.rotate_sign_pack(X, offset, W, out, bad)
    codes, flagged = naive.sign_codes(X, offset, W)
    np.testing.assert_array_equal(out[7:], codes[7:])  # flagged rows: no code
    np.testing.assert_array_equal(bad, flagged)
    np.testing.assert_array_equal(np.flatnonzero(bad), [4, 5, 6])


@pytest.mark.parametrize("d", [1, 3, 8, 12])
@pytest.mark.parametrize("inv_temperature", [0.0, 0.5, 1.0, 10.0, 100.0])
def test_sample_terms_kernel_matches_enumeration(d, inv_temperature):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((300, d))
    X[0] = 0.0  # uniform assignment
    X[1] *= 1e-14  # below the normalisation epsilon: not scaled up to unit norm
    X[2] = 0.0
    X[2, 0] = 5.0  # one certain bit, the others uniform
    P = naive.soft_assignment(X, inv_temperature)
    scale = 4.0 * inv_temperature / np.sqrt(d)
    bits = (np.arange(2**d)[:, None] >> np.arange(d - 1, -1, -1)) & 1
    for clamp in (False, True):
        H, Q0, Q1 = np.empty(300), np.empty((300, d)), np.empty((300, d))
        K.bsq_sample_terms(X, scale, clamp, H, Q0, Q1)
        np.testing.assert_allclose(H, naive.entropy(P, clamp), rtol=1e-10, atol=1e-13)
        # bit marginals of the enumerated assignment (tiny ones to full precision)
        np.testing.assert_allclose(Q1, P @ bits, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(Q0, P @ (1 - bits), rtol=1e-10, atol=1e-15)


def test_aux_loss_matches_enumeration_for_both_dtypes(global_dtype):
    dtype = global_dtype
    # the entropy kernels are float64-only; float32 input is converted at the boundary
    X = np.random.default_rng(0).standard_normal((2, 40, 7)).astype(dtype)
    P = naive.soft_assignment(X.reshape(-1, 7), 30.0)
    res = bsq_auxiliary_loss(X, inv_temperature=30.0, diversity_gamma=0.5)
    ps, cb = naive.entropy(P, True).mean(), naive.entropy(P.mean(axis=0), True)
    np.testing.assert_allclose(res.per_sample_entropy, ps, rtol=1e-12)
    np.testing.assert_allclose(res.codebook_entropy, cb, rtol=1e-12)
    np.testing.assert_allclose(res.loss, 0.1 * (ps - 0.5 * cb), rtol=1e-12)


def test_sample_terms_when_every_code_is_below_the_clamp():
    # D = 17 at inv_temperature 0: every code has p = 2**-17 < 1e-5, entropy -log(1e-5).
    X = np.random.default_rng(0).standard_normal((3, 17))
    H, Q0, Q1 = np.empty(3), np.empty((3, 17)), np.empty((3, 17))
    K.bsq_sample_terms(X, 0.0, True, H, Q0, Q1)
    np.testing.assert_allclose(H, -np.log(1e-5), rtol=1e-12)
    K.bsq_sample_terms(X, 0.0, False, H, Q0, Q1)
    np.testing.assert_allclose(H, 17 * np.log(2), rtol=1e-12)
    np.testing.assert_array_equal(Q1, 0.5)


def test_both_clamp_strategies_agree():
    """The high-mass enumeration and the meet in the middle compute the same value."""
    rng = np.random.default_rng(1)
    for tau in (1.0, 3.0, 10.0, 100.0):
        for d in (2, 9, 14):
            x = rng.standard_normal(d)
            a, e = np.empty(d), np.empty(d)
            lse = KB._row_costs(x, 4 * tau / np.sqrt(d), a, e)
            log_p_max = -lse
            budget = log_p_max - np.log(K.CLAMP)
            if not (a.sum() > budget >= 0):
                continue
            n1, n2 = 2 ** (d // 2), 2 ** (d - d // 2)
            high = KB._high_mass_entropy(
                a, e, budget, np.exp(log_p_max), log_p_max, np.empty(d, np.int64),
                np.empty(d * d, np.int64), np.empty(d * d), np.empty(d * d), 2**d
            )
            shannon = lse + (a * e / (1 + e)).sum()
            low = KB._low_mass_correction(
                a, e, budget, np.exp(log_p_max), np.empty(n1), np.empty(n1),
                np.empty(n2), np.empty(n2), np.empty(n2), np.empty(n2),
                np.empty(n2 + 1), np.empty(n2 + 1)
            )
            expected = naive.entropy(naive.soft_assignment(x[None], tau), True)[0]
            # the twin's float64 sum cannot resolve entropies below ~1e-15
            np.testing.assert_allclose(high, expected, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(shannon + low, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("d, n, n_parts", [(1, 5, 1), (6, 300, 3), (9, 1000, 16)])
def test_codebook_partials_kernel_sums_each_part(d, n, n_parts):
    X = np.random.default_rng(d).standard_normal((n, d))
    H, Q0, Q1 = np.empty(n), np.empty((n, d)), np.empty((n, d))
    K.bsq_sample_terms(X, 4 * 2.0 / np.sqrt(d), False, H, Q0, Q1)
    h = d // 2
    parts = np.full((n_parts, 2**h, 2 ** (d - h)), np.nan)
    K.bsq_codebook_partials(Q0, Q1, h, 64, parts)  # 64-row table blocks: several
    P = naive.soft_assignment(X, 2.0)
    size = -(-n // n_parts)
    for p in range(n_parts):
        expected = P[p * size : (p + 1) * size].sum(axis=0).reshape(parts[p].shape)
        np.testing.assert_allclose(parts[p], expected, rtol=1e-12, atol=1e-300)


def test_codebook_entropy_above_the_default_exact_limit():
    # D = 17: a single part of codebook sums at n = 12; exact_max_dim raised to reach it
    X = np.random.default_rng(0).standard_normal((12, 17))
    res = bsq_auxiliary_loss(X, inv_temperature=2.0, exact_max_dim=17)
    assert res.exact
    P = naive.soft_assignment(X, 2.0)
    cb, ps = naive.entropy(P.mean(axis=0), True), naive.entropy(P, True).mean()
    np.testing.assert_allclose(res.codebook_entropy, cb, rtol=1e-12)
    np.testing.assert_allclose(res.per_sample_entropy, ps, rtol=1e-12)


def test_kernels_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 13)).astype(np.float32)  # many blocks of rows
    X64 = X.astype(np.float64)
    X17 = rng.standard_normal((600, 17))  # two parts of 2**17 codebook sums
    results = []
    for n_threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(n_threads)
        encoders = [
            BinarySphericalEncoder().fit(X),
            BinarySphericalEncoder(center=True).fit(X),
            BinarySphericalEncoder(9, rotation="itq", center=True, random_state=0).fit(X64),
        ]
        out = [e.transform(X) for e in encoders]
        out += [np.asarray(bsq_auxiliary_loss(X, inv_temperature=t)) for t in (1.0, 100.0)]
        out.append(np.asarray(bsq_auxiliary_loss(X, exact_max_dim=0)))
        out.append(np.asarray(bsq_auxiliary_loss(X17, inv_temperature=3, exact_max_dim=17)))
        results.append(out)
    for got in results[1:]:
        for a, b in zip(results[0], got):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------- encodings
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"center": True},
        {"rotation": "random", "n_bits": 11},
        {"rotation": "pca", "center": True, "n_bits": 16},
        {"rotation": "itq", "center": True, "n_bits": 20},
    ],
)
def test_packed_is_packbits_of_rotated_vectors(global_dtype, params):
    dtype = global_dtype
    X = np.random.default_rng(0).standard_normal((400, 20)).astype(dtype) + 0.3
    enc = BinarySphericalEncoder(random_state=0, **params).fit(X)
    packed = enc.transform(X)
    assert packed.dtype == np.uint8
    assert packed.shape == (400, (enc.n_bits_ + 7) // 8)
    W = np.ascontiguousarray(enc.components_.T, dtype=dtype)
    Z = naive.rotate(X, enc.mean_.astype(dtype), W)
    np.testing.assert_array_equal(packed, np.packbits(Z > 0, axis=1))
    # and with plain NumPy (BLAS) rotation, up to signs of values at rounding level
    Z64 = (X.astype(np.float64) - enc.mean_) @ enc.components_.T
    certain = np.abs(Z64) > 1e-4
    bits = np.unpackbits(packed, axis=1, count=enc.n_bits_).astype(bool)
    np.testing.assert_array_equal(bits[certain], (Z64 > 0)[certain])
    index = enc.set_params(encode="index").transform(X)
    assert index.dtype == np.int64 and index.shape == (400, 1)
    np.testing.assert_array_equal(index.ravel(), naive.code_index(Z))


def test_packed_bit_order_is_packbits_order():
    X = np.array([[1.0, -1, -1, -1, -1, -1, -1, -1, -1, 1], [-1.0] * 9 + [1.0]])
    packed = BinarySphericalEncoder().fit_transform(X)
    np.testing.assert_array_equal(packed, [[0b10000000, 0b01000000], [0, 0b01000000]])
    index = BinarySphericalEncoder(encode="index").fit_transform(X)
    np.testing.assert_array_equal(index.ravel(), [2**9 + 1, 1])


@pytest.mark.parametrize("encode", ["packed", "index", "sign"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"center": True},
        {"rotation": "random", "n_bits": 5},
        {"rotation": "pca", "n_bits": 13, "center": True},
        {"rotation": "itq", "n_bits": 9, "center": True},
    ],
)
def test_round_trip_every_encoding(encode, params):
    X = np.random.default_rng(1).standard_normal((200, 13)) * 3 + 1
    enc = BinarySphericalEncoder(encode=encode, random_state=0, **params).fit(X)
    codes = enc.transform(X)
    X_hat = enc.inverse_transform(codes)
    assert X_hat.shape == X.shape
    # unit vectors (before the mean), in the span of the projection
    np.testing.assert_allclose(np.linalg.norm(X_hat - enc.mean_, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(enc.transform(X_hat), codes)
    # every encoding decodes to the same reconstruction
    for other in ("packed", "index", "sign"):
        other_codes = clone(enc).set_params(encode=other).fit(X).transform(X)
        np.testing.assert_allclose(enc.inverse_transform(other_codes), X_hat, atol=1e-12)


def test_round_trip_all_codes_of_small_dimension():
    X = np.random.default_rng(0).standard_normal((50, 6))
    enc = BinarySphericalEncoder(encode="index").fit(X)
    every = np.arange(64)
    np.testing.assert_array_equal(enc.transform(enc.inverse_transform(every)).ravel(), every)


def test_sign_encoding_values_and_dtype():
    X = np.random.default_rng(0).standard_normal((10, 9)).astype(np.float32)
    S = BinarySphericalEncoder(encode="sign").fit_transform(X)
    assert S.dtype == np.float32
    np.testing.assert_array_equal(np.abs(S), np.float32(1 / 3))
    np.testing.assert_array_equal(S > 0, X > 0)
    S64 = BinarySphericalEncoder(encode="sign").fit_transform(X.astype(np.float64))
    assert S64.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(S64, axis=1), 1.0, rtol=1e-15)


def test_float32_and_float64_give_the_same_codes():
    X = np.random.default_rng(0).standard_normal((300, 24)).astype(np.float32)
    for params in ({}, {"center": True}, {"rotation": "itq", "center": True, "n_bits": 16}):
        enc = BinarySphericalEncoder(random_state=0, **params).fit(X.astype(np.float64))
        c64 = enc.transform(X.astype(np.float64))
        c32 = enc.transform(X)
        # rotations in float32 may flip coordinates within rounding of zero only
        assert np.mean(c32 != c64) < 0.01


def test_index_limit_of_63_bits():
    X = np.random.default_rng(0).standard_normal((5, 63))
    enc = BinarySphericalEncoder(encode="index").fit(X)
    index = enc.transform(X).ravel()
    np.testing.assert_array_equal(index, naive.code_index(X))
    assert index.min() >= 0
    X[0] = 1.0  # all ones: 2**63 - 1
    assert enc.transform(X[:1])[0, 0] == 2**63 - 1
    with pytest.raises(ValueError, match=r'encode="index".*n_bits <= 63; got n_bits=64'):
        BinarySphericalEncoder(encode="index").fit(np.ones((3, 64)))
    enc64 = BinarySphericalEncoder().fit(np.ones((3, 64)))
    with pytest.raises(ValueError, match="n_bits <= 63"):
        enc64.set_params(encode="index").transform(np.ones((3, 64)))
    with pytest.raises(ValueError, match="Integer codes are read as indices, which need"):
        enc64.inverse_transform(np.zeros(3, dtype=np.int64))


# ----------------------------------------------------------- zero and NaN rows
def test_zero_vectors_get_all_bits_zero():
    X = np.zeros((2, 5))
    X[1] = [1, -1, 0, 2, 0]
    enc = BinarySphericalEncoder(encode="index").fit(X)
    np.testing.assert_array_equal(enc.transform(X).ravel(), [0, 0b10010])
    S = enc.set_params(encode="sign").transform(X)
    np.testing.assert_allclose(S[0], -1 / np.sqrt(5))
    # with centring, the zero vector is x == mean_
    enc = BinarySphericalEncoder(center=True, encode="index").fit(X)
    assert enc.transform(enc.mean_[None])[0, 0] == 0
    # the aux loss of a zero row: uniform over the 2**5 codes
    res = bsq_auxiliary_loss(np.zeros((1, 5)), inv_temperature=100.0)
    np.testing.assert_allclose(res.per_sample_entropy, 5 * np.log(2), rtol=1e-12)
    np.testing.assert_allclose(res.codebook_entropy, 5 * np.log(2), rtol=1e-12)
    # score counts rows equal to the mean as cosine 0
    assert BinarySphericalEncoder().fit(X).score(np.zeros((3, 5))) == 0.0


@pytest.mark.parametrize("rotation", [None, "itq"])
@pytest.mark.parametrize("center", [False, True])
def test_nan_and_inf_rows_are_named(rotation, center):
    X = np.random.default_rng(0).standard_normal((30, 6))
    enc = BinarySphericalEncoder(rotation=rotation, center=center, random_state=0).fit(X)
    bad = X.copy()
    bad[4, 2] = np.nan
    bad[17, 0] = -np.inf
    msg = r"NaN or infinity in 2 row\(s\) \(row\(s\) 4, 17\)"
    with pytest.raises(ValueError, match=msg):
        clone(enc).fit(bad)
    with pytest.raises(ValueError, match=msg):
        enc.transform(bad)
    with pytest.raises(ValueError, match=msg):
        enc.transform(bad.astype(np.float32))
    with pytest.raises(ValueError, match=msg):
        enc.score(bad)
    with pytest.raises(ValueError, match=msg):
        enc.auxiliary_loss(bad)
    with pytest.raises(ValueError, match=msg):
        bsq_auxiliary_loss(bad)
    many = X.copy()
    many[:12, 0] = np.inf
    with pytest.raises(ValueError, match=r"in 12 row\(s\) \(row\(s\) 0, 1, .*, 9, \.\.\.\)"):
        enc.transform(many)


def test_aux_loss_is_scale_invariant_even_for_huge_rows():
    X = np.random.default_rng(0).standard_normal((50, 6))
    res = bsq_auxiliary_loss(X, inv_temperature=10.0)
    for factor in (1e-9, 1e200):
        scaled = bsq_auxiliary_loss(X * factor, inv_temperature=10.0)
        np.testing.assert_allclose(scaled, res, rtol=1e-12)


def test_huge_values_do_not_overflow_the_codes():
    # the reference's float32 norm would overflow to inf and zero every bit
    X = np.array([[3e38, -3e38, 1.0], [1e-44, -1e-44, 0.0]], dtype=np.float32)
    index = BinarySphericalEncoder(encode="index").fit_transform(X)
    np.testing.assert_array_equal(index.ravel(), [0b101, 0b100])


@pytest.mark.parametrize("magnitude", ["largest", "smallest-normal", "subnormal"])
def test_extreme_magnitudes_everywhere(global_dtype, magnitude):
    """From subnormals to the largest finite float, in both dtypes and on every path:
    the codes of the data divided by a power of two (exact: the same signs), and
    finite scores, losses, reconstructions and fitted arrays. The one exception is
    ``itq_loss_`` of data near the largest float, whose true value exceeds it."""
    dtype = global_dtype
    info = np.finfo(dtype)
    X = np.clip(np.random.default_rng(0).standard_normal((200, 5)), -3.9, 3.9)
    X[0] = [3.9, -3.9, 3.9, -3.9, 3.9]  # entries at the very top of the range
    power = {
        "largest": 2.0 ** (info.maxexp - 2),  # 3.9 * power: 0.98 of the largest float
        "smallest-normal": 2.0 ** (info.minexp + 2),
        "subnormal": 2.0 ** (info.minexp - info.nmant + 20),  # 20 significant bits
    }[magnitude]
    data = (X * power).astype(dtype)
    if magnitude == "largest":
        assert np.abs(data).max() > 0.97 * info.max
    unit = np.ldexp(data.astype(np.float64), -int(np.log2(power))).astype(dtype)
    for params in ENCODER_PATHS:
        enc = BinarySphericalEncoder(random_state=0, **params).fit(data)
        ref = BinarySphericalEncoder(random_state=0, **params).fit(unit)
        codes = enc.transform(data)
        np.testing.assert_array_equal(codes, ref.transform(unit), err_msg=str(params))
        assert np.isfinite(enc.score(data))
        assert np.isfinite(enc.auxiliary_loss(data).loss)
        assert np.isfinite(enc.inverse_transform(codes)).all()
        for name in ("components_", "mean_", "bit_balance_", "code_entropy_"):
            assert np.isfinite(getattr(enc, name)).all(), name
        if params.get("rotation") == "itq":  # float64 losses of float64 data
            overflows = magnitude == "largest" and dtype == np.float64
            assert np.isfinite(enc.itq_loss_).all() != overflows


ENCODER_PATHS = [
    {},
    {"center": True},
    {"rotation": "random", "n_bits": 3},
    {"rotation": "pca", "n_bits": 3, "center": True},
    {"rotation": "itq", "n_bits": 3, "center": True},
]


# ------------------------------------------------------------------- rotations
def test_rotations_are_orthonormal_and_seeded():
    X = np.random.default_rng(0).standard_normal((100, 12))
    for rotation in ("random", "pca", "itq"):
        for n_bits in (12, 5):
            enc = BinarySphericalEncoder(
                n_bits, rotation=rotation, center=True, random_state=3
            ).fit(X)
            C = enc.components_
            assert C.shape == (n_bits, 12)
            np.testing.assert_allclose(C @ C.T, np.eye(n_bits), atol=1e-12)
            again = BinarySphericalEncoder(
                n_bits, rotation=rotation, center=True, random_state=3
            ).fit(X)
            np.testing.assert_array_equal(again.components_, C)
    # random: the first n_bits columns of one Haar rotation, whatever n_bits
    full = BinarySphericalEncoder(rotation="random", random_state=1).fit(X).components_
    part = BinarySphericalEncoder(4, rotation="random", random_state=1).fit(X).components_
    np.testing.assert_array_equal(part, full[:4])
    # pca: the top principal directions, by decreasing variance
    enc = BinarySphericalEncoder(3, rotation="pca", center=True).fit(X)
    Xc = X - X.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov(Xc.T))
    overlap = np.abs(enc.components_ @ evecs[:, ::-1][:, :3])
    np.testing.assert_allclose(overlap, np.eye(3), atol=1e-8)


def test_pca_of_wide_data_from_the_small_gram_matrix():
    """n_samples < n_features: the directions come from the n x n Gram matrix, and are
    those of the d x d one (the tall route); past the rank of the data, orthonormal
    directions orthogonal to every (centred) row."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 120)) * np.linspace(3.0, 0.1, 120)
    for center, rank in ((True, 29), (False, 30)):
        Xc = X - X.mean(axis=0) if center else X
        for n_bits in (10, rank, 40):
            enc = BinarySphericalEncoder(n_bits, rotation="pca", center=center).fit(X)
            C = enc.components_
            np.testing.assert_allclose(C @ C.T, np.eye(n_bits), atol=1e-12)
            r = min(n_bits, rank)
            tall = _principal_directions(Xc.T @ Xc, n_bits)
            np.testing.assert_allclose(C[:r], tall[:r], atol=1e-10)
            if n_bits > r:
                assert np.abs(Xc @ C[r:].T).max() < 1e-12 * np.abs(Xc).max()
            again = BinarySphericalEncoder(n_bits, rotation="pca", center=center).fit(X)
            np.testing.assert_array_equal(again.components_, C)
    # ITQ starts from them; constant data has no direction at all
    enc = BinarySphericalEncoder(16, rotation="itq", center=True, random_state=0).fit(X)
    np.testing.assert_allclose(enc.components_ @ enc.components_.T, np.eye(16), atol=1e-12)
    flat = BinarySphericalEncoder(4, rotation="pca", center=True).fit(np.ones((3, 10)))
    np.testing.assert_array_equal(flat.components_, np.eye(4, 10))


def test_itq_loss_is_non_increasing_and_lowers_the_loss():
    X, _ = digits_split()
    enc = BinarySphericalEncoder(32, rotation="itq", center=True, random_state=0).fit(X)
    loss = enc.itq_loss_
    assert loss.shape == (51,)
    assert np.all(np.diff(loss) <= 1e-10 * loss[0])
    assert loss[-1] < 0.97 * loss[0]
    # the stored loss is the quantization loss of the final rotation
    V = (X - enc.mean_) @ enc.components_.T
    final = np.sum((np.where(V > 0, 1.0, -1.0) - V) ** 2)
    np.testing.assert_allclose(final, loss[-1], rtol=1e-9)
    assert BinarySphericalEncoder(8, rotation="itq", n_iter=0).fit(X).itq_loss_.shape == (1,)


@pytest.mark.parametrize("n_bits", [32, 16])
def test_itq_beats_random_on_digits_recall(n_bits):
    base, queries = digits_split()
    recall = {
        rotation: recall_at_10(
            BinarySphericalEncoder(n_bits, rotation=rotation, center=True, random_state=0)
            .fit(base), base, queries
        )
        for rotation in ("random", "pca", "itq")
    }
    print(f"digits recall@10 at {n_bits} bits:", recall)
    assert recall["itq"] > recall["random"] + 0.05
    assert recall["itq"] > recall["pca"]
    assert 0.1 < recall["random"] < 0.6


# ----------------------------------------------------------------- diagnostics
def test_bit_balance_and_code_entropy():
    X = np.array([[1.0, 1], [1, -1], [1, -1], [-1, -1]])
    enc = BinarySphericalEncoder().fit(X)
    np.testing.assert_allclose(enc.bit_balance_, [0.75, 0.25])
    # codes 11, 10, 10, 00: probabilities 1/4, 1/2, 1/4 -> 1.5 bits
    np.testing.assert_allclose(enc.code_entropy_, 1.5)
    X = np.random.default_rng(0).standard_normal((2000, 20))
    enc = BinarySphericalEncoder(10, rotation="itq", center=True, random_state=0).fit(X)
    codes = enc.transform(X)
    np.testing.assert_allclose(enc.bit_balance_, np.unpackbits(codes, axis=1, count=10).mean(0))
    np.testing.assert_allclose(enc.code_entropy_, naive.code_entropy(codes), rtol=1e-13)
    assert 9 < enc.code_entropy_ <= 10
    # one code only: exactly 0 bits; all distinct: exactly log2(n)
    assert BinarySphericalEncoder().fit(np.ones((7, 70))).code_entropy_ == 0.0
    assert BinarySphericalEncoder().fit(np.eye(64) - 0.5).code_entropy_ == 6.0


@pytest.mark.parametrize("n_bits", [5, 64, 70, 200])
def test_fit_diagnostics_match_twin(n_bits):
    """Codes of 1, 8 (one word), 9 and 25 bytes, with repeated rows."""
    rng = np.random.default_rng(n_bits)
    X = rng.standard_normal((3000, n_bits))
    X[:1000] = X[1000 + rng.integers(0, 30, 1000)]
    X[:, 1:3] = np.abs(X[:, 1:3])  # bits that are always 1
    enc = BinarySphericalEncoder().fit(X)
    codes = np.packbits(X > 0, axis=1)
    np.testing.assert_array_equal(enc.transform(X), codes)
    np.testing.assert_allclose(enc.bit_balance_, (X > 0).mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(enc.code_entropy_, naive.code_entropy(codes), rtol=1e-13)


@pytest.mark.parametrize("n_bytes", [1, 3, 8, 9, 17])
def test_code_statistics_kernels_match_twin(n_bytes):
    rng = np.random.default_rng(n_bytes)
    codes = rng.integers(0, 256, size=(3000, n_bytes), dtype=np.uint8)
    codes[:1500] = codes[1500 + rng.integers(0, 50, 1500)]  # repeated rows
    for n_parts in (1, 5, K.STAT_PARTS):
        ones = np.full((n_parts, 8 * n_bytes), -1, dtype=np.int64)
        K.code_bit_counts(codes, ones)
        np.testing.assert_array_equal(ones, naive.bit_counts(codes, n_parts))
    for rows in (codes, codes[:1], codes[:37]):
        words = _as_words(rows, "codes")
        for bucket_bits in (1, 5, 12):
            counts = np.full(rows.shape[0], -1, dtype=np.int64)
            assert K.code_counts(words, bucket_bits, np.empty_like(words), counts) >= 0
            assert counts.min() >= 0  # every slot written
            np.testing.assert_array_equal(
                np.sort(counts[counts > 0]), naive.distinct_counts(rows)
            )


M64 = 2**64


def _mix(k):
    """MurmurHash3's 64-bit finaliser, on Python ints."""
    for mult in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53):
        k ^= k >> 33
        k = k * mult % M64
    return k ^ (k >> 33)


def _unmix(h):
    """Its inverse: a shift by 33 of 64 bits undoes itself, an odd product has an inverse."""
    for mult in (0xC4CEB9FE1A85EC53, 0xFF51AFD7ED558CCD):
        h ^= h >> 33
        h = h * pow(mult, -1, M64) % M64
    return h ^ (h >> 33)


def test_crafted_hash_collisions_fall_back_to_sorting():
    """Rows chosen so that every hash has the same top bits (one bucket) and the same
    low 32 bits (one start slot) would make the tables quadratic: the kernels give up
    after their probe budget, and the counts come from sorting."""
    for k in (0, 1, 2**63 + 12345):
        assert _mix(k) == int(KB._mix(np.uint64(k)))
        assert _unmix(_mix(k)) == k
    seed = int(KB._SEED)
    keys = np.array([seed ^ _unmix(j << 32) for j in range(1, 3001)], dtype=np.uint64)
    keys[2000:] = keys[:1000]  # and repeats
    codes = keys[:, None].view(np.uint8)  # 8 bytes a row, read back as these words
    words = _as_words(codes, "codes")
    assert K.code_counts(words, 4, np.empty_like(words), np.empty(3000, np.int64)) == -1
    for bucket_bits in (1, 9):
        ones = np.empty((K.STAT_PARTS, 64), dtype=np.int64)
        assert K.word_statistics(keys, bucket_bits, ones).size == 0  # gave up
        np.testing.assert_array_equal(ones, naive.bit_counts(codes, K.STAT_PARTS))
    bit_balance, entropy = _code_statistics(codes, 64)
    np.testing.assert_array_equal(bit_balance, naive.bit_counts(codes, 1)[0] / 3000)
    np.testing.assert_allclose(entropy, naive.code_entropy(codes), rtol=1e-13)


@pytest.mark.parametrize("n", [0, 1, 37, 3000])
def test_word_statistics_matches_twin(n):
    """Bit counts and the tally of multiplicities of one-word codes: random words, a
    few values repeated up to 40 times, 0, and the word whose hash is 0 (the empty
    slot's mark, counted aside), at bucket counts from 2 to 4096."""
    rng = np.random.default_rng(n)
    words = rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    if n > 100:
        words[: n // 2] = words[n // 2 + rng.integers(0, 40, n // 2)]
        words[-5:] = 0
        words[-9:-5] = KB._SEED  # its hash is 0
    for bucket_bits in (1, 5, 9, 12):
        ones = np.full((K.STAT_PARTS, 64), -1, dtype=np.int64)
        tally = K.word_statistics(words, bucket_bits, ones)
        want_tally, want_ones = naive.word_statistics(words, K.STAT_PARTS)
        np.testing.assert_array_equal(tally, want_tally)
        np.testing.assert_array_equal(ones, want_ones)
    if n:
        codes = words[:, None].view(np.uint8)
        _, entropy = _code_statistics(codes, 64)
        c = np.flatnonzero(want_tally)  # the documented order of the sum, exactly
        assert entropy == float((want_tally[c] * (c / n) * np.log2(n / c)).sum())
        np.testing.assert_allclose(entropy, naive.code_entropy(codes), rtol=1e-13)


def test_score_is_mean_cosine_with_reconstruction():
    X = np.random.default_rng(0).standard_normal((100, 8)) + 2
    for params in ({}, {"center": True}, {"rotation": "itq", "n_bits": 4, "center": True}):
        enc = BinarySphericalEncoder(random_state=0, **params).fit(X)
        R = enc.inverse_transform(enc.transform(X)) - enc.mean_
        Xc = X - enc.mean_
        cos = (Xc * R).sum(1) / np.linalg.norm(Xc, axis=1) / np.linalg.norm(R, axis=1)
        np.testing.assert_allclose(enc.score(X), cos.mean(), rtol=1e-12)
    # the sign code of an 8-d vector is its best binary approximation: cos >= 1/sqrt(8)
    assert BinarySphericalEncoder().fit(X).score(X) >= 1 / np.sqrt(8)


def test_auxiliary_loss_method_uses_rotated_vectors():
    X = np.random.default_rng(0).standard_normal((200, 10))
    enc = BinarySphericalEncoder(6, rotation="pca", center=True).fit(X)
    Z = (X - enc.mean_) @ enc.components_.T
    expected = bsq_auxiliary_loss(Z, inv_temperature=5.0)
    assert enc.auxiliary_loss(X, inv_temperature=5.0) == expected


# -------------------------------------------------- codebook entropy approximation
def test_factorised_codebook_entropy_error():
    """Where both run (D = 12), the BSQ factorised codebook entropy is an upper bound
    whose error is small for independent dimensions and many rows, large otherwise.
    The numbers are quoted in doc/binary_spherical.rst."""
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((20000, 12))
    correlated = iid @ np.linalg.cholesky(0.5 * np.eye(12) + 0.5).T
    rel = {}
    for name, X in (("iid", iid), ("correlated", correlated)):
        for tau in (1.0, 100.0):
            exact = bsq_auxiliary_loss(X, inv_temperature=tau)
            approx = bsq_auxiliary_loss(X, inv_temperature=tau, exact_max_dim=11)
            assert exact.exact and not approx.exact
            assert approx.codebook_entropy >= exact.codebook_entropy
            rel[name, tau] = approx.codebook_entropy / exact.codebook_entropy - 1
            # above exact_max_dim the per-sample term is the unclamped Shannon entropy
            assert approx.per_sample_entropy >= exact.per_sample_entropy - 1e-12
    print("relative error of the factorised codebook entropy:", rel)
    assert rel["iid", 1.0] < 1e-5
    assert 1e-3 < rel["iid", 100.0] < 0.02
    assert rel["correlated", 100.0] > 0.15


def test_aux_loss_input_validation():
    X = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"2-D \(n_samples, D\) or 3-D"):
        bsq_auxiliary_loss(X[0])
    with pytest.raises(ValueError, match="'exact_max_dim' parameter"):
        bsq_auxiliary_loss(X, exact_max_dim=25)
    with pytest.raises(ValueError, match="'inv_temperature' parameter"):
        bsq_auxiliary_loss(X, inv_temperature=-1.0)
    with pytest.raises(ValueError, match=r"'inv_temperature' parameter.*Got inf"):
        bsq_auxiliary_loss(X, inv_temperature=np.inf)
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse"):
        bsq_auxiliary_loss(sparse.csr_matrix(X))
    res = bsq_auxiliary_loss(X, diversity_gamma=2.0, entropy_loss_weight=3.0)
    expected = 3.0 * (res.per_sample_entropy - 2.0 * res.codebook_entropy)
    assert res.loss == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"Found array with 0 feature\(s\)"):
        bsq_auxiliary_loss(np.zeros((2, 3, 0)))
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        bsq_auxiliary_loss(np.zeros((2, 0, 3)))


@pytest.mark.parametrize(
    "name, bad",
    [
        ("inv_temperature", True),
        ("inv_temperature", np.nan),
        ("inv_temperature", "1"),
        ("diversity_gamma", np.inf),
        ("diversity_gamma", -np.inf),
        ("diversity_gamma", np.nan),
        ("diversity_gamma", False),
        ("entropy_loss_weight", np.nan),
        ("entropy_loss_weight", np.True_),
        ("entropy_loss_weight", None),
        ("exact_max_dim", True),
        ("exact_max_dim", -1),
        ("exact_max_dim", 4.0),
    ],
)
def test_aux_loss_parameters_are_validated(name, bad):
    """Like validate_params, and no bool is taken for a number."""
    X = np.random.default_rng(0).standard_normal((4, 3))
    match = f"The '{name}' parameter of bsq_auxiliary_loss"
    with pytest.raises(InvalidParameterError, match=match):
        bsq_auxiliary_loss(X, **{name: bad})


def test_aux_loss_of_extreme_parameters_is_finite():
    X = np.random.default_rng(0).standard_normal((50, 6))
    X[:, 2] = 0.0  # a fair bit at any temperature
    for exact_max_dim in (16, 0):
        cold = bsq_auxiliary_loss(X, inv_temperature=1e10, exact_max_dim=exact_max_dim)
        for tau in (1e300, float(np.finfo(np.float64).max)):
            # the temperature overflows the kernels' scale, not their result
            res = bsq_auxiliary_loss(X, inv_temperature=tau, exact_max_dim=exact_max_dim)
            assert np.isfinite(res.loss)
            np.testing.assert_allclose(res, cold, rtol=1e-12)
            np.testing.assert_allclose(res.per_sample_entropy, np.log(2), rtol=1e-12)
    tiny = bsq_auxiliary_loss(X, inv_temperature=5e-324)
    np.testing.assert_allclose(tiny.per_sample_entropy, 6 * np.log(2), rtol=1e-12)
    with pytest.raises(ValueError, match="overflows float64; use smaller entropy_loss_weight"):
        bsq_auxiliary_loss(X, diversity_gamma=1e308, entropy_loss_weight=1e308)


def test_aux_loss_of_subnormal_and_huge_rows():
    """Rows are normalised, so the loss of rows of subnormals (below the 1e-12 floor:
    not scaled up, uniform assignment) and of rows near the largest float is finite."""
    X = np.random.default_rng(0).standard_normal((300, 6))
    for dtype in (np.float64, np.float32):
        sub = (X * float(np.finfo(dtype).smallest_subnormal) * 64).astype(dtype)
        res = bsq_auxiliary_loss(sub)
        np.testing.assert_allclose(res.per_sample_entropy, 6 * np.log(2), rtol=1e-12)
        huge = (np.clip(X, -4, 4) / 4 * float(np.finfo(dtype).max)).astype(dtype)
        scaled = np.ldexp(huge.astype(np.float64), -100)  # exact: the same directions
        np.testing.assert_allclose(
            bsq_auxiliary_loss(huge), bsq_auxiliary_loss(scaled), rtol=1e-12
        )


# ------------------------------------------------------------ forged fitted state
def _forged(enc, **attributes):
    """``enc`` with some fitted attributes replaced, set as the loader sets them."""
    est = clone(enc)
    est.__dict__.update(vars(enc))
    est.__dict__.update(attributes)
    return est


@pytest.fixture(scope="module")
def fitted_pair():
    X = np.random.default_rng(0).standard_normal((300, 6))
    plain = BinarySphericalEncoder(center=True).fit(X)
    rotated = BinarySphericalEncoder(3, rotation="pca", center=True).fit(X)
    return X, plain, rotated


def _methods(est, X):
    codes = est.transform(X)
    return [
        codes,
        est.inverse_transform(codes),
        est.score(X),
        np.asarray(est.auxiliary_loss(X)),
    ]


FLAG_FORGERIES = [
    ("plain", {"_identity": False}),
    ("plain", {"_identity": "yes"}),
    ("rotated", {"_identity": True}),  # the flipped flag of issue 14
    ("rotated", {"n_bits_": np.int64(3)}),  # a NumPy int is still an int
    ("rotated", {"components_": "plain"}),  # an identity of the wrong size
]


@pytest.mark.parametrize("which, attributes", FLAG_FORGERIES)
def test_forged_flags_cannot_change_the_codes(fitted_pair, which, attributes):
    """No stored flag decides which kernel runs: the fitted arrays do."""
    X, plain, rotated = fitted_pair
    enc = plain if which == "plain" else rotated
    if attributes.get("components_") == "plain":
        match = r"components_ must be a float64 array of shape \(3, 6\)"
        with pytest.raises(ValueError, match=match):
            _forged(rotated, components_=plain.components_).transform(X)
        return
    forged = _forged(enc, **attributes)
    for got, expected in zip(_methods(forged, X), _methods(enc, X)):
        np.testing.assert_array_equal(got, expected)


def _with_nan(a, index):
    a = a.copy()
    a[index] = np.nan
    return a


# name: (attributes of a forged copy of the rotated encoder, from its components_ C and
# mean_ m; the error every method raises)
BAD_STATES = {
    "n_bits_-too-many": (
        lambda C, m: {"n_bits_": 5},
        r"components_ must be a float64 array of shape \(5, 6\)",
    ),
    "n_bits_-huge": (
        lambda C, m: {"n_bits_": 10**12},
        r"n_bits_ must be an int in \[1, n_features_in_=6\]",
    ),
    "n_bits_-zero": (lambda C, m: {"n_bits_": 0}, "n_bits_ must be an int in"),
    "n_bits_-bool": (lambda C, m: {"n_bits_": True}, "n_bits_ must be an int in"),
    "n_bits_-float": (lambda C, m: {"n_bits_": 3.0}, "n_bits_ must be an int in"),
    "n_features_in_-wrong": (
        lambda C, m: {"n_features_in_": 7},
        "X has 6 features|components_ must be",
    ),
    "n_features_in_-str": (
        lambda C, m: {"n_features_in_": "6"},
        "n_features_in_ must be a positive int",
    ),
    "components_-transposed": (
        lambda C, m: {"components_": C.T.copy()},
        "components_ must be a float64 array of shape",
    ),
    "components_-1d": (
        lambda C, m: {"components_": C.ravel()},
        "components_ must be a float64 array",
    ),
    "components_-3d": (
        lambda C, m: {"components_": C[None]},
        "components_ must be a float64 array",
    ),
    "components_-float32": (
        lambda C, m: {"components_": C.astype(np.float32)},
        "got an array of dtype float32",
    ),
    "components_-int": (
        lambda C, m: {"components_": C.astype(np.int64)},
        "got an array of dtype int64",
    ),
    "components_-object": (
        lambda C, m: {"components_": C.astype(object)},
        "got an array of dtype object",
    ),
    "components_-list": (lambda C, m: {"components_": C.tolist()}, "got list"),
    "components_-nan": (
        lambda C, m: {"components_": _with_nan(C, (1, 2))},
        "components_ must be finite",
    ),
    "mean_-nan": (lambda C, m: {"mean_": _with_nan(m, 4)}, "mean_ must be finite"),
    "mean_-short": (
        lambda C, m: {"mean_": m[:5]},
        r"mean_ must be a float64 array of shape \(6,\)",
    ),
    "mean_-int": (lambda C, m: {"mean_": m.astype(np.int64)}, "mean_ must be a float64 array"),
    "mean_-none": (lambda C, m: {"mean_": None}, "mean_ must be a float64 array"),
}


@pytest.mark.parametrize("case", list(BAD_STATES))
def test_forged_state_is_refused_never_a_crash(fitted_pair, case):
    """Every method raises ValueError naming the attribute before a kernel runs; the
    loader's full check refuses it too."""
    X, plain, rotated = fitted_pair
    make, match = BAD_STATES[case]
    forged = _forged(rotated, **make(rotated.components_, rotated.mean_))
    codes = rotated.transform(X)
    calls = [
        lambda: forged.transform(X),
        lambda: forged.score(X),
        lambda: forged.auxiliary_loss(X),
        lambda: forged.inverse_transform(codes),
        lambda: _check_fitted_state(forged),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


def test_full_check_refuses_what_the_documentation_rules_out(fitted_pair):
    X, plain, rotated = fitted_pair
    _check_fitted_state(plain)
    _check_fitted_state(rotated)
    C = rotated.components_
    cases = {
        "not orthonormal": (rotated, {"components_": 2 * C}, "orthonormal rows"),
        "not the identity": (
            plain, {"components_": plain.components_[::-1].copy()}, "the identity"
        ),
        "n_bits_ unlike n_bits": (
            _forged(rotated, n_bits=2), {}, r"n_bits_ must be 2 \(the n_bits parameter\)"
        ),
        "mean_ without center": (
            _forged(plain, center=False), {}, r"mean_ must be zeros \(center=False\)"
        ),
        "bit_balance_": (plain, {"bit_balance_": np.full(6, 1.5)}, "bit_balance_ must be"),
        "code_entropy_": (plain, {"code_entropy_": np.nan}, "code_entropy_ must be"),
        "itq_loss_": (
            BinarySphericalEncoder(3, rotation="itq", n_iter=4).fit(X),
            {"itq_loss_": np.zeros(3)},
            r"itq_loss_ must be a float64 array of shape \(5,\)",
        ),
        "feature_names_in_": (
            plain, {"feature_names_in_": np.array([1, 2])}, "feature_names_in_ must be"
        ),
    }
    for name, (enc, attributes, match) in cases.items():
        with pytest.raises(ValueError, match=match):
            _check_fitted_state(_forged(enc, **attributes))
    # the documented formula still holds without orthonormality: sign(2 C (x - m))
    doubled = _forged(rotated, components_=2 * C)
    np.testing.assert_array_equal(doubled.transform(X), rotated.transform(X))
    # components beyond float32: no rescaling of float32 rows keeps them finite
    huge = _forged(rotated, components_=C * 1e300)
    np.testing.assert_array_equal(huge.transform(X), rotated.transform(X))
    with pytest.raises(ValueError, match="components_ must have orthonormal rows"):
        huge.transform(X.astype(np.float32))


def _forged_file(data, edit):
    """A saved file with ``edit(header, arrays)`` applied and its digest recomputed
    (the forging of tests/test_forged_files.py, at the file's format version)."""
    from test_forged_files import _members, forge

    header, arrays = _members(data)
    edit(header, arrays)
    return forge(header, arrays)


def test_file_with_a_flipped_flag_is_refused_naming_it(fitted_pair):
    """Issue 14: a header edited to claim "no rotation" for a rotated encoder, with its
    digest recomputed, used to abort the process with heap corruption in transform.
    The flag is derived from the rotation (a property), so a file that stores it is
    refused, naming it; the genuine file loads and transforms as the original."""
    X, _, rotated = fitted_pair
    buf = io.BytesIO()
    skquant.save(rotated, buf)

    def flip(header, arrays):
        header["estimator"]["attributes"]["_identity"] = {"type": "bool", "value": True}

    with pytest.raises(ValueError, match="_identity"):
        skquant.load(io.BytesIO(_forged_file(buf.getvalue(), flip)))
    loaded = skquant.load(io.BytesIO(buf.getvalue()))
    np.testing.assert_array_equal(loaded.transform(X), rotated.transform(X))


# ------------------------------------------------------------------- API edges
def test_parameter_errors():
    X = np.random.default_rng(0).standard_normal((20, 6))
    with pytest.raises(ValueError, match="rotation=None keeps the 6 input coordinates"):
        BinarySphericalEncoder(4).fit(X)
    with pytest.raises(ValueError, match="n_bits=7 exceeds n_features=6"):
        BinarySphericalEncoder(7, rotation="random").fit(X)
    with pytest.raises(ValueError, match="'rotation' parameter"):
        BinarySphericalEncoder(rotation="qr").fit(X)
    with pytest.raises(ValueError, match="'encode' parameter"):
        BinarySphericalEncoder(encode="bits").fit(X)
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="[Ss]parse"):
        BinarySphericalEncoder().fit(sparse.csr_matrix(X))


def test_inverse_transform_errors():
    X = np.random.default_rng(0).standard_normal((20, 10))
    enc = BinarySphericalEncoder().fit(X)  # 10 bits: 2 bytes, 6 padding bits
    with pytest.raises(ValueError, match=r"packed codes of shape \(n_samples, 2\)"):
        enc.inverse_transform(np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match=r"non-zero padding bits .* row\(s\) 1"):
        enc.inverse_transform(np.array([[0, 0], [0, 1]], np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 2\*\*10\).* row\(s\) 0, 2"):
        enc.inverse_transform(np.array([1024, 5, -1]))
    with pytest.raises(ValueError, match=r"indices of shape \(n_samples,\)"):
        enc.inverse_transform(np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match=r"sign codes of shape \(n_samples, 10\)"):
        enc.inverse_transform(np.zeros((3, 2)))
    bad = np.ones((3, 10))
    bad[2, 0] = np.nan
    msg = r"codes contains NaN or infinity in 1 row\(s\) \(row\(s\) 2\)"
    with pytest.raises(ValueError, match=msg):
        enc.inverse_transform(bad)
    with pytest.raises(TypeError, match="dtype bool are not understood"):
        enc.inverse_transform(np.zeros((3, 2), bool))
    # float32 sign codes give float32 directions; uint16 indices are indices
    assert enc.inverse_transform(np.ones((2, 10), np.float32)).dtype == np.float32
    np.testing.assert_array_equal(
        enc.inverse_transform(np.array([3], np.uint16)),
        enc.inverse_transform(np.array([[0, 0b11000000]], np.uint8)),
    )


def test_wrong_number_of_features():
    enc = BinarySphericalEncoder().fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="4 features"):
        enc.transform(np.ones((3, 5)))


def test_pickle_set_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    values = np.random.default_rng(0).standard_normal((30, 10))
    X = pd.DataFrame(values, columns=list("abcdefghij"))
    for encode, names in (
        ("packed", ["binarysphericalencoder0", "binarysphericalencoder1"]),
        ("index", ["binarysphericalencoder0"]),
        ("sign", [f"binarysphericalencoder{i}" for i in range(7)]),
    ):
        n_bits = 7 if encode == "sign" else None
        rotation = "pca" if encode == "sign" else None
        enc = BinarySphericalEncoder(n_bits, rotation=rotation, encode=encode).fit(X)
        assert list(enc.get_feature_names_out()) == names
        out = enc.set_output(transform="pandas").transform(X)
        assert list(out.columns) == names
        plain = enc.set_output(transform="default").transform(X)
        np.testing.assert_array_equal(out.to_numpy(), plain)
        # pandas output goes back through inverse_transform
        np.testing.assert_allclose(enc.inverse_transform(out), enc.inverse_transform(plain))
        back = pickle.loads(pickle.dumps(enc))
        np.testing.assert_array_equal(back.transform(X), enc.transform(X))
    assert list(enc.feature_names_in_) == list("abcdefghij")


def test_tags_tell_the_truth():
    for encode in ("packed", "index"):
        tags = BinarySphericalEncoder(encode=encode).__sklearn_tags__()
        assert tags.transformer_tags.preserves_dtype == []
    tags = BinarySphericalEncoder(encode="sign").__sklearn_tags__()
    assert tags.transformer_tags.preserves_dtype == ["float64", "float32"]
    assert not tags.input_tags.allow_nan
