import numpy as np
import pytest


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def global_dtype(request):
    """Both float dtypes the kernels are compiled for (scikit-learn's fixture name)."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
