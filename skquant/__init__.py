"""skquant: scikit-learn compatible quantizers with numba kernels."""

from . import design, metrics
from ._allocation import BitAllocation, allocate_bits, reverse_water_filling
from ._binary_spherical import BinarySphericalEncoder, bsq_auxiliary_loss, hamming_distances, hamming_knn  # noqa: E501,F401
from ._compander import CompanderQuantizer
from ._display import QuantizerDisplay, RateDistortionDisplay
from ._io import load, save
from ._lloyd_max import LloydMaxQuantizer
from ._summary import ColumnSketch
from ._uniform_clip import UniformClipQuantizer

__version__ = "0.1.0"

__all__ = [
    "BinarySphericalEncoder",
    "BitAllocation",
    "ColumnSketch",
    "CompanderQuantizer",
    "LloydMaxQuantizer",
    "QuantizerDisplay",
    "RateDistortionDisplay",
    "UniformClipQuantizer",
    "allocate_bits",
    "bsq_auxiliary_loss",
    "design",
    "hamming_distances",
    "hamming_knn",
    "load",
    "metrics",
    "reverse_water_filling",
    "save",
]
