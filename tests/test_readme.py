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
    test_command = 'pip install ".[test]" "torch==2.13.0" && pytest -n 2'
    assert commands["<!-- test-command -->"] == test_command


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
        return subprocess.run(
            [sys.executable, "-m", "skquant", *args], capture_output=True, text=True
        )

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


def _readme_table_module():
    import importlib.util

    path = README.parent / "benchmarks" / "make_readme_table.py"
    spec = importlib.util.spec_from_file_location("make_readme_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_tables_are_the_rendering_of_the_stored_benchmark_rows():
    """The README's speed tables are exactly what ``benchmarks/make_readme_table.py``
    renders from ``benchmarks/results/`` (no hand-edited numbers), and those rows
    cover every registered scalar quantizer at 4 and 8 bits, both dtypes and both
    thread counts, next to the peers."""
    from skquant._registry import estimator_classes

    mod = _readme_table_module()
    results = mod.load_results()
    text = README.read_text(encoding="utf-8")
    block = text.split(mod.BEGIN, 1)[1].split(mod.END, 1)[0]
    assert block == "\n" + mod.render(results) + "\n"
    assert mod.rewrite(text, mod.render(results)) == text
    seen = {(r["quantizer"], r["bits"], r["dtype"], r["threads"]) for r in results["transform"]}
    for name in estimator_classes(scalar=True):
        for bits in (4, 8):
            for dtype in ("float64", "float32"):
                assert {(name, bits, dtype, 1), (name, bits, dtype, 2)} <= seen
    assert {"np.searchsorted per column", "KBinsDiscretizer quantile"} <= {
        q for q, *_ in seen
    }
    for r in results["transform"]:
        assert abs(r["ratio"] - r["transform_ms"] / r["copy_ms"]) <= 0.01 + 0.01 * r["ratio"]
    cases = {r["case"] for r in results["cold_start"]}
    assert cases == {"import", "import + fit + transform", "skquant --help",
                     "skquant --version"}
