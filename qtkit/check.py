"""`check`: find the defects real collections have, each with a stable rule code.

Findings read like ruff's: `path:line:col: QT405 message`. Codes are grouped by hundreds:
1xx syntax, 2xx fields, 3xx slugs, urls and places, 4xx related links; the old QT0xx codes
still select their replacements. Links are resolved by url (`qtkit.links`): a page is named
by its url, a question by its id, which cross-listed copies share. Safe fixes are made by
`fix()` through the format-preserving editor, unsafe ones (dropping a dangling link) only
when asked; a fix never changes a url, a file name or a file's place.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .document import load
from .errors import QtkitError
from .locks import collection_lock
from .index import Collection
from .reader import key_lines
from . import pools
from .derived import location_url, subject_key_of
from .links import PageRef, Pages, problems, related_blocks, text
from .slugs import slug
from .subjects import Subjects, subject_registry


@dataclass(frozen=True)
class Rule:
    """A check rule: code (`QT` + three digits, the hundreds digit is the family: 1 syntax,
    2 fields, 3 slugs/urls/places, 4 related links), kebab-case name, summary, fix kind
    ("safe", "unsafe" or "" for none) and the old codes it replaces."""

    code: str
    name: str
    fix: str
    summary: str
    aliases: tuple[str, ...] = ()

    @property
    def fixable(self) -> bool:
        """Whether `--fix` repairs it (`--unsafe-fixes` for unsafe fixes)."""
        return bool(self.fix)


RULES = {r.code: r for r in (
    Rule("QT101", "unreadable", "", "the file is not a readable question file (front matter, YAML, UTF-8)", ("QT001",)),
    Rule("QT201", "missing-key", "", "a required key is missing or empty", ("QT003",)),
    Rule("QT202", "titles-disagree", "", "title, article_title and question are not the same text", ("QT013",)),
    Rule("QT203", "empty-answer", "", "the answer is empty", ("QT040",)),
    Rule("QT204", "seo-title-not-derived", "safe", "seo.title is not '<site_name> | <subject>'", ("QT012",)),
    Rule("QT205", "subject-not-canonical", "safe",
         "the subject is not the registry's spelling of its subject (e.g. 'Computer science' for 'Computer Science')",
         ("QT014",)),
    Rule("QT206", "id-shared-by-different-questions", "",
         "pages with one id hold different questions (cross-listed copies of one question share an id and a title)",
         ("QT002",)),
    Rule("QT301", "file-name-not-derived", "", "file_name is not slug(title).md", ("QT010",)),
    Rule("QT302", "url-not-derived", "", "url is not the url pattern filled with the subject's key and the title's slug",
         ("QT011",)),
    Rule("QT303", "url-not-location", "", "url is not the address the site serves the file at (<folder>/<file>.md ->"
         " /learn/<folder>/questions/<file>)"),
    Rule("QT304", "duplicate-url", "", "two pages have the same url", ("QT030",)),
    Rule("QT305", "wrong-folder", "", "the page is filed in a folder that is not its subject's key (qtkit rename --subject"
         " moves it)"),
    Rule("QT306", "path-not-file-name", "", "the file is not named by its file_name", ("QT031",)),
    Rule("QT401", "link-dangling", "unsafe", "a related link's url names no page (or it has no url)", ("QT020",)),
    Rule("QT402", "link-self", "safe", "a related link names the page itself or one of its cross-listed copies",
         ("QT021",)),
    Rule("QT403", "link-repeated", "safe", "a related link names a page or question linked before in the list",
         ("QT022",)),
    Rule("QT404", "link-stale-id", "safe", "a related link's id differs from the id of the page its url names"),
    Rule("QT405", "link-stale-title", "safe", "a related link's title differs from the page its url names", ("QT023",)),
    Rule("QT406", "link-stale-subject", "safe", "a related link's subject differs from the page its url names",
         ("QT023",)),
    Rule("QT407", "link-incomplete", "unsafe", "a related link is not a mapping, or lacks a field, that no fix can fill"),
)}
#: old code (QT0xx) -> the codes that replaced it
ALIASES: dict[str, tuple[str, ...]] = {}
for _rule in RULES.values():
    for _old in _rule.aliases:
        ALIASES[_old] = ALIASES.get(_old, ()) + (_rule.code,)
_BY_KIND = {"dangling": "QT401", "self": "QT402", "repeated": "QT403", "stale-id": "QT404", "stale-title": "QT405",
            "stale-subject": "QT406", "incomplete": "QT407"}
REQUIRED = ("id", "title", "question", "answer", "subject", "file_name", "url")


@dataclass
class Finding:
    """One defect: where (`path` relative to the root, 1-based line and column), which rule, what."""

    path: str
    line: int
    col: int
    code: str
    message: str
    key: tuple = ()  # where in the front matter (for the line number)
    fix: Any = None  # what --fix would do (internal)
    located: bool = False  # line and col already found (internal)

    def text(self) -> str:
        mark = " [*]" if self.fix is not None and RULES[self.code].fix == "safe" else ""
        return f"{self.path}:{self.line}:{self.col}: {self.code}{mark} {self.message}"

    def as_json(self) -> dict:
        rule = RULES[self.code]
        return {"path": self.path, "line": self.line, "col": self.col, "code": self.code,
                "name": rule.name, "message": self.message, "fixable": self.fix is not None and rule.fixable,
                "fix": rule.fix or None}

    def github(self) -> str:
        message = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::error file={self.path},line={self.line},col={self.col},title={self.code}::{self.code} {message}"


def expand(codes: Iterable[str] | None) -> list[str] | None:
    """Selectors with old codes replaced by their new ones (`QT023` -> `QT405`, `QT406`);
    a rule name selects its code."""
    if codes is None:
        return None
    names = {r.name: r.code for r in RULES.values()}
    out: list[str] = []
    for code in codes:
        out.extend(ALIASES.get(code) or [names.get(code, code)])
        if code not in ALIASES and code.startswith("QT0"):  # an old prefix (QT02) selects what its codes became
            out.extend(new for old, news in ALIASES.items() if old.startswith(code) for new in news)
    return out


def selected(code: str, select: Iterable[str] | None, ignore: Iterable[str] | None) -> bool:
    """ruff-style selection by code prefix (`QT4` selects QT401-QT499); old codes count as
    their replacements."""
    select, ignore = expand(select), expand(ignore)
    if select and not any(code.startswith(s) for s in select):
        return False
    return not (ignore and any(code.startswith(s) for s in ignore))


def check(
    root: str | Path | None = None,
    *,
    collection: Collection | None = None,
    targets: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> list[Finding]:
    """Every finding in the collection (or only in `targets`: paths, urls or ids), sorted
    by path, line, column and code. Raises `NotFound`/`Ambiguous` for a bad target."""
    coll = collection or Collection(root)
    coll.refresh()
    settings = coll.config.extra.get("check", {}) or {}
    select = list(select or settings.get("select", []) or [])
    ignore = list(ignore or settings.get("ignore", []) or [])
    required = tuple(settings.get("required", REQUIRED))
    wanted = _targets(coll, targets)
    pages = Pages(PageRef(*row) for row in coll.summaries())
    registry = subject_registry(coll)
    findings: list[Finding] = []
    for line in coll.errors():
        if wanted is None or line.partition(":")[0] in wanted:
            findings.append(_unreadable(line))
    n = pools.cores()
    if not (len(pages.by_path) >= 20_000 and n > 1 and (wanted is None or len(wanted) >= 20_000)):
        n = 1
    # the workers share the maps copy-on-write
    for part in pools.process_map(_check_slice, [(k, n) for k in range(n)], workers=n,
                                  shared=(coll.config, wanted, pages, registry, required, coll if n == 1 else None)):
        findings.extend(part)
    findings = [f for f in findings if selected(f.code, select, ignore)]
    _locate(coll, findings)
    findings.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return findings


def _check_slice(part: tuple[int, int]) -> list[Finding]:
    """Check one slice of the pages (by id); in a worker it opens the index itself."""
    config, wanted, pages, registry, required, coll = pools.shared()
    if coll is None:
        coll = Collection(config=config)
        coll._fresh = True  # the parent refreshed it just before
    out: list[Finding] = []
    for rel, text_, lines in coll.located_rows(part):
        if wanted is None or rel in wanted:
            data = orjson.loads(text_)
            found = _one(rel, data, pages, registry, config, required)
            spots = key_lines(data, lines, {tuple(f.key) for f in found}) if found and lines is not None else None
            if spots is not None:
                _place(found, spots)
            out.extend(found)
    return out


def _targets(coll: Collection, targets: Iterable[str]) -> set[str] | None:
    chosen = list(targets)
    if not chosen:
        return None
    return {r.relpath for target in chosen for r in coll.targets(target, every=True)}


_LOCATION = re.compile(r"^(?P<path>.*?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<message>.*)$", re.S)


def _unreadable(line: str) -> Finding:
    m = _LOCATION.match(line)
    if m:
        return Finding(m["path"], int(m["line"]), int(m["col"] or 1), "QT101", m["message"])
    path, _, message = line.partition(": ")
    return Finding(path, 1, 1, "QT101", message)


def _one(rel: str, d: dict, pages: Pages, registry: Subjects, config: Any, required: tuple) -> list[Finding]:
    """The findings of one page, `d` its front matter."""
    out: list[Finding] = []
    qid = d.get("id")

    def add(code: str, message: str, key: tuple = (), fix: Any = None) -> None:
        out.append(Finding(rel, 1, 1, code, message, key, fix))

    for key in required:
        value = d.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if key != "answer" or key not in d:
                add("QT201", f"required key {key!r} is missing or empty", (key,) if key in d else ())
    title, subject = text(d.get("title")), text(d.get("subject"))
    if qid is not None and len(pages.by_id.get(qid, ())) > 1:
        others = [o for o in pages.by_id[qid] if o.relpath != rel and text(o.title) != title]
        if others:
            listed = ", ".join(f"{o.relpath} ({text(o.title)!r})" for o in others)
            add("QT206", f"id {qid} is also used by a different question: {listed}", ("id",))
    folder = rel.split("/")[0] if rel.count("/") == 1 and config.site_layout() else None
    canonical = None
    if subject:
        canonical = (registry.for_key(folder) if folder is not None else None) or registry.find(subject)
        if folder is not None and subject_key_of(subject) != folder:
            add("QT305", f"subject {subject!r} (key {subject_key_of(subject)!r}) is filed in folder {folder!r}",
                ("subject",))
        seo = d.get("seo")
        seo_title = seo.get("title") if isinstance(seo, dict) and isinstance(seo.get("title"), str) else None
        if folder is None or subject_key_of(subject) == folder:
            if canonical is not None and canonical.title != subject:
                fixes = [("subject", canonical.title)]
                if seo_title == config.seo_title(subject):  # derived from the old spelling: follows it
                    fixes.append((("seo", "title"), config.seo_title(canonical.title)))
                add("QT205", f"subject {subject!r} should be spelled {canonical.title!r} (the subject registry's"
                             f" spelling, from {registry.source})", ("subject",), fixes)
                subject = canonical.title
            want = config.seo_title(subject)
            if seo_title is not None and seo_title != want and seo_title != config.seo_title(text(d.get("subject"))):
                add("QT204", f"seo.title {seo_title!r} should be {want!r}", ("seo", "title"), [(("seo", "title"), want)])
    url = d.get("url")
    if title:
        title_slug = slug(title)
        if isinstance(d.get("file_name"), str) and d["file_name"] != title_slug + ".md":
            add("QT301", f"file_name {d['file_name']!r} should be {title_slug + '.md'!r} (from the title)",
                ("file_name",))
        if subject and isinstance(url, str):
            want_url = config.url_for(subject_key_of(subject), title_slug)
            if url != want_url:
                add("QT302", f"url {url!r} should be {want_url!r} (from subject and title)", ("url",))
        for key in ("article_title", "question"):
            if key in d and text(d.get(key)) != title:
                add("QT202", f"{key} differs from title", (key,))
    served = location_url(rel, config)
    if served is not None and isinstance(url, str) and url != served:
        add("QT303", f"url {url!r} is not where the site serves this file: {served!r}", ("url",))
    if isinstance(url, str) and len(pages.by_url.get(url, ())) > 1:
        others_ = ", ".join(o.relpath for o in pages.by_url[url] if o.relpath != rel)
        add("QT304", f"url is also used by {others_}", ("url",))
    name = rel.rpartition("/")[2]
    allowed = (d.get("file_name"),) if folder is not None else (d.get("file_name"), f"{qid}.md")
    if isinstance(d.get("file_name"), str) and name not in allowed:
        add("QT306", f"file is named {name!r}, not by its file_name {d['file_name']!r}", ("file_name",))
    if "answer" in d and not text(d.get("answer")):
        add("QT203", "the answer is empty", ("answer",))
    page = pages.by_path.get(rel) or PageRef(rel, qid, d.get("title"), d.get("subject"), url)
    for p in problems(page, d, pages):
        code = _BY_KIND[p.kind]
        fix = p.fix if p.fix == "drop" else ((p.key, p.field), p.fix) if p.fix is not None else None
        out.append(Finding(rel, 1, 1, code, p.message, (p.key, p.field) if p.field else (p.key,), fix))
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
                entry = doc.entry(f.key)
                f.col = (entry.indent + 1) if entry is not None else 1


# ------------------------------------------------------------------ fixing


@dataclass
class FixReport:
    fixed: Counter = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def fix(root: str | Path | None, findings: list[Finding], *, dry_run: bool = False, unsafe: bool = False,
        collection: Collection | None = None) -> FixReport:
    """Apply the fixes among `findings` (safe ones; unsafe ones too with `unsafe`), one
    write per file, under the collection lock. Returns what was (or, with `dry_run`, would
    be) fixed; files that cannot be read or written are reported in `errors` and skipped."""
    coll = collection or Collection(root)
    with collection_lock(coll.root, dry_run=dry_run):
        return _fix(coll, findings, dry_run, unsafe)


def _fix(coll: Collection, findings: list[Finding], dry_run: bool, unsafe: bool) -> FixReport:
    report = FixReport()
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        kind = RULES[f.code].fix
        if f.fix is not None and (kind == "safe" or (kind == "unsafe" and unsafe)):
            by_path[f.path].append(f)
    from .relink import apply_links

    for rel, items in sorted(by_path.items()):
        path = coll.root / rel
        try:
            doc = load(path)
            link_items = [f for f in items if f.code.startswith("QT4")]
            for f in items:
                if not f.code.startswith("QT4"):
                    for key, value in f.fix:
                        doc.set(key, value)
            if link_items:
                data = doc.to_dict()
                drops = {f.key[0] for f in link_items if f.fix == "drop"}
                sets = {f.fix[0]: f.fix[1] for f in link_items if f.fix != "drop"}
                blocks = []
                for _, key, link in related_blocks(data):
                    if key in drops or not isinstance(link, dict):
                        if key not in drops:
                            blocks.append(link)
                        continue
                    block = dict(link)
                    for (k, name), value in sets.items():
                        if k == key:
                            block[name] = value
                    blocks.append(block)
                apply_links(doc, blocks)
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


def fix_all(root: str | Path | None = None, *, targets: Iterable[str] = (), select: Iterable[str] | None = None,
            ignore: Iterable[str] | None = None, unsafe: bool = False, dry_run: bool = False,
            rounds: int = 3) -> tuple[FixReport, list[Finding]]:
    """`qtkit check --fix`: check, fix, and check again until nothing fixable is left (a
    fixed subject makes the links to its page stale; the next round fixes those), at most
    `rounds` times. Returns the combined report and the findings left. A dry run makes one round."""
    coll = Collection(root)
    total = FixReport()
    findings = check(collection=coll, targets=targets, select=select, ignore=ignore)
    for _ in range(1 if dry_run else rounds):
        report = fix(None, findings, dry_run=dry_run, unsafe=unsafe, collection=coll)
        total.fixed.update(report.fixed)
        total.files.extend(f for f in report.files if f not in total.files)
        total.diffs.update(report.diffs)
        total.errors.extend(report.errors)
        if dry_run or not report.files:
            break
        findings = check(collection=coll, targets=targets, select=select, ignore=ignore)
    return total, findings


def render(findings: list[Finding], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([f.as_json() for f in findings], ensure_ascii=False, indent=1)
    if fmt == "github":
        return "\n".join(f.github() for f in findings)
    return "\n".join(f.text() for f in findings)
