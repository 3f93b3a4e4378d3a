"""The documentation covers the public API, and every page is reachable."""

import re
from pathlib import Path

import skquant
import skquant.design
import skquant.metrics

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
    public |= _public(skquant.metrics) | _public(skquant.design)
    assert public - entries == set(), "add these to doc/api.rst"
    for entry in entries:  # and nothing that does not exist
        module, name = entry.rsplit(".", 1)
        obj = {"skquant": skquant, "skquant.metrics": skquant.metrics,
               "skquant.design": skquant.design}[module]
        assert hasattr(obj, name), entry


def test_every_page_is_in_a_toctree():
    toctrees = ""
    for page in DOC.glob("*.rst"):
        toctrees += page.read_text(encoding="utf-8")
    listed = set(re.findall(r"^   ([\w/]+)$", toctrees, re.M))
    pages = {p.stem for p in DOC.glob("*.rst")} - {"index", "sg_execution_times"}
    assert pages - listed == set(), "add these pages to a toctree"
