"""The collection's write lock: one qtkit writer at a time per collection.

Taking it first finishes a multi-file write that was interrupted (`journal`), so every
writer starts from whole files.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from .errors import Notice, Refused, WriteError
from .journal import JOURNAL_DIR, replay_journal

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
    import fcntl  # (POSIX only: imported where it is used)

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


def finish_interrupted(root: str | Path) -> list[str]:
    """Replay the journal of an interrupted multi-file write, if there is one (taking the
    collection's lock for it); return the paths restored."""
    if not (Path(root) / ".qtkit" / JOURNAL_DIR / "transaction.json").exists():
        return []
    with collection_lock(root):
        return replay_journal(root)
