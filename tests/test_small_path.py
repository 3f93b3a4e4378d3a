"""The small-input path (``skquant._kernels._small``, routed by ``_auto``): NumPy twins
that give exactly the kernels' results, and a first small fit that never imports numba."""

import subprocess
import sys

import numpy as np
import pytest

from skquant import LloydMaxQuantizer
from skquant import _kernels as K
from skquant._kernels import _auto, _optimal, _small
from skquant._summary import summarize_column


def _columns(seed, n_cases=40):
    """Random columns: continuous, heavy-tailed, integer (ties), few values, float32
    values, mixtures; with and without weights (some zero)."""
    rng = np.random.default_rng(seed)
    for case in range(n_cases):
        n = int(rng.integers(20, 1500))
        kind = case % 6
        if kind == 0:
            x = rng.standard_normal(n)
        elif kind == 1:
            x = rng.standard_t(2, n) * 1e3 + 5e4
        elif kind == 2:
            x = rng.integers(0, int(rng.integers(3, 60)), n).astype(np.float64)
        elif kind == 3:
            x = rng.choice([-1.0, 0.0, 0.5, 2.0, 7.0], n)
        elif kind == 4:
            x = rng.standard_normal(n).astype(np.float32).astype(np.float64)
        else:
            h = n // 2
            x = np.concatenate([rng.standard_normal(h), 30 + 0.01 * rng.standard_normal(n - h)])
        w = None
        if case % 3 == 1:
            w = rng.exponential(size=n)
            w[rng.random(n) < 0.1] = 0.0
            w[0] = 1.0
        elif case % 3 == 2:
            w = rng.integers(1, 4, n).astype(np.float64)
        yield x, w


def test_constants_follow_the_kernels():
    assert _small.TABLE_MIN == _optimal._TABLE_MIN
    assert _small.PRUNE_MIN_K == _optimal._PRUNE_MIN_K
    assert _small.CHUNK == K.CHUNK


