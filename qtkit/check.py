"""`check`: run the rules (`qtkit.rules`) over a collection, and `--fix` what they find.

Findings read like ruff's: `path:line:col: QT405 message`. Codes are grouped by hundreds:
1xx syntax, 2xx fields, 3xx slugs, urls and places, 4xx related links; the old QT0xx codes
still select their replacements. Links are resolved by url (`qtkit.links`): a page is named
by its url, a question by its id, which cross-listed copies share. Safe fixes are made by
`fix()` through the format-preserving editor, unsafe ones (dropping a dangling link) only
when asked; a fix never changes a url, a file name or a file's place. `check_and_fix` is
`qtkit check [--fix]`: check, fix, check again.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from itertools import starmap
from json.encoder import encode_basestring
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson

from . import pools
from .document import load
from .errors import QtkitError
from .locks import collection_lock
from .index import Collection
from .links import PageRef, Pages, fix_related
from .progress import PhaseProgress
from .reader import key_lines
from .rules import ALIASES, RULES, PageFacts, Rule, Unreadable, check_selectors, chosen, expand, selected
from .rules.links import KIND_OF
from .subjects import subject_registry

__all__ = ["ALIASES", "REQUIRED", "RULES", "CheckResult", "Finding", "FixReport", "Rule", "check", "check_and_fix",
           "expand", "fix", "render", "selected"]

#: the keys a page must have (`[check] required` in qtkit.toml overrides it)
REQUIRED = ("id", "title", "question", "answer", "subject", "file_name", "url")


@dataclass(slots=True)
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

    @property
    def fixable(self) -> bool:
        """Whether `--fix` repairs it (a safe fix); `--unsafe-fixes` repairs unsafe ones too."""
        return self.fix is not None and RULES[self.code].fix == "safe"

    def text(self) -> str:
        mark = " [*]" if self.fixable else ""
        return f"{self.path}:{self.line}:{self.col}: {self.code}{mark} {self.message}"

    def as_json(self) -> dict:
        rule = RULES[self.code]
        return {"path": self.path, "line": self.line, "col": self.col, "code": self.code,
                "name": rule.name, "message": self.message, "fixable": self.fix is not None and rule.fixable,
                "fix": rule.fix or None}

    def github(self) -> str:
        message = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::error file={self.path},line={self.line},col={self.col},title={self.code}::{self.code} {message}"


#: a finding's fields as a tuple, in order (`Finding(*t)` makes it again)
_fields = attrgetter(*(f.name for f in fields(Finding)))


def check(
    root: str | Path | None = None,
    *,
    collection: Collection | None = None,
    targets: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    progress: PhaseProgress | None = None,  # phases: "indexing", then "checking"
) -> list[Finding]:
    """Every finding in the collection (or only in `targets`: paths, urls or ids), sorted
    by path, line, column and code. `select`/`ignore` take codes, prefixes, names or old
    codes (default: `[check]` of qtkit.toml, else every rule). Raises `NotFound`/`Ambiguous`
    for a bad target and `EditError` for a selector that matches no rule."""
    check_selectors([*(select or []), *(ignore or [])])
    coll = collection or Collection(root)
    coll.refresh((lambda done, total: progress("indexing", done, total)) if progress else None)
    settings = coll.config.extra.get("check", {}) or {}
    rules = chosen(list(select or settings.get("select", []) or []), list(ignore or settings.get("ignore", []) or []))
    required = tuple(settings.get("required", REQUIRED))
    wanted = _targets(coll, targets)
    with _no_gc():  # the hundreds of thousands of refs made here and in the workers hold no cycles
        pages = Pages(map(PageRef._make, coll.summaries(by_id=False)), by_id=False)  # no sort in SQL
    registry = subject_registry(coll)
    findings: list[Finding] = []
    for rule in (r for r in rules if r.scope == "file"):
        for line in coll.errors():
            if wanted is None or line.partition(":")[0] in wanted:
                bad = Unreadable.parse(line)
                findings.extend(Finding(bad.relpath, bad.line, bad.col, rule.code, hit.message) for hit in rule.find(bad))
    n = pools.cores()
    if not (len(pages.by_path) >= 20_000 and n > 1 and (wanted is None or len(wanted) >= 20_000)):
        n = 1
    page_rules = tuple(r.code for r in rules if r.scope == "page")
    # the workers share the maps copy-on-write
    for k, part in enumerate(pools.process_map(_check_slice, [(k, n) for k in range(n)], workers=n, shared=(
            coll.config, wanted, pages, registry, required, page_rules, coll if n == 1 else None))):
        findings.extend(starmap(Finding, part))
        if progress:
            progress("checking", k + 1, n)
    _locate(coll, findings)
    findings.sort(key=_order)
    return findings


def _check_slice(part: tuple[int, int]) -> list[tuple]:
    """Check one slice of the pages (by id), its findings as tuples of their fields (plain
    tuples cross from a worker several times faster than objects); in a worker it opens
    the index itself."""
    config, wanted, pages, registry, required, codes, coll = pools.shared()
    in_worker = coll is None
    if in_worker:
        coll = Collection(config=config, refreshed=True)  # the parent refreshed it just before
    plain, linked = _plan([RULES[code] for code in codes])
    out: list[Finding] = []
    places: dict = {}
    # a worker leaves the collector off: turned on again, it would walk every object made here
    with _no_gc(resume=not in_worker):
        for rel, text_, lines in coll.located_rows(part):
            if wanted is None or rel in wanted:
                data = orjson.loads(text_)
                found = _findings(PageFacts(rel, data, pages, registry, config, required, places), plain, linked)
                if found:
                    spots = key_lines(data, lines, {tuple(f.key) for f in found}) if lines is not None else None
                    if spots is not None:
                        _place(found, spots)
                    if len(found) > 1:
                        found.sort(key=_spot)
                    out.extend(found)
        # the pages come in storage order, by path unless files were added since the index
        # was built: the parent's sort then finds the runs sorted
        return list(map(_fields, out))


@contextmanager
def _no_gc(resume: bool = True) -> Iterator[None]:
    """The cyclic garbage collector paused (left off when not `resume`): collecting while
    many objects without cycles are made costs time, and in a forked worker it walks (and
    copies) the parent's pages."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused and resume:
            gc.enable()


