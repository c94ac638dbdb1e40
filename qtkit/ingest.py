"""Import records (JSON, JSON Lines or CSV in export's lossless shape) back into files.

Each record is matched by `id`: an existing question is updated through the
format-preserving editor (only values that differ are rewritten, so re-importing an
export changes nothing), a new id is created through the same path as `qtkit new`.
Values whose type JSON or CSV lost (dates, numbers in CSV) take the type of the value they
replace. Keys missing from a record are left alone: import never deletes a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .document import Document, load
from .errors import BadOption, EditError, QtkitError, Refused
from .guards import check_keys, check_text, known_keys, url_shape, validate
from .index import Collection
from .progress import Progress
from .locks import collection_lock
from .records import CSV_CELLS, KeyPath, from_sheet, leaves, lookup, read_records
from .scaffold import NewQuestion, new_many, template
from .shapes import BODY, PATH, from_cell, from_json, unescape_key
from .yamlio import same
_SCAFFOLDED = {("question",), ("subject",), ("answer",), ("id",), ("date",), ("seo", "page_description"),
               ("seo", "page_keywords")}


@dataclass
class ImportItem:
    """What happened (or, in a dry run, would happen) to one record."""

    line: int
    status: str  # created | changed | unchanged | error
    id: Any = None
    path: str = ""
    message: str = ""
    diff: str = ""

    def as_json(self) -> dict:
        out = {"line": self.line, "status": self.status, "id": self.id, "path": self.path}
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class ImportReport:
    source: str
    items: list[ImportItem] = field(default_factory=list)
    written: bool = True

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    @property
    def errors(self) -> list[ImportItem]:
        return [item for item in self.items if item.status == "error"]

    def summary(self) -> dict:
        return {s: self.count(s) for s in ("created", "changed", "unchanged", "error")} | {"written": self.written}


def _values(record: dict, current: dict | None, hints: dict) -> tuple[list[tuple[KeyPath, Any]], str | None]:
    """The record's (key path, value) leaves typed like what they replace, and its body."""
    body: str | None = None
    out: list[tuple[KeyPath, Any]] = []
    cells = record.get(CSV_CELLS)
    if cells is not None:
        for column, cell in cells.items():
            if column == PATH:
                continue
            if column == BODY:
                body = from_cell(cell)
                continue
            parts = column.split(".")
            path = (unescape_key(parts[0]), *parts[1:])
            found, like = lookup(current, path) if current is not None else (False, None)
            if not found:
                if cell == "":
                    continue  # an empty cell where the file has no such key: nothing to add
                like = lookup(hints, path)[1]
            out.append((path, from_cell(cell, like if like is not None or found else "")))
        return out, body
    if "related" in record and PATH not in record and "path" in record:
        raise EditError("this record is in the clean shape; import reads the lossless shape (export's default)")
    for key, value in record.items():
        if key == PATH:
            continue
        if key == BODY:
            if not isinstance(value, str):
                raise EditError(f"{BODY} must be a string")
            body = value
            continue
        top = unescape_key(key)
        for sub, leaf in leaves(value):
            path = (top, *sub)
            found, like = lookup(current, path) if current is not None else (False, None)
            out.append((path, from_json(leaf, like if found else lookup(hints, path)[1])))
    return out, body


def _id(values: list[tuple[KeyPath, Any]]) -> int:
    for path, value in values:
        if path == ("id",):
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63:
                return value
            raise EditError(f"'id' must be a positive integer, not {value!r}")
    raise EditError("the record has no 'id'")


def import_records(
    source: str | Path,
    *,
    root: str | Path | None = None,
    collection: Collection | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    strict: bool = False,
    new_subject: bool = False,
    progress: Progress | None = None,
    add_keys: bool = False,
    renames: str = "refuse",
    shape: str = "lossless",
) -> ImportReport:
    """Update or create a question for every record of `source`; see the module doc.

    A record that fails is reported with its line and the others proceed; with `strict`,
    any failure means nothing is written at all. Guards against accidents, each failing
    the record with a hint: a key no page and not the template has (unless `add_keys`;
    `Title` for `title` is named), text that looks mis-decoded (UTF-8 read as cp1252,
    `Hereâ€™s`), and a changed title or subject, which `renames="apply"` makes through
    `qtkit.rename.rename` (derived fields, file move, inbound links, redirects) and
    `renames="refuse"` (the default) refuses, pointing at `qtkit rename`. `shape="sheet"`
    reads CSV cells whose line breaks are real (`export --shape sheet`).
    Raises `BadOption` (a usage error) for an unknown `renames` or `shape`.
    """
    if renames not in RENAMES:
        raise BadOption(f"unknown --renames {renames!r} (apply or refuse)")
    if shape not in ("lossless", "sheet"):
        raise BadOption(f"unknown --shape {shape!r} (lossless or sheet)")
    coll = collection or Collection(root)
    options = _Options(add_keys, renames, shape == "sheet")
    with collection_lock(coll.root, dry_run=dry_run):
        return _import(coll, source, fmt, dry_run, strict, new_subject, progress, options)


