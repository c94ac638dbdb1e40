"""The only write path: atomic, mode-keeping writes of one file or a batch, the per-file
lock every writer installs under, the log of what this process wrote, and unified diffs
for dry runs. (All-or-nothing writes of several files are `journal`'s; the collection's
write lock is `locks`'.)"""

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
from .errors import ConflictError, ParseError, WriteError

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
    st = check_target(path, expect, exclusive)
    fd, tmp = temp_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with file_lock(path, st):
            _recheck(path, st, expect)
            install(tmp, path, st, exclusive)
        fsync_dir(path.parent)
    except FileExistsError:
        unlink_quietly(tmp)
        raise WriteError("already exists", path) from None
    except OSError as exc:
        unlink_quietly(tmp)
        raise WriteError(f"write failed: {exc.strerror or exc}; file left as it was", path) from None
    except BaseException:
        unlink_quietly(tmp)
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
        if current_bytes(path) != expect:
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
                st = check_target(path, expect, False, compare=False)  # compared under the lock, below
                fd, tmp = temp_file(path)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                staged.append((i, tmp, st))
            except (WriteError, ConflictError) as exc:
                results[i] = exc
            except OSError as exc:
                if tmp:
                    unlink_quietly(tmp)
                results[i] = WriteError(f"write failed: {exc.strerror or exc}; file left as it was", path)
        for (i, tmp, _), error in zip(list(staged), _fsync_all([tmp for _, tmp, _ in staged])):
            if error is not None:
                results[i] = WriteError(f"write failed: {error.strerror or error}; file left as it was", items[i][0])
                unlink_quietly(tmp)
        staged = [item for item in staged if results[item[0]] is None]
        folders = set()
        for i, tmp, st in staged:
            path = items[i][0]
            try:
                with file_lock(path, st):
                    _recheck(path, st, items[i][2], same_stat=True)
                    install(tmp, path, st, False)
                folders.add(path.parent)
            except (WriteError, ConflictError) as exc:
                unlink_quietly(tmp)
                results[i] = exc
            except OSError as exc:
                unlink_quietly(tmp)
                results[i] = WriteError(f"write failed: {exc.strerror or exc}; file left as it was", path)
        for folder in folders:
            fsync_dir(folder)
    except BaseException:
        for _, tmp, _ in staged:
            if os.path.exists(tmp):
                unlink_quietly(tmp)
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


def check_target(path: Path, expect: bytes | None, exclusive: bool, *, compare: bool = True) -> os.stat_result | None:
    """The stat of the file a write replaces (None: no file there yet). Raises `WriteError`
    for a symbolic link, a non-file, or (with `exclusive`) an existing file, and
    `ConflictError` when its bytes are not `expect` (or it is gone though `expect` is given;
    `compare=False` leaves the bytes to the comparison under the file's lock)."""
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
        if compare and expect is not None and current_bytes(path) != expect:
            raise ConflictError("changed on disk since it was read; not overwritten", path)
    elif expect is not None:
        raise ConflictError("was removed since it was read; not recreated", path)
    return st


_serial = itertools.count()
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def temp_file(path: Path) -> tuple[int, str]:
    """A new temp file (mode 0600) beside `path`: its open descriptor and its name,
    `.NAME.PID.TOKEN.qtkit-tmp` (the pid lets a later run remove temp files of a killed
    one; what `tempfile.mkstemp` does, without the cost of its random names when
    thousands are made). Raises `WriteError` when none can be made."""
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


def record_written(path: str | Path) -> None:
    """Record that `path` was written (or removed) by this process (see `written_since`)."""
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


def install(tmp: str, path: Path, st: os.stat_result | None, exclusive: bool) -> None:
    """Give the temp file `tmp` the mode (and owner) of the file `st` describes and move it
    to `path` (with `exclusive`, only if nothing is there); the write is recorded. Call it
    under `file_lock`, after comparing the file again. OS errors propagate."""
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
    record_written(path)


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


def current_bytes(path: Path) -> bytes | None:
    """The bytes at `path` now, or None when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    """Make a folder's entries durable (renames into it); errors are ignored."""
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


def unlink_quietly(path: str) -> None:
    """Remove a file if it can be removed (temp files, second names); errors are ignored."""
    try:
        os.unlink(path)
    except OSError:
        pass
