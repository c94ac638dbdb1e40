"""The SQLite file behind the index (`<root>/.qtkit/index.sqlite`): its tables and
indexes, opening it (a cache of another schema or left half-built is dropped), inserting
rows, and the unjournaled mode big batches are written in."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .errors import QtkitError
from .rows import Row

CACHE_DIR = ".qtkit"
SCHEMA_VERSION = "8"

#: bytes a page of a new cache file: a whole question's body fits in one (fewer overflow
#: pages: the cold build's copy and index creation take a third less CPU than with 4 KiB)
PAGE_SIZE = 16384

#: the `files` indexes, by name: their columns
INDEXES = {"qid": "qid, path", "url": "url", "name": "file_name", "subject": "subject", "dir": "dir",
           "error": "error) WHERE (error IS NOT NULL"}

TRIGGERS = ("INSERT", "UPDATE", "DELETE")  # the changes to `files` that `count_changes` counts


class CacheFailed(QtkitError):
    """Building the cache failed (in a worker process)."""


def create_tables(db: sqlite3.Connection) -> None:
    """The `files`, `docs` and `layouts` tables, if missing."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, dir TEXT,"
        " size INT, mtime INT, qid INT, url TEXT, file_name TEXT, subject TEXT, layout INT, error TEXT, title TEXT)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, data TEXT, dates TEXT, body TEXT, lines TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS layouts (id INTEGER PRIMARY KEY, keys TEXT UNIQUE)")


def create_indexes(db: sqlite3.Connection) -> None:
    for name, column in INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS files_{name} ON files({column})")


def drop_indexes(db: sqlite3.Connection) -> None:
    """Drop the `files` indexes and the triggers that count changes (a cold build fills
    the tables without them; `create_indexes` and `count_changes` put them back), counting
    one change for the whole build."""
    for name in INDEXES:
        db.execute(f"DROP INDEX IF EXISTS files_{name}")
    for event in TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS files_{event.lower()}")
    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'changes'")


def insert_rows(db: sqlite3.Connection, rows: list[Row], first: int, layouts: dict[str, int]) -> None:
    """Insert `parse_file` rows with ids from `first`; `layouts` maps key layouts to their ids."""
    for row in rows:
        if row.layout is not None and row.layout not in layouts:
            layouts[row.layout] = db.execute("INSERT INTO layouts (keys) VALUES (?)", (row.layout,)).lastrowid
    db.executemany("INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   [(first + i, row.path, row.dir, row.size, row.mtime, row.qid, row.url, row.file_name, row.subject,
                     layouts.get(row.layout), row.error, row.title) for i, row in enumerate(rows)])
    db.executemany("INSERT INTO docs VALUES (?,?,?,?,?)",
                   [(first + i, row.data, row.dates, row.body, row.lines)
                    for i, row in enumerate(rows) if row.data is not None])


def connect(path: str, signature: str) -> sqlite3.Connection:
    """Open (or create) a cache database in WAL mode. Its tables are dropped when it was
    made for another `signature` (schema version and file globs) or left half-built by an
    interrupted batch. Raises `sqlite3.Error` for a damaged or unwritable file."""
    db = sqlite3.connect(path, timeout=30)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only a new file takes it
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    meta = dict(db.execute("SELECT key, value FROM meta"))
    if meta.get("schema") != signature or meta.get("state") == "building":
        with db:
            for table in ("files", "docs", "dirs", "layouts"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (signature,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('state', 'ready')")
    create_tables(db)
    db.execute("CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, mtime INT)")
    create_indexes(db)
    with db:
        count_changes(db)
    return db


def count_changes(db: sqlite3.Connection) -> None:
    """Count every change to the `files` rows, by anyone, in `meta`'s `changes`: a listing
    of the files stored with the count it was true at (`meta`'s `listing`, see
    `Collection.refresh`) stands only while the count is the same."""
    db.execute("INSERT OR IGNORE INTO meta VALUES ('changes', '0')")
    for event in TRIGGERS:
        db.execute(f"CREATE TRIGGER IF NOT EXISTS files_{event.lower()} AFTER {event} ON files"
                   " BEGIN UPDATE meta SET value = value + 1 WHERE key = 'changes'; END")


def unjournaled(db: sqlite3.Connection) -> None:
    """Mark the cache `building` and write without a journal: quick for big batches, and
    an interrupted batch only means the next open builds the cache again."""
    with db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('state', 'building')")
    db.execute("PRAGMA journal_mode=OFF")  # refused (stays WAL) if another process has it open
    db.execute("PRAGMA synchronous=OFF")


def journaled(db: sqlite3.Connection) -> None:
    """Back to the journal, the cache marked `ready` once the batch is on disk."""
    db.execute("PRAGMA synchronous=FULL")
    with db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('state', 'ready')")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")


def remove_cache(path: Path) -> None:
    """Remove the cache database and its journals, and this process's cold-build shards, quietly."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        except OSError:
            pass
    try:
        for shard in path.parent.glob(f"build-{os.getpid()}-*.sqlite*"):
            shard.unlink(missing_ok=True)
    except OSError:
        pass
