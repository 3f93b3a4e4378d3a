"""Every gallery script in examples/ runs as sphinx-gallery runs it (no arguments,
matplotlib's Agg backend, cell by cell): it prints something, draws a figure (so its
gallery card gets a thumbnail, not the placeholder) and ends no cell with an
expression whose repr sphinx-gallery would print as ``<... object at 0x...>``."""

import ast
import re
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
# sphinx-gallery's cell separators
CELL = re.compile(r"^(?:# %%.*|#{20,})$", re.MULTILINE)


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib", reason="the examples draw with matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def test_the_gallery_is_not_empty():
    assert len(EXAMPLES) >= 3
    for path in EXAMPLES:  # sphinx-gallery needs a docstring with a title
        text = path.read_text(encoding="utf-8")
        assert text.startswith('"""\n==='), path.name


def run_cells(path):
    """Execute the cells of ``path`` in one namespace, as sphinx-gallery does; returns
    the value of each cell's last statement when that is an expression."""
    namespace = {"__name__": "__main__", "__file__": str(path)}
    last_values = []
    source = path.read_text(encoding="utf-8")
    for cell in CELL.split(source):
        tree = ast.parse(cell)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, str(path), "exec"), namespace)
        if last is not None:
            expr = ast.Expression(last.value)
            last_values.append(eval(compile(expr, str(path), "eval"), namespace))
    return last_values


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, plt, tmp_path, monkeypatch, capsys):
    from threadpoolctl import threadpool_limits

    monkeypatch.chdir(tmp_path)  # anything an example writes lands in a temporary dir
    monkeypatch.setattr(sys, "argv", [str(path)])
    # one BLAS thread: the 2-core CI machine is shared, and oversubscribed BLAS
    # threads make small scikit-learn fits many times slower
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            last_values = run_cells(path)
        except SystemExit as exc:
            pytest.fail(f"{path.name} exited with {exc.code!r}")
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"
    for value in last_values:  # None (print, plt.show) prints nothing
        assert " at 0x" not in repr(value), f"{path.name} ends a cell with {value!r}"
    assert plt.get_fignums(), f"{path.name} drew no figure: its card would get no thumbnail"
    for i, num in enumerate(plt.get_fignums()):
        plt.figure(num).savefig(tmp_path / f"pyplot_{i}.png")
    assert all(p.stat().st_size > 1000 for p in tmp_path.glob("pyplot_*.png"))
