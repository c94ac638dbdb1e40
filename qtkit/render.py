"""An answer as the site shows it: HTML from the collection's one-line Markdown with math.

The answer's literal two-character `\\n` become line breaks and paragraphs (except where
one starts a LaTeX command such as `\\nabla` inside math: `answers.decode_answer`), then
markdown-it-py renders GitHub-flavoured Markdown (tables, strikethrough, code fences) with
raw HTML disabled, so an answer can never inject markup. Math in `$..$`, `$$..$$`,
`\\(..\\)` and `\\[..\\]` becomes MathML on the server (latex2mathml), checked against a
list of MathML elements and attributes before it is trusted; math it cannot convert is
shown as its escaped source. A lone currency amount (`$5`) stays text.
"""

from __future__ import annotations

import functools
import html
import xml.etree.ElementTree as ET

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin

from .answers import decode_answer

MATHML_NS = "http://www.w3.org/1998/Math/MathML"
_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup munder mover munderover mfrac msqrt mroot mstyle "
    "merror mpadded mphantom mfenced menclose mtable mtr mtd mlabeledtr maligngroup malignmark semantics "
    "annotation mmultiscripts mprescripts none".split())
_ATTRIBUTES = frozenset(
    "display mathvariant mathsize mathcolor stretchy fence separator separators lspace rspace linethickness "
    "columnalign columnlines columnspacing rowspacing rowlines rowalign frame framespacing equalrows "
    "equalcolumns displaystyle scriptlevel width height depth accent accentunder movablelimits largeop "
    "symmetric minsize maxsize open close notation form align encoding".split())


def _safe_mathml(markup: str) -> str | None:
    """`markup` re-serialised if it is MathML made only of known elements and attributes
    (no script, no links, no event handlers), else None."""
    try:
        root = ET.fromstring(markup)
    except ET.ParseError:
        return None
    for node in root.iter():
        tag = node.tag.rpartition("}")[2] if isinstance(node.tag, str) else ""
        if tag not in _ELEMENTS or not str(node.tag).startswith(("{" + MATHML_NS + "}", tag)):
            return None
        if any(name not in _ATTRIBUTES for name in node.attrib):
            return None
    ET.register_namespace("", MATHML_NS)
    return ET.tostring(root, encoding="unicode", short_empty_elements=False)


@functools.lru_cache(maxsize=8192)
def math_html(latex: str, display: bool) -> str:
    """MathML for a LaTeX formula, or its escaped source in `<code class="math-error">`."""
    from latex2mathml.converter import convert

    try:
        markup = _safe_mathml(convert(latex, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds of errors for malformed input
        markup = None
    if markup is None:
        open_, close = ("\\[", "\\]") if display else ("\\(", "\\)")
        return f'<code class="math-error" title="not rendered">{html.escape(open_ + latex + close)}</code>'
    return f'<div class="math">{markup}</div>' if display else markup


def _display_brackets(state: StateInline, silent: bool) -> bool:
    """`\\[ .. \\]` inside a paragraph (texmath's bracket rule takes it only as a block)."""
    src, pos = state.src, state.pos
    if not src.startswith("\\[", pos):
        return False
    end = src.find("\\]", pos + 2)
    if end < 0 or not src[pos + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline_double", "math", 0)
        token.content = src[pos + 2 : end]
        token.markup = "\\["
    state.pos = end + 2
    return True


@functools.lru_cache(maxsize=1)
def markdown() -> MarkdownIt:
    """The Markdown renderer: CommonMark + tables + strikethrough, raw HTML off, `\\n` -> `<br>`, math."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
    md.enable(["table", "strikethrough"])
    md.use(texmath_plugin, delimiters="brackets")
    md.use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True)
    md.inline.ruler.before("escape", "math_display_brackets", _display_brackets)
    inline = lambda self, tokens, idx, options, env: math_html(tokens[idx].content, False)  # noqa: E731
    block = lambda self, tokens, idx, options, env: math_html(tokens[idx].content, True) + "\n"  # noqa: E731
    for name in ("math_inline",):
        md.add_render_rule(name, inline)
    for name in ("math_inline_double", "math_block", "math_block_eqno", "math_single"):
        md.add_render_rule(name, block)
    return md


def answer_html(answer: object) -> str:
    """The HTML of an answer as stored in the front matter (one line, literal `\\n`);
    anything but a string renders as nothing."""
    if not isinstance(answer, str) or not answer.strip():
        return ""
    return markdown().render(decode_answer(answer, tight_math=True))


def title_html(title: object) -> str:
    """A title with its inline math rendered (titles hold `\\( x^2 \\)` too), no other markup."""
    if not isinstance(title, str):
        return ""
    return markdown().renderInline(" ".join(title.split()))
