"""Analytic quantizer design from a known density: no data.

The functions here design scalar quantizers for a *density* rather than for samples,
following the classical theory (Lloyd 1982, Max 1960, Panter & Dite 1951, Bennett
1948):

- :func:`lloyd_max` -- the MSE-optimal quantizer with ``n_levels`` levels
  (centroid and nearest-neighbour conditions solved to ~1e-12);
- :func:`high_rate_compander` -- the high-rate design whose point density is
  proportional to ``f ** (1/3)``;
- :func:`optimal_uniform` -- the uniform (midrise) quantizer with the MSE-optimal
  clipping range;
- :func:`entropy_constrained` -- the entropy-constrained quantizer minimising
  ``MSE + lam * H`` (any number of levels), for a variable-rate (entropy) code;
- :func:`panter_dite_mse` -- Zador's / Panter and Dite's asymptotic MSE;
- :func:`normal_float_levels` -- the NormalFloat (NF4) codebook of QLoRA.

A density is either a name -- ``"gaussian"``, ``"laplace"`` or ``"uniform"``, each
with zero mean and unit variance, handled in closed form -- or any frozen continuous
:mod:`scipy.stats` distribution with a finite variance, handled by numerical
integration (:func:`scipy.integrate.tanhsinh`, which needs SciPy >= 1.15). Designs for
a scipy distribution are in that distribution's own units. Only
:func:`entropy_constrained` runs a numba kernel (the dynamic program it shares with
:class:`~skquant.EntropyConstrainedQuantizer`).
"""

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, stats
from scipy.special import ndtr, ndtri

from . import _libm

__all__ = [
    "QuantizerDesign",
    "entropy_constrained",
    "high_rate_compander",
    "lloyd_max",
    "normal_float_levels",
    "optimal_uniform",
    "panter_dite_mse",
]

_NAMES = ("gaussian", "laplace", "uniform")
MAX_LEVELS = 2**16  # as the estimators: larger designs would allocate out of proportion
_SQRT3 = math.sqrt(3.0)
_LAPLACE_RATE = math.sqrt(2.0)  # unit variance Laplace: f(x) = (rate/2) exp(-rate |x|)


@dataclass(frozen=True, eq=False, repr=False)
class QuantizerDesign:
    """An immutable scalar quantizer designed for a density.

    The quantizer maps ``x`` in ``[thresholds[k-1], thresholds[k])`` to
    ``levels[k]`` (with ``thresholds[-1] = -inf`` and ``thresholds[M-1] = +inf``).

    Attributes
    ----------
    thresholds : ndarray of shape (n_levels - 1,)
        The interior decision thresholds, increasing (read-only, float64).
    levels : ndarray of shape (n_levels,)
        The reconstruction levels, increasing (read-only, float64).
    mse : float
        The exact mean squared error of the quantizer for the density.
    distribution : str
        The density: ``"gaussian"``, ``"laplace"``, ``"uniform"`` or a description of
        the scipy distribution such as ``"t(5)"``.
    method : str
        ``"lloyd_max"``, ``"high_rate_compander"``, ``"optimal_uniform"`` or
        ``"entropy_constrained"``.
    n_iter : int or None
        Iterations of the Lloyd-Max solver (``None`` for the other designs).
    x_max : float or None
        The optimised clipping half-range of :func:`optimal_uniform` (``nan`` when
        ``n_levels == 1``, where it does not matter; ``None`` for the other designs).
    entropy : float or None
        The exact entropy in bits of the codes for the density, i.e. the bits per value
        of an ideal entropy coder (:func:`entropy_constrained`; ``None`` for the other
        designs).
    lam : float or None
        The multiplier of the entropy of :func:`entropy_constrained` (``nan`` when its
        ``rate`` was met by the fixed-rate optimum; ``None`` for the other designs).
    """

    thresholds: np.ndarray
    levels: np.ndarray
    mse: float
    distribution: str
    method: str
    n_iter: int | None = None
    x_max: float | None = None
    entropy: float | None = None
    lam: float | None = None

    def __post_init__(self):
        for name in ("thresholds", "levels"):
            value = np.array(getattr(self, name), dtype=np.float64)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "mse", float(self.mse))

    @property
    def n_levels(self):
        """Number of reconstruction levels ``M``."""
        return self.levels.size

    def quantize(self, x):
        """Map values to their reconstruction levels.

        Parameters
        ----------
        x : array-like
            Values in the units of the design.

        Returns
        -------
        ndarray
            ``levels[k]`` for each value, where ``k`` is the cell of the value.
        """
        cells = np.searchsorted(self.thresholds, np.asarray(x, dtype=np.float64), "right")
        return self.levels[cells]

    def __repr__(self):
        extra = "" if self.x_max is None else f", x_max={self.x_max:.6g}"
        if self.entropy is not None:
            extra += f", entropy={self.entropy:.6g}, lam={self.lam:.6g}"
        return (
            f"QuantizerDesign(method={self.method!r}, distribution={self.distribution!r}, "
            f"n_levels={self.n_levels}, mse={self.mse:.6g}{extra})"
        )


# --------------------------------------------------------------------------------------
# Densities. Each family gives what the designs need: mass and centroid of cells, the
# distortion of a cell around a level, the pdf, the quantile function, the inverse of
# the high-rate compressor and the Panter-Dite constant.
# --------------------------------------------------------------------------------------


def _gaussian_tail(x):
    """Tail moments ``int_x^inf t**k phi(t) dt``, k = 0, 1, 2, of N(0, 1) for x >= 0."""
    pdf = _libm.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    q = ndtr(-x)
    xf = np.where(np.isinf(x), 0.0, x)  # pdf is 0 there anyway
    return q, pdf, q + xf * pdf


def _laplace_tail(x):
    """Tail moments ``int_x^inf t**k f(t) dt``, k = 0, 1, 2, of the unit-variance Laplace."""
    r = _LAPLACE_RATE
    half_sf = 0.5 * _libm.exp(-r * x)
    xf = np.where(np.isinf(x), 0.0, x)  # half_sf is 0 there anyway
    return half_sf, half_sf * (xf + 1 / r), half_sf * (xf * xf + 2 * xf / r + 2 / r**2)


def _uniform_tail(x):
    """Tail moments ``int_x^inf t**k f(t) dt``, k = 0, 1, 2, of U(-sqrt 3, sqrt 3)."""
    a = _SQRT3
    xc = np.minimum(x, a)
    return (a - xc) / (2 * a), (a * a - xc * xc) / (4 * a), (a**3 - xc**3) / (6 * a)


