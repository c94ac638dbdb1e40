"""One file's cache row: a question file read into the columns the index keeps, and the
cache's JSON form of front matter (dates as ISO strings, NaN and big ints kept)."""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from .errors import QtkitError
from .files import read_bytes


@dataclass
class Record:
    """One question: where it is, its front matter and its body."""

    path: Path
    relpath: str
    data: dict
    body: str
    plain: bool = True  # no NaN, infinity or integer beyond 64 bits in `data`

    @property
    def id(self) -> Any:
        """The question's id (shared by its cross-listed copies)."""
        return self.data.get("id")

    @property
    def url(self) -> Any:
        """The page's url, as its front matter gives it."""
        return self.data.get("url")

    def get(self, key: str, default: Any = None) -> Any:
        """A dotted key's value (`seo.title`), or `default`."""
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node



def encode_data(data: dict, plain: bool = False, dates: list | None = None) -> tuple[str, str | None]:
    """The cache form of front matter: JSON text with dates as ISO strings, and the JSON
    list of where the dates were (`[[["date"], "d"]]`, None if there are none).

    `plain` data (from the fast reader: str keys, finite floats) takes orjson's fast path
    when its ints fit 64 bits; anything else the standard library, which keeps NaN and
    big ints, marked by a leading blank. The fast reader also gives the paths of its
    `dates` (plain dates only), which saves walking the data.
    """
    if plain and dates is not None:
        try:
            return orjson.dumps(data).decode(), orjson.dumps([[p, "d"] for p in dates]).decode() if dates else None
        except orjson.JSONEncodeError:
            pass
    found: list = []
    converted = _undate(data, [], found)
    dates = orjson.dumps(found).decode() if found else None
    if plain:
        try:
            return orjson.dumps(converted).decode(), dates
        except orjson.JSONEncodeError:
            pass
    return " " + _ENCODER.encode(converted), dates


def decode_data(text: str, dates: str | None = None) -> dict:
    data = json.loads(text) if text.startswith(" ") else orjson.loads(text)
    if dates:
        for path, kind in orjson.loads(dates):
            node = data
            for part in path[:-1]:
                node = node[part]
            value = node[path[-1]]
            node[path[-1]] = _dt.datetime.fromisoformat(value) if kind == "t" else _dt.date.fromisoformat(value)
    return data


def _undate(node: Any, path: list, found: list) -> Any:
    """`node` with dates as ISO strings (copied only where needed); their paths go to `found`."""
    if isinstance(node, dict):
        out = node
        for key, value in node.items():
            if isinstance(value, (dict, list, _dt.date)):
                new = _undate(value, [*path, key], found)
                if new is not value:
                    out = dict(node) if out is node else out
                    out[key] = new
        return out
    if isinstance(node, list):
        items = [_undate(v, [*path, i], found) if isinstance(v, (dict, list, _dt.date)) else v
                 for i, v in enumerate(node)]
        return node if all(a is b for a, b in zip(items, node)) else items
    if isinstance(node, _dt.date):
        found.append([path, "t" if isinstance(node, _dt.datetime) else "d"])
        return node.isoformat()
    return node


def dumps_json_text(value: Any) -> str:
    """JSON text of JSON-typed data: orjson, or the standard library for ints beyond 64 bits."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_ENCODER = json.JSONEncoder(separators=(",", ":"))


class Row(NamedTuple):
    """One file's cache row, as `parse_file` makes it: the `files` columns, then the `docs` ones."""

    path: str  # relative to the root, with `/`
    dir: str  # the folder part of `path` ("" at the root)
    size: int
    mtime: int  # st_mtime_ns
    qid: int | None  # the id, when it is an integer that fits 64 bits
    url: str | None
    file_name: str | None
    subject: str | None
    layout: str | None  # the flattened keys joined by newlines (see `shapes.layout`)
    error: str | None  # `path:line:col: message` for an unreadable file (the rest is None)
    data: str | None  # the front matter as cache JSON (see `encode_data`)
    dates: str | None
    body: str | None  # None: keep the cached body (see `Collection.put`)
    title: str | None
    lines: str | None  # where each key is, depth first: its line (and minus its column if not 1), joined by commas


def parse_file(args: tuple[str, str, int, int], raw: bytes | None = None,
               parsed: tuple[dict, str | None, list] | None = None) -> Row:
    """Read one file (or its given bytes) into a cache row.

    `parsed` is what the fast reader already made of `raw`: (data, body, date paths); a
    body of None leaves the cached body as it is when the row is `put`. Its key
    positions are found again from `raw` (or the file) when needed.
    """
    read, read_fast, fast_positions, layout = _PARSERS or _load_parsers()
    root, rel, size, mtime = args
    head = (rel, _parent(rel), size, mtime)
    try:
        where: list = []
        names: list = []  # the layout's names, when the fast reader reads the file here
        if parsed is not None:
            data, body, dates = parsed
            fast: Any = parsed
            if raw is None:
                raw = read_bytes(os.path.join(root, rel))
            where = fast_positions(raw) or []
            if not where:
                read(raw, rel, where)
        else:
            if raw is None:
                raw = read_bytes(os.path.join(root, rel))
            dates = []
            fast = read_fast(raw, rel, dates, where, names)
            data, body = fast if fast is not None else read(raw, rel, where)
        qid = data.get("id")
        qid = qid if isinstance(qid, int) and not isinstance(qid, bool) and -(2**63) <= qid < 2**63 else None
        key_names = "\n".join(names) if names or not data else layout(data)
        text, date_paths = encode_data(data, fast is not None, dates if fast else None)
        return Row(*head, qid, _str(data.get("url")), _str(data.get("file_name")), _str(data.get("subject")),
                   _LAYOUTS.setdefault(key_names, key_names), None, text, date_paths, body,
                   _str(data.get("title")), None if where[:1] == [None] else _joined(where))
    except QtkitError as exc:
        error = str(exc)
    except (TypeError, ValueError, RecursionError) as exc:
        error = f"{rel}: cannot index: {exc}"
    return Row(*head, None, None, None, None, None, error, None, None, None, None, None)


_PARSERS: tuple = ()  # the reader's `read`, `read_fast` and `fast_positions`, and `shapes.layout`


def _load_parsers() -> tuple:
    """The functions `parse_file` reads with, imported on first use: a warm index, which
    reads no file, never loads the YAML parsers they bring in."""
    global _PARSERS
    from .reader import fast_positions, read, read_fast
    from .shapes import layout

    _PARSERS = (read, read_fast, fast_positions, layout)
    return _PARSERS


_LAYOUTS: dict[str, str] = {}  # one string object per layout, so a pickled chunk carries each once


def parse_chunk(jobs: list[tuple[str, str, int, int]]) -> list[Row]:
    return [parse_file(job) for job in jobs]



_JOINED: dict[tuple, str] = {}  # key positions joined, for the shapes that repeat (up to 4096)


def _joined(where: list) -> str:
    """The key positions as the `lines` column keeps them: joined by commas."""
    key = tuple(where)
    text = _JOINED.get(key)
    if text is None:
        text = ",".join(map(str, where))
        if len(_JOINED) < 4096:
            _JOINED[key] = text
    return text


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]
