"""The ``skquant`` command line: report, encode, decode, and one-line errors."""

import csv
import errno
import io
import json
import os
import re
import runpy
import stat
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import skquant
from skquant import _cli, _io
from skquant._cli import QUANTIZERS, Progress, main, read_table
from skquant._report import (
    default_quantizers,
    panter_dite_curve,
    sqnr_from_nmse,
    zador_constants,
)
from skquant.metrics import normalized_mse

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def table(rng):
    """2000 x 3 data of three shapes, written as a CSV with a header."""
    X = np.c_[
        rng.standard_normal(2000), 3.0 * rng.laplace(size=2000) + 1.0, rng.gamma(2.0, size=2000)
    ]
    return X, ["normal", "laplace, shifted", "gamma"]


def _write_csv(path, X, names=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if names:
            w.writerow(names)
        w.writerows(X.tolist())
    return path


def _read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=np.float64)


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err):
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("skquant: error: "), err
    assert "Traceback" not in err


@pytest.mark.parametrize("bits", [1, 4, 7])
def test_encode_decode_csv_reproduces_inverse_transform(tmp_path, capsys, table, bits):
    X, names = table
    src = _write_csv(tmp_path / "data.csv", X, names)
    out = tmp_path / "data.skq"
    code, stdout, err = run(capsys, "encode", src, "-o", out, "--bits", bits)
    assert code == 0 and err == ""
    assert "smaller than the 48000 bytes of float64" in stdout and "SQNR" in stdout
    code, _, _ = run(capsys, "decode", out, "-o", tmp_path / "recon.csv")
    assert code == 0
    header, recon = _read_csv(tmp_path / "recon.csv")
    assert header == names

    # the CSV reads back to exactly the floats the writer saw, so this is the same fit
    _, X_csv = _read_csv(src)
    q = skquant.LloydMaxQuantizer(n_bits=bits).fit(X_csv)
    expected = q.inverse_transform(q.transform(X_csv))
    assert recon.tobytes() == expected.tobytes()

    # no larger than the bit-packed codes + the codebook + a small header
    packed = (2000 * 3 * bits + 7) // 8  # 750, 3000, 5250 bytes
    codebook = q.thresholds_.nbytes + q.levels_.nbytes + q.n_levels_.nbytes
    size = out.stat().st_size
    assert size <= packed + codebook + 4096, (size, packed, codebook)
    assert size < X.size * 8 * bits / 64 + codebook + 4096


def test_file_size_numbers(tmp_path, capsys, table):
    # 2000 x 3 at 4 bits: 3000 bytes of codes, 3 x (15 + 16) x 8 + 24 = 768 of codebook
    X, names = table
    out = tmp_path / "x.skq"
    run(capsys, "encode", _write_csv(tmp_path / "d.csv", X, names), "-o", out, "--bits", 4)
    size = out.stat().st_size
    assert 3000 < size <= 3000 + 768 + 4096
    enc = _io.read(out)
    assert enc.codes.shape == (2000, 3) and enc.columns == names


def test_columns_by_name_and_index(tmp_path, capsys, table):
    X, names = table
    src = _write_csv(tmp_path / "data.csv", X, names)
    out = tmp_path / "x.skq"
    code, _, _ = run(capsys, "encode", src, "-o", out, "--bits", 3,
                     "--columns", "gamma", "0")
    assert code == 0
    assert _io.read(out).columns == ["gamma", "normal"]
    run(capsys, "decode", out, "-o", tmp_path / "r.npy")
    recon = np.load(tmp_path / "r.npy")
    q = skquant.LloydMaxQuantizer(n_bits=3).fit(X[:, [2, 0]])
    np.testing.assert_array_equal(recon, q.inverse_transform(q.transform(X[:, [2, 0]])))


