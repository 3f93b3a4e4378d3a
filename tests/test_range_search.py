"""The exact range search (skquant/_kernels/_range_bnb.py) against NumPy twins: the
coarse-index bisection, the midpoint bound (a true lower bound, the minimum of its
quadratic over the box), and the search itself against the search with the older
bound only (the same optimum) and against an exhaustive search on small columns
(see also tests/test_uniform_clip.py::test_mse_is_the_exhaustive_minimum)."""

import naive
import naive_clip
import numpy as np
import pytest
from sklearn import datasets

from skquant import UniformClipQuantizer
from skquant import _kernels as K
from skquant._kernels import _range_bnb as B
from skquant._range_search import _run_bnb
from skquant._summary import summarize_column


def test_find_is_searchsorted(rng):
    for k in (1, 5, 31, 32, 33, 1000, 4097):
        u = np.unique(rng.integers(0, 3 * k, k).astype(np.float64))
        uc = np.ascontiguousarray(u[::B._BLOCK])
        ts = np.concatenate([u, u + 0.5, u - 0.5, [-np.inf, np.inf]])
        for t in ts:
            lo = int(rng.integers(0, u.size + 1))
            hi = int(rng.integers(lo, u.size + 1))
            expect = int(np.clip(np.searchsorted(u, t, side="left"), lo, hi))
            assert B._find(u, uc, t, lo, hi) == expect


def _midrise_coeffs(M):
    k = np.arange(M, dtype=np.float64)
    c_t, c_y = k[1:] / M, (k + 0.5) / M
    return [np.ascontiguousarray(a) for a in (1.0 - c_t, c_t, 1.0 - c_y, c_y)]


def _column(rng, trial, n):
    """A normal (odd trials) or Laplace column of ``n`` weighted values: its summary
    and the twins' ``(u, w)``."""
    x = rng.standard_normal(n) if trial % 2 else rng.laplace(size=n)
    w = rng.uniform(0.5, 2.0, x.size)
    return (x, summarize_column(x, w), *naive.summary(x, w))


def _box_bound(s, coeffs, box, midpoint):
    alpha, beta, gamma, delta = coeffs
    M = gamma.size
    work = [np.empty(M - 1), np.empty(M - 1), np.empty(M), np.empty(M), np.empty(M),
            np.empty(M), np.empty(M)]
    zs, ze = np.empty(M - 1, dtype=np.int64), np.empty(M - 1, dtype=np.int64)
    ends = np.empty(2 * M - 1, dtype=np.int64)
    uc = np.ascontiguousarray(s.u[::B._BLOCK])
    return B._box_bound(s.u, uc, s.W, s.S1, s.S2, s.shift, alpha, beta, gamma, delta,
                        *box, False, midpoint, *work, zs, ze, ends)


@pytest.mark.parametrize("M", [2, 4, 16])
def test_midpoint_bound_is_a_lower_bound_and_its_twins_minimum(rng, M):
    """On random boxes in (lo, hi) around good ranges: the bound is at most the exact
    error of every member of a grid over the box; where the midpoint bound is the one
    returned, the twin's value at the returned member equals it and no grid member
    has a lower twin value (the kernel minimises the quadratic over the whole box)."""
    coeffs = _midrise_coeffs(M)
    n_used = 0
    for trial in range(40):
        x, s, u, wu = _column(rng, trial, 300)
        lo0, hi0 = np.quantile(x, [0.01, 0.99])
        width = 10.0 ** rng.uniform(-3, -0.5)
        a, b = lo0 + rng.normal(0, 0.2), hi0 + rng.normal(0, 0.2)
        box = (a, a + width * rng.uniform(0.2, 1), b, b + width * rng.uniform(0.2, 1))
        lb, p, q = _box_bound(s, coeffs, box, True)
        lb_old = _box_bound(s, coeffs, box, False)[0]
        assert lb >= lb_old
        P, Q = np.meshgrid(np.linspace(box[0], box[1], 21), np.linspace(box[2], box[3], 21))
        exact = [naive.sse(u, wu, pp * coeffs[0] + qq * coeffs[1],
                           pp * coeffs[2] + qq * coeffs[3]) for pp, qq in zip(P.ravel(), Q.ravel())]
        assert lb <= min(exact) * (1 + 1e-12) + 1e-12
        if lb > lb_old:  # the midpoint bound was returned
            n_used += 1
            twin = naive_clip.midpoint_bound_terms(u, wu, *coeffs, box, p, q)
            assert twin is not None
            assert twin.sum() == pytest.approx(lb, rel=1e-9, abs=1e-9)
            grid = [naive_clip.midpoint_bound_terms(u, wu, *coeffs, box, pp, qq).sum()
                    for pp, qq in zip(P.ravel(), Q.ravel())]
            assert lb <= min(grid) * (1 + 1e-9) + 1e-9
            assert np.all(np.array(grid) <= np.array(exact) * (1 + 1e-12) + 1e-12)
    assert n_used >= 5


