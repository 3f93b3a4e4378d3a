"""numpydoc validation of every public docstring.

scikit-learn's ``sklearn/tests/test_docstrings.py`` is the model: every public class,
its public methods and every public function of skquant's public modules pass
``numpydoc.validate``, except for the checks listed in ``IGNORED``.
"""

import dataclasses
import importlib
import inspect

import pytest

validate = pytest.importorskip("numpydoc.validate")
docscrape = pytest.importorskip("numpydoc.docscrape")

import skquant  # noqa: E402

# Not required on every object, as in scikit-learn: an extended summary (ES01), a
# See Also (SA01) or Examples section (EX01) everywhere, a summary starting on the
# first line (GL01) or ending its docstring without a blank line (GL02), a summary
# that is one infinitive verb phrase (SS05), return descriptions in the active voice
# (RT02), and a docstring on an attribute that is not a function (GL08).
IGNORED = {"GL01", "GL02", "ES01", "SA01", "EX01", "SS05", "RT02", "GL08"}

PUBLIC_MODULES = ["skquant.design", "skquant.metrics", "skquant.dask", "skquant.onnx",
                  "skquant.torch"]


def _public_objects():
    names = []
    for name in skquant.__all__:
        obj = getattr(skquant, name)
        if inspect.ismodule(obj):
            continue
        names.append(f"{obj.__module__}.{obj.__qualname__}")
        if inspect.isclass(obj):
            for attr in dir(obj):
                member = getattr(obj, attr, None)
                if attr.startswith("_") or not callable(member) or inspect.isclass(member):
                    continue
                if not getattr(member, "__module__", "").startswith("skquant"):
                    continue  # scikit-learn's own methods (get_params, ...)
                names.append(f"{obj.__module__}.{obj.__qualname__}.{attr}")
    for modname in PUBLIC_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:  # an optional extra that is not installed
            continue
        public = getattr(mod, "__all__", None) or [
            attr for attr, obj in vars(mod).items()
            if not attr.startswith("_") and getattr(obj, "__module__", None) == modname
        ]
        for attr in public:
            obj = getattr(mod, attr)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                names.append(f"{modname}.{attr}")
    return sorted(set(names))


def _record_fields(obj):
    """The fields of a named tuple or dataclass, documented as its Attributes."""
    if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields"):
        return set(obj._fields)
    if dataclasses.is_dataclass(obj):
        return {f.name for f in dataclasses.fields(obj)}
    return None


def _resolve(name):
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def test_the_public_objects_are_found():
    names = _public_objects()
    assert "skquant._lloyd_max.LloydMaxQuantizer.fit" in names
    assert "skquant.metrics.normalized_mse" in names
    assert len(names) > 50


@pytest.mark.parametrize("name", _public_objects())
def test_docstring(name):
    result = validate.validate(name)
    errors = [(code, msg) for code, msg in result["errors"] if code not in IGNORED]
    fields = _record_fields(_resolve(name))
    if fields is not None:
        # a record's constructor parameters are its fields: documented as Attributes
        documented = {p.name for p in docscrape.NumpyDocString(
            inspect.getdoc(_resolve(name)))["Attributes"]}
        assert fields <= documented, f"{name}: fields {fields - documented} not documented"
        errors = [(code, msg) for code, msg in errors if code != "PR01"]
    assert not errors, "\n".join(f"{name} {code}: {msg}" for code, msg in errors)
