"""Every gallery script in examples/ runs as a plain script (matplotlib's Agg backend)."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


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


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, plt, tmp_path, monkeypatch, capsys):
    from threadpoolctl import threadpool_limits

    monkeypatch.chdir(tmp_path)  # anything an example writes lands in a temporary dir
    argv = [str(path)]
    figure = tmp_path / "figure.png"
    if "--plot" in path.read_text(encoding="utf-8"):
        argv += ["--plot", str(figure)]
    monkeypatch.setattr(sys, "argv", argv)
    # one BLAS thread: the 2-core CI machine is shared, and oversubscribed BLAS
    # threads make small scikit-learn fits many times slower
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as exc:
            assert not exc.code, f"{path.name} exited with {exc.code!r}"
    assert capsys.readouterr().out.strip(), f"{path.name} printed nothing"
    for i, num in enumerate(plt.get_fignums()):
        plt.figure(num).savefig(tmp_path / f"pyplot_{i}.png")
    drawn = list(tmp_path.glob("*.png"))
    assert drawn, f"{path.name} drew no figure"
    assert all(p.stat().st_size > 1000 for p in drawn)
