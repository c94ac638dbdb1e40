"""What one `relink` run did (`RelinkReport`): counts, files changed, errors, diffs and
the seconds of each phase."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class RelinkReport:
    """What one run did: counts, the files changed, errors (one line each), diffs kept."""

    questions: int = 0
    scored: int = 0
    changed: list[str] = field(default_factory=list)
    written: int = 0
    errors: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    full: bool = False
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[name] = round(self.phases.get(name, 0.0) + now - since, 3)
        return now

    def summary(self) -> dict:
        return {"questions": self.questions, "scored": self.scored, "changed": len(self.changed),
                "written": self.written, "errors": len(self.errors), "full": self.full,
                "seconds": round(self.seconds, 2)}
