"""The documentation covers the public API, every page is reachable, and the tests
the Guarantees page names exist."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import skquant
import skquant.design
import skquant.metrics

MODULES = (skquant.metrics, skquant.design)
try:  # optional extras: their names are checked when they are installed
    import skquant.dask
except ImportError:  # pragma: no cover
    pass
else:
    MODULES += (skquant.dask,)
try:
    import skquant.onnx
except ImportError:  # pragma: no cover
    pass
else:
    MODULES += (skquant.onnx,)
try:
    import skquant.torch
except ImportError:  # pragma: no cover
    pass
else:
    MODULES += (skquant.torch,)

DOC = Path(__file__).resolve().parents[1] / "doc"


def _api_entries():
    entries, module = set(), "skquant"
    for line in (DOC / "api.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif re.fullmatch(r"   [A-Za-z_]\w*", line):
            entries.add(f"{module}.{line.strip()}")
    return entries


def _public(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        ]
    return {f"{module.__name__}.{n}" for n in names if not n.startswith("_")}


def test_api_reference_lists_every_public_name():
    entries = _api_entries()
    public = {
        name for name in _public(skquant)
        if not isinstance(getattr(skquant, name.split(".", 1)[1]), type(skquant))  # modules
    }
    for module in MODULES:
        public |= _public(module)
    assert public - entries == set(), "add these to doc/api.rst"
    modules = {m.__name__: m for m in (skquant, *MODULES)}
    for entry in entries:  # and nothing that does not exist
        module, name = entry.rsplit(".", 1)
        if module in modules or module not in ("skquant.dask", "skquant.onnx", "skquant.torch"):
            assert hasattr(modules[module], name), entry


def test_every_page_is_in_a_toctree():
    toctrees = ""
    for page in DOC.glob("*.rst"):
        toctrees += page.read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([\w/]+)$", toctrees, re.MULTILINE))
    pages = {p.stem for p in DOC.glob("*.rst")} - {"index", "sg_execution_times"}
    assert pages - listed == set(), "add these pages to a toctree"


def test_guarantees_name_existing_tests():
    """Every ``tests/<file>.py::<test>`` of doc/guarantees.rst is a test function there."""
    page = (DOC / "guarantees.rst").read_text(encoding="utf-8")
    refs = re.findall(r"``(tests/[\w/]+\.py)::(\w+)``", page)
    assert len(refs) >= 30
    root = DOC.parent
    defined = {}
    for path, name in refs:
        if path not in defined:
            tree = ast.parse((root / path).read_text(encoding="utf-8"))
            defined[path] = {
                node.name for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            }
        assert name in defined[path], f"{path}::{name} named in doc/guarantees.rst"
    # and no reference is written in another form that this parser would miss
    assert len(re.findall(r"tests/\w+\.py::", page)) == len(refs)


def test_kbins_migration_rows_name_every_test_of_its_file():
    """Each row of doc/kbins_migration.rst names tests of tests/test_kbins_migration.py
    that exist, and every test there backs a row."""
    page = (DOC / "kbins_migration.rst").read_text(encoding="utf-8")
    rows = page.split("\n   * - ")[2:]  # after the header row
    assert len(rows) >= 13
    for row in rows:
        assert re.search(r"Tests?: ``test_\w+``", row), row[:60]
    named = set(re.findall(r"``(test_\w+)``", page))
    path = DOC.parent / "tests" / "test_kbins_migration.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = {
        node.name for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert named == defined
    assert "``tests/test_kbins_migration.py``" in page  # where the named tests are


# -- offline pages ---------------------------------------------------------------------
def _formulas():
    """Every formula of doc/*.rst: ``(latex, is_block)``."""
    found = []
    for page in sorted(DOC.glob("*.rst")):
        text = page.read_text(encoding="utf-8")
        found += [(m, False) for m in re.findall(r":math:`([^`]+)`", text)]
        for m in re.finditer(r"^( *)\.\. math::\n((?:\1 +.*\n|\s*\n)+)", text, re.MULTILINE):
            lines = [line.strip() for line in m.group(2).splitlines() if line.strip()]
            found.append(("\n".join(lines), True))
    return found


def test_conf_renders_math_without_network():
    """doc/conf.py converts math with the project's MathML extension, not MathJax, and
    turns off sphinx-gallery's execution-time pages (they load scripts from CDNs)."""
    tree = ast.parse((DOC / "conf.py").read_text(encoding="utf-8"))
    assigned = {
        node.targets[0].id: node.value for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    extensions = ast.literal_eval(assigned["extensions"])
    assert "mathml" in extensions and not any("mathjax" in e for e in extensions)
    assert ast.literal_eval(assigned["html_math_renderer"]) == "mathml"
    gallery = assigned["sphinx_gallery_conf"]
    options = {k.value: v for k, v in zip(gallery.keys, gallery.values)}
    assert ast.literal_eval(options["write_computation_times"]) is False


def test_every_formula_becomes_mathml_in_a_page_without_remote_scripts(tmp_path):
    """A page holding every formula of the documentation, built with -W by the
    documentation's math extension: no conversion warning, one <math> per formula,
    no script or style sheet from the network."""
    pytest.importorskip("latex2mathml")
    formulas = _formulas()
    assert len(formulas) >= 50
    body = ["Formulas", "========", ""]
    for latex, block in formulas:
        if block:
            body += [".. math::", "", *("   " + line for line in latex.splitlines()), ""]
        else:
            body += [f":math:`{latex}`", ""]
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.rst").write_text("\n".join(body), encoding="utf-8")
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOC / '_ext')!r})\n"
        "extensions = ['mathml']\nhtml_math_renderer = 'mathml'\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src),
         str(tmp_path / "html")],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert html.count("<math ") == len(formulas)
    remote = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(?:https?:)?//[^"]*"', html)
    assert remote == [] and "mathjax" not in html.lower()


def test_unknown_latex_is_a_build_warning(caplog):
    """latex2mathml keeps an unknown command as text; the extension warns (so -W fails)."""
    pytest.importorskip("latex2mathml")
    sys.path.insert(0, str(DOC / "_ext"))
    try:
        import mathml
    finally:
        sys.path.remove(str(DOC / "_ext"))
    assert "<mtext>zero_point</mtext>" in mathml.to_mathml(r"\text{zero\_point}", "inline")
    assert "warning" not in caplog.text.lower()
    mathml.to_mathml(r"x = \foobar{y}", "inline")
    assert "unknown command" in caplog.text and "foobar" in caplog.text


def test_no_text_is_autolinked_as_an_email_address():
    """reStructuredText turns ``name@word`` into a mailto link (recall@10 was one):
    outside literals, no page and no example's text has such a token."""
    email = re.compile(r"(?<![\\\w.+-])[\w.+-]+@[\w-]+")
    examples = DOC.parent / "examples"
    texts = {p.name: p.read_text(encoding="utf-8") for p in DOC.glob("*.rst")}
    for path in examples.glob("*.py"):  # the docstring and the comment blocks
        source = path.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(source)) or ""
        comments = "\n".join(line[2:] for line in source.splitlines() if line.startswith("# "))
        texts[path.name] = doc + "\n" + comments
    for name, text in texts.items():
        prose = re.sub(r"``.*?``|`[^`]*`", "", text, flags=re.DOTALL)
        assert email.findall(prose) == [], name
