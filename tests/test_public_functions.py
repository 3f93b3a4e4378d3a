"""Every public function of skquant refuses hostile arguments cleanly.

The walker lists the public callables of ``skquant``, ``skquant.design``,
``skquant.metrics`` and ``skquant.dask`` (their ``__all__``) and feeds every parameter
of each, one at a time, hostile values (NaN, inf, -1, 0, True, 2.5, 0-d arrays,
strings, 2**40, empty and wrongly shaped arrays) on top of a valid call. Each call must
either succeed with a finite result (only where the value is a legitimate one for that
parameter, listed in ``ACCEPTS``) or raise ``TypeError``/``ValueError`` (which
``InvalidParameterError`` is) naming the parameter, within a time and memory bound: never
a numba error, ``IndexError``, ``ZeroDivisionError``, ``MemoryError`` or a hang. A new
public function without an entry in ``CALLS`` fails ``test_every_public_function_is_walked``.
"""

import inspect
import time
import tracemalloc
import warnings

import numpy as np
import pytest

import skquant
import skquant.design
import skquant.metrics

MODULES = {"skquant": skquant, "skquant.design": skquant.design,
           "skquant.metrics": skquant.metrics}
try:
    import dask.array as da

    import skquant.dask

    MODULES["skquant.dask"] = skquant.dask
except ImportError:  # the dask extra is optional
    da = None

HOSTILE = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "-1": -1,
    "0": 0,
    "True": True,
    "2.5": 2.5,
    "0d-int": np.array(3),
    "0d-nan": np.array(np.nan),
    "0d-neg": np.array(-1),
    "str": "hostile",
    "2**40": 2**40,
    "empty": np.array([]),
    "3d": np.zeros((2, 2, 2)),
    "nan-matrix": np.full((4, 2), np.nan),
    "None": None,
}

RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 2))
CODES = RNG.integers(0, 256, size=(6, 2), dtype=np.uint8)


def _fitted():
    return skquant.LloydMaxQuantizer(n_bits=2).fit(X)


def _saved(tmp_path):
    path = tmp_path / "q.skq"
    skquant.save(_fitted(), path)
    return path


def _compressed(tmp_path):
    path = tmp_path / "c.skq"
    skquant.compress(X, path, skquant.LloydMaxQuantizer(n_bits=2))
    return path


