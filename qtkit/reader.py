"""A fast front-matter reader for indexing the whole collection.

It decodes the shapes the house format uses (plain and single-line quoted scalars,
`>-`/`|` block scalars without blank lines, nested mappings) about ten times faster than
libyaml, and hands anything else to the full parser (`Document`, PyYAML's CSafeLoader).
It either returns exactly what the full parse returns or defers to it: it never guesses.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import yaml

from .document import BOM, Document, decode

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(?: +|$)")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_FIRST_BAD = set("-?:,[]{}#&*!|>'\"%@`")
_SPECIAL_KEYS = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
                 "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"}
_resolver = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_plain_cache: dict[str, Any] = {}


class _Defer(Exception):
    """This file needs the full parser."""


def read(raw: bytes, path: Any = None) -> tuple[dict, str]:
    """Front matter and body of a question file; the same values as a full YAML parse.

    Raises `ParseError` (with line and column) for files the full parser rejects.
    """
    text = decode(raw, path)
    if text.startswith(BOM):
        text = text[1:]
    if text.startswith("---\n"):
        end = text.find("\n---", 3)
        while end != -1:
            after = end + 4
            if text[after : after + 1] in (" ", "\t", "\r"):
                break  # a delimiter with trailing blanks: let the full parser decide
            if after == len(text) or text[after] == "\n":
                front = text[4 : end + 1]
                if _printable(raw, front):
                    lines = front.split("\n")
                    try:
                        data = _mapping(lines, 0, len(lines) - 1) if len(lines) > 1 else {}
                        return data, text[after + 1 :]
                    except _Defer:
                        pass
                break
            end = text.find("\n---", after)
    doc = Document(raw, path)
    return doc.to_dict(), doc.body


_ASCII_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"


def _printable(raw: bytes, front: str) -> bool:
    """No tab, CR, control or line-separator characters (those go to the full parser)."""
    if raw.isascii():
        return not raw.translate(None, _ASCII_PRINTABLE)
    return front.replace("\n", "").isprintable()


def _mapping(lines: list[str], i: int, n: int) -> dict:
    """Decode lines[i:n] as a block mapping whose keys share the first line's indent."""
    out: dict = {}
    first = lines[i]
    ind = len(first) - len(first.lstrip(" "))
    pad = " " * (ind + 1)
    while i < n:
        line = lines[i]
        if not line:
            i += 1
            continue
        m = _KEY.match(line, ind)
        if m is None or (ind and line[ind - 1] != " ") or line[:ind].strip():
            raise _Defer
        key = m.group(1)
        if key in out or key in _SPECIAL_KEYS:
            raise _Defer
        rest = line[m.end() :]
        j = i + 1
        while j < n and (not lines[j] or lines[j].startswith(pad)):
            j += 1
        k = j
        while k > i + 1 and not lines[k - 1]:
            k -= 1
        if not rest:
            out[key] = _mapping(lines, i + 1, k) if k > i + 1 else None
        elif rest[0] in ">|":
            out[key] = _block(rest, lines, i + 1, k)
        elif k > i + 1:
            raise _Defer  # multi-line plain or quoted scalar
        else:
            out[key] = _scalar(rest)
        i = j
    return out


def _block(header: str, lines: list[str], i: int, n: int) -> str:
    if header not in (">-", "|-", ">", "|") or i >= n:
        raise _Defer
    first = lines[i]
    ind = len(first) - len(first.lstrip(" "))
    parts = []
    for line in lines[i:n]:
        if len(line) <= ind or line[ind] == " " or line[:ind].strip():
            raise _Defer  # blank or more-indented lines: leave folding rules to the parser
        parts.append(line[ind:])
    text = (" " if header[0] == ">" else "\n").join(parts)
    return text if header.endswith("-") else text + "\n"


def _scalar(rest: str) -> Any:
    cached = _plain_cache.get(rest)
    if cached is not None or rest in _plain_cache:
        return cached
    first = rest[0]
    if first == "'":
        if len(rest) < 2 or rest[-1] != "'" or "'" in rest[1:-1].replace("''", ""):
            raise _Defer
        return rest[1:-1].replace("''", "'")
    if first == '"':
        if len(rest) < 2 or rest[-1] != '"' or '"' in rest[1:-1] or "\\" in rest:
            raise _Defer
        return rest[1:-1]
    value = _plain(rest)
    if len(_plain_cache) < 4096 and len(rest) < 100:
        _plain_cache[rest] = value
    return value


def _plain(rest: str) -> Any:
    if first_bad(rest) or rest != rest.rstrip() or ": " in rest or " #" in rest or rest.endswith(":"):
        raise _Defer
    tag = _resolver.resolve(yaml.ScalarNode, rest, (True, False))
    if tag == _STR:
        return rest
    if tag.endswith(":int") and _INT.fullmatch(rest):
        return int(rest)
    if tag.endswith(":float") and _FLOAT.fullmatch(rest):
        return float(rest)
    if tag.endswith(":timestamp") and _DATE.fullmatch(rest):
        return _dt.date.fromisoformat(rest)
    raise _Defer


def first_bad(rest: str) -> bool:
    """True if a plain scalar starting this way needs the full parser's rules."""
    if rest[0] == "-":
        return len(rest) == 1 or rest[1] in " \t"
    return rest[0] in _PLAIN_FIRST_BAD