def _columns():
    rng = np.random.default_rng(3)
    heavy = rng.standard_t(3, 20_000)
    heavy[rng.choice(heavy.size, 20, replace=False)] *= 20.0
    yield "normal", rng.standard_normal(20_000)
    yield "laplace", rng.laplace(size=20_000)
    yield "heavy", heavy
    yield "digits", datasets.load_digits().data[:, 21].astype(np.float64)
    yield "cancer", datasets.load_breast_cancer().data[:, 3]


def _search(s, M, kind, midpoint, monkeypatch):
    """The fit's search with or without the midpoint bound and the granular bound
    (without both: the kernel's older bound)."""
    import skquant._range_search as rs

    def run(summary, coeffs, boxes, centroid, start, shift_z=False, max_span=np.inf,
            granular=False):
        alpha, beta, gamma, delta = (np.ascontiguousarray(c, dtype=np.float64)
                                     for c in coeffs)
        incumbent = np.array(start, dtype=np.float64)
        _, n_boxes, certified = K.range_bnb(
            summary.u, summary.W, summary.S1, summary.S2, float(summary.shift), alpha, beta,
            gamma, delta, shift_z, np.ascontiguousarray(boxes, dtype=np.float64), centroid,
            float(max_span), incumbent, rs._RTOL, 2**20, midpoint, midpoint and granular)
        assert certified
        return incumbent, 0.0

    monkeypatch.setattr(rs, "_run_bnb", run)
    try:
        q = UniformClipQuantizer(n_levels=M, **kind).fit(s[:, None])
    finally:
        monkeypatch.setattr(rs, "_run_bnb", _run_bnb)
    return q.mse_[0]


@pytest.mark.parametrize("kind", [dict(), dict(mode="midtread"), dict(symmetric=True)],
                         ids=["affine-midrise", "affine-midtread", "symmetric"])
@pytest.mark.parametrize("M", [4, 16])
def test_search_matches_the_older_bound(monkeypatch, kind, M):
    """Random and real columns: the search with the midpoint bound (and, affine
    midrise, the granular bound) finds the same optimum (1e-12 relative) as with the
    older bound alone, both certified."""
    for _, x in _columns():
        new = _search(x, M, kind, True, monkeypatch)
        old = _search(x, M, kind, False, monkeypatch)
        assert new == pytest.approx(old, rel=1e-12)
        assert UniformClipQuantizer(n_levels=M, **kind).fit(x[:, None]).mse_[0] \
            == pytest.approx(old, rel=1e-12)


