"""Import records (JSON, JSON Lines or CSV in export's lossless shape) back into files.

Each record is matched by `id`: an existing question is updated through the
format-preserving editor (only values that differ are rewritten, so re-importing an
export changes nothing), a new id is created through the same path as `qtkit new`.
Values whose type JSON or CSV lost (dates, numbers in CSV) take the type of the value they
replace. Keys missing from a record are left alone: import never deletes a key.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .document import Document, load
from .entries import decode
from .errors import EditError, ParseError, QtkitError, Refused
from .files import read_bytes
from .index import Collection, Progress
from .locks import collection_lock
from .scaffold import NewQuestion, new_many
from .shapes import BODY, PATH, RELATED, from_cell, from_header_cell, from_json, unescape_key
from .yamlio import same

KeyPath = tuple[str, ...]
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


# ------------------------------------------------------------------ reading records


def sniff(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".json", ".csv"):
        return suffix[1:]
    start = text.lstrip("\ufeff \t\r\n")[:1]
    return "json" if start == "[" else "jsonl" if start == "{" else "csv"


def read_records(path: str | Path, fmt: str | None = None) -> Iterator[tuple[int, dict | QtkitError]]:
    """(line, record) for every record of an export file; a bad record comes as an error."""
    path = Path(path)
    text = decode(read_bytes(path), path)
    fmt = fmt or sniff(path, text)
    if fmt == "json":
        yield from _json_records(path, text)
    elif fmt == "jsonl":
        yield from _jsonl_records(path, text)
    elif fmt == "csv":
        yield from _csv_records(path, text)
    else:
        raise EditError(f"unknown import format {fmt!r} (json, jsonl or csv)")


def _json_records(path: Path, text: str) -> Iterator[tuple[int, dict | QtkitError]]:
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if text[pos : pos + 1] == "\ufeff":
        pos = _skip(text, pos + 1)
    if text[pos : pos + 1] != "[":
        raise ParseError("a JSON export is an array of objects", path, *_where(text, pos))
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == "]":
        return
    line, counted = 1, 0
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"invalid JSON: {getattr(exc, 'msg', exc)}", path, *_where(text, getattr(exc, "pos", pos))) from None
        yield line, value if isinstance(value, dict) else EditError("a record must be a JSON object", path, line)
        pos = _skip(text, pos)
        if text[pos : pos + 1] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos : pos + 1] == "]":
            if text[_skip(text, pos + 1) :]:
                raise ParseError("text after the end of the array", path, *_where(text, pos + 1))
            return
        else:
            raise ParseError("expected ',' or ']' after a record", path, *_where(text, pos))


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _where(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _jsonl_records(path: Path, text: str) -> Iterator[tuple[int, dict | QtkitError]]:
    for line_no, line in enumerate(text.lstrip("\ufeff").split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield line_no, ParseError(f"invalid JSON: {getattr(exc, 'msg', exc)}", path, line_no,
                                      getattr(exc, "colno", None))
            continue
        yield line_no, value if isinstance(value, dict) else EditError("a record must be a JSON object", path, line_no)


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, dict | QtkitError]]:
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    try:
        header = next(rows)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ParseError(f"invalid CSV header: {exc}", path, 1) from None
    header = [from_header_cell(cell) for cell in header]
    if len(set(header)) != len(header):
        raise ParseError("the header repeats a column", path, 1)
    if "id" not in header:
        raise ParseError("the header has no 'id' column", path, 1)
    line_no = rows.line_num
    while True:
        start = line_no + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, ParseError(f"invalid CSV: {exc}", path, start)
            return
        line_no = rows.line_num
        if not row:
            continue
        if len(row) != len(header):
            yield start, EditError(f"row has {len(row)} cells, the header has {len(header)} columns", path, start)
            continue
        yield start, {"\x00csv": dict(zip(header, row))}


# ------------------------------------------------------------------ applying records


def _leaves(value: Any, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*prefix, key))
    else:
        yield prefix, value


def _lookup(data: Any, path: KeyPath) -> tuple[bool, Any]:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def _values(record: dict, current: dict | None, hints: dict) -> tuple[list[tuple[KeyPath, Any]], str | None]:
    """The record's (key path, value) leaves typed like what they replace, and its body."""
    body: str | None = None
    out: list[tuple[KeyPath, Any]] = []
    cells = record.get("\x00csv")
    if cells is not None:
        for column, cell in cells.items():
            if column == PATH:
                continue
            if column == BODY:
                body = from_cell(cell)
                continue
            parts = column.split(".")
            path = (unescape_key(parts[0]), *parts[1:])
            found, like = _lookup(current, path) if current is not None else (False, None)
            if not found:
                if cell == "":
                    continue  # an empty cell where the file has no such key: nothing to add
                like = _lookup(hints, path)[1]
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
        for sub, leaf in _leaves(value):
            path = (top, *sub)
            found, like = _lookup(current, path) if current is not None else (False, None)
            out.append((path, from_json(leaf, like if found else _lookup(hints, path)[1])))
    return out, body


