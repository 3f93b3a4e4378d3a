"""Threads: one fitted estimator shared by many at once, and numba's thread count.

doc/guarantees.rst names these tests as the backing of its thread-safety promise.
"""

import os
import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

import skquant
from skquant import (
    BinarySphericalEncoder,
    CompanderQuantizer,
    LloydMaxQuantizer,
    UniformClipQuantizer,
)

ROOT = Path(__file__).resolve().parents[1]
N_THREADS = 8
# one case per estimator type and encoding path (the grid and the affine encoders of
# UniformClip and Compander, the plain and rotated sign kernels of the encoder)
ESTIMATORS = {
    "lloyd-max": lambda: LloydMaxQuantizer(n_bits=3),
    "lloyd-max-16bit": lambda: LloydMaxQuantizer(n_bits=9),  # uint16 codes
    "uniform-clip": lambda: UniformClipQuantizer(n_bits=4),
    "uniform-midtread": lambda: UniformClipQuantizer(n_bits=8, mode="midtread"),
    "compander": lambda: CompanderQuantizer(n_bits=4, compander="mu-law"),
    "encoder": lambda: BinarySphericalEncoder(),
    "encoder-itq": lambda: BinarySphericalEncoder(
        3, rotation="itq", center=True, random_state=0, encode="index"
    ),
}


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    # many chunks of rows, so that every parallel kernel splits the work
    return np.c_[rng.standard_normal(60_000), rng.laplace(size=60_000),
                 rng.uniform(-2, 5, 60_000), rng.standard_normal(60_000) * 1e-3]


def _fit(name, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 9 bits on 60 000 rows: not every level used
        return ESTIMATORS[name]().fit(X)


def _in_threads(func, n_threads=N_THREADS):
    """``[func(i) for i in range(n_threads)]``, all running at once; errors re-raised."""
    results, errors = [None] * n_threads, []
    start = threading.Barrier(n_threads)

    def run(i):
        try:
            start.wait()
            results[i] = func(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("name", ESTIMATORS)
def test_eight_threads_share_one_estimator(name, X):
    # the shared estimator has never transformed (lazily built tables are built under
    # contention); the serial reference comes from an identical fit
    shared, serial = _fit(name, X), _fit(name, X)
    codes = serial.transform(X)
    expected = (codes, serial.inverse_transform(codes))

    def work(i):
        out = []
        for _ in range(3):
            c = shared.transform(X)
            out.append((c, shared.inverse_transform(c)))
        return out

    for per_thread in _in_threads(work):
        for got in per_thread:
            for a, b in zip(got, expected):
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_threads_survive_the_workqueue_layer(tmp_path):
    """numba's workqueue layer (no OpenMP, no TBB) aborts the process on concurrent
    parallel launches; the kernels take turns under it, so threads still work."""
    script = tmp_path / "workqueue.py"
    script.write_text(
        "import sys, threading\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "import numba, numpy as np\n"
        "from skquant import BinarySphericalEncoder, LloydMaxQuantizer\n"
        "X = np.random.default_rng(0).standard_normal((50_000, 4))\n"
        "ests = [LloydMaxQuantizer(n_bits=3).fit(X), BinarySphericalEncoder().fit(X)]\n"
        "ref = [e.transform(X) for e in ests]\n"
        "ok = []\n"
        "def work():\n"
        "    ok.append(all(np.array_equal(e.transform(X), r)\n"
        "                  for _ in range(5) for e, r in zip(ests, ref)))\n"
        "ts = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(numba.threading_layer(), len(ok), all(ok))\n"
    )
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["workqueue", "8", "True"]


def _every_method(X):
    """Fit, transform, inverse_transform, score and fit_transform of every estimator
    class (the 9-bit case adds only time)."""
    for name in set(ESTIMATORS) - {"lloyd-max-16bit"}:
        est = _fit(name, X)
        codes = est.transform(X)
        est.inverse_transform(codes)
        est.score(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ESTIMATORS[name]().fit_transform(X)


@pytest.mark.parametrize("n_threads", [1, 3])
def test_numba_thread_count_is_left_alone(n_threads, X):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(n_threads)
        _every_method(X[:1000])
        assert numba.get_num_threads() == n_threads
        # and in other threads, which start from numba's default
        counts = _in_threads(
            lambda i: (_every_method(X[:300]), numba.get_num_threads())[1], n_threads=2
        )
        assert counts == [numba.config.NUMBA_NUM_THREADS] * 2
    finally:
        numba.set_num_threads(before)


def test_library_never_sets_numba_thread_count():
    """No module of skquant calls numba.set_num_threads (so none can forget to restore
    it); the threads a fit starts read the count, they do not change it."""
    package = Path(skquant.__file__).parent
    sources = sorted(package.rglob("*.py"))
    assert len(sources) > 10
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"set_num_threads\s*\(", text), path