RENAMES = ("apply", "refuse")
#: what `rename` derives from a title and a subject: left to it when a record renames a page
DERIVED: frozenset[KeyPath] = frozenset({("title",), ("article_title",), ("question",), ("subject",), ("seo", "title"),
                                         ("file_name",), ("url",)})


@dataclass(frozen=True)
class _Options:
    add_keys: bool = False
    renames: str = "refuse"
    sheet: bool = False


@dataclass
class _Rename:
    """A page whose record changes its title or subject: other edits first, then `rename`."""

    relpath: str
    title: str | None
    subject: str | None
    doc: Document | None


def _import(coll: Collection, source: str | Path, fmt: str | None, dry_run: bool, strict: bool, new_subject: bool,
            progress: Progress | None, options: _Options = _Options()) -> ImportReport:
    coll.refresh()
    hints = _template_values(coll)
    known = known_keys(coll, hints)
    shape = url_shape(coll.config)
    report = ImportReport(str(source), written=not dry_run)
    pending: list[tuple[ImportItem, Document | NewQuestion]] = []
    seen: set[str] = set()
    for line, record in read_records(source, fmt):
        item = ImportItem(line, "error")
        report.items.append(item)
        try:
            if isinstance(record, QtkitError):
                raise record
            if options.sheet:
                record = from_sheet(record)
            existing = _page_for(coll, record)
            item.id = qid = _record_id(record, existing is not None)
            key = existing.relpath if existing is not None else f"new id {qid}"
            if key in seen:
                raise EditError(f"{'page ' + key if existing is not None else key} appears twice in this import")
            seen.add(key)
            if existing is None:
                values, body = _values(record, None, hints)
                validate(values, shape)
                check_keys(values, known, options.add_keys)
                check_text(values, body, {}, None)
                item.status = "created"
                pending.append((item, _new_question(values, body, new_subject)))
            else:
                item.path = existing.relpath
                values, body = _values(record, existing.data, hints)
                validate(values, shape)
                check_keys(values, known, options.add_keys)
                check_text(values, body, existing.data, existing.body)
                change = _renaming(values, existing.data)
                if change:
                    if options.renames == "refuse":
                        raise Refused(_refusal(existing, change))
                    rest = [(p, v) for p, v in values if p not in DERIVED]
                    item.status, item.message = "changed", "renamed (qtkit rename)"
                    pending.append((item, _Rename(existing.relpath, change.get("title"), change.get("subject"),
                                                  _updated(existing, rest, body))))
                    continue
                doc = _updated(existing, values, body)
                if doc is None:
                    item.status = "unchanged"
                else:
                    item.status, item.diff = "changed", doc.diff()
                    pending.append((item, doc))
        except QtkitError as exc:
            named = exc.path is not None and Path(exc.path) == Path(source)
            item.status, item.message = "error", str(exc) if named else f"{source}:{line}: {exc}"
        if not strict and not dry_run:
            _apply(coll, pending, source)
            pending.clear()
        if progress and len(report.items) % 256 == 0:
            progress(len(report.items), 0)
    if strict and report.errors:
        report.written = False
        return report
    if dry_run:
        _renames(coll, pending, source, dry_run=True)
        _create(coll, pending, source, dry_run=True)
    else:
        _apply(coll, pending, source)
    return report


def _renaming(values: list[tuple[KeyPath, Any]], data: dict) -> dict[str, str]:
    """The new title and/or subject a record gives a page ({} when neither changes)."""
    change = {}
    for path, value in values:
        if path in (("title",), ("subject",)) and isinstance(value, str):
            old = lookup(data, path)[1]
            if " ".join(value.split()) != " ".join(str(old or "").split()):
                change[path[0]] = value
    return change


def _refusal(existing: Any, change: dict[str, str]) -> str:
    what = " and ".join(f"{k} {existing.data.get(k)!r} -> {v!r}" for k, v in change.items())
    options = " ".join(f"--{k} {json.dumps(v, ensure_ascii=False)}" for k, v in change.items())
    return (f"{existing.relpath}: the record changes {what}; a title or subject is changed with"
            f" `qtkit rename {existing.relpath} {options}` (derived fields, inbound links, redirects),"
            f" or import with --renames apply")


def _renames(coll: Collection, pending: list, source: str | Path, *, dry_run: bool) -> None:
    """Make the renames records ask for: their other edits first, then `qtkit.rename.rename`."""
    from .rename import rename

    for item, entry in pending:
        if not isinstance(entry, _Rename):
            continue
        try:
            if entry.doc is not None and not dry_run:
                entry.doc.save()
            report = rename(entry.relpath, title=entry.title, subject=entry.subject, root=coll.root, dry_run=dry_run)
            item.diff = "".join([entry.doc.diff() if entry.doc is not None else "", *report.diffs.values()])
            item.path = report.new_path
        except QtkitError as exc:
            item.status, item.message = "error", f"{source}:{item.line}: {exc}"


