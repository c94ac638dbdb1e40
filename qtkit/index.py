"""`Collection`: every question of a collection, read fast and cached in SQLite.

The cache lives in `<root>/.qtkit/index.sqlite` (ignore `.qtkit/` in git). Each file's
row is reused while its size and mtime are unchanged, so a second run re-reads only what
changed; a cold run parses on every core. Files that fail to parse are kept as errors
(`path:line:col: message`) and skipped; they never stop the others.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import os
import re
import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import orjson

from .config import Config, load_config
from .errors import Ambiguous, Notice, NotFound, QtkitError
from .files import TEMP_SUFFIX, read_bytes, remove_stale_temps, write_generation, written_since
from . import pools
from .reader import fast_positions, key_lines, read, read_fast
from .shapes import layout
from .values import format_value, to_json

CACHE_DIR = ".qtkit"
SCHEMA_VERSION = "8"
Progress = Callable[[int, int], None]  # (done, total)


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


@dataclass
class RefreshStats:
    scanned: int = 0
    parsed: int = 0
    removed: int = 0
    errors: int = 0
    seconds: float = 0.0


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


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob where `**/` spans folders and `*` stays within one."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def path_filter(include: str, exclude: tuple[str, ...] | list[str] = ()) -> Callable[[str], bool]:
    """A test for relative paths: matches the `include` glob and none of the `exclude` globs."""
    excluded = re.compile("|".join(f"(?:{glob_regex(p).pattern})" for p in exclude)).match if exclude else None
    simple = re.fullmatch(r"\*\*/\*([^*?\[\]/]*)", include)  # "**/*.md": a suffix test is enough
    included = (lambda rel, end=simple.group(1): rel.endswith(end)) if simple else glob_regex(include).match
    if excluded is None:
        return lambda rel: bool(included(rel))
    return lambda rel: bool(included(rel)) and not excluded(rel)


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
    root, rel, size, mtime = args
    head = (rel, _parent(rel), size, mtime)
    try:
        where: list = []
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
            fast = read_fast(raw, rel, dates, where)
            data, body = fast if fast is not None else read(raw, rel, where)
        qid = data.get("id")
        qid = qid if isinstance(qid, int) and not isinstance(qid, bool) and -(2**63) <= qid < 2**63 else None
        key_names = layout(data)
        text, date_paths = encode_data(data, fast is not None, dates if fast else None)
        return Row(*head, qid, _str(data.get("url")), _str(data.get("file_name")), _str(data.get("subject")),
                   _LAYOUTS.setdefault(key_names, key_names), None, text, date_paths, body,
                   _str(data.get("title")), None if where[:1] == [None] else ",".join(map(str, where)))
    except QtkitError as exc:
        error = str(exc)
    except (TypeError, ValueError, RecursionError) as exc:
        error = f"{rel}: cannot index: {exc}"
    return Row(*head, None, None, None, None, None, error, None, None, None, None, None)


_LAYOUTS: dict[str, str] = {}  # one string object per layout, so a pickled chunk carries each once


def parse_chunk(jobs: list[tuple[str, str, int, int]]) -> list[Row]:
    return [parse_file(job) for job in jobs]


_INDEXES = {"qid": "qid, path", "url": "url", "name": "file_name", "subject": "subject", "dir": "dir",
            "error": "error) WHERE (error IS NOT NULL"}


def _create_tables(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, dir TEXT,"
        " size INT, mtime INT, qid INT, url TEXT, file_name TEXT, subject TEXT, layout INT, error TEXT, title TEXT)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, data TEXT, dates TEXT, body TEXT, lines TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS layouts (id INTEGER PRIMARY KEY, keys TEXT UNIQUE)")


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


def build_shard(shard: str, jobs: list[tuple[str, str, int, int]], first: int, counter: Any) -> None:
    """Worker of a cold build: parse `jobs` into a new SQLite file of its own (ids from `first`)."""
    db = sqlite3.connect(shard)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    _create_tables(db)
    layouts: dict[str, int] = {}
    size = 512
    with db:
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            insert_rows(db, [parse_file(job) for job in chunk], first + start, layouts)
            with counter.get_lock():
                counter.value += len(chunk)
    db.close()


def _create_indexes(db: sqlite3.Connection) -> None:
    for name, column in _INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS files_{name} ON files({column})")


_SELECT = "SELECT f.path, d.data, d.dates, d.body FROM files f JOIN docs d ON d.id = f.id"
_SELECT_LINES = "SELECT f.path, d.data, d.lines FROM files f JOIN docs d ON d.id = f.id"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Collection:
    """The questions under a root, indexed. `Collection(root)` refreshes on first use."""

    bulk_min = 5000  # a cold build of at least this many files skips the journal and indexes while filling

    def __init__(self, root: str | Path | None = None, *, config: Config | None = None, cache: bool = True) -> None:
        self.config = config or load_config(root)
        self.root = self.config.root
        self._wanted = path_filter(self.config.files, self.config.exclude)
        self._db = self._open(cache)
        self._fresh = False
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
        except (sqlite3.Error, OSError, _CacheFailed) as exc:
            if self._memory:
                raise
            self._cache_failed(exc)
            return self._refresh(progress, quick=quick, workers=workers)

    def _refresh(self, progress: Progress | None = None, *, quick: bool = False, workers: int | None = None) -> RefreshStats:
        start = time.perf_counter()
        generation = write_generation()
        stats = RefreshStats()
        known_dirs = dict(self._db.execute("SELECT path, mtime FROM dirs"))
        # (path, size, mtime) of every file, on disk and in the cache, compared as sets
        if quick and known_dirs:
            changed = self._changed_dirs(known_dirs)
            cached = set(self._db.execute("SELECT path, size, mtime FROM files WHERE dir IN"
                                          " (SELECT value FROM json_each(?))", (json.dumps(list(changed)),)))
            seen = self._list_dirs(changed, {rel: (size, mtime) for rel, size, mtime in cached})
            on_disk, dirs = {(rel, *st) for rel, st in seen.items()}, changed
        else:
            cached = set(self._db.execute("SELECT path, size, mtime FROM files"))
            on_disk, dirs = self._scan()
        stats.scanned = len(on_disk)
        new_dirs = [(rel, mtime) for rel, mtime in dirs.items() if known_dirs.get(rel) != mtime]
        if on_disk == cached and not new_dirs:  # nothing changed: the common warm case
            stats.errors = self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NOT NULL").fetchone()[0]
            stats.seconds = time.perf_counter() - start
            self._fresh = True
            return stats
        fresh, gone, root = on_disk - cached, cached - on_disk, str(self.root)
        stale = [(rel,) for rel, _, _ in gone]  # removed, renamed or changed
        stats.removed = len(gone) - len({rel for rel, _, _ in fresh} & {rel for rel, _, _ in gone})
        jobs = sorted((root, *row) for row in fresh)
        bulk = not stale and len(jobs) >= self.bulk_min and not self._db.execute("SELECT 1 FROM files LIMIT 1").fetchone()
        if bulk:
            self._begin_bulk()
        self._layouts = None  # reloaded from the table, in case an earlier refresh was rolled back
        with self._db:
            self._db.executemany("DELETE FROM docs WHERE id IN (SELECT id FROM files WHERE path = ?)", stale)
            self._db.executemany("DELETE FROM files WHERE path = ?", stale)
            if bulk and (workers or os.cpu_count() or 1) > 1:
                self._cold(jobs, progress, workers or os.cpu_count() or 1)
            else:
                for chunk in self._parse(jobs, progress, workers):
                    self._insert(chunk)
            self._db.executemany("INSERT OR REPLACE INTO dirs VALUES (?, ?)", new_dirs)
        if bulk:
            self._end_bulk()
        stats.parsed = len(jobs)
        stats.errors = self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NOT NULL").fetchone()[0]
        stats.seconds = time.perf_counter() - start
        self._fresh = True
        if not quick:  # a quick refresh does not see in-place edits
            self._seen_writes = generation
        return stats

    def _insert(self, rows: list[Row]) -> None:
        """Store parsed rows (from `parse_file`) under fresh ids."""
        first = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM files").fetchone()[0]
        insert_rows(self._db, rows, first, self._layout_ids())

    def _cold(self, jobs: list, progress: Progress | None, workers: int) -> None:
        """A cold build on every core: each worker fills a SQLite file of its own (no rows
        travel between processes), then the parent copies them in."""
        folder = self.root / CACHE_DIR
        counter = pools.counter()
        bounds = [len(jobs) * k // workers for k in range(workers + 1)]
        shards = [folder / f"build-{os.getpid()}-{k}.sqlite" for k in range(workers)]
        calls = [(str(shards[k]), jobs[bounds[k] : bounds[k + 1]], bounds[k] + 1, counter) for k in range(workers)]
        try:
            codes = pools.run_each(build_shard, calls, poll=(lambda: progress(counter.value, len(jobs))) if progress else None)
            if any(codes):
                raise _CacheFailed(f"index build failed in a worker (exit codes {codes})")
            for shard in shards:
                self._db.commit()  # ATTACH is not allowed inside a transaction
                self._db.execute("ATTACH ? AS shard", (str(shard),))
                self._db.execute("INSERT OR IGNORE INTO layouts (keys) SELECT keys FROM shard.layouts")
                self._db.execute(
                    "INSERT INTO files SELECT f.id, f.path, f.dir, f.size, f.mtime, f.qid, f.url, f.file_name, f.subject,"
                    " (SELECT m.id FROM main.layouts m WHERE m.keys = l.keys), f.error, f.title"
                    " FROM shard.files f LEFT JOIN shard.layouts l ON l.id = f.layout")
                self._db.execute("INSERT INTO docs SELECT * FROM shard.docs")
                self._db.commit()
                self._db.execute("DETACH shard")
            if progress:
                progress(len(jobs), len(jobs))
        finally:
            for shard in shards:
                shard.unlink(missing_ok=True)

    def _layout_ids(self) -> dict[str, int]:
        if self._layouts is None:
            self._layouts = {keys: i for i, keys in self._db.execute("SELECT id, keys FROM layouts")}
        return self._layouts

    def _begin_bulk(self) -> None:
        """A cold build: no journal and no indexes while filling (rebuilt from scratch if interrupted)."""
        self._unjournaled()
        with self._db:
            for name in _INDEXES:
                self._db.execute(f"DROP INDEX IF EXISTS files_{name}")

    def _end_bulk(self) -> None:
        with self._db:
            _create_indexes(self._db)
        self._journaled()

    def _unjournaled(self) -> None:
        """Mark the cache `building` and write without a journal: quick for big batches, and
        an interrupted batch only means the next open builds the cache again."""
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('state', 'building')")
        self._db.execute("PRAGMA journal_mode=OFF")  # refused (stays WAL) if another process has it open
        self._db.execute("PRAGMA synchronous=OFF")

    def _journaled(self) -> None:
        """Back to the journal, the cache marked `ready` once the batch is on disk."""
        self._db.execute("PRAGMA synchronous=FULL")
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('state', 'ready')")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

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

    def _scan(self) -> tuple[set[tuple[str, int, int]], dict[str, int]]:
        """(path, size, mtime) of every wanted file under the root, and the folders' mtimes."""
        seen: set[tuple[str, int, int]] = set()
        add = seen.add
        dirs: dict[str, int] = {}
        stack, wanted = [""], self._wanted
        while stack:
            rel_dir = stack.pop()
            full = os.path.join(self.root, rel_dir) if rel_dir else str(self.root)
            try:
                dirs[rel_dir] = os.stat(full).st_mtime_ns
                entries = list(os.scandir(full))
            except OSError:
                continue
            prefix = f"{rel_dir}/" if rel_dir else ""
            stale = [e.name for e in entries if e.name.endswith(TEMP_SUFFIX) and e.name[0] == "."]
            if stale:
                remove_stale_temps(full, stale)
            for entry in entries:
                name = entry.name
                if name[0] == ".":
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(prefix + name)
                    continue
                rel = prefix + name
                if wanted(rel) and entry.is_file(follow_symlinks=False):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    add((rel, st.st_size, st.st_mtime_ns))
        return seen, dirs

    def _changed_dirs(self, known: dict[str, int]) -> dict[str, int]:
        """Folders whose mtime changed (a file was added, removed or renamed in them)."""
        changed: dict[str, int] = {}
        for rel_dir, mtime in known.items():
            try:
                now = os.stat(os.path.join(self.root, rel_dir) if rel_dir else self.root).st_mtime_ns
            except OSError:
                now = -1
            if now != mtime:
                changed[rel_dir] = now
        return changed

    def _list_dirs(self, changed: dict[str, int], cached: dict) -> dict[str, tuple[int, int]]:
        """Files now in the changed folders; files already cached keep their cached stat."""
        seen: dict[str, tuple[int, int]] = {}
        for rel_dir, mtime in changed.items():
            if mtime == -1:
                continue
            full = os.path.join(self.root, rel_dir) if rel_dir else str(self.root)
            for entry in os.scandir(full):
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if rel in cached:
                    seen[rel] = cached[rel]
                elif not entry.name.startswith(".") and entry.is_file(follow_symlinks=False) and self._wanted(rel):
                    st = entry.stat(follow_symlinks=False)
                    seen[rel] = (st.st_size, st.st_mtime_ns)
        return seen

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
                    _remove_cache(path)
                _notice(f"the index cache cannot be written ({exc}): reading the files in memory")
                return self._connect(":memory:")
            except sqlite3.DatabaseError:  # a damaged cache is rebuilt, never trusted
                _remove_cache(path)
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
            _remove_cache(self.root / CACHE_DIR / "index.sqlite")
            _notice(f"the index cache could not be written ({reason}); it was removed and the files are read in memory")
        self._db = self._connect(":memory:")
        self._memory = True
        self._fresh = False
        self._layouts = None

    def _connect(self, path: str) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        meta = dict(db.execute("SELECT key, value FROM meta"))
        signature = f"{SCHEMA_VERSION}|{self.config.files}|{','.join(self.config.exclude)}"
        if meta.get("schema") != signature or meta.get("state") == "building":
            with db:
                db.execute("DROP TABLE IF EXISTS files")
                db.execute("DROP TABLE IF EXISTS docs")
                db.execute("DROP TABLE IF EXISTS dirs")
                db.execute("DROP TABLE IF EXISTS layouts")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (signature,))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('state', 'ready')")
        _create_tables(db)
        db.execute("CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, mtime INT)")
        _create_indexes(db)
        return db

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

    def summaries(self) -> list[tuple[str, int | None, str | None, str | None, str | None]]:
        """(path, id, title, subject, url) of every readable question, by id: what checks
        across questions need, without reading the front matter."""
        self._ensure()
        return list(self._db.execute("SELECT path, qid, title, subject, url FROM files WHERE error IS NULL"
                                     " ORDER BY qid IS NULL, qid, path"))

    def file_stats(self) -> list[tuple[str, int, int, int | None]]:
        """(path, size, mtime, id) of every readable question, by id."""
        self._ensure()
        return list(self._db.execute(
            "SELECT path, size, mtime, qid FROM files WHERE error IS NULL ORDER BY qid IS NULL, qid, path"))

    def json_rows(self, part: tuple[int, int] = (0, 1), cuts: list[int | None] | None = None
                  ) -> Iterator[tuple[str, str, str]]:
        """(path, front matter as JSON text with dates as ISO strings, body) by id: what
        exports need, without building Python objects for the values. `part=(k, n)` is
        the k-th of n consecutive slices (`cuts`: `self.cuts(n)`, when already known)."""
        for rel, text, _, body in self._rows(part, _SELECT, cuts):
            yield rel, dumps_json_text(to_json(json.loads(text))) if text.startswith(" ") else text, body

    def located_rows(self, part: tuple[int, int] = (0, 1)) -> Iterator[tuple[str, str, str | None]]:
        """(path, front matter as cache JSON text, key positions) by id, as `json_rows`
        slices them: what `check` needs to name a finding's line without reading the file
        (`reader.key_lines(orjson.loads(text), positions)`; positions None if unknown)."""
        for rel, text, lines in self._rows(part, _SELECT_LINES):
            yield rel, dumps_json_text(to_json(json.loads(text))) if text.startswith(" ") else text, lines

    def key_lines(self, paths: Iterable[str]) -> dict[str, dict[tuple, tuple[int, int]]]:
        """{path: {key path: (line, col)}} for the given relative paths, from the index
        (paths not indexed, or whose positions are unknown, are left out)."""
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
        spots, tests, args = [], [], []
        for key, want in conditions:
            parts = key.split(".")
            if any('"' in p or "'" in p or "\\" in p for p in parts):
                raise sqlite3.OperationalError(f"key {key!r} is not a simple JSON path")
            spots.append("$" + "".join(f'."{p}"' for p in parts))
            column = _COLUMNS.get(key)
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
        for rel, odd, *found in self._db.execute(query, args):
            if odd is None:
                values = [None if v is None else orjson.loads(v) for v in found]
            else:  # NaN, infinities or big ints: the standard library's JSON
                data = json.loads(odd)
                values = [_dotted(data, key) for key, _ in conditions]
            if all(v is not None and format_value(v) == want for v, (_, want) in zip(values, conditions)):
                out.append(rel)
        return out

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
        (`/learn/<subject_key>/questions/<slug>`), or None."""
        text = str(path_or_url)
        found = self.by_path(text)
        if found is None and text.startswith("/"):
            found = self.by_url(text)
        return found

    def by_url(self, url: str) -> Record | None:
        """The page whose front matter has this url (the first by path if several do)."""
        return self._one("url = ?", url)

    def by_file_name(self, name: str) -> Record | None:
        return self._one("file_name = ?", name)

    def by_path(self, path: str | Path) -> Record | None:
        """The page at a path (absolute, relative to the cwd, or to the root)."""
        rel = self.relative(path)
        return self._one("path = ?", rel) if rel is not None else None

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

    def related(self, qid: int, k: int | None = None) -> list[dict]:
        """The questions `relink` would link `qid` to: [{id, title, subject, url, score}]."""
        from .relink import related

        return related(self, qid, k)

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

    def add(self, *paths: Path) -> None:
        """Record files qtkit just wrote, without a rescan (one transaction for them all)."""
        rows = []
        for path in paths:
            rel = path.resolve().relative_to(self.root).as_posix()
            st = path.stat()
            rows.append(parse_file((str(self.root), rel, st.st_size, st.st_mtime_ns)))
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
            self._unjournaled()
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
            self._journaled()


_UPDATE_FILE = ("UPDATE files SET size = ?, mtime = ?, qid = ?, url = ?, file_name = ?, subject = ?, layout = ?,"
                " error = ?, title = ? WHERE ")


def _file_values(row: Row, layouts: dict[str, int]) -> tuple:
    """The `files` columns `put` updates, in `_UPDATE_FILE`'s order."""
    return (row.size, row.mtime, row.qid, row.url, row.file_name, row.subject, layouts.get(row.layout), row.error,
            row.title)


