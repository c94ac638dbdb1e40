"""`new`: create question files from the template with the next free id.

The template (`templates/question.md`) is itself a question file in the house format;
`new` fills it through the format-preserving editor, so any value yields valid YAML in
the template's style. Id allocation holds a lock on the collection and files are created
exclusively, so parallel runs never share an id or overwrite each other.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .document import Document
from .entries import decode
from .errors import EditError, QtkitError, Refused
from .files import read_bytes, write_atomic
from .index import Collection
from .locks import collection_lock
from .derived import derive
from .subjects import Subjects, subject_registry

_TEMPLATE = "question.md"
FIELDS = ("question", "subject", "answer", "description", "keywords", "id", "date", "new_subject")


@dataclass
class NewQuestion:
    """What to create; `answer` uses the collection's literal `\\n` convention."""

    question: str
    subject: str
    answer: str = ""
    description: str = ""
    keywords: str = ""
    id: int | None = None
    date: _dt.date | None = None
    new_subject: bool = False
    extra: dict = field(default_factory=dict)  # more values (key paths), set after the template is filled
    body: str | None = None  # the text after the front matter (default: the template's)

    @classmethod
    def from_dict(cls, data: dict) -> "NewQuestion":
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise EditError(f"unknown field(s): {', '.join(sorted(unknown))}")
        for key in ("question", "subject"):
            if not isinstance(data.get(key), str):
                raise EditError(f"{key!r} is required and must be a string")
        values = dict(data)
        if isinstance(values.get("date"), str):
            try:
                values["date"] = _dt.date.fromisoformat(values["date"])
            except ValueError:
                raise EditError(f"invalid date {values['date']!r} (use YYYY-MM-DD)") from None
        if values.get("id") is not None and (not isinstance(values["id"], int) or isinstance(values["id"], bool)):
            raise EditError("'id' must be an integer")
        return cls(**values)


@dataclass
class Created:
    id: int
    path: Path
    url: str
    text: str = field(repr=False, default="")

    def as_json(self) -> dict:
        return {"id": self.id, "path": str(self.path), "url": self.url}


def answer_from_text(text: str) -> str:
    """Real newlines become the collection's literal `\\n` sequences."""
    return text.replace("\r\n", "\n").strip("\n").replace("\n", "\\n")


def new(
    question: str,
    subject: str,
    *,
    root: str | Path | None = None,
    collection: Collection | None = None,
    answer: str = "",
    description: str = "",
    keywords: str = "",
    id: int | None = None,
    date: _dt.date | None = None,
    new_subject: bool = False,
    dry_run: bool = False,
) -> Created:
    """Create one question file; see `new_many` for batches."""
    item = NewQuestion(question, subject, answer, description, keywords, id, date, new_subject)
    results = new_many([item], root=root, collection=collection, dry_run=dry_run)
    result = results[0]
    if isinstance(result, QtkitError):
        raise result
    return result


def new_many(
    items: Iterable[NewQuestion],
    *,
    root: str | Path | None = None,
    collection: Collection | None = None,
    dry_run: bool = False,
) -> list[Created | QtkitError]:
    """Create questions with consecutive ids; each item's failure is returned, not raised."""
    coll = collection or Collection(root)
    results: list[Created | QtkitError] = []
    with collection_lock(coll.root, dry_run=dry_run):
        coll.refresh(quick=True)
        next_id = coll.max_id() + 1
        subjects = subject_registry(coll)
        blank = template(coll)
        claimed: set[str] = set()
        for item in items:
            try:
                created = _create(coll, item, next_id, subjects, blank, claimed, dry_run)
            except QtkitError as exc:
                results.append(exc)
                continue
            results.append(created)
            next_id = max(next_id, created.id + 1)
    return results


