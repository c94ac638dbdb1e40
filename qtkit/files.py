"""The only write path: atomic, mode-keeping writes, and unified diffs for dry runs."""

from __future__ import annotations

import contextlib
import difflib
import functools
import itertools
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from . import pools
from .errors import ConflictError, ParseError, QtkitError, WriteError

TEMP_SUFFIX = ".qtkit-tmp"


def read_bytes(path: str | Path) -> bytes:
    """Read a file's bytes; OS errors become a one-line `ParseError` naming the file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ParseError("no such file", path) from None
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror}", path) from None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except IsADirectoryError:
        raise ParseError("is a directory, not a question file", path) from None
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror}", path) from None
    finally:
        os.close(fd)


def write_atomic(
    path: str | Path,
    data: bytes,
    *,
    expect: bytes | None = None,
    exclusive: bool = False,
) -> None:
    """Write `data` to `path` atomically: temp file in the same folder, flush, fsync, rename.

    The file keeps its permission bits (and owner, where allowed). Symlinks are never
    written through. With `expect`, the write is refused (`ConflictError`) if the file's
    current bytes differ from it, so an edit made by someone else since our read is not
    clobbered. With `exclusive`, the target must not exist (used by `new`).
    """
    with atomic_writer(path, expect=expect, exclusive=exclusive) as fh:
        fh.write(data)


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, expect: bytes | None = None, exclusive: bool = False) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces `path` atomically when the block ends
    without an error (see `write_atomic`); on any error nothing is left behind."""
    path = Path(path)
    st = _check(path, expect, exclusive)
    fd, tmp = _temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with file_lock(path, st):
            _recheck(path, st, expect)
            _install(tmp, path, st, exclusive)
        _fsync_dir(path.parent)
    except FileExistsError:
        _unlink_quietly(tmp)
        raise WriteError("already exists", path) from None
    except OSError as exc:
        _unlink_quietly(tmp)
        raise WriteError(f"write failed: {exc.strerror or exc}; file left as it was", path) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path, st: os.stat_result | None) -> Iterator[None]:
    """Hold an exclusive `flock` on the file now at `path` (nothing to lock when `st` is
    None: a new file is created with `link`, which fails if the name exists).

    Every qtkit writer installs a file under this lock after comparing the file with what
    it read, so two writers of one file (two `set`, `set` and `relink`, ...) never both
    succeed from the same old text. A writer that waited re-opens the file when it was
    replaced meanwhile, so it always compares against the file at the path.
    """
    if st is None:
        yield
        return
    import fcntl

    for _ in range(1000):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            yield  # removed meanwhile: `_recheck` reports it
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = os.fstat(fd)
            try:
                at_path = os.lstat(path)
            except FileNotFoundError:
                at_path = now
            if (at_path.st_ino, at_path.st_dev) == (now.st_ino, now.st_dev):
                yield
                return
        finally:
            os.close(fd)  # closing the descriptor releases the lock
    raise WriteError("kept being replaced while qtkit waited to write it; not written", path)  # pragma: no cover


def _recheck(path: Path, st: os.stat_result | None, expect: bytes | None, same_stat: bool = False) -> None:
    """Under the file's lock: refuse if the file no longer holds `expect` (or, with
    `same_stat`, is not the file `_check` saw)."""
    if st is None or (expect is None and not same_stat):
        return
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        raise ConflictError("was removed since it was read; not recreated", path) from None
    if expect is not None:
        if _current(path) != expect:
            raise ConflictError("changed on disk since it was read; not overwritten", path)
    elif (now.st_mtime_ns, now.st_size, now.st_ino) != (st.st_mtime_ns, st.st_size, st.st_ino):
        raise ConflictError("changed on disk since it was read; not overwritten", path)