@pytest.mark.parametrize("M", [2, 4, 16])
def test_member_sse_between_the_ends_is_member_sse(rng, M):
    """A member of a box, its thresholds bisected between the positions of their ends
    that the box's bound left, has the error of _member_sse to the last bit (and the
    twin's), at the corners, on the edges and inside; outside the box, the fallback."""
    coeffs = _midrise_coeffs(M)
    alpha, beta, gamma, delta = coeffs
    for trial in range(30):
        x, s, u, wu = _column(rng, trial, 400)
        if trial % 3 == 0:  # repeated values: thresholds on them
            x = np.round(x * 4) / 4
            s = summarize_column(x)
            u, wu = naive.summary(x)
        lo0, hi0 = np.quantile(x, [0.01, 0.99])
        width = 10.0 ** rng.uniform(-3, 0)
        a, b = lo0 + rng.normal(0, 0.2), hi0 + rng.normal(0, 0.2)
        box = (a, a + width * rng.uniform(0.2, 1), b, b + width * rng.uniform(0.2, 1))
        uc = np.ascontiguousarray(s.u[::B._BLOCK])
        ends = np.empty(2 * M - 1, dtype=np.int64)
        work = [np.empty(M - 1), np.empty(M - 1), np.empty(M), np.empty(M), np.empty(M),
                np.empty(M), np.empty(M)]
        zs, ze = np.empty(M - 1, dtype=np.int64), np.empty(M - 1, dtype=np.int64)
        B._box_bound(s.u, uc, s.W, s.S1, s.S2, s.shift, *coeffs, *box, False, True, *work,
                     zs, ze, ends)
        assert ends[-1] == 1
        ps = [box[0], box[1], *rng.uniform(box[0], box[1], 6), box[1] + width]
        qs = [box[2], box[3], *rng.uniform(box[2], box[3], 6), box[2] - width]
        for p, q in zip(ps, qs):
            v = B._member_sse_between(s.u, uc, s.W, s.S1, s.S2, s.shift, *coeffs, p, q,
                                      False, *box, ends)
            assert v == B._member_sse(s.u, uc, s.W, s.S1, s.S2, s.shift, *coeffs, p, q, False)
            assert v == pytest.approx(naive.sse(u, wu, alpha * p + beta * q, gamma * p + delta * q),
                                      rel=1e-9, abs=1e-12)


def test_granular_table_is_two_cell_bound_by_interval(rng):
    """The table's intervals partition the values in order, their terms add up to
    K.two_cell_bound (and to the twin's), and ``span`` is the widest interval's."""
    for trial in range(12):
        x = rng.standard_t(3, 400) if trial % 2 else np.round(rng.normal(0, 5, 400))
        w = rng.uniform(0.5, 2.0, x.size)
        s = summarize_column(x, w)
        u, wu = naive.summary(x, w)
        k = s.u.size
        for D in (0.05, 0.7, 3.0, 50.0):
            ta, tb = np.empty(k + 1, dtype=np.int64), np.empty(k + 1, dtype=np.int64)
            tc = np.full(k + 1, np.nan)
            n, span = K.granular_table(s.u, s.W, s.S1, s.S2, D, ta, tb, tc, 0)
            assert ta[0] == 0 and tb[n - 1] == k and np.array_equal(ta[1:n], tb[:n - 1])
            assert np.all(tb[:n] > ta[:n]) and tc[0] == 0.0 and np.all(np.diff(tc[:n + 1]) >= 0)
            assert span == max(s.u[b - 1] - s.u[a] for a, b in zip(ta[:n], tb[:n]))
            assert span < D * (1 + 1e-12)
            assert tc[n] == pytest.approx(K.two_cell_bound(s.u, s.W, s.S1, s.S2, D), rel=1e-12)
            assert tc[n] == pytest.approx(naive_clip.two_cell_bound(u, wu, D), rel=1e-9,
                                          abs=1e-9)


def test_granular_bound_is_a_lower_bound_and_its_twin(rng):
    """Affine midrise boxes of every width around good ranges: the granular bound is
    its twin's and at most the exact error of every member of a grid over the box."""
    M = 16
    k_ = np.arange(M, dtype=np.float64)
    coeffs = [np.ones(M - 1), k_[1:] - 0.5 * M, np.ones(M), k_ + 0.5 - 0.5 * M]
    checked = 0
    for trial in range(30):
        _, s, u, wu = _column(rng, trial, 500)
        k = s.u.size
        uc = np.ascontiguousarray(s.u[::B._BLOCK])
        c0, d0 = rng.normal(0, 0.1), 2 * 2.7 / M * rng.uniform(0.8, 1.2)
        wc, wd = 10.0 ** rng.uniform(-2.5, 0.3), d0 * 10.0 ** rng.uniform(-3, -0.5)
        box = (c0 - wc * rng.uniform(), c0 + wc * rng.uniform(), d0 - wd * rng.uniform(),
               d0 + wd * rng.uniform())
        D = box[2] * rng.uniform(0.7, 1.0)
        ta, tb = np.empty(k + 1, dtype=np.int64), np.empty(k + 1, dtype=np.int64)
        tc = np.empty(k + 1)
        n, span = K.granular_table(s.u, s.W, s.S1, s.S2, D, ta, tb, tc, 0)
        if not span < box[2]:
            continue
        lo_t, hi_t = box[0] + (1 - 0.5 * M) * box[3], box[1] - (1 - 0.5 * M) * box[3]
        work = [np.empty(2) for _ in range(5)]
        lb = B._granular_bound(s.u, uc, s.W, s.S1, s.S2, s.shift, coeffs[2], coeffs[3],
                               *box, lo_t, hi_t, *work, ta, tb, tc, 0, n)
        assert lb == pytest.approx(naive_clip.granular_bound(u, wu, M, box, D), rel=1e-9)
        P, Q = np.meshgrid(np.linspace(box[0], box[1], 15), np.linspace(box[2], box[3], 15))
        exact = [naive.sse(u, wu, pp * coeffs[0] + qq * coeffs[1], pp + qq * coeffs[3])
                 for pp, qq in zip(P.ravel(), Q.ravel())]
        assert lb <= min(exact) * (1 + 1e-12) + 1e-12
        checked += 1
    assert checked >= 20


