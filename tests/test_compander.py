"""CompanderQuantizer: the lecture's construction, μ-law conventions of other libraries,
NF4, high-rate optimality and centroid reconstruction."""

import warnings

import naive
import numpy as np
import pytest
from sklearn import datasets

from skquant import CompanderQuantizer
from skquant._base import summarize_column
from skquant.design import high_rate_compander, lloyd_max, normal_float_levels

# The 16 NF4 values of bitsandbytes (float32 constants of its dequantisation table).
NF4_BITSANDBYTES = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=np.float32)  # fmt: skip


# The compressors, written out independently of skquant (textbook forms).
def mu_g(z, mu=255.0):
    return np.sign(z) * np.log(1 + mu * np.abs(z)) / np.log(1 + mu)


def mu_g_inv(v, mu=255.0):
    return np.sign(v) * ((1 + mu) ** np.abs(v) - 1) / mu


def a_g(z, A=87.6):
    a = np.abs(z)
    with np.errstate(divide="ignore"):
        return np.sign(z) * np.where(a < 1 / A, A * a, 1 + np.log(A * a)) / (1 + np.log(A))


def a_g_inv(v, A=87.6):
    a = np.abs(v) * (1 + np.log(A))
    return np.sign(v) * np.where(a < 1, a / A, np.exp(a - 1) / A)


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # columns with few distinct values
        return CompanderQuantizer(**params).fit(X)


# --- acceptance 3: the lecture's construction ------------------------------------------


@pytest.mark.parametrize(
    "compander, g, g_inv", [("mu-law", mu_g, mu_g_inv), ("a-law", a_g, a_g_inv)]
)
@pytest.mark.parametrize("n_bits", [3, 8])
def test_lecture_construction(compander, g, g_inv, n_bits, rng):
    x = rng.laplace(size=(5000, 1)) * 3.0
    q = CompanderQuantizer(n_bits=n_bits, compander=compander).fit(x)
    X = np.abs(x).max()
    M = 2**n_bits
    k = np.arange(M)
    assert q.x_max_[0] == X
    # M uniform cells of g on [-1, 1], expanded with g^-1
    np.testing.assert_allclose(q.thresholds_[0], X * g_inv(-1 + 2 * k[1:] / M), rtol=1e-12)
    np.testing.assert_allclose(q.levels_[0], X * g_inv(-1 + (2 * k + 1) / M), rtol=1e-12)
    # the direct evaluation: code = floor((g(x / X) + 1) M / 2), clipped, on a dense grid
    grid = np.linspace(-1.2 * X, 1.2 * X, 200_001)
    direct = np.clip(np.floor((g(grid / X) + 1) * M / 2), 0, M - 1)
    codes = q.transform(grid[:, None])[:, 0]
    # where g(x) is not within rounding of a cell edge the two agree
    frac = (g(grid / X) + 1) * M / 2
    clear = np.abs(frac - np.round(frac)) > 1e-9
    np.testing.assert_array_equal(codes[clear], direct[clear])
    assert clear.mean() > 0.99
    # the cell boundaries themselves belong to the upper cell
    t = q.thresholds_[0]
    np.testing.assert_array_equal(q.transform(t[:, None])[:, 0], k[1:])
    np.testing.assert_array_equal(q.transform(np.nextafter(t, -np.inf)[:, None])[:, 0], k[:-1])


def _mu_law_8_bit(x):
    """Our 8-bit μ-law codes of x in [-1, 1] (X_max = 1) and the fitted estimator."""
    q = CompanderQuantizer(n_bits=8, compander="mu-law", mu=255, clip=1.0)
    q.fit(np.linspace(-1, 1, 1001)[:, None])
    return q.transform(x[:, None])[:, 0].astype(np.int64), q


