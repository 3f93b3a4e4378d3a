"""BinarySphericalEncoder: binary spherical codes (BSQ), fitted rotations, packed bits.

Also the auxiliary entropy loss of binary spherical quantization,
:func:`bsq_auxiliary_loss`, computed without enumerating the 2**D codebook per sample.
"""

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_array, check_random_state

from . import _kernels as K
from ._compat import (
    IntervalNotBool,
    StrOptions,
    _fit_context,
    check_is_fitted,
    validate_data,
    validate_params,
)
from ._hamming import _as_words, hamming_distances, hamming_knn  # noqa: F401 (re-exported)

#: Default largest code dimension for which the codebook entropy is enumerated exactly.
EXACT_MAX_DIM = 16
#: Hard cap of ``exact_max_dim``: the mean distribution has 2**D float64 entries.
_EXACT_DIM_CAP = 24
#: Rows per call of the sign kernels in ``transform`` (their flags: 64 KiB at most).
_PACK_ROWS = 2**16


# ------------------------------------------------------------------------ helpers
def _nonfinite_rows(X):
    """Indices of the rows of X holding a NaN or inf (one cheap pass when none do)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum(dtype=np.float64)):
            return np.empty(0, dtype=np.intp)
    return np.flatnonzero(~np.isfinite(X).all(axis=1))


def _raise_nonfinite(rows, name="X"):
    shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
    raise ValueError(
        f"Input {name} contains NaN or infinity in {len(rows)} row(s) (row(s) {shown}); "
        "binary spherical codes need finite values: drop or impute those rows first."
    )


def _power_of_two_unit(largest):
    """A power of two within a factor 2 of ``largest`` when that is extreme, else 1.

    Dividing by a power of two is exact (short of underflow), and it changes no sign
    and no direction: fit and transform rescale by it where squares or sums of
    values near 1e308, or products of subnormals, would overflow or lose their bits.
    """
    exponent = int(np.frexp(max(float(largest), np.finfo(np.float64).tiny))[1])
    return 1.0 if -64 <= exponent <= 64 else float(np.ldexp(1.0, exponent - 1))


def _column_mean(X):
    """The float64 mean of each column, without overflow for values near 1e308."""
    with np.errstate(over="ignore"):
        mean = X.mean(axis=0, dtype=np.float64)
    if np.isfinite(mean).all():
        return mean
    unit = _power_of_two_unit(np.abs(X).max())
    return np.divide(X, unit, dtype=np.float64).mean(axis=0) * unit


def _random_orthonormal(n, k, rng):
    """The first ``k`` columns of a Haar-random ``n x n`` rotation.

    QR of an ``n x n`` standard Gaussian matrix with the signs of ``diag(R)`` moved
    into ``Q`` (without that fix QR's sign convention biases the distribution).
    """
    G = rng.standard_normal((n, n))
    Q, R = np.linalg.qr(G)
    Q *= np.where(np.diag(R) < 0, -1.0, 1.0)
    return Q[:, :k]


def _sign_convention(P):
    """``P`` with each row's largest-magnitude entry made positive (in place).

    Among entries of equal magnitude the first one counts (``argmax`` of ``|P|``).
    No temporary of the size of ``P``: the rows' largest and smallest entries decide,
    and ``argmax`` runs only on rows where they tie in magnitude.
    """
    hi, lo = P.max(axis=1), P.min(axis=1)
    flip = -lo > hi
    for i in np.flatnonzero(-lo == hi):
        flip[i] = P[i, np.argmax(np.abs(P[i]))] < 0
    P *= np.where(flip, -1.0, 1.0)[:, None]
    return P


def _principal_directions(gram, n_bits):
    """Top ``n_bits`` eigenvectors of ``gram`` (``Xc.T @ Xc``) as rows, by decreasing
    eigenvalue.

    Signs are made deterministic: the largest-magnitude entry of each row is positive.
    """
    _, evecs = np.linalg.eigh(gram)
    return _sign_convention(evecs[:, ::-1][:, :n_bits].T.copy())


def _principal_directions_wide(Xc, n_bits):
    """:func:`_principal_directions` of ``Xc.T @ Xc`` for ``n_samples < n_features``,
    without forming that ``d x d`` matrix.

    With ``Xc = U S V^T``, the ``n x n`` matrix ``Xc @ Xc.T`` is ``U S^2 U^T``, and the
    eigenvectors of ``Xc.T @ Xc`` for its nonzero eigenvalues ``s_i^2`` are ``v_i =
    Xc^T u_i / s_i``: the same directions, in ``O(n^2 d)`` time and ``n^2 + 2 n_bits
    d`` floats. The ``v_i`` are then orthonormalised in order (Householder QR of their
    matrix: each is orthogonal to the others only up to rounding over ``s_i``).
    Directions of zero eigenvalue -- beyond the rank of ``Xc``, or below ``max(n, d)``
    roundings of the largest -- are any orthonormal basis of the rest of the space in
    the ``d x d`` route; here, the next columns of that QR's ``Q`` (deterministic).
    """
    n, d = Xc.shape
    evals, U = np.linalg.eigh(Xc @ Xc.T)
    evals, U = evals[::-1], U[:, ::-1]
    tol = max(evals[0], 0.0) * max(n, d) * np.finfo(np.float64).eps
    r = int(np.count_nonzero(evals[: min(n_bits, n)] > tol))
    if r:
        V = U[:, :r].T @ Xc
        V /= np.sqrt(evals[:r])[:, None]
        # V.T is Fortran-ordered: the QR overwrites V's memory instead of copying it
        (qr, tau), _ = scipy.linalg.qr(V.T, mode="raw", overwrite_a=True)
        del V
        if r == n_bits:  # full rank: Q's columns overwrite the QR (no third array)
            # the workspace query leaves qr as it is; without overwrite_a it would
            # copy it (one n_bits x n_features array more)
            lwork = int(scipy.linalg.lapack.dorgqr(qr, tau, lwork=-1, overwrite_a=1)[1][0])
            basis, _, info = scipy.linalg.lapack.dorgqr(
                qr, tau, lwork=max(lwork, 1), overwrite_a=1
            )
            if info != 0:  # pragma: no cover - LAPACK argument errors only
                raise np.linalg.LinAlgError(f"dorgqr failed with info={info}")
            return _sign_convention(basis.T)
    basis = np.eye(d, n_bits, order="F")  # Q's first columns are written over it
    if r:
        lwork = int(
            scipy.linalg.lapack.dormqr("L", "N", qr, tau, basis, -1, overwrite_c=1)[1][0]
        )
        basis, _, info = scipy.linalg.lapack.dormqr(
            "L", "N", qr, tau, basis, max(lwork, 1), overwrite_c=1
        )
        if info != 0:  # pragma: no cover - LAPACK argument errors only
            raise np.linalg.LinAlgError(f"dormqr failed with info={info}")
        del qr
    return _sign_convention(basis.T)


def _itq(V, n_iter, rng, unit=1.0):
    """Iterative quantization (Gong & Lazebnik): rotation R minimising ||B - V R||_F^2.

    Alternates ``B = sign(V R)`` (optimal for fixed R) and the orthogonal Procrustes
    solution ``R = U W^T`` with ``U S W^T = svd(V^T B)`` (optimal for fixed B), from a
    random rotation. Returns R and the loss ``||B_t - V R_t||^2`` before each update
    and after the last one (``n_iter + 1`` values, non-increasing up to rounding).
    Both steps are unchanged when V is scaled, so V may be given divided by ``unit``
    (a power of two); the losses are those of ``unit * V``.
    """
    b = V.shape[1]
    R = _random_orthonormal(b, b, rng)
    losses = np.empty(n_iter + 1)
    for it in range(n_iter + 1):
        VR = V @ R
        B = np.where(VR > 0, 1.0, -1.0)
        with np.errstate(over="ignore"):  # inf is the loss of data near 1e308
            losses[it] = np.sum((B - unit * VR) ** 2)
        if it == n_iter:
            break
        U, _, Wt = np.linalg.svd(V.T @ B)
        R = U @ Wt
    return R, losses


def _long_code_multiplicities(words):
    """``np.bincount`` of the multiplicities of the distinct rows of ``words`` (codes
    of more than 64 bits, several uint64 words a row), counted in O(n) expected time
    by :func:`skquant._kernels.code_counts` (hash tables, one per bucket of rows), or
    by ``np.unique`` when rows crafted to collide in those tables make it give up.
    """
    n = words.shape[0]
    bucket_bits = int(np.clip(n.bit_length() - 11, 1, 12))  # ~1024 rows per bucket
    grouped = np.empty_like(words)
    counts = np.empty(n, dtype=np.int64)
    if K.code_counts(words, bucket_bits, grouped, counts) >= 0:
        return np.bincount(counts[counts > 0])
    del grouped, counts
    return np.bincount(np.unique(words, axis=0, return_counts=True)[1])


def _code_statistics(codes, n_bits):
    """``(bit_balance_, code_entropy_)`` of the packed training ``codes`` (not of X).

    The entropy (bits) of the empirical distribution of the codes is summed over the
    distinct multiplicities ``c`` in increasing order, ``sum_c N_c (c/n) log2(n/c)``
    (``N_c`` codes occur ``c`` times): every term is >= 0 and the order does not depend
    on how the codes were counted.

    Codes of up to 64 bits are one uint64 word a row: one kernel,
    :func:`skquant._kernels.word_statistics`, counts their bits and their distinct
    values (hash tables, one per bucket of rows, O(n) expected; rows crafted to collide
    in those tables make it give up, and they are sorted instead). ``fit`` of 200 000
    x 64 float32 took 13.5 / 12.3 ms (1 / 2 threads) with a sort of the words,
    11.2 / 6.3 ms with the tables of ``code_counts`` and a separate bit count (load 1),
    5.8 / 3.6 ms with ``word_statistics`` (1.79x / 1.90x ``transform``; load 0.5 to
    0.8: ``python benchmarks/bench_binary_spherical.py``).
    Longer codes: byte histograms for the bits, :func:`_long_code_multiplicities`.
    """
    n, n_bytes = codes.shape
    words = _as_words(codes, "codes")
    if words.shape[1] == 1:
        ones = np.empty((K.STAT_PARTS, 64), dtype=np.int64)
        keys = words.reshape(n)
        multiplicity = K.word_statistics(keys, int(np.clip(n.bit_length() - 9, 1, 12)), ones)
        if not multiplicity.size:
            keys = np.sort(keys)
            ends = np.flatnonzero(keys[1:] != keys[:-1])
            multiplicity = np.bincount(np.diff(ends, prepend=-1, append=n - 1))
    else:
        n_parts = max(1, min(K.STAT_PARTS, 2048 // n_bytes))  # histograms: <= 4 MiB
        ones = np.empty((n_parts, 8 * n_bytes), dtype=np.int64)
        K.code_bit_counts(codes, ones)
        multiplicity = _long_code_multiplicities(words)
    bit_balance = ones.sum(axis=0)[:n_bits] / n
    c = np.flatnonzero(multiplicity)
    entropy = float((multiplicity[c] * (c / n) * np.log2(n / c)).sum())
    return bit_balance, entropy


def _binary_entropy(q):
    """Entropy (nats) of Bernoulli(q), elementwise, with 0 log 0 = 0."""
    q = np.asarray(q, dtype=np.float64)
    out = np.zeros_like(q)
    for p in (q, 1.0 - q):
        pos = p > 0
        out[pos] -= p[pos] * np.log(p[pos])
    return out


# -------------------------------------------------------------------- the aux loss
class BSQAuxiliaryLoss(NamedTuple):
    """Result of :func:`bsq_auxiliary_loss` (all entropies in nats).

    Attributes
    ----------
    loss : float
        ``entropy_loss_weight * (per_sample_entropy - diversity_gamma *
        codebook_entropy)``, the reference module's ``aux_loss``.
    per_sample_entropy : float
        Mean over rows of the entropy of each row's soft code assignment.
    codebook_entropy : float
        Entropy of the soft assignment averaged over rows.
    exact : bool
        True when both terms are exactly the reference's (code dimension at most
        ``exact_max_dim``); False when the factorised approximations were used.
    """

    loss: float
    per_sample_entropy: float
    codebook_entropy: float
    exact: bool


def _codebook_mean_exact(Q0, Q1):
    """Mean over rows of the soft assignment to all 2**D codes (index order)."""
    n, d = Q0.shape
    h = d // 2
    n_hi, n_lo = 1 << h, 1 << (d - h)
    # up to 16 parts of >= 256 rows, each with its own sums; at most 2**24 floats of
    # part sums in all (so only one part, on one thread, at D = 24)
    n_parts = max(1, min(16, n // 256, (1 << 24) >> d))
    # table blocks of ~512 KiB per thread, at least 64 rows
    rows = max(64, min(1024, (1 << 16) // n_lo))
    parts = np.empty((n_parts, n_hi, n_lo))
    K.bsq_codebook_partials(Q0, Q1, h, rows, parts)
    return parts.sum(axis=0).ravel() / n


def _aux_loss(X, inv_temperature, diversity_gamma, entropy_loss_weight, exact_max_dim):
    """:func:`bsq_auxiliary_loss` on validated, finite, C-ordered float64 rows."""
    n, d = X.shape
    scale = 4.0 * inv_temperature / np.sqrt(d)
    exact = d <= exact_max_dim
    entropy = np.empty(n)
    Q0 = np.empty((n, d))
    Q1 = np.empty((n, d))
    K.bsq_sample_terms(X, scale, exact, entropy, Q0, Q1)
    per_sample = float(entropy.mean())
    if exact:
        avg = _codebook_mean_exact(Q0, Q1)
        codebook = float(-(avg * np.log(np.maximum(avg, K.CLAMP))).sum())
    else:
        codebook = float(_binary_entropy(Q1.sum(axis=0) / n).sum())
    with np.errstate(over="ignore", invalid="ignore"):
        loss = entropy_loss_weight * (per_sample - diversity_gamma * codebook)
    if not np.isfinite(loss):
        raise ValueError(
            f"The loss entropy_loss_weight * (per_sample_entropy - diversity_gamma * "
            f"codebook_entropy) = {entropy_loss_weight!r} * ({per_sample!r} - "
            f"{diversity_gamma!r} * {codebook!r}) overflows float64; use smaller "
            "entropy_loss_weight or diversity_gamma."
        )
    return BSQAuxiliaryLoss(float(loss), per_sample, codebook, bool(exact))


@validate_params(
    {
        "X": ["array-like"],
        "inv_temperature": [IntervalNotBool(Real, 0, None, closed="left")],
        "diversity_gamma": [IntervalNotBool(Real, None, None, closed="neither")],
        "entropy_loss_weight": [IntervalNotBool(Real, None, None, closed="neither")],
        "exact_max_dim": [IntervalNotBool(Integral, 0, _EXACT_DIM_CAP, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def bsq_auxiliary_loss(
    X,
    *,
    inv_temperature=100.0,
    diversity_gamma=1.0,
    entropy_loss_weight=0.1,
    exact_max_dim=EXACT_MAX_DIM,
):
    """Entropy auxiliary loss of binary spherical quantization, without the 2**D blow-up.

    The reference module L2-normalises each row ``x`` of dimension ``D`` and softly
    assigns it to the ``2**D`` codes ``c`` in ``{-1/sqrt(D), +1/sqrt(D)}**D`` with
    probabilities ``softmax(2 * inv_temperature * <x, c>)``. It returns
    ``entropy_loss_weight * (H_sample - diversity_gamma * H_codebook)``: the mean
    per-row entropy of that assignment (pushed down: confident codes) minus the
    entropy of its mean over rows (pushed up: every code used). Both entropies are
    the reference's, ``-sum p log(max(p, 1e-5))``.

    Because ``<x, c>`` is a sum over dimensions, the softmax is a product of
    independent Bernoullis: bit ``d`` is 1 with probability
    ``sigmoid(4 * inv_temperature * x_d / sqrt(D))``. Hence:

    - the per-row Shannon entropy is the sum of ``D`` binary entropies, O(D); the
      reference's clamp lowers it by ``sum_{p < 1e-5} p log(1e-5 / p)`` when some
      code has ``p < 1e-5``, computed exactly by a meet-in-the-middle over the two
      halves of the dimensions in O(2**(D/2)) per such row;
    - the codebook entropy needs the mean of the ``2**D`` probabilities, enumerated
      exactly up to ``D = exact_max_dim`` as a product of two half-dimension tables
      (a matrix product, O(n 2**D)).

    Above ``exact_max_dim`` both terms use the factorised forms of the BSQ paper
    (Zhao, Xiong, Krähenbühl 2024): the per-row Shannon entropy without the clamp,
    and the codebook entropy approximated by ``sum_d H(mean_i q_id)``, the entropy of
    the mean Bernoulli of each dimension, an upper bound of the true codebook entropy.
    ``exact`` is False in that case.

    Parameters
    ----------
    X : array-like of shape (n_samples, D) or (batch, tokens, D)
        Vectors to quantize; a 3-D input is flattened to ``batch * tokens`` rows, as
        the reference does. Rows need not be normalised (they are divided by
        ``max(norm, 1e-12)``); NaN or inf raise ``ValueError``.
    inv_temperature : float, default=100.0
        Inverse temperature of the soft assignment, finite and ``>= 0``.
    diversity_gamma : float, default=1.0
        Weight of the codebook entropy.
    entropy_loss_weight : float, default=0.1
        Overall weight of the loss.
    exact_max_dim : int, default=16
        Largest ``D`` handled exactly (at most 24). The exact codebook term costs
        ``O(n 2**D)`` time and ``2**D`` floats of memory.

    Returns
    -------
    result : BSQAuxiliaryLoss
        Named tuple ``(loss, per_sample_entropy, codebook_entropy, exact)``; the
        entropies are in nats.

    See Also
    --------
    BinarySphericalEncoder.auxiliary_loss : The loss of the rotated, centred codes.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import bsq_auxiliary_loss
    >>> X = np.array([[1.0, -2.0], [0.5, 0.5], [-1.0, 0.1]])
    >>> res = bsq_auxiliary_loss(X, inv_temperature=1.0)
    >>> res.exact
    True
    >>> round(res.per_sample_entropy, 4), round(res.codebook_entropy, 4)
    (0.8073, 1.3756)
    >>> round(res.loss, 5)
    -0.05683
    """
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError("bsq_auxiliary_loss needs a dense array, got a sparse matrix.")
    X = np.asarray(X)
    if X.ndim == 3:
        X = X.reshape(X.shape[0] * X.shape[1], X.shape[2])
    elif X.ndim != 2:
        raise ValueError(
            "X must be 2-D (n_samples, D) or 3-D (batch, tokens, D); got an array of "
            f"shape {X.shape}."
        )
    # the entropy kernels work in float64 (probabilities down to 1e-300 matter), so
    # float32 input is converted once here rather than compiled for separately
    X = check_array(X, dtype=np.float64, order="C", ensure_all_finite=False)
    rows = _nonfinite_rows(X)
    if rows.size:
        _raise_nonfinite(rows)
    return _aux_loss(
        X,
        float(inv_temperature),
        float(diversity_gamma),
        float(entropy_loss_weight),
        int(exact_max_dim),
    )


# ------------------------------------------------------------------- fitted state
def _fitted_error(name, expected, value):
    if isinstance(value, np.ndarray):
        got = f"an array of dtype {value.dtype} and shape {value.shape}"
    else:
        got = f"{type(value).__name__} {value!r}"[:200]
    return ValueError(
        f"BinarySphericalEncoder: fitted attribute {name} must be {expected}; got {got}."
    )


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _check_fitted_state(est, *, full=True):
    """Check the fitted attributes of a BinarySphericalEncoder; ValueError names the
    first one that is wrong.

    With ``full=False`` (what ``transform``, ``inverse_transform``, ``score`` and
    ``auxiliary_loss`` do before anything else) only what the kernels and the array
    arithmetic rely on, in O(n_bits_ n_features) -- the cost of encoding one row: the
    types, dtypes and shapes of ``n_features_in_``, ``n_bits_``, ``components_`` and
    ``mean_``, their consistency, and finite values (a NaN in ``mean_`` would zero
    bits silently).

    With ``full=True`` (for a loader: :func:`skquant.load` builds the estimator from a
    file) also what the documentation promises of a fitted encoder: finite
    ``components_`` with orthonormal rows, the identity when ``rotation=None``, zeros
    in ``mean_`` when ``center=False``, ``n_bits_`` as the parameters say, and the
    diagnostics' types, shapes and ranges. O(n_bits_**2 n_features).
    """
    d = getattr(est, "n_features_in_", None)
    if not (_is_int(d) and d >= 1):
        raise _fitted_error("n_features_in_", "a positive int", d)
    b = getattr(est, "n_bits_", None)
    if not (_is_int(b) and 1 <= b <= d):
        raise _fitted_error("n_bits_", f"an int in [1, n_features_in_={d}]", b)
    C = getattr(est, "components_", None)
    if not (isinstance(C, np.ndarray) and C.dtype == np.float64 and C.shape == (b, d)):
        raise _fitted_error("components_", f"a float64 array of shape ({b}, {d})", C)
    m = getattr(est, "mean_", None)
    if not (isinstance(m, np.ndarray) and m.dtype == np.float64 and m.shape == (d,)):
        raise _fitted_error("mean_", f"a float64 array of shape ({d},)", m)
    if not np.isfinite(m).all():
        raise _fitted_error("mean_", "finite", m)
    if not np.isfinite(C).all():
        raise _fitted_error("components_", "finite", C)
    if not full:
        return
    gram = C @ C.T  # orthonormal rows, to rounding
    gram[np.diag_indices(b)] -= 1.0
    if not np.abs(gram).max() <= 1e-6:
        raise _fitted_error("components_", "a matrix with orthonormal rows", C)
    del gram
    expected_bits = d if est.n_bits is None else est.n_bits
    if b != expected_bits:
        raise _fitted_error("n_bits_", f"{expected_bits} (the n_bits parameter)", b)
    if est.rotation is None and not est._identity:
        raise _fitted_error("components_", "the identity (rotation=None)", C)
    if not est.center and np.any(m):
        raise _fitted_error("mean_", "zeros (center=False)", m)
    balance = getattr(est, "bit_balance_", None)
    if not (
        isinstance(balance, np.ndarray)
        and balance.dtype == np.float64
        and balance.shape == (b,)
        and np.all((balance >= 0) & (balance <= 1))
    ):
        raise _fitted_error("bit_balance_", f"a float64 array of shape ({b},) in [0, 1]", balance)
    entropy = getattr(est, "code_entropy_", None)
    if not (
        isinstance(entropy, Real)
        and not isinstance(entropy, (bool, np.bool_))
        and 0 <= entropy <= b + 1e-9
    ):
        raise _fitted_error("code_entropy_", f"a float in [0, n_bits_={b}]", entropy)
    if est.rotation == "itq":
        loss = getattr(est, "itq_loss_", None)
        n_iter = est.n_iter
        if not (
            isinstance(loss, np.ndarray)
            and loss.dtype == np.float64
            and loss.shape == (n_iter + 1,)
            and not np.isnan(loss).any()
            and np.all(loss >= 0)
        ):
            raise _fitted_error(
                "itq_loss_", f"a float64 array of shape ({n_iter + 1},), >= 0", loss
            )
    names = getattr(est, "feature_names_in_", None)
    if names is not None and not (
        isinstance(names, np.ndarray)
        and names.shape == (d,)
        and all(isinstance(v, str) for v in names)
    ):
        raise _fitted_error("feature_names_in_", f"an array of {d} strings", names)


# ---------------------------------------------------------------------- estimator
class BinarySphericalEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Binary spherical codes: one bit per (rotated) coordinate, ``x > 0 -> 1``.

    The scikit-learn counterpart of binary spherical quantization (BSQ, Zhao, Xiong &
    Krähenbühl 2024): each row is projected onto the unit sphere and every coordinate
    is quantized to ``±1/sqrt(n_bits)`` by its sign, so the code is a point of the
    "binary sphere" and its bits are the sign pattern. With the defaults
    (``rotation=None``, ``center=False``) the codes are exactly those of the
    reference PyTorch module. An optional fitted rotation first maps the (centred)
    input to ``n_bits`` directions: random, principal components, or ITQ
    (Gong & Lazebnik), which rotates the principal components to minimise the
    quantization loss. Codes are meant for compression and Hamming-distance search
    (:func:`hamming_knn`).

    Parameters
    ----------
    n_bits : int, default=None
        Bits per code; ``None`` means ``n_features``. With a rotation it may be lower
        (dimensionality reduction), never higher than ``n_features``.
    rotation : {None, "random", "pca", "itq"}, default=None
        ``None``: the input coordinates themselves (needs ``n_bits == n_features``).
        ``"random"``: the first ``n_bits`` columns of a Haar-random rotation (QR of a
        Gaussian matrix, sign-fixed; seeded by ``random_state``). ``"pca"``: the top
        ``n_bits`` eigenvectors of ``Xc.T @ Xc``, ``Xc`` being the data as transform
        sees it (centred when ``center=True``; without centring these are the
        uncentred second-moment directions, as TruncatedSVD). ``"itq"``: those
        directions followed by the ITQ rotation, ``n_iter`` iterations from a random
        start. PCA and ITQ are meant for centred data: use ``center=True``.
    center : bool, default=False
        Subtract the training mean before the rotation (and before the sign).
    n_iter : int, default=50
        ITQ iterations (ignored for other rotations).
    random_state : int, RandomState instance or None, default=None
        Seeds the random rotation and the ITQ start.
    encode : {"packed", "index", "sign"}, default="packed"
        Output of ``transform``. ``"packed"``: uint8 array of shape
        ``(n_samples, ceil(n_bits / 8))``, bits in ``np.packbits`` order (bit ``j`` is
        bit ``7 - j % 8`` of byte ``j // 8``: the first bit is the most significant;
        padding bits are 0). ``"index"``: int64 array of shape ``(n_samples, 1)``, the
        sign pattern read as a binary number with the first bit most significant
        (the reference's index); needs ``n_bits <= 63``. ``"sign"``: the reference's
        quantized vector, ``±1/sqrt(n_bits)`` per bit, in the float dtype of X.

    Attributes
    ----------
    n_bits_ : int
        The number of bits actually used.
    components_ : ndarray of shape (n_bits_, n_features_in_)
        The projection, with orthonormal rows: the code of ``x`` is the sign
        pattern of ``z = components_ @ (x - mean_)``. The identity when
        ``rotation=None``.
    mean_ : ndarray of shape (n_features_in_,)
        The training mean when ``center=True``, zeros otherwise.
    itq_loss_ : ndarray of shape (n_iter + 1,)
        Only for ``rotation="itq"``: the quantization loss ``||B - V R||_F^2`` of the
        training data before each ITQ update and after the last one.
    bit_balance_ : ndarray of shape (n_bits_,)
        Fraction of ones of each bit on the training data (0.5 is balanced).
    code_entropy_ : float
        Entropy in bits of the empirical distribution of the training codes (at most
        ``min(n_bits_, log2(n_samples))``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    hamming_knn : Exact nearest neighbours of packed codes in Hamming distance.
    bsq_auxiliary_loss : The reference's entropy auxiliary loss.

    Notes
    -----
    A bit is 1 exactly when its coordinate is ``> 0``. Dividing a vector by its norm
    changes no sign, so the bits are computed from ``z`` directly (the reference's
    float32 normalisation can underflow or overflow for extreme values; this never
    does). A zero vector (after centring) gets all bits 0 -- index 0, the code
    ``-1/sqrt(n_bits)`` everywhere -- as in the reference, since ``0 > 0`` is false.
    Rows with NaN or inf raise ``ValueError`` naming the rows.

    ``inverse_transform`` returns ``mean_ + components_.T @ s`` with ``s`` the code
    on the unit sphere: a unit vector (before the mean is added) in the direction
    the code represents. Norms are not stored, so it reconstructs directions only;
    ``score`` measures exactly that, as a mean cosine similarity.

    Examples
    --------
    >>> import numpy as np
    >>> from skquant import BinarySphericalEncoder
    >>> X = np.array([[0.5, -1.0, 2.0], [-0.1, 0.3, 0.0], [1.0, 1.0, -1.0]])
    >>> enc = BinarySphericalEncoder(encode="index").fit(X)
    >>> enc.transform(X).ravel()  # bits 101, 010, 110
    array([5, 2, 6])
    >>> enc.set_params(encode="packed").transform(X)
    array([[160],
           [ 64],
           [192]], dtype=uint8)
    >>> enc.inverse_transform(np.array([[160]], dtype=np.uint8)).round(4)
    array([[ 0.5774, -0.5774,  0.5774]])
    >>> round(enc.score(X), 4)
    0.8707
    """

    _parameter_constraints: dict = {
        "n_bits": [IntervalNotBool(Integral, 1, None, closed="left"), None],
        "rotation": [StrOptions({"random", "pca", "itq"}), None],
        "center": ["boolean"],
        "n_iter": [IntervalNotBool(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "encode": [StrOptions({"packed", "index", "sign"})],
    }

    def __init__(
        self,
        n_bits=None,
        *,
        rotation=None,
        center=False,
        n_iter=50,
        random_state=None,
        encode="packed",
    ):
        self.n_bits = n_bits
        self.rotation = rotation
        self.center = center
        self.n_iter = n_iter
        self.random_state = random_state
        self.encode = encode

    # ------------------------------------------------------------------ fitting
    def _validate(self, X, reset):
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            ensure_all_finite=False,
            reset=reset,
        )
        return X

    def _check_index_bits(self, n_bits):
        if self.encode == "index" and n_bits > 63:
            raise ValueError(
                f'encode="index" packs the code into one int64, so it needs n_bits <= 63; '
                f'got n_bits={n_bits}. Use encode="packed" for longer codes.'
            )

    def _fit(self, X, moments=None):
        """Fit on validated X; returns the packed training codes.

        ``moments`` (from :func:`skquant.dask.fit`) is ``(mean, gram)`` of the whole
        data set, ``gram`` a positive multiple of ``Xc.T @ Xc``: the mean and the
        principal directions then come from it, and X is a sample of the rows for the
        ITQ rotation and the diagnostics.
        """
        if self.rotation in ("pca", "itq"):
            # the directions are computed before any code: NaN must not reach LAPACK
            # (otherwise the sign kernels find the NaN and inf rows on their way)
            rows = _nonfinite_rows(X)
            if rows.size:
                _raise_nonfinite(rows)
        n_samples, n_features = X.shape
        n_bits = n_features if self.n_bits is None else self.n_bits
        if n_bits > n_features:
            raise ValueError(
                f"n_bits={n_bits} exceeds n_features={n_features}: a rotation has at "
                "most n_features orthonormal directions; use n_bits <= n_features."
            )
        if self.rotation is None and n_bits != n_features:
            raise ValueError(
                f"rotation=None keeps the {n_features} input coordinates, so n_bits must "
                f"be None or {n_features}; got n_bits={n_bits}. Use rotation='random', "
                "'pca' or 'itq' to reduce the dimension."
            )
        self._check_index_bits(n_bits)
        if self.center:
            mean = _column_mean(X) if moments is None else moments[0]
            if not np.isfinite(mean).all():  # only a NaN or inf in X does that
                _raise_nonfinite(_nonfinite_rows(X))
        else:
            mean = np.zeros(n_features)
        rng = check_random_state(self.random_state)
        if self.rotation is None:
            components = np.eye(n_features)
        elif self.rotation == "random":
            components = _random_orthonormal(n_features, n_bits, rng).T.copy()
        else:
            # directions do not depend on the scale: work in units where X.T @ X
            # neither overflows nor underflows (unit is 1 for ordinary data)
            largest = max(X.max(), -X.min(), np.abs(mean).max())  # no |X| temporary
            unit = _power_of_two_unit(largest)
            Xc = np.divide(X, unit, dtype=np.float64)  # float64 first: unit may be tiny
            Xc -= mean / unit
            if moments is not None:
                P = _principal_directions(moments[1], n_bits)
            elif n_features > n_samples:  # wide: never the d x d matrix
                P = _principal_directions_wide(Xc, n_bits)
            else:
                P = _principal_directions(Xc.T @ Xc, n_bits)
            if self.rotation == "itq":
                V = Xc @ P.T
                del Xc  # before R.T @ P: at most two n_bits x n_features arrays
                R, self.itq_loss_ = _itq(V, self.n_iter, rng, unit)
                components = R.T @ P
                del P
            else:
                components = P
                del Xc
        self.mean_ = mean
        self.components_ = components
        self.n_bits_ = n_bits
        codes = self._pack(X)
        self.bit_balance_, self.code_entropy_ = _code_statistics(codes, n_bits)
        return codes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the centring and the rotation, and record diagnostics of the codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; float32 stays float32, other numerics become float64.
        y : None
            Ignored.

        Returns
        -------
        self : BinarySphericalEncoder
            The fitted encoder.
        """
        self._fit(self._validate(X, reset=True))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit, then encode X (without encoding it twice).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        codes : ndarray
            As :meth:`transform`.
        """
        X = self._validate(X, reset=True)
        return self._format(self._fit(X), X.dtype)

    # ---------------------------------------------------------------- transform
    @property
    def _identity(self):
        """Whether ``components_`` is exactly the identity (then no rotation is done).

        Derived from the fitted array at every call, never stored: a loaded file
        cannot make the sign kernel skip a rotation that the shapes require. O(d)
        for any other matrix (its diagonal), O(d**2) for the identity itself.
        """
        C = self.components_
        if not (isinstance(C, np.ndarray) and C.ndim == 2 and C.shape[0] == C.shape[1]):
            return False
        return bool(np.all(np.diagonal(C) == 1.0) and np.count_nonzero(C) == C.shape[0])

    def _pack(self, X):
        """Packed codes of validated X; raises ValueError naming NaN/inf rows.

        The fitted state is checked first (:func:`_check_fitted_state`, the checks the
        kernels rely on). Rows go to the kernel in slices of ``_PACK_ROWS``, so its
        per-row flags take a fixed buffer: the codes are the only allocation that
        grows with X.
        """
        _check_fitted_state(self, full=False)
        n = X.shape[0]
        out = np.empty((n, (self.n_bits_ + 7) // 8), dtype=np.uint8)
        with np.errstate(over="ignore"):  # float32 inf: the kernels flag what matters
            offset = self.mean_.astype(X.dtype)
            W = None if self._identity else np.ascontiguousarray(self.components_.T, X.dtype)
        bad = np.empty(min(n, _PACK_ROWS), dtype=np.bool_)
        for start in range(0, n, _PACK_ROWS):
            stop = min(start + _PACK_ROWS, n)
            flags = bad[: stop - start]
            self._sign_pack(X[start:stop], offset, W, out[start:stop], flags)
            if flags.any():
                self._repack(X, start + np.flatnonzero(flags), W, out)
        return out

    def _repack(self, X, rows, W, out):
        """Codes of the ``rows`` the kernel flagged; raises if X holds NaN or inf.

        Finite rows are flagged when their centred or rotated values overflow
        (entries near the largest float). Signs do not change when the rows and the
        mean are multiplied by a power of two, one small enough here for a sum of
        ``n_features`` terms to stay below 1 -- with orthonormal ``components_``.
        """
        if not np.isfinite(X[rows]).all():
            _raise_nonfinite(_nonfinite_rows(X))
        largest = max(np.abs(X[rows]).max(), np.abs(self.mean_).max())
        extra = 2 + int(np.ceil(np.log2(X.shape[1])))
        factor = np.ldexp(1.0, 1 - int(np.frexp(largest)[1]) - extra)
        sub_out = np.empty((rows.size, out.shape[1]), dtype=np.uint8)
        sub_bad = np.empty(rows.size, dtype=np.bool_)
        self._sign_pack(
            X[rows] * X.dtype.type(factor), (self.mean_ * factor).astype(X.dtype), W,
            sub_out, sub_bad,
        )
        if sub_bad.any():  # components_ beyond float32 do that (not orthonormal)
            raise ValueError(
                f"The rotated values of X rows {rows[sub_bad][:10].tolist()} are not "
                f"finite in {X.dtype} even in units of {factor:g}: components_ must "
                "have orthonormal rows (largest |entry| "
                f"{np.abs(self.components_).max():g})."
            )
        out[rows] = sub_out

    @staticmethod
    def _sign_pack(X, offset, W, out, bad):
        """The sign-and-pack kernel: without rotation when ``W`` is None."""
        if W is None:
            K.sign_pack(X, offset, out, bad)
        else:
            K.rotate_sign_pack(X, offset, W, out, bad)

    def _format(self, packed, dtype):
        if self.encode == "packed":
            return packed
        n_bits = self.n_bits_
        if self.encode == "index":
            self._check_index_bits(n_bits)
            index = np.zeros(packed.shape[0], dtype=np.uint64)
            for b in range(packed.shape[1]):  # in place: no temporary of n words
                index <<= np.uint64(8)
                index |= packed[:, b]
            index >>= np.uint64(8 * packed.shape[1] - n_bits)
            return index.view(np.int64)[:, None]  # below 2**63: the same values
        bits = np.unpackbits(packed, axis=1, count=n_bits)
        level = dtype.type(1.0 / np.sqrt(n_bits))
        return np.where(bits.view(np.bool_), level, -level).astype(dtype, copy=False)

    def transform(self, X):
        """Encode X as binary spherical codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode; rows with NaN or inf raise ``ValueError``.

        Returns
        -------
        codes : ndarray
            ``encode="packed"``: uint8 of shape ``(n_samples, ceil(n_bits_ / 8))``;
            ``"index"``: int64 of shape ``(n_samples, 1)``; ``"sign"``: shape
            ``(n_samples, n_bits_)`` of ``±1/sqrt(n_bits_)`` in the dtype of X.
        """
        check_is_fitted(self)
        _check_fitted_state(self, full=False)
        X = self._validate(X, reset=False)
        return self._format(self._pack(X), X.dtype)

    # -------------------------------------------------------- inverse_transform
    def _bits_from_codes(self, codes):
        """Decode any of the three encodings to a (n, n_bits_) bool array.

        uint8 means packed; another integer dtype means index; a float dtype means
        sign codes (read by their sign). Returns the bits and the output dtype.
        """
        n_bits = self.n_bits_
        n_bytes = (n_bits + 7) // 8
        if hasattr(codes, "toarray") or hasattr(codes, "tocsr"):
            raise TypeError("inverse_transform needs a dense array of codes, got sparse.")
        codes = check_array(
            codes, dtype=None, ensure_2d=False, ensure_all_finite=False, ensure_min_samples=0
        )
        kind = codes.dtype.kind
        if codes.dtype == np.uint8:
            if codes.ndim != 2 or codes.shape[1] != n_bytes:
                raise ValueError(
                    f"uint8 codes are read as packed codes of shape (n_samples, "
                    f"{n_bytes}) for n_bits_={n_bits}; got shape {codes.shape}."
                )
            bits = np.unpackbits(codes, axis=1)
            pad = np.flatnonzero(bits[:, n_bits:].any(axis=1))
            if pad.size:
                raise ValueError(
                    f"Packed codes have non-zero padding bits (bits {n_bits} and up of "
                    f"the last byte) in row(s) {', '.join(map(str, pad[:10]))}; they "
                    f"are not codes of this encoder."
                )
            return bits[:, :n_bits].astype(bool), np.float64
        if kind in "iu":
            if n_bits > 63:
                raise ValueError(
                    f"Integer codes are read as indices, which need n_bits_ <= 63; "
                    f"this encoder has n_bits_={n_bits}: pass packed uint8 codes."
                )
            if not (codes.ndim == 1 or (codes.ndim == 2 and codes.shape[1] == 1)):
                raise ValueError(
                    "Integer codes are read as indices of shape (n_samples,) or "
                    f"(n_samples, 1); got shape {codes.shape}."
                )
            codes = codes.reshape(-1)
            out = np.flatnonzero((codes < 0) | (codes >= 2**n_bits))
            if out.size:
                raise ValueError(
                    f"Index codes must lie in [0, 2**{n_bits}); got out-of-range values "
                    f"in row(s) {', '.join(map(str, out[:10]))}."
                )
            index = codes.astype(np.int64)
            shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
            return ((index[:, None] >> shifts) & 1).astype(bool), np.float64
        if kind == "f":
            if codes.ndim != 2 or codes.shape[1] != n_bits:
                raise ValueError(
                    f"Float codes are read as sign codes of shape (n_samples, {n_bits}); "
                    f"got shape {codes.shape}."
                )
            rows = _nonfinite_rows(codes)
            if rows.size:
                _raise_nonfinite(rows, name="codes")
            dtype = np.float32 if codes.dtype == np.float32 else np.float64
            return codes > 0, dtype
        raise TypeError(
            f"Codes of dtype {codes.dtype} are not understood: pass uint8 packed codes, "
            "integer indices or float sign codes (what transform returns)."
        )

    def inverse_transform(self, X):
        """Map codes back to unit directions in input space.

        Parameters
        ----------
        X : array-like
            Codes in any of the three encodings, recognised by dtype: uint8 of shape
            ``(n_samples, ceil(n_bits_ / 8))`` is packed; any other integer dtype, of
            shape ``(n_samples,)`` or ``(n_samples, 1)``, is index; a float dtype of
            shape ``(n_samples, n_bits_)`` is sign codes, read by their sign (``> 0``
            is a 1). Wrong shapes, out-of-range indices and non-zero padding bits
            raise ``ValueError``.

        Returns
        -------
        X_hat : ndarray of shape (n_samples, n_features_in_)
            ``mean_ + s @ components_`` with ``s`` the code's ``±1/sqrt(n_bits_)``
            vector: a unit vector mapped back to input space (plus the mean when
            centred); norms are not stored. float32 for float32 sign codes, float64
            otherwise.
        """
        check_is_fitted(self)
        _check_fitted_state(self, full=False)
        bits, dtype = self._bits_from_codes(X)
        level = 1.0 / np.sqrt(self.n_bits_)
        S = np.where(bits, level, -level)
        X_hat = S @ self.components_
        if np.any(self.mean_):
            X_hat += self.mean_
        return X_hat.astype(dtype, copy=False)

    # -------------------------------------------------------------- evaluation
    def score(self, X, y=None):
        """Mean cosine similarity between X and its reconstruction (higher is better).

        Cosines are taken after centring (``x - mean_`` against
        ``inverse_transform(transform(x)) - mean_``, a unit vector); a row equal to
        ``mean_`` counts as 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode and compare.
        y : None
            Ignored.

        Returns
        -------
        score : float
            The mean cosine similarity, in [-1, 1].
        """
        check_is_fitted(self)
        _check_fitted_state(self, full=False)
        X = self._validate(X, reset=False)
        bits = np.unpackbits(self._pack(X), axis=1, count=self.n_bits_).astype(bool)
        level = 1.0 / np.sqrt(self.n_bits_)
        recon = np.where(bits, level, -level) @ self.components_
        # cosines do not depend on the scale: centre in units where nothing overflows,
        # then bring each row to a largest entry in [1, 2) (powers of two: exact)
        unit = _power_of_two_unit(max(np.abs(X).max(), np.abs(self.mean_).max()))
        Xc = np.divide(X, unit, dtype=np.float64) - self.mean_ / unit
        Xc = np.ldexp(Xc, -np.frexp(np.abs(Xc).max(axis=1, keepdims=True))[1] + 1)
        den = np.linalg.norm(Xc, axis=1) * np.linalg.norm(recon, axis=1)
        num = np.einsum("ij,ij->i", Xc, recon)
        cos = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return float(cos.mean())

    def auxiliary_loss(
        self,
        X,
        *,
        inv_temperature=100.0,
        diversity_gamma=1.0,
        entropy_loss_weight=0.1,
        exact_max_dim=EXACT_MAX_DIM,
    ):
        """The reference's entropy auxiliary loss of the rotated vectors of X.

        :func:`bsq_auxiliary_loss` applied to ``(X - mean_) @ components_.T``, the
        ``n_bits_``-dimensional vectors whose signs are the codes: low per-sample
        entropy means confident bits, high codebook entropy means well-spread codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.
        inv_temperature : float, default=100.0
            Inverse temperature of the soft assignment, as in :func:`bsq_auxiliary_loss`.
        diversity_gamma : float, default=1.0
            Weight of the codebook entropy.
        entropy_loss_weight : float, default=0.1
            Overall weight of the loss.
        exact_max_dim : int, default=16
            Largest ``n_bits_`` handled exactly, as in :func:`bsq_auxiliary_loss`.

        Returns
        -------
        result : BSQAuxiliaryLoss
            ``(loss, per_sample_entropy, codebook_entropy, exact)``.
        """
        check_is_fitted(self)
        _check_fitted_state(self, full=False)
        X = self._validate(X, reset=False)
        rows = _nonfinite_rows(X)
        if rows.size:
            _raise_nonfinite(rows)
        with np.errstate(over="ignore", invalid="ignore"):
            Z = (X.astype(np.float64) - self.mean_) @ self.components_.T
        huge = np.flatnonzero(~np.isfinite(Z).all(axis=1))
        if huge.size:
            # rows near the largest float overflow: the loss normalises every row, so
            # those (whose norm is far above the normalisation's 1e-12) are rotated
            # in units of a power of two, which changes no direction
            unit = _power_of_two_unit(max(np.abs(X[huge]).max(), np.abs(self.mean_).max()))
            Xh = np.divide(X[huge], unit, dtype=np.float64) - self.mean_ / unit
            Z[huge] = Xh @ self.components_.T
        Z = np.ascontiguousarray(Z)
        return bsq_auxiliary_loss(
            Z,
            inv_temperature=inv_temperature,
            diversity_gamma=diversity_gamma,
            entropy_loss_weight=entropy_loss_weight,
            exact_max_dim=exact_max_dim,
        )

    # ------------------------------------------------------------------- sklearn
    @property
    def _n_features_out(self):
        """Columns of ``transform``'s output, for ``get_feature_names_out``."""
        if self.encode == "packed":
            return (self.n_bits_ + 7) // 8
        if self.encode == "index":
            return 1
        return self.n_bits_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # packed and index codes are integers; sign codes keep the float dtype of X
        if self.encode == "sign":
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        else:
            tags.transformer_tags.preserves_dtype = []
        return tags
