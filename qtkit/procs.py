"""Worker processes that never outlive the command that started them."""

from __future__ import annotations

import ctypes
import signal
import sys


def die_with_parent() -> None:
    """Initializer for worker processes: on Linux, the kernel kills this process when its
    parent dies (even by `kill -9`), so no orphan keeps writing files or holds the lock."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover - no libc: nothing to do
            pass