def _symmetric_moments(tail, a, b):
    """Partial moments ``int_a^b x**k f(x) dx``, k = 0, 1, 2, of a density even about 0.

    Every moment is a difference of two tail moments of the same sign of ``x``, so
    small cells far out in a tail keep their relative accuracy.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    tail_a, tail_b, tail_0 = tail(np.abs(a)), tail(np.abs(b)), tail(np.zeros(1))
    moments = []
    for k in range(3):
        sign = (-1.0) ** k
        ta, tb, t0 = tail_a[k], tail_b[k], tail_0[k]
        straddle = sign * (t0 - ta) + (t0 - tb)
        moments.append(np.where(a >= 0, ta - tb, np.where(b <= 0, sign * (tb - ta), straddle)))
    return moments


class _NamedDensity:
    """A zero-mean, unit-variance density symmetric about 0, in closed form."""

    mean, std, centre = 0.0, 1.0, 0.0

    def __init__(self, name, tail, pdf, ppf, ginv, zador, half_width=math.inf):
        self.name = name
        self._tail, self.pdf, self.ppf, self._ginv = tail, pdf, ppf, ginv
        self.zador = zador  # (1/12) (int f^(1/3))^3
        self.support = (-half_width, half_width)

    def cells(self, a, b):
        m0, m1, _ = _symmetric_moments(self._tail, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return m0, m1 / m0

    def distortion(self, a, b, y):
        m0, m1, m2 = _symmetric_moments(self._tail, a, b)
        return m2 - 2 * y * m1 + y * y * m0

    def compander_inverse(self, num, den):
        """``g^-1(num / den)``; ``g^-1(u) = -g^-1(1 - u)`` is used above 1/2 for accuracy."""
        lower = 2 * num <= den
        u = np.where(lower, num, den - num) / den
        return np.where(lower, 1.0, -1.0) * self._ginv(u)


def _laplace_ppf(p):
    p = np.asarray(p, dtype=np.float64)
    lower = p <= 0.5
    return np.where(lower, 1.0, -1.0) * _libm.log(2 * np.where(lower, p, 1 - p)) / _LAPLACE_RATE


_NAMED = {
    "gaussian": _NamedDensity(
        "gaussian",
        _gaussian_tail,
        pdf=lambda x: _libm.exp(-0.5 * np.square(x)) / math.sqrt(2 * math.pi),
        ppf=ndtri,
        ginv=lambda u: _SQRT3 * ndtri(u),  # g(x) = Phi(x / sqrt 3)
        zador=_SQRT3 * math.pi / 2,
    ),
    "laplace": _NamedDensity(
        "laplace",
        _laplace_tail,
        pdf=lambda x: 0.5 * _LAPLACE_RATE * _libm.exp(-_LAPLACE_RATE * np.abs(x)),
        ppf=_laplace_ppf,
        # f^(1/3) is a Laplace density of scale 3 s, s = 1 / sqrt 2; u <= 1/2 here.
        ginv=lambda u: 3 / _LAPLACE_RATE * _libm.log(2 * u),
        zador=4.5,
    ),
    "uniform": _NamedDensity(
        "uniform",
        _uniform_tail,
        pdf=lambda x: np.where(np.abs(x) <= _SQRT3, 0.5 / _SQRT3, 0.0),
        ppf=lambda p: _SQRT3 * (2 * np.asarray(p, dtype=np.float64) - 1),
        ginv=lambda u: _SQRT3 * (2 * u - 1),
        zador=1.0,
        half_width=_SQRT3,
    ),
}


def _elementwise_tools():
    try:
        from scipy.integrate import tanhsinh
        from scipy.optimize.elementwise import find_root
    except ImportError as exc:  # pragma: no cover - depends on the installed SciPy
        raise ImportError(
            "designs for scipy.stats distributions need SciPy >= 1.15 "
            "(scipy.integrate.tanhsinh); the named densities 'gaussian', 'laplace' and "
            "'uniform' work with any SciPy."
        ) from exc
    return tanhsinh, find_root


def _describe(dist):
    parts = [repr(a) for a in dist.args] + [f"{k}={v!r}" for k, v in dist.kwds.items()]
    return f"{dist.dist.name}({', '.join(parts)})"


class _ScipyDensity:
    """A frozen continuous scipy.stats distribution, integrated numerically.

    Cell masses come from ``cdf``/``sf``; first moments, distortions and the integrals
    of ``f ** (1/3)`` from vectorised tanh-sinh quadrature.
    """

    def __init__(self, dist):
        self.dist = dist
        self.name = _describe(dist)
        mean, var = float(dist.mean()), float(dist.var())
        if not (np.isfinite(mean) and np.isfinite(var) and var > 0):
            raise ValueError(
                f"distribution {self.name} must have a finite mean and a finite, positive "
                f"variance for an MSE design; got mean={mean}, variance={var}."
            )
        self.mean, self.std = mean, math.sqrt(var)
        self.support = tuple(float(s) for s in dist.support())
        self.centre = mean if self._is_symmetric() else None
        self._cube_root_halves = None

    def _is_symmetric(self):
        lo, hi = self.support
        if not math.isclose(self.mean - lo, hi - self.mean, rel_tol=1e-12):
            return False
        d = self.std * np.array([0.05, 0.3, 0.7, 1.3, 2.1, 3.7])
        left, right = self.dist.pdf(self.mean - d), self.dist.pdf(self.mean + d)
        return bool(np.any(right > 0) and np.allclose(left, right, rtol=1e-10, atol=0))

    def pdf(self, x):
        return self.dist.pdf(x)

    def ppf(self, p):
        return self.dist.ppf(p)

    def _clip(self, a, b):
        lo, hi = self.support
        return (
            np.clip(np.asarray(a, dtype=np.float64), lo, hi),
            np.clip(np.asarray(b, dtype=np.float64), lo, hi),
        )

    def _mass(self, a, b):
        upper = a >= self.mean  # differences of sf keep accuracy in the upper tail
        dist = self.dist
        return np.where(upper, dist.sf(a) - dist.sf(b), dist.cdf(b) - dist.cdf(a))

    def _integrate(self, func, a, b, args=(), atol=0.0, rtol=1e-13):
        tanhsinh, _ = _elementwise_tools()
        a, b = np.broadcast_arrays(a, b)
        out = np.zeros(a.shape)
        todo = b > a
        if np.any(todo):
            args = tuple(np.broadcast_to(arg, a.shape)[todo] for arg in args)
            # minlevel=4: tanh-sinh's error estimate can trust a coarse level too early
            # (seen on exponential tails); starting finer costs only array size.
            res = tanhsinh(func, a[todo], b[todo], args=args, atol=atol, rtol=rtol, minlevel=4)
            if np.any(res.status != 0):
                warnings.warn(
                    f"numerical integration of {self.name} did not converge on "
                    f"{np.count_nonzero(res.status != 0)} interval(s); the design may be "
                    "inaccurate.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            out[todo] = res.integral
        return out

    def _guarded_pdf(self, x):
        """The pdf with nan -> 0, for quadrature nodes that may lie extremely close to
        the ends of the support (where some scipy pdfs fail, e.g. beta's at 1e-308)."""
        try:
            p = self.dist.pdf(x)
        except ArithmeticError:
            lo, hi = self.support
            x = np.where(np.abs(x - lo) < 1e-290, lo, np.where(np.abs(hi - x) < 1e-290, hi, x))
            try:
                p = self.dist.pdf(x)
            except ArithmeticError:
                p = np.reshape([self._scalar_pdf(xi) for xi in np.ravel(x)], np.shape(x))
        return np.nan_to_num(p, nan=0.0)

    def _scalar_pdf(self, x):
        try:
            return float(self.dist.pdf(x))
        except ArithmeticError:
            return math.nan

    def cells(self, a, b):
        a, b = self._clip(a, b)
        mass = self._mass(a, b)
        finite_a, finite_b = np.isfinite(a), np.isfinite(b)
        ref = np.where(
            finite_a & finite_b,
            0.5 * (a + b),
            np.where(finite_a, a, np.where(finite_b, b, self.mean)),
        )
        ok = mass > 0
        safe_mass = np.where(ok, mass, 1.0)

        def offset(x, ref, m):  # (x - ref) f(x) / mass: the centroid's offset from ref
            p = self._guarded_pdf(x)
            with np.errstate(invalid="ignore", over="ignore"):
                return np.where(p > 0, (x - ref) * p, 0.0) / m

        shift = self._integrate(
            offset, np.where(ok, a, 0.0), np.where(ok, b, 0.0), (ref, safe_mass),
            atol=1e-15 * self.std,
        )
        return mass, np.where(ok, ref + shift, np.nan)

    def distortion(self, a, b, y):
        a, b = self._clip(a, b)
        y = np.broadcast_to(np.asarray(y, dtype=np.float64), a.shape)

        def err2(x, y):
            p = self._guarded_pdf(x)
            with np.errstate(invalid="ignore", over="ignore"):
                return np.where(p > 0, (x - y) ** 2 * p, 0.0)

        return self._integrate(err2, a, b, (y,), atol=1e-300, rtol=1e-12)

    def _cube_root(self, x):
        return _libm.cbrt(self._guarded_pdf(x))

    @property
    def cube_root_halves(self):
        """``(int_lo^mean f^(1/3), int_mean^hi f^(1/3))``."""
        if self._cube_root_halves is None:
            lo, hi = self.support
            halves = self._integrate(
                self._cube_root, np.array([lo, self.mean]), np.array([self.mean, hi]),
                atol=1e-300, rtol=1e-13,
            )
            self._cube_root_halves = (float(halves[0]), float(halves[1]))
        return self._cube_root_halves

    @property
    def zador(self):
        return sum(self.cube_root_halves) ** 3 / 12.0

    def compander_inverse(self, num, den):
        """``g^-1(num / den)`` by bracketing root finding on tail integrals of f^(1/3)."""
        _, find_root = _elementwise_tools()
        num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), float(den))
        z_lo, z_hi = self.cube_root_halves
        z = z_lo + z_hi
        lo, hi = self.support
        c = self.mean
        out = np.full(num.shape, c)
        if self.centre is not None:  # symmetric: solve the lower half only, mirror
            lower_half = 2 * num <= den
            num = np.where(lower_half, num, den - num)
            sign = np.where(lower_half, 1.0, -1.0)
            todo = 2 * num < den
        else:
            sign = np.ones(num.shape)
            todo = np.ones(num.shape, dtype=bool)
        # The lower side solves int_lo^x f^(1/3) = u z; the upper side solves
        # int_x^hi f^(1/3) = (1 - u) z; both written as increasing functions of x.
        lower = num / den * z <= z_lo
        target = np.where(lower, num / den, (den - num) / den) * z

        def phi(x, target, lower):
            a = np.where(lower, lo, x)
            b = np.where(lower, x, hi)
            integral = self._integrate(self._cube_root, np.minimum(a, b), np.maximum(a, b))
            integral = np.where(a <= b, integral, -integral)
            return np.where(lower, integral - target, target - integral)

        target, lower = target[todo], lower[todo]
        # Bracket: the root lies on the side of the mean given by `lower`.
        xl = np.where(lower, lo, c)
        xr = np.where(lower, c, hi)
        for direction, end in ((-1.0, xl), (1.0, xr)):  # expand an infinite end
            step = self.std
            unbounded = (lower if direction < 0 else ~lower) & ~np.isfinite(end)
            while np.any(unbounded):
                trial = c + direction * step
                trials = np.full(np.count_nonzero(unbounded), trial)
                value = phi(trials, target[unbounded], lower[unbounded])
                end[unbounded] = trial
                unbounded[np.flatnonzero(unbounded)[direction * value > 0]] = False
                step *= 2.0
        if target.size:
            res = find_root(phi, (xl, xr), args=(target, lower))
            out[todo] = res.x
        return c + sign * (out - c)