def write_many(items: list[tuple[Path, bytes, bytes | None]]) -> list[WriteError | ConflictError | None]:
    """Write many files with the guarantees of `write_atomic` but one sync for them all.

    Each item is (path, data, expect). Every temp file is written, then they are made
    durable together (`fsync` of each on a pool of threads, so the file system commits
    them in a few journal transactions instead of one per file; never a global `sync`),
    then each is renamed into place under the file's lock (after comparing it again with
    `expect`, see `file_lock`), then each folder is synced once. Returns one error or None
    per item; a failed item leaves its file as it was.
    """
    results: list[WriteError | ConflictError | None] = [None] * len(items)
    staged: list[tuple[int, str, os.stat_result | None]] = []
    try:
        for i, (path, data, expect) in enumerate(items):
            tmp = None
            try:
                st = _check(path, expect, False)
                fd, tmp = _temp(path)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                staged.append((i, tmp, st))
            except (WriteError, ConflictError) as exc:
                results[i] = exc
            except OSError as exc:
                if tmp:
                    _unlink_quietly(tmp)
                results[i] = WriteError(f"write failed: {exc.strerror or exc}; file left as it was", path)
        for (i, tmp, _), error in zip(list(staged), _fsync_all([tmp for _, tmp, _ in staged])):
            if error is not None:
                results[i] = WriteError(f"write failed: {error.strerror or error}; file left as it was", items[i][0])
                _unlink_quietly(tmp)
        staged = [item for item in staged if results[item[0]] is None]
        folders = set()
        for i, tmp, st in staged:
            path = items[i][0]
            try:
                with file_lock(path, st):
                    _recheck(path, st, items[i][2], same_stat=True)
                    _install(tmp, path, st, False)
                folders.add(path.parent)
            except (WriteError, ConflictError) as exc:
                _unlink_quietly(tmp)
                results[i] = exc
            except OSError as exc:
                _unlink_quietly(tmp)
                results[i] = WriteError(f"write failed: {exc.strerror or exc}; file left as it was", path)
        for folder in folders:
            _fsync_dir(folder)
    except BaseException:
        for _, tmp, _ in staged:
            if os.path.exists(tmp):
                _unlink_quietly(tmp)
        raise
    return results


def _fsync_all(paths: list[str]) -> list[OSError | None]:
    """fsync every file, several at once (the disk commits concurrent syncs together)."""
    def one(path: str) -> OSError | None:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            return exc
        return None

    return pools.thread_map(one, paths, threads=16 if len(paths) >= 4 else 1)


_STALE = re.compile(r"\.(\d+)\.[^./]*" + re.escape(TEMP_SUFFIX) + r"\Z")


def remove_stale_temps(folder: str | Path, names: list[str]) -> int:
    """Remove qtkit temp files in `folder` left by processes that no longer run (a
    killed write); return how many. `names` are the folder's entry names."""
    removed = 0
    for name in names:
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):
            m = _STALE.search(name)
            if m and not _alive(int(m.group(1))):
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check(path: Path, expect: bytes | None, exclusive: bool) -> os.stat_result | None:
    """The target's stat, after refusing links, non-files, and files changed since read."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if exclusive:
            raise WriteError("already exists", path)
        if stat.S_ISLNK(st.st_mode):
            raise WriteError("is a symbolic link; qtkit never writes through links", path)
        if not stat.S_ISREG(st.st_mode):
            raise WriteError("is not a regular file", path)
        if expect is not None and _current(path) != expect:
            raise ConflictError("changed on disk since it was read; not overwritten", path)
    elif expect is not None:
        raise ConflictError("was removed since it was read; not recreated", path)
    return st


_serial = itertools.count()
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def _temp(path: Path) -> tuple[int, str]:
    """A new temp file (mode 0600) beside `path`, named `.NAME.PID.TOKEN.qtkit-tmp`: the pid
    lets a later run remove temp files of a killed one. (What `tempfile.mkstemp` does,
    without the cost of its random names when thousands are made.)"""
    for _ in range(100):
        tail = f".{os.getpid()}.{next(_serial)}{_salt()}{TEMP_SUFFIX}"
        name = path.name
        while len(f".{name}{tail}".encode("utf-8")) > 255:  # a long file name: a shorter stem for the temp file
            name = name[: len(name) - 8]
        tmp = os.path.join(path.parent, f".{name}{tail}")
        try:
            return os.open(tmp, _FLAGS, 0o600), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"cannot create a temporary file: {exc.strerror}", path) from None
    raise WriteError("cannot create a temporary file: every name tried exists", path)


@functools.cache
def _salt() -> str:
    return "-" + os.urandom(4).hex()


_write_log: list[str] = []  # absolute paths this process wrote, oldest first (the last WRITE_LOG)
_write_count = 0  # how many writes this process made: the generation a Collection compares
_write_lock = threading.Lock()
WRITE_LOG = 4096


def _written(path: str | Path) -> None:
    """Record that `path` was written (or removed) by this process."""
    global _write_count
    with _write_lock:
        _write_count += 1
        _write_log.append(os.path.abspath(path))
        if len(_write_log) > WRITE_LOG:
            del _write_log[: len(_write_log) - WRITE_LOG]


def write_generation() -> int:
    """How many files this process has written so far (every qtkit write counts)."""
    return _write_count


def written_since(generation: int) -> list[str] | None:
    """The absolute paths written since `write_generation()` returned `generation`, or
    None when the log no longer reaches back that far (then re-read everything)."""
    with _write_lock:
        missed = _write_count - generation
        if missed < 0 or missed > len(_write_log):
            return None
        return _write_log[len(_write_log) - missed:] if missed else []


def _install(tmp: str, path: Path, st: os.stat_result | None, exclusive: bool) -> None:
    """Give the temp file the target's mode (and owner) and move it into place."""
    os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
    if st is not None and hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:
            pass
    if exclusive:
        # link() fails if the name exists: no race with another creator.
        os.link(tmp, path)
        os.unlink(tmp)
    else:
        os.replace(tmp, path)
    _written(path)


