"""Every numba kernel of skquant, behind one JIT configuration (``_config``).

Estimators import their entry points from here and never call ``numba`` themselves.
Kernels take preallocated output buffers where that saves a copy; the convergence
loops stay in Python, in the estimators.
"""

from ._scalar import (  # noqa: F401
    CHUNK,
    cell_positions,
    centroids,
    decode,
    encode,
    lloyd,
    lloyd_step,
    optimal_partition,
    partition_cost,
    sse_exact,
    summarize_sorted,
)
from ._binary import (  # noqa: F401
    BLOCK,
    CLAMP,
    FLOAT_BITS,
    bsq_half_tables,
    bsq_sample_terms,
    center_sign_pack,
    hamming_knn,
    hamming_matrix,
    rotate_sign_pack,
    sign_pack,
)
