"""scikit-learn's estimator checks over every registered estimator variant, with no
expected failure declared."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

import skquant
from skquant._registry import ESTIMATORS, estimator_classes, estimator_variants

VARIANTS = estimator_variants()


@parametrize_with_checks([est for _, est in VARIANTS])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_check_estimator_as_a_user_calls_it(name):
    """``check_estimator(Est())`` raises nothing (and reports no expected failure)."""
    cls = estimator_classes()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few distinct values in the checks
        check_estimator(cls())  # raises on the first failure
        results = check_estimator(cls(), on_fail=None)
    # skipped: scikit-learn's array-API checks without SCIPY_ARRAY_API; nothing else
    bad = [(r["check_name"], r["status"]) for r in results
           if r["status"] not in ("passed", "skipped")]
    assert bad == []
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input"}, skipped


def test_registry_is_what_skquant_exports():
    """Every estimator class skquant exports is registered, and only those."""
    from sklearn.base import BaseEstimator

    exported = {
        name for name in skquant.__all__
        if isinstance(getattr(skquant, name), type)
        and issubclass(getattr(skquant, name), BaseEstimator)
    }
    assert exported == set(ESTIMATORS)
    for name, (_, variants) in ESTIMATORS.items():
        assert "default" in variants and variants["default"] == {}


@pytest.mark.parametrize(
    "cls", [c for c in estimator_classes().values() if "max_iter" in c().get_params()],
    ids=lambda c: c.__name__,
)
def test_n_iter_is_the_largest_count_over_features(cls):
    X = load_iris().data
    est = cls().fit(X)
    assert isinstance(est.n_iter_, int) and est.n_iter_ >= 1
    assert est.n_iter_per_feature_.shape == (X.shape[1],)
    assert est.n_iter_ == est.n_iter_per_feature_.max()
    assert np.all(est.n_iter_per_feature_ >= 1)


def test_import_loads_only_what_the_first_call_needs():
    """``import skquant`` imports none of numba, scipy, scikit-learn or skquant's
    modules; a first fit and transform loads neither the analytic designs, the file
    format, the plotting, Dask, ONNX nor PyTorch."""
    import subprocess
    import sys

    lazy = ["skquant.design", "skquant._io", "skquant._display", "skquant._report",
            "skquant.dask", "skquant.onnx", "skquant.torch", "skquant._cli",
            "matplotlib", "dask", "distributed", "onnx", "skl2onnx", "torch"]
    code = (
        "import sys, numpy as np\n"
        "import skquant\n"
        "heavy = {'numba', 'scipy', 'sklearn', 'skquant._base', 'skquant._kernels'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "X = np.random.default_rng(0).standard_normal((1000, 4))\n"
        "skquant.LloydMaxQuantizer().fit(X).transform(X)\n"
        f"loaded = set({lazy!r}) & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
