"""The records of an export file, as `import` reads them: JSON (an array of objects),
JSON Lines or CSV in export's lossless shape (or the sheet shape, whose cells hold real
line breaks), each with the line it starts on; and key paths into a record's values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .document import decode
from .errors import EditError, ParseError, QtkitError
from .files import read_bytes
from .shapes import BODY, from_header_cell

#: a key path into nested front matter: `("seo", "title")`
KeyPath = tuple[str, ...]


#: the key of a CSV record: `{CSV_CELLS: {column: cell text}}` (cells are typed when applied)
CSV_CELLS = "\x00csv"


def sniff(path: Path, text: str) -> str:
    """The format of an export file: by its suffix, else by its first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".csv"):
        return suffix[1:]
    start = text.lstrip("\ufeff \t\r\n")[:1]
    return "json" if start == "[" else "jsonl" if start == "{" else "csv"


def read_records(path: str | Path, fmt: str | None = None) -> Iterator[tuple[int, dict | QtkitError]]:
    """(line, record) for every record of an export file; a bad record comes as an error."""
    path = Path(path)
    text = decode(read_bytes(path), path)
    fmt = fmt or sniff(path, text)
    if fmt == "json":
        yield from _json_records(path, text)
    elif fmt == "jsonl":
        yield from _jsonl_records(path, text)
    elif fmt == "csv":
        yield from _csv_records(path, text)
    else:
        raise EditError(f"unknown import format {fmt!r} (json, jsonl or csv)")


def _json_records(path: Path, text: str) -> Iterator[tuple[int, dict | QtkitError]]:
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if text[pos : pos + 1] == "\ufeff":
        pos = _skip(text, pos + 1)
    if text[pos : pos + 1] != "[":
        raise ParseError("a JSON export is an array of objects", path, *_where(text, pos))
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == "]":
        return
    line, counted = 1, 0
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"invalid JSON: {getattr(exc, 'msg', exc)}", path, *_where(text, getattr(exc, "pos", pos))) from None
        yield line, value if isinstance(value, dict) else EditError("a record must be a JSON object", path, line)
        pos = _skip(text, pos)
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos : pos + 1] == "]":
            if text[_skip(text, pos + 1) :]:
                raise ParseError("text after the end of the array", path, *_where(text, pos + 1))
            return
        else:
            raise ParseError("expected ',' or ']' after a record", path, *_where(text, pos))


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _where(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _jsonl_records(path: Path, text: str) -> Iterator[tuple[int, dict | QtkitError]]:
    for line_no, line in enumerate(text.lstrip("\ufeff").split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield line_no, ParseError(f"invalid JSON: {getattr(exc, 'msg', exc)}", path, line_no,
                                      getattr(exc, "colno", None))
            continue
        yield line_no, value if isinstance(value, dict) else EditError("a record must be a JSON object", path, line_no)


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, dict | QtkitError]]:
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    try:
        header = next(rows)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ParseError(f"invalid CSV header: {exc}", path, 1) from None
    header = [from_header_cell(cell) for cell in header]
    if len(set(header)) != len(header):
        raise ParseError("the header repeats a column", path, 1)
    if "id" not in header:
        raise ParseError("the header has no 'id' column", path, 1)
    line_no = rows.line_num
    while True:
        start = line_no + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, ParseError(f"invalid CSV: {exc}", path, start)
            return
        line_no = rows.line_num
        if not row:
            continue
        if len(row) != len(header):
            yield start, EditError(f"row has {len(row)} cells, the header has {len(header)} columns", path, start)
            continue
        yield start, {CSV_CELLS: dict(zip(header, row))}


def from_sheet(record: dict) -> dict:
    """A record of the sheet-shaped CSV back in the lossless shape: real line breaks in
    cells become the collection's literal `\\n` again."""
    cells = record.get(CSV_CELLS)
    if cells is None:
        return record
    return {CSV_CELLS: {k: v if k == BODY else from_sheet_cell(v) for k, v in cells.items()}}


def from_sheet_cell(cell: str) -> str:
    """A sheet-shaped CSV cell back as it is in the lossless shape (`to_sheet_cell` reversed;
    a spreadsheet's CRLF line breaks count as one)."""
    return cell.replace("\r\n", "\n").replace("\n", "\\n")


def to_sheet_cell(cell: str) -> str:
    """A lossless CSV cell for a spreadsheet: the collection's literal `\\n` as real line breaks."""
    return cell.replace("\\n", "\n")


def leaves(value: Any, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """(key path, value) of every leaf of nested mappings (an empty mapping is a leaf)."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaves(child, (*prefix, key))
    else:
        yield prefix, value


def lookup(data: Any, path: KeyPath) -> tuple[bool, Any]:
    """(True, the value at `path`) in nested mappings, or (False, None) when it is absent."""
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def dotted(path: KeyPath) -> str:
    """A key path as export names its column: `seo.title` (a top-level `$x` as `$$x`)."""
    top = "$" + path[0] if path and path[0].startswith("$") else path[0] if path else ""
    return ".".join((top, *path[1:]))