@pytest.mark.parametrize("seed", [0, 1])
def test_twins_equal_the_kernels(seed):
    rng = np.random.default_rng(100 + seed)
    n_moves = 0
    for x, w in _columns(seed):
        order = np.argsort(x, kind="stable")
        xs = x[order]
        ws = np.empty(0) if w is None else w[order]
        shift = float(xs[len(xs) // 2])
        got = _small.summarize_sorted(xs.copy(), ws, shift)
        want = K.summarize_sorted(xs.copy(), ws, shift)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        u, W, S1, S2 = want
        k = u.shape[0]
        for M in (2, 3, 4, 7, 16, 33):
            if M >= k:
                continue
            levels = np.sort(rng.choice(u, M, replace=False)) + 0.0
            t = 0.5 * (levels[1:] + levels[:-1])
            p1, p2 = np.empty(M + 1, np.int64), np.empty(M + 1, np.int64)
            _small.cell_positions(u, t, p1)
            K.cell_positions(u, t, p2)
            np.testing.assert_array_equal(p1, p2)
            assert _small.partition_cost(W, S1, S2, p1) == K.partition_cost(W, S1, S2, p2)
            assert _small.sse_exact(u, W, p1, levels) == K.sse_exact(u, W, p2, levels)
            c1, c2 = levels.copy(), levels.copy()
            assert _small.centroids(W, S1, shift, p1, c1) == K.centroids(W, S1, shift, p2, c2)
            np.testing.assert_array_equal(c1, c2)
            l1, l2 = levels.copy(), levels.copy()
            m1 = _small._split_merge(u, W, S1, S2, shift, l1)
            m2 = K.split_merge(u, W, S1, S2, shift, l2)
            assert m1 == m2
            n_moves += m1
            np.testing.assert_array_equal(l1, l2)
            l1, l2 = levels.copy(), levels.copy()
            r1 = _small.lloyd_escape(u, W, S1, S2, shift, l1, 300, 1e-7, 4 * M)
            r2 = K.lloyd_escape(u, W, S1, S2, shift, l2, 300, 1e-7, 4 * M)
            assert r1 == r2
            np.testing.assert_array_equal(l1, l2)
            if _small.optimal_supported(W, M):
                o1, o2 = np.empty(M + 1, np.int64), np.empty(M + 1, np.int64)
                cost1 = _small.optimal_partition(W, S1, S2, M, o1)
                cost2 = K.optimal_partition(W, S1, S2, M, o2)
                np.testing.assert_array_equal(o1, o2)
                assert cost1 == cost2
    assert n_moves > 0  # the escape moves were exercised


def test_optimal_twin_is_used_only_where_it_mirrors_the_kernel():
    W = np.arange(5001.0)
    assert not _small.optimal_supported(W, 16)  # pruned by the kernel
    assert _small.optimal_supported(W[:2049], 16)
    assert not _small.optimal_supported(W[:4000], 256)  # Hirschberg's halving
    W0 = np.array([0.0, 1.0, 1.0, 2.0, 3.0])
    assert not _small.optimal_supported(W0, 2)  # a weightless value


def test_optimal_twin_tree_visits_every_row_once():
    """The divide and conquer's levels (``_small._tree``): every row once, each
    bounded by rows of earlier levels (or the ends), as the kernel's stack visits them."""
    for n in (1, 2, 3, 7, 8, 985, 1000):
        seen = {n: -1, n + 1: -1}  # the ends
        rows = []
        for level, (mid, mid2, left2, right2) in enumerate(_small._tree(n)):
            np.testing.assert_array_equal(mid2[:, 0], mid)
            for r, a, b in zip(mid, left2[:, 0], right2[:, 0]):
                assert seen[a] < level and seen[b] < level
                assert (a == n or a < r) and (b == n + 1 or b > r)
                seen[int(r)] = level
            rows += mid.tolist()
        assert sorted(rows) == list(range(n))
        assert _small._tree(n) is _small._tree(n)  # one tree per n


def _optimal_pair(W, S1, S2, M):
    o1, o2 = np.empty(M + 1, np.int64), np.empty(M + 1, np.int64)
    with np.errstate(all="ignore"):
        c1 = _small.optimal_partition(W, S1, S2, M, o1)
        c2 = K.optimal_partition(W, S1, S2, M, o2)
    return o1, o2, c1, c2


def test_optimal_twin_equals_the_kernel_on_padded_and_ragged_levels(monkeypatch):
    """Up to 4095 distinct values and 256 cells: the twin's levels run as padded blocks
    and, where the rows' ranges are uneven, ragged ones; both give the kernel's
    partition and cost (the default fit's exact start on 1000 x 4 runs both)."""
    ragged = [0]
    ragged_level = _small._ragged_level

    def counted(*args):
        ragged[0] += 1
        return ragged_level(*args)

    monkeypatch.setattr(_small, "_ragged_level", counted)
    rng = np.random.default_rng(21)
    n_cases = 0
    for k, w in ((1000, None), (4095, None), (2500, "exp"), (300, "int"), (40, None)):
        x = np.sort(np.concatenate([rng.standard_normal(k // 2), rng.standard_t(2, k - k // 2)]))
        ws = np.empty(0) if w is None else (
            rng.exponential(size=k) if w == "exp" else rng.integers(1, 5, k) * 1.0)
        u, W, S1, S2 = K.summarize_sorted(x.copy(), ws, float(x[k // 2]))
        for M in (2, 3, 16, 17, 64, 256):
            if not _small.optimal_supported(W, M):
                continue
            o1, o2, c1, c2 = _optimal_pair(W, S1, S2, M)
            np.testing.assert_array_equal(o1, o2, err_msg=f"k={k} M={M}")
            assert c1 == c2
            n_cases += 1
    assert n_cases >= 20 and ragged[0] > 0


def test_optimal_twin_nan_rows_follow_the_kernel(monkeypatch):
    """Prefix sums that overflow (inf - inf gives NaN candidates): the kernel never
    picks a NaN, and the twin reruns such a layer carefully to do the same."""
    careful = []
    layer = _small._layer

    def spied(*args):
        careful.append(args[-1])
        return layer(*args)

    monkeypatch.setattr(_small, "_layer", spied)
    rng = np.random.default_rng(4)
    for big in (1e160, 1e200):
        x = np.sort(np.concatenate([rng.standard_normal(300), big * np.arange(1, 6)]))
        u, W, S1, S2 = K.summarize_sorted(x.copy(), np.empty(0), 0.0)
        assert np.isinf(S2).any()
        for M in (3, 5, 16):
            o1, o2, _, _ = _optimal_pair(W, S1, S2, M)
            np.testing.assert_array_equal(o1, o2)
    assert any(careful)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_encoders_equal_the_kernels(dtype):
    rng = np.random.default_rng(3)
    for n_bits in (1, 2, 4, 8):
        X = (rng.standard_normal((700, 5)) * [1, 10, 1e-3, 1e4, 1]).astype(dtype)
        X[3, 1] = np.nan
        X[650, 4] = np.inf
        q = LloydMaxQuantizer(n_bits=n_bits).fit(np.nan_to_num(X, posinf=0.0))
        tables = q._window_grid(X.dtype)
        c1 = np.empty(X.shape, np.uint8)
        c2 = np.empty(X.shape, np.uint8)
        b1 = _small.window_grid_encode(X, *tables, c1)
        b2 = K.window_grid_encode(X, *tables, c2)
        np.testing.assert_array_equal(b1, b2)
        ok = np.isfinite(X)
        np.testing.assert_array_equal(c1[ok], c2[ok])
        codes = c2.astype(np.int64)
        codes[5, 2] = -1
        codes[690, 0] = 999
        o1, o2 = np.zeros(X.shape, q.levels_.dtype), np.zeros(X.shape, q.levels_.dtype)
        np.testing.assert_array_equal(_small.decode(codes, q.levels_, q.n_levels_, o1),
                                      K.decode(codes, q.levels_, q.n_levels_, o2))
        np.testing.assert_array_equal(o1, o2)


def _fitted(mode, X, w=None, **params):
    old = _auto.mode
    _auto.mode = mode
    try:
        q = LloydMaxQuantizer(**params).fit(X, sample_weight=w)
        return q, q.transform(X), q.inverse_transform(q.transform(X))
    finally:
        _auto.mode = old


@pytest.mark.parametrize("params", [{}, {"n_bits": 2}, {"n_bits": 6}, {"n_levels": 5},
                                    {"algorithm": "optimal"}, {"init": "quantile", "n_init": 2}])
def test_estimator_is_identical_on_both_paths(params):
    rng = np.random.default_rng(7)
    cases = [
        (rng.standard_normal((1000, 4)), None),
        (rng.standard_normal((800, 3)).astype(np.float32), None),
        (rng.integers(0, 200, (600, 3)).astype(np.float64), None),
        (rng.gamma(0.5, size=(500, 2)) * 1e-3, rng.exponential(size=500)),
    ]
    for X, w in cases:
        a, ta, ia = _fitted("numpy", X, w, **params)
        b, tb, ib = _fitted("numba", X, w, **params)
        assert sorted(vars(a)) == sorted(vars(b))
        for name in ("thresholds_", "levels_", "n_levels_", "mse_", "n_iter_per_feature_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
            assert getattr(a, name).dtype == getattr(b, name).dtype
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ia, ib)


def test_small_first_fit_never_imports_numba():
    code = (
        "import sys, numpy as np\n"
        "import skquant\n"
        "X = np.random.default_rng(0).standard_normal((1000, 4))\n"
        "q = skquant.LloydMaxQuantizer(n_bits=4).fit(X)\n"
        "q.inverse_transform(q.transform(X))\n"
        "assert 'numba' not in sys.modules, 'a small fit imported numba'\n"
        "from skquant._kernels import _auto\n"
        "_auto.BUDGET = 0  # the twins' budget spent: the kernels take over\n"
        "skquant.LloydMaxQuantizer(n_bits=4).fit(X)\n"
        "assert 'numba' in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_routing():
    old = _auto.mode, _auto._spent
    try:
        _auto.mode = None
        # the kernel module is loaded in this process: the kernels are cheaper
        assert "skquant._kernels._scalar" in sys.modules
        assert not _auto.small(10)
        _auto.mode = "numpy"
        assert _auto.small(10**9)
    finally:
        _auto.mode, _auto._spent = old


def test_summary_through_the_router_equals_the_kernel():
    x = np.random.default_rng(5).standard_normal(3000)
    old = _auto.mode
    try:
        _auto.mode = "numpy"
        a = summarize_column(x)
        _auto.mode = "numba"
        b = summarize_column(x)
    finally:
        _auto.mode = old
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def test_every_scalar_quantizer_is_identical_on_both_paths():
    """Every registered scalar quantizer designs from the routed summaries (costs,
    positions, errors): the same fitted state and codes on both paths."""
    import warnings

    from skquant._registry import estimator_classes

    rng = np.random.default_rng(11)
    X = np.column_stack([rng.standard_normal(600), rng.laplace(size=600) * 3 + 1,
                         rng.integers(0, 90, 600).astype(np.float64)])
    w = rng.exponential(size=600)
    for name, cls in estimator_classes(scalar=True).items():
        for weights in (None, w):
            fitted = []
            for mode in ("numpy", "numba"):
                old = _auto.mode
                _auto.mode = mode
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        est = cls().fit(X, sample_weight=weights)
                    fitted.append((est, est.transform(X)))
                finally:
                    _auto.mode = old
            (a, ta), (b, tb) = fitted
            assert sorted(vars(a)) == sorted(vars(b)), name
            for key, value in vars(a).items():
                if key.endswith("_") and isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(value, vars(b)[key], err_msg=f"{name}.{key}")
            np.testing.assert_array_equal(ta, tb, err_msg=name)


def test_estimator_names_import_scikit_learn_first():
    """Naming an estimator imports scikit-learn from ``skquant.__getattr__`` before the
    estimator's module (with its nested imports) starts: a fresh process then spends
    ~50 ms less CPU on the same modules (benchmarks/bench_cold_start.py)."""
    code = (
        "import sys\n"
        "order = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        order.append(name)\n"
        "sys.meta_path.insert(0, Spy())\n"
        "import skquant\n"
        "assert 'sklearn' not in sys.modules\n"
        "skquant.LloydMaxQuantizer\n"
        "first = order.index('skquant._lloyd_max')\n"
        "assert order.index('sklearn') < order.index('numpy') < first, order[:5]\n"
        "assert 'sklearn.base' in order[:first]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
