"""Entropy-coded files: the coder (skquant._coding), its size model (skquant._entropy),
skquant.compress / decompress and the loader's checks of the coded members."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import (
    fetch_california_housing,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)

from skquant import LloydMaxQuantizer, UniformClipQuantizer
from skquant._entropy import coded_bits, table_bytes, table_model_bits

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
def test_table_model_bits_is_the_real_size_within_one_percent(name, quantizer):
    X = _real_data()[name]
    q = quantizer.fit(X)
    codes = q.transform(X)
    predicted = np.array([table_model_bits(*np.unique(c, return_counts=True)) for c in codes.T])
    # every feature under its table's model (the flat and adaptive models: below)
    spec, arrays, stream = _coding.encode(codes, q.n_levels_, flat=[False] * X.shape[1])
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


def _rate_data():
    """Real data of 150 to 442 rows (one chunk: the adaptive model is allowed) and a
    Gaussian of 70 000 rows (more than 2**16: tables and flat models only)."""
    return {"iris": load_iris().data, "wine": load_wine().data,
            "diabetes": load_diabetes().data,
            "gaussian": np.random.default_rng(7).standard_normal((70_000, 3))}


_RATE_QUANTIZERS = {"uniform8": UniformClipQuantizer(n_bits=8),
                    "uniform4": UniformClipQuantizer(n_bits=4),
                    "lloyd3": LloydMaxQuantizer(n_bits=3)}


def _code_bits(arrays, stream):
    """Bits of the code members as written: the rANS words, the tables and the
    adaptive stream."""
    adaptive = arrays.get(_coding.ADAPTIVE, np.zeros(0, np.uint8))
    return 32 * stream.size + 8 * arrays[_coding.TABLE].size + 8 * adaptive.size


@pytest.mark.parametrize("quantizer", sorted(_RATE_QUANTIZERS))
@pytest.mark.parametrize("name", sorted(_rate_data()))
def test_coded_bits_is_what_each_feature_takes_in_the_written_file(name, quantizer):
    """The rate of rate="entropy" (coded_bits, what the scorer multiplies by n) is, per
    feature, the bits that feature really takes when written under the model the writer
    chooses for it: each column written alone under that model (flat, table or adaptive
    at its parameter) spends coded_bits to within its stream's end (at most 64 bits a
    lane of rANS, 2 bytes of the adaptive stream) and, for an adaptive column, less the
    byte of its header entry that coded_bits counts; the model it charges is the
    cheapest of the three, recomputed here."""
    from naive_adaptive import naive_adaptive_bits

    X = _rate_data()[name]
    q = clone(_RATE_QUANTIZERS[quantizer]).fit(X)
    codes = q.transform(X)
    n, d = codes.shape
    bits = coded_bits(codes, q.n_levels_)
    spec, _, _ = _coding.encode(codes, q.n_levels_)
    flat = np.isin(np.arange(d), spec["flat"])
    shifts = np.array(spec["adaptive"] or [-1] * d)
    assert (shifts >= 0).any() == (n <= _coding.ADAPTIVE_MAX_ROWS)
    for j in range(d):
        k = int(q.n_levels_[j])
        symbols, counts = np.unique(codes[:, j], return_counts=True)
        table = _entropy_bits(codes[:, [j]])[0] + 8 * table_bytes(symbols, counts)
        costs = {"table": table, "flat": n * np.log2(k) if symbols.size > 1 else np.inf}
        if shifts[j] >= 0:  # its best parameter, by the twin
            costs["adaptive"] = 8 + min(naive_adaptive_bits(codes[:, j].tolist(), k, p)
                                        for p in range(8 * _coding.MAX_RESCALE + 8)
                                        if _coding.adaptive_param_ok(p, k))
        chosen = "adaptive" if shifts[j] >= 0 else "flat" if flat[j] else "table"
        assert bits[j] == pytest.approx(costs[chosen], rel=1e-9) == min(costs.values())
        sub, arrays, stream = _coding.encode(codes[:, [j]], q.n_levels_[[j]],
                                             flat=[bool(flat[j])], adaptive=[int(shifts[j])])
        real = _code_bits(arrays, stream)
        lanes = _coding.CODERS[sub["coder"]]
        if shifts[j] >= 0:
            assert bits[j] - 8 <= real <= bits[j] - 8 + 16, (j, bits[j], real)
        else:
            assert bits[j] <= real <= 1.001 * bits[j] + 64 * lanes, (j, bits[j], real)


@pytest.mark.parametrize("quantizer", sorted(_RATE_QUANTIZERS))
@pytest.mark.parametrize("name", sorted(_rate_data()))
def test_coded_bits_is_the_code_members_of_the_compressed_file(name, quantizer, tmp_path):
    """What skquant.compress really writes: the code members of its file (rANS words,
    tables, adaptive stream, as stored before the container's DEFLATE) are the sum of
    coded_bits over the features to within the container overhead coded_bits documents:
    at most 64 bits a rANS lane and 2 bytes of adaptive stream more, a byte a feature
    less (the header entry of an adaptive feature, counted by coded_bits), and on a file
    of one chunk the few bytes by which the writer's choice among three codings (the
    smallest file after DEFLATE) may exceed the coders' best (0.8 % at most here)."""
    X = _rate_data()[name]
    q = skquant.compress(X, tmp_path / "x.skq", _RATE_QUANTIZERS[quantizer])
    codes = q.transform(X)
    n, d = codes.shape
    model = coded_bits(codes, q.n_levels_).sum()
    coded = _io.read(tmp_path / "x.skq", stream=True).coded
    real = 32 * int(coded.offsets[-1]) + 8 * coded.table_bytes
    real += 0 if coded.adaptive is None else 8 * coded.adaptive.size
    ends = 64 * (coded.offsets.size - 1) + 16
    assert model - 8 * d <= real <= 1.008 * model + ends, (model, real)
    if n > _coding.ADAPTIVE_MAX_ROWS:  # one way to write it: the coders' choice
        assert model <= real <= 1.001 * model + ends, (model, real)


