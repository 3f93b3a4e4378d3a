"""Entropy-coded files: the coder (skquant._coding), its size model (skquant._entropy),
skquant.compress / decompress and the loader's checks of the coded members."""

import numpy as np
import pytest
from sklearn.datasets import fetch_california_housing, load_diabetes, load_digits, load_wine

from skquant import LloydMaxQuantizer, UniformClipQuantizer
from skquant._entropy import coded_bits, table_bytes

pytestmark = pytest.mark.filterwarnings("ignore:Column.*fewer distinct values")

pytest.importorskip("constriction")
from skquant import _coding  # noqa: E402


def _real_data():
    """Bundled scikit-learn datasets (california only if it is cached)."""
    out = {"diabetes": load_diabetes().data, "wine": load_wine().data,
           "digits": load_digits().data}
    try:
        out["california"] = fetch_california_housing(download_if_missing=False).data
    except OSError:
        pass
    return out


def _entropy_bits(codes):
    """n * H of each column, computed naively."""
    bits = []
    for col in codes.T:
        _, c = np.unique(col, return_counts=True)
        p = c / c.sum()
        bits.append(-(c * np.log2(p)).sum())
    return np.array(bits)


def _naive_table_bytes(symbols, counts):
    def varint(v):
        return max(1, -(-int(v).bit_length() // 7))
    prev, total = -1, 0
    for s, c in zip(symbols, counts):
        total += varint(s - prev - 1) + varint(c - 1)
        prev = s
    return total


def test_table_bytes_against_a_naive_count():
    rng = np.random.default_rng(0)
    symbols = np.sort(rng.choice(70000, 300, replace=False))
    counts = rng.integers(1, 2**40, 300)
    assert table_bytes(symbols, counts) == _naive_table_bytes(symbols, counts)


@pytest.mark.parametrize("name", sorted(_real_data()))
@pytest.mark.parametrize("quantizer", [UniformClipQuantizer(n_bits=6),
                                       LloydMaxQuantizer(n_bits=3)])
def test_coded_bits_is_the_real_size_within_one_percent(name, quantizer):
    X = _real_data()[name]
    q = quantizer.fit(X)
    codes = q.transform(X)
    predicted = coded_bits(codes, q.n_levels_)
    spec, arrays, stream = _coding.encode(codes, q.n_levels_)
    table = arrays[_coding.TABLE]
    # the table's size is exact, feature by feature
    tables = [8 * table_bytes(*np.unique(c, return_counts=True)) for c in codes.T]
    assert 8 * table.size == sum(tables)
    payload = predicted - np.array(tables)
    assert np.allclose(payload, _entropy_bits(codes))
    real = 32 * stream.size + 8 * table.size
    n_chunks = arrays[_coding.CHUNKS].size - 1
    # the coder spends the entropy and at most 64 bits per chunk to end its stream
    assert predicted.sum() <= real <= 1.01 * predicted.sum() + 64 * n_chunks
    assert 32 * stream.size <= 1.01 * payload.sum()
