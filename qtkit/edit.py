"""Get and set front-matter values in question files: the Python side of `qtkit get/set/unset`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .document import Document, load
from .errors import ConflictError, EditError, KeyNotFound
from .values import Text, keep_type


@dataclass
class EditResult:
    """What an edit did (or, in a dry run, would do) to one file."""

    path: Path
    changed: bool
    diff: str
    written: bool


def resolve(target: str | Path, root: str | Path | None = None, *, every: bool = False) -> list[Path]:
    """The files a TARGET names: an existing file path, or a url or id of a page in the
    collection at `root`. An id shared by cross-listed copies names them all: with
    `every` all are returned, otherwise `Ambiguous` (a usage error) lists them.
    Raises `NotFound` when nothing matches."""
    if names_a_file(target, root):
        return [Path(target)]  # a missing file fails when it is read, naming the file
    from .index import Collection

    return [r.path for r in Collection(root).targets(str(target), every=every)]


def names_a_file(target: str | Path, root: str | Path | None = None) -> bool:
    """Whether a TARGET is a file path, not an id or a url to look up in the collection."""
    text, path = str(target), Path(target)
    if text.lstrip("-").isdigit() and not path.suffix:
        return False  # an id: 65955
    if "://" in text:
        return False  # a page url as a browser shows it: https://<host>/learn/...
    if path.is_file():
        return True  # an existing file
    if not text.startswith("/"):
        return root is None  # a relative path, when no collection is named to look it up in
    if text.startswith("/learn/"):
        return False  # a page url: /learn/<subject_key>/questions/<slug>
    return path.parent.is_dir()  # an absolute path to a missing file in an existing folder


def get(target: str | Path, key: str, *, root: str | Path | None = None) -> Any:
    """The value of a dotted `key` in the question `target` (a path or an id)."""
    return load(resolve(target, root)[0]).lookup(key)


def set_values(
    target: str | Path,
    values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    *,
    unset: Iterable[str] = (),
    dry_run: bool = False,
    root: str | Path | None = None,
) -> EditResult:
    """Set dotted keys to values and remove others, format-preservingly, in one write.
    `target` names one page (a path, url, or an id no other page shares).
    The read-modify-write is atomic against every other qtkit writer: if the file changed
    between the read and the write, it is read again and the edit made again (up to
    `CONFLICT_RETRIES` times), then `ConflictError`.
    """
    items = list(values.items() if isinstance(values, Mapping) else values)
    return _edit(resolve(target, root)[0], items, list(unset), dry_run)


def _edit(path: Path, items: list, keys: list, dry_run: bool) -> EditResult:
    """Load, edit and write one file, again from a fresh read when it changed meanwhile."""
    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            return apply(load(path), items, unset=keys, dry_run=dry_run)
        except ConflictError:
            if attempt == CONFLICT_RETRIES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


#: how many times `set_values` reads a file again when another writer changed it meanwhile
CONFLICT_RETRIES = 5


def set_every(
    target: str | Path,
    values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    *,
    unset: Iterable[str] = (),
    dry_run: bool = False,
    root: str | Path | None = None,
) -> list[EditResult]:
    """`set_values` on every page a TARGET names: all cross-listed copies of an id (`set --all`)."""
    items = list(values.items() if isinstance(values, Mapping) else values)
    keys = list(unset)
    return [_edit(path, items, keys, dry_run) for path in resolve(target, root, every=True)]


def set_where(
    where: Iterable[Any],
    values: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    unset: Iterable[str] = (),
    dry_run: bool = False,
    root: str | Path | None = None,
) -> list[EditResult]:
    """`set_values` on every page `where` selects: `qtkit.query` conditions as text
    (`["subject=Computer science", "id>100"]`), `Condition`s or `(key, value)` pairs
    meaning equality; one result per matching file, with its diff in a dry run.

    Every edit is made and verified before any file is written; the files are then
    written as one batch (each atomically, one round of fsyncs for them all, see
    `files.write_many`). Raises `EditError` for a bad condition, and the first edit or
    write error; files without an error are written all the same.
    """
    from .files import write_many
    from .locks import collection_lock
    from .query import select
    from .index import Collection

    coll = Collection(root)
    items = list(values.items() if isinstance(values, Mapping) else values)
    keys = list(unset)
    with collection_lock(coll.root, dry_run=dry_run):
        results: list[EditResult] = []
        pending: list[tuple[Path, bytes, bytes]] = []
        for record in list(select(coll, where=where)):
            doc = load(record.path)
            result = apply(doc, items, unset=keys, dry_run=True, diff=dry_run)
            results.append(result)
            if result.changed and not dry_run:
                pending.append((doc.path, doc.dumps(), doc.raw))  # verified by apply
        errors = write_many(pending) if pending else []
        written = [path for (path, _, _), error in zip(pending, errors) if error is None]
        done = set(written)
        for result in results:
            result.written = result.path in done
        if written:
            coll.add(*written, contents={path: data for path, data, _ in pending}, same_bodies=True)
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            raise failed
    return results


def unset(target: str | Path, keys: Iterable[str], *, dry_run: bool = False, root: str | Path | None = None) -> EditResult:
    """Remove dotted keys (with all their lines) from a question file."""
    return set_values(target, (), unset=keys, dry_run=dry_run, root=root)


def apply(
    doc: Document,
    values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    *,
    unset: Iterable[str] = (),
    dry_run: bool = False,
    diff: bool = True,
) -> EditResult:
    """Apply edits to a loaded document, verify them and write it unless `dry_run`
    (`diff=False` leaves the result's diff empty, for callers that do not show it)."""
    items = values.items() if isinstance(values, Mapping) else values
    for key, value in items:
        if isinstance(value, Text):
            try:
                value = keep_type(value, doc.lookup(key))
            except (KeyNotFound, EditError):
                value = str(value)
        doc.set(key, value)
    for key in unset:
        doc.delete(key)
    assert doc.path is not None
    if not doc.changed:
        return EditResult(doc.path, False, "", False)
    doc.verify()
    text = doc.diff(_shown(doc.path)) if diff else ""
    written = False if dry_run else doc.save()
    return EditResult(doc.path, True, text, written)


def _shown(path: Path) -> str:
    """A path as a diff header shows it: relative to the cwd when under it (so copies in
    two subject folders differ, and `patch -p1` applies it from there), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
