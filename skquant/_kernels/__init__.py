"""Every numba kernel of skquant, behind one JIT configuration (``_config``).

Estimators import their entry points from here and never call ``numba`` themselves.
Kernels take preallocated output buffers where that saves a copy; the convergence
loops stay in Python, in the estimators, except where one iteration is far cheaper
than a Python round trip (Lloyd on a column summary).
"""

from ._binary import (  # noqa: F401
    BLOCK,
    CLAMP,
    STAT_PARTS,
    bsq_codebook_partials,
    bsq_sample_terms,
    code_bit_counts,
    code_counts,
    hamming_knn,
    hamming_matrix,
    rotate_sign_pack,
    sign_pack,
)
from ._bitpack import (  # noqa: F401
    PACK_CHUNK,
    pack_bits,
    packed_size,
    unpack_bits,
)
from ._bsq_entropy import bsq_clamped_entropy  # noqa: F401
from ._dead_zone import dead_zone_cost  # noqa: F401, E402
from ._ecsq import ecsq_partition  # noqa: F401, E402
from ._optimal import optimal_partition  # noqa: F401, E402
from ._range_bnb import abs_quantile, range_bnb, two_cell_bound  # noqa: F401
from ._rans import rans_decode, rans_slot_bits, rans_tables  # noqa: F401
from ._scalar import (  # noqa: F401
    CHUNK,
    cell_positions,
    centroids,
    decode,
    encode,
    lloyd,
    lloyd_escape,
    lloyd_step,
    partition_cost,
    scan_grid_encode,
    split_merge,
    sse_exact,
    summarize_sorted,
    window_grid_encode,
)
from ._sketch import (  # noqa: F401
    bin_index,
    bin_range,
    sketch_add,
    sketch_merge_into,
)
from ._uniform import (  # noqa: F401
    affine_encode,
    family_sse,
    grid_encode,
    line_sweep,
)
