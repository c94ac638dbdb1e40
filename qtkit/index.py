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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import Config, load_config
from .errors import NotFound, QtkitError
from .files import read_bytes
from .reader import read

CACHE_DIR = ".qtkit"
SCHEMA_VERSION = "2"
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class Record:
    """One question: where it is, its front matter and its body."""

    path: Path
    relpath: str
    data: dict
    body: str

    @property
    def id(self) -> Any:
        return self.data.get("id")

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


def encode_data(data: dict) -> str:
    """JSON for the cache; dates and datetimes are tagged so they come back as such."""
    return json.dumps(data, separators=(",", ":"), default=_tag)


def decode_data(text: str) -> dict:
    return json.loads(text, object_hook=_untag)


def _tag(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot cache {type(value).__name__}")


def _untag(obj: dict) -> Any:
    if len(obj) == 1:
        if "$date" in obj:
            return _dt.date.fromisoformat(obj["$date"])
        if "$datetime" in obj:
            return _dt.datetime.fromisoformat(obj["$datetime"])
    return obj


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


def parse_file(args: tuple[str, str, int, int]) -> tuple:
    """Read one file into a cache row (runs in worker processes)."""
    root, rel, size, mtime = args
    path = os.path.join(root, rel)
    try:
        data, body = read(read_bytes(path), rel)
        qid = data.get("id")
        return (rel, _parent(rel), size, mtime, qid if isinstance(qid, int) and not isinstance(qid, bool) else None,
                _str(data.get("url")), _str(data.get("file_name")), _str(data.get("subject")),
                encode_data(data), body, None)
    except QtkitError as exc:
        return (rel, _parent(rel), size, mtime, None, None, None, None, None, None, str(exc))
    except (TypeError, ValueError, RecursionError) as exc:
        return (rel, _parent(rel), size, mtime, None, None, None, None, None, None, f"{rel}: cannot index: {exc}")


def parse_chunk(jobs: list[tuple[str, str, int, int]]) -> list[tuple]:
    return [parse_file(job) for job in jobs]


_INDEXES = {"qid": "qid", "url": "url", "name": "file_name", "subject": "subject", "dir": "dir"}


def _create_indexes(db: sqlite3.Connection) -> None:
    for name, column in _INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS files_{name} ON files({column})")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Collection:
    """The questions under a root, indexed. `Collection(root)` refreshes on first use."""

    def __init__(self, root: str | Path | None = None, *, config: Config | None = None, cache: bool = True) -> None:
        self.config = config or load_config(root)
        self.root = self.config.root
        self._include = glob_regex(self.config.files)
        self._exclude = [glob_regex(p) for p in self.config.exclude]
        self._db = self._open(cache)
        self._fresh = False

    # ------------------------------------------------------------ refreshing
    def refresh(self, progress: Progress | None = None, *, quick: bool = False, workers: int | None = None) -> RefreshStats:
        """Bring the cache up to date with the files on disk.

        A full refresh stats every file. `quick` only re-lists folders whose mtime changed
        (files added, removed or renamed) and does not notice in-place edits: what `new`
        uses to stay fast.
        """
        start = time.perf_counter()
        stats = RefreshStats()
        known_dirs = dict(self._db.execute("SELECT path, mtime FROM dirs"))
        if quick and known_dirs:
            changed = self._changed_dirs(known_dirs)
            cached = self._cached("WHERE dir IN (SELECT value FROM json_each(?))", json.dumps(list(changed)))
            seen, dirs = self._list_dirs(changed, cached), changed
        else:
            cached = self._cached()
            seen, dirs = self._scan()
        stats.scanned = len(seen)
        todo = [(rel, st) for rel, st in seen.items() if cached.get(rel) != st]
        gone = [rel for rel in cached if rel not in seen]
        bulk = not cached and len(todo) > 5000
        with self._db:
            if bulk:  # a cold build: fill the table first, index it after
                for name in _INDEXES:
                    self._db.execute(f"DROP INDEX IF EXISTS files_{name}")
            self._db.executemany("DELETE FROM files WHERE path = ?", [(rel,) for rel in gone])
            jobs = [(str(self.root), rel, size, mtime) for rel, (size, mtime) in todo]
            for chunk in self._parse(jobs, progress, workers):
                self._db.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)", chunk)
            self._db.executemany("INSERT OR REPLACE INTO dirs VALUES (?, ?)", dirs.items())
            if bulk:
                _create_indexes(self._db)
        stats.parsed, stats.removed = len(todo), len(gone)
        stats.errors = self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NOT NULL").fetchone()[0]
        stats.seconds = time.perf_counter() - start
        self._fresh = True
        return stats

    def _ensure(self) -> None:
        if not self._fresh:
            self.refresh()

    def _scan(self) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
        seen: dict[str, tuple[int, int]] = {}
        dirs: dict[str, int] = {}
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            full = os.path.join(self.root, rel_dir) if rel_dir else str(self.root)
            try:
                dirs[rel_dir] = os.stat(full).st_mtime_ns
                entries = list(os.scandir(full))
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
                elif entry.is_file(follow_symlinks=False) and self._wanted(rel):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    seen[rel] = (st.st_size, st.st_mtime_ns)
        return seen, dirs

    def _cached(self, where: str = "", *args: Any) -> dict[str, tuple[int, int]]:
        rows = self._db.execute(f"SELECT path, size, mtime FROM files {where}", args)
        return {row[0]: (row[1], row[2]) for row in rows}

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

    def _wanted(self, rel: str) -> bool:
        return bool(self._include.match(rel)) and not any(p.match(rel) for p in self._exclude)

    def _parse(self, jobs: list, progress: Progress | None, workers: int | None) -> Iterator[list[tuple]]:
        """Cache rows in chunks, parsed on every core when there are many files."""
        total = len(jobs)
        workers = workers or os.cpu_count() or 1
        size = 256
        chunks = [jobs[i : i + size] for i in range(0, total, size)]
        done = 0
        if total < 500 or workers < 2:
            results: Iterator[list[tuple]] = map(parse_chunk, chunks)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=workers)
            results = pool.map(parse_chunk, chunks)
        try:
            for rows in results:
                done += len(rows)
                if progress:
                    progress(done, total)
                yield rows
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def _open(self, cache: bool) -> sqlite3.Connection:
        path = ":memory:"
        if cache:
            folder = self.root / CACHE_DIR
            try:
                folder.mkdir(exist_ok=True)
                gitignore = folder / ".gitignore"
                if not gitignore.exists():
                    gitignore.write_text("*\n")
                path = str(folder / "index.sqlite")
            except OSError:
                path = ":memory:"
        db = sqlite3.connect(path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        version = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        signature = f"{SCHEMA_VERSION}|{self.config.files}|{','.join(self.config.exclude)}"
        if version is None or version[0] != signature:
            with db:
                db.execute("DROP TABLE IF EXISTS files")
                db.execute("DROP TABLE IF EXISTS dirs")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (signature,))
        db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, dir TEXT, size INT, mtime INT, qid INT,"
            " url TEXT, file_name TEXT, subject TEXT, data TEXT, body TEXT, error TEXT)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, mtime INT)")
        _create_indexes(db)
        return db

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ reading
    def _record(self, row: tuple) -> Record:
        rel, data, body = row
        return Record(self.root / rel, rel, decode_data(data), body)

    def __iter__(self) -> Iterator[Record]:
        """Every readable question, by id (files without an integer id last, by path)."""
        self._ensure()
        cur = self._db.execute(
            "SELECT path, data, body FROM files WHERE error IS NULL ORDER BY qid IS NULL, qid, path"
        )
        for row in cur:
            yield self._record(row)

    def __len__(self) -> int:
        self._ensure()
        return self._db.execute("SELECT COUNT(*) FROM files WHERE error IS NULL").fetchone()[0]

    def get(self, qid: int) -> Record | None:
        """The question with this id (the first by path if several share it)."""
        return self._one("qid = ?", qid)

    def by_url(self, url: str) -> Record | None:
        return self._one("url = ?", url)

    def by_file_name(self, name: str) -> Record | None:
        return self._one("file_name = ?", name)

    def by_path(self, path: str | Path) -> Record | None:
        """The question at a path (absolute, relative to the cwd, or to the root)."""
        p = Path(path)
        full = p if p.is_absolute() or p.exists() else self.root / p
        try:
            rel = full.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None
        return self._one("path = ?", rel)

    def _one(self, where: str, arg: Any) -> Record | None:
        self._ensure()
        row = self._db.execute(
            f"SELECT path, data, body FROM files WHERE error IS NULL AND {where} ORDER BY path LIMIT 1", (arg,)
        ).fetchone()
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

    def resolve(self, target: str | Path) -> Path:
        """The file of a question id (`"65955"` or `65955`)."""
        record = self.get(int(str(target)))
        if record is None:
            raise NotFound(f"no question with id {target} in {self.root}")
        return record.path

    def add(self, path: Path) -> None:
        """Record a file qtkit just wrote, without a rescan."""
        rel = path.resolve().relative_to(self.root).as_posix()
        st = path.stat()
        row = parse_file((str(self.root), rel, st.st_size, st.st_mtime_ns))
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
            parent = _parent(rel)
            directory = self.root / parent if parent else self.root
            self._db.execute("INSERT OR REPLACE INTO dirs VALUES (?, ?)", (parent, directory.stat().st_mtime_ns))


def _parent(rel: str) -> str:
    return rel.rpartition("/")[0]
