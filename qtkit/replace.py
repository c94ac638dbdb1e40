"""Bulk find and replace inside one front-matter field: the Python side of `qtkit replace`.

Every page `where` selects whose FIELD is a string containing OLD gets the replaced
value through the format-preserving editor (each value keeps its style), under the
collection lock, each file written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .document import load
from .edit import CONFLICT_RETRIES, EditResult, apply
from .errors import ConflictError, EditError, QtkitError
from .query import REGEX_TIMEOUT, compile_pattern, parse_where, select


@dataclass
class Replacement:
    """What replacing did (or would do) in one file: the edit and how many occurrences."""

    result: EditResult
    count: int

    def as_json(self) -> dict:
        return {"path": str(self.result.path), "replacements": self.count, "changed": self.result.changed,
                "written": self.result.written}


def replace(
    field: str,
    old: str,
    new: str,
    *,
    use_regex: bool = False,
    where: Iterable[Any] = (),
    dry_run: bool = False,
    root: str | Path | None = None,
    errors: Callable[[QtkitError], None] | None = None,
) -> list[Replacement]:
    """Replace `old` with `new` in the string value of the dotted `field` of every page
    `where` selects (`qtkit.query` conditions). With `use_regex`, `old` is a regular
    expression and `new` may use `\\1`/`\\g<name>`. Only pages whose value changes are
    returned. A file that cannot be read or written is passed to `errors` (raised when
    None) and the others go on. Raises `EditError` for an empty OLD, a bad pattern or
    condition."""
    from .locks import collection_lock
    from .index import Collection

    if not old:
        raise EditError("OLD must not be empty")
    conditions = parse_where(where)
    pattern = compile_pattern(old) if use_regex else None
    if pattern is not None:
        try:
            pattern.sub(new, "")  # a bad group reference in NEW fails here, before any file
        except (IndexError, Exception) as exc:  # regex raises its own error class
            raise EditError(f"invalid replacement {new!r}: {exc}") from None

    def substitute(value: str) -> tuple[str, int]:
        if pattern is None:
            return value.replace(old, new), value.count(old)
        try:
            return pattern.subn(new, value, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            raise EditError(f"regular expression {old!r} took longer than {REGEX_TIMEOUT} s; simplify it") from None

    coll = Collection(root)
    out: list[Replacement] = []
    with collection_lock(coll.root, dry_run=dry_run):
        for record in list(select(coll, where=conditions)):
            value = record.get(field)
            if not isinstance(value, str):
                continue
            replaced, count = substitute(value)
            if not count or replaced == value:
                continue
            try:
                result = _edit(record.path, field, substitute, dry_run)
            except QtkitError as exc:
                if errors is None:
                    raise
                errors(exc)
                continue
            if result is not None and result[0].changed:
                out.append(Replacement(*result))
        written = [r.result.path for r in out if r.result.written]
        if written:
            coll.add(*written)
    return out


def _edit(path: Path, field: str, substitute: Callable[[str], tuple[str, int]], dry_run: bool
          ) -> tuple[EditResult, int] | None:
    """Replace in the file as it is now (read again if another writer changed it)."""
    for attempt in range(CONFLICT_RETRIES + 1):
        doc = load(path)
        value = doc.get(field)
        if not isinstance(value, str):
            return None
        replaced, count = substitute(value)
        if not count:
            return None
        try:
            return apply(doc, [(field, replaced)], dry_run=dry_run), count
        except ConflictError:
            if attempt == CONFLICT_RETRIES:
                raise
    return None  # pragma: no cover