# ------------------------------------------------------------------ untrusted values

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SLUG = "[a-z0-9-]+"
MAX_NAME_BYTES = 255  # the longest file name most file systems take


def url_shape(config: Any) -> re.Pattern[str]:
    """The shape of a question url in this collection: `url_pattern` with every
    `{subject_slug}` and `{slug}` standing for a slug (`[a-z0-9-]+`)."""
    parts = re.split(r"(\{subject_slug\}|\{slug\})", config.url_pattern)
    return re.compile("".join(_SLUG if part in ("{subject_slug}", "{slug}") else re.escape(part) for part in parts) + r"\Z")


def validate_value(path: KeyPath, value: Any, shape: re.Pattern[str]) -> None:
    """Refuse (`EditError`) a value from import data that would become a path or a url
    and is not of the form the collection uses: `file_name` is one file name (no `/`,
    `\\`, NUL or control character, not `.`/`..` or hidden, at most 255 bytes); `url` and
    a related link's `url` have the site's shape (`/learn/<slug>/questions/<slug>`);
    each of `aliases` is a root-relative url path without `..` or control characters."""
    name = ".".join(path)
    if path == ("file_name",):
        if not isinstance(value, str):
            raise EditError(f"{name} must be a string, not {value!r:.60}")
        why = _bad_file_name(value)
        if why:
            raise EditError(f"{name} {value!r:.80} is not a file name: {why}")
    elif path[-1:] == ("url",) and (len(path) == 1 or RELATED.match(path[0])):
        if not isinstance(value, str) or not shape.match(value):
            raise EditError(f"{name} {value!r:.80} does not have the site's url shape "
                            f"{shape.pattern.removesuffix(chr(92) + 'Z')!r}")
    elif path == ("aliases",):
        for alias in value if isinstance(value, list) else [value]:
            if not isinstance(alias, str) or not alias.startswith("/") or alias.startswith("//") or "\\" in alias \
                    or _CONTROL.search(alias) or ".." in alias.split("/") or len(alias.encode("utf-8")) > 2048:
                raise EditError(f"aliases entry {alias!r:.80} is not a url path of this site")