def _create(coll: Collection, item: NewQuestion, next_id: int, subjects: Subjects, template: bytes,
            claimed: set[str], dry_run: bool) -> Created:
    question = " ".join(item.question.split())
    if not question:
        raise Refused("the question is empty")
    subject = subjects.resolve(item.subject, allow_new=item.new_subject)
    qid = item.id if item.id is not None else next_id
    if item.id is not None:
        taken = coll.pages(item.id)
        if taken:
            raise Refused(f"id {item.id} is taken by {', '.join(r.relpath for r in taken)}")
    derived = derive(question, subject, coll.config, qid=qid)
    doc = Document(template, "template")
    values: dict[str, Any] = {
        "id": qid,
        "date": item.date or _dt.date.today(),
        **{k: v for k, v in derived.values().items() if k in ("title", "article_title")},
        "seo.title": derived.seo_title,
        "seo.page_description": item.description,
        "seo.page_keywords": item.keywords,
        "question": derived.title,
        "answer": item.answer,
        "subject": derived.subject,
        "file_name": derived.file_name,
        "url": derived.url,
    }
    for key, value in values.items():
        doc.set(key, value)
    for key, value in item.extra.items():
        doc.set(key, value)
    if item.body is not None:
        doc.body = item.body
    url = doc.get("url")
    found = coll.by_url(url) if isinstance(url, str) else None
    if found is not None:
        raise Refused(f"url {url!r} already exists: id {found.id} ({found.relpath})")
    if url in claimed or derived.relpath in claimed:
        raise Refused(f"url {url!r} is already used earlier in this batch")
    text = doc.verify()
    path = coll.root / derived.relpath
    if path.exists():
        raise Refused(f"{derived.relpath} already exists")
    if not dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text, exclusive=True)
        coll.add(path)
    claimed.update((url, derived.relpath))
    return Created(qid, path, url, text.decode("utf-8"))


def template(coll: Collection) -> bytes:
    """The bytes of the template `new` fills: `template` of qtkit.toml (relative to the
    root), else the shipped `templates/question.md`."""
    configured = coll.config.template
    if configured:
        return read_bytes(coll.root / configured)
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates" / _TEMPLATE, here.parent / "templates" / _TEMPLATE):
        if candidate.is_file():
            return candidate.read_bytes()
    raise QtkitError("the shipped template templates/question.md is missing")  # pragma: no cover


def read_jsonl(path: str | Path) -> list[tuple[int, NewQuestion | QtkitError]]:
    """Parse a JSON Lines batch for `new --from`; bad lines are returned as errors."""
    out: list[tuple[int, NewQuestion | QtkitError]] = []
    text = decode(read_bytes(path), path)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise EditError("each line must be a JSON object")
            out.append((lineno, NewQuestion.from_dict(data)))
        except (ValueError, TypeError, RecursionError, EditError) as exc:
            message = exc.message if isinstance(exc, EditError) else f"invalid JSON: {exc}"
            out.append((lineno, EditError(message, path, lineno)))
    return out


def new_from_file(
    path: str | Path,
    *,
    root: str | Path | None = None,
    dry_run: bool = False,
    collection: Collection | None = None,
) -> list[Created | QtkitError]:
    """`qtkit new --from FILE`: a question per line of a JSON Lines file, with consecutive
    ids, in file order. A bad line, or a line whose question cannot be created, is
    returned as an error located at `FILE:LINE` (one that names another file keeps it and
    gets `line N: ` before its message); the other lines are still created. Raises
    `QtkitError` when the file cannot be read."""
    batch = read_jsonl(path)
    results = iter(new_many([item for _, item in batch if not isinstance(item, QtkitError)], root=root,
                            collection=collection, dry_run=dry_run))
    out: list[Created | QtkitError] = []
    for lineno, item in batch:
        result = item if isinstance(item, QtkitError) else next(results)
        if isinstance(result, QtkitError) and result.line is None:
            if result.path is None:
                result.path, result.line = str(path), lineno
            else:
                result.message = f"line {lineno}: {result.message}"
                result.args = (result.message,)
        out.append(result)
    return out
