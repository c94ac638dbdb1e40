"""All-or-nothing writes of several files, through a journal that survives a crash.

`write_all` keeps a second name for every old file and a journal naming them under
`<root>/.qtkit/journal/` until every file is in place; `replay_journal` puts the old
files back after an interrupted write (the collection's write lock, `locks`, calls it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import files
from .errors import ConflictError, QtkitError, WriteError

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
    root = Path(root)
    folder = root / ".qtkit" / JOURNAL_DIR
    staged: list[str | None] = []
    backups: list[str | None] = []
    journal = folder / "transaction.json"

    def cleanup() -> None:
        for tmp in staged:
            if tmp:
                files.unlink_quietly(tmp)
        for backup in backups:
            if backup:
                files.unlink_quietly(backup)

    try:
        for path, old, new in plan:  # 1. every new text durable in a temp file
            if new is None:
                staged.append(None)
                continue
            files.check_target(path, old, old is None)
            fd, tmp = files.temp_file(path)
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
            files.unlink_quietly(backup)
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
        files.write_atomic(journal, json.dumps({"what": what, "entries": entries}, indent=1).encode("utf-8"))
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
                with files.file_lock(path, os.lstat(path)):
                    if files.current_bytes(path) != old:
                        raise ConflictError("changed on disk since it was read; not removed", path)
                    os.unlink(path)
                    files.record_written(path)
            else:
                with files.file_lock(path, None if old is None else os.lstat(path)):
                    if old is not None and files.current_bytes(path) != old:
                        raise ConflictError("changed on disk since it was read; not overwritten", path)
                    files.install(staged[i], path, os.lstat(path) if old is not None else None, old is None)
                staged[i] = None
            done.append(i)
        for path in {p.parent for p, _, _ in plan}:
            files.fsync_dir(path)
    except (OSError, QtkitError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        failed = _roll_back(plan, backups, done)
        for tmp in staged:
            if tmp:
                files.unlink_quietly(tmp)
        if not failed:
            for backup in backups:
                if backup:
                    files.unlink_quietly(backup)
            files.unlink_quietly(str(journal))
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
            files.unlink_quietly(backup)
    files.unlink_quietly(str(journal))


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
    journal = Path(root) / ".qtkit" / JOURNAL_DIR / "transaction.json"
    try:
        entries = json.loads(journal.read_bytes())["entries"]
    except FileNotFoundError:
        try:  # second names of a write killed before its journal was complete
            for name in os.listdir(journal.parent):
                if name.endswith(".old"):
                    files.unlink_quietly(os.path.join(journal.parent, name))
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