def test_weighted_coded_bits_is_the_expected_payload_under_the_chosen_model():
    """With sample_weight each feature keeps the model chosen for its codes (unweighted:
    the file is that of the codes) and its payload is n times the weighted mean of its
    rows' bits under that model: n log2 n_levels for a flat feature whatever the
    weights; n times the cross-entropy of the weighted codes under the table's counts,
    plus the table, for a table feature; the weighted information content (the twin's)
    plus the header byte for an adaptive one. Equal weights give the unweighted bits."""
    from naive_adaptive import naive_adaptive_bits

    rng = np.random.default_rng(3)
    chosen = set()
    for X, b in ((load_iris().data, 5), (load_wine().data, 8),
                 (rng.standard_normal((70_000, 2)), 5)):
        q = UniformClipQuantizer(n_bits=b).fit(X)
        codes = q.transform(X)
        n, d = codes.shape
        w = rng.uniform(0, 3, n) * (codes[:, 0] > np.median(codes[:, 0]))  # zeros too
        weighted = coded_bits(codes, q.n_levels_, sample_weight=w)
        spec, _, _ = _coding.encode(codes, q.n_levels_)
        shifts = np.array(spec["adaptive"] or [-1] * d)
        np.testing.assert_allclose(coded_bits(codes, q.n_levels_, sample_weight=np.full(n, 0.3)),
                                   coded_bits(codes, q.n_levels_), rtol=1e-10)
        p = w / w.sum()
        for j in range(d):
            k = int(q.n_levels_[j])
            symbols, counts = np.unique(codes[:, j], return_counts=True)
            if shifts[j] >= 0:
                expected = 8 + n * naive_adaptive_bits(codes[:, j].tolist(), k, int(shifts[j]),
                                                       p.tolist())
            elif j in spec["flat"]:
                expected = n * np.log2(k)
            else:
                rows = np.log2(n / counts[np.searchsorted(symbols, codes[:, j])])
                expected = n * (p @ rows) + 8 * table_bytes(symbols, counts)
            assert weighted[j] == pytest.approx(expected, rel=1e-9), (j, shifts[j])
            chosen.add("adaptive" if shifts[j] >= 0 else "flat" if j in spec["flat"] else "table")
    assert chosen == {"adaptive", "flat", "table"}
    # weights on the rows of the commonest code of a table feature: fewer bits
    codes = np.r_[np.zeros(900, np.int64), np.arange(100) % 7][:, None]
    rows = np.where(codes[:, 0] == 0, 1.0, 0.0)
    assert coded_bits(codes, 7, rows)[0] < coded_bits(codes, 7)[0]
    for bad in (np.zeros(1000), -rows, np.full(1000, np.nan)):
        with pytest.raises(ValueError, match="sample_weight"):
            coded_bits(codes, 7, bad)


