"""Worker pools: the one place qtkit starts worker processes and threads.

Every pool's workers die with the command that started them (`die_with_parent`), results
come back in the order of the inputs, and large read-only inputs reach forked workers
through `shared()` (inherited copy-on-write, never pickled).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_SHARED: Any = None  # what the workers of the running `process_map` read (set just before they fork)


def die_with_parent() -> None:
    """Initializer for worker processes: on Linux, the kernel kills this process when its
    parent dies (even by `kill -9`), so no orphan keeps writing files or holds the lock."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - no libc: nothing to do
            pass


def cores() -> int:
    """The number of CPUs this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def shared() -> Any:
    """In a worker of `process_map(..., shared=X)`: X (in the parent outside a map: None)."""
    return _SHARED


def process_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int, fork: bool = False,
                shared: Any = None) -> Iterator[R]:
    """`fn` over `items` in `workers` processes, results in input order as they come.

    `fork=True` (or a `shared` value) starts the workers by fork, so they inherit the
    parent's memory: `shared` is what `shared()` returns in them. With `workers < 2`
    the map runs in this process (same results). Closing the iterator early cancels
    the work not yet started. Raises whatever `fn` raised, in the parent.
    """
    global _SHARED
    if workers < 2:
        _SHARED = shared
        try:
            yield from map(fn, items)
        finally:
            _SHARED = None
        return
    context = multiprocessing.get_context("fork") if fork or shared is not None else None
    _SHARED = shared
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=die_with_parent)
    try:
        yield from pool.map(fn, items)
    finally:
        _SHARED = None
        pool.shutdown(cancel_futures=True)


def thread_map(fn: Callable[[T], R], items: list[T], *, threads: int) -> list[R]:
    """`fn` over `items` on up to `threads` threads (for work that waits on the disk)."""
    if threads < 2 or len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


def counter() -> Any:
    """A shared integer (`.value`) that forked workers of `run_each` may add to."""
    return multiprocessing.get_context("fork").Value("q", 0)


def run_each(fn: Callable[..., None], calls: list[tuple], *, poll: Callable[[], None] | None = None,
             here: Callable[[], None] | None = None) -> list[int]:
    """One forked process per argument tuple in `calls`, all at once: `fn(*args)` in each.

    `here` is this process's own share of the work, run once they have started. Then
    `poll` is called about five times a second while they run (for progress). Returns the
    exit codes (0: success); a process still alive when this returns (an exception in
    the parent, e.g. KeyboardInterrupt) is killed.
    """
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_run_one, args=(fn, args), daemon=True) for args in calls]
    try:
        for proc in procs:
            proc.start()
        if here:
            here()
        while any(proc.is_alive() for proc in procs):
            procs[0].join(0.2)
            if poll:
                poll()
        return [proc.exitcode or 0 for proc in procs]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
            proc.join()


def _run_one(fn: Callable[..., None], args: tuple) -> None:
    die_with_parent()
    fn(*args)