def test_mu_law_relation_to_torchaudio_and_librosa():
    probe = np.linspace(-1.0, 1.0, 400_001)
    ours, q = _mu_law_8_bit(probe)
    t = q.thresholds_[0]
    x = np.concatenate([probe, t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)])
    ours, _ = _mu_law_8_bit(x)
    g = mu_g(x)
    # torchaudio.functional.mu_law_encoding(x, 256): 255 steps, rounding half up
    ta = ((g + 1) / 2 * 255 + 0.5).astype(np.int64)
    d = ta - ours
    assert set(d[x < 0]) == {0, 1} and set(d[x >= 0]) == {-1, 0}
    # librosa.mu_compress(x, mu=255, quantize=True): 255 right-closed bins, offset -128
    lib = np.digitize(g, np.linspace(-1, 1, 256), right=True) - 128
    assert set(lib + 128 - ours) == {0, 1}
    # decoders: torchaudio maps q to g^-1(2 q / 255 - 1); librosa's mu_expand maps
    # y to g^-1(y / 128), the lower edge of our cell y + 128
    codes = np.arange(256)
    v = codes / 255 * 2 - 1
    ta_decoded = np.sign(v) * (np.exp(np.abs(v) * np.log1p(255.0)) - 1) / 255
    np.testing.assert_allclose(ta_decoded[[0, -1]], [-1.0, 1.0])  # the ends, not 0
    assert np.abs(ta_decoded).min() > 0
    y = np.arange(-127, 128)
    lib_expanded = np.sign(y) / 255 * (256.0 ** np.abs(y * 2.0 / 256) - 1)
    np.testing.assert_allclose(lib_expanded, t, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(q.levels_[0], mu_g_inv((2 * codes + 1) / 256 - 1), rtol=1e-12)


def _g711_ulaw(pcm16):
    """ITU-T G.711 μ-law encoder (the reference linear2ulaw) on 16-bit samples."""
    p = np.asarray(pcm16, dtype=np.int64) >> 2  # 14-bit
    mask = np.where(p < 0, 0x7F, 0xFF)
    p = np.minimum(np.abs(p), 8159) + 33  # clip, bias
    seg = np.searchsorted([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], p)
    uval = np.where(seg >= 8, 0x7F, (seg << 4) | ((p >> (seg + 1)) & 0xF))
    return uval ^ mask


def test_mu_law_relation_to_g711():
    pcm = np.arange(-32768, 32768)
    code = _g711_ulaw(pcm)
    magnitude = (~code) & 0x7F  # the code word is complemented, sign bit on top
    ordinal = np.where(code & 0x80, 128 + magnitude, 127 - magnitude)
    assert np.all(np.diff(ordinal) >= 0)
    # G.711's segments are chords of ln(1 + |x| / 33) / ln 256 in 14-bit units: the
    # μ = 255 law with X_max = 255 * 33 = 8415
    x14 = (pcm >> 2).astype(np.float64)
    q = CompanderQuantizer(n_bits=8, mu=255, clip=8415.0).fit(np.linspace(-9e3, 9e3, 999)[:, None])
    ours = q.transform(x14[:, None])[:, 0].astype(np.int64)
    d = ordinal - ours
    assert np.abs(d).max() == 1
    assert np.mean(d == 0) > 0.55


# --- acceptance 4: NF4 -----------------------------------------------------------------


def _nf4_fit():
    x = np.linspace(-1.0, 1.0, 1001, dtype=np.float32)[:, None]
    return CompanderQuantizer(n_bits=4, compander="normal-float").fit(x)


def test_normal_float_is_the_design_codebook_with_absmax_scaling(rng):
    q = _nf4_fit()
    assert q.levels_.dtype == np.float32 and q.x_max_[0] == 1.0
    np.testing.assert_array_equal(q.levels_[0], normal_float_levels(4).astype(np.float32))
    # absmax scaling, nearest level (thresholds at midpoints, as bitsandbytes)
    x = rng.standard_normal((3000, 2)) * [1.0, 7.0]
    q = CompanderQuantizer(n_bits=4, compander="normal-float").fit(x)
    absmax = np.abs(x).max(axis=0)
    np.testing.assert_allclose(q.levels_, absmax[:, None] * normal_float_levels(4), rtol=1e-15)
    nearest = np.abs(x[:, :, None] - q.levels_[None]).argmin(axis=2)
    np.testing.assert_array_equal(q.transform(x), nearest)


def test_normal_float_4_bits_reproduces_nf4_exactly():
    """The 16 levels are bit for bit the float32 NF4 table of bitsandbytes, both from
    the design function and in a fitted estimator."""
    np.testing.assert_array_equal(normal_float_levels(4).astype(np.float32), NF4_BITSANDBYTES)
    np.testing.assert_array_equal(_nf4_fit().levels_[0], NF4_BITSANDBYTES)


# --- acceptance 5: high-rate optimality and centroids -----------------------------------


@pytest.fixture(scope="module")
def gaussian_sample():
    return np.random.default_rng(11).standard_normal((10**6, 1))


@pytest.mark.parametrize(
    "compander, reconstruction, bound",
    [("gaussian", "centroid", 1.02), ("optimal", "centroid", 1.02), ("optimal", "midpoint", 1.04)],
)
def test_high_rate_companders_near_lloyd_max(gaussian_sample, compander, reconstruction, bound):
    lm = lloyd_max("gaussian", 64).mse
    q = CompanderQuantizer(6, compander=compander, reconstruction=reconstruction)
    assert q.fit(gaussian_sample).mse_[0] <= bound * lm


def test_gaussian_midpoint_is_the_density_design(gaussian_sample):
    # g^-1 of the cell centres: the high-rate design, 2.7% above Lloyd-Max at 6 bits
    # for the density itself (so the 2% bound needs centroids)
    q = CompanderQuantizer(6, compander="gaussian").fit(gaussian_sample)
    design = high_rate_compander("gaussian", 64)
    loc, scale = summarize_column(gaussian_sample[:, 0]).location_scale("gaussian")
    assert (q.loc_[0], q.scale_[0]) == (loc, scale)
    np.testing.assert_allclose(q.thresholds_[0], loc + scale * design.thresholds, rtol=1e-12)
    np.testing.assert_allclose(q.levels_[0], loc + scale * design.levels, rtol=1e-12)
    assert q.mse_[0] == pytest.approx(design.mse, rel=0.01)


COMPANDERS = ["mu-law", "a-law", "log", "normal-float", "gaussian", "laplace", "optimal"]


@pytest.mark.parametrize("compander", COMPANDERS)
@pytest.mark.parametrize("loader", [datasets.load_diabetes, datasets.load_digits])
def test_centroid_never_worse_than_midpoint(loader, compander):
    X = loader().data
    mid = _fit(X, n_bits=3, compander=compander).mse_
    cen = _fit(X, n_bits=3, compander=compander, reconstruction="centroid")
    assert np.all(cen.mse_ <= mid * (1 + 1e-12))
    np.testing.assert_allclose(-cen.score(X), cen.mse_.mean(), rtol=1e-9)


# --- the other companders and options --------------------------------------------------


def test_log_compander_has_constant_relative_steps(rng):
    x = np.exp(rng.uniform(-3, 3, size=(4000, 1))) * rng.choice([-1, 1], size=(4000, 1))
    q = CompanderQuantizer(n_bits=4, compander="log").fit(x)
    X, small = np.abs(x).max(), np.abs(x).min()
    assert q.dynamic_range_[0] == pytest.approx(X / small)
    positive = q.levels_[0, 8:]
    ratios = positive[1:] / positive[:-1]
    np.testing.assert_allclose(ratios, (X / small) ** (2 / 16), rtol=1e-12)
    assert q.thresholds_[0, 7] == 0.0  # the sign
    q = CompanderQuantizer(n_bits=4, compander="log", dynamic_range=100.0).fit(x)
    np.testing.assert_allclose(q.levels_[0, -1], X * 100.0 ** (-1 / 16), rtol=1e-12)


def test_laplace_compander_uses_median_and_mean_absolute_deviation(rng):
    x = rng.laplace(2.0, 1.5, size=(20_001, 1))
    q = CompanderQuantizer(n_bits=3, compander="laplace").fit(x)
    median = np.median(x)
    assert q.loc_[0] == median
    assert q.scale_[0] == pytest.approx(np.sqrt(2) * np.abs(x - median).mean())
    design = high_rate_compander("laplace", 8)
    np.testing.assert_allclose(q.thresholds_[0], median + q.scale_[0] * design.thresholds)


def test_callables_give_the_same_quantizer_as_the_name(rng):
    x = rng.standard_normal((2000, 2))
    named = CompanderQuantizer(n_bits=5, compander="a-law").fit(x)
    pair = CompanderQuantizer(n_bits=5, compander=(a_g, a_g_inv)).fit(x)
    np.testing.assert_allclose(pair.thresholds_, named.thresholds_, rtol=1e-12)
    np.testing.assert_allclose(pair.levels_, named.levels_, rtol=1e-12)
    # an image other than [-1, 1] is cut into M cells all the same
    cube = CompanderQuantizer(n_bits=2, compander=(lambda z: 2 * z, lambda v: v / 2)).fit(x)
    np.testing.assert_allclose(cube.levels_[0] / np.abs(x[:, 0]).max(), [-0.75, -0.25, 0.25, 0.75])


@pytest.mark.parametrize(
    "compander, match",
    [
        ((np.sin,), "pair of callables"),
        ((lambda z: -z, lambda v: -v), "increasing"),
        ((np.tanh, np.tanh), "increasing"),
    ],
)
def test_bad_callables(rng, compander, match):
    with pytest.raises(ValueError, match=match):
        CompanderQuantizer(compander=compander).fit(rng.standard_normal((100, 1)))


def test_bit_depth_is_independent_of_mu(rng):
    x = rng.standard_normal((3000, 1))
    a = CompanderQuantizer(n_bits=3, mu=255).fit(x)
    b = CompanderQuantizer(n_bits=8, mu=15).fit(x)
    assert a.levels_.shape == (1, 8) and b.levels_.shape == (1, 256)
    np.testing.assert_allclose(b.thresholds_[0, 127], 0.0, atol=1e-15)
    assert not np.allclose(
        CompanderQuantizer(n_bits=3, mu=15).fit(x).thresholds_, a.thresholds_
    )


@pytest.mark.parametrize("reconstruction", ["midpoint", "centroid"])
@pytest.mark.parametrize("compander", ["mu-law", "normal-float"])
def test_mse_range_beats_a_dense_scan(compander, reconstruction):
    X = datasets.load_diabetes().data
    p = dict(n_bits=3, compander=compander, reconstruction=reconstruction)
    q = _fit(X, clip="mse", **p)
    assert np.all(q.mse_ <= _fit(X, **p).mse_ * (1 + 1e-12))  # absmax is a candidate
    t, y = CompanderQuantizer(**p)._unit_shape(8)
    for j in np.flatnonzero(q.n_levels_ == 8)[:5]:
        u, w = naive.summary(X[:, j])
        scales = np.linspace(0.01, 2, 1000) * np.abs(u).max()
        scan = naive.family_sse(u, w, t, y, np.zeros_like(scales), scales,
                                reconstruction == "centroid")
        assert q.mse_[j] * w.sum() <= scan.min() * (1 + 1e-9)


def test_clip_rules(rng):
    x = rng.standard_normal((4001, 1))
    w = rng.uniform(0.5, 2, 4001)
    rms = np.sqrt(np.average(x[:, 0] ** 2, weights=w))
    q = CompanderQuantizer(clip="std", n_std=2.0).fit(x, sample_weight=w)
    assert q.x_max_[0] == pytest.approx(2.0 * rms)
    q = CompanderQuantizer(clip="percentile", percentile=99.0).fit(x)
    assert q.x_max_[0] == np.percentile(np.abs(x), 99.0, method="inverted_cdf")
    assert CompanderQuantizer(clip=0.5).fit(x).x_max_[0] == 0.5


@pytest.mark.parametrize("compander", ["optimal", "mu-law"])
def test_sample_weight_equals_repetition_with_mse(rng, compander):
    x = np.round(rng.standard_normal((300, 2)), 2)
    w = rng.integers(0, 4, 300)
    p = dict(n_bits=3, compander=compander, clip="mse", reconstruction="centroid")
    a = CompanderQuantizer(**p).fit(x, sample_weight=w)
    b = CompanderQuantizer(**p).fit(np.repeat(x, w, axis=0))
    np.testing.assert_allclose(a.levels_, b.levels_, rtol=1e-10)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"compander": "mulaw"}, "compander"),
        ({"mu": 0}, "mu"),
        ({"A": 0.5}, "A"),
        ({"dynamic_range": 1.0}, "dynamic_range"),
        ({"clip": "minmax"}, "clip"),
        ({"reconstruction": "mean"}, "reconstruction"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        CompanderQuantizer(**params).fit([[0.0], [1.0]])


def test_mse_is_the_error_of_the_final_codebook():
    """A centroid design whose upper level lands below its threshold (a value that
    compresses to -0.0 counted in the upper cell): the threshold is clamped to the
    level, and ``mse_`` is the training error of the codes ``transform`` gives with
    that clamped codebook (it was computed with the threshold before the clamp)."""
    X = np.array([[0.0], [-1.0], [-1.40129846e-45]])
    q = CompanderQuantizer(compander="mu-law", n_bits=1, reconstruction="centroid").fit(X)
    err = ((X - q.inverse_transform(q.transform(X))) ** 2).mean()
    np.testing.assert_allclose(q.mse_, [err], rtol=1e-12)
