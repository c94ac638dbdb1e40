"""The cold build of the index: on every core, each worker parses a slice of the files
into a SQLite file of its own (no rows travel between processes), then the parent copies
the shards into the cache."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Callable

from . import pools
from .cachedb import PAGE_SIZE, CacheFailed, create_tables, insert_rows
from .rows import parse_file

Job = tuple[str, str, int, int]  # (root, relative path, size, mtime), as `parse_file` takes it


def build_shard(shard: str, jobs: list[Job], first: int, counter: Any) -> None:
    """Worker of a cold build: parse `jobs` into a new SQLite file of its own (ids from `first`)."""
    db = sqlite3.connect(shard)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    create_tables(db)
    layouts: dict[str, int] = {}
    size = 512
    with db:
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            insert_rows(db, [parse_file(job) for job in chunk], first + start, layouts)
            with counter.get_lock():
                counter.value += len(chunk)
    db.close()


def cold_build(db: sqlite3.Connection, folder: Path, jobs: list[Job], workers: int,
               progress: Callable[[int, int], None] | None = None) -> None:
    """Parse `jobs` on `workers` processes into shards in `folder` and copy them into the
    empty tables of `db` (ids from 1, in `jobs` order). Raises `CacheFailed` when a worker
    fails; the shards are removed in any case."""
    counter = pools.counter()
    bounds = [len(jobs) * k // workers for k in range(workers + 1)]
    shards = [folder / f"build-{os.getpid()}-{k}.sqlite" for k in range(workers)]
    calls = [(str(shards[k]), jobs[bounds[k] : bounds[k + 1]], bounds[k] + 1, counter) for k in range(workers)]
    try:
        codes = pools.run_each(build_shard, calls, poll=(lambda: progress(counter.value, len(jobs))) if progress else None)
        if any(codes):
            raise CacheFailed(f"index build failed in a worker (exit codes {codes})")
        for shard in shards:
            db.commit()  # ATTACH is not allowed inside a transaction
            db.execute("ATTACH ? AS shard", (str(shard),))
            db.execute("INSERT OR IGNORE INTO layouts (keys) SELECT keys FROM shard.layouts")
            db.execute(
                "INSERT INTO files SELECT f.id, f.path, f.dir, f.size, f.mtime, f.qid, f.url, f.file_name, f.subject,"
                " (SELECT m.id FROM main.layouts m WHERE m.keys = l.keys), f.error, f.title"
                " FROM shard.files f LEFT JOIN shard.layouts l ON l.id = f.layout")
            db.execute("INSERT INTO docs SELECT * FROM shard.docs")
            db.commit()
            db.execute("DETACH shard")
        if progress:
            progress(len(jobs), len(jobs))
    finally:
        for shard in shards:
            shard.unlink(missing_ok=True)