# public name -> a function of tmp_path returning the keyword arguments of a valid call
CALLS = {
    "skquant.allocate_bits": lambda p: dict(
        estimator=skquant.LloydMaxQuantizer(), X=X, budget=4, min_bits=1, max_bits=3,
        levels=None, method="greedy", rate="fixed", normalize=False),
    "skquant.bsq_auxiliary_loss": lambda p: dict(
        X=X, inv_temperature=10.0, diversity_gamma=1.0, entropy_loss_weight=0.1,
        exact_max_dim=16),
    "skquant.hamming_distances": lambda p: dict(A=CODES, B=CODES),
    "skquant.hamming_knn": lambda p: dict(query=CODES, base=CODES, k=2),
    "skquant.load": lambda p: dict(path=_saved(p)),
    "skquant.compress": lambda p: dict(X=X, path=p / "c.skq", quantizer=None,
                                       coding="entropy"),
    "skquant.decompress": lambda p: dict(path=_compressed(p)),
    "skquant.save": lambda p: dict(estimator=_fitted(), path=p / "out.skq"),
    "skquant.reverse_water_filling": lambda p: dict(
        variances=[1.0, 4.0], budget=4, min_bits=1, max_bits=3),
    "skquant.design.high_rate_compander": lambda p: dict(distribution="gaussian",
                                                         n_levels=4),
    "skquant.design.entropy_constrained": lambda p: dict(
        distribution="gaussian", lam=0.1, rate=None, max_levels=16),
    "skquant.design.lloyd_max": lambda p: dict(distribution="gaussian", n_levels=4,
                                               tol=1e-10, max_iter=50),
    "skquant.design.normal_float_levels": lambda p: dict(n_bits=4, n_levels=None),
    "skquant.design.optimal_uniform": lambda p: dict(distribution="laplace", n_levels=4),
    "skquant.design.panter_dite_mse": lambda p: dict(distribution="gaussian", n_bits=3),
    "skquant.metrics.code_entropy": lambda p: dict(codes=CODES,
                                                   multioutput="raw_values"),
    "skquant.metrics.make_rate_distortion_scorer": lambda p: dict(
        lam=0.1, rate="fixed", normalize=True),
    "skquant.metrics.mse": lambda p: dict(X=X, X_hat=X * 0.9,
                                          multioutput="uniform_average"),
    "skquant.metrics.normalized_mse": lambda p: dict(X=X, X_hat=X * 0.9,
                                                     multioutput="uniform_average"),
    "skquant.metrics.rate_distortion_score": lambda p: dict(
        estimator=_fitted(), X=X, lam=0.1, rate="fixed", normalize=True),
    "skquant.metrics.sqnr_db": lambda p: dict(X=X, X_hat=X * 0.9, centered=False,
                                              multioutput="uniform_average"),
    "skquant.metrics.storage_report": lambda p: dict(estimator=_fitted(), X=X),
    "skquant.dask.fit": lambda p: dict(
        estimator=skquant.LloydMaxQuantizer(n_bits=2),
        X=da.from_array(X, chunks=(32, 2)), sample_weight=None, split_every=4,
        max_samples=1000, random_state=0),
    "skquant.dask.transform": lambda p: dict(estimator=_fitted(),
                                             X=da.from_array(X, chunks=(32, 2))),
    "skquant.dask.inverse_transform": lambda p: dict(
        estimator=_fitted(), X=da.from_array(_fitted().transform(X), chunks=(32, 2))),
}

# (function, parameter) -> the valid call to start from, where CALLS's excludes it
ALTERNATIVES = {
    ("skquant.metrics.make_rate_distortion_scorer", "budget"): lambda p: dict(
        budget=2.0, rate="fixed", normalize=True),
    ("skquant.metrics.rate_distortion_score", "budget"): lambda p: dict(
        estimator=_fitted(), X=X, budget=2.0, rate="fixed", normalize=True),
    ("skquant.design.entropy_constrained", "rate"): lambda p: dict(
        distribution="gaussian", lam=None, rate=2.0, max_levels=16),
    ("skquant.design.normal_float_levels", "n_levels"): lambda p: dict(n_bits=None,
                                                                     n_levels=5),
}