def _cell(record: dict, key: str) -> Any:
    cells = record.get(CSV_CELLS)
    return record.get(key) if cells is None else cells.get(key)


def _page_for(coll: Collection, record: dict) -> Any:
    """The page a record updates: the one at its `$path`, else the one with its `url`, else
    the one page of its `id` (a page is named by its path; an id may name cross-listed
    copies). None for a record that makes a new question. Raises `EditError` for a
    `$path` outside the collection or an id shared by several pages with no path or url."""
    rel = _cell(record, PATH)
    if isinstance(rel, str) and rel:
        parts = rel.split("/")
        if rel.startswith("/") or "\x00" in rel or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise EditError(f"{PATH} {rel!r} is not a path inside the collection")
        page = coll.by_path(coll.root / rel)
        if page is not None:
            return page
    url = _cell(record, "url")
    if isinstance(url, str) and url:
        page = coll.by_url(url)
        if page is not None:
            return page
    try:
        qid = _record_id(record, True)
    except EditError:
        return None
    pages = coll.pages(qid)
    if len(pages) > 1:
        raise EditError(f"id {qid} names {len(pages)} pages (cross-listed copies: "
                        f"{', '.join(p.relpath for p in pages)}); give {PATH} or url to say which")
    return pages[0] if pages else None


def _record_id(record: dict, existing: bool = False) -> int:
    """The record's id: any integer for a page that exists (placeholders such as -2 exist),
    a positive one for a new question."""
    value = _cell(record, "id")
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            pass
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63 and (existing or value > 0):
        return value
    raise EditError(f"'id' must be a positive integer, not {value!r}" if value is not None else "the record has no 'id'")


def _updated(existing: Any, values: list[tuple[KeyPath, Any]], body: str | None) -> Document | None:
    """The edited document if the record differs from the file (checked on the cached data first)."""
    if not _differs(values, body, existing.data, existing.body):
        return None
    doc = load(existing.path)
    data = doc.to_dict()
    for path, value in values:
        found, current = lookup(data, path)
        if not found or not same(current, value):
            doc.set(path, value)
    if body is not None and body != doc.body:
        doc.body = body
    if not doc.changed:
        return None
    doc.verify()
    return doc


def _differs(values: list[tuple[KeyPath, Any]], body: str | None, data: dict, current_body: str) -> bool:
    if body is not None and body != current_body:
        return True
    for path, value in values:
        found, current = lookup(data, path)
        if not found or not same(current, value):
            return True
    return False


def _new_question(values: list[tuple[KeyPath, Any]], body: str | None, new_subject: bool) -> NewQuestion:
    given = dict(values)
    question = given.get(("question",), given.get(("title",)))
    subject = given.get(("subject",))
    if not isinstance(question, str) or not isinstance(subject, str):
        raise EditError("a new question needs 'question' (or 'title') and 'subject' strings")
    date = given.get(("date",))
    if date is not None and not hasattr(date, "isoformat"):
        raise EditError(f"'date' must be YYYY-MM-DD, not {date!r}")
    extra = {path: value for path, value in values if path not in _SCAFFOLDED}
    return NewQuestion(
        question, subject,
        answer=_str(given.get(("answer",))), description=_str(given.get(("seo", "page_description"))),
        keywords=_str(given.get(("seo", "page_keywords"))), id=_id(values), date=date, new_subject=new_subject,
        extra=extra, body=body,
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _template_values(coll: Collection) -> dict:
    """Values of the template `new` fills: the type hints for keys a record adds."""
    try:
        return Document(template(coll), "template").to_dict()
    except QtkitError:
        return {}


def _apply(coll: Collection, pending: list, source: str | Path) -> None:
    _renames(coll, pending, source, dry_run=False)
    for item, doc in pending:
        if isinstance(doc, Document):
            try:
                doc.save()
            except QtkitError as exc:
                item.status, item.message = "error", f"{source}:{item.line}: {exc}"
    _create(coll, pending, source, dry_run=False)


def _create(coll: Collection, pending: list, source: str | Path, *, dry_run: bool) -> None:
    creations = [(item, q) for item, q in pending if isinstance(q, NewQuestion)]
    if not creations:
        return
    results = new_many([q for _, q in creations], collection=coll, dry_run=dry_run)
    for (item, _), result in zip(creations, results):
        if isinstance(result, QtkitError):
            item.status, item.message = "error", f"{source}:{item.line}: {result}"
        else:
            item.path = result.path.relative_to(coll.root).as_posix()
