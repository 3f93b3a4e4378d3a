import os

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# ../conftest.py lets numba launch up to 4 threads, before numba is imported (for the
# determinism tests); the tests start at the core count, so they do not oversubscribe
numba.set_num_threads(min(numba.config.NUMBA_NUM_THREADS, os.cpu_count() or 1))

# Bounded examples by default so the suite stays fast; ``--hypothesis-profile=thorough``
# searches much longer.
settings.register_profile(
    "default", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("default")


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):
    """Both float dtypes the kernels are compiled for (scikit-learn's fixture name)."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