_held: dict[str, int] = {}  # collection locks this process holds (re-entrant)


@contextlib.contextmanager
def collection_lock(root: str | Path, *, dry_run: bool = False, timeout: float | None = None) -> Iterator[None]:
    """Hold the collection's write lock (`<root>/.qtkit/lock`) for the block.

    Writers are serialised: a second one waits, telling stderr once, and is refused
    (`Refused`) after `timeout` seconds (default `$QTKIT_LOCK_TIMEOUT`, else 600). Dry runs
    take no lock. Re-entrant within one process.
    """
    key = str(Path(root).resolve())
    if dry_run or _held.get(key):
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    import fcntl
    import time
    import warnings

    from .errors import Notice, Refused

    limit = float(os.environ.get("QTKIT_LOCK_TIMEOUT", "600")) if timeout is None else timeout
    folder = Path(root) / ".qtkit"
    try:
        folder.mkdir(exist_ok=True)
        fh = open(folder / "lock", "a+")
    except OSError as exc:
        raise WriteError(f"cannot take the collection's write lock: {exc.strerror or exc}; nothing written",
                         folder / "lock") from None
    with fh:
        start = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() - start >= limit:
                    raise Refused(f"another qtkit command is writing to this collection (lock {folder / 'lock'}); "
                                  f"gave up after {limit:g} s") from None
                if not told:
                    warnings.warn(Notice(f"waiting for another qtkit command writing to {root} ..."), stacklevel=3)
                    told = True
                time.sleep(0.05)
        _held[key] = 1
        try:
            replay_journal(root)
            yield
        finally:
            _held[key] = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


