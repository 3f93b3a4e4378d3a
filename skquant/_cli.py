"""The ``skquant`` command line."""

import argparse
import sys
from pathlib import Path

import numpy as np

DATASETS = ("diabetes", "digits", "wine", "breast_cancer")


class CLIError(Exception):
    """An error reported to the user as one line, with exit status 2."""


def _load(path, dataset):
    if path is None:
        from sklearn import datasets

        data = getattr(datasets, f"load_{dataset}")()
        return data.data, f"scikit-learn's bundled {dataset} data"
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        if p.suffix == ".npy":
            X = np.load(p, allow_pickle=False)
        elif p.suffix == ".csv":
            X = np.genfromtxt(p, delimiter=",", names=None, skip_header=1)
        else:
            raise CLIError(f"unsupported file type {p.suffix!r}: use .npy or .csv")
    except ValueError as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if X.ndim != 2:
        raise CLIError(f"{path}: expected a 2-D table, got {X.ndim} dimensions")
    if not np.isfinite(X).all():
        cols = np.flatnonzero(~np.isfinite(X).all(axis=0)).tolist()
        raise CLIError(f"{path}: NaN, inf or non-numeric values in column(s) {cols}")
    return X, str(path)


def _bits(text):
    try:
        lo, _, hi = text.partition("-")
        bits = list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bits must look like 3 or 1-8, got {text!r}")
    if not bits or bits[0] < 1 or bits[-1] > 16:
        raise argparse.ArgumentTypeError(f"bits must be within 1-16, got {text!r}")
    return bits


def _report(args):
    from ._report import format_table, rate_distortion_table

    X, source = _load(args.data, args.dataset)
    if args.columns:
        try:
            X = X[:, args.columns]
        except IndexError:
            raise CLIError(f"columns {args.columns} out of range for {X.shape[1]} columns")
    print(f"# {source}: {X.shape[0]} rows x {X.shape[1]} columns")
    print(format_table(rate_distortion_table(X, bits=args.bits)))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="skquant", description="Scalar quantizers: rate-distortion reports."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "report", help="fit the quantizers at several bit widths and print MSE/SQNR"
    )
    rep.add_argument("data", nargs="?", help=".npy or .csv (header row skipped)")
    rep.add_argument("--dataset", choices=DATASETS, default="diabetes",
                     help="bundled dataset used when no DATA is given")
    rep.add_argument("--bits", type=_bits, default=list(range(1, 9)), help="e.g. 4 or 1-8")
    rep.add_argument("--columns", type=int, nargs="+", help="column indices to keep")
    rep.set_defaults(run=_report)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except CLIError as exc:
        print(f"skquant: error: {exc}", file=sys.stderr)
        return 2
    return 0
