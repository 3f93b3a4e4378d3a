"""The ``skquant`` command line: ``report``, ``encode`` and ``decode``.

Every error is one line on stderr, ``skquant: error: ...``, and a non-zero exit status
(2 for bad input or usage, 130 when interrupted, 1 for anything unexpected); never a
traceback.

No command destroys or drops data: an output is never one of the inputs (followed
through links), an existing output is replaced only with ``--force``, every output is
written to a new temporary file of its own beside it and renamed into place at the end
(on failure that file, and only it, is removed), and the readers never skip a value or
merge two columns: a missing or bad value is an error naming its line and column.

This module imports only the standard library when it is loaded, and the parser names
the quantizers without importing them, so ``skquant --help`` and ``--version`` start
fast; numpy and the estimators are imported by the commands that use them.
"""

import argparse
import os
import re
import sys
import warnings

from . import __version__

DATASETS = ("diabetes", "digits", "wine", "breast_cancer")
TABLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")
#: the names of ``skquant._report.default_quantizers()``, spelled out so that building
#: the parser imports no estimator (tests/test_cli.py checks that the two agree)
QUANTIZERS = ("lloyd-max", "optimal", "uniform-clip", "compander-mu-law",
              "compander-optimal")
#: values in one block of rows when data is checked, encoded, decoded or written
BLOCK_VALUES = 2**20


class CLIError(Exception):
    """An error reported to the user as one line, with exit status 2."""


# ------------------------------------------------------------------- messages
def _show(path):
    """``path`` as it goes into a message: as given, or quoted with escapes when it
    holds control characters or undecodable bytes (messages stay one line)."""
    text = os.fsdecode(os.fspath(path))
    return text if text.isprintable() else repr(text)


def _short(text, limit=40):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _column(j, names):
    return f"{j} ({_short(names[j])!r})" if names else str(j)


def _reason(exc):
    return exc.strerror or str(exc) or type(exc).__name__


def _print(text, file=None):
    """``print``, with characters the stream cannot encode written as escapes."""
    file = sys.stdout if file is None else file
    try:
        print(text, file=file)
    except UnicodeEncodeError:
        encoding = getattr(file, "encoding", None) or "ascii"
        print(text.encode(encoding, "backslashreplace").decode(encoding), file=file)


