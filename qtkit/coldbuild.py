"""The cold build of the index, on every core: this process and `workers - 1` forked ones
take chunks of the files in turn. This process puts the rows of its own chunks straight
into the cache; a worker parses each of its chunks into a SQLite file of its own (no rows
travel between processes), which this process copies in as soon as it is ready, between
two chunks of its own. So both cores stay busy to the end, and only the last chunk is
left to copy once every file is read.

Chunks go into the cache in the order of their ids, as a sequential build puts them: the
same rows, the same layout ids, the tables filled by appending. (Only when a worker's
chunk is late by several chunks of this process does this process put its own rows in
ahead of it; the layout ids are then numbered again in order of first use.)"""

from __future__ import annotations

import glob
import os
import sqlite3
from pathlib import Path
from typing import Any, Callable

from . import pools
from .cachedb import PAGE_SIZE, CacheFailed, create_tables, insert_rows
from .rows import Row, parse_file

Job = tuple[str, str, int, int]  # (root, relative path, size, mtime), as `parse_file` takes it

#: chunks of this process's rows held back for a late worker chunk before they go in ahead of it
BACKLOG = 6


def chunk_size(total: int, workers: int) -> int:
    """Files a chunk: small enough that the last one (copied in alone, once every file is
    read) is quick, big enough that a chunk's SQLite file costs little."""
    return max(100, min(2000, total // (workers * 16) or 1))


def _take(counter: Any, count: int) -> int | None:
    """The next chunk number nobody has taken (None when all are)."""
    with counter.get_lock():
        number = counter.value
        if number >= count:
            return None
        counter.value = number + 1
    return number


def _add(counter: Any, amount: int) -> None:
    with counter.get_lock():
        counter.value += amount


def build_chunks(prefix: str, jobs: list[Job], size: int, taken: Any, done: Any) -> None:
    """Worker of a cold build: take chunks (`size` jobs each) until none is left; parse
    each into the SQLite file `<prefix>-<chunk>.sqlite` (ids from the chunk's first job's
    place + 1), written under another name and renamed once complete."""
    count = -(-len(jobs) // size)
    while (number := _take(taken, count)) is not None:
        chunk = jobs[number * size : (number + 1) * size]
        rows = [parse_file(job) for job in chunk]
        part = f"{prefix}-{number}.sqlite.part"
        db = sqlite3.connect(part)
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        create_tables(db)
        with db:
            insert_rows(db, rows, number * size + 1, {})
        db.close()
        os.rename(part, part[: -len(".part")])
        _add(done, len(chunk))


class Filler:
    """This process's side of a cold build: parses its chunks, and puts them and the
    workers' ready ones into the cache `db` in the order of their ids (`work`, then
    `fill(final=True)` once the workers are done)."""

    def __init__(self, db: sqlite3.Connection, prefix: str, jobs: list[Job], size: int, taken: Any, done: Any,
                 progress: Callable[[int, int], None] | None) -> None:
        self.db, self.prefix, self.jobs, self.size = db, prefix, jobs, size
        self.taken, self.done, self.progress = taken, done, progress
        self.count = -(-len(jobs) // size)
        self.next = 0  # the first chunk not yet in the cache, in order
        self.mine: dict[int, list[Row]] = {}  # rows parsed here, waiting for an earlier chunk
        self.early: set[int] = set()  # chunks put in ahead of an earlier one
        self.layouts = {keys: i for i, keys in db.execute("SELECT id, keys FROM layouts")}
        self.base = max(self.layouts.values(), default=0)  # layouts from before this build keep their ids

    def work(self) -> None:
        """Parse chunks here until none is left, filling the cache as chunks are ready."""
        while (number := _take(self.taken, self.count)) is not None:
            chunk = self.jobs[number * self.size : (number + 1) * self.size]
            self.mine[number] = [parse_file(job) for job in chunk]
            _add(self.done, len(chunk))
            if self.progress:
                self.progress(self.done.value, len(self.jobs))
            self.fill()
            if len(self.mine) > BACKLOG:  # a worker's chunk is late: do not hold these any longer
                for held in sorted(self.mine):
                    self._insert(held, self.mine.pop(held))
                    self.early.add(held)

    def fill(self, final: bool = False) -> None:
        """Put in every chunk that is ready, in order, up to the first that is not (`final`:
        every chunk must be ready; else raises `CacheFailed`)."""
        while self.next < self.count:
            number = self.next
            if number in self.mine:
                self._insert(number, self.mine.pop(number))
            elif number not in self.early:
                shard = f"{self.prefix}-{number}.sqlite"
                if not os.path.exists(shard):
                    if final:
                        raise CacheFailed(f"index build failed: chunk {number} was not built")
                    return
                self._copy(shard)
            self.next += 1
        if self.early:
            self.renumber_layouts()
            self.early.clear()

    def _insert(self, number: int, rows: list[Row]) -> None:
        insert_rows(self.db, rows, number * self.size + 1, self.layouts)

    def _copy(self, shard: str) -> None:
        """Copy a worker's chunk file into the cache (its layouts by their keys) and remove it."""
        db = self.db
        db.commit()  # ATTACH is not allowed inside a transaction
        db.execute("ATTACH ? AS shard", (shard,))
        db.execute("INSERT OR IGNORE INTO layouts (keys) SELECT keys FROM shard.layouts ORDER BY id")
        db.execute(
            "INSERT INTO files SELECT f.id, f.path, f.dir, f.size, f.mtime, f.qid, f.url, f.file_name, f.subject,"
            " (SELECT m.id FROM main.layouts m WHERE m.keys = l.keys), f.error, f.title"
            " FROM shard.files f LEFT JOIN shard.layouts l ON l.id = f.layout")
        db.execute("INSERT INTO docs SELECT * FROM shard.docs")
        self.layouts.update(db.execute("SELECT m.keys, m.id FROM main.layouts m"
                                       " JOIN shard.layouts l ON l.keys = m.keys"))
        db.commit()
        db.execute("DETACH shard")
        os.unlink(shard)

    def renumber_layouts(self) -> None:
        """(After chunks went in ahead of an earlier one.) Number this build's layouts in
        order of their first use by id, as a build in order does."""
        db, base = self.db, self.base
        order = [old for (old,) in db.execute("SELECT layout FROM files WHERE layout > ? GROUP BY layout"
                                              " ORDER BY MIN(id)", (base,))]
        new_ids = range(base + 1, base + 1 + len(order))
        if order == list(new_ids):
            return
        keys = dict(db.execute("SELECT id, keys FROM layouts WHERE id > ?", (base,)))
        db.execute("CREATE TEMP TABLE renumbered (old INTEGER PRIMARY KEY, new INT)")
        db.executemany("INSERT INTO renumbered VALUES (?, ?)", zip(order, new_ids))
        db.execute("UPDATE files SET layout = (SELECT new FROM renumbered WHERE old = layout)"
                   " WHERE layout > ?", (base,))
        db.execute("DELETE FROM layouts WHERE id > ?", (base,))
        db.executemany("INSERT INTO layouts VALUES (?, ?)", [(new, keys[old]) for old, new in zip(order, new_ids)])
        db.execute("DROP TABLE temp.renumbered")
        self.layouts = {keys: i for i, keys in db.execute("SELECT id, keys FROM layouts")}


def cold_build(db: sqlite3.Connection, folder: Path, jobs: list[Job], workers: int,
               progress: Callable[[int, int], None] | None = None) -> None:
    """Parse `jobs` here and on `workers - 1` forked processes into the empty tables of
    `db` (ids from 1, in `jobs` order), as described above. Raises `CacheFailed` when a
    worker fails; the workers' chunk files are removed in any case."""
    size = chunk_size(len(jobs), workers)
    taken, done = pools.counter(), pools.counter()
    prefix = str(folder / f"build-{os.getpid()}")
    filler = Filler(db, prefix, jobs, size, taken, done, progress)
    calls = [(prefix, jobs, size, taken, done)] * (workers - 1)
    try:
        codes = pools.run_each(build_chunks, calls, here=filler.work,
                               poll=(lambda: progress(done.value, len(jobs))) if progress else None)
        if any(codes):
            raise CacheFailed(f"index build failed in a worker (exit codes {codes})")
        filler.fill(final=True)
        if progress:
            progress(len(jobs), len(jobs))
    finally:
        for shard in glob.glob(glob.escape(prefix) + "-*.sqlite*"):
            Path(shard).unlink(missing_ok=True)
