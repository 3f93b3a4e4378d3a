"""Tests of skquant.torch (BinarySphericalQuantizer) and of its kernel,
skquant._kernels._bsq_entropy, against the vendored reference module
(tests/fixtures/reference_bsq.py), skquant.bsq_auxiliary_loss and a NumPy twin."""

import functools
import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import naive  # noqa: E402

import skquant.torch as skt  # noqa: E402
from skquant import _kernels as K  # noqa: E402
from skquant import bsq_auxiliary_loss  # noqa: E402
from skquant.torch import BinarySphericalQuantizer  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("reference_bsq", FIXTURES / "reference_bsq.py")
reference_bsq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference_bsq)
Reference = reference_bsq.BinarySphericalQuantizer


def run_reference(module, x, inv_temperature):
    """The reference's forward; a float64 ``x`` gets a float64 codebook.

    The reference casts its codebook with ``self.codebook.float()``, so float64 input
    makes ``einsum`` raise; for float64 comparisons that one cast is made a float64
    cast (``Tensor.float`` patched during the call), nothing else changes.
    """
    if x.dtype != torch.float64:
        return module(x, inv_temperature)
    with mock.patch.object(torch.Tensor, "float", lambda self: self.double()):
        return module(x, inv_temperature)


def outputs_and_grads(module, x, inv_temperature, weights, run=None):
    """``(quantized, indices, aux_loss, d aux/dx, d <weights, quantized>/dx)``."""
    x = x.detach().clone().requires_grad_()
    q, idx, aux = (run or (lambda m, z, t: m(z, t)))(module, x, inv_temperature)
    (g_aux,) = torch.autograd.grad(aux, x, retain_graph=True)
    (g_q,) = torch.autograd.grad((q * weights).sum(), x)
    return q.detach(), idx, aux.detach(), g_aux, g_q


def assert_close(actual, desired, rtol, atol=0.0):
    """Max-norm relative error: ``max|a - d| <= rtol * max|d| + atol``."""
    actual = torch.as_tensor(actual, dtype=torch.float64)
    desired = torch.as_tensor(desired, dtype=torch.float64)
    err = (actual - desired).abs().max().item()
    scale = desired.abs().max().item()
    assert err <= rtol * scale + atol, f"max error {err:.3e} > {rtol:g} * {scale:.3e} + {atol}"


def compare_with_reference(x, d, inv_temperature, rtol, ref_dtype=None, **kwargs):
    """Ours on ``x`` against the reference on ``x`` (in ``ref_dtype``): quantized and
    indices exactly, the loss and both gradients to ``rtol``."""
    gen = torch.Generator().manual_seed(7)
    weights = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.dtype)
    ours = outputs_and_grads(BinarySphericalQuantizer(d, **kwargs), x, inv_temperature, weights)
    x_ref = x if ref_dtype is None else x.to(ref_dtype)
    theirs = outputs_and_grads(
        Reference(d, **kwargs), x_ref, inv_temperature, weights.to(x_ref.dtype), run_reference
    )
    if x_ref.dtype == x.dtype:
        assert torch.equal(ours[0], theirs[0])
    assert torch.equal(ours[1], theirs[1])
    assert ours[2].dtype == theirs[2].dtype or ref_dtype is not None
    # (with D = 1 the gradients are 0 up to rounding: u = x / |x| is constant)
    for a, b in zip(ours[2:], theirs[2:]):
        assert_close(a, b, rtol, atol=1e-15)
    return ours, theirs


# ------------------------------------------------------------- the reference
@pytest.mark.parametrize("d", [1, 3, 8, 10])
@pytest.mark.parametrize("inv_temperature", [1.0, 10.0, 100.0])
def test_matches_reference_float64(d, inv_temperature):
    x = torch.randn(3, 40, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64)
    compare_with_reference(x, d, inv_temperature, rtol=1e-10)


@pytest.mark.parametrize("d", [4, 10])
@pytest.mark.parametrize("inv_temperature", [1.0, 100.0])
def test_matches_reference_float32(d, inv_temperature):
    """float32: ours equals the float64 reference to 1e-6; the float32 reference itself
    is only that close to its own float64 run (its einsum and softmax round)."""
    x = torch.randn(2, 50, d, generator=torch.Generator().manual_seed(d))
    compare_with_reference(x, d, inv_temperature, rtol=1e-6, ref_dtype=torch.float64)
    ours, _ = compare_with_reference(x, d, inv_temperature, rtol=2e-5)
    assert ours[2].dtype == torch.float32


