"""skquant: scikit-learn compatible quantizers with numba kernels."""

from . import design, metrics
from ._allocation import BitAllocation, allocate_bits, reverse_water_filling
from ._lloyd_max import LloydMaxQuantizer

__version__ = "0.1.0"

__all__ = [
    "BitAllocation",
    "LloydMaxQuantizer",
    "allocate_bits",
    "design",
    "metrics",
    "reverse_water_filling",
]
