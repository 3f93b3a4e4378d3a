"""PyTorch binary spherical quantizer with the exact, memory-light auxiliary loss.

``pip install "skquant[torch]"``. :class:`BinarySphericalQuantizer` is a drop-in
replacement for the reference PyTorch module of binary spherical quantization (the
seed module, adapted from lucidrains' ``vector-quantize-pytorch``): the same
constructor, and ``forward(x, inv_temperature=100.0)`` returning the straight-through
quantized tensor, the code indices and the entropy auxiliary loss. The loss is
computed as :func:`skquant.bsq_auxiliary_loss` computes it, without the ``2**D``
codebook or the ``(N, 2**D)`` soft assignment, and differentiably: training follows
its gradient, which equals the reference's autograd.

``import skquant`` does not import this module (nor torch).

Examples
--------
>>> import torch
>>> from skquant.torch import BinarySphericalQuantizer
>>> quantizer = BinarySphericalQuantizer(13)
>>> x = torch.randn(2, 50, 13, requires_grad=True)
>>> quantized, indices, aux_loss = quantizer(x)
>>> quantized.shape, indices.shape, indices.dtype, aux_loss.shape
(torch.Size([2, 50, 13]), torch.Size([2, 50]), torch.int64, torch.Size([]))
>>> (quantized.pow(2).sum() + aux_loss).backward()
>>> x.grad.shape
torch.Size([2, 50, 13])
"""

import math
from numbers import Integral, Real
from typing import NamedTuple

try:
    import torch
    from torch import nn
    from torch.autograd.function import once_differentiable
    from torch.nn import functional as F
except ImportError as exc:  # pragma: no cover - tested in a subprocess without torch
    raise ImportError(
        'skquant.torch needs PyTorch: pip install "skquant[torch]" (or install a torch '
        "build for your platform first, e.g. the CPU wheel)."
    ) from exc

import numpy as np

from . import _kernels as K
from ._binary_spherical import _EXACT_DIM_CAP, EXACT_MAX_DIM
from ._kernels._binary import CLAMP, NORM_EPS

__all__ = ["BSQEntropies", "BinarySphericalQuantizer"]

#: Largest ``code_dim``: indices are 64-bit integers.
MAX_CODE_DIM = 64
#: Rows per chunk of the exact terms are chosen so that one chunk's half-dimension
#: tables hold about this many float64 entries (a few MiB per intermediate).
_CHUNK_ENTRIES = 2**19
_LOG_CLAMP = math.log(CLAMP)


class BSQEntropies(NamedTuple):
    """The two entropy terms of the auxiliary loss (nats, differentiable tensors).

    Attributes
    ----------
    per_sample_entropy : torch.Tensor
        Mean over vectors of the entropy of each vector's soft code assignment.
    codebook_entropy : torch.Tensor
        Entropy of the soft assignment averaged over vectors.
    """

    per_sample_entropy: torch.Tensor
    codebook_entropy: torch.Tensor


# --------------------------------------------------------------------- helpers
def _check_real(value, name):
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite real number; got {value!r}.")
    return float(value)


@torch.compiler.disable
def _any(mask):
    """``bool(mask.any())``; a silent graph break under ``torch.compile``."""
    return bool(mask.any())


def _normalize(x):
    """``x / max(||x||, 1e-12)`` along the last axis, the reference's normalisation.

    ``torch.nn.functional.normalize`` squares the entries, so its norm overflows for
    float32 vectors above ~1.8e19 (float64: ~1.3e154) and the vector becomes 0. When
    that happens, the vectors are divided by their largest magnitude first (held
    constant for autograd: the result is homogeneous of degree 0, so the gradient is
    still that of ``x / ||x||``); other vectors get the reference's values, bit for bit.
    """
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    unit = x / norm.clamp_min(NORM_EPS)
    overflow = ~torch.isfinite(norm)
    if not _any(overflow):
        return unit
    big = x.detach().abs().amax(dim=-1, keepdim=True)
    # NaN-free in every row, as the unused branch of a where still gets a zero gradient
    s = x / torch.where(overflow, big, torch.ones_like(big))
    safe = s / torch.linalg.vector_norm(s, dim=-1, keepdim=True).clamp_min(NORM_EPS)
    return torch.where(overflow, safe, unit)