def test_the_size_model_is_reached_lazily():
    """Importing skquant._entropy (and the metrics and allocation that use it) imports
    neither numba nor the coder; coded_bits reaches the writer's size model when it is
    called (its adaptive kernel compiled then, not at import)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "import skquant, skquant._entropy, skquant.metrics, skquant._allocation\n"
            "assert 'numba' not in sys.modules and 'skquant._coding' not in sys.modules\n"
            "bits = skquant._entropy.coded_bits(np.array([[0], [1], [1]]), 2)\n"
            "assert 'skquant._coding' in sys.modules\n"
            "print(bits[0])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == 3.0  # flat: 3 values of 1 bit


# ------------------------------------------------------------ files: format version 3
import io  # noqa: E402
import json  # noqa: E402
import zipfile  # noqa: E402

import skquant  # noqa: E402
from skquant import _io  # noqa: E402


def _file(X, quantizer, coding="entropy", columns=None, container="zip"):
    q = quantizer.fit(X)
    buf = io.BytesIO()
    _io.write(buf, q, codes=q.transform(X), columns=columns, coding=coding,
              container=container)
    return q, buf.getvalue()


@pytest.mark.parametrize("coding", ["entropy", "packed"])
@pytest.mark.parametrize("name", sorted(_real_data()))
def test_both_codings_round_trip_bit_for_bit(name, coding):
    X = _real_data()[name]
    q, data = _file(X, UniformClipQuantizer(n_bits=8), coding)
    q, compact = _file(X, UniformClipQuantizer(n_bits=8), coding, container=None)
    assert compact[:4] == _io.MAGIC + bytes([_io.FORMAT_VERSION]) and len(compact) < len(data)
    for blob in (data, compact):
        enc = _io.read(io.BytesIO(blob))
        assert enc.coding == coding
        assert enc.codes.dtype == q.transform(X).dtype
        assert np.array_equal(enc.codes, q.transform(X))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read("header.json"))
        names = set(zf.namelist())
    assert header["format_version"] == _io.FORMAT_VERSION
    assert header["codes"]["coding"] == coding
    names |= {a[0] + ".npy" for a in header["arrays"]}  # the arrays of state.npy
    coded = {"codes.table.npy", "codes.chunks.npy", "codes.stream.npy"}
    assert (coded <= names) == (coding == "entropy")
    assert ("codes.npy" in names) == (coding == "packed")


def test_chunks_stream_in_bounded_blocks():
    """Several chunks: blocks come in order, each at most a chunk, and equal the codes."""
    rng = np.random.default_rng(1)
    X = rng.laplace(size=(_coding.chunk_rows_for(3) * 2 + 17, 3))
    q, data = _file(X, UniformClipQuantizer(n_bits=6))
    enc = _io.read(io.BytesIO(data), stream=True)
    assert enc.codes is None and enc.shape == X.shape
    codes = q.transform(X)
    first = 0
    for a, block in enc.blocks(block_values=10**9):
        assert a == first and block.shape[0] <= _coding.chunk_rows_for(3)
        assert np.array_equal(block, codes[a:a + block.shape[0]])
        first += block.shape[0]
    assert first == X.shape[0]


@pytest.mark.parametrize("name", sorted(_real_data()))
def test_compress_payload_within_one_percent_of_the_entropy(name, tmp_path):
    """skquant.compress on real data: the stream is at most 1.01x the empirical entropy
    of the codes (their n * H, in bits; the flat and adaptive features' by less than the
    table they do without), and decompress is the reconstruction bit for bit."""
    X = _real_data()[name]
    q = skquant.compress(X, tmp_path / "x.skq")
    codes = q.transform(X)
    coded = _io.read(tmp_path / "x.skq", stream=True).coded
    adaptive = coded.shifts >= 0
    extra = 0 if coded.adaptive is None else coded.adaptive.size
    stream = 4 * int(coded.offsets[-1]) + extra  # the rANS words and the adaptive bytes
    entropy = _entropy_bits(codes).sum() / 8
    n_chunks = -(-X.shape[0] // _coding.chunk_rows_for(X.shape[1]))
    tabled = ~coded.flat & ~adaptive  # the flat features' payload exceeds their entropy,
    # by less than the table they do without (tested below); so do the adaptive ones'
    payload = _entropy_bits(codes[:, tabled]).sum() / 8
    flat_bits = sum(X.shape[0] * np.log2(q.n_levels_[j]) for j in np.flatnonzero(coded.flat))
    learnt = 0
    for j in np.flatnonzero(adaptive):
        symbols, counts = np.unique(codes[:, j], return_counts=True)
        learnt += _entropy_bits(codes[:, [j]])[0] / 8 + table_bytes(symbols, counts)
    bound = 1.01 * payload + flat_bits / 8 + learnt + 8 * n_chunks + 2 * bool(extra)
    assert entropy <= stream <= bound, (stream, entropy, bound)
    Y = skquant.decompress(tmp_path / "x.skq")
    expected = q.inverse_transform(codes)
    assert Y.dtype == expected.dtype and Y.tobytes() == expected.tobytes()


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_the_flat_model_is_chosen_where_it_is_smaller(name):
    """Few rows, many used codes: a feature whose table costs more than the entropy
    saves is coded under the flat model (no table), and then the codes (stream and
    table) are smaller than under the tables, and decode bit for bit (the choice between
    these two: ``adaptive="off"``)."""
    X = _real_data()[name]
    q = UniformClipQuantizer(n_bits=8).fit(X)
    codes = q.transform(X)
    n, d = codes.shape
    auto, auto_arrays, auto_stream = _coding.encode(codes, q.n_levels_, adaptive="off")
    tab, tab_arrays, tab_stream = _coding.encode(codes, q.n_levels_, flat=[False] * d)
    flat_all, flat_arrays, flat_stream = _coding.encode(codes, q.n_levels_, flat=[True] * d)
    assert tab["flat"] == [] and flat_all["flat"] == list(range(d))
    assert flat_arrays[_coding.TABLE].size == 0
    real = {}
    for key, (arrays, stream) in {"auto": (auto_arrays, auto_stream),
                                  "table": (tab_arrays, tab_stream),
                                  "flat": (flat_arrays, flat_stream)}.items():
        real[key] = 4 * stream.size + arrays[_coding.TABLE].size
    assert auto["flat"], auto  # real data where the tables do not pay
    # per feature: flat exactly when n log2(n_levels) < n H + 8 table bytes
    for j in range(d):
        symbols, counts = np.unique(codes[:, j], return_counts=True)
        flat_bits = n * np.log2(q.n_levels_[j])
        tab_bits = _entropy_bits(codes[:, [j]])[0] + 8 * table_bytes(symbols, counts)
        assert (j in auto["flat"]) == (symbols.size > 1 and flat_bits < tab_bits)
    # the choice is within 8 bytes of the better of all-flat and all-table, or below
    assert real["auto"] <= min(real["table"], real["flat"]) + 8, real
    for spec, arrays, stream in ((auto, auto_arrays, auto_stream),
                                 (flat_all, flat_arrays, flat_stream)):
        reader = _coding.CodedCodes(spec, dict(arrays), q.n_levels_, codes.shape,
                                    codes.dtype, lambda stream=stream: _bytes_stream(stream))
        assert np.array_equal(reader.decode(), codes)


@pytest.mark.parametrize("name", ["wine", "iris"])
def test_the_adaptive_model_is_chosen_on_small_columns_where_it_is_smaller(name):
    """150 to 178 rows and 8 bits: the adaptive model (no table, counts learnt as the
    codes are coded, forgotten by halves on the rows sorted by class) is chosen for the
    features where it takes fewer bits than both the table and the flat model, at its
    best parameter; its stream is those bits to within 2 bytes, the codes are then
    smaller than under flat and table alone, the kernel writes what the twin writes,
    and they decode bit for bit."""
    from naive_adaptive import naive_adaptive_bits, naive_adaptive_decode, naive_adaptive_encode

    X = (load_iris() if name == "iris" else load_wine()).data
    q = UniformClipQuantizer(n_bits=8).fit(X)
    codes = q.transform(X)
    n, d = codes.shape
    spec, arrays, stream = _coding.encode(codes, q.n_levels_)
    off, off_arrays, off_stream = _coding.encode(codes, q.n_levels_, adaptive="off")
    shifts = np.array(spec["adaptive"])
    assert shifts.size == d and np.any(shifts >= 0), spec
    assert np.any(shifts >= 8), spec  # halvings pay on rows sorted by class
    expected_bits = 0.0
    for j in range(d):
        symbols, counts = np.unique(codes[:, j], return_counts=True)
        k = int(q.n_levels_[j])
        flat_bits = n * np.log2(k)
        tab_bits = _entropy_bits(codes[:, [j]])[0] + 8 * table_bytes(symbols, counts)
        params = [p for p in range(8 * _coding.MAX_RESCALE + 8)
                  if _coding.adaptive_param_ok(p, k)]
        ada = {p: naive_adaptive_bits(codes[:, j].tolist(), k, p) + 8 for p in params}
        best = min(ada, key=ada.get)
        assert (shifts[j] >= 0) == (ada[best] < min(flat_bits, tab_bits)), (j, ada, tab_bits)
        if shifts[j] >= 0:
            assert ada[shifts[j]] <= ada[best] + 1e-9  # the best (or tied) parameter
            expected_bits += ada[best] - 8
    features = np.flatnonzero(shifts >= 0)
    adaptive = arrays[_coding.ADAPTIVE]
    assert expected_bits / 8 <= adaptive.size <= expected_bits / 8 + 2
    twin = naive_adaptive_encode([codes[:, j].tolist() for j in features],
                                 q.n_levels_[features].tolist(), shifts[features].tolist())
    assert np.array_equal(adaptive, twin)
    assert np.array_equal(naive_adaptive_decode(twin, n, q.n_levels_[features].tolist(),
                                                shifts[features].tolist()), codes[:, features])
    real = 4 * stream.size + arrays[_coding.TABLE].size + adaptive.size
    assert real < 4 * off_stream.size + off_arrays[_coding.TABLE].size
    # the size model of the choice (the benchmark's allocation uses it; it counts a byte
    # of header for each adaptive feature)
    model = _coding.feature_bits(codes, q.n_levels_).sum() / 8
    assert model - features.size - 1 <= real <= 1.01 * model + 10, (model, real)
    reader = _coding.CodedCodes(spec, dict(arrays), q.n_levels_, codes.shape, codes.dtype,
                                lambda: _bytes_stream(stream))
    assert np.array_equal(reader.decode(), codes)


@pytest.mark.parametrize("seed", range(4))
def test_adaptive_kernels_equal_the_twin_on_random_columns(seed):
    """The numba adaptive coder writes the twin's bytes and both decode them back, on
    random columns (skewed, uniform, one code; random shifts and halvings), in the bits
    the size model counts (to within 2 bytes); random bytes decode to codes within
    range, as the twin decodes them."""
    from naive_adaptive import naive_adaptive_bits, naive_adaptive_decode, naive_adaptive_encode

    from skquant import _kernels

    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 5)), int(rng.integers(1, 300))
    levels = rng.integers(2, 600, m)
    shifts = rng.integers(0, _coding.MAX_SHIFT + 1, m) + 8 * rng.integers(0, 8, m)
    shifts = np.where([_coding.adaptive_param_ok(p, k) for p, k in zip(shifts, levels)],
                      shifts, shifts % 8)
    codes = np.stack([np.minimum(rng.geometric(rng.uniform(0.02, 0.9), n) - 1, k - 1)
                      if j % 3 else (rng.integers(0, k, n) if j % 2 else np.full(n, k - 1))
                      for j, k in enumerate(levels)], axis=1)
    out = np.zeros(4 * n * m + 8, dtype=np.uint8)
    size = _kernels.adaptive_encode(codes, np.arange(m), levels, shifts, out)
    twin = naive_adaptive_encode(codes.T.tolist(), levels.tolist(), shifts.tolist())
    assert size == twin.size and np.array_equal(out[:size], twin)
    bits = [naive_adaptive_bits(codes[:, j].tolist(), int(k), int(p))
            for j, (k, p) in enumerate(zip(levels, shifts))]
    np.testing.assert_allclose([_kernels.adaptive_bits(np.ascontiguousarray(codes[:, j]),
                                                       int(k), int(p))
                                for j, (k, p) in enumerate(zip(levels, shifts))], bits)
    assert sum(bits) / 8 <= size <= sum(bits) / 8 + 2
    back = np.zeros((n, m), dtype=np.uint16)
    _kernels.adaptive_decode(out[:size], levels, shifts, back)
    assert np.array_equal(back, codes)
    assert np.array_equal(naive_adaptive_decode(twin, n, levels.tolist(), shifts.tolist()), codes)
    noise = rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8)
    _kernels.adaptive_decode(noise, levels, shifts, back)
    assert np.all(back < levels) and np.array_equal(
        back, naive_adaptive_decode(noise, n, levels.tolist(), shifts.tolist()))
    assert _kernels.adaptive_encode(codes, np.arange(m), levels, shifts, out[:size - 1]) == -1


def test_decompress_returns_a_dataframe_with_the_column_names(tmp_path):
    pd = pytest.importorskip("pandas")
    from sklearn.datasets import load_diabetes

    X = load_diabetes(as_frame=True).data
    q = skquant.compress(X, tmp_path / "d.skq", LloydMaxQuantizer(n_bits=4))
    Y = skquant.decompress(tmp_path / "d.skq")
    assert isinstance(Y, pd.DataFrame) and list(Y.columns) == list(X.columns)
    assert np.array_equal(Y.to_numpy(), q.inverse_transform(q.transform(X)))
    unnamed = io.BytesIO(_file(X.to_numpy(), LloydMaxQuantizer(n_bits=4))[1])
    assert type(skquant.decompress(unnamed)) is np.ndarray


def test_compress_clones_and_validates_its_parameters(tmp_path):
    X = load_wine().data
    template = LloydMaxQuantizer(n_bits=3)
    q = skquant.compress(X, tmp_path / "w.skq", template)
    assert q is not template and not hasattr(template, "levels_") and hasattr(q, "levels_")
    assert type(skquant.compress(X, tmp_path / "u.skq")) is UniformClipQuantizer
    with pytest.raises(ValueError, match="'quantizer' parameter"):
        skquant.compress(X, tmp_path / "b.skq", quantizer="lloyd-max")
    with pytest.raises(ValueError, match="'path' parameter"):
        skquant.compress(X, 3)
    with pytest.raises(ValueError, match="'coding' parameter"):
        skquant.compress(X, tmp_path / "b.skq", coding="zip")
    with pytest.raises(ValueError, match="'path' parameter"):
        skquant.decompress(None)
    skquant.save(q, tmp_path / "est.skq")
    with pytest.raises(ValueError, match="no codes"):
        skquant.decompress(tmp_path / "est.skq")


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content, zipfile.ZIP_STORED if "stream" in name
                        else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _edit_array(name, edit):
    """Replace the array ``name`` (of the state, format version 4) by ``edit(array)``
    and fix the header's digest (the forging of tests/test_forged_files.py)."""
    def apply(members):
        from test_forged_files import _members as arrays_of
        from test_forged_files import forge

        header, arrays = arrays_of(_rezip(members))
        key = name[: -len(".npy")]
        arrays[key] = edit(arrays[key])
        stream = [("codes.stream.npy", members["codes.stream.npy"])]
        with zipfile.ZipFile(io.BytesIO(forge(header, arrays, extra=stream))) as zf:
            return {n: zf.read(n) for n in zf.namelist()}
    return apply


