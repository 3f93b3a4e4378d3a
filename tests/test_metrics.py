import numpy as np
import pytest
from sklearn.base import clone

from skquant import LloydMaxQuantizer, UniformClipQuantizer
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


def test_storage_report_orders_the_sizes(rng):
    from skquant.metrics import storage_report

    X = np.stack([rng.exponential(size=20000), rng.standard_normal(20000)], axis=1)
    q = LloydMaxQuantizer(n_bits=[5, 3]).fit(X)
    r = storage_report(q, X)
    assert r["n_bits"].tolist() == [5, 3]
    assert r["fixed_bytes"] == r["packed_bytes"] == 20000  # 8 bits per row
    assert np.all(r["entropy_bits"] <= [5, 3]) and r["entropy_bits"][0] < 5
    assert r["entropy_bytes"] < r["zlib_bytes"] <= r["packed_bytes"] * 1.01
    assert r["entropy_bytes"] < r["lzma_bytes"]
    assert r["float_bytes"] == 20000 * 2 * 8


def test_rate_distortion_scorer_in_search_and_cross_val(rng):
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skquant.metrics import make_rate_distortion_scorer, rate_distortion_score

    X = rng.standard_normal((3000, 2))
    scorer = make_rate_distortion_scorer(0.02)
    bits = [1, 2, 3, 4, 5, 6]
    search = GridSearchCV(LloydMaxQuantizer(), {"n_bits": bits}, scoring=scorer, cv=3).fit(X)
    # the knee: one more bit must cut the normalised MSE by more than lam
    assert search.best_params_ == {"n_bits": 4}
    entropy = GridSearchCV(
        LloydMaxQuantizer(),
        {"n_bits": bits},
        scoring=make_rate_distortion_scorer(0.02, rate="entropy"),
        cv=3,
    ).fit(X)
    assert entropy.best_params_["n_bits"] >= 4  # entropy-coded bits are cheaper
    pipe = make_pipeline(StandardScaler(), LloydMaxQuantizer(n_bits=3))
    scores = cross_val_score(pipe, X, scoring=scorer, cv=3)
    direct = -(0.034548 + 0.02 * 3)  # the Lloyd-Max NMSE of N(0, 1) at 3 bits
    np.testing.assert_allclose(scores, direct, atol=0.004)
    q = LloydMaxQuantizer(n_bits=3).fit(X)
    assert rate_distortion_score(q, X, lam=0.0) == pytest.approx(
        q.score(X) / X.var(axis=0).mean(), rel=0.02
    )
    with pytest.raises(ValueError, match="lam"):
        make_rate_distortion_scorer(-1.0)
    with pytest.raises(ValueError, match="encode='ordinal'"):
        rate_distortion_score(LloydMaxQuantizer(encode="reconstruct").fit(X), X, lam=0.1)


def test_normalised_mse_has_one_definition(rng):
    """The defect: on a constant column the report and the metrics differed by 2x."""
    import matplotlib

    matplotlib.use("Agg")
    from skquant import LloydMaxQuantizer, RateDistortionDisplay
    from skquant._report import rate_distortion_table
    from skquant.metrics import normalized_mse, rate_distortion_score

    X = np.c_[rng.standard_normal(500), np.full(500, 3.0)]
    q = LloydMaxQuantizer(n_bits=2).fit(X)
    X_hat = q.inverse_transform(q.transform(X))
    nmse = normalized_mse(X, X_hat)
    per_feature = normalized_mse(X, X_hat, multioutput="raw_values")
    assert per_feature[1] == 0 and nmse == per_feature.mean()
    np.testing.assert_allclose(
        per_feature[0], ((X[:, 0] - X_hat[:, 0]) ** 2).mean() / X[:, 0].var()
    )
    rows = rate_distortion_table(X, {"q": LloydMaxQuantizer()}, bits=[2], file_size=False)
    assert rows[0]["nmse"] == nmse
    assert -rate_distortion_score(q, X, lam=0.0) == nmse
    disp = RateDistortionDisplay.from_estimator(
        LloydMaxQuantizer(), X, bits=[2], metric="sqnr", panter_dite=False
    )
    np.testing.assert_allclose(disp.values["LloydMaxQuantizer"], [-10 * np.log10(nmse)])
    matplotlib.pyplot.close("all")
    # a constant column reconstructed wrongly has an infinite normalised error
    assert normalized_mse([[1.0], [1.0]], [[1.0], [2.0]]) == np.inf