#: the order of findings: by path, line, column and code; `_spot` within one file
_order = attrgetter("path", "line", "col", "code")
_spot = attrgetter("line", "col", "code")


def findings_of(page: PageFacts, rules: Iterable[Rule]) -> list[Finding]:
    """What the page-scoped `rules` find on one page (at line 1, column 1: `check` places them)."""
    return _findings(page, *_plan(list(rules)))


def _plan(rules: list[Rule]) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
    """The rules as (code, function) and, for the related-link rules, which only look up
    their kind in `PageFacts.link_hits` (`rules.links.KIND_OF`), as (code, kind): those
    are taken from one lookup a page, after the others (findings are sorted by code
    afterwards, and one rule's keep their order)."""
    plain = [(r.code, r.find) for r in rules if r.code not in KIND_OF]
    linked = [(r.code, KIND_OF[r.code]) for r in rules if r.code in KIND_OF]
    return plain, linked


def _findings(page: PageFacts, plain: list[tuple[str, Any]], linked: list[tuple[str, str]]) -> list[Finding]:
    rel = page.relpath
    out: list[Finding] = []
    for code, find in plain:
        hits = find(page)
        if hits:
            out.extend([Finding(rel, 1, 1, code, message, key, fix) for message, key, fix in hits])
    if linked:
        by_kind = page.link_hits
        if by_kind:
            for code, kind in linked:
                hits = by_kind.get(kind)
                if hits:
                    out.extend([Finding(rel, 1, 1, code, message, key, fix) for message, key, fix in hits])
    return out


def _targets(coll: Collection, targets: Iterable[str]) -> set[str] | None:
    chosen_ = list(targets)
    if not chosen_:
        return None
    return {r.relpath for target in chosen_ for r in coll.targets(target, every=True)}


def _place(findings: list[Finding], spots: dict[tuple, tuple[int, int]]) -> None:
    """Line and column of each finding's key from the positions the index recorded
    (a finding whose key is not there keeps 1:1 and is marked placed all the same)."""
    for f in findings:
        if f.key:
            f.line, f.col = spots.get(tuple(f.key), (1, 1))
            f.located = True