def _flip_stream_word(members):
    content = bytearray(members["codes.stream.npy"])
    content[-5] ^= 0x10
    members["codes.stream.npy"] = bytes(content)
    return members


def _truncate_stream(members):
    content = members["codes.stream.npy"]
    members["codes.stream.npy"] = content[:-8]
    return members


def _swap_chunks(members):
    return _edit_array("codes.chunks.npy", lambda a: np.r_[a[0], a[2], a[1], a[3:]])(members)


@pytest.mark.parametrize("edit, match", [
    (_flip_stream_word, r"codes\.stream\.npy"),
    (_truncate_stream, r"codes\.stream\.npy"),
    (_edit_array("codes.table.npy", lambda t: t[:-1]), r"codes\.table\.npy"),
    (_edit_array("codes.table.npy", lambda t: np.r_[t, np.uint8(0)]), r"codes\.table\.npy"),
    (_edit_array("codes.table.npy", lambda t: np.where(np.arange(t.size) == 0, 100, t)
                 .astype(np.uint8)), r"codes\.table\.npy"),
    (_edit_array("codes.table.npy", lambda t: t.astype(np.int64)), r"codes\.table\.npy"),
    (_edit_array("codes.chunks.npy", lambda c: c[:-1]), r"codes\.chunks\.npy"),
    (_edit_array("codes.chunks.npy", lambda c: c - 1), r"codes\.chunks\.npy"),
    (_edit_array("codes.chunks.npy", lambda c: c.astype(np.int32)), r"codes\.chunks\.npy"),
    (_swap_chunks, r"codes\.(chunks|stream)\.npy"),
    (_edit_array("codes.chunks.npy", lambda c: np.r_[c[:-1], c[-1] + 10**12]),
     r"codes\.chunks\.npy"),
])
def test_damaged_coded_members_are_refused_naming_the_member(edit, match):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((_coding.chunk_rows_for(2) * 3 + 5, 2))
    q, data = _file(X, UniformClipQuantizer(n_bits=5))
    bad = _rezip(edit(_members(data)))
    with pytest.raises(ValueError, match=match) as info:
        _io.read(io.BytesIO(bad))
    assert str(info.value).startswith("file: ") and "\n" not in str(info.value)
    with pytest.raises(ValueError, match=match):
        for _ in _io.read(io.BytesIO(bad), stream=True).blocks():
            pass