def test_two_cell_bound_matches_naive_and_bounds_every_coarser_grid(rng):
    """The step limit of the affine search: the kernel equals its twin, and no
    uniform quantizer of step at least D (any offset) has a lower error."""
    for trial in range(12):
        x = rng.standard_t(3, 200) if trial % 2 else rng.standard_normal(200)
        w = rng.uniform(0.5, 2.0, x.size)
        s = summarize_column(x, w)
        u, wu = naive.summary(x, w)
        for D in (0.05, 0.3, 1.0, 4.0):
            bound = K.two_cell_bound(s.u, s.W, s.S1, s.S2, D)
            assert bound == pytest.approx(naive_clip.two_cell_bound(u, wu, D),
                                          rel=1e-9, abs=1e-9)
            for stop in (0.0, 0.3 * bound, 0.99 * bound, bound, 1.01 * bound):
                # stopped early: above `stop` exactly when the whole sum is
                part = K.two_cell_bound(s.u, s.W, s.S1, s.S2, D, stop)
                assert (part > stop) == (bound > stop)
                assert part <= bound
            k = np.arange(16, dtype=np.float64)
            for d in D * np.array([1.0, 1.3, 3.0]):
                for lo in rng.uniform(u[0] - 10 * d, u[-1], 20):
                    err = naive.sse(u, wu, lo + k[1:] * d, lo + (k + 0.5) * d)
                    assert err >= bound * (1 - 1e-12)


def test_outer_level_limits_hold_for_every_range_below_the_error(rng):
    """Ranges whose error is at most sse have their lowest level below L and their
    highest above H (the limits of the centre-and-step box)."""
    from skquant._range_search import _outer_level_limits

    x = np.concatenate([rng.standard_normal(5000), [30.0, -12.0]])
    s = summarize_column(x)
    u, wu = naive.summary(x)
    k = np.arange(8, dtype=np.float64)
    los = rng.uniform(-6, 1, 4000)
    steps = rng.uniform(0.05, 3, 4000)
    errs = np.array([naive.sse(u, wu, lo + k[1:] * d, lo + (k + 0.5) * d)
                     for lo, d in zip(los, steps)])
    sse = np.quantile(errs, 0.2)
    L, H = _outer_level_limits(s, sse)
    good = errs <= sse
    assert good.sum() > 100
    assert np.all(los[good] + 0.5 * steps[good] < L)
    assert np.all(los[good] + 7.5 * steps[good] > H)


def test_summary_abs_quantile_is_the_sorted_weighted_quantile(rng):
    """The symmetric percentile rule on a summary (bisection on the prefix sums for
    counts, the merge otherwise): the value of weighted_quantile of |x|, on counts with
    ties between -x and x and on fractional weights."""
    from skquant._range_search import _summary_abs_quantile
    from skquant._summary import weighted_quantile

    for trial in range(60):
        n = int(rng.integers(1, 200))
        if trial % 3 == 0:
            x = rng.integers(-15, 15, n).astype(np.float64)
        elif trial % 3 == 1:
            x = np.abs(rng.standard_normal(n)) * (-1.0 if trial % 2 else 1.0)
        else:
            x = rng.standard_normal(n)
        w = rng.uniform(0.1, 3.0, n) if trial % 4 == 3 else None
        s = summarize_column(x, w)
        for q in np.concatenate([rng.uniform(0, 1, 15), [0.0, 0.5, 0.999, 1.0]]):
            assert _summary_abs_quantile(s, q) == weighted_quantile(np.abs(s.u), s.weights, q)


