"""`new`: create question files from the template with the next free id.

The template (`templates/question.md`) is itself a question file in the house format;
`new` fills it through the format-preserving editor, so any value yields valid YAML in
the template's style. Id allocation holds a lock on the collection and files are created
exclusively, so parallel runs never share an id or overwrite each other.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .document import Document, decode
from .errors import EditError, QtkitError, Refused
from .files import collection_lock, read_bytes, write_atomic
from .index import Collection
from .slugs import slug

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
        subjects = coll.subjects()
        template = _template(coll)
        claimed: set[str] = set()
        for item in items:
            try:
                created = _create(coll, item, next_id, subjects, template, claimed, dry_run)
            except QtkitError as exc:
                results.append(exc)
                continue
            results.append(created)
            next_id = max(next_id, created.id + 1)
    return results


def _create(coll: Collection, item: NewQuestion, next_id: int, subjects, template: bytes,
            claimed: set[str], dry_run: bool) -> Created:
    question = " ".join(item.question.split())
    if not question:
        raise Refused("the question is empty")
    title_slug = slug(question)
    if not title_slug.strip("-"):
        raise Refused(f"the question {question!r} has no letters or digits to make a slug from")
    subject = _subject(" ".join(item.subject.split()), subjects, item.new_subject)
    qid = item.id if item.id is not None else next_id
    taken = coll.get(item.id) if item.id is not None else None
    if taken is not None:
        raise Refused(f"id {item.id} is taken by {taken.relpath}")
    config = coll.config
    file_name = title_slug + ".md"
    url = config.url_for(slug(subject), title_slug)
    doc = Document(template, "template")
    values: dict[str, Any] = {
        "id": qid,
        "date": item.date or _dt.date.today(),
        "title": question,
        "article_title": question,
        "seo.title": config.seo_title(subject),
        "seo.page_description": item.description,
        "seo.page_keywords": item.keywords,
        "question": question,
        "answer": item.answer,
        "subject": subject,
        "file_name": file_name,
        "url": url,
    }
    for key, value in values.items():
        doc.set(key, value)
    for key, value in item.extra.items():
        doc.set(key, value)
    if item.body is not None:
        doc.body = item.body
    file_name, url = doc.get("file_name"), doc.get("url")
    for what, value, found in (("file_name", file_name, coll.by_file_name(file_name)), ("url", url, coll.by_url(url))):
        if found is not None:
            raise Refused(f"{what} {value!r} already exists: id {found.id} ({found.relpath})")
    if url in claimed:
        raise Refused(f"url {url!r} is already used earlier in this batch")
    text = doc.verify()
    path = _target(coll, qid, title_slug, slug(subject))
    if not dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text, exclusive=True)
        coll.add(path)
    claimed.add(url)
    subjects[subject] += 1
    return Created(qid, path, url, text.decode("utf-8"))


def _subject(subject: str, known, allow_new: bool) -> str:
    if not subject:
        raise Refused("the subject is empty")
    if subject in known or not known:
        return subject
    same_case = [s for s in known if s.casefold() == subject.casefold()]
    if same_case:
        return max(same_case, key=lambda s: (known[s], s))
    if allow_new:
        return subject
    close = difflib.get_close_matches(subject, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise Refused(f"unknown subject {subject!r}{hint} (use --new-subject to add it)")


def _target(coll: Collection, qid: int, title_slug: str, subject_slug: str) -> Path:
    pattern = coll.config.new_file
    if not pattern:
        folders = coll.folders()
        folder = folders.most_common(1)[0][0] if folders else ""
        pattern = f"{folder}/{{id}}.md" if folder else "{id}.md"
    rel = Path(pattern.format(id=qid, slug=title_slug, subject_slug=subject_slug))
    path = (coll.root / rel).resolve()
    if coll.root not in path.parents:
        raise Refused(f"new file path {rel} would leave the collection")
    return path


def _template(coll: Collection) -> bytes:
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
