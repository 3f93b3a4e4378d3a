"""The documentation covers the public API, every page is reachable, and the tests
the Guarantees page names exist."""

import ast
import re
from pathlib import Path

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
    listed = set(re.findall(r"^   ([\w/]+)$", toctrees, re.M))
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