def _locate(coll: Collection, findings: list[Finding]) -> None:
    """Line and column of each finding's key not placed yet: from the positions the index
    recorded, else (a file whose keys the index could not place) from the file."""
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.key and not f.located:
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
    """What fixing did: findings fixed by code, files changed (relative paths), their
    diffs by path, and one line per file that could not be read or written."""

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
                fix_related(doc, {f.key[0] for f in link_items if f.fix == "drop"},
                            {f.fix[0]: f.fix[1] for f in link_items if f.fix != "drop"})
            if doc.changed:
                report.diffs[rel] = doc.diff(rel)
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


@dataclass
class CheckResult:
    """What `check_and_fix` did: the findings left (after fixing, when it fixed), what was
    (or in a dry run would be) fixed, and how the run was asked for."""

    findings: list[Finding]
    fixes: FixReport | None = None  # None when nothing was to be fixed
    dry_run: bool = False

    @property
    def fixable(self) -> int:
        """How many of the findings left `--fix` would repair."""
        return sum(1 for f in self.findings if f.fixable)


def check_and_fix(
    root: str | Path | None = None,
    *,
    targets: Iterable[str] = (),
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    fix: bool = True,
    unsafe_fixes: bool = False,
    dry_run: bool = False,
    rounds: int = 3,
    progress: PhaseProgress | None = None,
) -> CheckResult:
    """`qtkit check [--fix|--diff]`: check; with `fix`, fix and check again until nothing
    fixable is left (a fixed subject makes the links to its page stale; the next round
    fixes those), at most `rounds` times. `unsafe_fixes` adds the unsafe fixes; `dry_run`
    makes one round and writes nothing (the diffs are in `fixes.diffs`). Raises as `check`."""
    coll = Collection(root)
    findings = check(collection=coll, targets=targets, select=select, ignore=ignore, progress=progress)
    if not fix:
        return CheckResult(findings, None, dry_run)
    total = FixReport()
    for _ in range(1 if dry_run else rounds):
        with collection_lock(coll.root, dry_run=dry_run):
            report = _fix(coll, findings, dry_run, unsafe_fixes)
        total.fixed.update(report.fixed)
        total.files.extend(f for f in report.files if f not in total.files)
        total.diffs.update(report.diffs)
        total.errors.extend(report.errors)
        if dry_run or not report.files:
            break
        findings = check(collection=coll, targets=targets, select=select, ignore=ignore, progress=progress)
    return CheckResult(findings, total, dry_run)


def render(findings: list[Finding], fmt: str) -> str:
    """The findings as `text` (one `path:line:col: CODE message` line each), `json` (a list
    of objects) or `github` (GitHub Actions annotations)."""
    if fmt == "json":
        return _json(findings)
    if fmt == "github":
        return "\n".join(f.github() for f in findings)
    marks = {code: " [*]" if rule.fix == "safe" else "" for code, rule in RULES.items()}  # `Finding.text`, inlined
    return "\n".join(f"{f.path}:{f.line}:{f.col}: {f.code}{marks[f.code] if f.fix is not None else ''} {f.message}"
                     for f in findings)


def _json(findings: list[Finding]) -> str:
    """`json.dumps([f.as_json() for f in findings], ensure_ascii=False, indent=1)`, the same
    text made with one format a finding (the indenting encoder is pure Python: ~10x slower)."""
    if not findings:
        return "[]"
    enc = encode_basestring  # the string encoder json.dumps(ensure_ascii=False) uses
    rules = {code: (enc(rule.name), "true" if rule.fixable else "false", enc(rule.fix) if rule.fix else "null")
             for code, rule in RULES.items()}
    parts = []
    for f in findings:
        name, fixable, kind = rules[f.code]
        parts.append(f' {{\n  "path": {enc(f.path)},\n  "line": {int(f.line)},\n  "col": {int(f.col)},\n'
                     f'  "code": {enc(f.code)},\n  "name": {name},\n  "message": {enc(f.message)},\n'
                     f'  "fixable": {fixable if f.fix is not None else "false"},\n  "fix": {kind}\n }}')
    return "[\n" + ",\n".join(parts) + "\n]"