def _patterns(n_bits, device):
    """All ``2**n_bits`` bit patterns as a float64 (2**n_bits, n_bits) 0/1 matrix,
    in index order (first bit most significant)."""
    codes = torch.arange(1 << n_bits, device=device)
    shifts = torch.arange(n_bits - 1, -1, -1, device=device)
    return ((codes[:, None] >> shifts) & 1).to(torch.float64)


def _half_tables(t):
    """Probabilities ``(R, 2**k)`` of every pattern of the ``k`` bits in ``t``'s columns.

    Bit ``d`` is 1 with probability ``sigmoid(t_d)``; a pattern's probability is the
    product of its bits'. Index order, first dimension most significant.
    """
    return _pattern_table(torch.sigmoid(-t), torch.sigmoid(t))


def _pattern_table(q0, q1):
    """Outer product of the tables of the two halves of the columns (recursively)."""
    n, k = q0.shape
    if k <= 1:
        return q0.new_ones((n, 1)) if k == 0 else torch.stack([q0[:, 0], q1[:, 0]], -1)
    m = k // 2
    first = _pattern_table(q0[:, :m], q1[:, :m])
    second = _pattern_table(q0[:, m:], q1[:, m:])
    return (first[:, :, None] * second[:, None, :]).reshape(n, -1)


def _table_backward(gA, t, P):
    """Gradient with respect to ``t`` given ``gA = dL/dA * A`` for ``A = _half_tables(t)``.

    ``dA[m] / dt_d = A[m] (P[m, d] - sigmoid(t_d))``, summed as ``sigmoid(-t_d)`` times
    the patterns with bit ``d`` set minus ``sigmoid(t_d)`` times the others, which keeps
    the digits of small gradients of peaked rows.
    """
    return torch.sigmoid(-t) * (gA @ P) - torch.sigmoid(t) * (gA @ (1.0 - P))


def _partner_sums(C, C_other, log_p_max, budget):
    """Sums over the codes below the clamp, by one half's pattern (meet in the middle).

    A code is a pattern ``m`` of one half of the dimensions with a pattern ``m'`` of
    the other; its probability is ``p_max * exp(-C[m] - C_other[m'])`` and it lies
    below the clamp when ``C[m] + C_other[m'] > budget``. For each row and ``m``,
    returns ``V[m] = sum p (budget - C[m] - C_other[m'])`` and ``M[m] = sum p`` over
    those ``m'``: the other half's costs sorted in decreasing order (prefix sums add
    the small weights first), and one search per ``m``. ``O(2**(D/2))`` per row.
    """
    Cs, _ = torch.sort(C_other, dim=-1, descending=True)
    ws = torch.exp(-Cs)
    zero = torch.zeros_like(Cs[:, :1])
    W = torch.cat([zero, torch.cumsum(ws, -1)], -1)
    S = torch.cat([zero, torch.cumsum(ws * Cs, -1)], -1)
    thr = budget - C
    # how many partners have C_other > thr (a code at exactly 1e-5 counts above the
    # clamp, as torch.clamp's gradient does)
    k = torch.searchsorted(-Cs, -thr, side="left")
    Wk = W.gather(1, k)
    pw = torch.exp(log_p_max - C)
    return pw * (thr * Wk - S.gather(1, k)), pw * Wk