def test_metrics_refuse_or_answer_hostile_inputs():
    import skquant
    from skquant.metrics import code_entropy, mse, sqnr_db, storage_report

    # large code values are counted by sorting, not with a table as large as them
    assert code_entropy([0, 2**40]) == 1.0
    assert code_entropy(np.array([2**63 + 5, 2**63 + 5, 1], dtype=np.uint64)) > 0.9
    # an exactly reconstructed all-zero column: inf, as documented
    assert sqnr_db([0.0, 0.0], [0.0, 0.0]) == np.inf
    assert sqnr_db([0.0, 0.0], [0.0, 1.0]) == -np.inf
    # values near the largest float: finite SQNR, inf MSE (the true value overflows)
    big = np.array([1.7e308, -1.7e308, 1e308])
    assert np.isfinite(sqnr_db(big, big * (1 - 1e-3)))
    assert mse(big, -big) == np.inf
    with pytest.raises(ValueError, match="Input X contains NaN"):
        mse([1.0, np.nan], [1.0, 1.0])
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(TypeError, match="scalar quantizer"):
        storage_report(skquant.BinarySphericalEncoder().fit(X), X)
    with pytest.raises(ValueError, match="encode='ordinal'"):
        storage_report(skquant.LloydMaxQuantizer(encode="onehot").fit(X), X)
    with pytest.raises(ValueError, match="not fitted"):
        storage_report(skquant.LloydMaxQuantizer(), X)
    with pytest.raises(ValueError, match="estimator"):
        storage_report("not an estimator", X)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract")
def test_budget_scorer_picks_the_least_distortion_within_the_coded_budget(rng):
    """A GridSearchCV over the number of levels with a bit budget and rate="entropy"
    picks the quantizer of least distortion whose entropy-coded file fits the budget,
    fold by fold (the search's choice is checked against a loop over the same folds)."""
    from sklearn.model_selection import GridSearchCV, KFold

    from skquant._entropy import coded_bits
    from skquant.metrics import make_rate_distortion_scorer, normalized_mse

    X = rng.laplace(size=(6000, 2))
    grid = list(range(2, 25))
    budget = 2.5
    cv = KFold(3)
    search = GridSearchCV(
        UniformClipQuantizer(mode="midtread"), {"n_levels": grid},
        scoring=make_rate_distortion_scorer(budget=budget, rate="entropy"), cv=cv,
    ).fit(X)
    expected = {}
    for m in grid:
        scores = []
        for train, test in cv.split(X):
            q = UniformClipQuantizer(mode="midtread", n_levels=m).fit(X[train])
            codes = q.transform(X[test])
            rate = np.mean(coded_bits(codes, q.n_levels_) / len(test))
            nmse = normalized_mse(X[test], q.inverse_transform(codes))
            scores.append(-nmse if rate <= budget else -np.inf)
        expected[m] = np.mean(scores)
    best = max(grid, key=lambda m: expected[m])
    assert search.best_params_ == {"n_levels": best}
    assert np.isfinite(expected[best]) and not np.isfinite(expected[max(grid)])
    # more than 2**2.5 levels fit the coded budget: entropy coding pays
    assert best > 2**budget
    # the fixed-rate budget admits only what packs into 2 bits: at most 4 levels
    fixed = GridSearchCV(
        UniformClipQuantizer(mode="midtread"), {"n_levels": grid},
        scoring=make_rate_distortion_scorer(budget=2, rate="fixed"), cv=cv,
    ).fit(X)
    assert fixed.best_params_ == {"n_levels": 4}


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract")
@pytest.mark.filterwarnings("ignore:Column.*fewer distinct values")
@pytest.mark.parametrize("case", ["wine-ecsq-rate", "iris-uniform-levels"])
def test_budget_search_picks_the_best_quantizer_by_the_real_file_size(case):
    """On 150 and 178 rows (test folds of 50 to 60 rows) the table of a feature costs
    more than it saves, and the file codes it flat or adaptive. A GridSearchCV over
    EntropyConstrainedQuantizer's ``rate`` (wine) or the number of levels (iris) with
    a budget of 2 coded bits per value picks the candidate of least distortion whose
    codes, really written by the coder (skquant._coding.encode: rANS words, tables,
    adaptive stream and a header byte an adaptive feature), fit the budget fold by fold
    (they are the scorer's rate and the ends of the streams, at most 80 bits a fold).
    The table-only count that rate="entropy" used before (n H plus the tables)
    overstates the rate by more than 0.4 bit per value here and picks a coarser
    quantizer, of more distortion, whose real size is far below the budget."""
    pytest.importorskip("constriction")
    from sklearn.datasets import load_iris, load_wine
    from sklearn.model_selection import GridSearchCV, KFold

    from skquant import EntropyConstrainedQuantizer, _coding
    from skquant._entropy import coded_bits, column_counts, table_model_bits
    from skquant.metrics import make_rate_distortion_scorer, normalized_mse

    if case == "wine-ecsq-rate":
        X, est, param = load_wine().data, EntropyConstrainedQuantizer(), "rate"
        grid = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5]
    else:
        X, est, param = load_iris().data, UniformClipQuantizer(mode="midtread"), "n_levels"
        grid = list(range(2, 17))
    budget, cv = 2.0, KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(est, {param: grid}, cv=cv,
                          scoring=make_rate_distortion_scorer(budget=budget, rate="entropy"))
    search.fit(X)
    real, old, nmse = {}, {}, {}
    for v in grid:
        real[v], old[v], nmse[v] = [], [], []
        for train, test in cv.split(X):
            q = clone(est).set_params(**{param: v}).fit(X[train])
            codes = q.transform(X[test])
            spec, arrays, stream = _coding.encode(codes, q.n_levels_)
            written = 32 * stream.size + 8 * arrays[_coding.TABLE].size + 8 * arrays.get(
                _coding.ADAPTIVE, np.zeros(0)).size
            # and the header entry of each adaptive feature (its parameter), a byte
            written += 8 * sum(p >= 0 for p in spec["adaptive"])
            model = coded_bits(codes, q.n_levels_).sum()
            assert model <= written <= model + 64 + 16  # the streams' ends
            real[v].append(written / codes.size)
            old[v].append(sum(table_model_bits(*column_counts(c, k))
                              for c, k in zip(codes.T, q.n_levels_)) / codes.size)
            nmse[v].append(normalized_mse(X[test], q.inverse_transform(codes)))

    def best(rates):
        fits = [v for v in grid if max(rates[v]) <= budget]
        return min(fits, key=lambda v: np.mean(nmse[v]))

    assert search.best_params_ == {param: best(real)}
    coarser = best(old)
    assert coarser < best(real) and np.mean(nmse[coarser]) > 1.2 * np.mean(nmse[best(real)])
    assert max(real[coarser]) < budget - 0.5  # half a bit per value left unspent
    assert np.mean(old[coarser]) - np.mean(real[coarser]) > 0.4


