"""partial_fit: per-feature sketches, the accuracy guarantee and order invariance.

The guarantee tested here is the one stated in doc/streaming.rst: for a design that
minimises the MSE over a family of quantizers (``algorithm="optimal"``, the
MSE-optimal clipping range), the quantizer designed from the sketches, ``Q_s``, and
the one designed from all the data, ``Q*``, satisfy

    0 <= D(Q_s) - D(Q*) <= E(Q*) + E(Q_s),   E(Q) = 2 sum_k dy_k sum_{x in bin(t_k)} w |x - t_k|

where ``D`` is the weighted squared error on all the data and ``bin(t_k)`` the sketch
bin holding threshold ``t_k``; for the exact optimum the tighter ``E(Q*)`` alone holds.
"""

import warnings

import numpy as np
import pytest

from skquant import LloydMaxQuantizer, UniformClipQuantizer
from skquant import _kernels as K
from skquant._registry import estimator_variants
from skquant._summary import MAX_BINS, ColumnSketch

SKETCH_BYTES = 6 * 8 * MAX_BINS  # the documented bound per feature

# every registered scalar-quantizer variant (skquant._registry), and two more
CONFIGS = [est.set_params(encode="ordinal") for _, est in estimator_variants(scalar=True)] + [
    LloydMaxQuantizer(n_bits=3, algorithm="optimal"),
    UniformClipQuantizer(n_bits=3, mode="midtread", clip="std"),
]


