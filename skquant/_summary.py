"""Column summaries: what every scalar-quantizer design works from.

A :class:`ColumnSummary` is a column collapsed to increasing support points with
weights and prefix sums. ``fit`` builds it exactly from the sorted column
(:func:`summarize_column`); ``partial_fit`` and the Dask fit build it from a
:class:`ColumnSketch`, a mergeable weighted histogram of bounded size whose support
points are the centroids of its bins (see ``doc/streaming.rst`` for the accuracy
guarantee).
"""

import threading
from typing import NamedTuple

import numpy as np

from . import _libm
from ._kernels import _auto as K

_NO_WEIGHTS = np.empty(0, dtype=np.float64)


def weighted_quantile(values, weights, q):
    """Inverted-CDF quantile(s): the smallest value whose cumulative weight reaches
    ``q`` times the total (``q`` a float or an array of them in [0, 1]).

    The one weighted quantile of skquant: clipping percentiles, medians, the sketch's
    first-batch spread. ``weights=None`` weighs every value equally.
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(np.ones(values.shape[0]) if weights is None else weights[order])
    return _sorted_quantile(values[order], cum, q)


def dot(a, b):
    """``sum(a * b)`` of two 1-D float64 arrays, the same on every machine.

    ``np.dot`` calls the BLAS, whose kernel (chosen for the CPU at run time: OpenBLAS's
    Haswell, SkylakeX, ...) fixes the order of the sum, so the last bits of a fit
    would depend on the machine. An element-wise product (exact rounding) and NumPy's
    pairwise sum (one order on every CPU) do not.
    """
    return float(np.add.reduce(np.multiply(a, b)))


def sorted_unique(a):
    """``np.unique(a)`` of a 1-D integer array, by a sort and a mask of the changes.

    The same values in the same order, without ``np.unique``'s overhead, which NumPy
    2.4 makes larger than the sort itself on the few thousand grid indices that a
    column's default fit draws.
    """
    s = np.sort(a)
    if s.shape[0] < 2:
        return s
    keep = np.empty(s.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _sorted_quantile(u, cum, q):
    """:func:`weighted_quantile` of increasing ``u`` with cumulative weights ``cum``."""
    i = np.searchsorted(cum, np.asarray(q) * cum[-1], side="left")
    out = u[np.minimum(i, u.shape[0] - 1)]
    return float(out) if np.ndim(out) == 0 else out


class ColumnSummary(NamedTuple):
    """A sorted column collapsed to distinct values with weights.

    ``u`` holds the ``k`` distinct values (increasing); ``W``, ``S1``, ``S2`` the prefix
    sums (length ``k + 1``) of the weights, of ``w * (u - shift)`` and of
    ``w * (u - shift) ** 2``. Every column design works from this summary, so the
    same code serves weighted data, tied data and streamed summaries.

    A sketch's summary puts each bin's weight at the bin's centroid; ``within *
    2**within_exp`` is the weighted squared error of the data about those centroids
    (zero for an exact summary; the power of two keeps it finite for columns near the
    largest float). No design can change it, so designs ignore it; :meth:`sse` adds
    it.
    """

    u: np.ndarray
    W: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    shift: float
    within: float = 0.0
    within_exp: int = 0

    @property
    def within_sse(self):
        """The squared error about the support points (``inf`` if it overflows)."""
        with np.errstate(over="ignore"):
            return float(np.ldexp(self.within, self.within_exp))

    @property
    def weights(self):
        """The weight of each distinct value."""
        return np.diff(self.W)

    @property
    def total_weight(self):
        return self.W[-1]

    def mean_std(self):
        """Weighted mean and standard deviation of the column (``within`` included)."""
        total = self.W[-1]
        mean = self.S1[-1] / total
        var = max((self.S2[-1] + self.within_sse) / total - mean * mean, 0.0)
        return self.shift + mean, float(np.sqrt(var))

    def quantile(self, q):
        """Weighted inverted-CDF quantile(s) of the column (see :func:`weighted_quantile`)."""
        return _sorted_quantile(self.u, self.W[1:], q)

    def location_scale(self, distribution):
        """Maximum-likelihood location and scale of the column for a named density:
        ``"laplace"``: the weighted median and ``sqrt(2)`` times the mean absolute
        deviation from it; ``"uniform"``: the mid-range and ``range / (2 sqrt(3))``;
        anything else (``"gaussian"``, scipy distributions): mean and standard deviation.
        """
        u = self.u
        if distribution == "laplace":
            loc = self.quantile(0.5)
            return loc, np.sqrt(2.0) * (dot(self.weights, np.abs(u - loc)) / self.W[-1])
        if distribution == "uniform":
            return 0.5 * (u[0] + u[-1]), (u[-1] - u[0]) / (2.0 * np.sqrt(3.0))
        return self.mean_std()

    def cost(self, pos):
        """Weighted squared error of the partition ``pos`` with centroid levels."""
        return K.partition_cost(self.W, self.S1, self.S2, pos)

    def centroids(self, pos, levels):
        """Centroids of the cells ``pos``; empty cells keep ``levels`` (a copy is returned)."""
        out = np.array(levels, dtype=np.float64)
        K.centroids(self.W, self.S1, self.shift, np.asarray(pos, dtype=np.int64), out)
        return out

    def positions(self, thresholds):
        """Cell boundaries (indices into ``u``) of the given thresholds."""
        pos = np.empty(len(thresholds) + 2, dtype=np.int64)
        K.cell_positions(self.u, np.asarray(thresholds, dtype=np.float64), pos)
        return pos

    def sse(self, thresholds, levels):
        """Weighted squared error of the quantizer (thresholds, levels): exact for an
        exact summary; for a sketch's, each bin is coded as its centroid."""
        pos = self.positions(thresholds)
        sse = K.sse_exact(self.u, self.W, pos, np.asarray(levels, dtype=np.float64))
        return sse + self.within_sse