def _blocks(n_rows, n_columns):
    """``(start, stop)`` of the blocks of rows holding about ``BLOCK_VALUES`` values."""
    step = max(1, BLOCK_VALUES // max(n_columns, 1))
    return ((a, min(a + step, n_rows)) for a in range(0, n_rows, step))


# ---------------------------------------------------------------- reading data
def _check_input(path):
    """An input that exists, is a regular file and can be opened."""
    show = _show(path)
    if not os.path.exists(path):
        raise CLIError(f"no such file: {show}")
    if not os.path.isfile(path):
        raise CLIError(f"{show}: not a regular file")
    try:
        open(path, "rb").close()
    except OSError as exc:
        raise CLIError(f"cannot read {show}: {_reason(exc)}") from None


def _numeric(X, show):
    import numpy as np

    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{show}: expected numbers, got an array of dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise CLIError(f"{show}: expected a 2-D table, got {X.ndim} dimensions")
    return X


def _check_names(names, show):
    """Refuse repeated column names: a table keeps every column distinct."""
    where = {}
    for j, name in enumerate(names):
        where.setdefault(name, []).append(j)
    repeated = [(n, js) for n, js in where.items() if len(js) > 1]
    if repeated:
        listed = "; ".join(
            f"{_short(n)!r} (columns {', '.join(map(str, js[:5]))}{', ...' if len(js) > 5 else ''})"
            for n, js in repeated[:5]
        )
        raise CLIError(f"{show}: duplicate column names {listed}: names must be distinct")


def _read_npy(path, show):
    import struct

    import numpy as np

    with open(path, "rb") as f:  # numpy reads a declared header length in one read
        major, _ = np.lib.format.read_magic(f)
        size = 2 if major == 1 else 4
        (length,) = struct.unpack("<H" if size == 2 else "<I", f.read(size).ljust(size, b"\0"))
        if f.tell() + length > os.fstat(f.fileno()).st_size:
            raise CLIError(f"{show}: the .npy header declares {length} bytes, more than the "
                           "file holds: truncated or not a .npy file")
    # a memory map: large files are read block by block, never copied whole, and a
    # header declaring more data than the file holds fails before anything is allocated
    return np.lib.format.open_memmap(path, mode="r")


def _read_npz(path, show):
    import zipfile

    from ._io import HEADER, _Bad, _check_member, _read_array

    with zipfile.ZipFile(path) as zf:
        members = zf.namelist()
        size = zf.fp.seek(0, os.SEEK_END)
        try:  # STORED and DEFLATE only, declared sizes within DEFLATE's reach
            for info in zf.infolist():
                _check_member(info, size)
        except _Bad as exc:
            raise CLIError(f"{show}: {exc}") from None
        if HEADER in members:
            raise CLIError(f"{show}: this is a skquant encoded file; run 'skquant decode' on it")
        keys = [m[: -len(".npy")] for m in members if m.endswith(".npy")]
        if len(keys) == 1:
            key = keys[0]
        else:
            key = next((k for k in ("X", "data") if k in keys), None)
            if key is None:
                what = (
                    f"holds several arrays ({_short(', '.join(keys), 200)})"
                    if keys
                    else "holds no array"
                )
                raise CLIError(f"{show}: {what}; keep one, or name the table 'X' or 'data'")
        # checks the member's declared size against the archive before allocating it
        return _read_array(zf, key + ".npy")


_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


def _number(field):
    """The float a CSV field spells in ASCII (``1``, ``-2.5e3``, ``nan``), else None."""
    text = field.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def _read_csv(path, show):
    """A numeric CSV; the first row is a header if a field of it is text.

    Every value of every row is kept: an empty field, a short or long row or a blank
    line before the last row is an error naming its line and column. Blank lines at
    the end of the file are skipped.
    """
    import array
    import csv
    import math

    import numpy as np

    values = array.array("d")  # 8 bytes a value: at most 4 times the file's size
    names, d, blank, n = None, None, None, 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            for row in reader:
                line = reader.line_num
                if not row:
                    blank = line if blank is None else blank
                    continue
                where = f"line {line} (data row {n + 1})"
                if blank is not None:
                    raise CLIError(
                        f"{show}: line {blank} is empty: missing value in every column"
                        + (f", data row {n + 1}" if d is not None else "")
                    )
                if d is None:
                    d = len(row)
                    if any(field.strip() and _number(field) is None for field in row):
                        names = [field.strip() for field in row]
                        _check_names(names, show)
                        continue
                if len(row) != d:
                    missing = ""
                    if len(row) < d:
                        shown = range(len(row), min(d, len(row) + 3))
                        missing = (f": column(s) {', '.join(_column(j, names) for j in shown)}"
                                   f"{', ...' if d > len(row) + 3 else ''} missing")
                    raise CLIError(f"{show}: {where} has {len(row)} fields, expected {d}{missing}")
                text = "".join(row)
                try:  # the fast path: float() of plain ASCII numbers
                    vals = list(map(float, row)) if text.isascii() and "_" not in text else None
                except ValueError:
                    vals = None
                if vals is None:
                    vals = []
                    for j, field in enumerate(row):
                        v = _number(field)
                        if v is None:
                            what = ("missing value" if not field.strip()
                                    else f"non-numeric value {_short(field)!r}")
                            raise CLIError(f"{show}: {what} in column {_column(j, names)}, {where}")
                        vals.append(v)
                if not all(map(math.isfinite, vals)):
                    j = next(j for j, v in enumerate(vals) if not math.isfinite(v))
                    raise CLIError(f"{show}: non-finite value {_short(row[j].strip())!r} in "
                                   f"column {_column(j, names)}, {where}")
                values.extend(vals)
                n += 1
        except csv.Error as exc:
            raise CLIError(f"{show}: line {reader.line_num}: {exc}") from None
    if d is None:
        raise CLIError(f"{show}: empty file")
    X = np.frombuffer(values, dtype=np.float64).reshape(n, d) if n else np.empty((0, d))
    return X, names


def _read_parquet(path, show):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise CLIError('reading .parquet needs pyarrow: pip install "skquant[parquet]"') from None
    import numpy as np

    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    names = [str(n) for n in schema.names]
    if not names:
        raise CLIError(f"{show}: no columns")
    _check_names(names, show)
    for j, field in enumerate(schema):
        t = field.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
            raise CLIError(f"{show}: column {_column(j, names)} is not numeric ({t})")
    n = pf.metadata.num_rows
    declared = sum(pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups))
    if n < 0 or declared != n:
        raise CLIError(f"{show}: row groups declare {declared} rows, the file {n}")
    float32 = all(pa.types.is_float32(field.type) for field in schema)
    dtype = np.float32 if float32 else np.float64
    # the declared rows are allocated at once only when the file could hold them
    # at DEFLATE's ratio; more (a constant column, or forged metadata) are read a row
    # group at a time and joined once every group has been read and checked
    whole = n * len(names) * np.dtype(dtype).itemsize <= 1032 * os.path.getsize(path) + 2**22
    X = np.empty((n, len(names)), dtype=dtype) if whole else None
    parts, start = [], 0
    for g in range(pf.num_row_groups):  # one row group in memory at a time
        table = pf.read_row_group(g)
        stop = start + table.num_rows
        if stop > n:
            raise CLIError(f"{show}: row groups hold more rows than the {n} declared")
        part = X[start:stop] if whole else np.empty((stop - start, len(names)), dtype)
        for j, col in enumerate(table.columns):
            if col.null_count:
                i = int(np.flatnonzero(col.is_null().to_numpy())[0])
                raise CLIError(f"{show}: missing value (null) in column "
                               f"{_column(j, names)}, row {start + i + 1}")
            part[:, j] = col.to_numpy()
        parts.append(part)
        start = stop
    if start != n:
        raise CLIError(f"{show}: row groups hold {start} rows, the file declares {n}")
    if not whole:
        X = np.concatenate([np.empty((0, len(names)), dtype), *parts])
    return X, names


