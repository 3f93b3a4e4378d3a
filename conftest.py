"""Session setup that must happen before numba is imported (pytest loads this file
before any test module, and before anything else imports numba).

numba fixes its largest thread count when it is imported: 4 (or the core count, if
higher) lets the determinism tests compare 1, 2 and 4 threads on any machine;
tests/conftest.py then starts the tests at the core count, so that nothing else
oversubscribes the machine.
"""

import importlib.util
import os

os.environ.setdefault("NUMBA_NUM_THREADS", str(max(4, os.cpu_count() or 1)))


def pytest_configure(config):
    # here rather than in pyproject.toml: resolving the category imports numba
    config.addinivalue_line("filterwarnings", "error::numba.NumbaWarning")


# skquant/dask.py is collected for its doctests; without the dask extra it cannot be
# imported (tests/test_dask.py skips itself).
collect_ignore = []
try:
    import dask.array  # noqa: F401
    import distributed  # noqa: F401
except ImportError:
    collect_ignore.append("skquant/dask.py")
# skquant/onnx.py likewise needs the onnx extra (its doctests run onnxruntime).
try:
    import onnxruntime  # noqa: F401
    import skl2onnx  # noqa: F401
except ImportError:
    collect_ignore.append("skquant/onnx.py")
# skquant/torch.py likewise needs the torch extra (tests/test_torch.py skips itself);
# find_spec does not import torch.
if importlib.util.find_spec("torch") is None:
    collect_ignore.append("skquant/torch.py")
