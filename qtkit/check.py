"""`check`: find the defects real collections have, each with a stable rule code.

Findings read like ruff's: `path:line:col: QT023 message`. Rules that have a safe fix
(`fixable`) are repaired by `fix()` through the format-preserving editor; fixes that
would change a url or a file name are never made automatically.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .document import load
from .errors import QtkitError
from .files import collection_lock
from .index import Collection
from .reader import key_lines
from .procs import die_with_parent
from .shapes import RELATED
from .slugs import slug


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    fixable: bool
    summary: str


RULES = {r.code: r for r in (
    Rule("QT001", "unreadable", False, "the file is not a readable question file (front matter, YAML, UTF-8)"),
    Rule("QT002", "duplicate-id", False, "two files have the same id"),
    Rule("QT003", "missing-key", False, "a required key is missing or empty"),
    Rule("QT010", "file-name-not-derived", False, "file_name is not slug(title).md"),
    Rule("QT011", "url-not-derived", False, "url is not the url pattern filled with the subject's and title's slugs"),
    Rule("QT012", "seo-title-not-derived", True, "seo.title is not '<site_name> | <subject>'"),
    Rule("QT013", "titles-disagree", False, "title, article_title and question are not the same text"),
    Rule("QT014", "subject-case", True, "the subject differs only by case from a more common spelling"),
    Rule("QT020", "link-missing", True, "a related link points to an id no question has"),
    Rule("QT021", "link-self", True, "a related link points to the question itself"),
    Rule("QT022", "link-repeated", True, "a related link repeats an id linked before"),
    Rule("QT023", "link-stale", True, "a related link's title, subject or url differs from its target's"),
    Rule("QT030", "duplicate-url", False, "two questions have the same url"),
    Rule("QT031", "path-not-file-name", False, "the file is named neither by its file_name nor by its id"),
    Rule("QT040", "empty-answer", False, "the answer is empty"),
)}
REQUIRED = ("id", "title", "question", "answer", "subject", "file_name", "url")


@dataclass
class Finding:
    path: str
    line: int
    col: int
    code: str
    message: str
    key: tuple = ()  # where in the front matter (for the line number)
    fix: Any = None  # what --fix would do (internal)
    located: bool = False  # line and col already found (internal)

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"

    def as_json(self) -> dict:
        return {"path": self.path, "line": self.line, "col": self.col, "code": self.code,
                "name": RULES[self.code].name, "message": self.message, "fixable": RULES[self.code].fixable}

    def github(self) -> str:
        message = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::error file={self.path},line={self.line},col={self.col},title={self.code}::{self.code} {message}"


def selected(code: str, select: Iterable[str] | None, ignore: Iterable[str] | None) -> bool:
    """ruff-style selection by code prefix (`QT02` selects QT020-QT029)."""
    if select and not any(code.startswith(s) for s in select):
        return False
    return not (ignore and any(code.startswith(s) for s in ignore))


@dataclass
class _Q:
    rel: str
    qid: Any
    data: dict


def _text(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return value if "  " not in value and value.strip() == value and "\n" not in value and "\t" not in value \
        else " ".join(value.split())


_SUBJECT_SLUGS: dict[str, str] = {}


def _subject_slug(subject: str) -> str:
    found = _SUBJECT_SLUGS.get(subject)
    if found is None:
        found = _SUBJECT_SLUGS[subject] = slug(subject)
    return found


def check(
    root: str | Path | None = None,
    *,
    collection: Collection | None = None,
    targets: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> list[Finding]:
    """Every finding in the collection (or only in `targets`, ids or paths), sorted."""
    coll = collection or Collection(root)
    coll.refresh()
    settings = coll.config.extra.get("check", {}) or {}
    select = list(select or settings.get("select", []) or [])
    ignore = list(ignore or settings.get("ignore", []) or [])
    required = tuple(settings.get("required", REQUIRED))
    wanted = _targets(coll, targets)
    by_id: dict[Any, list[tuple]] = defaultdict(list)
    by_url: dict[str, list[str]] = defaultdict(list)
    for rel, qid, title, subject, url in coll.summaries():
        by_id[qid].append((rel, title, subject, url))
        if url is not None:
            by_url[url].append(rel)
    subjects = coll.subjects()
    usual = {}
    for spelling, count in subjects.items():
        key = spelling.casefold()
        if key not in usual or (count, spelling) > (subjects[usual[key]], usual[key]):
            usual[key] = spelling
    findings: list[Finding] = []
    for line in coll.errors():
        if wanted is None or line.partition(":")[0] in wanted:
            findings.append(_unreadable(line))
    global _SHARED
    _SHARED = (coll.config, wanted, by_id, by_url, usual, required)
    try:
        n = os.cpu_count() or 1
        if len(by_id) >= 20_000 and n > 1 and (wanted is None or len(wanted) >= 20_000):
            with multiprocessing.get_context("fork").Pool(n, initializer=die_with_parent) as pool:  # workers share the maps copy-on-write
                for part in pool.map(_check_slice, [(k, n) for k in range(n)]):
                    findings.extend(part)
        else:
            findings.extend(_check_slice((0, 1), coll))
    finally:
        _SHARED = None
    findings = [f for f in findings if selected(f.code, select, ignore)]
    _locate(coll, findings)
    findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return findings


_SHARED: Any = None  # what the workers of one check read (set just before they fork)


def _check_slice(part: tuple[int, int], coll: Collection | None = None) -> list[Finding]:
    """Check one slice of the questions (by id); in a worker it opens the index itself."""
    config, wanted, by_id, by_url, usual, required = _SHARED
    if coll is None:
        coll = Collection(config=config)
        coll._fresh = True  # the parent refreshed it just before
    out: list[Finding] = []
    for rel, text, lines in coll.located_rows(part):
        if wanted is None or rel in wanted:
            data = orjson.loads(text)
            found = _one(_Q(rel, data.get("id"), data), by_id, by_url, usual, config, required)
            spots = key_lines(data, lines, {tuple(f.key) for f in found}) if found and lines is not None else None
            if spots is not None:
                _place(found, spots)
            out.extend(found)
    return out


def _targets(coll: Collection, targets: Iterable[str]) -> set[str] | None:
    chosen = list(targets)
    if not chosen:
        return None
    return {coll.record(target).relpath for target in chosen}


_LOCATION = re.compile(r"^(?P<path>.*?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<message>.*)$", re.S)


def _unreadable(line: str) -> Finding:
    m = _LOCATION.match(line)
    if m:
        return Finding(m["path"], int(m["line"]), int(m["col"] or 1), "QT001", m["message"])
    path, _, message = line.partition(": ")
    return Finding(path, 1, 1, "QT001", message)


def _one(q: _Q, by_id: dict, by_url: dict, usual: dict, config: Any, required: tuple) -> list[Finding]:
    d = q.data
    out: list[Finding] = []
    rel = q.rel

    def add(code: str, message: str, key: tuple = (), fix: Any = None) -> None:
        out.append(Finding(rel, 1, 1, code, message, key, fix))

    for key in required:
        value = d.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if key != "answer" or key not in d:
                add("QT003", f"required key {key!r} is missing or empty", (key,) if key in d else ())
    if q.qid is not None and len(by_id.get(q.qid, ())) > 1:
        others = ", ".join(o[0] for o in by_id[q.qid] if o[0] != rel)
        add("QT002", f"id {q.qid} is also used by {others}", ("id",))
    title, subject = _text(d.get("title")), _text(d.get("subject"))
    if title:
        title_slug = slug(title)
        subject_slug = _subject_slug(subject)
        if isinstance(d.get("file_name"), str) and d["file_name"] != title_slug + ".md":
            add("QT010", f"file_name {d['file_name']!r} should be {title_slug + '.md'!r} (from the title)", ("file_name",))
        if subject and isinstance(d.get("url"), str):
            url = config.url_for(subject_slug, title_slug)
            if d["url"] != url:
                add("QT011", f"url {d['url']!r} should be {url!r} (from subject and title)", ("url",))
        for key in ("article_title", "question"):
            if key in d and _text(d.get(key)) != title:
                add("QT013", f"{key} differs from title", (key,))
    if subject:
        common = usual.get(subject.casefold())
        if common and common != subject:
            add("QT014", f"subject {subject!r} should be spelled {common!r} (the more common spelling)", ("subject",),
                ("subject", common))
            subject = common
        seo = d.get("seo")
        want = config.seo_title(subject)
        if isinstance(seo, dict) and isinstance(seo.get("title"), str) and seo["title"] != want:
            add("QT012", f"seo.title {seo['title']!r} should be {want!r}", ("seo", "title"), (("seo", "title"), want))
    if isinstance(d.get("url"), str) and len(by_url.get(d["url"], ())) > 1:
        others = ", ".join(o for o in by_url[d["url"]] if o != rel)
        add("QT030", f"url is also used by {others}", ("url",))
    name = Path(rel).name
    if isinstance(d.get("file_name"), str) and name not in (d["file_name"], f"{q.qid}.md"):
        add("QT031", f"file is named {name!r}, not by its file_name {d['file_name']!r} or its id", ("file_name",))
    if "answer" in d and not _text(d.get("answer")):
        add("QT040", "the answer is empty", ("answer",))
    out.extend(_links(q, by_id, rel, usual))
    return out


def _links(q: _Q, by_id: dict, rel: str, usual: dict) -> list[Finding]:
    out: list[Finding] = []
    seen: set = set()
    found = sorted((int(m.group(1)), key) for key in q.data if key[:15] == "related_article" and (m := RELATED.match(key)))
    for _, key in found:
        link = q.data[key]
        if not isinstance(link, dict):
            continue
        lid = link.get("id")
        where = (key, "id")
        if lid == q.qid:
            out.append(Finding(rel, 1, 1, "QT021", f"{key} links to the question itself", where, "drop"))
        elif lid in seen:
            out.append(Finding(rel, 1, 1, "QT022", f"{key} repeats id {lid}", where, "drop"))
        elif lid not in by_id:
            out.append(Finding(rel, 1, 1, "QT020", f"{key} links to id {lid}, which no question has", where, "drop"))
        else:
            _, t_title, t_subject, t_url = by_id[lid][0]
            for name, want in (("title", t_title), ("subject", t_subject), ("url", t_url)):
                if name == "subject" and isinstance(want, str):
                    want = usual.get(want.casefold(), want)  # as --fix will spell it
                if name in link and link.get(name) != want and isinstance(want, str):
                    out.append(Finding(rel, 1, 1, "QT023", f"{key}.{name} is {link.get(name)!r}, its target has {want!r}",
                                       (key, name), ((key, name), want)))
        seen.add(lid)
    return out


def _place(findings: list[Finding], spots: dict[tuple, tuple[int, int]]) -> None:
    """Line and column of each finding's key from the positions the index recorded
    (a finding whose key is not there keeps 1:1 and is marked placed all the same)."""
    for f in findings:
        if f.key and f.code != "QT001":
            f.line, f.col = spots.get(tuple(f.key), (1, 1))
            f.located = True


def _locate(coll: Collection, findings: list[Finding]) -> None:
    """Line and column of each finding's key not placed yet: from the positions the index
    recorded, else (a file whose keys the index could not place) from the file."""
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.key and f.code != "QT001" and not f.located:
            by_path[f.path].append(f)
    known = coll.key_lines(by_path) if by_path else {}
    root = coll.root
    for rel, items in by_path.items():
        if rel in known:
            _place(items, known[rel])
            continue
        try:
            doc = load(root / rel)
        except QtkitError:
            continue
        for f in items:
            span = doc.span(f.key)
            if span is not None:
                f.line = span[0]
                entry = doc._find(f.key)
                f.col = (entry.indent + 1) if entry is not None else 1


# ------------------------------------------------------------------ fixing


@dataclass
class FixReport:
    fixed: Counter = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def fix(root: str | Path | None, findings: list[Finding], *, dry_run: bool = False,
        collection: Collection | None = None) -> FixReport:
    """Apply the safe fixes among `findings`, one write per file."""
    coll = collection or Collection(root)
    with collection_lock(coll.root, dry_run=dry_run):
        return _fix(coll, findings, dry_run)


def _fix(coll: Collection, findings: list[Finding], dry_run: bool) -> FixReport:
    report = FixReport()
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if RULES[f.code].fixable and f.fix is not None:
            by_path[f.path].append(f)
    from .relink import apply_links

    for rel, items in sorted(by_path.items()):
        path = coll.root / rel
        try:
            doc = load(path)
            drops = {f.key[0] for f in items if f.fix == "drop"}
            for f in items:
                if f.fix != "drop":
                    key, value = f.fix
                    doc.set(key, value)
            if drops:
                data = doc.to_dict()
                found = sorted((int(m.group(1)), k) for k in data if (m := RELATED.match(k)))
                apply_links(doc, [data[k] for _, k in found if k not in drops and isinstance(data[k], dict)])
            if doc.changed:
                report.diffs[rel] = doc.diff()
                if dry_run:
                    doc.verify()
                else:
                    doc.save()
                report.files.append(rel)
                report.fixed.update(f.code for f in items)
        except QtkitError as exc:
            report.errors.append(str(exc))
    if not dry_run and report.files:
        coll.add(*(coll.root / rel for rel in report.files))
    return report


def render(findings: list[Finding], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([f.as_json() for f in findings], ensure_ascii=False, indent=1)
    if fmt == "github":
        return "\n".join(f.github() for f in findings)
    return "\n".join(f.text() for f in findings)
