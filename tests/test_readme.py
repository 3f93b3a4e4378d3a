"""The README's Python examples and commands run as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("block", _python_blocks())
def test_readme_python_block_runs(block):
    exec(compile(block, str(README), "exec"), {})


def test_readme_has_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    commands = {}
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        i = lines.index(marker)
        commands[marker] = next(l for l in lines[i + 1 :] if l.strip() and not l.startswith("```"))
    assert commands["<!-- main-command -->"] == "pip install . && skquant report"
    assert commands["<!-- test-command -->"] == 'pip install ".[test]" "torch==2.13.0" && pytest'


def test_main_command_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "skquant", "report", "--bits", "1-3"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = [l.split() for l in out.splitlines() if l.startswith(("lloyd-max", "optimal"))]
    assert len(rows) == 6
    nmse = {(r[0], int(r[1])): float(r[2]) for r in rows}
    for b in (1, 2, 3):
        assert nmse[("optimal", b)] <= nmse[("lloyd-max", b)] * (1 + 1e-9)
    assert nmse[("lloyd-max", 3)] < nmse[("lloyd-max", 2)] < nmse[("lloyd-max", 1)]


def test_cli_errors_are_one_line(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "skquant", *args], capture_output=True, text=True)

    missing = run("report", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and missing.stderr.strip() == (
        f"skquant: error: no such file: {tmp_path / 'nope.csv'}"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,x\n")
    res = run("report", str(bad))
    assert res.returncode == 2 and "non-numeric" in res.stderr and "Traceback" not in res.stderr
    good = tmp_path / "good.csv"
    good.write_text("a,b\n" + "\n".join(f"{i},{i * i % 7}" for i in range(50)))
    res = run("report", str(good), "--bits", "2")
    assert res.returncode == 0 and "50 rows x 2 columns" in res.stdout
