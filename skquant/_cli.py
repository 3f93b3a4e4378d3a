"""The ``skquant`` command line: ``report``, ``encode`` and ``decode``.

Every error is one line on stderr, ``skquant: error: ...``, and a non-zero exit status
(2 for bad input or usage, 1 for anything unexpected); never a traceback.
"""

import argparse
import csv
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np

DATASETS = ("diabetes", "digits", "wine", "breast_cancer")
TABLE_SUFFIXES = (".npy", ".npz", ".csv", ".parquet")


class CLIError(Exception):
    """An error reported to the user as one line, with exit status 2."""


# ---------------------------------------------------------------- reading data
def _numeric(X, path):
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise CLIError(f"{path}: expected numbers, got an array of dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise CLIError(f"{path}: expected a 2-D table, got {X.ndim} dimensions")
    return X


def _read_npz(p):
    import zipfile

    with zipfile.ZipFile(p) as zf:
        if "header.json" in zf.namelist():
            raise CLIError(f"{p}: this is a skquant encoded file; run 'skquant decode' on it")
    with np.load(p, allow_pickle=False) as npz:
        keys = list(npz.files)
        if len(keys) == 1:
            key = keys[0]
        else:
            key = next((k for k in ("X", "data") if k in keys), None)
            if key is None:
                raise CLIError(
                    f"{p}: holds several arrays ({', '.join(keys)}); keep one, or name "
                    "the table 'X' or 'data'"
                )
        return npz[key]


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(p):
    """A numeric CSV; the first row is a header unless every field in it is a number."""
    with open(p, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f) if row and any(field.strip() for field in row)]
    if not rows:
        raise CLIError(f"{p}: empty file")
    names = None
    start = 0
    if not all(_is_number(field) for field in rows[0]):
        names = [field.strip() for field in rows[0]]
        start = 1
    d = len(rows[0])
    X = np.empty((len(rows) - start, d))
    for i, row in enumerate(rows[start:]):
        if len(row) != d:
            raise CLIError(f"{p}: data row {i + 1} has {len(row)} fields, expected {d}")
        for j, field in enumerate(row):
            try:
                X[i, j] = float(field)
            except ValueError:
                col = f"{j} ({names[j]!r})" if names else str(j)
                what = "missing value" if not field.strip() else f"non-numeric value {field!r}"
                raise CLIError(f"{p}: {what} in column {col}, data row {i + 1}") from None
    return X, names


def _read_parquet(p):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise CLIError('reading .parquet needs pyarrow: pip install "skquant[parquet]"') from None
    table = pq.read_table(p)
    columns = []
    for name, col in zip(table.column_names, table.columns):
        values = col.to_numpy(zero_copy_only=False)
        if values.dtype.kind not in "biuf":
            raise CLIError(f"{p}: column {name!r} is not numeric ({col.type})")
        columns.append(values)
    if not columns:
        raise CLIError(f"{p}: no columns")
    return np.column_stack(columns), [str(n) for n in table.column_names]