_READERS = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv, ".parquet": _read_parquet}


def _check_finite(X, show, names):
    """Name the first NaN or infinity, block by block (no copy of the table)."""
    import numpy as np

    for a, b in _blocks(*X.shape):
        bad = ~np.isfinite(X[a:b])
        if bad.any():
            i, j = (int(k) for k in np.argwhere(bad)[0])
            raise CLIError(f"{show}: non-finite value {float(X[a + i, j])!r} in column "
                           f"{_column(j, names)}, row {a + i + 1}: every value must be finite")


def read_table(path):
    """Read DATA: returns ``(X, names)``, X 2-D float32 or float64, names a list or None.

    A ``.npy`` file is memory-mapped (float32 and float64 arrays are not copied).
    Any content gives a table or a :class:`CLIError`.
    """
    import numpy as np

    show = _show(path)
    _check_input(path)
    suffix = os.path.splitext(os.fspath(path))[1]
    reader = _READERS.get(suffix.lower())
    if reader is None:
        raise CLIError(f"{show}: unsupported file type {suffix!r}: use {', '.join(TABLE_SUFFIXES)}")
    names = None
    try:
        X = reader(path, show)
        if isinstance(X, tuple):
            X, names = X
    except CLIError:
        raise
    except MemoryError:
        raise CLIError(f"not enough memory to read {show}") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read {show}: {' '.join(str(exc).split())}") from None
    except Exception as exc:  # e.g. pyarrow's own errors, a zip that is not an npz
        text = " ".join(str(exc).split())
        raise CLIError(f"cannot read {show}: {type(exc).__name__}: {text}") from None
    X = _numeric(X, show)
    if X.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        X = X.astype(np.float64)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise CLIError(f"{show}: no data ({X.shape[0]} rows x {X.shape[1]} columns)")
    _check_finite(X, show, names)
    return X, names


def _load(path, dataset):
    if path is None:
        from sklearn import datasets

        data = getattr(datasets, f"load_{dataset}")()
        return data.data, list(data.feature_names), f"scikit-learn's bundled {dataset} data"
    X, names = read_table(path)
    return X, names, _show(path)


