"""The only write path: atomic, mode-keeping writes, and unified diffs for dry runs."""

from __future__ import annotations

import contextlib
import difflib
import functools
import itertools
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

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
    st = _check(path, expect, exclusive)
    fd, tmp = _temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
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


def write_many(items: list[tuple[Path, bytes, bytes | None]]) -> list[WriteError | ConflictError | None]:
    """Write many files with the guarantees of `write_atomic` but one sync for them all.

    Each item is (path, data, expect). Every temp file is written, then all are fsynced
    at once from a few threads (never a machine-wide `os.sync()`), then each is renamed
    into place (after checking again that the file was not changed meanwhile), then each
    folder is fsynced once. Returns one error or
    None per item; a failed item leaves its file as it was.
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
                now = os.lstat(path) if st is not None else None
                if st is not None and (now.st_mtime_ns, now.st_size, now.st_ino) != (st.st_mtime_ns, st.st_size, st.st_ino):
                    raise ConflictError("changed on disk since it was read; not overwritten", path)
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
    from concurrent.futures import ThreadPoolExecutor

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

    if len(paths) < 4:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(min(16, len(paths))) as pool:
        return list(pool.map(one, paths))


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
        if not st.st_mode & 0o222:
            raise WriteError("is read-only (no write permission bits); not written", path)
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
        tmp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{next(_serial)}{_salt()}{TEMP_SUFFIX}")
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
    import sys
    import time

    from .errors import Refused

    limit = float(os.environ.get("QTKIT_LOCK_TIMEOUT", "600")) if timeout is None else timeout
    folder = Path(root) / ".qtkit"
    folder.mkdir(exist_ok=True)
    with open(folder / "lock", "a+") as fh:
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
                    print(f"waiting for another qtkit command writing to {root} ...", file=sys.stderr)
                    told = True
                time.sleep(0.05)
        _held[key] = 1
        try:
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
