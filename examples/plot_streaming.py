"""
==========================================
Streaming fits with partial_fit and merges
==========================================

A feature table too large for memory arrives in batches. Every scalar quantizer has
``partial_fit``: each feature keeps a *sketch*, a histogram of at most 2**16 bins with
exact moments per bin, and the codebook is redesigned from the sketches after every
batch. Here 30 batches of 20 000 rows (a Gaussian and a lognormal feature) are
streamed into ``LloydMaxQuantizer(algorithm="optimal")``; we follow

- the MSE on all the data of the streamed quantizer after each batch, against the
  in-memory exact optimum on all 600 000 rows (the streamed one converges to it: the
  guarantee of the streaming page bounds the gap by the sketch's bin widths);
- the sketches' memory, which stops growing once the range is covered.

Finally two streams fed by different workers are merged: sketches on the same bins
merge exactly, in any order.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skquant import LloydMaxQuantizer

rng = np.random.default_rng(0)
n_batches, rows = 30, 20_000
batches = [
    np.column_stack([rng.standard_normal(rows), rng.lognormal(size=rows)])
    for _ in range(n_batches)
]
X = np.concatenate(batches)

full = LloydMaxQuantizer(n_bits=4, algorithm="optimal").fit(X)
full_mse = np.mean((X - full.inverse_transform(full.transform(X))) ** 2, axis=0)

stream = LloydMaxQuantizer(n_bits=4, algorithm="optimal")
gaps, kib = [], []
for batch in batches:
    stream.partial_fit(batch)
    mse = np.mean((X - stream.inverse_transform(stream.transform(X))) ** 2, axis=0)
    gaps.append(mse / full_mse - 1)
    kib.append([sk.nbytes / 1024 for sk in stream.sketches_])
gaps, kib = np.array(gaps), np.array(kib)

print(f"rows seen: {stream.n_samples_seen_}")
for j, name in enumerate(["normal", "lognormal"]):
    print(f"{name:9s}: MSE over the in-memory optimum after 1 batch {gaps[0, j]:+.2e}, "
          f"after all {gaps[-1, j]:+.2e}; sketch {kib[-1, j]:.0f} KiB")

# %%
# Two workers, one merge
# ----------------------
# Each worker sketches its half of the batches on the bins of the first batch; the
# merged sketches give the same codebook as one stream over all batches.
from skquant import ColumnSketch  # noqa: E402

grids = [(sk.centre, sk.log2_scale) for sk in stream.sketches_]
halves = [batches[1::2], batches[2::2]]
workers = [[ColumnSketch(*grids[j]) for j in range(2)] for _ in halves]
for sketches, part in zip(workers, halves):
    for batch in part:
        for j in range(2):
            sketches[j].add(batch[:, j])
first = LloydMaxQuantizer(n_bits=4, algorithm="optimal").partial_fit(batches[0])
merged = [a.merge(b).merge(c) for a, b, c in zip(first.sketches_, *workers)]
first._fit_sketches(merged, X.dtype)
print("merged workers give the streamed codebook:",
      np.array_equal(first.thresholds_, stream.thresholds_))

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
seen = np.arange(1, n_batches + 1) * rows
for j, name in enumerate(["normal", "lognormal"]):
    ax1.plot(seen, np.abs(gaps[:, j]) + 1e-12, marker=".", label=name)
    ax2.plot(seen, kib[:, j], marker=".", label=name)
ax1.set(xscale="log", yscale="log", xlabel="rows streamed",
        ylabel="|MSE / in-memory optimum - 1|", title="streamed vs in-memory")
ax2.set(xscale="log", xlabel="rows streamed", ylabel="sketch KiB",
        title="memory per feature (bound 3072 KiB)")
ax1.legend()
fig.tight_layout()
plt.show()