_INDEX = re.compile(r"-?[0-9]+")


def _select(X, names, columns):
    """The columns ``columns`` (indices or names, each once) of X, in that order."""
    if not columns:
        return X, names
    d = X.shape[1]
    lookup = {name: j for j, name in enumerate(names)} if names else {}
    idx, chosen = [], {}
    for c in columns:
        text = c.strip()
        if _INDEX.fullmatch(text):  # ASCII digits only: int() also reads '١٢' and '¹'
            j = int(text) if len(text) <= 18 else None
            if j is None or not -d <= j < d:
                raise CLIError(f"--columns: column {_short(text)} out of range for {d} columns")
            j %= d
        elif c in lookup:
            j = lookup[c]
        else:
            known = ""
            if names:
                known = f"; columns are {', '.join(_short(n) for n in names[:10])}"
                known += f", ... ({d} in all)" if d > 10 else ""
            hint = " (column indices are written in ASCII digits)" if text.isdigit() else ""
            raise CLIError(f"--columns: unknown column {_short(c)!r}{hint}{known}")
        if j in chosen:
            raise CLIError(f"--columns: column {_column(j, names)} is given twice "
                           f"({_short(chosen[j])!r} and {_short(c)!r})")
        chosen[j] = c
        idx.append(j)
    if idx == list(range(d)):
        return X, names
    return X[:, idx], [names[j] for j in idx] if names is not None else None


# --------------------------------------------------------------------- output
class _Output:
    """An output file: checked when made, written by :meth:`write`.

    The checks refuse a directory, a missing directory, a file that is one of
    ``inputs`` (followed through symbolic and hard links) and, without ``force``, any
    existing file. :meth:`write` fills a new temporary file of its own in the output's
    directory and renames it into place; on any failure it removes that file only.
    """

    def __init__(self, path, inputs=(), force=False):
        self.path = os.fspath(path)
        self.show = _show(path)
        self.force = force
        show = self.show
        if not self.path:
            raise CLIError("the output file name is empty")
        if os.path.isdir(self.path):
            raise CLIError(f"cannot write {show}: it is a directory")
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise CLIError(f"cannot write {show}: no such directory {_show(parent)}")
        for source in inputs:
            if source is not None and _same_file(self.path, source):
                raise CLIError(f"refusing to write {show}: it is the input {_show(source)}; "
                               "give another output file")
        if os.path.lexists(self.path):
            if os.path.exists(self.path) and not os.path.isfile(self.path):
                raise CLIError(f"refusing to write {show}: it exists and is not a regular file")
            if not force:
                raise CLIError(f"{show} exists; give --force to replace it")

    def write(self, fill):
        """``fill(tmp)`` writes the content to the path ``tmp``; then it becomes the output."""
        import tempfile

        head, name = os.path.split(os.path.abspath(self.path))
        suffix = os.path.splitext(name)[1][:16]
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name[:64]}.", suffix=f".part{suffix}", dir=head)
            os.close(fd)
        except OSError as exc:
            raise CLIError(f"cannot write {self.show}: {_reason(exc)}") from None
        try:
            fill(tmp)
            self._publish(tmp)
        except OSError as exc:
            raise CLIError(f"cannot write {self.show}: {_reason(exc)}") from None
        finally:
            if os.path.lexists(tmp):  # the temporary file made above, nothing else
                os.unlink(tmp)

    def _publish(self, tmp):
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # the mode of a file the user creates (mkstemp: 0600)
        if self.force:
            os.replace(tmp, self.path)
            return
        appeared = CLIError(f"{self.show} was created while skquant ran; not replaced "
                            "(give --force to replace it)")
        try:
            os.link(tmp, self.path)  # never replaces a file that appeared meanwhile
        except FileExistsError:
            raise appeared from None
        except OSError:  # a file system without hard links
            if os.path.lexists(self.path):
                raise appeared from None
            os.replace(tmp, self.path)


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _npy_header(f, shape, dtype):
    import numpy as np

    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(f, header)  # what np.save writes


