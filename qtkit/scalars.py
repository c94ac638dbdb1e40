"""Render values as YAML text in the style of the value they replace.

A string keeps its old style (plain, quoted, folded, literal) when that style can carry
it; otherwise it takes the nearest style that can. Every candidate is checked by parsing
it back; the first one that reads back as the same value wins. ruamel.yaml's emitter
decides where plain is allowed and writes double-quoted escapes; its YAML 1.2 resolver,
with PyYAML's 1.1 one, makes sure a plain string never reads as a number, date or bool.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import re
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from .errors import EditError
from .yamlio import LOADER, same

PLAIN, SINGLE, DOUBLE, FOLDED, LITERAL = "plain", "single", "double", "folded", "literal"
_BLOCK_START = {FOLDED: ">", LITERAL: "|"}
_FALLBACK = {
    PLAIN: (PLAIN, SINGLE, DOUBLE),
    SINGLE: (SINGLE, DOUBLE),
    DOUBLE: (DOUBLE,),
    FOLDED: (FOLDED, LITERAL, DOUBLE),
    LITERAL: (LITERAL, FOLDED, DOUBLE),
}


@dataclass(frozen=True)
class Style:
    """How a scalar is written: its kind and, for block scalars, content indentation."""

    kind: str = PLAIN
    indent: int = 4  # absolute column of block-scalar content lines

    @classmethod
    def of_header(cls, header: str, indent: int) -> "Style":
        """The style of an existing value from the text after `key:`."""
        head = header.lstrip(" ")
        first = head[:1]
        if first == ">":
            return cls(FOLDED, indent)
        if first == "|":
            return cls(LITERAL, indent)
        if first == "'":
            return cls(SINGLE, indent)
        if first == '"':
            return cls(DOUBLE, indent)
        return cls(PLAIN, indent)


_ruamel = YAML()
_ruamel.width = 2**30  # never wrap a double-quoted line
_ruamel.allow_unicode = True
_ruamel.serializer  # noqa: B018 - the emitter's scalar analysis consults it
_emitter = _ruamel.emitter
_resolver12 = VersionedResolver(version=(1, 2))
_resolver11 = yaml.resolver.Resolver()
_representer = yaml.representer.SafeRepresenter()
_STR_TAG = "tag:yaml.org,2002:str"


def render(
    value: Any, style: Style, key_indent: int, nl: str = "\n", child_indent: int | None = None,
    kinds: dict[str, str] | None = None,
) -> str:
    """Text that follows `key:` for `value`, ending with a line break.

    Mappings become block mappings with keys at `child_indent` (default: two deeper than
    the key) and their block scalars as deep again below those keys, as in the house
    format (`seo` at 2 with text at 4; `related_articleN` at 4 with text at 8). Lists
    become block sequences; `kinds` gives a mapping's string values their styles by key.
    Raises `EditError` for values YAML cannot hold exactly.
    """
    if isinstance(value, dict):
        return _render_mapping(value, key_indent, child_indent or key_indent + 2, nl, kinds)
    if isinstance(value, (list, tuple)):
        return _render_sequence(list(value), key_indent + 2, nl)
    if isinstance(value, str):
        if style.kind in (PLAIN, FOLDED) and _SAFE_TEXT.match(value) and value.casefold() not in _WORDS \
                and not ambiguous(value):
            # letters, digits and harmless punctuation: plain and folded need no checks
            # (and the whole document is parsed again before it is written)
            return " " + value + nl if style.kind == PLAIN else " >-" + nl + " " * style.indent + value + nl
        key = (value, style.kind, style.indent, nl)
        text = _rendered.get(key)
        if text is not None:
            return text
        for kind in _FALLBACK[style.kind]:
            text = _render_string(value, kind, style.indent, nl)
            if text is not None and _reads_back(text, value):
                if len(_rendered) >= 65536:
                    _rendered.clear()
                _rendered[key] = text
                return text
        raise EditError(f"cannot write string {value!r:.40} as YAML")  # pragma: no cover
    return " " + scalar_token(value) + nl


_SAFE_TEXT = re.compile(r"[A-Za-z/][A-Za-z0-9 ,.?!()'/_&+%-]*[A-Za-z0-9.?!)'/_%-]\Z")
_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "none"}

#: Plain scalars that some YAML 1.1 or 1.2 reader (PyYAML, libyaml-based generators, Go's
#: yaml.v2, js-yaml, SnakeYAML) takes for something other than a string: the YAML 1.1 type
#: regexps (bool with y/n, null, int in bases 2/8/10/16/60 with `_`, float with `.inf`,
#: timestamps, merge `<<` and value `=`) and the 1.2 core schema's `0o`/`0x` numbers. A
#: string that matches is never written plain, whatever the resolvers at hand say.
AMBIGUOUS = re.compile(
    r"""(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
        |~|null|Null|NULL|<<|=
        |[-+]?(?:0b[0-1_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-9_]+)*)
        |[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
        |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
        |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
            (?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?
        )\Z""",
    re.VERBOSE,
)


def ambiguous(value: str) -> bool:
    """True if some YAML 1.1 or 1.2 reader would read `value`, written plain, as a
    non-string (a bool, null, number, date, merge key)."""
    return AMBIGUOUS.match(value) is not None

# strings already rendered and verified (relink writes the same titles and urls many times)
_rendered: dict[tuple[str, str, int, str], str] = {}


def scalar_token(value: Any) -> str:
    """The plain YAML token for a non-string scalar (int, float, bool, None, date)."""
    if value is None or isinstance(value, (bool, int, float, _dt.date)):
        return _representer.represent_data(value).value
    raise EditError(f"cannot store a {type(value).__name__} in front matter")


def plain_ok(value: str) -> bool:
    """True if `value` can be written as a plain scalar and read back as the same string."""
    if not value or value != value.strip() or "\n" in value or ambiguous(value):
        return False
    analysis = _emitter.analyze_scalar(value)
    if not analysis.allow_block_plain or analysis.multiline:
        return False
    if _resolver12.resolve(ScalarNode, value, (True, False)) != _STR_TAG:
        return False
    return _resolver11.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG


def double_quoted(value: str) -> str:
    """`value` as one double-quoted YAML line, escapes written by ruamel.yaml."""
    out = io.StringIO()
    _ruamel.dump(DoubleQuotedScalarString(value), out)
    text = out.getvalue()
    return text[: text.rindex('"') + 1]


@functools.lru_cache(maxsize=4096)
def key_token(key: str) -> str:
    """A mapping key as YAML: plain where safe, else double-quoted."""
    return key if plain_ok(key) and ": " not in key and " #" not in key else double_quoted(key)


def _render_string(value: str, kind: str, indent: int, nl: str) -> str | None:
    if kind == PLAIN:
        return " " + value + nl if plain_ok(value) else None
    if kind == SINGLE:
        if "\n" in value or not _emitter.analyze_scalar(value).allow_single_quoted:
            return None
        return " '" + value.replace("'", "''") + "'" + nl
    if kind == DOUBLE:
        return " " + double_quoted(value) + nl
    return _render_block(value, kind, indent, nl)


def _render_block(value: str, kind: str, indent: int, nl: str) -> str | None:
    body = value.rstrip("\n")
    trailing = len(value) - len(body)
    if not value:
        return " " + _BLOCK_START[kind] + "-" + nl
    if not body or body[0] in " \t" or re.search(r"\n[ \t]", body) and kind == FOLDED:
        return None
    chomp = "-" if trailing == 0 else ("" if trailing == 1 else "+")
    if kind == FOLDED:
        # A run of k line breaks is written as k+1, since one lone break folds to a space.
        body = re.sub(r"\n+", lambda m: m.group() + "\n", body)
    pad = " " * indent
    lines = [(pad + line if line else "") for line in body.split("\n")]
    lines.extend([""] * (trailing - 1 if trailing > 1 else 0))
    return " " + _BLOCK_START[kind] + chomp + nl + "".join(line + nl for line in lines)


def _reads_back(text: str, value: Any) -> bool:
    try:
        loaded = yaml.load("k:" + text, Loader=LOADER)
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and same(loaded.get("k"), value)


def _render_mapping(mapping: dict, key_indent: int, indent: int, nl: str, kinds: dict | None = None) -> str:
    if not mapping:
        return " {}" + nl
    if all(type(v) in (str, int) for v in mapping.values()):
        # a mapping of strings and ints (a related block): the same block is written into
        # many files, so its text is kept
        memo = (tuple(mapping.items()), key_indent, indent, nl, tuple(kinds.items()) if kinds else ())
        text = _mappings.get(memo)
        if text is None:
            text = _render_entries(mapping, key_indent, indent, nl, kinds)
            if len(_mappings) >= 65536:
                _mappings.clear()
            _mappings[memo] = text
        return text
    return _render_entries(mapping, key_indent, indent, nl, kinds)


_mappings: dict[tuple, str] = {}


def _render_entries(mapping: dict, key_indent: int, indent: int, nl: str, kinds: dict | None) -> str:
    pad = " " * indent
    text_indent = indent + (indent - key_indent)
    parts = [nl]
    for key, val in mapping.items():
        if not isinstance(key, str):
            raise EditError(f"mapping keys must be strings, got {key!r}")
        kind = (kinds or {}).get(key, PLAIN)
        parts.append(pad + key_token(key) + ":" + render(val, Style(kind, text_indent), indent, nl))
    return "".join(parts)


def _render_sequence(items: list, indent: int, nl: str) -> str:
    if not items:
        return " []" + nl
    pad = " " * indent
    parts = [nl]
    for item in items:
        if isinstance(item, (dict, list, tuple)):
            raise EditError("lists may hold only scalars; use a mapping for nested data")
        parts.append(pad + "-" + render(item, Style(PLAIN, indent + 2), indent, nl))
    return "".join(parts)