def read_table(path):
    """Read DATA: returns ``(X, names)``, X 2-D float32 or float64, names a list or None."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = p.suffix.lower()
    names = None
    try:
        if suffix == ".npy":
            X = np.load(p, allow_pickle=False)
        elif suffix == ".npz":
            X = _read_npz(p)
        elif suffix == ".csv":
            X, names = _read_csv(p)
        elif suffix == ".parquet":
            X, names = _read_parquet(p)
        else:
            raise CLIError(
                f"unsupported file type {p.suffix!r}: use {', '.join(TABLE_SUFFIXES)}"
            )
    except CLIError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # e.g. pyarrow's own errors, a zip that is not an npz
        raise CLIError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None
    X = _numeric(X, path)
    X = X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise CLIError(f"{path}: no data ({X.shape[0]} rows x {X.shape[1]} columns)")
    if not np.isfinite(X).all():
        cols = np.flatnonzero(~np.isfinite(X).all(axis=0)).tolist()
        raise CLIError(f"{path}: NaN, inf or non-numeric values in column(s) {cols}")
    return X, names


def _load(path, dataset):
    if path is None:
        from sklearn import datasets

        data = getattr(datasets, f"load_{dataset}")()
        return data.data, list(data.feature_names), f"scikit-learn's bundled {dataset} data"
    X, names = read_table(path)
    return X, names, str(path)


def _select(X, names, columns):
    if not columns:
        return X, names
    idx = []
    for c in columns:
        if c.lstrip("-").isdigit():
            j = int(c)
            if not -X.shape[1] <= j < X.shape[1]:
                raise CLIError(f"column {j} out of range for {X.shape[1]} columns")
            idx.append(j % X.shape[1])
        elif names is not None and c in names:
            idx.append(names.index(c))
        else:
            known = f"; columns are {', '.join(names)}" if names else ""
            raise CLIError(f"unknown column {c!r}{known}")
    return X[:, idx], [names[j] for j in idx] if names is not None else None


def _write_table(path, X, names):
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        with open(p, "wb") as f:
            np.save(f, X, allow_pickle=False)
    elif suffix == ".npz":
        with open(p, "wb") as f:
            np.savez(f, X=X)
    elif suffix == ".csv":
        with open(p, "w", newline="", encoding="utf-8") as f:
            if names is not None:
                csv.writer(f, lineterminator="\n").writerow(names)
            # repr of a Python float is the shortest string that reads back exactly
            f.writelines(",".join(map(repr, row)) + "\n" for row in X.tolist())
    elif suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise CLIError('writing .parquet needs pyarrow: pip install "skquant[parquet]"') from None
        names = names or [f"x{j}" for j in range(X.shape[1])]
        pq.write_table(pa.table({n: X[:, j] for j, n in enumerate(names)}), p)
    else:
        raise CLIError(f"unsupported output type {p.suffix!r}: use {', '.join(TABLE_SUFFIXES)}")


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


# ------------------------------------------------------------------- commands
def _ascii_int(text):
    """An int written in ASCII digits (``int()`` alone also takes other scripts' digits)."""
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise ValueError(text)
    return int(text)


def _bits(text):
    try:
        lo, _, hi = text.partition("-")
        lo, hi = _ascii_int(lo), _ascii_int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bits must look like 3 or 1-8, got {text!r}")
    if not 1 <= lo <= hi <= 16:
        raise argparse.ArgumentTypeError(f"bits must be within 1-16, got {text!r}")
    return list(range(lo, hi + 1))


def _levels(text):
    """Numbers of levels: ``5``, ``3-9`` or ``3,5,10``."""
    try:
        if "," in text:
            parts = text.split(",")
            if len(parts) > 1000:
                raise ValueError(text)
            levels = [_ascii_int(t) for t in parts]
        else:
            lo, _, hi = text.partition("-")
            lo, hi = _ascii_int(lo), _ascii_int(hi or lo)
            if not 2 <= lo <= hi <= 65536 or hi - lo >= 1000:
                raise ValueError(text)
            levels = list(range(lo, hi + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"levels must look like 5, 3-9 or 3,5,10 (2 to 65536, at most 1000 "
            f"values), got {text!r}"
        )
    if min(levels) < 2 or max(levels) > 65536:
        raise argparse.ArgumentTypeError(f"levels must be within 2-65536, got {text!r}")
    return levels


def _one_level(text):
    levels = _levels(text)
    if len(levels) != 1:
        raise argparse.ArgumentTypeError(f"--levels takes one number here, got {text!r}")
    return levels[0]


def _one_bits(text):
    bits = _bits(text)
    if len(bits) != 1:
        raise argparse.ArgumentTypeError(f"--bits takes one width here, got {text!r}")
    return bits[0]


def _quantizers(selected=None):
    from ._report import default_quantizers

    available = default_quantizers()
    if not selected:
        return available
    unknown = [s for s in selected if s not in available]
    if unknown:
        raise CLIError(
            f"unknown quantizer {unknown[0]!r}: choose from {', '.join(available)}"
        )
    return {s: available[s] for s in selected}


def _report(args):
    from ._display import plot_table
    from ._report import format_table, rate_distortion_table

    X, names, source = _load(args.data, args.dataset)
    X, names = _select(X, names, args.columns)
    quantizers = _quantizers(args.quantizer)
    if args.plot is not None:
        _check_plot_path(args.plot)
    print(f"# {source}: {X.shape[0]} rows x {X.shape[1]} columns")
    progress = Progress()
    try:
        rows = rate_distortion_table(
            X, quantizers, bits=args.bits, levels=args.levels, progress=progress
        )
    finally:
        progress.close()
    print(format_table(rows))
    print("# MSE: mean over all values. SQNR: -10 log10(mean over columns of MSE/variance).")
    print("# entropy: bits/value of the codes. packed: codes at ceil(log2 levels) bits/value. "
          "file: skquant encode output. ratio: float64 size / file.")
    if args.plot is not None:
        plot_table(rows, X, args.plot)
        print(f"# plot written to {args.plot}")


def _check_plot_path(path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError('--plot needs matplotlib: pip install "skquant[plot]"') from None
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise CLIError(f"cannot write {path}: no such directory {parent}")


def _encode(args):
    from ._io import write
    from ._report import sqnr_from_nmse
    from .metrics import normalized_mse

    X, names = read_table(args.data)
    X, names = _select(X, names, args.columns)
    (name, template), = _quantizers([args.quantizer]).items()
    if (args.bits is None) == (args.levels is None):
        raise CLIError("give --bits B or --levels K (one of them)")
    est = template.set_params(n_bits=args.bits, n_levels=args.levels)
    codes = est.fit(X).transform(X)
    X_hat = est.inverse_transform(codes)
    out = Path(args.output)
    tmp = out.with_name(out.name + ".part")
    try:
        write(tmp, est, codes=codes, columns=names)
        os.replace(tmp, out)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    size = out.stat().st_size
    raw = X.size * X.dtype.itemsize
    what = f"{args.bits} bits" if args.levels is None else f"{args.levels} levels"
    mse = float(((X.astype(np.float64) - X_hat) ** 2).mean())
    sqnr = sqnr_from_nmse(normalized_mse(X, X_hat))
    print(
        f"wrote {out}: {X.shape[0]} x {X.shape[1]} values, {name} at {what}: "
        f"{size} bytes, {raw / size:.1f}x smaller than the {raw} bytes of {X.dtype}; "
        f"MSE {mse:.4g}, SQNR {sqnr:.2f} dB (-10 log10 of the mean of MSE/variance)"
    )


def _decode(args):
    from ._io import read

    try:
        enc = read(args.file)
    except FileNotFoundError:
        raise CLIError(f"no such file: {args.file}") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if enc.codes is None:
        raise CLIError(f"{args.file}: holds an estimator but no codes (written by "
                       "skquant.save); nothing to decode")
    X_hat = enc.estimator.inverse_transform(enc.codes)
    try:
        _write_table(args.output, X_hat, enc.columns)
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}: {X_hat.shape[0]} x {X_hat.shape[1]} values ({X_hat.dtype})")


# ----------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _parser():
    from ._report import default_quantizers

    names = ", ".join(default_quantizers())
    parser = _Parser(
        prog="skquant",
        description="Scalar quantizers: rate-distortion reports, compressed files.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
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
                     help="column indices or names to keep")
    rep.add_argument("--quantizer", nargs="+", metavar="NAME",
                     help=f"quantizers to compare, of {names} (default: all)")
    rep.add_argument("--plot", metavar="FILE.png",
                     help="also draw MSE versus bits with the Panter-Dite line")
    rep.set_defaults(run=_report)

    enc = sub.add_parser(
        "encode", help="fit a quantizer and write the bit-packed codes",
        description="Fit, quantize and write a compressed skquant file (codebook, "
                    "codes bit-packed at --bits per value, column names).",
    )
    enc.add_argument("data", help=".npy, .npz, .csv or .parquet")
    enc.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    enc.add_argument("--quantizer", default="lloyd-max", metavar="NAME",
                     help=f"one of {names} (default: lloyd-max)")
    sizes = enc.add_mutually_exclusive_group(required=True)
    sizes.add_argument("--bits", type=_one_bits, metavar="B", help="bits per value, 1-16")
    sizes.add_argument("--levels", type=_one_level, metavar="K",
                       help="number of levels per value, 2-65536 (instead of --bits)")
    enc.add_argument("--columns", nargs="+", metavar="COL",
                     help="column indices or names to keep")
    enc.set_defaults(run=_encode)

    dec = sub.add_parser(
        "decode", help="reconstruct the values of an encoded file",
        description="Write the reconstruction (the quantizer's inverse_transform of the "
                    "stored codes) as .csv, .npy, .npz or .parquet.",
    )
    dec.add_argument("file", help="a file written by 'skquant encode'")
    dec.add_argument("-o", "--output", required=True, metavar="RECON", help="file to write")
    dec.set_defaults(run=_decode)
    return parser


def _warn_one_line(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    print(f"skquant: warning: {text}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except CLIError as exc:
        print(f"skquant: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    with warnings.catch_warnings():
        warnings.showwarning = _warn_one_line
        try:
            args.run(args)
        except CLIError as exc:
            print(f"skquant: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("skquant: error: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. "skquant report | head": stop quietly, like cat
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except Exception as exc:  # one line, never a traceback
            text = " ".join(str(exc).split()) or type(exc).__name__
            print(f"skquant: error: {text}", file=sys.stderr)
            return 1
    return 0