def unified_diff(old: bytes, new: bytes, name: str) -> str:
    """A unified diff of two versions of a file, line endings shown as they are."""
    a = old.decode("utf-8", "replace").splitlines(keepends=True)
    b = new.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, f"a/{name}", f"b/{name}")
    out = []
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _current(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ------------------------------------------------------------------ all-or-nothing writes

JOURNAL_DIR = "journal"  # under <root>/.qtkit: the journal of a multi-file write in progress


def write_all(root: str | Path, plan: list[tuple[Path, bytes | None, bytes | None]], *, what: str = "write") -> None:
    """Write several files all or nothing. Each item is (path, old bytes or None for a new
    file, new bytes or None to remove the file).

    Every new text is written to a temp file and synced first; each existing file gets a
    hard link in `<root>/.qtkit/journal/`, and a journal naming them is synced; only then
    are the files renamed into place (each under its lock, after comparing it with its
    old bytes). A failure puts every file back with renames, which need no free space. If
    even that fails, or the process dies, the journal stays: the next qtkit command that
    writes to the collection (`collection_lock`) replays it, so the files come back as they
    were; the `WriteError` says which file is in which state.
    """
    import json

    root = Path(root)
    folder = root / ".qtkit" / JOURNAL_DIR
    staged: list[str | None] = []
    backups: list[str | None] = []
    journal = folder / "transaction.json"

    def cleanup() -> None:
        for tmp in staged:
            if tmp:
                _unlink_quietly(tmp)
        for backup in backups:
            if backup:
                _unlink_quietly(backup)

    try:
        for path, old, new in plan:  # 1. every new text durable in a temp file
            if new is None:
                staged.append(None)
                continue
            _check(path, old, old is None)
            fd, tmp = _temp(path)
            staged.append(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(new)
                fh.flush()
                os.fsync(fh.fileno())
        folder.mkdir(parents=True, exist_ok=True)
        for i, (path, old, _) in enumerate(plan):  # 2. the old files kept by a second name
            if old is None:
                backups.append(None)
                continue
            backup = str(folder / f"{os.getpid()}-{i}.old")
            _unlink_quietly(backup)
            try:
                os.link(path, backup)
            except OSError:  # no hard links here: a synced copy of the old text
                with open(backup, "xb") as fh:
                    fh.write(old)
                    fh.flush()
                    os.fsync(fh.fileno())
            backups.append(backup)
        entries = [{"path": str(path), "backup": backup, "created": old is None}
                   for (path, old, _), backup in zip(plan, backups)]
        write_atomic(journal, json.dumps({"what": what, "entries": entries}, indent=1).encode("utf-8"))
    except (OSError, QtkitError) as exc:
        cleanup()
        reason = exc.strerror if isinstance(exc, OSError) else exc.message if isinstance(exc, QtkitError) else exc
        where = getattr(exc, "path", None) or (plan[0][0] if plan else root)
        if isinstance(exc, ConflictError):
            raise
        raise WriteError(f"{what} failed before any file was changed: {reason or exc}; every file left as it was",
                         where) from None
    done: list[int] = []
    try:
        for i, (path, old, new) in enumerate(plan):  # 3. into place
            if new is None:
                with file_lock(path, os.lstat(path)):
                    if _current(path) != old:
                        raise ConflictError("changed on disk since it was read; not removed", path)
                    os.unlink(path)
                    _written(path)
            else:
                with file_lock(path, None if old is None else os.lstat(path)):
                    if old is not None and _current(path) != old:
                        raise ConflictError("changed on disk since it was read; not overwritten", path)
                    _install(staged[i], path, os.lstat(path) if old is not None else None, old is None)
                staged[i] = None
            done.append(i)
        for path in {p.parent for p, _, _ in plan}:
            _fsync_dir(path)
    except (OSError, QtkitError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        failed = _roll_back(plan, backups, done)
        for tmp in staged:
            if tmp:
                _unlink_quietly(tmp)
        if not failed:
            for backup in backups:
                if backup:
                    _unlink_quietly(backup)
            _unlink_quietly(str(journal))
            if isinstance(exc, ConflictError):
                raise
            raise WriteError(f"{what} failed and was undone: {reason or exc}; every file left as it was",
                             plan[done[-1] if done else 0][0]) from None
        raise WriteError(
            f"{what} failed ({reason or exc}) and could not be fully undone: "
            + "; ".join(failed)
            + f". The journal {journal} holds the old files: the next qtkit command that writes to "
            f"{root} (for example `qtkit index --root {root}`) puts them back.", root) from None
    for backup in backups:
        if backup:
            _unlink_quietly(backup)
    _unlink_quietly(str(journal))


def _roll_back(plan: list, backups: list, done: list[int]) -> list[str]:
    """Undo the installed items with renames only; describe each one that stays changed."""
    failed = []
    for i in reversed(done):
        path, old, new = plan[i]
        try:
            if old is None:
                os.unlink(path)
            else:
                os.replace(backups[i], path)
                backups[i] = None
        except OSError as exc:
            state = "was created" if old is None else "was removed" if new is None else "has the new text"
            failed.append(f"{path} {state} ({exc.strerror})")
    return failed


def replay_journal(root: str | Path) -> list[str]:
    """Put back the files of a multi-file write that was interrupted (see `write_all`);
    return the paths restored. Called with the collection's lock held."""
    import json

    journal = Path(root) / ".qtkit" / JOURNAL_DIR / "transaction.json"
    try:
        entries = json.loads(journal.read_bytes())["entries"]
    except FileNotFoundError:
        try:  # second names of a write killed before its journal was complete
            for name in os.listdir(journal.parent):
                if name.endswith(".old"):
                    _unlink_quietly(os.path.join(journal.parent, name))
        except OSError:
            pass
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WriteError(f"cannot read the journal of an interrupted write: {exc}", journal) from None
    restored = []
    try:
        for entry in reversed(entries):
            path, backup = Path(entry["path"]), entry.get("backup")
            if backup and os.path.exists(backup):
                os.replace(backup, path)
                restored.append(str(path))
            elif entry.get("created") and os.path.lexists(path):
                os.unlink(path)
                restored.append(str(path))
        os.unlink(journal)
    except OSError as exc:
        raise WriteError(f"cannot replay the journal of an interrupted write: {exc.strerror or exc}", journal) from None
    return restored


def finish_interrupted(root: str | Path) -> list[str]:
    """Replay the journal of an interrupted multi-file write, if there is one (taking the
    collection's lock for it); return the paths restored."""
    if not (Path(root) / ".qtkit" / JOURNAL_DIR / "transaction.json").exists():
        return []
    with collection_lock(root):
        return replay_journal(root)
