"""The shapes a question takes outside its file: lossless and clean records, CSV cells.

Lossless record (JSON, JSONL, CSV): every front-matter key as it is, plus two reserved
names, `$path` (the file's path relative to the root) and `$body`. A front-matter key that
itself starts with `$` is written with one more `$` (`$x` -> `$$x`), so nothing clashes.

Clean record (`--shape clean`): for consumers. The answer is real Markdown (the
collection's literal `\\n` decoded, except where it starts a LaTeX command inside math),
related links are a list `related: [{id, title, subject, url}, ...]`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

from . import links as _links
from .answers import decode_answer
from .errors import EditError
from .values import to_json

PATH, BODY = "$path", "$body"
RESERVED = (PATH, BODY)
RELATED = _links.RELATED  # one definition, in qtkit.links

# ------------------------------------------------------------------ keys


def escape_key(key: str) -> str:
    return "$" + key if key.startswith("$") else key


def unescape_key(key: str) -> str:
    """The front-matter key of a record key; reserved and unknown `$` names raise."""
    if key.startswith("$$"):
        return key[1:]
    if key.startswith("$"):
        raise EditError(f"unknown reserved name {key!r} (reserved: {', '.join(RESERVED)}; "
                        "a front-matter key starting with $ is written $$key)")
    return key


def lossless(relpath: str, data: dict, body: str) -> dict:
    """The lossless record of a question (values as in `data`: dates stay dates)."""
    record: dict[str, Any] = {PATH: relpath}
    for key, value in data.items():
        record[escape_key(key)] = value
    record[BODY] = body
    return record


# ------------------------------------------------------------------ clean shape

def related_links(data: dict) -> list[dict]:
    """`related_articleN` blocks in N order, as a list of mappings."""
    return [value for _, _, value in _links.related_blocks(data) if isinstance(value, dict)]


def clean(relpath: str, data: dict, body: str) -> dict:
    """The clean record: Markdown answer, related links as a list, no reserved escapes needed."""
    record: dict[str, Any] = {"path": relpath}
    for key, value in data.items():
        if RELATED.match(key):
            continue
        record[key] = decode_answer(value) if key == "answer" and isinstance(value, str) else value
    record["related"] = related_links(data)
    record["body"] = body
    return record


# ------------------------------------------------------------------ CSV cells

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def flatten(record: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Leaf values under dotted column names (top-level `$` keys escaped); lists and
    mappings whose keys contain dots stay whole (written as JSON)."""
    out: list[tuple[str, Any]] = []
    for key, value in record.items():
        name = prefix + key if prefix else escape_key(str(key))
        if type(value) is dict and value and _flat_keys(value):
            out.extend(flatten(value, name + "."))
        else:
            out.append((name, value))
    return out


def layout(data: dict) -> str:
    """The flattened column names of `data` joined by newlines (`flatten`'s names, faster
    for the house format's one level of nesting)."""
    parts: list[str] = []
    for key, value in data.items():
        if type(value) is dict and value:
            if type(key) is not str or key.startswith("$") or not _flat_keys(value) or any(
                type(v) is dict for v in value.values()
            ):
                return "\n".join(name for name, _ in flatten(data))
            parts.append(key + "." + ("\n" + key + ".").join(value))
        elif type(key) is str and not key.startswith("$"):
            parts.append(key)
        else:
            return "\n".join(name for name, _ in flatten(data))
    return "\n".join(parts)


def _flat_keys(mapping: dict) -> bool:
    for key in mapping:
        if type(key) is not str or "." in key:
            return False
    return True


GUARDED = FORMULA_START + ("'",)  # text that gets a leading quote in CSV


def to_cell(value: Any) -> str:
    """A value as CSV text. Strings a spreadsheet would run as a formula (or that start with
    a quote) get a leading `'`, which `from_cell` removes; other values are JSON."""
    if type(value) is str:
        return "'" + value if value.startswith(GUARDED) else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return to_json(value) if isinstance(value, float) and not math.isfinite(value) else repr(value)
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return to_cell(str(value))
    return json.dumps(to_json(value), ensure_ascii=False)


def header_cell(name: str) -> str:
    """A column name as a CSV header cell, guarded like a value (`=x` -> `'=x`)."""
    return "'" + name if name.startswith(GUARDED) else name


def from_header_cell(cell: str) -> str:
    """The column name of a CSV header cell (`header_cell` reversed)."""
    return cell[1:] if cell.startswith("'") else cell


def csv_line(cells: list[str]) -> str:
    """One CSV record (RFC 4180, every field quoted, CRLF); `csv.reader` reads it back."""
    return '"' + '","'.join([c.replace('"', '""') for c in cells]) + '"\r\n'


def from_cell(text: str, like: Any = "") -> Any:
    """A CSV cell back as a value of the type of `like` (the value it replaces)."""
    if text.startswith("'"):
        return text[1:]
    if like is None and text == "":
        return None
    if isinstance(like, bool):
        if text in ("true", "false"):
            return text == "true"
    elif isinstance(like, int):
        try:
            return int(text)
        except ValueError:
            pass
    elif isinstance(like, float):
        try:
            return float(text)
        except ValueError:
            pass
    elif isinstance(like, _dt.datetime):
        try:
            return _dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    elif isinstance(like, _dt.date):
        try:
            return _dt.date.fromisoformat(text)
        except ValueError:
            pass
    elif isinstance(like, (list, dict)):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def from_json(value: Any, like: Any) -> Any:
    """A JSON value back as the type of `like` where JSON lost it (dates, NaN)."""
    if isinstance(value, str):
        if isinstance(like, _dt.datetime):
            try:
                return _dt.datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(like, _dt.date):
            try:
                return _dt.date.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(like, float) and value in ("nan", "inf", "-inf"):
            return float(value)
    if isinstance(value, dict) and isinstance(like, dict):
        return {k: from_json(v, like.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(like, list):
        return [from_json(v, like[i] if i < len(like) else None) for i, v in enumerate(value)]
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(like, float):
        return float(value)
    return value