def _clamped_entropy(t, P1, P2, need_grad):
    """The reference's per-row entropy ``-sum p log max(p, 1e-5)``, and its gradient.

    With ``a = |t|``, a code is the set F of bits it sets to their unlikely value,
    of probability ``p_max * exp(-C_F)``, ``C_F`` the sum of ``a`` over F. The
    clamped entropy is the Shannon entropy (a sum of binary entropies) plus the
    correction ``corr = sum p (budget - C_F)`` over the low set L of codes with
    ``C_F > budget = log(p_max / 1e-5)``, summed by :func:`_partner_sums`. L is
    piecewise constant in ``a`` and ``d log p_max / d a_d = q_d`` (the unlikely
    value's probability), so ``d corr / d a_d = q_d (corr + P(L)) - sum_{F in L, d in
    F} p (budget + 1 - C_F)``, the last sum a matrix product of the per-pattern sums
    with the patterns. ``d H / d t = sign(t) d H / d a``. Returns ``(H, dH/dt)``
    (the gradient None unless ``need_grad``).
    """
    h = P1.shape[1]
    a = t.abs()
    q = torch.sigmoid(-a)
    sp = F.softplus(-a)
    log_p_max = -sp.sum(-1, keepdim=True)
    budget = log_p_max - _LOG_CLAMP
    C1 = a[:, :h] @ P1.T
    C2 = a[:, h:] @ P2.T
    V1, M1 = _partner_sums(C1, C2, log_p_max, budget)
    corr = V1.sum(-1, keepdim=True)
    entropy = (sp + a * q).sum(-1) + corr[:, 0]
    if not need_grad:
        return entropy, None
    V2, M2 = _partner_sums(C2, C1, log_p_max, budget)
    grad = q * (corr + M1.sum(-1, keepdim=True)) - a * q * (1.0 - q)
    grad[:, :h] -= (V1 + M1) @ P1
    grad[:, h:] -= (V2 + M2) @ P2
    return entropy, grad * torch.sign(t)


def _sample_terms(t, P1, P2, rows, need_grad, kernel):
    """Sum over rows of the clamped entropy, and its gradient ``(N, D)`` (or None).

    ``kernel``: the numba kernel (CPU tensors), else :func:`_clamped_entropy` on
    chunks of ``rows`` rows (any device).
    """
    n, d = t.shape
    if kernel:
        T = t.detach().contiguous().numpy()
        entropy = np.empty(n)
        grads = np.empty((n, d) if need_grad else (n, 0))
        K.bsq_clamped_entropy(T, need_grad, entropy, grads)
        total = t.new_tensor(entropy.sum())
        return total, torch.from_numpy(grads) if need_grad else None
    total = t.new_zeros(())
    grads = torch.empty_like(t) if need_grad else None
    for start in range(0, n, rows):
        entropy, grad = _clamped_entropy(t[start : start + rows], P1, P2, need_grad)
        total += entropy.sum()
        if need_grad:
            grads[start : start + rows] = grad
    return total, grads