def test_a_forged_stream_size_is_refused_before_reading():
    """A stream member declaring more words than its chunks can hold is refused from
    the archive directory (its declared size), before anything is allocated."""
    X = np.random.default_rng(3).standard_normal((100000, 2))  # a member: above 64 KiB
    q, data = _file(X, UniformClipQuantizer(n_bits=4))
    members = _members(data)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<u4", "fortran_order": False, "shape": (10**9,)})
    members["codes.stream.npy"] = head.getvalue() + b"\0" * (4 * 10**6)
    with pytest.raises(ValueError, match=r"codes\.stream\.npy: .* more than"):
        _io.read(io.BytesIO(_rezip(members)))


# ------------------------------------------------------------------ the rANS decoder
def _random_models(rng, n_models, top_levels):
    """``(counts, symbols)`` pairs: random used-code counts (some with one code, two
    codes, or one count of 1 against 10**6) and symbols drawn from them."""
    out = []
    for k in range(n_models):
        u = [1, 2, top_levels, int(rng.integers(2, top_levels + 1))][k % 4]
        counts = rng.integers(1, [2, 10**6, 50][k % 3] + 1, size=u).astype(np.int64)
        if k % 5 == 1 and u > 1:
            counts[:] = 1
            counts[rng.integers(u)] = 10**6
        m = int(rng.integers(0, 40))
        out.append((counts, rng.choice(u, size=m, p=counts / counts.sum())))
    return out