def adversarial(dtype, d=6):
    """Rows: zeros, -0.0 and +0.0, ties at 0 in some coordinates, one-hot, huge and tiny
    norms (below the normalisation epsilon), subnormals, mixed magnitudes."""
    info = torch.finfo(dtype)
    x = torch.randn(16, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x[0] = 0.0
    x[1] = -0.0
    x[2, :3] = 0.0
    x[3, 1::2] = -0.0
    x[4] = 0.0
    x[4, 2] = 3.0
    x[5] *= 1e-30
    x[6] = x[6].sign() * float(info.smallest_normal) * 3
    x[7] = x[7].sign() * 1e-40 if dtype == torch.float32 else x[7].sign() * 1e-310
    x[8] *= 1e-13  # norm just below 1e-12
    x[9] = torch.tensor([1.0, -1.0] * (d // 2), dtype=torch.float64)  # exact ties of |u|
    x[10, 0] = 1e6
    x[11] *= 1e18 if dtype == torch.float32 else 1e150  # squares still finite
    return x.to(dtype)[None]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("inv_temperature", [1.0, 100.0])
def test_adversarial_inputs_match_reference(dtype, inv_temperature):
    x = adversarial(dtype)
    rtol = 1e-10 if dtype == torch.float64 else 2e-5
    ours, _ = compare_with_reference(x, 6, inv_temperature, rtol=rtol)
    # zero rows: all bits 0, every coordinate -1/sqrt(D), as the reference
    assert ours[1][0, :2].tolist() == [0, 0]
    minus = torch.nn.functional.normalize(-torch.ones(6, dtype=dtype), dim=0)
    assert torch.equal(ours[0][0, 0], minus) and torch.equal(ours[0][0, 1], minus)
    assert torch.isfinite(ours[3]).all() and torch.isfinite(ours[4]).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_huge_norms_are_normalised(dtype):
    """Where the reference's norm overflows (its vector becomes 0: index 0, the loss of
    the zero vector) ours equals the reference on the same directions scaled down."""
    x = adversarial(dtype)[:, 10:]
    big = x.clone()
    big[0, 0] *= 1e30 if dtype == torch.float32 else 1e300
    big[0, 1] = torch.finfo(dtype).max
    big[0, 1, 1] = -torch.finfo(dtype).max
    scaled = big.clone()
    scaled[0, 0] /= 1e30 if dtype == torch.float32 else 1e300
    scaled[0, 1] /= 2.0 ** 100  # max / 2**100: squares finite in both dtypes
    with torch.no_grad():
        _, ref_idx, _ = run_reference(Reference(6), big, 1.0)
    assert ref_idx[0, :2].tolist() == [0, 0]  # the reference's overflow
    weights = torch.ones_like(big)
    q, idx, aux, g_aux, g_q = outputs_and_grads(BinarySphericalQuantizer(6), big, 1.0, weights)
    q2, idx2, aux2, g_aux2, _ = outputs_and_grads(
        BinarySphericalQuantizer(6), scaled, 1.0, weights
    )
    assert torch.equal(idx, idx2) and torch.equal(q, q2)
    assert idx[0, 0] != 0
    assert_close(aux, aux2, 1e-6 if dtype == torch.float32 else 1e-12)
    # the gradient scales as 1/scale: compare the rows that were not changed
    assert_close(g_aux[0, 2:], g_aux2[0, 2:], 1e-6 if dtype == torch.float32 else 1e-12)
    assert torch.isfinite(g_aux).all() and torch.isfinite(g_q).all()


def test_batch_shapes_and_the_reference_2d_bug():
    d, n = 5, 30
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    ours = BinarySphericalQuantizer(d)
    q, idx, aux = ours(x)
    assert q.shape == (n, d) and idx.shape == (n,) and aux.shape == ()
    with torch.no_grad():
        _, _, ref3 = run_reference(Reference(d), x[None], 100.0)
        _, _, ref2 = run_reference(Reference(d), x, 100.0)
    torch.testing.assert_close(aux, ref3, rtol=1e-12, atol=0)
    # the reference on 2-D input: per-sample entropies summed, codebook entropy of 2**-D
    h_sample, _ = ours.entropies(x)
    p = 2.0**-d
    bug = 0.1 * (n * h_sample + p * math.log(max(p, 1e-5)))
    torch.testing.assert_close(ref2, bug, rtol=1e-12, atol=0)
    assert abs(ref2 - aux) > 0.1
    # 4-D: the reference returns one loss per index of the third axis; ours the loss of
    # all the vectors, as for any shape with the same vectors
    x4 = x.reshape(2, 3, 5, d)
    with torch.no_grad():
        _, _, ref4 = run_reference(Reference(d), x4, 100.0)
    assert ref4.shape == (5,)
    _, idx4, aux4 = ours(x4)
    assert idx4.shape == (2, 3, 5)
    torch.testing.assert_close(aux4, aux, rtol=1e-14, atol=0)
    torch.testing.assert_close(idx4.reshape(-1), idx)
    # 1-D: a single vector (the reference raises)
    _, idx1, aux1 = ours(x[0])
    assert idx1.shape == () and idx1 == idx[0]
    torch.testing.assert_close(aux1, ours(x[:1])[2])


def test_state_dict_and_buffers_of_the_reference_load():
    ref = Reference(7)
    ours = BinarySphericalQuantizer(7)
    ours.load_state_dict(ref.state_dict())  # strict: the same persistent buffer
    assert torch.equal(ours.mask, ref.mask)
    assert torch.equal(ours.bits_to_codes(torch.tensor([0.0, 1.0])), torch.tensor([-1.0, 1.0]))


# ------------------------------------------------------------------ NumPy parity
@pytest.mark.parametrize(
    "d, exact_max_dim, inv_temperature",
    [(4, 16, 100.0), (12, 16, 1.0), (12, 16, 100.0), (12, 8, 100.0), (20, 16, 100.0)],
)
def test_aux_loss_equals_bsq_auxiliary_loss(d, exact_max_dim, inv_temperature):
    rng = np.random.default_rng(d)
    X = rng.standard_normal((3, 100, d))
    X[0, 0] = 0.0
    X[0, 1, : d // 2] = 0.0
    module = BinarySphericalQuantizer(d, 0.3, 1.5, exact_max_dim=exact_max_dim)
    assert module.exact == (d <= exact_max_dim)
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        res = bsq_auxiliary_loss(
            Xd, inv_temperature=inv_temperature, diversity_gamma=1.5,
            entropy_loss_weight=0.3, exact_max_dim=exact_max_dim,
        )
        x = torch.from_numpy(Xd)
        per_sample, codebook = module.entropies(x, inv_temperature)
        np.testing.assert_allclose(per_sample.item(), res.per_sample_entropy, rtol=1e-11)
        np.testing.assert_allclose(codebook.item(), res.codebook_entropy, rtol=1e-11)
        aux = module(x, inv_temperature)[2]
        np.testing.assert_allclose(
            aux.item(), res.loss, rtol=1e-11 if dtype == np.float64 else 1e-6
        )


def test_factorised_terms_are_upper_bounds():
    """Above exact_max_dim: the per-sample term is the Shannon entropy and the codebook
    term the sum of the marginal entropies, both >= the exact (clamped) terms."""
    x = torch.randn(400, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for tau in (1.0, 100.0):
        exact = BinarySphericalQuantizer(10).entropies(x, tau)
        bound = BinarySphericalQuantizer(10, exact_max_dim=9).entropies(x, tau)
        assert bound.per_sample_entropy >= exact.per_sample_entropy
        assert bound.codebook_entropy >= exact.codebook_entropy
    # without the clamp at work (tau = 1: every code above 1e-5) the per-sample terms agree
    torch.testing.assert_close(
        BinarySphericalQuantizer(10, exact_max_dim=9).entropies(x, 1.0).per_sample_entropy,
        BinarySphericalQuantizer(10).entropies(x, 1.0).per_sample_entropy, rtol=1e-12, atol=0,
    )


# ------------------------------------------------------------------ the kernel
def kernel_rows(d, inv_temperature, n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[0] = 0.0
    X[1, : d // 2] = 0.0
    X[2] = 1.0  # equal |u|: ties in the sorted costs
    X[3, 0] = 50.0  # one certain bit
    U = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return U * (4.0 * inv_temperature / np.sqrt(d))


@pytest.mark.parametrize("d", [1, 2, 5, 8, 11])
@pytest.mark.parametrize("inv_temperature", [0.0, 1.0, 4.0, 10.0, 100.0])
def test_kernel_matches_enumeration(d, inv_temperature):
    """Every path of the kernel: Shannon only (no code below 1e-5), enumeration of the
    few codes above it, the meet in the middle (many codes above it: tau = 4, 10)."""
    T = kernel_rows(d, inv_temperature)
    H, G = naive.bsq_clamped_entropy(T)
    out_h = np.empty(len(T))
    out_g = np.empty_like(T)
    K.bsq_clamped_entropy(T, True, out_h, out_g)
    np.testing.assert_allclose(out_h, H, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(out_g, G, rtol=1e-9, atol=1e-12 * np.abs(G).max())
    no_grad = np.empty(len(T))
    K.bsq_clamped_entropy(T, False, no_grad, np.empty((len(T), 0)))
    np.testing.assert_array_equal(no_grad, out_h)
    # the torch meet in the middle (the path on other devices) agrees too
    t = torch.from_numpy(T)
    P1, P2 = skt._patterns(d // 2, t.device), skt._patterns(d - d // 2, t.device)
    h_torch, g_torch = skt._clamped_entropy(t, P1, P2, True)
    np.testing.assert_allclose(h_torch.numpy(), H, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(g_torch.numpy(), G, rtol=1e-9, atol=1e-12 * np.abs(G).max())


def test_kernel_when_every_code_is_below_the_clamp():
    # D = 18 at a low temperature: p_max < 1e-5, the entropy is -log(1e-5), flat
    T = kernel_rows(18, 0.1, n=4)
    H, G = naive.bsq_clamped_entropy(T)
    out_h, out_g = np.empty(4), np.empty_like(T)
    K.bsq_clamped_entropy(T, True, out_h, out_g)
    np.testing.assert_allclose(out_h, -np.log(1e-5), rtol=1e-14)
    np.testing.assert_allclose(out_h, H, rtol=1e-12)
    assert np.all(out_g == 0.0) and np.abs(G).max() < 1e-12


def test_torch_path_equals_kernel_path():
    """The device-independent torch path (used off the CPU) against the numba one."""
    x = torch.randn(2, 300, 9, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    module = BinarySphericalQuantizer(9)
    entropies = skt._entropies
    results = []
    for kernel in (True, False):
        xx = x.clone().requires_grad_()
        with mock.patch.object(skt, "_exact_entropies", wraps=skt._exact_entropies) as spy:
            with mock.patch.object(
                skt, "_entropies", functools.partial(entropies, kernel=kernel)
            ):
                aux = module(xx, 10.0)[2]
            assert spy.call_args.args[2] is kernel
        aux.backward()
        results.append((aux.detach(), xx.grad))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-12, atol=0)
    assert_close(results[0][1], results[1][1], 1e-10)


def test_gradcheck_exact_and_factorised():
    gen = torch.Generator().manual_seed(4)
    for exact_max_dim in (16, 4):
        module = BinarySphericalQuantizer(5, exact_max_dim=exact_max_dim)
        x = torch.randn(1, 8, 5, generator=gen, dtype=torch.float64, requires_grad=True)
        loss = functools.partial(lambda m, z: m(z, 3.0)[2], module)
        assert torch.autograd.gradcheck(loss, (x,), eps=1e-6, atol=1e-8)


# --------------------------------------------------------- large code dimensions
@pytest.mark.parametrize("d", [32, 64])
def test_large_code_dims(d):
    gen = torch.Generator().manual_seed(d)
    x = torch.randn(4, 50, d, generator=gen, dtype=torch.float64, requires_grad=True)
    module = BinarySphericalQuantizer(d)
    assert not module.exact
    q, idx, aux = module(x)
    bits = (x.detach() > 0).reshape(-1, d).numpy()
    # the bit pattern, first bit most significant, as 64-bit two's complement
    words = np.packbits(bits, axis=1).view(">u8" if d == 64 else ">u4").ravel()
    assert idx.reshape(-1).numpy().astype(np.uint64).tolist() == words.astype(np.uint64).tolist()
    if d == 64:
        assert (idx < 0).any()  # the first bit set
    res = bsq_auxiliary_loss(x.detach().numpy())
    np.testing.assert_allclose(aux.item(), res.loss, rtol=1e-12)
    (q.sum() + aux).backward()
    assert torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- dtypes, devices
def test_half_dtypes():
    x = torch.randn(2, 30, 6, generator=torch.Generator().manual_seed(0))
    ref = BinarySphericalQuantizer(6)(x)
    for dtype in (torch.float16, torch.bfloat16):
        q, idx, aux = BinarySphericalQuantizer(6)(x.to(dtype))
        assert q.dtype == dtype and aux.dtype == torch.float32
        assert torch.equal(idx, ref[1])
        torch.testing.assert_close(aux, ref[2], rtol=0.05, atol=0.01)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    x = adversarial(dtype, d=10)
    weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    cpu = outputs_and_grads(BinarySphericalQuantizer(10), x, 100.0, weights)
    gpu = outputs_and_grads(BinarySphericalQuantizer(10).cuda(), x.cuda(), 100.0, weights.cuda())
    assert torch.equal(cpu[1], gpu[1].cpu())
    for a, b in zip(cpu[2:], gpu[2:]):
        assert_close(b.cpu(), a, 1e-5 if dtype == torch.float32 else 1e-10)


def test_torch_compile():
    """Under torch.compile (dynamo; graph breaks around the checks and the exact terms)
    the values and gradients are those of eager mode."""
    module = BinarySphericalQuantizer(8)
    compiled = torch.compile(module, backend="eager")
    x = torch.randn(2, 40, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    results = []
    for f in (module, compiled):
        q, idx, aux = f(x)
        (g,) = torch.autograd.grad(q.sum() + aux, x)
        results.append((q, idx, aux, g))
    for a, b in zip(*results):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ bad input
def test_constructor_errors():
    for code_dim, err, match in [
        (0, ValueError, r"code_dim must be in \[1, 64\].*got 0"),
        (65, ValueError, r"code_dim must be in \[1, 64\].*got 65"),
        (True, TypeError, "code_dim must be an int"),
        (8.0, TypeError, "code_dim must be an int"),
    ]:
        with pytest.raises(err, match=match):
            BinarySphericalQuantizer(code_dim)
    with pytest.raises(ValueError, match=r"exact_max_dim must be in \[0, 24\]"):
        BinarySphericalQuantizer(8, exact_max_dim=25)
    with pytest.raises(TypeError, match="entropy_loss_weight must be a finite real"):
        BinarySphericalQuantizer(8, float("nan"))
    with pytest.raises(TypeError, match="diversity_gamma must be a finite real"):
        BinarySphericalQuantizer(8, 0.1, "1")
    with pytest.raises(TypeError):
        BinarySphericalQuantizer(8, 0.1, 1.0, 16)  # exact_max_dim is keyword-only


def test_forward_errors():
    module = BinarySphericalQuantizer(4)
    x = torch.randn(3, 4)
    match = r"shape \(\.\.\., code_dim\) with code_dim=4; got shape \(3, 5\)"
    with pytest.raises(ValueError, match=match):
        module(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        module(torch.tensor(1.0))
    with pytest.raises(TypeError, match="floating-point tensor; got dtype torch.int64"):
        module(torch.ones(3, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating-point tensor; got dtype torch.bool"):
        module(torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="x must be a torch.Tensor; got ndarray"):
        module(np.ones((3, 4)))
    with pytest.raises(ValueError, match="holds no vectors"):
        module(torch.ones(0, 4))
    for bad in (float("nan"), float("inf"), -float("inf")):
        y = x.clone()
        y[1, 2] = bad
        with pytest.raises(ValueError, match=r"NaN or infinity in 1 vector\(s\).*\[\[1\]\]"):
            module(y)
    for tau, err in [(-1.0, ValueError), (float("nan"), ValueError), (True, TypeError),
                     ("100", TypeError)]:
        with pytest.raises(err, match="inv_temperature"):
            module(x, tau)
    with pytest.raises(ValueError, match="NaN or infinity"):
        module.entropies(torch.full((2, 4), float("nan")))


def test_imports():
    # import skquant does not import torch; without torch, skquant.torch says what to install
    code = (
        "import sys, skquant\n"
        "assert 'torch' not in sys.modules, 'import skquant imported torch'\n"
        "sys.modules['torch'] = None\n"
        "import skquant.torch\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode != 0
    assert 'ImportError: skquant.torch needs PyTorch: pip install "skquant[torch]"' in out.stderr
    # inside the package, "import torch" is the real torch
    assert skt.torch is torch and skt.nn is torch.nn
