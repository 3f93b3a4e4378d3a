"""
================================================
Deploying a quantizing pipeline with ONNX
================================================

A pipeline fitted in Python is usually served elsewhere: in a C++ or Java service, on
a phone, in a browser. `ONNX <https://onnx.ai>`_ is the usual way out: skl2onnx
converts the fitted pipeline to an ONNX model, and onnxruntime (or any ONNX runtime)
runs it. A step that cannot be converted blocks the whole pipeline, so skquant ships
a converter for every estimator: ``import skquant.onnx`` registers them with
skl2onnx. The models use standard ONNX operators only and give exactly the results
of ``transform`` — the same codes and bit-equal reconstructions.

Here a classifier sees the breast cancer features quantized to 3 bits each
(quantize, then dequantize: ``encode="reconstruct"``), and the same pipeline runs
in onnxruntime.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skquant.onnx  # registers skquant's converters with skl2onnx
from skquant import LloydMaxQuantizer, UniformClipQuantizer

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

pipe = make_pipeline(
    StandardScaler(),
    LloydMaxQuantizer(n_bits=3, encode="reconstruct"),
    LogisticRegression(max_iter=1000),
).fit(X_train, y_train)
print(f"test accuracy with 3-bit features: {pipe.score(X_test, y_test):.3f}")

# %%
# Convert and save
# ----------------
# ``to_onnx`` reads the input type from an example row: float64 here, so the whole
# model computes in float64 like scikit-learn (a float32 example gives a float32
# model). ``zipmap=False`` returns the probabilities as a plain matrix.
onx = to_onnx(pipe, X_train[:1], options={LogisticRegression: {"zipmap": False}})
path = Path(tempfile.mkdtemp()) / "breast_cancer_3bit.onnx"  # where you deploy from
path.write_bytes(onx.SerializeToString())
ops = sorted({f"{node.domain or 'ai.onnx'}.{node.op_type}" for node in onx.graph.node})
print(f"{len(onx.graph.node)} nodes: {', '.join(ops)}")

# %%
# Serve with onnxruntime
# ----------------------
# Anything that runs ONNX can load the file; no Python, no skquant, no numba.
session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
labels, proba = session.run(None, {session.get_inputs()[0].name: X_test})
print("labels equal to scikit-learn's:", bool(np.array_equal(labels, pipe.predict(X_test))))
print(f"largest probability difference: {np.abs(proba - pipe.predict_proba(X_test)).max():.1e}")

# %%
# The classifier's converter (skl2onnx's) also uses the ``ai.onnx.ml`` domain; the
# scaler and the quantizer use the default domain only, and the quantized features
# they give are bit-equal to scikit-learn's:
features = to_onnx(pipe[:2], X_train[:1])
print("domains:", {node.domain or "ai.onnx" for node in features.graph.node})
features_session = ort.InferenceSession(
    features.SerializeToString(), providers=["CPUExecutionProvider"]
)
Z_onnx = features_session.run(None, {"X": X_test})[0]
print("quantized features bit-equal:", bool(np.array_equal(Z_onnx, pipe[:2].transform(X_test))))

# %%
# A ColumnTransformer, and codes in and out
# -----------------------------------------
# Quantize ten columns to 2-bit affine codes (the integer codes of PyTorch's and
# ONNX's ``QuantizeLinear``), one-hot encoded, and scale the others: any skquant step
# converts, wherever it sits.
mixed = make_pipeline(
    ColumnTransformer(
        [("q", UniformClipQuantizer(n_bits=2, mode="midtread", encode="onehot-dense"),
          list(range(10))),
         ("s", StandardScaler(), list(range(10, 30)))]
    ),
    LogisticRegression(max_iter=1000),
).fit(X_train, y_train)
onx = to_onnx(mixed, X_train[:1], options={LogisticRegression: {"zipmap": False}})
session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
labels, _ = session.run(None, {"X": X_test})
print("ColumnTransformer labels equal:", bool(np.array_equal(labels, mixed.predict(X_test))))

# Storage or transmission keeps the integer codes; the decoder is its own model.
q = LloydMaxQuantizer(n_bits=3).fit(X_train)
codes = q.transform(X_test)  # uint8
decoder = ort.InferenceSession(
    skquant.onnx.to_onnx_inverse(q).SerializeToString(), providers=["CPUExecutionProvider"]
)
decoded = decoder.run(None, {"codes": codes})[0]
print("decoded values bit-equal:", bool(np.array_equal(decoded, q.inverse_transform(codes))))

# %%
# What the deployed model computes
# --------------------------------
# Left: onnxruntime's probabilities against scikit-learn's. Right: one feature (mean
# radius, standardized) and the 3-bit value the deployed model feeds the classifier.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.plot(pipe.predict_proba(X_test)[:, 1], proba[:, 1], "o", alpha=0.5)
ax0.plot([0, 1], [0, 1], "k--", lw=1)
ax0.set(xlabel="scikit-learn P(benign)", ylabel="onnxruntime P(benign)",
        title="Same predictions")
grid = np.linspace(X[:, 0].min(), X[:, 0].max(), 2000)
rows = np.tile(X_train.mean(axis=0), (grid.size, 1))
rows[:, 0] = grid
standardized = pipe[0].transform(rows)[:, 0]
ax1.plot(standardized, standardized, "k--", lw=1, label="input")
ax1.plot(standardized, features_session.run(None, {"X": rows})[0][:, 0],
         label="onnxruntime, 3 bits")
ax1.set(xlabel="mean radius (standardized)", ylabel="value seen by the classifier",
        title="The quantizer inside the model")
ax1.legend()
fig.tight_layout()
plt.show()
