"""
=====================================================
Dead-zone quantization of DCT coefficients of a photo
=====================================================

The AC coefficients of the 8x8 block DCT of scikit-learn's sample photo
(``china.jpg``, grey levels) are peaked at 0. :class:`skquant.DeadZoneQuantizer`
designed for ``MSE + lam * H`` (a fitted dead zone, centroid reconstruction) is
compared with the MSE-optimal symmetric midtread uniform quantizer
(:class:`skquant.UniformClipQuantizer`) at several numbers of levels: at the same MSE
its codes hold more zeros and have a lower entropy (bits per value an entropy coder
spends).

Run ``python examples/plot_dead_zone.py`` (the figure needs matplotlib).
"""

import numpy as np
from scipy.fft import dctn
from sklearn.datasets import load_sample_image

from skquant import DeadZoneQuantizer, UniformClipQuantizer


def dct_ac(name="china.jpg"):
    g = load_sample_image(name).astype(np.float64) @ [0.299, 0.587, 0.114]
    h, w = (g.shape[0] // 8) * 8, (g.shape[1] // 8) * 8
    blocks = g[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 8, 8)
    return dctn(blocks - 128.0, axes=(1, 2), norm="ortho").reshape(-1, 64)[:, 1:].reshape(-1, 1)


def entropy(codes):
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def curves(X):
    uniform, dead_zone = [], []
    for M in (5, 9, 15, 31, 63):
        q = UniformClipQuantizer(n_levels=M, symmetric=True, mode="midtread").fit(X)
        codes = q.transform(X)
        uniform.append((q.mse_[0], entropy(codes), np.mean(codes == M // 2)))
    for lam in (400.0, 200.0, 100.0, 50.0, 20.0, 8.0):
        q = DeadZoneQuantizer(n_levels=255, lam=lam).fit(X)
        zeros = np.mean(q.transform(X) == q.zero_code_[0])
        dead_zone.append((q.mse_[0], q.entropy_[0], zeros))
    return np.array(uniform), np.array(dead_zone)


X = dct_ac()
uniform, dead_zone = curves(X)
print("                  MSE   bits/value  zeros")
for name, rows in (("uniform", uniform), ("dead zone", dead_zone)):
    for mse, bits, zeros in rows:
        print(f"{name:>10} {mse:10.3f} {bits:10.3f} {zeros:7.1%}")

try:
    import matplotlib.pyplot as plt
except ImportError:  # the numbers above are the result
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(uniform[:, 1], uniform[:, 0], "o-", label="uniform midtread (MSE-optimal)")
    ax.plot(dead_zone[:, 1], dead_zone[:, 0], "s-", label="dead zone, MSE + lam H")
    ax.set_yscale("log")
    ax.set_xlabel("entropy of the codes (bits per coefficient)")
    ax.set_ylabel("MSE")
    ax.set_title("8x8 DCT AC coefficients of china.jpg")
    ax.legend()
    plt.show()
