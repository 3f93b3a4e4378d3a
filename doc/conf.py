"""Sphinx configuration of the skquant documentation.

Build (from the repository root, after ``pip install ".[doc]"``)::

    sphinx-build -W -b html doc doc/_build/html

The gallery runs every ``examples/plot_*.py`` script and renders its output and figures.
"""

import re
import sys
from pathlib import Path

from sphinx.util import logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # document the checkout even when it is not installed
sys.path.insert(0, str(HERE / "_ext"))  # the project's own Sphinx extensions

import skquant  # noqa: E402

project = "skquant"
author = "the skquant developers"
copyright = "the skquant developers"
release = version = skquant.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "mathml",  # doc/_ext/mathml.py
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- math ------------------------------------------------------------------------------
# Formulas are converted to MathML when the pages are built (doc/_ext/mathml.py, with
# latex2mathml) and drawn by the browser itself: the pages load no MathJax, so they
# work without network access. tests/test_docs.py checks that no page asks for a remote
# script.
html_math_renderer = "mathml"
templates_path = []
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"  # `x` in a docstring is code, not a broken cross-reference

# -- API reference -------------------------------------------------------------------
autosummary_generate = True
# methods from skquant's own base classes are shown; scikit-learn's generic machinery
# (get_params, set_output, metadata routing) is documented by scikit-learn, and
# torch.nn.Module's (skquant.torch) by PyTorch
autodoc_default_options = {
    "members": True,
    "inherited-members": "BaseEstimator, TransformerMixin, _MetadataRequester, "
                         "_SetOutputMixin, ClassNamePrefixFeaturesOutMixin, Module",
    "exclude-members": "set_fit_request, set_transform_request, "
                       "set_inverse_transform_request, set_score_request, "
                       "set_partial_fit_request, "
                       "get_metadata_routing, set_output",
}
autodoc_typehints = "none"
numpydoc_show_class_members = False  # the class page lists its methods itself
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()

# -- doctest builder (sphinx-build -b doctest doc doc/_build/doctest) ------------------
doctest_global_setup = "import numpy as np\nimport skquant"

# -- gallery ---------------------------------------------------------------------------
# The examples fit many small scikit-learn models; on a busy machine several BLAS
# threads per fit make them many times slower, so the build uses one.
try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
    pass

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every plot_*.py and capture its figures
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "plot_gallery": "True",
    "within_subsection_order": "FileNameSortKey",
    # the execution-time tables load jQuery and DataTables from CDNs; the pages must
    # work offline
    "write_computation_times": False,
    # never print the repr of a matplotlib object that ends a cell ("<... at 0x...>");
    # tests/test_examples.py checks the examples end no cell with one anyway
    "ignore_repr_types": r"matplotlib[.]",
}

# -- HTML ------------------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
        # the wide table of the KBinsDiscretizer page gets the right-hand column too
        "secondary_sidebar_items": {"**": ["page-toc"], "kbins_migration": []},
    }
except ImportError:  # the default theme works too
    html_theme = "alabaster"
html_title = f"skquant {release}"
html_static_path = ["_static"]
html_css_files = ["skquant.css"]  # math layout, wrapping literals in tables
html_show_sourcelink = False

# -- pages written as their estimators land ---------------------------------------------
# The toctrees of index.rst and user_guide.rst name every page the project plans. While
# an estimator is still being written its page does not exist yet; such toctree entries
# are dropped when the page is read, with an info message, so the build stays free of
# warnings. Once every page exists this does nothing.
_logger = logging.getLogger(__name__)


def _drop_missing_toctree_entries(app, docname, source):
    if docname not in ("index", "user_guide"):
        return
    kept = []
    in_toctree = False
    for line in source[0].splitlines(keepends=True):
        entry = line.strip()
        if line.startswith(".. toctree::"):
            in_toctree = True
        elif in_toctree and entry and not line.startswith("   "):
            in_toctree = False
        if in_toctree and line.startswith("   ") and entry and not entry.startswith(":"):
            if not (HERE / f"{entry}.rst").exists() and "/" not in entry:
                _logger.info(f"[skquant] {docname}: page {entry!r} not written yet, skipped")
                continue
        kept.append(line)
    source[0] = "".join(kept)


# -- docstrings ------------------------------------------------------------------------
# In reST, "n_features_in_" outside a literal is a hyperlink reference: fitted-attribute
# names in numpydoc type specs ("ndarray of shape (n_features_in_,)") are made literals
# before numpydoc renders the docstring.
_PARAM_LINE = re.compile(r"^(\s*\*{0,2}\w+\s+:\s+)(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _literal_attribute_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match:
            head, spec = match.groups()
            lines[i] = head + _TRAILING_UNDERSCORE.sub(r"``\1``", spec)


def setup(app):
    app.connect("source-read", _drop_missing_toctree_entries)
    app.connect("autodoc-process-docstring", _literal_attribute_names, priority=100)
