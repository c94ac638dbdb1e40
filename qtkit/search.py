"""Full-text search over titles and answers: SQLite FTS5 in `<root>/.qtkit/search.sqlite`.

The search database is separate from the index cache (`index.sqlite`) and built from the
`Collection`: a row per page with its title and its text (question, answer, description,
keywords), refreshed for the pages whose size or mtime changed since it was last built.
It is a cache like the index: deleting it only means the next search builds it again.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .index import CACHE_DIR, Collection

DB_NAME = "search.sqlite"
VERSION = "1"


@dataclass
class Hit:
    """One search result: the page's path, id, title, subject and a text snippet
    (plain text with `[` `]` around matched words)."""

    path: str
    id: Any
    title: str
    subject: str
    snippet: str


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _row(rel: str, data: dict) -> tuple[str, str, str]:
    seo = data.get("seo") if isinstance(data.get("seo"), dict) else {}
    text = " ".join(_text(v) for v in (data.get("question"), data.get("answer"), seo.get("page_description"),
                                         seo.get("page_keywords")))
    return rel, " ".join(_text(data.get("title")).split()), text.replace("\\n", " ")


class SearchIndex:
    """The FTS5 database of a collection. `refresh()` brings it up to date with the index;
    `search(q)` finds pages by title and text (titles weigh more).

    The connection belongs to the thread that made the object.
    """

    def __init__(self, coll: Collection) -> None:
        self.coll = coll
        folder = coll.root / CACHE_DIR
        try:
            folder.mkdir(exist_ok=True)
            self.db = self._connect(str(folder / DB_NAME))
        except (OSError, sqlite3.DatabaseError):
            self.db = self._connect(":memory:")

    def _connect(self, path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30)
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        if dict(db.execute("SELECT key, value FROM meta")).get("version") != VERSION:
            with db:
                db.execute("DROP TABLE IF EXISTS pages")
                db.execute("DROP TABLE IF EXISTS stamps")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (VERSION,))
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS pages USING fts5(path UNINDEXED, title, text,"
                    " tokenize='unicode61 remove_diacritics 2')")
        db.execute("CREATE TABLE IF NOT EXISTS stamps (path TEXT PRIMARY KEY, size INT, mtime INT, rowid_ INT)")
        return db

    def refresh(self) -> int:
        """Re-read the pages whose size or mtime changed (and drop removed ones); returns how many changed."""
        current = {p: (s, m) for p, s, m, _ in self.coll.file_stats()}
        known = {p: (s, m, r) for p, s, m, r in self.db.execute("SELECT path, size, mtime, rowid_ FROM stamps")}
        stale = [p for p, st in current.items() if p not in known or known[p][:2] != st]
        gone = [p for p in known if p not in current]
        if not stale and not gone:
            return 0
        with self.db:
            for p in stale + gone:
                if p in known:
                    self.db.execute("DELETE FROM pages WHERE rowid = ?", (known[p][2],))
                    self.db.execute("DELETE FROM stamps WHERE path = ?", (p,))
            rows = self._rows(stale)
            for rel, title, text in rows:
                rowid = self.db.execute("INSERT INTO pages (path, title, text) VALUES (?, ?, ?)",
                                        (rel, title, text)).lastrowid
                self.db.execute("INSERT INTO stamps VALUES (?, ?, ?, ?)", (rel, *current[rel], rowid))
        return len(stale) + len(gone)

    def _rows(self, paths: list[str]) -> list[tuple[str, str, str]]:
        if len(paths) > 200:
            wanted = set(paths)
            return [_row(rel, orjson.loads(text)) for rel, text, _ in self.coll.json_rows() if rel in wanted]
        out = []
        for rel in paths:
            record = self.coll.by_path(rel)
            if record is not None:
                out.append(_row(rel, record.data))
        return out

    def search(self, query: str, limit: int = 50, marks: tuple[str, str] = ("[", "]")) -> list[Hit]:
        """Pages matching every word of `query` (prefixes too: `deriv` finds `derivative`),
        best first; title matches rank above text matches; `marks` go around matched words
        in the snippets. Empty for an empty query."""
        words = re.findall(r"\w+", query)
        if not words:
            return []
        match = " ".join('"' + w.replace('"', "") + '"*' for w in words)
        rows = self.db.execute(
            "SELECT path, title, snippet(pages, 2, ?, ?, ' … ', 16) FROM pages WHERE pages MATCH ?"
            " ORDER BY bm25(pages, 0, 8.0, 1.0) LIMIT ?", (*marks, match, limit)).fetchall()
        out = []
        for rel, title, snippet in rows:
            record = self.coll.by_path(rel)
            data = record.data if record is not None else {}
            out.append(Hit(rel, data.get("id"), title, _text(data.get("subject")), snippet))
        return out

    def close(self) -> None:
        self.db.close()


def search(query: str, root: str | Path | None = None, *, limit: int = 50) -> list[Hit]:
    """Search the collection at `root` by title and text (building or refreshing its
    search database first). See `SearchIndex.search`."""
    coll = Collection(root)
    index = SearchIndex(coll)
    try:
        index.refresh()
        return index.search(query, limit)
    finally:
        index.close()