def test_rate_distortion_score_takes_lam_or_budget():
    from skquant.metrics import make_rate_distortion_scorer, rate_distortion_score

    X = np.random.default_rng(1).standard_normal((200, 1))
    q = LloydMaxQuantizer(n_bits=2).fit(X)
    for kwargs in ({}, {"lam": 0.1, "budget": 2.0}):
        with pytest.raises(ValueError, match="exactly one"):
            rate_distortion_score(q, X, **kwargs)
        with pytest.raises(ValueError, match="exactly one"):
            make_rate_distortion_scorer(**kwargs)
    with pytest.raises(ValueError, match="budget"):
        rate_distortion_score(q, X, budget=0.0)
    with pytest.raises(ValueError, match="rate"):
        rate_distortion_score(q, X, lam=0.1, rate="huffman")
    assert rate_distortion_score(q, X, budget=2.0) == rate_distortion_score(q, X, lam=0.0)
    assert rate_distortion_score(q, X, budget=1.99) == -np.inf


def test_storage_report_coded_bytes_is_the_compressed_file_payload(rng):
    """coded_bits is what the entropy coder really writes (payload and table, or the
    adaptive stream and a header byte, whichever the writer chooses), on 30 000 rows and
    on 200 (where the tables do not pay)."""
    from skquant import _coding
    from skquant._entropy import table_bytes
    from skquant.metrics import storage_report

    X = np.c_[rng.laplace(size=30000), rng.standard_normal(30000)]
    q = UniformClipQuantizer(n_levels=[9, 5], mode="midtread").fit(X)
    reports = {}
    for n in (30000, 200):
        r = reports[n] = storage_report(q, X[:n])
        codes = q.transform(X[:n])
        spec, arrays, stream = _coding.encode(codes, q.n_levels_)
        real = 4 * stream.size + arrays[_coding.TABLE].size
        real += arrays.get(_coding.ADAPTIVE, np.zeros(0)).size + sum(
            p >= 0 for p in spec["adaptive"])  # and a header byte an adaptive feature
        assert r["coded_bytes"] <= real <= 1.01 * r["coded_bytes"] + 10
        np.testing.assert_array_less(r["coded_bits"], r["n_bits"])
    np.testing.assert_allclose(reports[30000]["coded_bits"], reports[30000]["entropy_bits"],
                               rtol=0.01)
    # 200 rows: adaptive, below the entropy plus the tables (a count above 127 takes 2
    # bytes: 9 + 4 bytes at least)
    r = reports[200]
    tables = sum(table_bytes(*np.unique(c, return_counts=True)) for c in codes.T)
    assert spec["adaptive"] and r["coded_bytes"] < r["entropy_bytes"] + tables - 8