def _constriction_encode(models):
    import constriction

    coder = constriction.stream.stack.AnsCoder()
    for counts, symbols in reversed(models):
        if counts.size > 1:
            coder.encode_reverse(symbols.astype(np.int32), _coding._model(constriction, counts))
    return coder.get_compressed()


def _constriction_decode(words, models):
    import constriction

    coder = constriction.stream.stack.AnsCoder(np.asarray(words, dtype=np.uint32))
    got = [np.asarray(coder.decode(_coding._model(constriction, c), m), dtype=np.int64)
           for c, m in models]
    return got, coder.is_empty()


def _kernel_decode(words, models):
    """One chunk with one feature per model (features of one code left out)."""
    coded = [(c, m) for c, m in models if c.size > 1]
    tables = _coding.Tables([c for c, _ in coded])
    m = coded[0][1] if coded else 0
    assert all(mm == m for _, mm in coded)
    out = np.zeros((m, len(coded)), dtype=np.int64)
    seen = tables.new_seen(1)
    states, left = tables.decode(np.asarray(words, dtype=np.uint32), np.array([0, len(words)]),
                                 np.array([0, m]), out, seen)
    return list(out.T), states[0], left[0]


@pytest.mark.parametrize("seed", range(12))
def test_rans_decoder_equals_constriction_and_the_twin_on_random_models(seed):
    from naive_rans import naive_decode

    rng = np.random.default_rng(seed)
    top = [2, 3, 300, 65536][seed % 4]
    m = 0 if seed == 0 else int(rng.integers(1, 60))  # seed 0: empty chunks
    models = [(c, rng.choice(c.size, size=m, p=c / c.sum()))
              for c, _ in _random_models(rng, 1 + seed % 5, top)]
    words = _constriction_encode(models)
    coded = [(c, s) for c, s in models if c.size > 1]
    ours, state, left = _kernel_decode(words, [(c, s.size) for c, s in coded])
    theirs, empty = _constriction_decode(words, [(c, s.size) for c, s in coded])
    twin, twin_state, twin_left = naive_decode(words, [(c, s.size) for c, s in coded])
    for (c, s), a, b, t in zip(coded, ours, theirs, twin):
        np.testing.assert_array_equal(a, s)
        np.testing.assert_array_equal(b, s)
        np.testing.assert_array_equal(t, s)
    assert empty and state == 0 and left == 0 and twin_state == 0 and twin_left == 0


@pytest.mark.parametrize("seed", range(8))
def test_rans_decoder_equals_constriction_on_random_words(seed):
    """Garbage streams exercise every quantile: the codes decoded from them, the final
    state and constriction's emptiness agree with constriction and the twin."""
    from naive_rans import naive_decode

    rng = np.random.default_rng(100 + seed)
    top = [2, 5, 256, 65536][seed % 4]
    m = [1, 7, 200, 1000][seed % 4]
    counts = [c for c, _ in _random_models(rng, 6, top) if c.size > 1]
    models = [(c, m) for c in counts]
    words = rng.integers(0, 2**32, size=int(rng.integers(0, 400)), dtype=np.uint64)
    words = words.astype(np.uint32)
    if words.size:
        words[-1] |= 1
    ours, state, left = _kernel_decode(words, models)
    theirs, empty = _constriction_decode(words, models)
    twin, twin_state, twin_left = naive_decode(words, models)
    for a, b, t in zip(ours, theirs, twin):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, t)
    assert (state == 0) == empty and state == twin_state and left == twin_left


def test_rans_decoder_refuses_a_last_zero_word_like_constriction():
    import constriction
    from naive_rans import naive_decode

    words = np.array([5, 0], dtype=np.uint32)
    models = [(np.array([3, 1], dtype=np.int64), 4)]
    with pytest.raises(ValueError):
        constriction.stream.stack.AnsCoder(words)
    assert _kernel_decode(words, models)[2] == -1 == naive_decode(words, models)[2]