def _density(distribution):
    if isinstance(distribution, str):
        if distribution not in _NAMED:
            raise ValueError(
                f"distribution must be one of {_NAMES} or a frozen scipy.stats continuous "
                f"distribution; got {distribution!r}."
            )
        return _NAMED[distribution]
    frozen = getattr(distribution, "dist", None)
    if isinstance(frozen, stats.rv_continuous) and hasattr(distribution, "pdf"):
        return _ScipyDensity(distribution)
    if isinstance(distribution, stats.rv_continuous):
        raise TypeError(
            f"distribution must be a frozen scipy.stats distribution such as "
            f"scipy.stats.{distribution.name}(...); got the unfrozen {distribution.name!r}."
        )
    raise TypeError(
        f"distribution must be one of {_NAMES} or a frozen scipy.stats continuous "
        f"distribution; got {distribution!r} of type {type(distribution).__name__}."
    )


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int >= {minimum}; got {value!r} of type {type(value).__name__}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}.")
    return int(value)


def _check_int_range(value, name, lo, hi):
    value = _check_int(value, name, lo)
    if value > hi:
        raise ValueError(f"{name} must be an int in [{lo}, {hi}]; got {value}.")
    return value


def _check_positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a positive float; got {value!r} of type {type(value).__name__}."
        )
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive, finite float; got {value}.")
    return float(value)