def test_abs_quantile_is_the_sorted_weighted_quantile(rng):
    """The symmetric percentile rule without a sort: the same value as
    weighted_quantile of |u| (stable sort), also with ties between -x and x."""
    from skquant._range_search import _abs_quantile
    from skquant._summary import weighted_quantile

    for trial in range(20):
        if trial % 2:
            u = np.unique(rng.integers(-30, 30, 40).astype(np.float64))
        else:
            u = np.unique(np.concatenate([rng.standard_normal(50), [0.0]]))
        w = rng.uniform(0.1, 3.0, u.size)
        for q in np.concatenate([rng.uniform(0, 1, 30), [0.0, 0.5, 0.999, 1.0]]):
            assert _abs_quantile(u, w, q) == weighted_quantile(np.abs(u), w, q)


@pytest.mark.parametrize("M", [4, 16])
def test_affine_midrise_matches_the_previous_search(M):
    """The previous affine midrise search (over (lo, hi) from the box of
    _midrise_box, the older bound only), run with the same kernel, certifies the same
    optimum as the fit (1e-12 relative) on random and real columns."""
    from skquant._range_search import _midrise_box, clip_range
    from skquant._summary import unit_summary

    k = np.arange(M, dtype=np.float64)
    c_t, c_y = k[1:] / M, (k + 0.5) / M
    coeffs = [np.ascontiguousarray(a) for a in (1 - c_t, c_t, 1 - c_y, c_y)]
    for _, x in _columns():
        q = UniformClipQuantizer(n_levels=M).fit(x[:, None])
        s, unit = unit_summary(summarize_column(x))
        s = s._replace(u=s.u - s.shift, shift=0.0)
        lo, hi = clip_range(s, "minmax", False, 3.0, 99.9)
        start = np.array([lo, hi, 0.0, s.sse(lo + c_t * (hi - lo) * 1.0, lo + c_y * (hi - lo))])
        boxes, span = _midrise_box(float(s.u[0]), float(s.u[-1]), M)
        _, _, certified = K.range_bnb(s.u, s.W, s.S1, s.S2, 0.0, *coeffs, False, boxes,
                                      False, span, start, 1e-12, 2**20, False)
        assert certified
        assert q.mse_[0] * x.size / unit**2 == pytest.approx(start[3], rel=2e-12)


def test_refined_step_limit_is_a_limit_and_certifies_8_bit_midtread(rng):
    """The midtread search's narrowed step limit (from 32 levels): at most the coarse one, and no
    uniform quantizer (any offset) with a step above it has an error at most sse;
    with it the 8-bit affine midtread search finishes (the coarse limit left it at its
    box limit, clip_gap_ near 0.9, on a column far from 0, which the range must hold)
    and its range is no worse than the coarse one's."""
    import skquant._range_search as rs

    x = rng.standard_normal(3000)
    s = summarize_column(x)
    u, wu = naive.summary(x)
    k = np.arange(16, dtype=np.float64)
    q = UniformClipQuantizer(4, mode="midtread").fit(x[:, None])
    d0 = float(q.scale_[0])
    sse = q.mse_[0] * x.size * 1.05
    fine = rs._step_limit(s, sse, d0, np.inf, refine=True)
    coarse = rs._step_limit(s, sse, d0, np.inf)
    assert d0 < fine <= coarse and fine < coarse  # narrowed on this column
    for d in fine * np.array([1.0001, 1.01, 1.05, 1.2]):
        for lo in rng.uniform(u[0] - 16 * d, u[-1], 200):
            assert naive.sse(u, wu, lo + k[1:] * d, lo + (k + 0.5) * d) > sse
    X = rng.exponential(size=(1000, 1)) * 1e6 + 1e8
    new = UniformClipQuantizer(8, mode="midtread").fit(X)
    old_levels = rs._REFINE_LEVELS
    rs._REFINE_LEVELS = 10**6
    try:
        old = UniformClipQuantizer(8, mode="midtread").fit(X)
    finally:
        rs._REFINE_LEVELS = old_levels
    assert old.clip_gap_[0] > 0.5 and new.clip_gap_[0] == 0.0
    assert new.mse_[0] <= old.mse_[0] * (1 + 1e-12)