@pytest.mark.parametrize("name", sorted(_real_data()))
def test_rans_decoder_on_real_data_in_parallel_chunks(name, monkeypatch):
    """Real columns (8-bit codes), chunks of 37 rows decoded in parallel batches: the
    reader returns the codes bit for bit, each chunk as constriction decodes it."""
    X = _real_data()[name]
    q = UniformClipQuantizer(n_bits=8).fit(X)
    codes = q.transform(X)
    monkeypatch.setattr(_coding, "CHUNK_VALUES", 37 * codes.shape[1])
    monkeypatch.setattr(_coding, "BATCH_VALUES", 5 * 37 * codes.shape[1])
    # the tables' models, as the constriction decoding below builds them
    spec, arrays, stream = _coding.encode(codes, q.n_levels_, flat=[False] * codes.shape[1])
    assert spec["chunk_rows"] == 37
    offsets = arrays[_coding.CHUNKS]
    reader = _coding.CodedCodes(spec, dict(arrays), q.n_levels_, codes.shape, codes.dtype,
                                lambda: _bytes_stream(stream))
    np.testing.assert_array_equal(reader.decode(), codes)
    counts = [np.unique(col, return_counts=True)[1] for col in codes.T]
    for i in (0, offsets.size - 2):
        rows = codes[37 * i:37 * (i + 1)]
        words = stream[offsets[i]:offsets[i + 1]]
        models = [(c, rows.shape[0]) for c in counts if c.size > 1]
        theirs, empty = _constriction_decode(words, models)
        ours, state, left = _kernel_decode(words, models)
        assert empty and state == 0 and left == 0
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def _bytes_stream(stream):
    import contextlib

    @contextlib.contextmanager
    def cm():
        yield io.BytesIO(stream.astype("<u4").tobytes()), stream.size
    return cm()


# ------------------------------------------------ files of the first entropy layout
V3_ENTROPY = __import__("pathlib").Path(__file__).parent / "fixtures" / "format_v3_entropy"


@pytest.mark.parametrize("name", ["uniform_chunks", "lloyd_max_named", "uniform_digits"])
def test_first_entropy_layout_files_still_load(name):
    """Files written with coder constriction-ans32-categorical (one stream per chunk,
    tests/fixtures/make_format_v3_entropy.py) load bit for bit, whole and streamed."""
    expected = np.load(V3_ENTROPY / f"{name}.expected.npz")
    enc = _io.read(V3_ENTROPY / f"{name}.skq")
    assert enc.coding == "entropy"
    np.testing.assert_array_equal(enc.codes, expected["transform"])
    inverse = enc.estimator.inverse_transform(enc.codes)
    assert inverse.tobytes() == expected["inverse"].tobytes()
    streamed = np.concatenate([b for _, b in _io.read(V3_ENTROPY / f"{name}.skq",
                                                        stream=True).blocks()])
    np.testing.assert_array_equal(streamed, expected["transform"])


# ------------------------------------------------------------ chunks in lanes
def _lane_file(codes, n_levels, monkeypatch, chunk_rows):
    """Encode with chunks of ``chunk_rows`` rows, in lanes whatever their size."""
    monkeypatch.setattr(_coding, "CHUNK_VALUES", chunk_rows * codes.shape[1])
    monkeypatch.setattr(_coding, "MIN_LANE_VALUES", 1)
    return _coding.encode(codes, n_levels, flat=[False] * codes.shape[1])


def test_writer_picks_lanes_by_chunk_size():
    """One lane (the first layout, coder constriction-ans32-categorical) below
    LANES * MIN_LANE_VALUES values per chunk, LANES lanes from there."""
    assert _coding.lanes_for(1000, 13) == 1 and _coding.CODERS[_coding.CODER_SINGLE] == 1
    rows = _coding.LANES * _coding.MIN_LANE_VALUES // 4
    assert _coding.lanes_for(rows, 4) == _coding.LANES > 1
    assert _coding.lanes_for(rows - 1, 4) == 1
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 5, size=(rows, 4))
    spec, arrays, _ = _coding.encode(codes, 5)
    assert spec["coder"] == _coding.CODER
    assert arrays[_coding.CHUNKS].size == _coding.LANES + 1
    spec, arrays, _ = _coding.encode(codes[:rows - 1], 5)
    assert spec["coder"] == _coding.CODER_SINGLE and arrays[_coding.CHUNKS].size == 2