def _write_table(path, suffix, blocks, shape, dtype, names):
    """Write the rows of ``blocks`` (2-D arrays, in order) as ``suffix`` to ``path``."""
    import numpy as np

    if suffix == ".npy":
        with open(path, "wb") as f:
            _npy_header(f, shape, dtype)
            for block in blocks:
                f.write(np.ascontiguousarray(block, dtype=dtype).data)
    elif suffix == ".npz":
        import zipfile

        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            with zf.open("X.npy", "w", force_zip64=True) as f:  # as np.savez(X=...)
                _npy_header(f, shape, dtype)
                for block in blocks:
                    f.write(np.ascontiguousarray(block, dtype=dtype).data)
    elif suffix == ".csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as f:
            if names is not None:
                csv.writer(f, lineterminator="\n").writerow(names)
            for block in blocks:
                # repr of a Python float is the shortest string that reads back exactly
                f.writelines(",".join(map(repr, row)) + "\n" for row in block.tolist())
    else:  # .parquet, one row group per block
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = names or [f"x{j}" for j in range(shape[1])]
        schema = pa.schema([(n, pa.from_numpy_dtype(dtype)) for n in names])
        with pq.ParquetWriter(path, schema) as writer:
            for block in blocks:
                writer.write_table(pa.Table.from_arrays(
                    [pa.array(block[:, j]) for j in range(shape[1])], schema=schema))


