"""`qtkit index` as one library call: put back the files of an interrupted multi-file
write, then build or refresh the collection's cache, and say what was done."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .index import Collection
from .progress import PhaseProgress



@dataclass
class IndexSummary:
    """What `index` did: files seen, read again and dropped from the cache, the
    `path:line:col: message` of every unreadable file, the highest id, the seconds the
    refresh took, and the files an interrupted multi-file write had left (put back)."""

    root: Path
    files: int
    parsed: int
    removed: int
    errors: list[str]
    max_id: int
    seconds: float
    restored: list[str]

    def as_json(self) -> dict:
        """The summary `qtkit index --json` prints (unreadable files as a count)."""
        return {"root": str(self.root), "files": self.files, "parsed": self.parsed, "removed": self.removed,
                "errors": len(self.errors), "max_id": self.max_id, "seconds": round(self.seconds, 3)}


def index(root: str | Path | None = None, *, progress: PhaseProgress | None = None) -> IndexSummary:
    """`qtkit index`: put back the files of an interrupted multi-file write (from the
    journal), then build or refresh the cache; only files whose size or mtime changed are
    read again. `progress("indexing", done, total)` is called as files are read. Raises
    `NoCollection` when no collection is found."""
    from .locks import finish_interrupted

    coll = Collection(root)
    restored = finish_interrupted(coll.root)
    stats = coll.refresh(progress=(lambda done, total: progress("indexing", done, total)) if progress else None)
    return IndexSummary(coll.root, stats.scanned, stats.parsed, stats.removed, coll.errors(), coll.max_id(),
                        stats.seconds, restored)
