"""The bit-packing kernels against their NumPy twins (tests/naive_bitpack.py)."""

import naive_bitpack as naive
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skquant import _kernels as K


def _codes(rng, n, widths, dtype):
    cols = [rng.integers(0, 2 ** int(w), n) for w in widths]
    return np.stack(cols, axis=1).astype(dtype) if n else np.zeros((0, len(widths)), dtype)


def _pack(codes, widths):
    widths = np.asarray(widths, dtype=np.int64)
    out = np.empty(K.packed_size(codes.shape[0], widths), dtype=np.uint8)
    bad = K.pack_bits(np.ascontiguousarray(codes), widths, out)
    return out, bad


def _unpack(packed, widths, n, dtype):
    out = np.empty((n, len(widths)), dtype=dtype)
    K.unpack_bits(packed, np.asarray(widths, dtype=np.int64), out)
    return out


@pytest.mark.parametrize("b", [1, 2, 3, 5, 7, 8, 9, 12, 16])
@pytest.mark.parametrize("n, d", [(0, 3), (1, 1), (7, 1), (9, 2), (5000, 3), (3001, 7)])
def test_uniform_width_matches_numpy_twin(rng, b, n, d):
    dtype = np.uint8 if b <= 8 else np.uint16
    widths = np.full(d, b)
    codes = _codes(rng, n, widths, dtype)
    packed, bad = _pack(codes, widths)
    assert not bad.any()
    assert packed.shape == ((n * d * b + 7) // 8,)  # exactly n_bits per value
    np.testing.assert_array_equal(packed, naive.pack(codes, widths))
    np.testing.assert_array_equal(_unpack(packed, widths, n, dtype), codes)


def test_one_width_is_the_row_major_stream_of_values(rng):
    codes = _codes(rng, 1000, [5] * 4, np.uint8)
    packed, _ = _pack(codes, [5] * 4)
    flat = naive.pack(codes.reshape(-1, 1), [5])
    np.testing.assert_array_equal(packed, flat)


def test_known_bytes():
    # 3-bit values 1, 2, 3, 4 -> bits (LSB first) 100 010 110 001 -> bytes 0xD1 0x08
    packed, _ = _pack(np.array([[1, 2, 3, 4]], dtype=np.uint8), [3, 3, 3, 3])
    assert packed.tolist() == [0b11010001, 0b00001000]


@settings(max_examples=60, deadline=None)
@given(
    widths=st.lists(st.integers(1, 16), min_size=1, max_size=6),
    n=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_mixed_widths_match_numpy_twin(widths, n, seed):
    rng = np.random.default_rng(seed)
    codes = _codes(rng, n, widths, np.uint16)
    packed, bad = _pack(codes, widths)
    assert not bad.any()
    np.testing.assert_array_equal(packed, naive.pack(codes, widths))
    np.testing.assert_array_equal(_unpack(packed, widths, n, np.uint16), codes)
    np.testing.assert_array_equal(naive.unpack(packed, widths, n), codes)


def test_chunks_cover_many_rows_in_parallel(rng):
    # several parallel chunks, with rows not a multiple of the chunk size
    widths = np.array([3, 11, 1])
    n = 3 * K.PACK_CHUNK + 13
    codes = _codes(rng, n, widths, np.uint16)
    packed, bad = _pack(codes, widths)
    assert bad.shape[0] > 1 and not bad.any()
    np.testing.assert_array_equal(packed, naive.pack(codes, widths))
    np.testing.assert_array_equal(_unpack(packed, widths, n, np.uint16), codes)


def test_out_of_range_codes_are_flagged(rng):
    codes = _codes(rng, 100, [2, 2], np.uint8)
    codes[57, 1] = 4
    _, bad = _pack(codes, [2, 2])
    assert bad.any()
    codes = np.array([[-1]], dtype=np.int64)
    assert _pack(codes, [3])[1].any()


def test_padding_bits_are_zero():
    packed, _ = _pack(np.full((1, 3), 7, dtype=np.uint8), [3, 3, 3])  # 9 bits
    assert packed.tolist() == [0xFF, 0x01]
