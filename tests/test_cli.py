"""The ``skquant`` command line: report, encode, decode, and one-line errors."""

import csv
import io
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import skquant
from skquant import _io
from skquant._cli import Progress, main
from skquant._report import default_quantizers, panter_dite_curve, zador_constants


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
        "non-numeric": (["report", tmp_path / "text.csv"], "non-numeric value 'x' in column 1 ('b')"),
        "NaN": (["encode", tmp_path / "nan.csv", "-o", tmp_path / "o", "--bits", "2"],
                "NaN, inf or non-numeric values in column(s) [1]"),
        "ragged": (["report", tmp_path / "ragged.csv"], "has 1 fields, expected 2"),
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