def _design_mse(density, thresholds, levels):
    edges = np.concatenate(([-np.inf], thresholds, [np.inf]))
    return float(np.sum(density.distortion(edges[:-1], edges[1:], levels)))


def _single_level(density, method, **extra):
    lo, hi = density.support
    mse = density.distortion(np.array([lo]), np.array([hi]), np.array([density.mean]))
    return QuantizerDesign(np.empty(0), [density.mean], mse[0], density.name, method, **extra)


# --------------------------------------------------------------------------------------
# Lloyd-Max
# --------------------------------------------------------------------------------------


def _lloyd_max_solve(density, t, lo, hi, y_left, tol, max_iter):
    """Solve the Lloyd-Max conditions for the interior thresholds ``t``.

    The cells have edges ``[lo, t..., hi]`` and their levels are the centroids, except
    that with ``y_left`` given the first cell is virtual with the fixed level ``y_left``
    (the mirror image of a symmetric design with an odd number of levels). The
    residual ``r_i = t_i - (y_i + y_{i+1}) / 2`` is driven to zero by Newton steps on
    its tridiagonal Jacobian; a step that fails to reduce ``max |r|`` is halved, and
    if that fails too a plain Lloyd step ``t <- t - r`` (midpoints) is taken.
    """
    fixed = y_left is not None

    def evaluate(t):
        edges = np.concatenate(([lo], t, [hi]))
        start = int(fixed)
        mass, y = density.cells(edges[start:-1], edges[start + 1 :])
        if fixed:  # infinite mass makes the virtual cell's derivatives zero
            mass, y = np.concatenate(([np.inf], mass)), np.concatenate(([y_left], y))
        return mass, y, t - 0.5 * (y[:-1] + y[1:])

    def newton_step(t, mass, y, r):
        ft = density.pdf(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_right = ft * (t - y[:-1]) / mass[:-1]  # d y_i / d t_i (t_i = right edge of cell i)
            d_left = ft * (y[1:] - t) / mass[1:]  # d y_{i+1} / d t_i (left edge of cell i+1)
        bands = np.zeros((3, t.size))
        bands[0, 1:] = -0.5 * d_right[1:]
        bands[1] = 1.0 - 0.5 * (d_right + d_left)
        bands[2, :-1] = -0.5 * d_left[:-1]
        if not np.all(np.isfinite(bands)):
            return None
        try:
            return linalg.solve_banded((1, 1), bands, -r)
        except (linalg.LinAlgError, ValueError):
            return None

    def valid(t):
        return (
            np.all(np.isfinite(t)) and np.all(np.diff(t) > 0) and t[0] > lo and t[-1] < hi
        )

    t = np.asarray(t, dtype=np.float64)
    mass, y, r = evaluate(t)
    goal = tol * density.std
    n_iter = 0
    while t.size and np.max(np.abs(r)) > goal:
        if n_iter == max_iter:
            warnings.warn(
                f"lloyd_max did not converge for {density.name} with {y.size} levels in "
                f"max_iter={max_iter} iterations (max residual {np.max(np.abs(r)):.3g}).",
                RuntimeWarning,
                stacklevel=3,
            )
            break
        n_iter += 1
        current = np.max(np.abs(r))
        step = newton_step(t, mass, y, r)
        accepted = None
        if step is not None:
            for _ in range(12):
                trial = t + step
                if valid(trial):
                    state = evaluate(trial)
                    if np.all(np.isfinite(state[2])) and np.max(np.abs(state[2])) < current:
                        accepted = trial, state
                        break
                step = 0.5 * step
        if accepted is None:  # Lloyd step: thresholds to the midpoints of the levels
            trial = t - r
            accepted = trial, evaluate(trial)
        moved = np.max(np.abs(accepted[0] - t))
        t, (mass, y, r) = accepted[0], accepted[1]
        if moved <= 4 * np.finfo(float).eps * max(1.0, np.max(np.abs(t))):
            break  # at the rounding floor
    return t, y, n_iter


def lloyd_max(distribution, n_levels, *, tol=1e-12, max_iter=200):
    """MSE-optimal scalar quantizer for a density, by the Lloyd-Max conditions.

    Solves the centroid condition ``y_k = E[X | t_k <= X < t_{k+1}]`` and the
    nearest-neighbour condition ``t_k = (y_{k-1} + y_k) / 2`` together, by Newton
    steps on the fixed-point equations (with Lloyd steps as a fallback), from the
    :func:`high_rate_compander` design. For a symmetric density the design is made
    symmetric and only its positive half is solved: the middle threshold (even
    ``n_levels``) or the middle level (odd ``n_levels``) is fixed at the centre. This
    matters for the Laplacian with an even number of levels: there the MSE is flat to
    second order along one direction (roughly a common shift of the thresholds) and
    the Lloyd map has a unit eigenvalue, so plain Lloyd iteration crawls. For
    log-concave densities (Gaussian, Laplace, uniform) the design is the unique
    optimum.

    Parameters
    ----------
    distribution : {"gaussian", "laplace", "uniform"} or frozen scipy.stats distribution
        The density. The names stand for zero-mean, unit-variance densities with
        closed-form partial moments. A frozen continuous distribution such as
        ``scipy.stats.t(5)`` is integrated numerically and must have a finite
        variance; it is treated as symmetric about its mean when its pdf is.
    n_levels : int
        Number of reconstruction levels ``1 <= M <= 65536``. ``M = 1`` gives the mean.
    tol : float, default=1e-12
        Convergence tolerance on ``max_k |t_k - (y_{k-1} + y_k) / 2|`` relative to
        the standard deviation of the distribution.
    max_iter : int, default=200
        Maximum number of Newton (or Lloyd) iterations; a ``RuntimeWarning`` is
        raised if they run out.

    Returns
    -------
    QuantizerDesign
        With ``method="lloyd_max"`` and ``n_iter`` set.

    See Also
    --------
    high_rate_compander : The asymptotically optimal design used as a start.
    panter_dite_mse : The high-rate limit of ``mse * 4**n_bits``.

    Examples
    --------
    >>> from skquant.design import lloyd_max
    >>> design = lloyd_max("gaussian", 8)
    >>> design.levels.round(4)
    array([-2.1519, -1.3439, -0.756 , -0.2451,  0.2451,  0.756 ,  1.3439,  2.1519])
    >>> design.thresholds.round(4)
    array([-1.7479, -1.05  , -0.5005,  0.    ,  0.5005,  1.05  ,  1.7479])
    >>> round(design.mse, 6)
    0.034548

    Any frozen scipy.stats distribution works, in its own units:

    >>> from scipy import stats
    >>> lloyd_max(stats.norm(loc=10, scale=2), 2).levels.round(6)
    array([ 8.404231, 11.595769])
    """
    density = _density(distribution)
    n_levels = _check_int_range(n_levels, "n_levels", 1, MAX_LEVELS)
    tol = _check_positive_real(tol, "tol")
    max_iter = _check_int(max_iter, "max_iter")
    if n_levels == 1:
        return _single_level(density, "lloyd_max", n_iter=0)

    start = _compander_thresholds(density, n_levels)
    lo, hi = density.support
    c = density.centre
    if c is None:
        t, y, n_iter = _lloyd_max_solve(density, start, lo, hi, None, tol, max_iter)
        thresholds, levels = t, y
    else:
        half = n_levels // 2
        odd = n_levels % 2
        t_half = start[start.size - half + 1 - odd :]  # the thresholds above the centre
        t, y, n_iter = _lloyd_max_solve(
            density, t_half, c, hi, c if odd else None, tol, max_iter
        )
        if odd:
            y = y[1:]
        mirror_t, mirror_y = 2 * c - t[::-1], 2 * c - y[::-1]
        thresholds = np.concatenate((mirror_t, [] if odd else [c], t))
        levels = np.concatenate((mirror_y, [c] if odd else [], y))
    mse = _design_mse(density, thresholds, levels)
    return QuantizerDesign(thresholds, levels, mse, density.name, "lloyd_max", n_iter=n_iter)


# --------------------------------------------------------------------------------------
# High-rate compander
# --------------------------------------------------------------------------------------


def high_rate_compander(distribution, n_levels):
    """High-rate (companding) quantizer: point density proportional to ``f ** (1/3)``.

    The compressor is ``g(x) = int_{-inf}^x f^(1/3) / int f^(1/3)``; the thresholds are
    ``t_k = g^-1(k / M)`` and the levels ``y_k = g^-1((k + 1/2) / M)``, i.e. the uniform
    quantizer of ``g(X)`` mapped back. In closed form ``g^-1(u) = sqrt(3) Phi^-1(u)``
    for the unit Gaussian, ``g^-1(u) = 3 s ln(2u)`` (``u < 1/2``, ``s = 1/sqrt 2``, and
    mirrored above) for the unit Laplacian and ``sqrt(3) (2u - 1)`` for the uniform
    density; numerically (tanh-sinh quadrature and bracketing root finding) for scipy
    distributions. The levels are not centroids, so the reported ``mse`` -- the exact
    MSE of this quantizer for the density -- exceeds the Lloyd-Max MSE, by a ratio that
    tends to 1 as ``n_levels`` grows.

    Parameters
    ----------
    distribution : {"gaussian", "laplace", "uniform"} or frozen scipy.stats distribution
        The density, as in :func:`lloyd_max`.
    n_levels : int
        Number of levels, ``1 <= M <= 65536``.

    Returns
    -------
    QuantizerDesign
        With ``method="high_rate_compander"``.

    Examples
    --------
    >>> from skquant.design import high_rate_compander, lloyd_max
    >>> design = high_rate_compander("gaussian", 4)
    >>> design.thresholds.round(4)
    array([-1.1683,  0.    ,  1.1683])
    >>> round(design.mse / lloyd_max("gaussian", 4).mse, 3)
    1.291
    """
    density = _density(distribution)
    n_levels = _check_int_range(n_levels, "n_levels", 1, MAX_LEVELS)
    thresholds = _compander_thresholds(density, n_levels)
    levels = density.compander_inverse(2 * np.arange(n_levels) + 1, 2 * n_levels)
    mse = _design_mse(density, thresholds, levels)
    return QuantizerDesign(thresholds, levels, mse, density.name, "high_rate_compander")


def _compander_thresholds(density, n_levels):
    return density.compander_inverse(np.arange(1, n_levels), n_levels)


# --------------------------------------------------------------------------------------
# Optimised uniform quantizer
# --------------------------------------------------------------------------------------


def _uniform_cells(centre, x_max, n_levels):
    """Edges ``(a, b)`` and levels of midrise uniform quantizers, one row per x_max."""
    x_max = np.atleast_1d(x_max)[:, None]
    step = 2 * x_max / n_levels
    k = np.arange(n_levels + 1)
    edges = centre - x_max + k * step
    edges[:, 0], edges[:, -1] = -np.inf, np.inf
    levels = centre - x_max + (k[:-1] + 0.5) * step
    return edges[:, :-1], edges[:, 1:], levels


def optimal_uniform(distribution, n_levels):
    """Uniform quantizer with the MSE-optimal clipping range (the lecture's design A).

    The midrise quantizer on ``[c - X, c + X]`` has step ``Delta = 2 X / M``, levels
    ``c - X + (k + 1/2) Delta`` and thresholds ``c - X + k Delta``, the outer cells
    extending to infinity. ``X`` minimises the exact MSE ``D(X)``: ``D`` is evaluated on a
    grid of 64 values of ``X`` up to twice the ``1/(4 M^2)`` tail quantile (doubled
    while the best grid point is the last), then refined by a bounded scalar minimiser
    between the neighbours of the best grid point -- ``D`` need not be unimodal. The
    centre ``c`` is 0 for the named densities and the mean for scipy distributions
    (their centre of symmetry when they have one).

    Parameters
    ----------
    distribution : {"gaussian", "laplace", "uniform"} or frozen scipy.stats distribution
        The density, as in :func:`lloyd_max`.
    n_levels : int
        Number of levels, ``1 <= M <= 65536``. With ``M = 1`` the only level is ``c`` and
        ``x_max`` is ``nan``.

    Returns
    -------
    QuantizerDesign
        With ``method="optimal_uniform"`` and ``x_max`` set.

    Examples
    --------
    >>> from skquant.design import optimal_uniform
    >>> design = optimal_uniform("gaussian", 2)
    >>> round(design.x_max, 4), design.levels.round(4)
    (1.5958, array([-0.7979,  0.7979]))
    >>> round(optimal_uniform("uniform", 4).x_max, 6)  # sqrt(3): the uniform density's range
    1.732051
    """
    density = _density(distribution)
    n_levels = _check_int_range(n_levels, "n_levels", 1, MAX_LEVELS)
    if n_levels == 1:
        return _single_level(density, "optimal_uniform", x_max=math.nan)
    c = density.mean
    s = density.std

    def mse(x_max):
        a, b, y = _uniform_cells(c, x_max, n_levels)
        return density.distortion(a.ravel(), b.ravel(), y.ravel()).reshape(a.shape).sum(1)

    q = 0.25 / n_levels**2
    reach = max(c - float(density.ppf(q)), float(density.ppf(1 - q)) - c, 1.5 * s)
    x_hi = 2 * reach
    while True:
        grid = np.linspace(x_hi / 64, x_hi, 64)
        values = mse(grid)
        best = int(np.argmin(values))
        if best < grid.size - 1:
            break
        x_hi *= 2
    bounds = (grid[best - 1] if best else 0.5 * grid[0], grid[best + 1])
    res = optimize.minimize_scalar(
        lambda x: mse(x)[0], bounds=bounds, method="bounded", options={"xatol": 1e-10 * s}
    )
    x_max = float(res.x) if res.fun <= values[best] else float(grid[best])
    a, b, y = _uniform_cells(c, x_max, n_levels)
    thresholds = b[0, :-1]
    return QuantizerDesign(
        thresholds, y[0], mse(x_max)[0], density.name, "optimal_uniform", x_max=x_max
    )


# --------------------------------------------------------------------------------------
# Entropy-constrained design
# --------------------------------------------------------------------------------------

_ECSQ_TAIL = 1e-12  # the fine grid spans the quantiles 1e-12 .. 1 - 1e-12


def _ecsq_grid_edges(density, n_cells):
    """Interior edges (increasing) of the fine grid of :func:`entropy_constrained`: at
    most ``n_cells`` cells, half of the edges equally spaced in ``x`` between the
    quantiles ``1e-12`` and ``1 - 1e-12``, half at equally spaced quantiles; the outer
    cells reach the ends of the support. A symmetric density gets a grid mirrored
    about its centre (with an edge at the centre)."""
    half = max(2, n_cells // 2 - 4)
    lo_q, hi_q = (float(v) for v in density.ppf(np.array([_ECSQ_TAIL, 1 - _ECSQ_TAIL])))
    # the equally spaced edges stop at 10 standard deviations (heavy tails)
    lo_x = max(lo_q, density.mean - 10 * density.std)
    hi_x = min(hi_q, density.mean + 10 * density.std)
    k = np.arange(1, half)
    edges = np.concatenate((
        [lo_q, hi_q, lo_x, hi_x], lo_x + (hi_x - lo_x) * k / half, density.ppf(k / half),
    ))
    lo, hi = density.support
    edges = edges[np.isfinite(edges) & (edges > lo) & (edges < hi)]
    c = density.centre
    if c is not None:
        upper = np.unique(edges[edges > c])
        edges = np.concatenate((2 * c - upper[::-1], [c], upper))
    edges = np.unique(edges)
    if edges.size + 1 > n_cells:  # a mirrored grid may come out a little larger
        keep = np.linspace(0, edges.size - 1, n_cells - 1).round().astype(np.int64)
        edges = edges[np.unique(keep)]
    return edges


def _ecsq_design(density, lam, rate, max_levels, n_cells):
    """The design of :func:`entropy_constrained` on a fine grid of ``n_cells`` cells
    (parameters already checked): ``(thresholds, levels, mse, entropy, lam)``."""
    from ._entropy_constrained import lagrangian_design
    from ._summary import ColumnSummary

    lo, hi = density.support
    edges = _ecsq_grid_edges(density, n_cells)
    a, b = np.concatenate(([lo], edges)), np.concatenate((edges, [hi]))
    mass, centroid = density.cells(a, b)
    keep = np.flatnonzero((mass > 0) & np.isfinite(centroid))
    # each grid cell is one weighted point at its exact centroid: the error of a cell
    # of the DP is then its exact error less the (fixed) error within the grid cells
    mass, u = mass[keep], (centroid[keep] - density.mean) / density.std
    zero = np.zeros(1)
    summary = ColumnSummary(
        u, np.concatenate((zero, np.cumsum(mass))),
        np.concatenate((zero, np.cumsum(mass * u))),
        np.concatenate((zero, np.cumsum(mass * u * u))), 0.0,
    )
    var = density.std**2
    lam_unit, _, pos = lagrangian_design(
        summary, max_levels, None if lam is None else lam / var, rate
    )
    thresholds = a[keep][pos[1:-1]]  # a cell of the DP starts at its first grid cell
    lam = float(lam_unit) * var
    thresholds, levels, mse, entropy = _exact_cells(density, thresholds)
    if rate is not None and np.isfinite(lam) and lam > 0 and rate - entropy > 1e-4:
        refined = _meet_rate(density, thresholds, levels, entropy, lam, rate)
        if refined is not None and refined[2] < mse:
            thresholds, levels, mse, entropy = refined
    return thresholds, levels, mse, entropy, lam


def _exact_cells(density, thresholds):
    """``(thresholds, levels, mse, entropy)`` of the cells cut at ``thresholds``, with
    centroid levels, from the density."""
    from ._lagrangian import entropy_bits

    lo, hi = density.support
    cells = np.concatenate(([lo], thresholds)), np.concatenate((thresholds, [hi]))
    mass, levels = density.cells(*cells)
    return thresholds, levels, _design_mse(density, thresholds, levels), entropy_bits(mass)


def _meet_rate(density, thresholds, levels, entropy, lam, rate):
    """Close the gap ``rate - entropy`` that the jumps of the entropy in ``lam`` leave:
    the entropy-constrained encoder's thresholds for the design's levels and code
    lengths, ``(y1 + y2) / 2 + s lam (l2 - l1) / (2 (y2 - y1))``, with ``s`` in
    ``[0, 1]`` found by bisection so that the entropy is at most ``rate`` and as close
    to it as the bisection gets (``None`` when no ``s`` helps)."""
    from ._lagrangian import entropy_bits

    lo, hi = density.support
    edges = np.concatenate(([lo], thresholds, [hi]))
    mass, _ = density.cells(edges[:-1], edges[1:])
    lengths = -_libm.log2(np.maximum(mass, np.finfo(np.float64).tiny))
    y1, y2 = levels[:-1], levels[1:]
    mid, push = 0.5 * (y1 + y2), lam * (lengths[1:] - lengths[:-1]) / (2.0 * (y2 - y1))

    def cut(s):
        t = mid + s * push
        if not (np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)):
            return None, np.inf
        m, _ = density.cells(np.concatenate(([lo], t)), np.concatenate((t, [hi])))
        return t, entropy_bits(m)

    t_best, h = cut(1.0)
    if t_best is None or h > rate:
        return None
    s_lo, s_hi = 0.0, 1.0
    t0, h0 = cut(0.0)
    if t0 is not None and h0 <= rate:
        t_best = t0
    else:
        for _ in range(40):
            if rate - h <= 1e-6:
                break
            s = 0.5 * (s_lo + s_hi)
            t, hs = cut(s)
            if t is not None and hs <= rate:
                s_hi, t_best, h = s, t, hs
            else:
                s_lo = s
    return _exact_cells(density, t_best)


def _check_lam(lam):
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise TypeError(
            f"lam must be a float >= 0 or None; got {lam!r} of type {type(lam).__name__}."
        )
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a finite float >= 0; got {lam}.")
    return float(lam)


def entropy_constrained(distribution, *, lam=None, rate=None, max_levels=256):
    """Entropy-constrained scalar quantizer (ECSQ) for a density: min ``MSE + lam * H``.

    The partition of the line into contiguous cells (any number up to ``max_levels``)
    minimising ``MSE + lam * H``, ``H`` the entropy in bits of the codes -- the bits
    per value an entropy coder spends -- with the levels at the cells' centroids (Chou,
    Lookabaugh and Gray 1989). With ``rate``, ``lam`` is found by bisection so that
    ``H <= rate``. It is the density counterpart of
    :class:`~skquant.EntropyConstrainedQuantizer` and runs the same exact dynamic
    program and the same search for ``lam``.

    How exact: the density is cut into about 2040 fine cells -- half of their edges
    equally spaced in ``x`` between the quantiles ``1e-12`` and ``1 - 1e-12`` (and
    within 10 standard deviations of the mean), half at
    equally spaced quantiles, the outer two cells reaching the ends of the support,
    mirrored about the centre of a symmetric density -- each a weighted point at its
    exact mass and centroid. The dynamic program is then exact over all quantizers whose
    thresholds are edges of that grid (the error within the fine cells does not depend
    on the partition). The reported ``mse``, ``entropy`` and centroid ``levels`` are
    recomputed from the density for the chosen thresholds (closed form for the named
    densities, quadrature for scipy distributions). The thresholds being restricted to
    the grid costs a relative MSE of order (grid spacing / cell width)**2, below 1e-3
    for the unit Gaussian up to 4 bits. With ``rate``, as for the estimator, the
    design of smallest MSE with ``H <= rate`` is kept among the Lagrangian designs and
    the MSE-optimal partition into ``floor(2**rate)`` cells, so its MSE is never above
    the fixed-rate optimum on the grid. The entropy of the Lagrangian designs jumps
    with ``lam`` (the number of cells is an integer); when the bisection ends more
    than 1e-4 bit below ``rate``, the thresholds are moved continuously towards the
    midpoints of the levels (the entropy-constrained encoder's rule with a smaller
    multiplier) until the entropy meets ``rate``, kept only if the MSE goes down.

    Parameters
    ----------
    distribution : {"gaussian", "laplace", "uniform"} or frozen scipy.stats distribution
        The density, as in :func:`lloyd_max`.
    lam : float >= 0 or None, default=None
        The multiplier of the entropy, in squared units of the distribution per bit
        (larger means fewer bits); 0 gives the MSE-optimal quantizer with
        ``max_levels`` levels on the grid. Give ``lam`` or ``rate``, not both.
    rate : float > 0 or None, default=None
        Target entropy in bits per value, at most ``log2(max_levels)`` (``None``
        without ``lam``: 4 bits, as for the estimator).
    max_levels : int, default=256
        The largest number of levels, 2 to 65536.

    Returns
    -------
    QuantizerDesign
        With ``method="entropy_constrained"`` and ``entropy`` (bits) and ``lam`` set
        (``lam`` is ``nan`` when ``rate`` was met by the fixed-rate partition).

    See Also
    --------
    skquant.EntropyConstrainedQuantizer : The same design fitted to data.
    lloyd_max : The MSE-optimal quantizer at a fixed number of levels.

    Examples
    --------
    >>> from skquant.design import entropy_constrained, lloyd_max
    >>> design = entropy_constrained("gaussian", rate=2.0)
    >>> round(design.entropy, 3), round(design.mse, 4), design.n_levels > 4
    (2.0, 0.0889, True)
    >>> round(lloyd_max("gaussian", 4).mse, 4)  # fixed-rate at 2 bits: worse
    0.1175

    On the Laplacian the middle cell, around 0, is wider than the others (a dead
    zone):

    >>> import numpy as np
    >>> lap = entropy_constrained("laplace", rate=1.5)
    >>> widths = np.diff(lap.thresholds)  # the inner cells' widths
    >>> middle = widths.size // 2
    >>> round(float(widths[middle]), 3), round(float(widths[middle - 2]), 3)
    (1.569, 1.275)
    """
    density = _density(distribution)
    max_levels = _check_int_range(max_levels, "max_levels", 2, MAX_LEVELS)
    if lam is not None and rate is not None:
        raise ValueError(
            f"entropy_constrained takes lam or rate, not both (got lam={lam!r} and "
            f"rate={rate!r})."
        )
    if lam is not None:
        lam = _check_lam(lam)
    else:
        rate = 4.0 if rate is None else _check_positive_real(rate, "rate")
        if rate > math.log2(max_levels):
            raise ValueError(
                f"rate={rate!r} bits is above log2(max_levels) = "
                f"{math.log2(max_levels):.4g} (max_levels={max_levels}): raise max_levels "
                "or lower rate."
            )
    from ._entropy_constrained import N_CANDIDATES

    thresholds, levels, mse, entropy, lam = _ecsq_design(
        density, lam, rate, max_levels, N_CANDIDATES
    )
    return QuantizerDesign(
        thresholds, levels, mse, density.name, "entropy_constrained",
        entropy=entropy, lam=lam,
    )


# --------------------------------------------------------------------------------------
# Panter-Dite / Zador and NormalFloat
# --------------------------------------------------------------------------------------


def panter_dite_mse(distribution, n_bits):
    """High-rate MSE of the optimal quantizer: ``(1/12) (int f^(1/3))^3 2^(-2 b)``.

    Zador's formula (Panter and Dite 1951 for scalars): the Lloyd-Max MSE with
    ``2**b`` levels, multiplied by ``4**b``, tends to the constant
    ``(1/12) (int f^(1/3))^3`` -- exactly ``sqrt(3) pi / 2 = 2.7207`` for the unit
    Gaussian, ``9/2`` for the unit Laplacian and ``1`` for the unit uniform density
    (for which the formula is exact at every ``b``). The integral is computed
    numerically for scipy distributions.

    Parameters
    ----------
    distribution : {"gaussian", "laplace", "uniform"} or frozen scipy.stats distribution
        The density, as in :func:`lloyd_max`.
    n_bits : float or array-like of float
        Bits per sample ``b >= 0`` (need not be integers).

    Returns
    -------
    float or ndarray
        The asymptotic MSE, with the shape of ``n_bits``.

    Examples
    --------
    >>> from skquant.design import panter_dite_mse
    >>> round(panter_dite_mse("gaussian", 0), 4)
    2.7207
    >>> panter_dite_mse("laplace", [1, 2])
    array([1.125  , 0.28125])
    """
    density = _density(distribution)
    bits = np.asarray(n_bits)
    if bits.dtype == bool or not (
        np.issubdtype(bits.dtype, np.integer) or np.issubdtype(bits.dtype, np.floating)
    ):
        raise TypeError(f"n_bits must be a real number or an array of them; got {n_bits!r}.")
    if not np.all(np.isfinite(bits) & (bits >= 0)):
        raise ValueError(f"n_bits must be finite and >= 0; got {n_bits!r}.")
    with np.errstate(over="ignore", under="ignore"):  # 2**-2e308 is 0: the limit
        mse = density.zador * _libm.exp2(-2.0 * bits.astype(np.float64))
    return float(mse) if mse.ndim == 0 else mse


def _normal_float_offset(n):
    """QLoRA's offset ``1 - (1/(2(n - 1)) + 1/(2n)) / 2`` for ``n`` levels, to 7 decimals."""
    return round(1 - 0.5 * (1 / (2 * (n - 1)) + 1 / (2 * n)), 7)


def _linspace_float32(start, end, steps):
    """``torch.linspace`` in float32: ``start + i*step`` for the first half of the
    points, ``end - (steps-1-i)*step`` for the second (bitsandbytes' probabilities)."""
    start, end = np.float32(start), np.float32(end)
    if steps == 1:
        return np.array([start], dtype=np.float64)
    step = (end - start) / np.float32(steps - 1)
    i = np.arange(steps, dtype=np.float32)
    first = start + step * i
    second = end - step * (np.float32(steps - 1) - i)
    return np.where(np.arange(steps) < steps // 2, first, second).astype(np.float64)


def normal_float_levels(n_bits=4, *, n_levels=None):
    """The NormalFloat codebook of QLoRA (Dettmers et al. 2023), on ``[-1, 1]``.

    With ``n`` levels (``2**n_bits``, or ``n_levels``) and the offset
    ``p = 1 - (1/(2(n-1)) + 1/(2n)) / 2`` rounded to 7 decimals (``0.9677083`` for 4
    bits, the constant of bitsandbytes' ``create_normal_map``), the codebook holds
    ``n // 2`` positive values ``Phi^-1(linspace(p, 1/2, n//2 + 1)[:-1])``,
    ``(n - 1) // 2`` negative values ``-Phi^-1(linspace(p, 1/2, (n-1)//2 + 1)[:-1])``
    and an exact zero, sorted and divided by the largest. For even ``n`` the codebook
    is asymmetric (one more positive value) so that zero is represented exactly; for
    odd ``n`` it is symmetric. The arithmetic follows bitsandbytes: the probabilities
    are a float32 ``torch.linspace``, the quantiles are rounded to float32 and divided
    by the largest in float32, so for ``n_bits=4`` the codebook is *exactly* the 16
    NF4 values of bitsandbytes (as float32 numbers, returned in float64). For two
    levels the codebook is ``[0, 1]``.

    Parameters
    ----------
    n_bits : int, default=4
        Bits per value, 1 to 16 (``n = 2**n_bits`` levels).
    n_levels : int, default=None
        Number of levels, 2 to 65536, instead of ``n_bits``.

    Returns
    -------
    ndarray of shape (n,)
        The increasing codebook (read-only, float64), from -1 to 1 (0 to 1 for two
        levels), containing 0.

    Examples
    --------
    >>> from skquant.design import normal_float_levels
    >>> normal_float_levels(4).round(4)
    array([-1.    , -0.6962, -0.5251, -0.3949, -0.2844, -0.1848, -0.0911,
            0.    ,  0.0796,  0.1609,  0.2461,  0.3379,  0.4407,  0.5626,
            0.723 ,  1.    ])
    >>> normal_float_levels(n_levels=5).round(4)
    array([-1.    , -0.4174,  0.    ,  0.4174,  1.    ])
    """
    if n_levels is None:
        if n_bits is None:
            raise TypeError("normal_float_levels needs n_bits or n_levels; both are None.")
        n = 2 ** _check_int_range(n_bits, "n_bits", 1, 16)
    else:
        n = _check_int_range(n_levels, "n_levels", 2, 2**16)
    offset = _normal_float_offset(n)
    positive = ndtri(_linspace_float32(offset, 0.5, n // 2 + 1)[:-1])
    negative = -ndtri(_linspace_float32(offset, 0.5, (n - 1) // 2 + 1)[:-1])
    levels = np.sort(np.concatenate((positive, [0.0], negative)).astype(np.float32))
    levels = (levels / levels[-1]).astype(np.float64)  # divided in float32, as NF4
    levels.setflags(write=False)
    return levels