def chunks_of(kind, n_chunks, n_rows, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return [rng.standard_normal((n_rows, 2)) for _ in range(n_chunks)]
    return [rng.lognormal(size=(n_rows, 2)) * [1.0, 1e-3] + [0.0, 50.0] for _ in range(n_chunks)]


def streamed(est, chunks, weights=None):
    est = est.__class__(**est.get_params())
    for i, c in enumerate(chunks):
        est.partial_fit(c, sample_weight=None if weights is None else weights[i])
    return est


def code_entropy(codes):
    """Empirical entropy in bits of each column of ordinal codes."""
    out = []
    for c in codes.T:
        p = np.bincount(c) / c.shape[0]
        p = p[p > 0]
        out.append(-(p * np.log2(p)).sum())
    return np.array(out)


def sse(est, X, w=None):
    """Weighted squared error of est's codebook on X, per feature."""
    err = (X - est.inverse_transform(est.transform(X))) ** 2
    return err.sum(axis=0) if w is None else w @ err


@pytest.mark.parametrize("kind", ["normal", "lognormal"])
@pytest.mark.parametrize("est", CONFIGS, ids=repr)
def test_partial_fit_is_within_a_thousandth_of_fit(est, kind):
    chunks = chunks_of(kind, 12, 8000)
    X = np.concatenate(chunks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = est.__class__(**est.get_params()).fit(X)
        part = streamed(est, chunks)
    assert part.n_samples_seen_ == X.shape[0]
    assert len(part.sketches_) == 2
    rel = sse(part, X) / sse(full, X) - 1
    if hasattr(full, "lam_"):
        # a rate-constrained design trades error for entropy along one curve (the
        # stream's entropy may be a thousandth of a bit higher, its error lower): the
        # Lagrangian cost MSE + lam * H on X is what must agree
        n = X.shape[0]
        cost = [sse(q, X) / n + full.lam_ * code_entropy(q.transform(X)) for q in (part, full)]
        rel = cost[0] / cost[1] - 1
    assert np.all(np.abs(rel) < 1e-3), rel
    # the reported mse_ is that of the sketch's bins: close to the real one
    np.testing.assert_allclose(part.mse_, sse(part, X) / X.shape[0], rtol=1e-3)


def test_weighted_partial_fit_matches_weighted_fit(rng):
    chunks = chunks_of("normal", 20, 3000)
    weights = [rng.uniform(0, 3, 3000) for _ in chunks]
    X, w = np.concatenate(chunks), np.concatenate(weights)
    full = LloydMaxQuantizer(n_bits=4, algorithm="optimal").fit(X, sample_weight=w)
    part = streamed(full, chunks, weights)
    rel = sse(part, X, w) / sse(full, X, w) - 1
    assert np.all((rel >= -1e-12) & (rel < 1e-4)), rel
    unweighted = LloydMaxQuantizer(n_bits=4, algorithm="optimal").fit(X)
    assert not np.allclose(unweighted.levels_, part.levels_, rtol=1e-4)  # weights matter


def bin_of(sketch, x):
    """The sketch bin (at its current level) of each value of x, as K.bin_index does."""
    v = sketch.scaled(x)
    m = sketch.mantissa_bits
    small = np.floor(v * 2.0**m).astype(np.int64)
    bits = np.abs(v).view(np.int64)
    big = (bits >> (52 - m)) - (np.int64(1022) << m)
    idx = np.where(np.abs(v) < 1, small, np.where(v > 0, big, -big - 1))
    return idx >> sketch.level


def excess_bound(sketch, x, w, thresholds, levels):
    """E(Q) of the module docstring, for one feature."""
    bins = bin_of(sketch, x)
    total = 0.0
    for k, t in enumerate(thresholds):
        inside = bins == bin_of(sketch, [t])[0]
        total += 2 * (levels[k + 1] - levels[k]) * np.dot(w[inside], np.abs(x[inside] - t))
    return total


def test_bin_of_is_the_kernel_bin(rng):
    sk = ColumnSketch.from_batch(rng.standard_normal(1000))
    x = np.concatenate([rng.standard_normal(300) * 10.0 ** rng.uniform(-4, 4, 300), [0.0]])
    np.testing.assert_array_equal(
        bin_of(sk, x), [K.bin_index(float(sk.scaled(v)), 12) for v in x]
    )


@pytest.mark.parametrize("kind", ["normal", "lognormal"])
@pytest.mark.parametrize(
    "est, one_sided",
    [
        (LloydMaxQuantizer(n_bits=3, algorithm="optimal"), True),
        (UniformClipQuantizer(n_bits=3), False),
        (UniformClipQuantizer(n_bits=2, symmetric=True), False),
    ],
    ids=repr,
)
def test_accuracy_guarantee(est, one_sided, kind):
    # coarse sketches (5 mantissa bits, few bins) make the excess visible and the bound tight
    chunks = chunks_of(kind, 10, 2000, seed=1)
    X = np.concatenate(chunks)
    full = est.__class__(**est.get_params()).fit(X)
    part = est.__class__(**est.get_params())
    sketches = [ColumnSketch.from_batch(chunks[0][:, j], mantissa_bits=5) for j in range(2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 rows: fewer values than levels
        part.partial_fit(chunks[0][:5])  # names and dtype; the sketches are replaced below
    for c in chunks[1:]:
        for j in range(2):
            sketches[j].add(c[:, j])
    for j in range(2):
        sketches[j].add(chunks[0][5:, j])
        sketches[j].add(chunks[0][:5, j])
    part._fit_sketches(sketches, X.dtype)
    w = np.ones(X.shape[0])
    excess = sse(part, X) - sse(full, X)
    seen_positive = False
    for j in range(2):
        sk = sketches[j]
        n = full.n_levels_[j]
        bound = excess_bound(sk, X[:, j], w, full.thresholds_[j, : n - 1], full.levels_[j])
        if not one_sided:
            bound += excess_bound(sk, X[:, j], w, part.thresholds_[j, : n - 1], part.levels_[j])
        # the searches of the clipping range stop at a relative tolerance
        slack = (1e-12 if one_sided else 1e-6) * sse(full, X)[j]
        assert -slack <= excess[j] <= bound + slack, (excess[j], bound)
        seen_positive |= excess[j] > slack
    assert seen_positive  # the sketches are coarse enough for the bound to matter


def test_merge_order_and_batch_order_do_not_matter(rng):
    chunks = chunks_of("lognormal", 30, 2000, seed=2)
    est = LloydMaxQuantizer(n_bits=4, algorithm="optimal")
    a = streamed(est, chunks)
    order = rng.permutation(np.arange(1, 30))
    b = streamed(est, [chunks[0]] + [chunks[i] for i in order])  # same first batch: same bins
    np.testing.assert_array_equal(a.thresholds_, b.thresholds_)
    np.testing.assert_array_equal(a.levels_, b.levels_)
    # per-chunk sketches on the first batch's grid, merged as a tree in another order
    grids = [(sk.centre, sk.log2_scale) for sk in a.sketches_]
    parts = [[ColumnSketch(*grids[j]).add(c[:, j]) for j in range(2)] for c in chunks]
    while len(parts) > 1:
        rng.shuffle(parts)
        parts = [
            [p.merge(q) for p, q in zip(parts[i], parts[i + 1])] if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    c = est.__class__(**est.get_params()).partial_fit(chunks[0][:1] * 0 + chunks[0][:1])
    c._fit_sketches(parts[0], np.float64)
    np.testing.assert_array_equal(a.thresholds_, c.thresholds_)


def test_summary_memory_is_bounded_as_rows_grow():
    """10^5 to 10^8 rows of a heavy-tailed column: the sketch never exceeds its bound."""
    rng = np.random.default_rng(3)
    sk = ColumnSketch.from_batch(rng.standard_cauchy(10**5))
    rows, sizes = 10**5, {10**5: sk.nbytes}
    while rows < 10**8:
        sk.add(rng.standard_cauchy(10**7 if rows >= 10**7 else rows * 9))
        rows = 10**7 * (rows // 10**7 + 1) if rows >= 10**7 else rows * 10
        sizes[rows] = sk.nbytes
    assert sk.to_summary().W[-1] == 10**8
    assert max(sizes.values()) <= SKETCH_BYTES
    assert sk.level > 0  # the range needed coarsening: the bound did the work
    assert sizes[10**8] > 0.25 * SKETCH_BYTES


def test_partial_fit_contract(rng):
    X = rng.standard_normal((500, 3)).astype(np.float32)
    q = UniformClipQuantizer(n_bits=3).partial_fit(X[:200])
    assert q.levels_.dtype == np.float32 and q.n_samples_seen_ == 200
    before = q.thresholds_.copy()
    with pytest.raises(ValueError, match="X has 2 features"):
        q.partial_fit(X[:, :2])
    bad = X[200:].copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in column\(s\) 1"):
        q.partial_fit(bad)
    np.testing.assert_array_equal(q.thresholds_, before)  # a refused batch changes nothing
    assert q.n_samples_seen_ == 200
    q.partial_fit(X[200:])
    assert q.n_samples_seen_ == 500
    q.fit(X)
    assert not hasattr(q, "sketches_") and not hasattr(q, "n_samples_seen_")
    # weights whose sums overflow float64 count by their ratios only
    big = LloydMaxQuantizer().partial_fit(X, sample_weight=np.full(500, 3e305))
    big.partial_fit(X, sample_weight=np.full(500, 3e305))
    same = LloydMaxQuantizer().partial_fit(X).partial_fit(X)
    np.testing.assert_array_equal(big.thresholds_, same.thresholds_)
    with pytest.raises(ValueError, match="at least one non-zero"):
        LloydMaxQuantizer().partial_fit(X, sample_weight=np.zeros(500))