def _bad_file_name(value: str) -> str:
    if not value:
        return "empty"
    if "/" in value or "\\" in value:
        return "holds a path separator"
    if _CONTROL.search(value):
        return "holds a NUL or control character"
    if value in (".", "..") or value.startswith("."):
        return "a hidden or special name"
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    return ""


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
    Raises `EditError` for an unknown `renames` or `shape`.
    """
    if renames not in RENAMES:
        raise EditError(f"unknown renames {renames!r} (apply or refuse)")
    if shape not in ("lossless", "sheet"):
        raise EditError(f"unknown import shape {shape!r} (lossless or sheet)")
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
    known = _known_keys(coll, hints)
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
                record = _from_sheet(record)
            existing = _page_for(coll, record)
            item.id = qid = _record_id(record, existing is not None)
            key = existing.relpath if existing is not None else f"new id {qid}"
            if key in seen:
                raise EditError(f"{'page ' + key if existing is not None else key} appears twice in this import")
            seen.add(key)
            if existing is None:
                values, body = _values(record, None, hints)
                _validate(values, shape)
                _check_keys(values, known, options.add_keys)
                _check_text(values, body, {}, None)
                item.status = "created"
                pending.append((item, _new_question(values, body, new_subject)))
            else:
                item.path = existing.relpath
                values, body = _values(record, existing.data, hints)
                _validate(values, shape)
                _check_keys(values, known, options.add_keys)
                _check_text(values, body, existing.data, existing.body)
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


def _known_keys(coll: Collection, hints: dict) -> set[str]:
    """Every dotted key some page or the template has (top-level `$x` written `$$x`)."""
    known = set(coll.columns())
    known.update(_dotted(path) for path, _ in _leaves(hints))
    return known


def _dotted(path: KeyPath) -> str:
    top = "$" + path[0] if path and path[0].startswith("$") else path[0] if path else ""
    return ".".join((top, *path[1:]))


def _check_keys(values: list[tuple[KeyPath, Any]], known: set[str], add_keys: bool) -> None:
    """Refuse a key no page (and not the template) has, unless `add_keys`: naming the
    known key it differs from only in case, or a close one."""
    if add_keys:
        return
    for path, _ in values:
        name = _dotted(path)
        if name in known or any(name.startswith(k + ".") for k in known):
            continue
        same_case = [k for k in known if k.casefold() == name.casefold()]
        close = same_case or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise EditError(f"unknown key {name!r}: no page has it{hint} (--add-keys adds new keys)")


#: sequences UTF-8 text shows when read as cp1252 or Latin-1 (`’` -> `â€™`, `é` -> `Ã©`)
_MOJIBAKE = re.compile("[ÃÂâ][\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ\xa0-\xbf]")


def _check_text(values: list[tuple[KeyPath, Any]], body: str | None, data: dict, current_body: str | None) -> None:
    """Refuse new text that looks mis-decoded (UTF-8 read as cp1252, as a spreadsheet saving
    with the wrong encoding does); text the page already has is left alone."""
    changed_body = [(("$body",), body)] if body is not None and body != current_body else []
    for path, value in [*values, *changed_body]:
        if not isinstance(value, str) or value.isascii():
            continue
        if path != ("$body",) and same(_lookup(data, path)[1], value):
            continue
        suspect = _mojibake(value)
        if suspect is not None:
            name = BODY if path == ("$body",) else _dotted(path)
            raise EditError(f"{name}: {suspect[0]!r} looks mis-decoded (UTF-8 read as cp1252; it would read "
                            f"{suspect[1]!r}): save the file as UTF-8 (in a spreadsheet: CSV UTF-8) and import again")


def _mojibake(text: str) -> tuple[str, str] | None:
    """(a snippet of `text` that looks mis-decoded, the snippet fixed) or None."""
    m = _MOJIBAKE.search(text)
    if m is None:
        return None
    try:
        import ftfy
    except ImportError:  # pragma: no cover - a dependency; the pattern alone decides
        ftfy = None
    snippet = text[max(0, m.start() - 12): m.end() + 12]
    if ftfy is not None:
        if not ftfy.is_bad(snippet) and ftfy.fix_text(snippet) == snippet:
            return None
        return snippet, ftfy.fix_text(snippet)
    return snippet, snippet  # pragma: no cover


def _renaming(values: list[tuple[KeyPath, Any]], data: dict) -> dict[str, str]:
    """The new title and/or subject a record gives a page ({} when neither changes)."""
    change = {}
    for path, value in values:
        if path in (("title",), ("subject",)) and isinstance(value, str):
            old = _lookup(data, path)[1]
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


def _from_sheet(record: dict) -> dict:
    """A record of the sheet-shaped CSV back in the lossless shape: real line breaks in
    cells become the collection's literal `\\n` again."""
    cells = record.get("\x00csv")
    if cells is None:
        return record
    return {"\x00csv": {k: v if k == BODY else from_sheet_cell(v) for k, v in cells.items()}}


def from_sheet_cell(cell: str) -> str:
    """A sheet-shaped CSV cell back as it is in the lossless shape (`to_sheet_cell` reversed;
    a spreadsheet's CRLF line breaks count as one)."""
    return cell.replace("\r\n", "\n").replace("\n", "\\n")


def to_sheet_cell(cell: str) -> str:
    """A lossless CSV cell for a spreadsheet: the collection's literal `\\n` as real line breaks."""
    return cell.replace("\\n", "\n")


def _validate(values: list[tuple[KeyPath, Any]], shape: re.Pattern[str]) -> None:
    for path, value in values:
        if path[-1] in _CHECKED:
            validate_value(path, value, shape)


_CHECKED = frozenset(("file_name", "url", "aliases"))


def _cell(record: dict, key: str) -> Any:
    cells = record.get("\x00csv")
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
        found, current = _lookup(data, path)
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
        found, current = _lookup(data, path)
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
    from .scaffold import _template

    try:
        return Document(_template(coll), "template").to_dict()
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