def test_npy_float32_stays_float32(tmp_path, capsys, rng):
    X = rng.standard_normal((500, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    assert run(capsys, "encode", tmp_path / "x.npy", "-o", tmp_path / "x.skq",
               "--bits", 5, "--quantizer", "optimal")[0] == 0
    assert run(capsys, "decode", tmp_path / "x.skq", "-o", tmp_path / "r.npz")[0] == 0
    recon = np.load(tmp_path / "r.npz")["X"]
    q = skquant.LloydMaxQuantizer(n_bits=5, algorithm="optimal").fit(X)
    assert recon.dtype == np.float32
    assert recon.tobytes() == q.inverse_transform(q.transform(X)).tobytes()


def test_parquet_round_trip(tmp_path, capsys, table):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, names = table
    pq.write_table(pa.table({n: X[:, j] for j, n in enumerate(names)}), tmp_path / "x.parquet")
    assert run(capsys, "encode", tmp_path / "x.parquet", "-o", tmp_path / "x.skq",
               "--bits", 2)[0] == 0
    assert run(capsys, "decode", tmp_path / "x.skq", "-o", tmp_path / "r.parquet")[0] == 0
    back = pq.read_table(tmp_path / "r.parquet")
    assert back.column_names == names
    q = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    np.testing.assert_array_equal(
        np.column_stack([c.to_numpy() for c in back.columns]), q.inverse_transform(q.transform(X))
    )


def test_headerless_csv(tmp_path, capsys, rng):
    X = rng.standard_normal((300, 2))
    src = _write_csv(tmp_path / "x.csv", X)
    run(capsys, "encode", src, "-o", tmp_path / "x.skq", "--bits", 2)
    assert _io.read(tmp_path / "x.skq").columns is None
    run(capsys, "decode", tmp_path / "x.skq", "-o", tmp_path / "r.csv")
    recon = np.loadtxt(tmp_path / "r.csv", delimiter=",")
    assert recon.shape == (300, 2)


# ---------------------------------------------------------------------- report
def test_report_lists_every_quantizer(capsys):
    code, out, err = run(capsys, "report", "--bits", "2-3")
    assert code == 0 and err == ""  # no progress bar: stderr is not a terminal
    assert "442 rows x 10 columns" in out
    names = [line.split()[0] for line in out.splitlines()[3:] if line and line[0] != "#"]
    assert names == [n for n in default_quantizers() for _ in (2, 3)]
    assert {"lloyd-max", "optimal"} <= set(names)


def test_report_columns_and_plot(tmp_path, capsys, table):
    pytest.importorskip("matplotlib")
    X, names = table
    src = _write_csv(tmp_path / "d.csv", X, names)
    png = tmp_path / "rd.png"
    code, out, _ = run(capsys, "report", src, "--columns", "normal", "--bits", "1-4",
                       "--quantizer", "lloyd-max", "--plot", png)
    assert code == 0 and "2000 rows x 1 columns" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [line.split() for line in out.splitlines() if line.startswith("lloyd-max")]
    mse = [float(r[2]) for r in rows]
    # N(0, 1) sample: close to the Lloyd–Max MSEs 0.3634, 0.1175, 0.03455, 0.00950
    np.testing.assert_allclose(mse, [0.3634, 0.1175, 0.03455, 0.00950], rtol=0.08)
    coded = tmp_path / "coded.png"
    code, out2, _ = run(capsys, "report", src, "--columns", "normal", "--bits", "1-4",
                        "--quantizer", "lloyd-max", "--plot", coded, "--rate", "entropy")
    assert code == 0 and coded.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out2.replace("coded.png", "rd.png") == out  # the same table; the plot differs
    # the "coded" column: bits per value of the entropy-coded file under the model the
    # writer chooses (table, flat or adaptive): at most the entropy plus the table's
    # share, and on these i.i.d. rows at least the entropy
    header = next(line for line in out.splitlines() if line.startswith("quantizer"))
    assert header.split()[5:7] == ["entropy", "coded"]  # "SQNR dB" is one row field
    entropy = np.array([float(r[4]) for r in rows])
    coded_bits = np.array([float(r[5]) for r in rows])
    # (a table of at most 3 bytes per level: a gap and a count below 2**14)
    table = 24 * 2.0 ** np.arange(1, 5) / 2000
    assert np.all(entropy <= coded_bits) and np.all(coded_bits <= entropy + table + 0.01)


def test_zador_estimate_matches_the_gaussian_constant(rng):
    c = zador_constants(rng.standard_normal((100_000, 1)))
    exact = skquant.design.panter_dite_mse("gaussian", 0)  # sqrt(3) pi / 2
    assert abs(c[0] / exact - 1) < 0.1
    mse, nmse = panter_dite_curve(2.0 * rng.standard_normal((100_000, 1)), [1, 2])
    np.testing.assert_allclose(mse / nmse, 4.0, rtol=0.02)  # MSE scales with variance
    np.testing.assert_allclose(mse[1] / mse[0], 0.25)


def test_progress_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    quiet = io.StringIO()
    bar = Progress(quiet)
    bar(1, 4, "x")
    bar.close()
    assert quiet.getvalue() == ""
    tty = Terminal()
    bar = Progress(tty, width=8)
    bar(1, 4, "lloyd-max 1 bits")
    bar(4, 4, "done")
    assert "[##......] 1/4 lloyd-max 1 bits" in tty.getvalue()
    assert "[########] 4/4 done" in tty.getvalue()
    bar.close()
    assert tty.getvalue().endswith("\r") and "\n" not in tty.getvalue()


# ---------------------------------------------------------------------- errors
def _bad_inputs(tmp_path):
    (tmp_path / "text.csv").write_text("a,b\n1,2\n3,x\n")
    (tmp_path / "nan.csv").write_text("a,b\n1,2\n3,nan\n")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "data.txt").write_text("1\n")
    np.save(tmp_path / "obj.npy", np.array(["a", "b"]))
    np.savez(tmp_path / "two.npz", a=np.zeros(3), b=np.ones(3))
    (tmp_path / "ok.csv").write_text("a,b\n" + "\n".join(f"{i},{i * i % 7}" for i in range(50)))
    skquant.save(skquant.LloydMaxQuantizer(n_bits=2).fit(np.arange(40.0)[:, None]),
                 tmp_path / "model.skq")
    (tmp_path / "model.npz").write_bytes((tmp_path / "model.skq").read_bytes())
    return {
        "missing file": (["report", tmp_path / "nope.csv"], "no such file"),
        "non-numeric": (["report", tmp_path / "text.csv"],
                        "non-numeric value 'x' in column 1 ('b')"),
        "NaN": (["encode", tmp_path / "nan.csv", "-o", tmp_path / "o", "--bits", "2"],
                "non-finite value 'nan' in column 1 ('b'), line 3 (data row 2)"),
        "ragged": (["report", tmp_path / "ragged.csv"],
                   "line 3 (data row 2) has 1 fields, expected 2: column(s) 1 ('b') missing"),
        "empty": (["report", tmp_path / "empty.csv"], "empty file"),
        "suffix": (["report", tmp_path / "data.txt"], "unsupported file type '.txt'"),
        "strings": (["report", tmp_path / "obj.npy"], "expected numbers"),
        "two arrays": (["report", tmp_path / "two.npz"], "holds several arrays"),
        "unknown quantizer": (["encode", tmp_path / "ok.csv", "-o", tmp_path / "o", "--bits",
                               "2", "--quantizer", "zip"], "unknown quantizer 'zip'"),
        "bad bits": (["report", "--bits", "9-3"], "bits must be within 1-16"),
        "two bits": (["encode", tmp_path / "ok.csv", "-o", tmp_path / "o", "--bits", "2-3"],
                     "one width"),
        "no output": (["encode", tmp_path / "ok.csv", "--bits", "2"], "-o/--output"),
        "no command": ([], "required: command"),
        "bad column": (["report", tmp_path / "ok.csv", "--columns", "c"],
                       "unknown column 'c'; columns are a, b"),
        "column range": (["report", tmp_path / "ok.csv", "--columns", "5"], "out of range"),
        "decode csv": (["decode", tmp_path / "ok.csv", "-o", tmp_path / "r.csv"],
                       "not a ZIP archive"),
        "decode model": (["decode", tmp_path / "model.skq", "-o", tmp_path / "r.csv"],
                         "no codes"),
        "decode missing": (["decode", tmp_path / "none.skq", "-o", tmp_path / "r.csv"],
                           "no such file"),
        "report skq": (["report", tmp_path / "model.skq"], "unsupported file type"),
        "report encoded npz": (["report", tmp_path / "model.npz"], "skquant encoded file"),
        "bad output dir": (["encode", tmp_path / "ok.csv", "-o", tmp_path / "no" / "o",
                            "--bits", "2"], "cannot write"),
    }


def test_errors_are_one_line(tmp_path, capsys):
    for name, (args, message) in _bad_inputs(tmp_path).items():
        code, out, err = run(capsys, *args)
        _one_line_error(code, err)
        assert message in err, (name, err)


def test_tampered_file_is_one_line_error(tmp_path, capsys, table):
    X, names = table
    out = tmp_path / "x.skq"
    run(capsys, "encode", _write_csv(tmp_path / "d.csv", X, names), "-o", out, "--bits", 3)
    data = bytearray(out.read_bytes())
    out.write_bytes(bytes(data[: len(data) // 2]))
    code, _, err = run(capsys, "decode", out, "-o", tmp_path / "r.csv")
    _one_line_error(code, err)
    assert "truncated" in err


def test_warnings_are_one_line(tmp_path, capsys):
    (tmp_path / "few.csv").write_text("a\n" + "\n".join(str(i % 3) for i in range(30)))
    code, out, err = run(capsys, "encode", tmp_path / "few.csv", "-o", tmp_path / "x.skq",
                         "--bits", 3)
    assert code == 0
    assert err.count("\n") == 1
    assert err.startswith("skquant: warning: Column(s) 0 have fewer distinct values")


def test_console_entry_point_exit_status(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "skquant", "encode", str(tmp_path / "missing.csv"), "-o",
         str(tmp_path / "x"), "--bits", "3"],
        capture_output=True, text=True,
    )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == f"skquant: error: no such file: {tmp_path / 'missing.csv'}\n"


# ------------------------------------------------------- --help, --version, names
def test_help_and_version_import_nothing_heavy():
    code = (
        "import sys\n"
        "from skquant._cli import main\n"
        "codes = [main(a) for a in (['--help'], ['report', '--help'], ['encode', '--help'],"
        " ['decode', '--help'], ['--version'])]\n"
        "heavy = {m.split('.')[0] for m in sys.modules}\n"
        "heavy &= {'numpy', 'scipy', 'numba', 'sklearn', 'pyarrow', 'matplotlib'}\n"
        "print(codes, sorted(heavy), file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.stderr == "[0, 0, 0, 0, 0] []\n"
    assert "--force" in res.stdout and "compander-optimal" in res.stdout
    assert res.stdout.endswith(f"\nskquant {skquant.__version__}\n")


def test_quantizer_names_are_those_of_the_report():
    assert QUANTIZERS == tuple(default_quantizers())


# ------------------------------------------------------- never destroys data
def _small_csv(path):
    path.write_text("a,b\n" + "\n".join(f"{i},{i * i % 7}" for i in range(50)) + "\n")
    return path


def _encoded(path, columns=("a", "b")):
    """An encoded file written directly (so its column names can be anything)."""
    X = np.c_[np.arange(40.0), np.arange(40.0) % 7 + 0.5 * np.arange(40.0) ** 0.5]
    q = skquant.LloydMaxQuantizer(n_bits=2).fit(X)
    _io.write(path, q, codes=q.transform(X), columns=None if columns is None else list(columns))
    return path, q.inverse_transform(q.transform(X))


def test_an_output_that_is_an_input_is_refused(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    src = _small_csv(tmp_path / "data.csv")
    enc, _ = _encoded(tmp_path / "enc.npz")  # an encoded file may have any name
    (tmp_path / "link.csv").symlink_to(src)
    os.link(src, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    listing = sorted(os.listdir(tmp_path))
    before = src.read_bytes(), enc.read_bytes()
    for args in [
        ["encode", src, "-o", src, "--bits", 2],
        ["encode", "../data.csv", "-o", "./../sub/../data.csv", "--bits", 2, "--force"],
        ["encode", src, "-o", tmp_path / "link.csv", "--bits", 2, "--force"],
        ["encode", tmp_path / "link.csv", "-o", src, "--bits", 2, "--force"],
        ["encode", src, "-o", tmp_path / "hard.csv", "--bits", 2, "--force"],
        ["decode", "../enc.npz", "-o", tmp_path / "sub" / ".." / "enc.npz", "--force"],
        ["report", src, "--bits", 1, "--plot", "../hard.csv", "--force"],
    ]:
        code, _, err = run(capsys, *args)
        _one_line_error(code, err)
        assert code == 2 and "is the input" in err, (args, err)
    assert (src.read_bytes(), enc.read_bytes()) == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_an_existing_output_is_replaced_only_with_force(tmp_path, capsys):
    src = _small_csv(tmp_path / "data.csv")
    out = tmp_path / "out.skq"
    out.write_bytes(b"the user's file")
    code, _, err = run(capsys, "encode", src, "-o", out, "--bits", 2)
    _one_line_error(code, err)
    assert f"{out} exists; give --force to replace it" in err
    assert out.read_bytes() == b"the user's file"
    assert run(capsys, "encode", src, "-o", out, "--bits", 2, "--force")[0] == 0
    assert _io.read(out).codes.shape == (50, 2)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    recon = tmp_path / "r.csv"
    recon.write_text("mine")
    code, _, err = run(capsys, "decode", out, "-o", recon)
    assert code == 2 and "exists; give --force" in err and recon.read_text() == "mine"
    assert run(capsys, "decode", out, "-o", recon, "--force")[0] == 0
    assert _read_csv(recon)[1].shape == (50, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "out.skq", "r.csv"]
    target = tmp_path / "target.txt"
    target.write_text("kept")
    (tmp_path / "link.skq").symlink_to(target)
    assert run(capsys, "encode", src, "-o", tmp_path / "link.skq", "--bits", 2)[0] == 2
    assert run(capsys, "encode", src, "-o", tmp_path / "link.skq", "--bits", 2, "--force")[0] == 0
    assert not (tmp_path / "link.skq").is_symlink() and target.read_text() == "kept"


def test_a_failed_write_removes_its_own_temporary_file_only(tmp_path, capsys, monkeypatch):
    src = _small_csv(tmp_path / "data.csv")
    enc, _ = _encoded(tmp_path / "enc.skq")
    out, recon = tmp_path / "out.skq", tmp_path / "r.npy"
    out.write_bytes(b"old")
    for name in ("out.skq.part", ".out.skq.part", "out.part", "r.npy.part"):
        (tmp_path / name).write_text("the user's")
    listing = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def partial(file):  # a binary file (_io.write) or a path (_cli._write_table)
        if hasattr(file, "write"):
            file.write(b"partial")
        else:
            Path(file).write_bytes(b"partial")

    def disk_full(file, *args, **kwargs):
        partial(file)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def interrupted(file, *args, **kwargs):
        partial(file)
        raise KeyboardInterrupt

    for fail, status, message in [(disk_full, 2, "No space left on device"),
                                  (interrupted, 130, "interrupted")]:
        with monkeypatch.context() as m:
            m.setattr(_io, "write", fail)
            code, _, err = run(capsys, "encode", src, "-o", out, "--bits", 2, "--force")
        _one_line_error(code, err)
        assert code == status and message in err
        with monkeypatch.context() as m:
            m.setattr(_cli, "_write_table", fail)
            code, _, err = run(capsys, "decode", enc, "-o", recon)
        _one_line_error(code, err)
        assert code == status and message in err
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == listing


def test_an_output_appearing_meanwhile_is_not_replaced(tmp_path, capsys, monkeypatch):
    src = _small_csv(tmp_path / "data.csv")
    out = tmp_path / "out.skq"
    write = _io.write

    def racing(file, *args, **kwargs):
        out.write_bytes(b"another program's")
        write(file, *args, **kwargs)

    monkeypatch.setattr(_io, "write", racing)
    code, _, err = run(capsys, "encode", src, "-o", out, "--bits", 2)
    _one_line_error(code, err)
    assert "was created while skquant ran; not replaced" in err
    assert out.read_bytes() == b"another program's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "out.skq"]


def test_bad_paths_are_one_line_errors(tmp_path, capsys, monkeypatch):
    src = _small_csv(tmp_path / "data.csv")
    os.mkfifo(tmp_path / "fifo.skq")
    os.mkfifo(tmp_path / "fifo.csv")
    enc = ["encode", src, "--bits", 2, "--force", "-o"]
    cases = {
        "output is a directory": (enc + [tmp_path], "it is a directory"),
        "missing directory": (enc + [tmp_path / "no" / "x.skq"], "no such directory"),
        "newline in the name": (enc + [tmp_path / "no" / "x\ny.skq"], r"x\ny.skq"),
        "output is a fifo": (enc + [tmp_path / "fifo.skq"], "exists and is not a regular file"),
        "input is a fifo": (["report", tmp_path / "fifo.csv"], "fifo.csv: not a regular file"),
        "input is a directory": (["report", tmp_path], "not a regular file"),
        "decode to .skq": (["decode", src, "-o", tmp_path / "r.skq"], "unsupported output type"),
    }
    for name, (args, message) in cases.items():
        code, _, err = run(capsys, *args)
        _one_line_error(code, err)
        assert code == 2 and message in err, (name, err)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    with monkeypatch.context() as m:  # as root, chmod cannot deny anything
        m.setattr(tempfile, "mkstemp", denied)
        code, _, err = run(capsys, *enc, tmp_path / "x.skq")
    assert code == 2 and f"cannot write {tmp_path / 'x.skq'}: Permission denied" in err
    with monkeypatch.context() as m:
        m.setattr(_cli, "open", denied, raising=False)
        code, _, err = run(capsys, "report", src)
    assert code == 2 and f"cannot read {src}: Permission denied" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "fifo.csv", "fifo.skq"]


def test_a_closed_pipe_is_quiet(tmp_path):
    enc, _ = _encoded(tmp_path / "enc.skq")
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the first write fails with EPIPE
    try:
        res = subprocess.run(
            [sys.executable, "-m", "skquant", "decode", str(enc), "-o", str(tmp_path / "r.npy")],
            stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
    finally:
        os.close(write_end)
    assert (res.returncode, res.stderr) == (141, "")
    assert np.load(tmp_path / "r.npy").shape == (40, 2)


# ------------------------------------------------------- readers keep every value
def test_csv_missing_and_bad_fields_name_line_and_column(tmp_path, capsys):
    cases = {
        "a,b\n1,2\n,\n3,4\n": "missing value in column 0 ('a'), line 3 (data row 2)",
        "a,b\n1,2\n\n3,4\n": "line 3 is empty: missing value in every column, data row 2",
        "a\n1\n\n3\n": "line 3 is empty",
        "\n1,2\n": "line 1 is empty",
        "a,b,c\n1,2,3\n4\n": "line 3 (data row 2) has 1 fields, expected 3: "
                             "column(s) 1 ('b'), 2 ('c') missing",
        "a,b\n1,2\n3,4,5\n": "line 3 (data row 2) has 3 fields, expected 2",
        "1,,3\n4,5,6\n": "missing value in column 1, line 1 (data row 1)",
        "a,b\n1,\u0663\n": "non-numeric value '\u0663' in column 1 ('b'), line 2",
        "a,b\n1,1_000\n": "non-numeric value '1_000' in column 1 ('b')",
        "a,b\n1,1e999\n": "non-finite value '1e999' in column 1 ('b'), line 2",
        '"a\nb",c\n1,2\n3,\n': "missing value in column 1 ('c'), line 4 (data row 2)",
        "\ufeffx,y,x\n1,2,3\n": "duplicate column names 'x' (columns 0, 2): names must be distinct",
        "a,b,a,b,c\n1,2,3,4,5\n": "duplicate column names 'a' (columns 0, 2); 'b' (columns 1, 3)",
        "a,b\n1,2\n" + "x" * 200_000 + "\n": "line 3: field larger than field limit",
        "a,b\n": "no data (0 rows x 2 columns)",
        "\n\n": "empty file",
    }
    for k, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"{k}.csv"
        path.write_text(text, encoding="utf-8")
        code, _, err = run(capsys, "report", path)
        _one_line_error(code, err)
        assert code == 2 and f"{path}: {message}" in err, (text, err)
    (tmp_path / "ok.csv").write_text("\ufeffa, b \n1,+2.5\n-.5,1E3\n\n\n", encoding="utf-8")
    X, names = read_table(tmp_path / "ok.csv")  # blank lines at the very end: skipped
    assert names == ["a", "b"]
    np.testing.assert_array_equal(X, [[1.0, 2.5], [-0.5, 1000.0]])


def test_array_files_give_a_table_or_one_line(tmp_path, capsys):
    np.save(tmp_path / "nan.npy", np.array([[1.0, 2.0], [3.0, np.inf]]))
    good = io.BytesIO()
    np.save(good, np.zeros((3, 3)))
    forged = good.getvalue().replace(b"(3, 3)", b"(9999999999, 3)")
    (tmp_path / "forged.npy").write_bytes(forged)
    (tmp_path / "short.npy").write_bytes(good.getvalue()[:-8])
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY junk")
    # a version 2.0 header whose 4-byte length reads as 662 MB: numpy would allocate it
    (tmp_path / "header.npy").write_bytes(b"\x93NUMPY\x02\x00v\x00{'" + good.getvalue()[12:])
    with io.BytesIO() as buf:
        np.savez(buf, X=np.zeros((3, 3)))
        npz = buf.getvalue()
    (tmp_path / "forged.npz").write_bytes(npz.replace(b"(3, 3)", b"(9999999999, 3)"))
    np.savez(tmp_path / "none.npz")
    cases = {
        "nan.npy": "non-finite value inf in column 1, row 2",
        "forged.npy": "cannot read",
        "short.npy": "cannot read",
        "junk.npy": "more than the file holds",
        "header.npy": "the .npy header declares 662372470 bytes, more than the file holds",
        "forged.npz": "cannot read",
        "none.npz": "holds no array",
    }
    tracemalloc.start()
    try:
        for name, message in cases.items():
            code, _, err = run(capsys, "report", tmp_path / name)
            _one_line_error(code, err)
            assert code == 2 and message in err, (name, err)
        assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    finally:
        tracemalloc.stop()


def test_parquet_columns_stay_distinct_and_nulls_are_named(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    tables = {
        "dup": (pa.Table.from_arrays([pa.array([1.0, 2.0])] * 2, names=["a", "a"]),
                "duplicate column names 'a' (columns 0, 1)"),
        "null": (pa.table({"a": [1.0, 2.0, 3.0], "b": [1, None, 3]}),
                 "missing value (null) in column 1 ('b'), row 2"),
        "text": (pa.table({"a": [1.0], "s": ["x"]}), "column 1 ('s') is not numeric (string)"),
    }
    for name, (table, message) in tables.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
        code, _, err = run(capsys, "report", tmp_path / f"{name}.parquet")
        _one_line_error(code, err)
        assert code == 2 and message in err, (name, err)
    pq.write_table(pa.table({"f": np.float32([1, 2]), "i": [3, 4], "b": [True, False]}),
                   tmp_path / "mixed.parquet", row_group_size=1)
    X, names = read_table(tmp_path / "mixed.parquet")
    assert names == ["f", "i", "b"] and X.dtype == np.float64
    np.testing.assert_array_equal(X, [[1, 3, 1], [2, 4, 0]])


def test_decode_never_merges_columns(tmp_path, capsys):
    enc, expected = _encoded(tmp_path / "dup.skq", columns=("a", "a"))
    for suffix in (".csv", ".parquet"):
        code, _, err = run(capsys, "decode", enc, "-o", tmp_path / f"r{suffix}")
        _one_line_error(code, err)
        assert "duplicate column names 'a' (columns 0, 1)" in err
    assert run(capsys, "decode", enc, "-o", tmp_path / "r.npy")[0] == 0
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), expected)
    numeric, _ = _encoded(tmp_path / "num.skq", columns=("1", "2"))
    code, _, err = run(capsys, "decode", numeric, "-o", tmp_path / "n.csv")
    _one_line_error(code, err)
    assert "reads back as a data row" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dup.skq", "num.skq", "r.npy"]


# ------------------------------------------------------- arguments
def test_arguments_are_checked_before_anything_is_expanded(tmp_path, capsys):
    src = _small_csv(tmp_path / "data.csv")
    enc = ["encode", src, "-o", tmp_path / "x.skq"]
    cases = [
        (["report", "--bits", "1-100000000000"], "bits must be within 1-16"),
        (["report", "--bits", "1-30000000"], "bits must be within 1-16"),
        (["report", "--bits", "\u00b9"], "bits must look like 3 or 1-8"),
        (["report", "--levels", "2-70000"], "levels must be within 2-65536"),
        (["report", "--levels", "2-" + "9" * 5000], "levels must be within 2-65536"),
        (["report", "--levels", "2-5000"], "at most 1000 numbers of levels"),
        (["report", "--levels", ",".join(["3"] * 100_000)], "at most 1000 values"),
        (["report", "--levels", "3,,5"], "levels must look like"),
        (enc + ["--levels", "\u0663"], "levels must look like"),
        (enc + ["--levels", "3-5"], "--levels takes one number here"),
        (enc + ["--bits", "2", "--quantizer", "zip" * 10_000], "unknown quantizer 'zipzip"),
        (enc + ["--bits", "2", "--columns", "\u00b9"],
         "unknown column '\u00b9' (column indices are written in ASCII digits); columns are a, b"),
        (enc + ["--bits", "2", "--columns", "\u0663"], "unknown column '\u0663' (column indices"),
        (enc + ["--bits", "2", "--columns", "9" * 5000], "out of range for 2 columns"),
        (enc + ["--bits", "2", "--columns", "-3"], "column -3 out of range for 2 columns"),
        (enc + ["--bits", "2", "--columns", "0", "a"],
         "column 0 ('a') is given twice ('0' and 'a')"),
        (enc + ["--bits", "2", "--columns", *["1", "0"] * 50_000], "column 1 ('b') is given twice"),
    ]
    default_quantizers()  # imports every estimator: module imports are not measured
    tracemalloc.start()
    try:
        for args, message in cases:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            code, _, err = run(capsys, *args)
            _one_line_error(code, err)
            assert code == 2 and message in err, (args[:6], err)
            assert len(err) < 500
            # argparse itself takes ~100 bytes an argument; nothing is expanded beyond that
            peak = tracemalloc.get_traced_memory()[1] - base
            assert peak < 2**20 + 200 * len(args), (args[6:10], message, peak)
    finally:
        tracemalloc.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


# ------------------------------------------------------- progress, streaming
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_encode_and_decode_show_progress_on_a_terminal(tmp_path, monkeypatch, table):
    X, names = table
    src = _write_csv(tmp_path / "d.csv", X, names)
    out, recon = tmp_path / "d.skq", tmp_path / "r.npy"
    for args, labels in [
        (["encode", src, "-o", out, "--bits", 3, "--quantizer", "optimal"],
         ["3/3 fitting optimal: columns", "2000/2000 encoding rows", f"1/1 writing {out}"]),
        (["decode", out, "-o", recon], [f"2000/2000 writing {recon}"]),
    ]:
        tty = _Terminal()
        monkeypatch.setattr(sys, "stderr", tty)
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        assert main([str(a) for a in args]) == 0
        text = tty.getvalue()
        assert all(label in text for label in labels), text
        assert text.endswith("\r") and "\n" not in text  # the bar is cleared


def test_npy_is_encoded_and_decoded_block_by_block(tmp_path, capsys, monkeypatch, rng):
    monkeypatch.setattr(_cli, "BLOCK_VALUES", 1000)  # 333 rows a block
    X = np.c_[rng.standard_normal((5003, 2)), np.full(5003, 7.0)]
    np.save(tmp_path / "x.npy", X)
    code, out, _ = run(capsys, "encode", tmp_path / "x.npy", "-o", tmp_path / "x.skq", "--bits", 3)
    assert code == 0
    with pytest.warns(UserWarning, match="fewer distinct values"):  # the constant column
        q = skquant.LloydMaxQuantizer(n_bits=3).fit(X)
    codes = q.transform(X)
    X_hat = q.inverse_transform(codes)
    np.testing.assert_array_equal(_io.read(tmp_path / "x.skq").codes, codes)
    mse, sqnr = ((X - X_hat) ** 2).mean(), sqnr_from_nmse(normalized_mse(X, X_hat))
    assert f"MSE {mse:.4g}, SQNR {sqnr:.2f} dB" in out
    for suffix in (".npy", ".npz", ".csv"):
        assert run(capsys, "decode", tmp_path / "x.skq", "-o", tmp_path / f"r{suffix}")[0] == 0
    expected = io.BytesIO()
    np.save(expected, X_hat)
    assert (tmp_path / "r.npy").read_bytes() == expected.getvalue()  # np.save's bytes
    with np.load(tmp_path / "r.npz") as npz:
        assert npz.files == ["X"] and npz["X"].tobytes() == X_hat.tobytes()
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "r.csv", delimiter=","), X_hat)


_NPY_PEAKS = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from test_memory import traced_peak
import skquant
from skquant import _cli
from skquant._cli import main

d = sys.argv[1]
_cli.BLOCK_VALUES = 2**16
X = np.random.default_rng(0).standard_normal((400_000, 4))  # 12.8 MB
np.save(d + "/x.npy", X)
mapped = np.load(d + "/x.npy", mmap_mode="r")
# every kernel compiled (or loaded from the cache) outside the traces: the same calls
skquant.LloydMaxQuantizer(n_bits=3).fit(mapped)
assert main(["encode", d + "/x.npy", "-o", d + "/w.skq", "--bits", "3"]) == 0
assert main(["decode", d + "/w.skq", "-o", d + "/w2.npy"]) == 0
# the fit's peak: one or two columns' temporaries (9.6 MB each) in flight, as the
# column threads happen to overlap; the largest of three
fit = max(traced_peak(lambda: skquant.LloydMaxQuantizer(n_bits=3).fit(mapped))[1]
          for _ in range(3))
code, encode = traced_peak(lambda: main(
    ["encode", d + "/x.npy", "-o", d + "/x.skq", "--bits", "3"]))
assert code == 0
code, decode = traced_peak(lambda: main(["decode", d + "/x.skq", "-o", d + "/r.npy"]))
assert code == 0
print(json.dumps([fit, encode, decode, X.nbytes]))
"""


def test_npy_is_not_copied(tmp_path):
    """``skquant encode``/``decode`` of a 12.8 MB ``.npy`` hold no copy of it. Measured
    in a fresh process with every kernel compiled before the traces, against the
    largest of three peaks of the fit alone (its column threads overlap or not: the
    peaks of fit and encode each vary by one column's 9.6 MB of temporaries, which
    failed this test in CI when encode's overlapped and the fit's did not)."""
    out = subprocess.run(
        [sys.executable, "-c", _NPY_PEAKS, str(tmp_path), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    fit, encode, decode, nbytes = json.loads(out.stdout.strip().splitlines()[-1])
    # the fit's own peak, the codes (1 byte a value) and blocks: no copy of X
    assert encode < fit + 2 * nbytes // 8 + 2**20, (encode, fit)
    # the codes, packed and unpacked (1.6 + 0.6 MB), and blocks: no copy of X
    assert decode < nbytes / 2, decode


def test_cli_page_samples_are_the_real_output():
    """doc/cli.rst shows doc/_cli_*.txt: each is what its commands print today (rerun
    ``python doc/_make_cli_examples.py`` after changing the command line)."""
    doc = Path(__file__).resolve().parents[1] / "doc"
    examples = runpy.run_path(str(doc / "_make_cli_examples.py"))
    sessions, path, run = examples["SESSIONS"], examples["path"], examples["run"]
    page = (doc / "cli.rst").read_text(encoding="utf-8")
    included = set(re.findall(r"^\.\. literalinclude:: (_cli_\w+\.txt)$", page, re.MULTILINE))
    files = {p.name for p in doc.glob("_cli_*.txt")}
    assert included == files == {path(name).name for name in sessions}
    for name in sessions:
        assert run(name) == path(name).read_text(encoding="utf-8"), f"{path(name).name} is stale"


@pytest.mark.parametrize("coding", ["entropy", "packed", None])
def test_encode_codings_round_trip_and_entropy_is_the_default(tmp_path, capsys, rng, coding):
    """--coding entropy (the default) and packed both decode to inverse_transform bit
    for bit; the entropy-coded file is the smaller one (the Lloyd-Max codes of a
    Laplacian have less than 6 bits of entropy)."""
    from skquant import _io

    X = rng.laplace(size=(20000, 3))
    np.save(tmp_path / "x.npy", X)
    extra = [] if coding is None else ["--coding", coding]
    out = tmp_path / f"{coding}.skq"
    code, stdout, err = run(capsys, "encode", tmp_path / "x.npy", "-o", out, "--bits", "6",
                            *extra)
    assert code == 0 and err == "", err
    assert f"{coding or 'entropy'} codes" in stdout
    assert _io.read(out).coding == (coding or "entropy")
    code, _, _ = run(capsys, "decode", out, "-o", tmp_path / "r.npy")
    assert code == 0
    q = skquant.LloydMaxQuantizer(n_bits=6).fit(X)
    assert np.load(tmp_path / "r.npy").tobytes() == q.inverse_transform(q.transform(X)).tobytes()
    if coding == "entropy":
        run(capsys, "encode", tmp_path / "x.npy", "-o", tmp_path / "p.skq", "--bits", "6",
            "--coding", "packed")
        assert out.stat().st_size < (tmp_path / "p.skq").stat().st_size


def test_decode_refuses_a_damaged_stream_naming_the_member(tmp_path, capsys, rng):
    X = rng.standard_normal((100000, 2))  # a stream after the body (above 64 KiB)
    np.save(tmp_path / "x.npy", X)
    run(capsys, "encode", tmp_path / "x.npy", "-o", tmp_path / "x.skq", "--bits", "4")
    data = bytearray((tmp_path / "x.skq").read_bytes())
    assert data[:3] == b"SKQ" and len(data) > 2**16
    data[-4000] ^= 0xFF  # a word of the stream, the file's last region
    (tmp_path / "bad.skq").write_bytes(bytes(data))
    code, _, err = run(capsys, "decode", tmp_path / "bad.skq", "-o", tmp_path / "r.npy")
    assert code == 2 and "codes.stream.npy" in err, err
    assert not (tmp_path / "r.npy").exists()


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_npz_members_of_other_compression_methods_are_refused(tmp_path, capsys, method):
    """An .npz whose member is bzip2- or lzma-compressed (decompressed by zipfile
    without a bound) is refused before a byte of it is decompressed, whatever size it
    declares: a 128-byte member, and 80 MiB of zeros declared honestly."""
    for name, arr in [("small", np.arange(16.0).reshape(4, 4)),
                      ("bomb", np.zeros((2**20, 10)))]:
        buf = io.BytesIO()
        np.save(buf, arr)
        path = tmp_path / f"{name}.npz"
        with zipfile.ZipFile(path, "w", method) as zf:
            zf.writestr("X.npy", buf.getvalue())
        tracemalloc.start()
        try:
            code, _, err = run(capsys, "report", path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        _one_line_error(code, err)
        assert code == 2 and "compression method" in err or "more than DEFLATE" in err, err
        assert peak < 4 * 2**20


def test_parquet_rows_beyond_the_files_size_are_read_group_by_group(tmp_path, capsys):
    """A parquet file of 2**21 rows of two constant columns (its row groups take a few
    kB: more rows than DEFLATE could expand it to) is read a row group at a time and
    joined, not allocated from the declared rows; the table is the one written."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "constant.parquet"
    n = 2**21
    pq.write_table(pa.table({"a": np.full(n, 1.5), "b": np.full(n, -2.0)}), path,
                   row_group_size=2**19)
    assert n * 16 > 1032 * os.path.getsize(path) + 2**22
    X, names = read_table(path)
    assert names == ["a", "b"] and X.shape == (n, 2)
    assert np.all(X[:, 0] == 1.5) and np.all(X[:, 1] == -2.0)


def test_encode_says_larger_when_the_file_outgrows_its_data(tmp_path, capsys):
    # 2 x 2 float64 values are 32 bytes; any file with a codebook and a digest is larger
    src = tmp_path / "tiny.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    code, stdout, _ = run(capsys, "encode", src, "-o", tmp_path / "tiny.skq", "--bits", 2)
    size = (tmp_path / "tiny.skq").stat().st_size
    assert code == 0 and size > 32
    assert f"{size} bytes, {size / 32:.1f}x larger than the 32 bytes of float64" in stdout
    assert "smaller" not in stdout