_BULK_ROWS = 20_000  # `put` this many rows without a journal
_ID = re.compile(r"-?[0-9]+")  # a TARGET that is an id


class _CacheFailed(QtkitError):
    """Building the cache failed (in a worker process)."""


def _remove_cache(path: Path) -> None:
    """Remove the cache database and its journals, quietly."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        except OSError:
            pass
    try:
        for shard in path.parent.glob(f"build-{os.getpid()}-*.sqlite*"):  # this process's cold build
            shard.unlink(missing_ok=True)
    except OSError:
        pass


def _notice(message: str) -> None:
    warnings.warn(Notice(message), stacklevel=3)


_COLUMNS = {"id": "qid", "subject": "subject", "url": "url", "title": "title", "file_name": "file_name"}


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


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]


# ------------------------------------------------------------------ the `index` command

PhaseProgress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class IndexSummary:
    """What `index` did: files seen, read again and dropped from the cache, the
    `path:line:col: message` of every unreadable file, the highest id, the seconds the
    refresh took, and the files an interrupted multi-file write had left (put back)."""

    root: Path
    files: int
    parsed: int
    removed: int
    errors: list[str]
    max_id: int
    seconds: float
    restored: list[str]

    def as_json(self) -> dict:
        """The summary `qtkit index --json` prints (unreadable files as a count)."""
        return {"root": str(self.root), "files": self.files, "parsed": self.parsed, "removed": self.removed,
                "errors": len(self.errors), "max_id": self.max_id, "seconds": round(self.seconds, 3)}


def index(root: str | Path | None = None, *, progress: PhaseProgress | None = None) -> IndexSummary:
    """`qtkit index`: put back the files of an interrupted multi-file write (from the
    journal), then build or refresh the cache; only files whose size or mtime changed are
    read again. `progress("indexing", done, total)` is called as files are read. Raises
    `NoCollection` when no collection is found."""
    from .files import finish_interrupted

    coll = Collection(root)
    restored = finish_interrupted(coll.root)
    stats = coll.refresh(progress=(lambda done, total: progress("indexing", done, total)) if progress else None)
    return IndexSummary(coll.root, stats.scanned, stats.parsed, stats.removed, coll.errors(), coll.max_id(),
                        stats.seconds, restored)