def _check_output_type(path, names):
    """The suffix of a table output, after checking its names can be written."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    show = _show(path)
    if suffix not in TABLE_SUFFIXES:
        raise CLIError(
            f"{show}: unsupported output type {suffix!r}: use {', '.join(TABLE_SUFFIXES)}"
        )
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CLIError(
                'writing .parquet needs pyarrow: pip install "skquant[parquet]"'
            ) from None
    if names is not None and suffix in (".csv", ".parquet"):
        _check_names(names, "the encoded file")
        if suffix == ".csv" and not any(n.strip() and _number(n) is None for n in names):
            raise CLIError(
                f"cannot write {show}: the column names are all numbers or empty, and a "
                "CSV header without text reads back as a data row; decode to .npy, .npz "
                "or .parquet"
            )
    return suffix


# ------------------------------------------------------------------- progress
class Progress:
    """A one-line progress bar on ``stream``, drawn only when it is a terminal."""

    def __init__(self, stream=None, width=30):
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self._drawn = 0

    def __call__(self, done, total, label=""):
        if not self.enabled:
            return
        fill = self.width * done // max(total, 1)
        text = f"\r[{'#' * fill}{'.' * (self.width - fill)}] {done}/{total} {label}"
        self.stream.write(text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def close(self):
        if self.enabled and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


# ------------------------------------------------------------ argument types
#: any integer of more digits than this is beyond every limit below
_MAX_DIGITS = 9


def _ascii_int(text):
    """An int written in ASCII digits (``int()`` alone also takes other scripts'
    digits); numbers of more than 9 digits give 10**9, beyond every limit here, so
    that no argument is expanded before its bounds are checked."""
    text = text.strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(text)
    text = text.lstrip("0") or "0"
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _bits(text):
    try:
        lo, _, hi = text.partition("-")
        lo, hi = _ascii_int(lo), _ascii_int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bits must look like 3 or 1-8, got {_short(text)!r}")
    if not 1 <= lo <= hi <= 16:
        raise argparse.ArgumentTypeError(f"bits must be within 1-16, got {_short(text)!r}")
    return list(range(lo, hi + 1))


_MAX_LEVEL_VALUES = 1000


def _levels(text):
    """Numbers of levels: ``5``, ``3-9`` or ``3,5,10`` (each once, in the order given)."""
    form = (f"levels must look like 5, 3-9 or 3,5,10 (2 to 65536, at most "
            f"{_MAX_LEVEL_VALUES} values), got {_short(text)!r}")
    try:
        if "," in text:
            parts = text.split(",", _MAX_LEVEL_VALUES)
            if len(parts) > _MAX_LEVEL_VALUES:
                raise ValueError(text)
            lo = hi = None
            levels = [_ascii_int(t) for t in parts]
        else:
            lo, _, hi = text.partition("-")
            lo, hi = _ascii_int(lo), _ascii_int(hi or lo)
            levels = None
    except ValueError:
        raise argparse.ArgumentTypeError(form) from None
    if levels is None:
        if not 2 <= lo <= hi <= 65536:
            raise argparse.ArgumentTypeError(f"levels must be within 2-65536, got {_short(text)!r}")
        if hi - lo >= _MAX_LEVEL_VALUES:
            raise argparse.ArgumentTypeError(
                f"at most {_MAX_LEVEL_VALUES} numbers of levels, got {_short(text)!r}")
        return list(range(lo, hi + 1))
    if min(levels) < 2 or max(levels) > 65536:
        raise argparse.ArgumentTypeError(f"levels must be within 2-65536, got {_short(text)!r}")
    return list(dict.fromkeys(levels))


def _one_level(text):
    levels = _levels(text)
    if len(levels) != 1:
        raise argparse.ArgumentTypeError(f"--levels takes one number here, got {_short(text)!r}")
    return levels[0]


def _one_bits(text):
    bits = _bits(text)
    if len(bits) != 1:
        raise argparse.ArgumentTypeError(f"--bits takes one width here, got {_short(text)!r}")
    return bits[0]


def _quantizer_name(text):
    if text not in QUANTIZERS:
        raise argparse.ArgumentTypeError(
            f"unknown quantizer {_short(text)!r}: choose from {', '.join(QUANTIZERS)}")
    return text


def _quantizers(selected=None):
    from ._report import default_quantizers

    available = default_quantizers()
    if not selected:
        return available
    return {s: available[s] for s in dict.fromkeys(selected)}


# ------------------------------------------------------------------- commands
def _report(args):
    from ._display import plot_table
    from ._report import format_table, rate_distortion_table

    if args.data is not None:
        _check_input(args.data)
    plot = None
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError('--plot needs matplotlib: pip install "skquant[plot]"') from None
        plot = _Output(args.plot, [args.data], args.force)
    X, names, source = _load(args.data, args.dataset)
    X, names = _select(X, names, args.columns)
    quantizers = _quantizers(args.quantizer)
    _print(f"# {source}: {X.shape[0]} rows x {X.shape[1]} columns")
    progress = Progress()
    try:
        rows = rate_distortion_table(
            X, quantizers, bits=args.bits, levels=args.levels, progress=progress
        )
    finally:
        progress.close()
    _print(format_table(rows))
    _print("# MSE: mean over all values. SQNR: -10 log10(mean over columns of MSE/variance).")
    _print("# entropy: empirical entropy of the codes, bits/value. coded: bits/value of the "
           "entropy-coded codes, as written (per column its table, flat or adaptive model).")
    _print("# packed: codes at ceil(log2 levels) bits/value. file: skquant encode --coding "
           "packed output. "
           "ratio: float64 size / file.")
    if plot is not None:
        plot.write(lambda tmp: plot_table(rows, X, tmp, rate=args.rate))
        _print(f"# plot written to {plot.show}")


def _encode_blocks(est, X, progress):
    """The codes of X, transformed block by block, and the error of their
    reconstruction: ``(codes, mse, nmse)`` (nmse as :func:`skquant.metrics.normalized_mse`)."""
    import numpy as np

    n, d = X.shape
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.zeros(d)
        for a, b in _blocks(n, d):
            total += X[a:b].sum(axis=0, dtype=np.float64)
        mean = total / n
        sse, ssd, codes = np.zeros(d), np.zeros(d), None
        for a, b in _blocks(n, d):
            block = X[a:b]
            c = est.transform(block)
            if codes is None:
                codes = np.empty((n, d), dtype=c.dtype)
            codes[a:b] = c
            x = block.astype(np.float64)
            sse += ((x - est.inverse_transform(c)) ** 2).sum(axis=0)
            ssd += ((x - mean) ** 2).sum(axis=0)
            progress(b, n, "encoding rows")
        err, var = sse / n, ssd / n
        nmse = np.where(var > 0, err / np.where(var > 0, var, 1.0), np.where(err > 0, np.inf, 0.0))
    return codes, float(sse.sum() / X.size), float(nmse.mean())


def _encode(args):
    import numpy as np

    from ._base import fit_progress
    from ._io import write
    from ._report import sqnr_from_nmse

    _check_input(args.data)
    if args.coding == "entropy":  # before any work: the coder is an optional extra
        from ._coding import _constriction

        try:
            _constriction()
        except ImportError as exc:
            raise CLIError(str(exc)) from None
    out = _Output(args.output, [args.data], args.force)
    X, names = read_table(args.data)
    X, names = _select(X, names, args.columns)
    (name, template), = _quantizers([args.quantizer]).items()
    est = template.set_params(n_bits=args.bits, n_levels=args.levels)
    progress = Progress()
    try:
        token = fit_progress.set(
            lambda done, total: progress(done, total, f"fitting {name}: columns")
        )
        try:
            est.fit(X)
        finally:
            fit_progress.reset(token)
        codes, mse, nmse = _encode_blocks(est, X, progress)
        progress(0, 1, f"writing {out.show}")

        def fill(tmp):
            with open(tmp, "wb") as f:
                write(f, est, codes=codes, columns=names, coding=args.coding)

        out.write(fill)
        progress(1, 1, f"writing {out.show}")
    finally:
        progress.close()
    size = os.stat(out.path).st_size
    raw = X.size * X.dtype.itemsize
    what = f"{args.bits} bits" if args.levels is None else f"{args.levels} levels"
    _print(
        f"wrote {out.show}: {X.shape[0]} x {X.shape[1]} values, {name} at {what}, "
        f"{args.coding} codes: "
        f"{size} bytes, {_ratio_words(size, raw)} the {raw} bytes of {np.dtype(X.dtype)}; "
        f"MSE {mse:.4g}, SQNR {sqnr_from_nmse(nmse):.2f} dB (-10 log10 of the mean of "
        "MSE/variance)"
    )


def _ratio_words(size, raw):
    """``"10.5x smaller than"``, or ``"1.7x larger than"`` for a file bigger than its data."""
    if size <= raw:
        return f"{raw / size:.1f}x smaller than"
    return f"{size / raw:.1f}x larger than"


def _decode(args):
    from ._io import read

    _check_input(args.file)
    suffix = _check_output_type(args.output, None)
    out = _Output(args.output, [args.file], args.force)
    try:
        # entropy-coded codes are decoded chunk by chunk, as the blocks are written
        enc = read(args.file, stream=True)
    except FileNotFoundError:
        raise CLIError(f"no such file: {_show(args.file)}") from None
    except ValueError as exc:
        raise CLIError(" ".join(str(exc).split())) from None
    if enc.shape is None:
        raise CLIError(f"{_show(args.file)}: holds an estimator but no codes (written by "
                       "skquant.save); nothing to decode")
    _check_output_type(args.output, enc.columns)
    est, (n, d), dtype = enc.estimator, enc.shape, enc.data_dtype
    progress = Progress()

    def blocks():
        for first, codes in enc.blocks(BLOCK_VALUES):
            yield est.inverse_transform(codes).astype(dtype, copy=False)
            progress(first + codes.shape[0], n, f"writing {out.show}")

    try:
        out.write(lambda tmp: _write_table(tmp, suffix, blocks(), (n, d), dtype, enc.columns))
    except ValueError as exc:  # a damaged stream, found while decoding
        raise CLIError(" ".join(str(exc).split())) from None
    finally:
        progress.close()
    _print(f"wrote {out.show}: {n} x {d} values ({dtype})")


# ----------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _parser():
    names = ", ".join(QUANTIZERS)
    parser = _Parser(
        prog="skquant",
        description="Scalar quantizers: rate-distortion reports, compressed files.",
    )
    parser.add_argument("--version", action="version", version=f"skquant {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    force = "replace OUT if it exists (never an input)"
    rep = sub.add_parser(
        "report", help="fit the quantizers at several bit widths and print a "
                       "rate-distortion table",
        description="Fit every quantizer at each bit width on each column and print "
                    "MSE, SQNR, code entropy and compressed sizes.",
    )
    rep.add_argument("data", nargs="?",
                     help=".npy, .npz, .csv (header kept as names) or .parquet; "
                          "a bundled scikit-learn dataset when omitted")
    rep.add_argument("--dataset", choices=DATASETS, default="diabetes",
                     help="bundled dataset used when no DATA is given (default: diabetes)")
    sizes = rep.add_mutually_exclusive_group()
    sizes.add_argument("--bits", type=_bits, default=list(range(1, 9)),
                       help="bit widths, e.g. 4 or 1-8 (default: 1-8)")
    sizes.add_argument("--levels", type=_levels, default=None,
                       help="numbers of levels instead, e.g. 3-9 or 3,5,10")
    rep.add_argument("--columns", nargs="+", metavar="COL",
                     help="column indices or names to keep, each once")
    rep.add_argument("--quantizer", nargs="+", metavar="NAME", type=_quantizer_name,
                     help=f"quantizers to compare, of {names} (default: all)")
    rep.add_argument("--plot", metavar="FILE.png",
                     help="also draw MSE versus bits with the Panter-Dite line")
    rep.add_argument("--rate", choices=("fixed", "entropy"), default="fixed",
                     help="the plot's bits per value: packed codes (fixed), or what the "
                          "entropy-coded file spends (entropy)")
    rep.add_argument("--force", action="store_true",
                     help="replace the --plot file if it exists (never an input)")
    rep.set_defaults(run=_report)

    enc = sub.add_parser(
        "encode", help="fit a quantizer and write the entropy-coded (or bit-packed) codes",
        description="Fit, quantize and write a compressed skquant file (codebook, "
                    "codes entropy-coded or bit-packed, column names).",
    )
    enc.add_argument("data", help=".npy, .npz, .csv or .parquet")
    enc.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="file to write (not an existing one, without --force)")
    enc.add_argument("--quantizer", default="lloyd-max", metavar="NAME", type=_quantizer_name,
                     help=f"one of {names} (default: lloyd-max)")
    sizes = enc.add_mutually_exclusive_group(required=True)
    sizes.add_argument("--bits", type=_one_bits, metavar="B", help="bits per value, 1-16")
    sizes.add_argument("--levels", type=_one_level, metavar="K",
                       help="number of levels per value, 2-65536 (instead of --bits)")
    enc.add_argument("--columns", nargs="+", metavar="COL",
                     help="column indices or names to keep, each once")
    enc.add_argument("--coding", choices=("entropy", "packed"), default="entropy",
                     help="entropy: rANS per column, about the codes' entropy in bits "
                          "(needs constriction); packed: ceil(log2 levels) bits per value, "
                          "DEFLATEd (default: entropy)")
    enc.add_argument("--force", action="store_true", help=force)
    enc.set_defaults(run=_encode)

    dec = sub.add_parser(
        "decode", help="reconstruct the values of an encoded file",
        description="Write the reconstruction (the quantizer's inverse_transform of the "
                    "stored codes) as .csv, .npy, .npz or .parquet.",
    )
    dec.add_argument("file", help="a file written by 'skquant encode'")
    dec.add_argument("-o", "--output", required=True, metavar="RECON",
                     help="file to write (not an existing one, without --force)")
    dec.add_argument("--force", action="store_true", help=force.replace("OUT", "RECON"))
    dec.set_defaults(run=_decode)
    return parser


def _warn_one_line(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    _print(f"skquant: warning: {text}", file=sys.stderr)


def _error(text):
    _print(f"skquant: error: {' '.join(str(text).split())}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status."""
    with warnings.catch_warnings():
        warnings.showwarning = _warn_one_line
        try:
            try:
                args = _parser().parse_args(argv)
            except SystemExit as exc:  # --help, --version
                sys.stdout.flush()
                return exc.code if isinstance(exc.code, int) else 0
            args.run(args)
            sys.stdout.flush()  # a closed pipe fails here, not at exit
        except CLIError as exc:
            _error(exc)
            return 2
        except KeyboardInterrupt:
            _error("interrupted")
            return 130
        except BrokenPipeError:  # e.g. "skquant report | head": stop quietly, like cat
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except MemoryError:
            _error("not enough memory")
            return 1
        except Exception as exc:  # one line, never a traceback
            _error(str(exc) or type(exc).__name__)
            return 1
    return 0