# (function, parameter) -> hostile ids that are legitimate values of that parameter
ANY_NUMBER_2D = {"nan-matrix"}  # data arrays may hold NaN where documented
BIG_REAL = {"2.5", "0d-int", "2**40"}  # finite reals, for parameters of any size
ACCEPTS = {
    ("skquant.allocate_bits", "normalize"): {"True"},
    ("skquant.bsq_auxiliary_loss", "X"): {"3d"},  # (batch, tokens, D) is documented
    ("skquant.design.entropy_constrained", "lam"): BIG_REAL | {"0"} - {"0d-int"},
    ("skquant.design.entropy_constrained", "rate"): {"2.5"},  # at most log2(16) bits
    ("skquant.design.lloyd_max", "tol"): BIG_REAL,
    ("skquant.design.lloyd_max", "max_iter"): {"2**40"},  # stops at convergence
    # vectorised over any array of rates b >= 0
    ("skquant.design.panter_dite_mse", "n_bits"): BIG_REAL | {"0", "empty", "3d"},
    ("skquant.metrics.make_rate_distortion_scorer", "normalize"): {"True"},
    ("skquant.metrics.make_rate_distortion_scorer", "budget"): BIG_REAL,
    ("skquant.metrics.rate_distortion_score", "normalize"): {"True"},
    ("skquant.metrics.rate_distortion_score", "budget"): BIG_REAL,
    ("skquant.metrics.sqnr_db", "centered"): {"True"},
    ("skquant.dask.fit", "split_every"): {"0d-int", "2**40"},
    ("skquant.allocate_bits", "budget"): {"2.5"},
    ("skquant.allocate_bits", "min_bits"): set(),
    ("skquant.bsq_auxiliary_loss", "inv_temperature"): BIG_REAL | {"0"},
    ("skquant.bsq_auxiliary_loss", "diversity_gamma"): BIG_REAL | {"0", "-1"},
    ("skquant.bsq_auxiliary_loss", "entropy_loss_weight"): BIG_REAL | {"0", "-1"},
    ("skquant.bsq_auxiliary_loss", "exact_max_dim"): {"0"},
    ("skquant.hamming_knn", "k"): {"0d-int"},
    ("skquant.metrics.make_rate_distortion_scorer", "lam"): BIG_REAL | {"0"},
    ("skquant.metrics.rate_distortion_score", "lam"): BIG_REAL | {"0"},
    ("skquant.dask.fit", "max_samples"): {"0d-int", "2**40"},
    ("skquant.dask.fit", "random_state"): {"0", "None", "0d-int"},
    ("skquant.dask.fit", "sample_weight"): {"None"},
    ("skquant.reverse_water_filling", "min_bits"): {"0"},
    ("skquant.design.normal_float_levels", "n_bits"): {"None"},
    ("skquant.save", "path"): {"str"},  # a relative file name (in tmp_path)
    ("skquant.compress", "path"): {"str"},
}
LIMIT_S = 20.0
LIMIT_BYTES = 256 * 2**20


def _public_functions():
    out = {}
    for modname, module in MODULES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                out[f"{modname}.{name}"] = obj
    return out


def test_every_public_function_is_walked():
    """A new public function must get a valid call in CALLS (and so the walk)."""
    missing = sorted(set(_public_functions()) - set(CALLS))
    assert not missing, f"public functions without a hostile-input walk: {missing}"
    assert set(CALLS) >= set(_public_functions())


def test_metrics_exports_only_its_functions():
    names = set(skquant.metrics.__all__)
    assert "check_array" not in names and "validate_params" not in names
    assert {"mse", "sqnr_db", "code_entropy", "storage_report"} <= names


def _cases():
    for qualname, func in _public_functions().items():
        for param in inspect.signature(func).parameters:
            yield pytest.param(qualname, param, id=f"{qualname}-{param}")


def _finite(value):
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (float, np.floating, np.ndarray)) and np.asarray(value).dtype.kind == "f":
        return bool(np.all(~np.isnan(np.asarray(value))))
    return True


@pytest.mark.parametrize(("qualname", "param"), list(_cases()))
def test_hostile_values_are_refused_naming_the_parameter(qualname, param, tmp_path,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)  # save(path="hostile") writes there
    func = _public_functions()[qualname]
    if qualname not in CALLS:
        pytest.fail(f"{qualname} has no valid call in CALLS")
    call = ALTERNATIVES.get((qualname, param), CALLS[qualname])
    base = call(tmp_path)
    assert param in base, f"CALLS[{qualname!r}] does not give {param!r}"
    func(**base)  # the valid call works
    accepted = set(ACCEPTS.get((qualname, param), set()))
    if inspect.signature(func).parameters[param].default is None:
        accepted.add("None")  # a None default is "not given"
    problems = []
    for vid, value in HOSTILE.items():
        kwargs = {**call(tmp_path), param: value}
        tracemalloc.start()
        start = time.perf_counter()
        try:
            result = func(**kwargs)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            if param not in message:
                problems.append(f"{vid}: {type(exc).__name__} not naming {param!r}: "
                                f"{message[:200]}")
            elif "numba" in type(exc).__module__ or "numba" in message.lower():
                problems.append(f"{vid}: a numba error: {message[:200]}")
        except FileNotFoundError as exc:  # load of a path that is not there
            readers = ("skquant.load", "skquant.decompress")
            if not (qualname in readers and vid == "str" and "hostile" in str(exc)):
                problems.append(f"{vid}: {type(exc).__name__}: {str(exc)[:200]}")
        except Exception as exc:  # IndexError, ZeroDivisionError, MemoryError, ...
            problems.append(f"{vid}: {type(exc).__name__}: {str(exc)[:200]}")
        else:
            if vid not in accepted and not (vid in ANY_NUMBER_2D and param.startswith("X")):
                problems.append(f"{vid}: accepted, returned {result!r:.100}")
            elif not _finite(result) and vid not in ANY_NUMBER_2D:
                problems.append(f"{vid}: accepted, returned NaN: {result!r:.100}")
        finally:
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if elapsed > LIMIT_S:
            problems.append(f"{vid}: took {elapsed:.1f} s")
        if peak > LIMIT_BYTES:
            problems.append(f"{vid}: allocated {peak / 2**20:.0f} MiB")
    assert not problems, f"{qualname}({param}=...):\n" + "\n".join(problems)


