"""A fast front-matter reader for indexing the whole collection.

It decodes the shapes the house format uses (plain and single-line quoted scalars,
`>-`/`|` block scalars without blank lines, nested mappings) about ten times faster than
libyaml, and hands anything else to the full parser (`Document`, PyYAML's CSafeLoader).
It either returns exactly what the full parse returns or defers to it: it never guesses.
"""

from __future__ import annotations

import datetime as _dt
import re
import string
from typing import Any

import yaml

from .document import BOM, MAX_DEPTH, Document, decode

_KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYS_SEEN: set[str] = set()  # key names already validated
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_FIRST_BAD = set("-?:,[]{}#&*!|>'\"%@`")
_SPECIAL_KEYS = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
                 "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"}
_resolver = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_plain_cache: dict[str, Any] = {}
# first characters of plain scalars that no implicit resolver (bool, int, null, ...) claims
_STR_FIRST = frozenset(string.ascii_letters + "/()_$^~<=.+") - set(_resolver.yaml_implicit_resolvers) - _PLAIN_FIRST_BAD


class _Defer(Exception):
    """This file needs the full parser."""


def read(raw: bytes, path: Any = None, where: list | None = None) -> tuple[dict, str]:
    """Front matter and body of a question file; the same values as a full YAML parse.

    With `where` (an empty list), the position of every key is appended to it (see
    `read_fast`); if the full parser's keys cannot be matched to lines, `where` is left
    holding a single None.
    Raises `ParseError` (with line and column) for files the full parser rejects.
    """
    fast = read_fast(raw, path, None, where)
    if fast is not None:
        return fast
    doc = Document(raw, path)
    data = doc.to_dict()
    if where is not None:
        where.clear()
        where.extend(_document_lines(doc, data))
    return data, doc.body


def read_fast(raw: bytes, path: Any = None, dates: list | None = None,
              where: list | None = None) -> tuple[dict, str] | None:
    """`read` for the shapes the fast path knows, else None.

    Its values are only str, int, finite float, date, None and str-keyed dicts; the key
    path of every date is appended to `dates` when it is given. With `where`, the file
    position of every key, in the order of a depth-first walk of the returned mappings,
    is appended to it: its 1-based line, followed by minus its column where that is not
    1 (what `key_lines` reads back from the numbers joined by commas).
    """
    text = decode(raw, path)
    if text.startswith(BOM):
        text = text[1:]
    end = front_end(text)
    if end is None:
        return None
    front = text[4:end]
    if not _printable(raw, front):
        return None
    try:
        return _mapping(front, (), dates, where), text[end + 4 :]
    except _Defer:
        if where:
            where.clear()
        return None


def read_entries(text: str, dates: list | None = None) -> dict | None:
    """The entries of a run of whole front-matter lines that start at column 0, read as
    `read_fast` reads a whole front matter (None where it would defer)."""
    if not _printable(text.encode("utf-8"), text):
        return None
    try:
        return _mapping(text, (), dates)
    except _Defer:
        return None


def front_end(text: str) -> int | None:
    """Where the closing `---` line starts in text (BOM removed) that opens with a plain
    `---` line, or None for shapes the fast path leaves to the full parser."""
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---", 3)
    while end != -1:
        after = end + 4
        if text[after : after + 1] in (" ", "\t", "\r"):
            return None  # a delimiter with trailing blanks: let the full parser decide
        if after == len(text) or text[after] == "\n":
            return end + 1
        end = text.find("\n---", after)
    return None


_ASCII_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"


def _printable(raw: bytes, front: str) -> bool:
    """No tab, CR, control or line-separator characters (those go to the full parser)."""
    if raw.isascii():
        return not raw.translate(None, _ASCII_PRINTABLE)
    return front.replace("\n", "").isprintable()


_ENTRY_SPLIT = re.compile(r"\n(?! )")
_INDENT = re.compile(" *")


def _mapping(text: str, path: tuple = (), dates: list | None = None, where: list | None = None,
             line: int = 2, col: int = 1) -> dict:
    """Decode `text` (no leading indent, lines joined by newlines) as a block mapping.

    Entries are split where a line starts at column 0, so each piece is one key with its
    more-indented continuation lines; anything the house format does not use is deferred.
    `text` starts at file `line` and column `col` (for the positions put in `where`).
    """
    if len(path) >= MAX_DEPTH:
        raise _Defer  # the full parser refuses such depth with a clear message
    out: dict = {}
    for piece in _ENTRY_SPLIT.split(text):
        if not piece:
            line += 1
            continue  # a blank line between entries (or the final newline)
        head, _, tail = piece.partition("\n")
        key, colon, rest = head.partition(":")
        if key not in _KEYS_SEEN:
            if not colon or not _KEY_NAME.fullmatch(key) or key in _SPECIAL_KEYS:
                raise _Defer  # a comment, list, document marker, or a blank line inside a value
            if len(_KEYS_SEEN) < 1024:
                _KEYS_SEEN.add(key)
        if key in out:
            raise _Defer
        if rest:
            if rest[0] != " ":
                raise _Defer
            rest = rest.lstrip(" ")
        if where is not None:
            where.append(line)
            if col != 1:
                where.append(-col)
            below, line = line + 1, line + piece.count("\n") + 1
        if not rest:
            if not tail:
                out[key] = None
            elif where is None:
                out[key] = _mapping(_dedent(tail), (*path, key), dates)
            else:
                width = _INDENT.match(tail).end()  # type: ignore[union-attr]
                out[key] = _mapping(_dedent(tail), (*path, key), dates, where, below, col + width)
        elif rest[0] in ">|":
            out[key] = _block(rest, tail)
        elif tail:
            raise _Defer  # multi-line plain or quoted scalar
        else:
            out[key] = value = _scalar(rest)
            if dates is not None and type(value) is _dt.date:
                dates.append([*path, key])
    return out