class SummaryScratch:
    """Memory that :func:`summarize_column` reuses from one column to the next on each
    thread: the sorted copy of the column and the block of its prefix sums, 32 bytes a
    value. Fresh pages cost about as much as the summary's own pass, and a fit
    summarises its columns one after the other on each thread, so each thread's pages
    fault once per fit instead of once per column.

    A summary built in a scratch is valid until the next column is summarised in it on
    the same thread: the fit designs each column before it summarises the next.
    """

    def __init__(self):
        self._local = threading.local()

    def buffers(self, n):
        """This thread's sorted-copy buffer (``(n,)``) and prefix-sum block
        (``(3, m)``, ``m > n``)."""
        held = getattr(self._local, "held", None)
        if held is None or held[0].shape[0] < n:
            held = (np.empty(n), np.empty((3, n + 1)))
            self._local.held = held
        return held[0][:n], held[1]


def summarize_column(column, sample_weight=None, scratch=None):
    """Sort one column and collapse it to a :class:`ColumnSummary` (built in the
    buffers of ``scratch``, a :class:`SummaryScratch`, when given).

    Returns ``None`` when the column holds NaN or inf (sorting puts them at the ends).
    """
    out = None
    if sample_weight is None:
        if scratch is None:
            xs = np.array(column, dtype=np.float64)
        else:
            xs, out = scratch.buffers(column.shape[0])
            np.copyto(xs, column)
        xs.sort()
        ws = _NO_WEIGHTS
    else:
        order = np.argsort(column, kind="stable")
        xs = np.asarray(column, dtype=np.float64)[order]
        ws = sample_weight[order]
        if scratch is not None:
            out = scratch.buffers(column.shape[0])[1]
    if not (np.isfinite(xs[0]) and np.isfinite(xs[-1])):
        return None
    shift = float(xs[xs.shape[0] // 2])
    u, W, S1, S2 = K.summarize_sorted(xs, ws, shift, out)
    return ColumnSummary(u, W, S1, S2, shift)


def unit_summary(summary, largest=0.0):
    """The summary of the column divided by a power of two near its largest ``|x|``
    (or ``largest``, if that is larger), and that power (1 for columns of ordinary
    magnitude).

    Designs square the data: near 1e300 the squares overflow and on subnormal columns
    they underflow. Dividing by a power of two is exact, so a design on the scaled
    column, multiplied back (:func:`from_unit`), is the design of the column itself.
    ``largest`` is a magnitude the design computes with besides the data (a clipping
    range given by the user), which must not overflow either.
    """
    top = max(-summary.u[0], summary.u[-1], abs(float(largest)), np.finfo(float).tiny)
    exponent = int(np.frexp(top)[1])
    if -64 <= exponent <= 64:
        return summary, 1.0
    # 2**(exponent - 1) <= max|x| < 2**exponent; 2**1024 itself would overflow
    unit = float(np.ldexp(1.0, exponent - 1))
    u, W, S1, S2 = K.summarize_sorted(summary.u / unit, summary.weights, summary.shift / unit)
    within_exp = summary.within_exp - 2 * (exponent - 1)
    return ColumnSummary(u, W, S1, S2, summary.shift / unit, summary.within, within_exp), unit


def settled_summary(summary):
    """``summary`` without the values that :func:`unit_summary` cannot tell apart.

    Rescaling a column near the largest float by a power of two sends its values below
    ``2**-1074`` of the largest one to zero, and values whose weight vanishes in the
    float64 prefix sums (weights spanning float64's range) have no weight of their own:
    the scaled summary then has fewer distinct values than the column's. Designs work
    on the scaled one, so the base decides from this one, in the data's units, whether
    a column has more values than levels. Equal to ``summary`` on every ordinary column.
    """
    while True:
        scaled, unit = unit_summary(summary)
        if unit == 1.0:  # an ordinary column (weightless values are left to the designs)
            return summary
        w = np.diff(scaled.W)
        if scaled.u.shape[0] == summary.u.shape[0] and w.all():
            return summary
        u = scaled.u * unit  # exact: these are the data's own values (or 0)
        u, W, S1, S2 = K.summarize_sorted(u, w, summary.shift)
        summary = ColumnSummary(u, W, S1, S2, summary.shift, summary.within,
                                summary.within_exp)


def from_unit(thresholds, levels, unit):
    """A design computed in units of ``unit`` (a power of two), in the data's units.

    Exact, and without overflow on the way: a level beyond the largest float (a
    Gaussian design's outer level on data near 1.8e308) is the largest float, and a
    threshold beyond it is ``+-inf`` (no finite value reaches it, as for the true
    threshold), where ``t * unit`` would warn of the overflow.
    """
    big = np.finfo(np.float64).max
    t = np.asarray(thresholds, dtype=np.float64)
    y = np.asarray(levels, dtype=np.float64)
    if unit == 1.0:
        return t, np.clip(y, -big, big)
    limit = big / unit if unit > 1.0 else np.inf  # exact: a power of two
    t = np.where(np.abs(t) > limit, np.copysign(np.inf, t), t)
    inside = np.isfinite(t)
    t[inside] *= unit
    return t, np.clip(y, -limit, limit) * unit


def midpoints(levels):
    """Midpoints ``(y[k] + y[k+1]) / 2`` of increasing levels, without overflowing
    when both are near the largest float (then ``y[k] / 2 + y[k+1] / 2``)."""
    y = np.asarray(levels, dtype=np.float64)
    with np.errstate(over="ignore"):
        m = 0.5 * (y[1:] + y[:-1])
    wide = ~np.isfinite(m)
    if wide.any():
        m[wide] = 0.5 * y[1:][wide] + 0.5 * y[:-1][wide]
    return m


_NEGLIGIBLE_WEIGHT = 2.0**-900  # in the sketch's weight unit: see ColumnSketch._in_units
MANTISSA_BITS = 12  # 4096 bins per octave: width <= 2**-12 of |x - centre|, or of scale
MAX_BINS = 2**16  # per feature: 6 float64 rows, 3 MiB at most


_SPAN_MARGIN = 100


def _robust_log2_scale(x, w):
    """log2 of a power-of-two scale near the spread of the first batch (never zero),
    and the batch's median; without overflow near the largest float or underflow on
    subnormal batches."""
    q25, q50, q75 = weighted_quantile(x, w, [0.25, 0.5, 0.75])
    half = 0.5 * q75 - 0.5 * q25  # half the spread: no overflow
    widest = np.max(np.abs(0.5 * x - 0.5 * q50))
    if not half > 0:
        half = widest
    if half > 0:
        # the batch's farthest value stays 2**(LIMIT - _SPAN_MARGIN) scales within the
        # grid's range even when its quartiles are many octaves closer (a batch of
        # mostly tiny values with a few near the largest float): bins near the centre
        # are then at most 2**-_SPAN_MARGIN of that value wide, and later batches may
        # reach 2**_SPAN_MARGIN times farther
        log2 = max(int(np.round(_libm.log2(half))),
                   int(np.frexp(widest)[1]) - (K.LIMIT - _SPAN_MARGIN))
        return log2 + 1, float(q50)
    # a constant first batch: bins relative to its magnitude
    return (int(np.round(_libm.log2(abs(q50)))) if q50 != 0 else 0) - 20, float(q50)


def _grid_scaling(centre, log2_scale):
    """``(a1, a2, c, s)`` of the sketch kernels for a grid: ``v = ((x a1) a2 - c) s``
    with ``a1 a2 s = 2**-log2_scale`` and ``c = centre a1 a2``, each a float64 that
    neither overflows nor underflows (see ``skquant._kernels._sketch``)."""
    if -960 <= log2_scale <= 960:  # ordinary columns: v = (x - centre) 2**-log2_scale
        return 1.0, 1.0, centre, float(np.ldexp(1.0, -log2_scale))
    # values in units of 2**unit: subnormal columns are scaled up (exactly), those
    # near the largest float down (a quarter), before the subtraction
    unit = log2_scale + 60 if log2_scale < 0 else 2
    half = -unit // 2
    return (float(np.ldexp(1.0, half)), float(np.ldexp(1.0, -unit - half)),
            float(np.ldexp(centre, -unit)), float(np.ldexp(1.0, unit - log2_scale)))


def _weight_unit(weights):
    """The unit the weights of a first batch are held in (see ``from_batch``)."""
    if weights.size == 0:
        return 1.0
    top = float(weights.max())
    if np.all(weights == top):
        return top
    return top if not 2.0**-64 <= top <= 2.0**64 else 1.0


class ColumnSketch:
    """Mergeable weighted histogram of one feature, with exact moments per bin.

    The summary behind ``partial_fit`` and :func:`skquant.dask.fit` (see
    :ref:`streaming`): values are binned as ``v = (x - centre) * 2**-log2_scale`` into
    ``2**mantissa_bits`` equal bins for ``|v| < 1`` and as many per octave beyond, and
    every bin keeps its weight and the sums of ``w v`` and ``w v**2`` in double-double
    arithmetic. Adding and merging are sums of bins, so batches and merges in any order
    give the same moments; at most ``max_bins`` bins are kept (adjacent bins merge in
    pairs when the range grows), so the size does not depend on the number of rows.

    Parameters
    ----------
    centre : float
        Subtracted before binning (the first batch's median in :meth:`from_batch`).
    log2_scale : int
        The scale ``2**log2_scale`` of the equal bins near the centre.
    mantissa_bits : int, default=12
        Bins per unit of scale and per octave: ``2**mantissa_bits``.
    max_bins : int, default=65536
        Largest number of bins (six float64 each: 3 MiB by default).
    weight_unit : float, default=1.0
        The unit the bins count weights in (weights count relative to each other only:
        see :meth:`from_batch`).

    Attributes
    ----------
    level : int
        How many times adjacent bins were merged in pairs.
    nbytes : int
        Memory held by the bins.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import ColumnSketch
    >>> rng = np.random.default_rng(0)
    >>> a = ColumnSketch.from_batch(rng.standard_normal(10_000))
    >>> b = ColumnSketch(a.centre, a.log2_scale).add(rng.standard_normal(10_000))
    >>> s = a.merge(b).to_summary()
    >>> float(s.total_weight), a.merge(b).nbytes <= 6 * 8 * 2**16
    (20000.0, True)
    """

    def __init__(self, centre, log2_scale, *, mantissa_bits=MANTISSA_BITS, max_bins=MAX_BINS,
                 weight_unit=1.0):
        self.centre = float(centre)
        self.log2_scale = int(log2_scale)
        self.mantissa_bits = int(mantissa_bits)
        self.max_bins = int(max_bins)
        self.weight_unit = float(weight_unit)
        self.weight_exp = 0  # the bins hold weights in units of weight_unit * 2**weight_exp
        self.level = 0
        self.start = 0
        self.store = np.zeros((6, 0))

    @property
    def grid(self):
        """What sketches must share to merge (and the bin limit):
        ``ColumnSketch(*grid)`` is an empty sketch on the same grid."""
        return (self.centre, self.log2_scale, self.mantissa_bits, self.max_bins,
                self.weight_unit)

    @classmethod
    def from_grid(cls, grid):
        """An empty sketch on ``grid`` (see :attr:`grid`).

        Parameters
        ----------
        grid : tuple
            ``(centre, log2_scale, mantissa_bits, max_bins, weight_unit)``.

        Returns
        -------
        ColumnSketch
            A sketch with no values, which merges with those on ``grid``.
        """
        centre, log2_scale, mantissa_bits, max_bins, weight_unit = grid
        return cls(centre, log2_scale, mantissa_bits=mantissa_bits, max_bins=max_bins,
                   weight_unit=weight_unit)

    @classmethod
    def from_batch(cls, x, sample_weight=None, **kwargs):
        """A sketch whose centre, scale and weight unit come from this batch, holding it.

        Weights count relative to each other only: the sketch holds them in units of
        the batch's largest weight when they are extreme (beyond ``2**+-64``) and of
        their common value when they are all equal (so equal weights give exactly the
        sums of no weights), else as they are.

        Parameters
        ----------
        x : array-like of shape (n_samples,)
            Finite values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.
        **kwargs
            ``mantissa_bits``, ``max_bins`` or ``weight_unit``, as in the constructor.

        Returns
        -------
        ColumnSketch
            A new sketch holding ``x``.
        """
        x = np.asarray(x, dtype=np.float64)
        if sample_weight is None:
            log2_scale, centre = _robust_log2_scale(x, None)
            return cls(centre, log2_scale, **kwargs).add(x)
        positive = sample_weight[sample_weight > 0]
        unit = kwargs.setdefault("weight_unit", _weight_unit(positive))
        log2_scale, centre = _robust_log2_scale(x[sample_weight > 0], positive / unit)
        return cls(centre, log2_scale, **kwargs).add(x, sample_weight)

    @property
    def scaling(self):
        """``(a1, a2, c, s)``: how the kernels compute ``v`` without overflow."""
        return _grid_scaling(self.centre, self.log2_scale)

    def scaled(self, x):
        """The centred, scaled values ``v`` of ``x`` that pick the bins.

        Parameters
        ----------
        x : array-like
            Values.

        Returns
        -------
        ndarray of float64
            ``(x - centre) * 2**-log2_scale``, computed without overflow.
        """
        a1, a2, c, s = self.scaling
        with np.errstate(over="ignore", invalid="ignore"):
            return ((np.asarray(x, dtype=np.float64) * a1) * a2 - c) * s

    @property
    def total_weight(self):
        """The total weight added so far."""
        return float(self.store[0].sum() + self.store[1].sum())

    @property
    def nbytes(self):
        return self.store.nbytes

    def _same_grid(self, other):
        if (self.centre, self.log2_scale, self.mantissa_bits, self.weight_unit) != (
            other.centre, other.log2_scale, other.mantissa_bits, other.weight_unit
        ):
            raise ValueError(
                "Only sketches with the same centre, scale and mantissa bits merge; got "
                f"({self.centre}, 2**{self.log2_scale}) and "
                f"({other.centre}, 2**{other.log2_scale})."
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

    def _in_units(self, sample_weight):
        """Weights in the sketch's unit ``weight_unit * 2**weight_exp``; a batch whose
        weights would be too large in it first moves the sketch to a coarser unit (by
        a power of two: exact)."""
        w = np.asarray(sample_weight, dtype=np.float64)
        top = float(w.max(initial=0.0))
        if top > 0:
            # log2 of the largest weight in the unit, without overflow
            log2_top = int(np.frexp(top)[1]) - int(np.frexp(self.weight_unit)[1])
            if log2_top - self.weight_exp > 600:  # keep the sums far from overflow
                shift = log2_top - self.weight_exp
                self.store = np.ldexp(self.store, -shift)
                self.weight_exp += shift
        if self.weight_exp:
            w = np.ldexp(w, -self.weight_exp)
        if self.weight_unit != 1.0:
            w = w / self.weight_unit
        # a weight below 2**-900 of the unit (1e-300 next to 1e300) counts as none: in
        # a bin of such weights alone, sum(w v) / sum(w) loses its digits to underflow
        # and the bin's centroid could leave the bin (the summary would not be sorted);
        # the first batch's largest weight is at least 2**-64 of the unit, so such a
        # weight is below 2**-836 of it
        w = np.where(w < _NEGLIGIBLE_WEIGHT, 0.0, w)
        return np.ascontiguousarray(w)

    def copy(self):
        """An independent copy (adding to it leaves this sketch unchanged).

        Returns
        -------
        ColumnSketch
            The copy.
        """
        out = ColumnSketch(
            self.centre, self.log2_scale, mantissa_bits=self.mantissa_bits,
            max_bins=self.max_bins,
        )
        out.weight_unit, out.weight_exp = self.weight_unit, self.weight_exp
        out.level, out.start, out.store = self.level, self.start, self.store.copy()
        return out

    def add(self, x, sample_weight=None):
        """Add a batch of values (1-D, finite) with optional non-negative weights.

        Parameters
        ----------
        x : array-like of shape (n_samples,)
            Finite values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        ColumnSketch
            This sketch, holding the batch too.
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.size == 0:
            return self
        lo, hi, finite, in_range = K.bin_range(x, *self.scaling, self.mantissa_bits)
        if not finite:
            raise ValueError("ColumnSketch.add got NaN or inf values.")
        if not in_range:
            raise ValueError(
                f"values beyond the range of the sketch: its grid (centre {self.centre!r}, "
                f"scale 2**{self.log2_scale}, from the first batch) holds values within "
                f"2**{K.LIMIT} scales of the centre; start the stream with a batch that "
                "shows the column's range."
            )
        self._resize(lo, hi, self.level)
        w = np.empty(0) if sample_weight is None else self._in_units(sample_weight)
        K.sketch_add(
            x, w, *self.scaling, self.mantissa_bits, self.level, self.start, self.store
        )
        return self

    def merge(self, other):
        """A new sketch holding both (the operands are unchanged).

        The sketches must share ``centre``, ``log2_scale`` and ``mantissa_bits``.

        Parameters
        ----------
        other : ColumnSketch
            A sketch on the same grid.

        Returns
        -------
        ColumnSketch
            The sum of both sketches.
        """
        self._same_grid(other)
        out = ColumnSketch(
            self.centre, self.log2_scale, mantissa_bits=self.mantissa_bits,
            max_bins=max(self.max_bins, other.max_bins), weight_unit=self.weight_unit,
        )
        exp = max(self.weight_exp, other.weight_exp)  # both in the coarser weight unit
        parts = [sk._in_weight_exp(exp) for sk in (self, other)]
        out.weight_exp = exp
        for sk in parts:
            if sk.store.shape[1]:
                lo0 = sk.start << sk.level
                hi0 = ((sk.start + sk.store.shape[1]) << sk.level) - 1
                out._resize(lo0, hi0, sk.level)
        for sk in parts:
            if sk.store.shape[1]:
                K.sketch_merge_into(out.store, out.start, sk.store, sk.start, out.level - sk.level)
        return out

    def _in_weight_exp(self, exp):
        """This sketch with its weights in units of ``weight_unit * 2**exp`` (exact:
        a power of two), a copy if that changes anything."""
        if exp == self.weight_exp:
            return self
        out = self.copy()
        out.store = np.ldexp(self.store, self.weight_exp - exp)
        out.weight_exp = exp
        return out

    def to_summary(self):
        """The non-empty bins as a :class:`ColumnSummary`.

        Returns
        -------
        ColumnSummary
            Each bin's weight at its centroid, and the squared error about the
            centroids in ``within``.
        """
        s = self.store
        w = s[0] + s[1]
        keep = w > 0
        if not keep.any():
            raise ValueError("The sketch is empty (no value with a positive weight).")
        w = w[keep]
        s1 = (s[2] + s[3])[keep]
        mean = s1 / w  # scaled units
        # per bin: sum w v^2 - (sum w v)^2 / w, from the double-double sums
        spread = (s[4][keep] - s1 * mean) + s[5][keep]
        within = float(np.maximum(spread, 0.0).sum())
        a1, a2, c, scale = self.scaling
        # u = centre + mean 2**log2_scale = (c + mean / scale) / (a1 a2), in two steps
        with np.errstate(over="ignore"):
            u = ((c + mean / scale) / a2) / a1
        big = np.finfo(np.float64).max
        u = np.clip(u, -big, big)  # a centroid rounded past the largest float
        # bin centroids increase with the bins; equal ones (rounding) are merged
        u, W, S1, S2 = K.summarize_sorted(u, w, self.centre)
        return ColumnSummary(u, W, S1, S2, self.centre, within, 2 * self.log2_scale)
