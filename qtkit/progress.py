"""The shapes of the progress callbacks library functions take (the CLI draws them)."""

from __future__ import annotations

from typing import Callable

#: `progress(done, total)`: items done so far of `total` (0 when not known yet)
Progress = Callable[[int, int], None]
#: `progress(phase, done, total)`: the same within a named phase ("indexing", "score", ...)
PhaseProgress = Callable[[str, int, int], None]
