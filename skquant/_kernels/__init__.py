"""Every numba kernel of skquant, behind one JIT configuration (``_config``).

Estimators import their entry points from here and never call ``numba`` themselves.
Kernels take preallocated output buffers where that saves a copy; the convergence
loops stay in Python, in the estimators, except where one iteration is far cheaper
than a Python round trip (Lloyd on a column summary).

The names are loaded on first use (``import skquant._kernels`` imports neither numba
nor a kernel module): a fit small enough for the NumPy twins (``_auto``) never
imports numba.
"""

import importlib

_MODULES = {
    "_binary": ("BLOCK", "CLAMP", "STAT_PARTS", "bsq_codebook_partials",
                "bsq_sample_terms", "code_bit_counts", "code_counts", "hamming_knn",
                "hamming_matrix", "rotate_sign_pack", "sign_pack",
                "word_statistics"),
    "_adaptive": ("adaptive_bits", "adaptive_decode", "adaptive_encode"),
    "_bitpack": ("PACK_CHUNK", "pack_bits", "packed_size", "unpack_bits"),
    "_bsq_entropy": ("bsq_clamped_entropy",),
    "_dead_zone": ("dead_zone_cost",),
    "_ecsq": ("ecsq_partition",),
    "_optimal": ("optimal_partition",),
    "_range_bnb": ("abs_quantile", "abs_quantile_sorted", "granular_table", "range_bnb",
                   "two_cell_bound"),
    "_rans": ("rans_decode", "rans_slot_bits", "rans_tables"),
    "_rows": ("rows_order2", "rows_order2_half"),
    "_scalar": ("CHUNK", "cell_positions", "centroids", "decode", "encode", "lloyd",
                "lloyd_escape", "lloyd_step", "partition_cost", "POINT_BITS", "POINT_NONE",
                "key_grid_encode", "point_grid_encode", "scan_grid_encode",
                "split_merge", "sse_exact", "summarize_sorted", "TREE_LEVELS", "tree_encode",
                "tree_flat_encode", "tree_stretch_encode", "window_flat_encode",
                "window_grid_encode", "window_rows_encode"),
    "_sketch": ("LIMIT", "bin_index", "bin_range", "sketch_add", "sketch_merge_into"),
    "_uniform": ("affine_encode", "family_sse", "grid_encode", "line_sweep"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name):
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
