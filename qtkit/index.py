"""`Collection`: every question of a collection, read fast and cached in SQLite.

The cache lives in `<root>/.qtkit/index.sqlite` (ignore `.qtkit/` in git). Each file's
row is reused while its size and mtime are unchanged, so a second run re-reads only what
changed; a cold run parses on every core. Files that fail to parse are kept as errors
(`path:line:col: message`) and skipped; they never stop the others.

A warm refresh that finds every file as the last one did compares only a digest of the
scan with the one stored in the cache. The parts live in modules of their own: `rows`
(a file read into a cache row; `Record`), `scan` (listing the files), `cachedb` (the
SQLite file), `coldbuild` (the first build on every core) and `sqlwhere` (`where`).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import sqlite3
import time
import warnings
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import orjson

from . import pools
from .cachedb import (CACHE_DIR, SCHEMA_VERSION, CacheFailed, connect, count_changes, create_indexes, drop_indexes,
                      insert_rows, journaled, remove_cache, unjournaled)
from .coldbuild import cold_build
from .config import Config, load_config
from .errors import Ambiguous, Notice, NotFound
from .files import write_generation, written_since
from .rows import Record, Row, decode_data, dumps_json_text, encode_data, parse_chunk, parse_file
from .scan import RefreshStats, changed_dirs, glob_regex, list_dirs, path_filter, scan
from .sqlwhere import where_equal
from .values import to_json
from .progress import Progress

__all__ = ["CACHE_DIR", "SCHEMA_VERSION", "Collection", "Progress", "Record", "RefreshStats", "Row", "decode_data",
           "dumps_json_text", "encode_data", "glob_regex", "parse_chunk", "parse_file", "path_filter"]


_SELECT = "SELECT f.path, d.data, d.dates, d.body FROM files f JOIN docs d ON d.id = f.id"
_SELECT_LINES = "SELECT f.path, d.data, d.lines FROM files f JOIN docs d ON d.id = f.id"
_BY_ID = " ORDER BY qid IS NULL, qid, path"


class Collection:
    """The questions under a root, indexed. `Collection(root)` refreshes on first use."""

    bulk_min = 5000  # a cold build of at least this many files skips the journal and indexes while filling

    def __init__(self, root: str | Path | None = None, *, config: Config | None = None, cache: bool = True,
                 refreshed: bool = False) -> None:
        """Open the collection at `root` (or `config.root`). `cache=False` keeps the index in
        memory only. `refreshed=True` trusts the cache as it is, without a scan, until
        qtkit writes a file: for a worker process opening the cache its parent has just
        refreshed."""
        self.config = config or load_config(root)
        self.root = self.config.root
        self._wanted = path_filter(self.config.files, self.config.exclude)
        self._db = self._open(cache)
        self._fresh = refreshed and not self._memory
        self._layouts: dict[str, int] | None = None
        self._seen_writes = write_generation()  # qtkit's own writes up to here are in the index

    # ------------------------------------------------------------ refreshing
    def refresh(self, progress: Progress | None = None, *, quick: bool = False, workers: int | None = None) -> RefreshStats:
        """Bring the cache up to date with the files on disk.

        A full refresh stats every file. `quick` only re-lists folders whose mtime changed
        (files added, removed or renamed) and does not notice in-place edits: what `new`
        uses to stay fast. If the cache cannot be written (read-only or full file system,
        no permission) or turns out damaged, it is removed and the refresh runs again in
        memory, with a `Notice` warning: the cache is only an optimisation.
        """
        try:
            return self._refresh(progress, quick=quick, workers=workers)
        except (sqlite3.Error, OSError, CacheFailed) as exc:
            if self._memory:
                raise
            self._cache_failed(exc)
            return self._refresh(progress, quick=quick, workers=workers)

    def _refresh(self, progress: Progress | None = None, *, quick: bool = False, workers: int | None = None) -> RefreshStats:
        start = time.perf_counter()
        generation = write_generation()
        stats = RefreshStats()
        known_dirs = dict(self._db.execute("SELECT path, mtime FROM dirs"))
        mark = None  # the full listing's digest, when this refresh lists every file
        # (path, size, mtime) of every file, on disk and in the cache, compared as sets
        if quick and known_dirs:
            changed = changed_dirs(str(self.root), known_dirs)
            cached = set(self._db.execute("SELECT path, size, mtime FROM files WHERE dir IN"
                                          " (SELECT value FROM json_each(?))", (json.dumps(list(changed)),)))
            seen = list_dirs(str(self.root), self._wanted, changed, {rel: (size, mtime) for rel, size, mtime in cached})
            on_disk, dirs = {(rel, *st) for rel, st in seen.items()}, changed
        else:
            listing = scan(str(self.root), self._wanted)
            dirs, mark = listing.dirs, listing.digest()
            stats.listing, stats.files = mark, listing
            changes, kept = self._db.execute("SELECT (SELECT value FROM meta WHERE key = 'changes'),"
                                             " (SELECT value FROM meta WHERE key = 'listing')").fetchone()
            same_dirs = all(known_dirs.get(rel) == mtime for rel, mtime in dirs.items())
            if kept == f"{changes}:{mark}" and same_dirs:  # the common warm case: the rows are not loaded
                return self._unchanged(stats, start, len(listing.paths))
            cached = set(self._db.execute("SELECT path, size, mtime FROM files"))
            on_disk = listing.stats()
        stats.scanned = len(on_disk)
        new_dirs = [(rel, mtime) for rel, mtime in dirs.items() if known_dirs.get(rel) != mtime]
        if on_disk == cached and not new_dirs:  # nothing changed
            if mark is not None:
                with self._db:  # unless another process changed the rows meanwhile
                    self._db.execute("INSERT OR REPLACE INTO meta SELECT 'listing', ? FROM meta"
                                     " WHERE key = 'changes' AND value = ?", (f"{changes}:{mark}", changes))
            stats.errors = self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NOT NULL").fetchone()[0]
            stats.seconds = time.perf_counter() - start
            self._fresh = True
            return stats
        fresh, gone, root = on_disk - cached, cached - on_disk, str(self.root)
        stale = [(rel,) for rel, _, _ in gone]  # removed, renamed or changed
        stats.removed = len(gone) - len({rel for rel, _, _ in fresh} & {rel for rel, _, _ in gone}) if gone else 0
        jobs = [(root, *row) for row in sorted(fresh, key=itemgetter(0))]  # by path (each path is there once)
        bulk = not stale and len(jobs) >= self.bulk_min and not self._db.execute("SELECT 1 FROM files LIMIT 1").fetchone()
        if bulk:
            self._begin_bulk()
        self._layouts = None  # reloaded from the table, in case an earlier refresh was rolled back
        with self._db:
            self._db.executemany("DELETE FROM docs WHERE id IN (SELECT id FROM files WHERE path = ?)", stale)
            self._db.executemany("DELETE FROM files WHERE path = ?", stale)
            if bulk and (workers or os.cpu_count() or 1) > 1:
                cold_build(self._db, self.root / CACHE_DIR, jobs, workers or os.cpu_count() or 1, progress)
            else:
                for chunk in self._parse(jobs, progress, workers):
                    self._insert(chunk)
            self._db.executemany("INSERT OR REPLACE INTO dirs VALUES (?, ?)", new_dirs)
            if mark is not None:  # the rows are now the listing
                self._db.execute("INSERT OR REPLACE INTO meta SELECT 'listing', value || ':' || ? FROM meta"
                                 " WHERE key = 'changes'", (mark,))
        if bulk:
            self._end_bulk()
        stats.parsed = len(jobs)
        stats.errors = self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NOT NULL").fetchone()[0]
        stats.seconds = time.perf_counter() - start
        self._fresh = True
        if not quick:  # a quick refresh does not see in-place edits
            self._seen_writes = generation
        return stats

    def remember_listing(self, digest: str) -> None:
        """Record that the rows are the files of the listing `digest` (as a command that refreshed, then `put`
        the rows of the files it wrote, knows): the next refresh that finds it loads no row."""
        if not self._memory:
            with contextlib.suppress(sqlite3.Error), self._db:  # only an optimisation
                self._db.execute("INSERT OR REPLACE INTO meta SELECT 'listing', value || ':' || ? FROM meta"
                                 " WHERE key = 'changes'", (digest,))

    def _unchanged(self, stats: RefreshStats, start: float, scanned: int) -> RefreshStats:
        """The stats of a full refresh that found every file as the cache has it."""
        stats.scanned = scanned
        stats.errors = self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NOT NULL").fetchone()[0]
        stats.seconds = time.perf_counter() - start
        self._fresh = True
        return stats

    def _insert(self, rows: list[Row]) -> None:
        """Store parsed rows (from `parse_file`) under fresh ids."""
        first = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM files").fetchone()[0]
        insert_rows(self._db, rows, first, self._layout_ids())

    def _layout_ids(self) -> dict[str, int]:
        if self._layouts is None:
            self._layouts = {keys: i for i, keys in self._db.execute("SELECT id, keys FROM layouts")}
        return self._layouts

    def _begin_bulk(self) -> None:
        """A cold build: no journal and no indexes while filling (rebuilt from scratch if interrupted)."""
        unjournaled(self._db)
        with self._db:
            drop_indexes(self._db)

    def _end_bulk(self) -> None:
        with self._db:
            create_indexes(self._db)
            count_changes(self._db)
        journaled(self._db)

    def _ensure(self) -> None:
        if self._fresh and write_generation() != self._seen_writes:
            self._catch_up()
        if not self._fresh:
            self.refresh()

    def _catch_up(self) -> None:
        """Take in the files qtkit wrote in this process since the last refresh (a
        `Document.save()`, an edit, a rename), so reads never show old values; anything
        but plain rewrites of known files means a full refresh."""
        generation = write_generation()
        paths = written_since(self._seen_writes)
        mine = []
        for path in paths or ():
            rel = os.path.relpath(path, self.root)
            if rel.startswith(".."):
                rel = os.path.relpath(os.path.realpath(path), self.root)
            if rel.startswith("..") or rel.startswith(CACHE_DIR) or not self._wanted(rel.replace(os.sep, "/")):
                continue
            mine.append(Path(path))
        if paths is None or not all(p.is_file() for p in mine):
            self._fresh = False
            return
        if mine:
            self.add(*mine)
        self._seen_writes = generation

    def _parse(self, jobs: list, progress: Progress | None, workers: int | None) -> Iterator[list[Row]]:
        """Cache rows in chunks, parsed on every core when there are many files."""
        total = len(jobs)
        workers = workers or os.cpu_count() or 1
        size = 256
        chunks = [jobs[i : i + size] for i in range(0, total, size)]
        done = 0
        for rows in pools.process_map(parse_chunk, chunks, workers=1 if total < 500 else workers):
            done += len(rows)
            if progress:
                progress(done, total)
            yield rows

    def _open(self, cache: bool) -> sqlite3.Connection:
        self._memory = True
        if not cache:
            return self._connect(":memory:")
        folder = self.root / CACHE_DIR
        try:
            folder.mkdir(exist_ok=True)
            gitignore = folder / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n")
        except OSError as exc:
            _notice(f"the index cache cannot be written ({exc.strerror or exc}): reading the files in memory")
            return self._connect(":memory:")
        path = folder / "index.sqlite"
        for _ in range(2):
            try:
                db = self._connect(str(path))
                self._memory = False
                return db
            except sqlite3.OperationalError as exc:  # read-only, no permission, disk full
                if "full" in str(exc):
                    remove_cache(path)
                _notice(f"the index cache cannot be written ({exc}): reading the files in memory")
                return self._connect(":memory:")
            except sqlite3.DatabaseError:  # a damaged cache is rebuilt, never trusted
                remove_cache(path)
        _notice("the index cache is damaged and cannot be rebuilt: reading the files in memory")  # pragma: no cover
        return self._connect(":memory:")  # pragma: no cover

    def _cache_failed(self, exc: BaseException) -> None:
        """Writing the cache failed: remove it (a half-written cache must not keep disk
        space or be trusted) and go on with a cache in memory."""
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        try:
            self._db.close()
        except sqlite3.Error:  # pragma: no cover
            pass
        if "locked" in reason:  # another process holds it: leave it to that one
            _notice(f"the index cache is busy ({reason}): reading the files in memory")
        else:
            remove_cache(self.root / CACHE_DIR / "index.sqlite")
            _notice(f"the index cache could not be written ({reason}); it was removed and the files are read in memory")
        self._db = self._connect(":memory:")
        self._memory = True
        self._fresh = False
        self._layouts = None

    def _connect(self, path: str) -> sqlite3.Connection:
        return connect(path, f"{SCHEMA_VERSION}|{self.config.files}|{','.join(self.config.exclude)}")

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ reading
    def _record(self, row: tuple) -> Record:
        rel, data, dates, body = row
        return Record(self.root / rel, rel, decode_data(data, dates), body, not data.startswith(" "))

    def __iter__(self) -> Iterator[Record]:
        """Every readable question, by id (files without an integer id last, by path)."""
        for row in self._rows():
            yield self._record(row)

    def cuts(self, n: int) -> list[int | None]:
        """Where `n` consecutive slices by id start (see `json_rows`)."""
        self._ensure()
        ids = [row[0] for row in self._db.execute(
            "SELECT qid FROM files WHERE error IS NULL AND qid IS NOT NULL ORDER BY qid")]
        return [ids[len(ids) * i // n] if len(ids) * i // n < len(ids) else None for i in range(n + 1)]

    def _rows(self, part: tuple[int, int] = (0, 1), select: str = _SELECT,
              cuts: list[int | None] | None = None) -> Iterator[tuple[str, str, str | None, str]]:
        """(path, cached JSON, dates, body) by id (or the columns of `select`); `part=(k, n)`
        is the k-th of n consecutive slices (`cuts`: `self.cuts(n)`, when already known)."""
        self._ensure()
        k, n = part
        bounds = ""
        if n > 1:
            cuts = cuts or self.cuts(n)
            lo, hi = cuts[k], cuts[k + 1] if k + 1 < n else None
            bounds = (f" AND f.qid >= {int(lo)}" if lo is not None and k else "") + (
                f" AND f.qid < {int(hi)}" if hi is not None else "")
        queries = [f"qid IS NOT NULL{bounds} ORDER BY qid, path"]
        if k == n - 1:
            queries.append("qid IS NULL ORDER BY path")
        for where in queries:
            yield from self._db.execute(f"{select} WHERE f.error IS NULL AND f.{where}")

    def summaries(self, by_id: bool = True) -> list[tuple[str, int | None, str | None, str | None, str | None]]:
        """(path, id, title, subject, url) of every readable question, by id (unsorted unless `by_id`)."""
        self._ensure()
        return list(self._db.execute(f"SELECT path, qid, title, subject, url FROM files WHERE error IS NULL{_BY_ID * by_id}"))

    def file_stats(self) -> list[tuple[str, int, int, int | None]]:
        """(path, size, mtime, id) of every readable question, by id."""
        self._ensure()
        return list(self._db.execute("SELECT path, size, mtime, qid FROM files WHERE error IS NULL ORDER BY qid IS NULL, qid, path"))

    def json_rows(self, part: tuple[int, int] = (0, 1), cuts: list[int | None] | None = None
                  ) -> Iterator[tuple[str, str, str]]:
        """(path, front matter as JSON text with dates as ISO strings, body) by id: what
        exports need, without building Python objects for the values. `part=(k, n)` is
        the k-th of n consecutive slices (`cuts`: `self.cuts(n)`, when already known)."""
        for rel, text, _, body in self._rows(part, _SELECT, cuts):
            yield rel, dumps_json_text(to_json(json.loads(text))) if text.startswith(" ") else text, body

    def selected_rows(self, columns: str, part: tuple[int, int] = (0, 1), cuts: list | None = None) -> Iterator[tuple]:
        """The SQL `columns` (of `files f` join `docs d`) of every readable question, as `json_rows` slices them."""
        return self._rows(part, f"SELECT {columns} FROM files f JOIN docs d ON d.id = f.id", cuts)

    def located_rows(self, part: tuple[int, int] = (0, 1)) -> Iterator[tuple[str, str, str | None]]:
        """(path, cache JSON text, key positions or None) of every readable question in storage
        order, `part=(k, n)` the k-th of n slices of the row ids: what `check` needs to name a
        finding's line without reading the file (`reader.key_lines(orjson.loads(text), positions)`)."""
        self._ensure()
        k, n = part
        low, high = self._db.execute("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), -1) FROM files").fetchone()
        bounds = (low + (high - low + 1) * k // n, low + (high - low + 1) * (k + 1) // n)
        for rel, text, lines in self._db.execute(f"{_SELECT_LINES} WHERE f.error IS NULL AND f.id >= ? AND f.id < ?"
                                                 " ORDER BY f.id", bounds):
            yield rel, dumps_json_text(to_json(json.loads(text))) if text.startswith(" ") else text, lines

    def key_lines(self, paths: Iterable[str]) -> dict[str, dict[tuple, tuple[int, int]]]:
        """{path: {key path: (line, col)}} for the given relative paths, from the index
        (paths not indexed, or whose positions are unknown, are left out)."""
        from .reader import key_lines

        self._ensure()
        out = {}
        query = f"{_SELECT_LINES} WHERE f.path IN (SELECT value FROM json_each(?))"
        for rel, text, lines in self._db.execute(query, (json.dumps(list(paths)),)):
            spots = key_lines(json.loads(text) if text.startswith(" ") else orjson.loads(text), lines) if lines is not None else None
            if spots is not None:
                out[rel] = spots
        return out

    def where(self, conditions: list[tuple[str, str]]) -> list[str]:
        """Paths of the readable questions whose dotted keys all print (as `qtkit get`
        prints them: `values.format_value`) as the given texts, by id.

        Only the wanted keys' values are taken out, inside SQLite, and only from the
        questions that can match: a key the `files` table keeps (subject, url, title,
        file_name, id) is looked up through its index, and a wanted text that only a
        string prints as must appear in the cached JSON. Raises `sqlite3.Error` where
        this SQLite has no `->` operator (3.38 and later have it)."""
        self._ensure()
        return where_equal(self._db, conditions)

    def __bool__(self) -> bool:  # always true: `collection or Collection(root)` must not count (refresh) it
        return True

    def __len__(self) -> int:
        self._ensure()
        return self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NULL").fetchone()[0]

    def get(self, qid: int) -> Record | None:
        """The first page (by path) of the question with this id; see `pages` for all of them."""
        return self._one("qid = ?", qid)

    def pages(self, qid: int) -> list[Record]:
        """Every page of the question `qid`: its cross-listed copies, by path ([] if none)."""
        self._ensure()
        rows = self._db.execute(f"{_SELECT} WHERE f.error IS NULL AND f.qid = ? ORDER BY f.path", (qid,))
        return [self._record(row) for row in rows]

    def page(self, path_or_url: str | Path) -> Record | None:
        """The page at a path (absolute, relative to the cwd or to the root) or with a url
        (`/learn/<subject_key>/questions/<slug>`, also as copied from a browser: with the
        site's scheme and host, a trailing slash, a query or a fragment), or None."""
        text = str(path_or_url)
        found = self.by_path(text) if "://" not in text else None
        if found is None and (text.startswith("/") or "://" in text):
            url = urlsplit(text).path
            found = self.by_url(url) or (self.by_url(url.rstrip("/")) if len(url) > 1 else None)
        return found

    def by_url(self, url: str) -> Record | None:
        """The page whose front matter has this url (the first by path if several do)."""
        return self._one("url = ?", url)

    def by_path(self, path: str | Path) -> Record | None:
        """The page at a path (absolute, relative to the cwd, or to the root)."""
        rel = self.relative(path)
        return self._one("path = ?", rel) if rel is not None else None

    def records(self, paths: Iterable[str]) -> list[Record]:
        """The readable pages at these paths (relative to the root, with `/`), in that
        order; paths not in the collection are left out."""
        self._ensure()
        wanted = list(paths)
        query = f"{_SELECT} WHERE f.error IS NULL AND f.path IN (SELECT value FROM json_each(?))"
        found = {row[0]: row for row in self._db.execute(query, (json.dumps(wanted),))}
        return [self._record(found[rel]) for rel in wanted if rel in found]

    def relative(self, path: str | Path) -> str | None:
        """`path` relative to the root, in posix form, or None when it is outside it."""
        p = Path(path)
        full = p if p.is_absolute() or p.exists() else self.root / p
        try:
            return full.resolve().relative_to(self.root).as_posix()
        except (ValueError, OSError):
            return None

    def _one(self, where: str, arg: Any) -> Record | None:
        self._ensure()
        row = self._db.execute(f"{_SELECT} WHERE f.error IS NULL AND f.{where} ORDER BY f.path LIMIT 1", (arg,)).fetchone()
        return self._record(row) if row else None

    def max_id(self) -> int:
        """The highest id in the collection (0 if empty)."""
        self._ensure()
        return self._db.execute("SELECT COALESCE(MAX(qid), 0) FROM files WHERE error IS NULL").fetchone()[0]

    def subjects(self) -> collections.Counter:
        """How many questions each subject spelling has."""
        self._ensure()
        rows = self._db.execute("SELECT subject, COUNT(*) FROM files WHERE subject IS NOT NULL GROUP BY subject")
        return collections.Counter(dict(rows))

    def errors(self) -> list[str]:
        """`path:line:col: message` for every file that could not be read."""
        self._ensure()
        return [row[0] for row in self._db.execute("SELECT error FROM files WHERE error IS NOT NULL ORDER BY path")]

    def folders(self) -> collections.Counter:
        """How many questions each folder (relative to the root) holds."""
        self._ensure()
        return collections.Counter(dict(self._db.execute("SELECT dir, COUNT(*) FROM files GROUP BY dir")))

    def columns(self) -> list[str]:
        """Every flattened key (`seo.title`, top-level `$x` escaped as `$$x`) in the
        collection, in the order files use them (the most common layouts first)."""
        self._ensure()
        rows = self._db.execute("SELECT l.keys, COUNT(*) AS n FROM files f JOIN layouts l ON l.id = f.layout"
                                " GROUP BY f.layout ORDER BY n DESC, l.keys")
        order: list[str] = []
        for (keys, _) in rows:
            previous = None
            for key in keys.split("\n") if keys else ():
                if key not in order:
                    order.insert(order.index(previous) + 1 if previous is not None else len(order), key)
                previous = key
        return order

    def targets(self, target: str | int | Path, *, every: bool = False) -> list[Record]:
        """The pages a TARGET names: a path, a url, or an id (`"65955"`, `65955`).

        An id shared by cross-listed copies names all of them: with `every` they are all
        returned, otherwise `Ambiguous` lists them. Raises `NotFound` when nothing matches.
        """
        text = str(target)
        if isinstance(target, int) or _ID.fullmatch(text):
            found = self.pages(int(text))
            if len(found) > 1 and not every:
                listed = ", ".join(r.relpath for r in found)
                raise Ambiguous(f"id {text} names {len(found)} pages (cross-listed copies): {listed};"
                                " give a path or url (set and rename take --all to act on every copy)", [r.relpath for r in found])
        else:
            page = self.page(text)
            found = [page] if page is not None else []
        if not found:
            raise NotFound(f"no page {text!r} in {self.root} (give a path, a url or an id)")
        return found

    def record(self, target: str | int | Path) -> Record:
        """The one page a TARGET names (path, url or id); raises `NotFound` or `Ambiguous`."""
        return self.targets(target)[0]

    def resolve(self, target: str | int | Path) -> Path:
        """The file of the one page a TARGET names (path, url or id)."""
        return self.record(target).path

    def add(self, *paths: Path, contents: Mapping[Path, bytes] | None = None, same_bodies: bool = False) -> None:
        """Record files qtkit just wrote, without a rescan (one transaction for them all).
        `contents` gives the bytes just written to some of them, which saves reading them;
        `same_bodies` says only their front matter changed (the cached bodies are kept)."""
        rows = []
        contents = contents or {}
        root = str(self.root)
        inside = root.rstrip(os.sep) + os.sep
        for path in paths:
            text = str(path)
            if text.startswith(inside) and os.sep + ".." + os.sep not in text:  # a path the collection gave
                rel = text[len(inside):].replace(os.sep, "/")
            else:
                rel = path.resolve().relative_to(self.root).as_posix()
            st = path.stat()
            row = parse_file((root, rel, st.st_size, st.st_mtime_ns), contents.get(path))
            rows.append(row._replace(body=None) if same_bodies and row.data is not None else row)
        self.put(rows)

    def put(self, rows: list[Row]) -> None:
        """Store rows made by `parse_file` for files just written, in place of their old rows
        (a row whose body is None keeps the cached body). If the cache cannot be written,
        it is removed and read again in memory when next used (with a `Notice`)."""
        try:
            self._put(rows)
        except (sqlite3.Error, OSError) as exc:
            if self._memory:
                raise
            self._cache_failed(exc)

    def _put(self, rows: list[tuple]) -> None:
        parents = {}
        for row in rows:
            if row.dir not in parents:
                parents[row.dir] = (self.root / row.dir if row.dir else self.root).stat().st_mtime_ns
        db = self._db
        layouts = self._layout_ids()
        bulk = len(rows) >= _BULK_ROWS
        if bulk:
            unjournaled(self._db)
        with db:
            for row in rows:
                if row.layout is not None and row.layout not in layouts:
                    layouts[row.layout] = db.execute("INSERT INTO layouts (keys) VALUES (?)", (row.layout,)).lastrowid
            known = [row for row in rows if row.data is not None and row.body is None]
            # the common case (relink): front matter rewritten, body as it was; one statement per table
            done = db.executemany(
                "UPDATE docs SET data = ?, dates = ?, lines = ? WHERE id = (SELECT id FROM files WHERE path = ?)",
                [(row.data, row.dates, row.lines, row.path) for row in known]).rowcount if known else 0
            if done == len(known):
                db.executemany(_UPDATE_FILE + "path = ?", [(*_file_values(row, layouts), row.path) for row in known])
                rest = [row for row in rows if not (row.data is not None and row.body is None)]
            else:
                rest = rows
            fresh = []
            for row in rest:
                found = db.execute("SELECT id FROM files WHERE path = ?", (row.path,)).fetchone()
                if found is None:
                    fresh.append(row)
                    continue
                if row.data is None:
                    db.execute("DELETE FROM docs WHERE id = ?", found)
                elif row.body is not None:
                    db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?, ?, ?)",
                               (found[0], row.data, row.dates, row.body, row.lines))
                elif not db.execute("UPDATE docs SET data = ?, dates = ?, lines = ? WHERE id = ?",
                                    (row.data, row.dates, row.lines, found[0])).rowcount:
                    row = row._replace(size=-1)  # no body cached to keep: the next refresh reads the file again
                db.execute(_UPDATE_FILE + "id = ?", (*_file_values(row, layouts), found[0]))
            if fresh:
                self._insert(fresh)
            db.executemany("INSERT OR REPLACE INTO dirs VALUES (?, ?)", parents.items())
        if bulk:
            journaled(self._db)


_UPDATE_FILE = ("UPDATE files SET size = ?, mtime = ?, qid = ?, url = ?, file_name = ?, subject = ?, layout = ?,"
                " error = ?, title = ? WHERE ")


def _file_values(row: Row, layouts: dict[str, int]) -> tuple:
    """The `files` columns `put` updates, in `_UPDATE_FILE`'s order."""
    return (row.size, row.mtime, row.qid, row.url, row.file_name, row.subject, layouts.get(row.layout), row.error,
            row.title)


_BULK_ROWS = 20_000  # `put` this many rows without a journal
_ID = re.compile(r"-?[0-9]+")  # a TARGET that is an id


def _notice(message: str) -> None:
    warnings.warn(Notice(message), stacklevel=3)
