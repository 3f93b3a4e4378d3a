"""A mergeable, bounded-size summary of one feature for streaming and distributed fits.

See :mod:`skquant._kernels._sketch` for the bins. The sketch of a feature is fixed by
its ``centre`` and its power-of-two ``scale`` (taken from the first batch); sketches
with the same centre and scale merge exactly, associatively and commutatively.
"""

import numpy as np

from . import _kernels as K
from ._base import ColumnSummary

MANTISSA_BITS = 12  # 4096 bins per octave: width <= 2**-12 of |x - centre|, or of scale
MAX_BINS = 2**16  # per feature: 6 float64 rows, 3 MiB at most


def _robust_log2_scale(x, w):
    """log2 of a power-of-two scale near the spread of the first batch (never zero)."""
    q25, q50, q75 = np.percentile(x, [25, 50, 75]) if w is None else _wq(x, w)
    spread = q75 - q25
    if not spread > 0:
        spread = np.max(np.abs(x - q50))
    if not spread > 0:
        spread = max(abs(q50), 1.0)
    return int(np.round(np.log2(spread))), float(q50)


def _wq(x, w):
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    return [float(x[order][np.searchsorted(cw, p * cw[-1])]) for p in (0.25, 0.5, 0.75)]


class ColumnSketch:
    """Weighted histogram of one feature with exact per-bin moments.

    Parameters
    ----------
    centre : float
    log2_scale : int
        Values are binned as ``(x - centre) * 2**-log2_scale``.
    """

    def __init__(self, centre, log2_scale, *, mantissa_bits=MANTISSA_BITS, max_bins=MAX_BINS):
        self.centre = float(centre)
        self.log2_scale = int(log2_scale)
        self.mantissa_bits = int(mantissa_bits)
        self.max_bins = int(max_bins)
        self.level = 0
        self.start = 0
        self.store = np.zeros((6, 0))

    @classmethod
    def from_batch(cls, x, sample_weight=None, **kwargs):
        """A sketch whose centre and scale come from this batch, holding it."""
        x = np.asarray(x, dtype=np.float64)
        positive = x if sample_weight is None else x[sample_weight > 0]
        log2_scale, centre = _robust_log2_scale(
            positive, None if sample_weight is None else sample_weight[sample_weight > 0]
        )
        return cls(centre, log2_scale, **kwargs).add(x, sample_weight)

    @property
    def inv_scale(self):
        return 2.0**-self.log2_scale

    @property
    def nbytes(self):
        return self.store.nbytes

    def _same_grid(self, other):
        if (self.centre, self.log2_scale, self.mantissa_bits) != (
            other.centre, other.log2_scale, other.mantissa_bits
        ):
            raise ValueError(
                "Only sketches with the same centre, scale and mantissa bits merge; got "
                f"({self.centre}, 2**{self.log2_scale}) and ({other.centre}, 2**{other.log2_scale})."
            )

    def _resize(self, lo0, hi0, level):
        """Re-bin to cover level-0 indices [lo0, hi0] (plus current bins) within max_bins."""
        n_old = self.store.shape[1]
        if n_old:
            lo0 = min(lo0, self.start << self.level)
            hi0 = max(hi0, ((self.start + n_old) << self.level) - 1)
        level = max(level, self.level)
        while (hi0 >> level) - (lo0 >> level) + 1 > self.max_bins:
            level += 1
        start, n = lo0 >> level, (hi0 >> level) - (lo0 >> level) + 1
        if n_old and (start, n, level) == (self.start, n_old, self.level):
            return
        store = np.zeros((6, n))
        if n_old:
            K.sketch_merge_into(store, start, self.store, self.start, level - self.level)
        self.store, self.start, self.level = store, start, level

    def add(self, x, sample_weight=None):
        """Add a batch of values (1-D, finite) with optional non-negative weights."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.size == 0:
            return self
        lo, hi, finite = K.bin_range(x, self.centre, self.inv_scale, self.mantissa_bits)
        if not finite:
            raise ValueError("ColumnSketch.add got NaN or inf values.")
        self._resize(lo, hi, self.level)
        w = np.empty(0) if sample_weight is None else np.ascontiguousarray(sample_weight, np.float64)
        K.sketch_add(
            x, w, self.centre, self.inv_scale, self.mantissa_bits, self.level, self.start, self.store
        )
        return self

    def merge(self, other):
        """A new sketch holding both (the operands are unchanged)."""
        self._same_grid(other)
        out = ColumnSketch(
            self.centre, self.log2_scale, mantissa_bits=self.mantissa_bits,
            max_bins=max(self.max_bins, other.max_bins),
        )
        for sk in (self, other):
            if sk.store.shape[1]:
                lo0 = sk.start << sk.level
                hi0 = ((sk.start + sk.store.shape[1]) << sk.level) - 1
                out._resize(lo0, hi0, sk.level)
        for sk in (self, other):
            if sk.store.shape[1]:
                K.sketch_merge_into(out.store, out.start, sk.store, sk.start, out.level - sk.level)
        return out

    def to_summary(self):
        """The non-empty bins as a :class:`ColumnSummary` (exact moments per bin)."""
        s = self.store
        w = s[0] + s[1]
        keep = w > 0
        if not keep.any():
            raise ValueError("The sketch is empty.")
        scale = 2.0**self.log2_scale
        w = w[keep]
        s1 = (s[2] + s[3])[keep] * scale
        s2 = (s[4] + s[5])[keep] * scale * scale
        u = self.centre + s1 / w
        zero = np.zeros(1)
        return ColumnSummary(
            u, np.concatenate([zero, np.cumsum(w)]), np.concatenate([zero, np.cumsum(s1)]),
            np.concatenate([zero, np.cumsum(s2)]), self.centre,
        )
