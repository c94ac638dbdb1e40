"""Front-matter conditions answered inside the index's SQLite cache: the pages whose
dotted keys print as given texts, found without decoding the other pages."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import orjson

from .values import format_value

#: the `files` columns that keep a key's value (when it is a string; `qid` when an integer)
COLUMNS = {"id": "qid", "subject": "subject", "url": "url", "title": "title", "file_name": "file_name"}


def where_equal(db: sqlite3.Connection, conditions: list[tuple[str, str]]) -> list[str]:
    """Paths of the readable questions in the cache `db` whose dotted keys all print (as
    `qtkit get` prints them: `values.format_value`) as the given texts, by id.

    Only the wanted keys' values are taken out, inside SQLite, and only from the
    questions that can match: a key the `files` table keeps (subject, url, title,
    file_name, id) is looked up through its index, and a wanted text that only a
    string prints as must appear in the cached JSON. Raises `sqlite3.Error` where
    this SQLite has no `->` operator (3.38 and later have it)."""
    spots, tests, args = [], [], []
    for key, want in conditions:
        parts = key.split(".")
        if any('"' in p or "'" in p or "\\" in p for p in parts):
            raise sqlite3.OperationalError(f"key {key!r} is not a simple JSON path")
        spots.append("$" + "".join(f'."{p}"' for p in parts))
        column = COLUMNS.get(key)
        if column == "qid":  # kept when it is an integer: then it prints as its digits
            if re.fullmatch(r"-?(?:0|[1-9][0-9]*)", want) and -(2**63) <= int(want) < 2**63:
                tests.append("(f.qid = ? OR f.qid IS NULL)")
                args.append(int(want))
            else:
                tests.append("f.qid IS NULL")
        elif column is not None:  # kept when it is a string: then it prints as itself
            tests.append(f"(f.{column} = ? OR f.{column} IS NULL)")
            args.append(want)
    needle = _needle([want for _, want in conditions])
    if needle is not None:
        tests.append("(substr(d.data, 1, 1) = ' ' OR instr(d.data, ?) > 0)")
        args.append(needle)
    plain = ", ".join(f"CASE WHEN substr(d.data, 1, 1) != ' ' THEN d.data -> '{s}' END" for s in spots)
    query = (f"SELECT f.path, CASE WHEN substr(d.data, 1, 1) = ' ' THEN d.data END, {plain}"
             " FROM files f JOIN docs d ON d.id = f.id WHERE f.error IS NULL"
             + "".join(" AND " + test for test in tests) + " ORDER BY f.qid IS NULL, f.qid, f.path")
    out = []
    for rel, odd, *found in db.execute(query, args):
        if odd is None:
            values = [None if v is None else orjson.loads(v) for v in found]
        else:  # NaN, infinities or big ints: the standard library's JSON
            data = json.loads(odd)
            values = [_dotted(data, key) for key, _ in conditions]
        if all(v is not None and format_value(v) == want for v, (_, want) in zip(values, conditions)):
            out.append(rel)
    return out


def _needle(wanted: list[str]) -> str | None:
    """Text that every matching question's cached JSON holds as it is, if there is one:
    a wanted text that only a string (or a date) prints as, and that JSON writes without
    escapes (numbers, booleans, null, lists and mappings print otherwise)."""
    for want in wanted:
        if not want or want[0] in "[{" or orjson.dumps(want)[1:-1].decode("utf-8") != want:
            continue
        try:
            json.loads(want)
        except ValueError:
            return want
    return None


def _dotted(data: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