def fast_positions(raw: bytes) -> list[int] | None:
    """The positions `read_fast(raw, where=...)` records, for bytes the fast reader is
    known to accept (it does not check values again: cheaper), or None if the front
    matter is not in the fast reader's shape."""
    text = raw.decode("utf-8")
    if text.startswith(BOM):
        text = text[1:]
    end = front_end(text)
    if end is None:
        return None
    where: list[int] = []
    _positions(text[4:end], where, 2, 1)
    return where


def _positions(text: str, where: list, line: int, col: int) -> None:
    for piece in _ENTRY_SPLIT.split(text):
        if not piece:
            line += 1
            continue
        head, _, tail = piece.partition("\n")
        where.append(line)
        if col != 1:
            where.append(-col)
        if tail and not head.partition(":")[2].strip(" "):
            width = _INDENT.match(tail).end()  # type: ignore[union-attr]
            _positions(_dedent(tail), where, line + 1, col + width)
        line += piece.count("\n") + 1


def _document_lines(doc: Document, data: dict) -> list:
    """`where` for a file the full parser read: its entries' positions, when its entries
    are exactly the keys of `data` in the same order ([None] otherwise: anchors, merge
    keys, flow mappings or anything else the structure does not mirror)."""
    out: list = []
    names: list = []
    stack = [iter(doc._root.entries())] if not doc._unsupported else []
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        out.append(entry.lineno + 2)
        if entry.indent:
            out.append(-entry.indent - 1)
        names.append((len(stack), entry.key))
        if entry.children is not None:
            stack.append(iter(entry.children.entries()))
    return out if names == _walk_names(data) else [None]


def _walk_names(data: dict) -> list:
    """(depth, key) of every key of nested mappings, depth first, in order."""
    out: list = []
    stack = [iter(data.items())]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        out.append((len(stack), item[0]))
        if isinstance(item[1], dict):
            stack.append(iter(item[1].items()))
    return out


def key_lines(data: dict, lines: str, wanted: Any = None) -> dict[tuple, tuple[int, int]] | None:
    """(line, col) of every key path of `data` (`("seo", "title")`), or only of those in
    `wanted`, from the positions `read_fast` recorded (`lines` as the index stores them:
    joined by commas). Data from the index cache has its keys in file order, so the n-th
    key of a depth-first walk is at the n-th position; None if the counts disagree."""
    spots: list[tuple[int, int]] = []
    for token in lines.split(",") if lines else ():
        number = int(token)
        if number > 0:
            spots.append((number, 1))
        elif spots:
            spots[-1] = (spots[-1][0], -number)
    paths: list[tuple] = []
    _key_paths(data, (), paths)
    if len(paths) != len(spots):
        return None
    if wanted is None:
        return dict(zip(paths, spots))
    return {path: spot for path, spot in zip(paths, spots) if path in wanted}


def _key_paths(node: dict, prefix: tuple, out: list) -> None:
    for key, value in node.items():
        path = (*prefix, key)
        out.append(path)
        if isinstance(value, dict):
            _key_paths(value, path, out)


def _dedent(tail: str) -> str:
    """Continuation lines with their common indent removed (every line must have it)."""
    width = _INDENT.match(tail).end()  # type: ignore[union-attr]
    if "\n" not in tail:
        return tail[width:]
    tail = "\n" + tail
    pad = "\n" + " " * width
    if tail.count(pad) != tail.count("\n"):
        raise _Defer  # a line indented less than the first one
    return tail.replace(pad, "\n")[1:]


def _block(header: str, tail: str) -> str:
    if header not in (">-", "|-", ">", "|") or not tail:
        raise _Defer
    text = _dedent(tail)
    if not text or text[0] == " " or ("\n" in text and ("\n " in text or "\n\n" in text or text[-1] == "\n")):
        raise _Defer  # blank or more-indented lines: leave folding rules to the parser
    if header[0] == ">":
        text = text.replace("\n", " ")
    return text if header.endswith("-") else text + "\n"


_MISS = object()


def _scalar(rest: str) -> Any:
    short = len(rest) < 32  # short values repeat (subject, seo.title, score, dates): cache them
    if short:
        cached = _plain_cache.get(rest, _MISS)
        if cached is not _MISS:
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
    if first in _STR_FIRST and not rest[-1].isspace() and rest[-1] != ":" and ": " not in rest and " #" not in rest:
        return rest  # no implicit type starts with this character: a plain string
    if first in "123456789" and rest.isdigit() and rest.isascii():
        return int(rest)  # a decimal integer (ids): what the resolver would say, without asking it
    value = _plain(rest)
    if short and len(_plain_cache) < 4096:
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
