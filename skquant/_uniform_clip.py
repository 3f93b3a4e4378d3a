"""UniformClipQuantizer: the uniform quantizer with a clipping range (the lecture's design A)."""

from numbers import Real

import numpy as np

from . import _kernels as K
from ._base import BaseScalarQuantizer, ColumnDesign
from ._compat import Interval, StrOptions
from ._range_search import (
    _affine_members,
    clip_range,
    search_affine,
    search_scale,
    uniform_family,
)
from ._summary import from_unit, unit_summary


# ------------------------------------------------------------------ estimator
class UniformClipQuantizer(BaseScalarQuantizer):
    """Uniform scalar quantizer of each feature with a clipping range.

    Each column gets ``M`` (``n_levels`` or ``2 ** n_bits``) equally spaced levels over a range
    ``[clip_min_, clip_max_]``; values outside the range go to the end cells. The
    range is chosen by ``clip``; the default ``"mse"`` minimises the exact empirical
    mean squared error of the very quantizer ``transform`` applies (the lecture's
    design A, "optimised uniform with clipping").

    Parameters
    ----------
    n_bits : int, array-like of shape (n_features,) or None, default=None
        Bits per value, 1 to 16: ``n_bits=b`` means exactly ``n_levels=2**b``.
        ``None`` means 4 bits unless ``n_levels`` is given (giving both is an error).
        An array gives each feature its own width (see :func:`skquant.allocate_bits`).
    n_levels : int, array-like of shape (n_features,) or None, default=None
        Number of levels of each feature, any integer from 2 to 65536 (``n_levels=5``
        quantizes like ``KBinsDiscretizer(n_bins=5)``, into codes 0 to 4), or one per
        feature as an array. The fitted arrays are padded to the largest.
    encode : {"ordinal", "onehot", "onehot-dense", "reconstruct"}, default="ordinal"
        Output of ``transform``: integer codes, a sparse or dense one-hot matrix, or
        the quantized values themselves (same float dtype as X).
    clip : {"mse", "minmax", "std", "percentile"} or float, default="mse"
        How the range is chosen per feature. ``"mse"``: the range with the smallest
        training MSE among all ranges — the global minimum, found by a branch and
        bound on the exact error of the sorted column, certified to a relative
        ``1e-12`` (see ``clip_gap_``); never worse than the other rules, which seed
        it. ``"minmax"``: the data range.
        ``"std"``: ``mean -/+ n_std * std``. ``"percentile"``: the weighted
        percentiles ``100 - percentile`` and ``percentile``. A number ``X``: the range
        ``[-X, X]``. With ``symmetric=True`` the range is ``[-X, X]`` with ``X`` the
        largest ``|x|`` (``"minmax"``), ``n_std`` times the root mean square
        (``"std"``) or the ``percentile``-th percentile of ``|x|``.
    symmetric : bool, default=False
        ``False``: an affine range ``[lo, hi]`` per feature (``"mse"`` optimises both
        ends); the quantizer moves with the data. ``True``: the range is symmetric
        around 0, ``[-X, X]`` — the lecture's design A, one parameter per feature, for
        zero-centred data such as weights (a feature far from 0 then wastes levels:
        centre it first, or keep ``False``).
    mode : {"midrise", "midtread"}, default="midrise"
        ``"midrise"``: the lecture's quantizer, ``M`` cells of width
        ``Delta = (hi - lo) / M`` with levels at their centres ``lo + (k + 1/2) Delta``
        and thresholds ``lo + k Delta`` (the outer cells are open); 0 is a threshold
        when symmetric. ``"midtread"``: the integer affine quantization of PyTorch and
        ONNX ``QuantizeLinear``; the range is extended to contain 0,
        ``scale = (hi - lo) / (M - 1)``, ``zero_point = round(-lo / scale)`` and
        ``code = clip(round(x / scale) + zero_point, 0, M - 1)`` with rounding half to
        even, levels ``(code - zero_point) * scale``; 0 is a level. With
        ``symmetric=True``, ``zero_point = M / 2`` and ``scale = 2 X / (M - 1)``
        (PyTorch's symmetric ``quint8`` convention: codes minus ``M / 2`` are its
        ``qint8`` codes).
    n_std : float, default=3.0
        Width of the ``"std"`` range in standard deviations.
    percentile : float, default=99.9
        Percentile of the ``"percentile"`` range, in (50, 100].

    Attributes
    ----------
    thresholds_ : ndarray of shape (n_features, M - 1)
        Decision thresholds, increasing along each row (with ``mode="midtread"``
        they describe the cells except at exact ties, where ``transform`` rounds
        half to even), with ``M`` the largest of
        ``max_levels_``; in the dtype of the fitted data (float32 thresholds are
        rounded up, so float32 data gets exactly the codes the float64 thresholds
        would give). A feature with fewer levels is padded with ``+inf``, so its
        padding never assigns a code.
    levels_ : ndarray of shape (n_features, M)
        Reconstruction levels; a feature with fewer levels repeats its last level.
    n_levels_ : ndarray of shape (n_features,)
        Number of levels really used by each feature (codes are ``0 .. n_levels_ - 1``).
    max_levels_ : ndarray of shape (n_features,)
        The number of levels each feature was designed for: ``n_bits`` or
        ``n_levels`` resolved once in fit (nothing after fit reads them again).
    clip_min_, clip_max_ : ndarray of shape (n_features,)
        The range of each feature: the outer cell edges (midrise), or the range
        ``scale_`` and ``zero_point_`` derive from (midtread). The data range for
        features stored exactly (at most ``M`` distinct values).
    scale_ : ndarray of shape (n_features,)
        The step ``Delta`` between levels; NaN for features stored exactly.
    zero_point_ : ndarray of shape (n_features,)
        With ``mode="midtread"`` only: the integer code of 0 (int64); -1 for
        features stored exactly (absent when every feature is stored exactly).
    clip_gap_ : ndarray of shape (n_features,)
        With ``clip="mse"``: a bound on how much lower, relative to ``mse_``, the
        training MSE of any other range can be. ``0.0`` when the search proved the
        range optimal (to ``1e-12``); positive when the search stopped at its limit
        of ``min(2**18, 2**22 / M)`` boxes (affine midrise from 6 bits on large
        columns; near 1 at 8 bits: no certificate); NaN for the other rules, 0 for features
        stored exactly.
    mse_ : ndarray of shape (n_features,)
        Weighted mean squared error of each feature on the training data (after
        ``partial_fit``: on the sketches, each bin coded as a whole).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.
    sketches_ : list of ColumnSketch
        Only after :meth:`partial_fit`: the per-feature sketches of every batch seen
        (see :ref:`streaming`); ``fit`` removes them.
    n_samples_seen_ : int
        Only after :meth:`partial_fit`: the number of rows seen.

    See Also
    --------
    CompanderQuantizer : Non-uniform levels through a compressor function.
    LloydMaxQuantizer : The MSE-optimal non-uniform quantizer.
    sklearn.preprocessing.KBinsDiscretizer : ``strategy="uniform"`` is
        ``clip="minmax", symmetric=False`` with ragged bin edges.

    Notes
    -----
    Columns with at most ``M`` distinct values get one level per value
    (zero error) and a warning, as for every scalar quantizer of skquant; their codes
    are then not the affine formula. Columns are fitted in parallel threads.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import UniformClipQuantizer
    >>> X = np.random.default_rng(0).standard_normal((100_000, 1))
    >>> q = UniformClipQuantizer(n_bits=3, symmetric=True).fit(X)
    >>> round(float(q.clip_max_[0]), 2)  # optimal clipping of N(0, 1) at 8 levels
    2.34
    >>> q.levels_.round(2)
    array([[-2.05, -1.47, -0.88, -0.29,  0.29,  0.88,  1.47,  2.05]])

    PyTorch's and ONNX's 8-bit affine quantization of the range [-1, 3]:

    >>> q8 = UniformClipQuantizer(8, clip="minmax", mode="midtread")
    >>> q8 = q8.fit(np.linspace(-1.0, 3.0, 1001)[:, None])
    >>> q8.scale_.round(6), q8.zero_point_
    (array([0.015686]), array([64]))
    >>> q8.transform([[0.0], [0.02], [9.0]]).ravel()
    array([ 64,  65, 255], dtype=uint8)
    """

    _parameter_constraints: dict = {
        **BaseScalarQuantizer._parameter_constraints,
        "clip": [
            StrOptions({"mse", "minmax", "std", "percentile"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "symmetric": ["boolean"],
        "mode": [StrOptions({"midrise", "midtread"})],
        "n_std": [Interval(Real, 0, None, closed="neither")],
        "percentile": [Interval(Real, 50, 100, closed="right")],
    }

    def __init__(
        self,
        n_bits=None,
        *,
        n_levels=None,
        encode="ordinal",
        clip="mse",
        symmetric=False,
        mode="midrise",
        n_std=3.0,
        percentile=99.9,
    ):
        super().__init__(n_bits=n_bits, n_levels=n_levels, encode=encode)
        self.clip = clip
        self.symmetric = symmetric
        self.mode = mode
        self.n_std = n_std
        self.percentile = percentile

    # features stored exactly: their data range, no step, no zero point
    _exact_attributes = {
        "clip_min_": lambda summary: float(summary.u[0]),
        "clip_max_": lambda summary: float(summary.u[-1]),
        "scale_": np.nan,
        "zero_point_": -1,
        "clip_gap_": 0.0,
    }

    def _fit_column(self, summary, n_levels, j):
        M = n_levels
        # designed in units of `unit`, a power of two near the larger of the data and
        # a clipping range given as a number (clip=1e308 on data near 1: its range is
        # 2e308 wide)
        largest = self.clip if isinstance(self.clip, Real) else 0.0
        summary, unit = unit_summary(summary, largest)
        clip = self.clip / unit if isinstance(self.clip, Real) else self.clip
        midtread = self.mode == "midtread"
        span = M - 1 if midtread else M  # the range is `span` steps wide
        rules = ["minmax", "std", "percentile"] if clip == "mse" else [clip]
        ranges = [
            clip_range(summary, r, self.symmetric, self.n_std, self.percentile) for r in rules
        ]
        zero_point = None
        gap = np.nan  # no search
        if self.symmetric:  # offset 0, the scale is the step, level number c is at 0
            c = M // 2 if midtread else 0.5 * (M - 1)
            family, offset = uniform_family(M, c), 0.0
            steps = [2.0 * hi / span for _, hi in ranges]
            # two symmetric midtread levels are -step and 0: on a column with no
            # negative value every step codes all of it as 0 (the MSE does not depend
            # on the step, there is nothing to search), so the range rule's step
            flat = midtread and M == 2 and summary.u[0] >= 0
            if clip == "mse" and not flat:
                found = search_scale(summary, family, seeds=steps)
                step, gap = found.scale, found.gap
                lo, hi = -0.5 * span * step, 0.5 * span * step
            else:
                step, (lo, hi) = steps[0], ranges[0]
                if clip == "mse":  # flat: every step is optimal
                    gap = 0.0
            if midtread:
                zero_point = c
        else:
            family = uniform_family(M, 0 if midtread else -0.5)
            if clip == "mse" and not midtread:
                # midrise is translation-equivariant: search on the column centred on
                # its median, so a column far from 0 (1e8 + N(0, 1)) is searched like
                # one at 0, without cancellation
                c = summary.shift
                centred = summary._replace(u=summary.u - c, shift=0.0)
                found = search_affine(centred, M, False, [(a - c, b - c) for a, b in ranges])
                offset, step, gap = found.offset + c, found.scale, found.gap
                lo, hi = offset, offset + span * step
            elif clip == "mse":
                found = search_affine(summary, M, midtread, ranges)
                offset, step, zero_point, _, gap = found
                lo, hi = offset, offset + span * step
            else:
                lo, hi = ranges[0]
                if midtread:
                    lo, hi = min(lo, 0.0), max(hi, 0.0)
                offset, step, zp = _affine_members(np.array([lo]), np.array([hi]), M, midtread)
                offset, step = float(offset[0]), float(step[0])
                zero_point = None if zp is None else int(zp[0])
        thresholds, levels = family.codebook(summary, offset, step)
        attributes = {
            "clip_min_": float(lo) * unit,
            "clip_max_": float(hi) * unit,
            "scale_": float(step) * unit,
            "clip_gap_": float(gap),
        }
        if midtread:
            attributes["zero_point_"] = int(zero_point)
        return ColumnDesign(*from_unit(thresholds, levels, unit), attributes)

    def _encode(self, X):
        """Midrise: the thresholds. Midtread (fitted with a ``zero_point_``): the
        affine formula, ties to even."""
        if not hasattr(self, "zero_point_"):
            return super()._encode(X)
        codes = np.empty(X.shape, dtype=self._codes_dtype)
        bad = K.affine_encode(X, self.scale_, self.zero_point_, self.n_levels_, codes)
        exact = np.flatnonzero(~(self.scale_ > 0))
        if exact.size and not bad.any():  # features stored exactly use their thresholds
            sub = np.ascontiguousarray(X[:, exact])
            sub_codes = np.empty(sub.shape, dtype=codes.dtype)
            K.encode(sub, self._bisection_thresholds(X.dtype, exact), sub_codes)
            codes[:, exact] = sub_codes
        if bad.any():
            return super()._encode(X)  # raises the error naming the columns
        return codes