class _ExactEntropies(torch.autograd.Function):
    """Mean clamped per-sample entropy and exact codebook entropy of rows ``t``.

    ``t`` is ``(N, D)`` float64, ``t = 4 * inv_temperature * u / sqrt(D)`` with ``u``
    the normalised rows: bit ``d`` of row ``n`` is 1 with probability
    ``sigmoid(t[n, d])``. Forward computes the per-sample entropies together with
    their gradient (closed form, kept for backward: ``O(N D)``), and the codebook
    table ``sum_n A_n^T B_n`` chunk by chunk, ``A[n, hi]`` and ``B[n, lo]`` being row
    ``n``'s half-dimension tables (code ``(hi, lo)`` has probability ``A[n, hi] *
    B[n, lo]``): nothing of size ``N * 2**(D/2)`` outlives a chunk of ``rows`` rows.
    Backward recomputes the tables chunk by chunk and takes their gradient in closed
    form, ``dA = B G^T``, ``dB = A G``, with ``G`` the derivative of the clamped
    entropy at the mean (as torch's ``clamp`` defines it). ``kernel``: the per-sample
    terms by the numba kernel (CPU tensors). First-order only (``once_differentiable``).
    """

    @staticmethod
    def forward(ctx, t, rows, kernel):
        n, d = t.shape
        h = d // 2
        P1 = _patterns(h, t.device)
        P2 = _patterns(d - h, t.device)
        need_grad = ctx.needs_input_grad[0]
        total, grads = _sample_terms(t, P1, P2, rows, need_grad, kernel)
        table = t.new_zeros((P1.shape[0], P2.shape[0]))
        for start in range(0, n, rows):
            tc = t[start : start + rows]
            table.addmm_(_half_tables(tc[:, :h]).T, _half_tables(tc[:, h:]))
        avg = table / n
        codebook = -(avg * avg.clamp(min=CLAMP).log()).sum()
        ctx.rows = rows
        ctx.save_for_backward(t, grads, avg, P1, P2)
        return total / n, codebook

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_sample, grad_codebook):
        t, grads, avg, P1, P2 = ctx.saved_tensors
        n = t.shape[0]
        h = P1.shape[1]
        out = grads * (grad_sample / n)
        # d codebook / d avg, with torch.clamp's gradient (1 at the bound, 0 below)
        G = -(avg.clamp(min=CLAMP).log() + (avg >= CLAMP).to(avg.dtype))
        G *= grad_codebook / n
        for start in range(0, n, ctx.rows):
            tc = t[start : start + ctx.rows]
            A = _half_tables(tc[:, :h])
            B = _half_tables(tc[:, h:])
            o = out[start : start + ctx.rows]
            o[:, :h] += _table_backward((B @ G.T) * A, tc[:, :h], P1)
            o[:, h:] += _table_backward((A @ G) * B, tc[:, h:], P2)
        return out, None, None


@torch.compiler.disable
def _exact_entropies(t, rows, kernel):
    """:class:`_ExactEntropies`, run eagerly under ``torch.compile`` (a graph break:
    its loop over chunks and the numba kernel are not traceable)."""
    return _ExactEntropies.apply(t, rows, kernel)


def _binary_entropy(q):
    """``-q log q`` elementwise, 0 at 0 (with a zero gradient there, not NaN)."""
    safe = torch.where(q > 0, q, torch.ones_like(q))
    return torch.where(q > 0, -safe * torch.log(safe), torch.zeros_like(q))


