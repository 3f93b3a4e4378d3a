"""Render the math of the documentation as MathML when the HTML is built.

``sphinx.ext.mathjax`` writes the LaTeX into the page and loads MathJax from a CDN, so
the formulas stay raw LaTeX without network access. This extension converts each
formula with latex2mathml (pure Python, part of the ``doc`` extra) into MathML, which
browsers render natively: the pages need no script, no font and no network.

A formula latex2mathml cannot convert, or one left with an unknown command (it keeps
those as text, e.g. ``\\foo``), is a build warning, so ``sphinx-build -W`` fails on it.
"""

import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.locale import _
from sphinx.util import logging
from sphinx.util.math import get_node_equation_number

logger = logging.getLogger(__name__)

_TEXT = re.compile(r"<mtext>(.*?)</mtext>", re.DOTALL)
_ESCAPED = re.compile(r"\\([_%&$#{}])")
_LEFT_OVER = re.compile(r">[^<]*\\[A-Za-z]+[^<]*<")


def to_mathml(latex, display, location=None):
    """MathML of ``latex`` (``display="block"`` or ``"inline"``); warns and returns
    the escaped LaTeX if it cannot be converted."""
    try:
        mathml = convert(latex, display=display)
    except Exception as exc:  # noqa: BLE001 - latex2mathml raises several types
        logger.warning(f"[mathml] cannot convert {latex!r}: {exc}", location=location)
        return None
    # \_ and friends inside \text{...} are kept escaped by latex2mathml
    mathml = _TEXT.sub(lambda m: "<mtext>" + _ESCAPED.sub(r"\1", m.group(1)) + "</mtext>", mathml)
    left = _LEFT_OVER.findall(mathml)
    if left:
        logger.warning(f"[mathml] unknown command in {latex!r}: {left[0][1:-1]}",
                       location=location)
    return mathml


def _visit_math(self, node):
    mathml = to_mathml(node.astext(), "inline", node)
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(self.encode(node.astext()) if mathml is None else mathml)
    self.body.append("</span>")
    raise nodes.SkipNode


def _visit_displaymath(self, node):
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    if node["number"]:
        number = get_node_equation_number(self, node)
        self.body.append(f'<span class="eqno">({number})')
        self.add_permalink_ref(node, _("Link to this equation"))
        self.body.append("</span>")
    for part in (p for p in node.astext().split("\n\n") if p.strip()):
        latex = rf"\begin{{split}}{part}\end{{split}}" if r"\\" in part else part
        mathml = to_mathml(latex, "block", node)
        self.body.append(self.encode(part) if mathml is None else mathml)
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer(
        "mathml",
        inline_renderers=(_visit_math, None),
        block_renderers=(_visit_displaymath, None),
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
