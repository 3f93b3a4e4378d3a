"""skquant: scikit-learn compatible quantizers with numba kernels."""

from . import design, metrics
from ._allocation import BitAllocation, allocate_bits, reverse_water_filling
from ._binary_spherical import BinarySphericalEncoder, bsq_auxiliary_loss
from ._hamming import hamming_distances, hamming_knn
from ._lloyd_max import LloydMaxQuantizer

__version__ = "0.1.0"

__all__ = [
    "BinarySphericalEncoder",
    "BitAllocation",
    "LloydMaxQuantizer",
    "allocate_bits",
    "bsq_auxiliary_loss",
    "design",
    "hamming_distances",
    "hamming_knn",
    "metrics",
    "reverse_water_filling",
]