def _entropies(u, inv_temperature, exact, kernel=True):
    """Mean per-sample and codebook entropies of float64 unit rows ``u`` (N, D).

    ``kernel``: on a CPU tensor, the exact per-sample terms by the numba kernel (else
    by the device-independent torch code).
    """
    d = u.shape[1]
    t = u * (4.0 * inv_temperature / math.sqrt(d))
    if exact:
        rows = max(256, _CHUNK_ENTRIES // ((1 << (d // 2)) + (1 << (d - d // 2))))
        return _exact_entropies(t, rows, kernel and t.device.type == "cpu")
    a = t.abs()
    per_sample = (F.softplus(-a) + a * torch.sigmoid(-a)).sum(-1).mean()
    m1 = torch.sigmoid(t).mean(0)
    m0 = torch.sigmoid(-t).mean(0)
    return per_sample, (_binary_entropy(m1) + _binary_entropy(m0)).sum()


# ---------------------------------------------------------------------- module
class BinarySphericalQuantizer(nn.Module):
    """Binary spherical quantizer with the exact auxiliary loss, a drop-in module.

    Projects each vector of the last axis onto the unit sphere and quantizes every
    coordinate by its sign to ``±1/sqrt(code_dim)``; the sign pattern, read as a
    binary number with the first coordinate most significant, is the code index. The
    forward pass returns the quantized tensor with the straight-through estimator
    (its gradient is that of the normalised input), the indices and the entropy
    auxiliary loss of binary spherical quantization (Zhao, Xiong & Krähenbühl 2024):
    ``entropy_loss_weight * (H_sample - diversity_gamma * H_codebook)``, where each
    vector is softly assigned to the ``2**code_dim`` codes with probabilities
    ``softmax(2 * inv_temperature * <u, c>)``, ``H_sample`` is the mean entropy of that
    assignment and ``H_codebook`` the entropy of its mean over vectors (both the
    reference's ``-sum p log(max(p, 1e-5))``).

    Same constructor, call and outputs as the reference module, computed without its
    ``2**code_dim`` codebook (see Notes).

    Parameters
    ----------
    code_dim : int
        Bits per code, 1 to 64: the last dimension of the input.
    entropy_loss_weight : float, default=0.1
        Weight of the whole auxiliary loss.
    diversity_gamma : float, default=1.0
        Weight of the codebook entropy inside the loss.
    exact_max_dim : int, default=16
        Largest ``code_dim`` whose loss is exact (at most 24); above it the BSQ paper's
        factorised forms are used (see Notes). Keyword only.

    Attributes
    ----------
    mask : torch.Tensor
        int64 buffer ``2**(code_dim - 1 - d)`` (the reference's, in ``state_dict``);
        for ``code_dim = 64`` its first entry is ``-2**63``, the same bit.
    exact : bool
        Whether the auxiliary loss is exact (``code_dim <= exact_max_dim``).

    See Also
    --------
    skquant.bsq_auxiliary_loss : The same loss in NumPy, without gradients.
    skquant.BinarySphericalEncoder : The same codes for scikit-learn, with rotations.

    Notes
    -----
    **The loss without the codebook.** The logit of code ``c`` is a sum over
    dimensions, so the soft assignment is a product of independent bits: bit ``d`` is
    1 with probability ``sigmoid(t_d)``, ``t_d = 4 * inv_temperature * u_d /
    sqrt(code_dim)``. Up to ``exact_max_dim``:

    - the per-sample entropy is a sum of ``code_dim`` binary entropies plus the
      reference's clamp correction (codes below ``1e-5``), found by a meet in the
      middle in ``O(2**(code_dim/2))`` per vector;
    - the codebook entropy needs the mean of the ``2**code_dim`` probabilities, a
      product of two half-dimension tables: a matrix product, ``O(N 2**code_dim)``
      time and a ``2**code_dim`` table.

    Both are computed in float64 (whatever the input's float dtype), chunk by chunk
    with activation checkpointing, so memory is ``O(N code_dim)`` plus the table and
    one chunk. Gradients are torch autograd's through these sums (the clamp's
    included) and equal the reference's.

    Above ``exact_max_dim`` the factorised forms of the BSQ paper, ``O(N code_dim)``:
    the per-sample entropy is the Shannon entropy without the clamp, an upper bound of
    the reference's (the clamp only lowers it); the codebook entropy is
    ``sum_d H(mean_n q_nd)``, the entropy of each dimension's mean bit, an upper bound
    of the true (Shannon) codebook entropy and so of the reference's clamped one. The
    two bounds push the loss in opposite directions; :func:`skquant.bsq_auxiliary_loss`
    with the same ``exact_max_dim`` computes the same values.

    **Differences from the reference**, all where it is wrong or cannot run:

    - Any batch shape ``(..., code_dim)``: the loss averages over all leading
      positions. For 3-D input ``(batch, tokens, code_dim)`` it equals the
      reference's. The reference's ``prob.flatten(end_dim=1)`` makes a 2-D input
      ``(N, code_dim)`` sum the per-sample entropies (not average them) and take the
      codebook entropy of the single number ``2**-code_dim``; a 4-D input returns a
      loss per index of the third axis; a 1-D input raises. Here all of them give
      the loss of their vectors, as ``x.reshape(1, -1, code_dim)`` does in the
      reference.
    - float64 input works (the reference's float32 codebook makes ``einsum`` raise);
      float16/bfloat16 too. ``quantized`` has the input's dtype, ``aux_loss`` is
      float32 for float32 (and half) input, float64 for float64.
    - Huge vectors: the reference's norm overflows (float32 above ~1.8e19, float64
      above ~1.3e154), so their normalised value is 0, their code index 0 and their
      loss that of the zero vector. Here they are normalised like any other vector.
    - Bits are the signs of ``x`` itself (``x > 0``, as
      :class:`skquant.BinarySphericalEncoder`), the reference's wherever its
      normalised value does not underflow to 0.

    Zero vectors get the reference's results: index 0, all coordinates
    ``-1/sqrt(code_dim)``, a uniform soft assignment. ``code_dim = 64`` indices are
    the 64-bit pattern read as int64 (negative when the first bit is set).

    Invalid input raises: a non-tensor or non-float tensor (``TypeError``), a last
    dimension other than ``code_dim``, an empty tensor, NaN or inf (``ValueError``,
    which costs one device synchronisation per call on a GPU).

    Examples
    --------
    >>> import torch
    >>> from skquant.torch import BinarySphericalQuantizer
    >>> x = torch.tensor([[[1.0, -2.0], [0.5, 0.5], [-1.0, 0.1]]])
    >>> q, idx, loss = BinarySphericalQuantizer(2)(x, inv_temperature=1.0)
    >>> idx
    tensor([[2, 3, 1]])
    >>> round(loss.item(), 5)
    -0.05683
    """

    def __init__(
        self,
        code_dim,
        entropy_loss_weight=0.1,
        diversity_gamma=1.0,
        *,
        exact_max_dim=EXACT_MAX_DIM,
    ):
        super().__init__()
        if isinstance(code_dim, bool) or not isinstance(code_dim, Integral):
            raise TypeError(f"code_dim must be an int; got {code_dim!r}.")
        if not 1 <= code_dim <= MAX_CODE_DIM:
            raise ValueError(
                f"code_dim must be in [1, {MAX_CODE_DIM}] (indices are 64-bit); got "
                f"{code_dim}."
            )
        if isinstance(exact_max_dim, bool) or not isinstance(exact_max_dim, Integral):
            raise TypeError(f"exact_max_dim must be an int; got {exact_max_dim!r}.")
        if not 0 <= exact_max_dim <= _EXACT_DIM_CAP:
            raise ValueError(
                f"exact_max_dim must be in [0, {_EXACT_DIM_CAP}] (the exact codebook "
                f"term takes 2**code_dim floats); got {exact_max_dim}."
            )
        self.code_dim = int(code_dim)
        self.entropy_loss_weight = _check_real(entropy_loss_weight, "entropy_loss_weight")
        self.diversity_gamma = _check_real(diversity_gamma, "diversity_gamma")
        self.exact_max_dim = int(exact_max_dim)
        shifts = torch.arange(self.code_dim - 1, -1, -1)
        # the reference's persistent buffer, so its state_dict loads here
        self.register_buffer("mask", torch.ones(self.code_dim, dtype=torch.int64) << shifts)

    @property
    def exact(self):
        """Whether the auxiliary loss is exact (``code_dim <= exact_max_dim``)."""
        return self.code_dim <= self.exact_max_dim

    def extra_repr(self):
        return (
            f"code_dim={self.code_dim}, entropy_loss_weight={self.entropy_loss_weight}, "
            f"diversity_gamma={self.diversity_gamma}, exact_max_dim={self.exact_max_dim}"
        )

    def bits_to_codes(self, bits):
        """Convert {0, 1} bits to {-1, +1} codes (``bits * 2 - 1``, as the reference).

        Parameters
        ----------
        bits : torch.Tensor
            Bits in {0, 1}, shape ``(..., code_dim)``.

        Returns
        -------
        codes : torch.Tensor
            ``bits * 2 - 1``, same shape.
        """
        return bits * 2 - 1

    # ------------------------------------------------------------ validation
    def _check(self, x, inv_temperature):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}.")
        if not x.is_floating_point():
            raise TypeError(
                f"x must be a floating-point tensor; got dtype {x.dtype} (cast it, e.g. "
                "x.float())."
            )
        if x.ndim == 0 or x.shape[-1] != self.code_dim:
            raise ValueError(
                f"x must have shape (..., code_dim) with code_dim={self.code_dim}; got "
                f"shape {tuple(x.shape)}."
            )
        if x.numel() == 0:
            raise ValueError(
                f"x holds no vectors (shape {tuple(x.shape)}): the auxiliary loss is a "
                "mean over vectors."
            )
        if isinstance(inv_temperature, bool) or not isinstance(inv_temperature, Real):
            raise TypeError(
                f"inv_temperature must be a real number; got {inv_temperature!r}."
            )
        if not (math.isfinite(inv_temperature) and inv_temperature >= 0):
            raise ValueError(
                f"inv_temperature must be finite and >= 0; got {inv_temperature!r}."
            )
        finite = torch.isfinite(x).all(dim=-1)
        if _any(~finite):
            bad = (~finite).nonzero()[:5].tolist()
            raise ValueError(
                f"x contains NaN or infinity in {int((~finite).sum())} vector(s) (first "
                f"at leading index(es) {bad}); binary spherical codes need finite "
                "values."
            )
        return float(inv_temperature)

    # --------------------------------------------------------------- forward
    def entropies(self, x, inv_temperature=100.0):
        """The per-sample and codebook entropies of the auxiliary loss.

        Parameters
        ----------
        x : torch.Tensor of shape (..., code_dim)
            Vectors (any batch shape, any float dtype).
        inv_temperature : float, default=100.0
            Inverse temperature of the soft assignment, finite and ``>= 0``.

        Returns
        -------
        entropies : BSQEntropies
            ``(per_sample_entropy, codebook_entropy)``, differentiable float64
            scalars (nats): ``aux_loss = entropy_loss_weight * (per_sample_entropy -
            diversity_gamma * codebook_entropy)``.
        """
        tau = self._check(x, inv_temperature)
        return self._entropies(x, tau)

    def _entropies(self, x, tau, unit=None):
        """The entropies of ``x``; ``unit`` is its normalisation when already float64."""
        if unit is None:
            unit = _normalize(x.to(torch.float64))
        return BSQEntropies(*_entropies(unit.reshape(-1, self.code_dim), tau, self.exact))

    def forward(self, x, inv_temperature=100.0):
        """Quantize vectors on the binary sphere; the straight-through output and loss.

        Parameters
        ----------
        x : torch.Tensor of shape (..., code_dim)
            Vectors (any batch shape, any float dtype, finite); normalised
            internally.
        inv_temperature : float, default=100.0
            Inverse temperature of the soft assignment, finite and ``>= 0``.

        Returns
        -------
        quantized : torch.Tensor
            Shape and dtype of ``x``: ``±1/sqrt(code_dim)`` by the signs of ``x``, with
            the gradient of the normalised ``x`` (straight-through estimator).
        indices : torch.Tensor
            int64, shape ``x.shape[:-1]``: the sign pattern as a binary number, first
            coordinate most significant.
        aux_loss : torch.Tensor
            Scalar, ``entropy_loss_weight * (per_sample_entropy - diversity_gamma *
            codebook_entropy)``; float64 for float64 ``x``, else float32.
        """
        tau = self._check(x, inv_temperature)
        unit = _normalize(x)
        positive = x > 0
        indices = (positive.to(torch.int64) * self.mask).sum(dim=-1)
        quantized = F.normalize(torch.where(positive, 1.0, -1.0).to(x.dtype), dim=-1)
        out = unit + (quantized - unit).detach()
        per_sample, codebook = self._entropies(
            x, tau, unit if x.dtype == torch.float64 else None
        )
        aux = self.entropy_loss_weight * (per_sample - self.diversity_gamma * codebook)
        return out, indices, aux.to(torch.promote_types(x.dtype, torch.float32))