# ------------------------------------------------------------- found by the hostile walk
def test_storage_report_memory_is_proportional_to_its_input():
    """lzma at preset 9 takes a 674 MiB encoder whatever the stream; the dictionary is
    bounded by the stream (the same bytes for streams up to 64 MiB)."""
    import lzma

    from skquant._io import _widths, pack_codes

    q = _fitted()
    skquant.metrics.storage_report(q, X)
    tracemalloc.start()
    try:
        report = skquant.metrics.storage_report(q, X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, peak / 2**20
    packed = pack_codes(q.transform(X), _widths(q)).tobytes()
    assert report["lzma_bytes"] == len(lzma.compress(packed, preset=9))


def test_normalized_error_of_columns_near_the_largest_float_is_not_nan():
    """MSE / variance does not depend on the scale: 1.7e308-scale columns give the
    ratio of the unit-scale ones (it was inf / inf = NaN), in the metric and the
    rate-distortion score."""
    Y = np.clip(X / 4, -1, 1)
    Y_hat = np.round(Y * 4) / 4
    big = 1.7e308
    ref = skquant.metrics.normalized_mse(Y, Y_hat, multioutput="raw_values")
    got = skquant.metrics.normalized_mse(Y * big, Y_hat * big, multioutput="raw_values")
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    q = skquant.LloydMaxQuantizer(n_bits=2).fit(Y * big)
    score = skquant.metrics.rate_distortion_score(q, Y * big, lam=0.1)
    assert np.isfinite(score) and score < 0


def test_float16_codes_decode_without_overflow_warnings():
    q = _fitted()
    codes = q.transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = q.inverse_transform(codes.astype(np.float16))
    np.testing.assert_array_equal(got, q.inverse_transform(codes))


def test_panter_dite_at_huge_rates_is_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert skquant.design.panter_dite_mse("gaussian", 1e308) == 0.0


@pytest.mark.parametrize("param", ["max_iter", "n_init"])
@pytest.mark.parametrize("value", [True, np.bool_(True)])
def test_bools_are_not_iteration_counts(param, value):
    """True is an int to Python, not a count of iterations or starts: refused in the
    constructor's and set_params's value, at fit."""
    for q in (skquant.LloydMaxQuantizer(**{param: value}),
              skquant.LloydMaxQuantizer().set_params(**{param: value})):
        with pytest.raises(ValueError, match=param):
            q.fit(X)


def test_max_iter_beyond_int64_runs_to_convergence():
    """max_iter=2**70 is a valid "until convergence" (it was an OverflowError or a
    numba typing error)."""
    ref = skquant.LloydMaxQuantizer(n_bits=2, max_iter=10**6).fit(X)
    got = skquant.LloydMaxQuantizer(n_bits=2, max_iter=2**70).fit(X)
    np.testing.assert_array_equal(got.levels_, ref.levels_)