@pytest.mark.parametrize("chunk_rows, n_rows", [(37, 37 * 3 + 5), (64, 64), (5, 23), (300, 7)])
def test_lanes_decode_like_constriction_and_the_twin(chunk_rows, n_rows, monkeypatch):
    """Each lane of each chunk is a constriction stream of rows ``lane::LANES`` of the
    chunk (chunks of fewer rows than lanes included): constriction, the NumPy twin and
    the reader decode them to the codes."""
    import constriction
    from naive_rans import naive_decode_chunk

    rng = np.random.default_rng(chunk_rows + n_rows)
    codes = np.column_stack([rng.integers(0, 3, n_rows), np.full(n_rows, 2),
                             rng.choice(200, n_rows, p=np.r_[0.9, np.full(199, 0.1 / 199)]),
                             rng.integers(0, 256, n_rows)])
    spec, arrays, stream = _lane_file(codes, 256, monkeypatch, chunk_rows)
    lanes = _coding.LANES
    assert spec["coder"] == _coding.CODER and spec["chunk_rows"] == chunk_rows
    offsets = arrays[_coding.CHUNKS]
    n_chunks = -(-n_rows // chunk_rows)
    assert offsets.size == n_chunks * lanes + 1
    used = [np.unique(col, return_counts=True) for col in codes.T]
    counts = [c for s, c in used if s.size > 1]
    coded = [j for j, (s, _) in enumerate(used) if s.size > 1]
    for i in range(n_chunks):
        rows = codes[i * chunk_rows:(i + 1) * chunk_rows]
        lane_words = [stream[offsets[i * lanes + k]:offsets[i * lanes + k + 1]]
                      for k in range(lanes)]
        twin, states, left = naive_decode_chunk(lane_words, counts, rows.shape[0])
        assert states == [0] * lanes and left == [0] * lanes
        for k, words in enumerate(lane_words):
            want = rows[k::lanes][:, coded]
            index = [np.searchsorted(used[j][0], want[:, n]) for n, j in enumerate(coded)]
            np.testing.assert_array_equal(twin[k::lanes], np.column_stack(index))
            if words.size:
                coder = constriction.stream.stack.AnsCoder(words.astype(np.uint32))
                for n, c in enumerate(counts):
                    got = coder.decode(_coding._model(constriction, c), want.shape[0])
                    np.testing.assert_array_equal(got, index[n])
                assert coder.is_empty()
            else:
                assert want.shape[0] == 0
    reader = _coding.CodedCodes(spec, dict(arrays), 256, codes.shape, codes.dtype,
                                lambda: _bytes_stream(stream))
    np.testing.assert_array_equal(reader.decode(), codes)
    blocks = list(_coding.CodedCodes(spec, dict(arrays), 256, codes.shape, codes.dtype,
                                     lambda: _bytes_stream(stream)).blocks())
    assert [a for a, _ in blocks] == list(range(0, n_rows, chunk_rows))
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), codes)


def test_lane_kernel_on_random_words_equals_the_twin():
    """Garbage lanes (random words, one lane ending in a zero word): the kernel's codes,
    final states and words left agree with the twin, lane by lane."""
    from naive_rans import naive_decode_chunk

    rng = np.random.default_rng(7)
    counts = [c for c, _ in _random_models(rng, 6, 300) if c.size > 1]
    lanes, n_rows = _coding.LANES, 8 * 13 + 3
    lane_words = [rng.integers(1, 2**32, size=int(rng.integers(0, 40)), dtype=np.uint64)
                  .astype(np.uint32) for _ in range(lanes)]
    lane_words[3] = np.r_[lane_words[3], np.uint32(0)]
    starts = np.cumsum([0] + [w.size for w in lane_words])
    tables = _coding.Tables(counts)
    out = np.full((n_rows, len(counts)), -1, dtype=np.int64)
    states, left = tables.decode(np.concatenate(lane_words), starts, np.array([0, n_rows]),
                                 out, tables.new_seen(2), lanes)
    twin, twin_states, twin_left = naive_decode_chunk(lane_words, counts, n_rows)
    assert left[3] == -1 == twin_left[3]
    ok = np.array([k != 3 for k in range(lanes)])
    np.testing.assert_array_equal(left[ok], np.array(twin_left)[ok])
    np.testing.assert_array_equal(states[ok], np.array(twin_states, dtype=np.uint64)[ok])
    rows = np.arange(n_rows) % lanes != 3
    np.testing.assert_array_equal(out[rows], twin[rows])


def test_a_lane_ending_in_zero_is_refused(monkeypatch):
    codes = np.random.default_rng(8).integers(0, 6, size=(100, 3))
    spec, arrays, stream = _lane_file(codes, 6, monkeypatch, 40)
    offsets = arrays[_coding.CHUNKS]
    bad = stream.copy()
    bad[offsets[_coding.LANES + 2] - 1] = 0  # the last word of chunk 1's lane 1
    spec = dict(spec, stream_sha256=__import__("hashlib").sha256(bad.tobytes()).hexdigest())
    reader = _coding.CodedCodes(spec, dict(arrays), 6, codes.shape, codes.dtype,
                                lambda: _bytes_stream(bad))
    with pytest.raises(ValueError, match="chunk 1 is not a valid stream"):
        reader.decode()


@pytest.mark.parametrize("n_bits", [4, 8])
def test_lanes_payload_within_one_percent_on_real_data(n_bits, monkeypatch):
    """digits (115008 values, one chunk) written in 8 lanes (of 14376 values, the size
    the writer's threshold allows at the least): the streams are at most 1.01x the
    empirical entropy of the codes, and decode to them."""
    X = load_digits().data
    monkeypatch.setattr(_coding, "MIN_LANE_VALUES", X.size // _coding.LANES)
    q = UniformClipQuantizer(n_bits=n_bits).fit(X)
    codes = q.transform(X)
    # the rANS lanes: no feature under the adaptive model (its own stream)
    spec, arrays, stream = _coding.encode(codes, q.n_levels_, adaptive="off")
    assert spec["coder"] == _coding.CODER
    assert arrays[_coding.CHUNKS].size == _coding.LANES + 1
    entropy = _entropy_bits(codes).sum()
    assert entropy <= 32 * stream.size <= 1.01 * entropy
    reader = _coding.CodedCodes(spec, dict(arrays), q.n_levels_, codes.shape, codes.dtype,
                                lambda: _bytes_stream(stream))
    np.testing.assert_array_equal(reader.decode(), codes)
