"""skquant: scikit-learn compatible quantizers with numba kernels."""

from . import design, metrics
from ._lloyd_max import LloydMaxQuantizer

__version__ = "0.1.0"

__all__ = ["LloydMaxQuantizer", "design", "metrics"]
