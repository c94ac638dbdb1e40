"""`rename`: change a page's title or subject and everything derived from it, at once.

Updates title, article_title, question, subject, seo.title, file_name and url together
(`qtkit.derived`), moves the file to its new place (`<subject key>/<file_name>` in the
site's layout: a new subject moves it to the new subject's folder), rewrites every inbound
related link (links are matched by url), and records old url -> new url: by default in an
`aliases` list in the page's own front matter (as Hugo reads it), or appended to a redirects
file (`[rename] redirects = "redirects.tsv"` in qtkit.toml: `old<TAB>new` lines). A move to
another folder with the same file name is also appended to the site's own list of moved
pages when `[rename] moves = "moves.json"` is set: a JSON list of
`{"previous": old_key, "question": stem, "current": new_key}`.

All or nothing: every new file is prepared and verified first, then written with
`journal.write_all` (journal, second names for the old files, renames); if any write fails,
the files already written are put back as they were, and a failed undo is finished by
the next command that writes to the collection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .derived import Derived, derive, subject_key_of
from .document import load
from .errors import Refused
from .journal import write_all
from .locks import collection_lock
from .index import Collection
from .links import related_blocks
from .subjects import Subject, subject_registry


@dataclass
class Move:
    """One page's change of address: paths relative to the root, urls."""

    old_path: str
    new_path: str
    old_url: str
    new_url: str

    def as_json(self) -> dict:
        return {"old_path": self.old_path, "new_path": self.new_path, "old_url": self.old_url, "new_url": self.new_url}


@dataclass
class RenameReport:
    """What a rename did (or, in a dry run, would do): one `Move` per page renamed (several
    with `every`), the pages whose links were rewritten, and a diff per file."""

    id: int
    moves: list[Move] = field(default_factory=list)
    inbound: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    written: bool = False

    @property
    def old_url(self) -> str:
        return self.moves[0].old_url

    @property
    def new_url(self) -> str:
        return self.moves[0].new_url

    @property
    def old_path(self) -> str:
        return self.moves[0].old_path

    @property
    def new_path(self) -> str:
        return self.moves[0].new_path

    def as_json(self) -> dict:
        return {"id": self.id, "old_url": self.old_url, "new_url": self.new_url, "old_path": self.old_path,
                "new_path": self.new_path, "moves": [m.as_json() for m in self.moves], "inbound": self.inbound,
                "written": self.written}


def rename(
    target: str | int,
    *,
    title: str | None = None,
    subject: str | None = None,
    root: str | Path | None = None,
    collection: Collection | None = None,
    dry_run: bool = False,
    every: bool = False,
    new_subject: bool = False,
) -> RenameReport:
    """Give the page `target` (a path, url, or id) a new `title` and/or `subject`; see the module doc.

    With `every`, an id shared by cross-listed copies renames the title of every copy
    (each keeps its subject). Raises `Refused` (nothing written) for an empty title, an
    unknown subject (unless `new_subject`), or an address another page has; `Ambiguous`
    for a shared id without `every`; `WriteError` when a write fails (everything undone).
    """
    if title is None and subject is None:
        raise Refused("give a new title or a new subject")
    if every and subject is not None:
        raise Refused("--all renames the title of every cross-listed copy; a new subject moves one page: name it")
    coll = collection or Collection(root)
    with collection_lock(coll.root, dry_run=dry_run):
        return _rename(coll, target, title, subject, dry_run, every, new_subject)


def _rename(coll: Collection, target: str | int, title: str | None, subject: str | None, dry_run: bool,
            every: bool, new_subject: bool) -> RenameReport:
    coll.refresh()
    records = coll.targets(target, every=every)
    config = coll.config
    registry = subject_registry(coll)
    settings = config.extra.get("rename", {}) or {}
    redirects = settings.get("redirects", "aliases")
    report = RenameReport(records[0].id)
    plan: list[tuple[Path, bytes | None, bytes]] = []  # (path, old bytes or None if new, new bytes)
    removes: list[tuple[Path, bytes]] = []
    moved: dict[str, dict] = {}  # old url -> the link fields of the page's new address
    moves_entries: list[dict] = []
    claimed: set[str] = set()
    for record in records:
        doc = load(record.path)
        old_title = " ".join(str(doc.get("title", "")).split())
        old_subject = " ".join(str(doc.get("subject", "")).split())
        chosen = registry.resolve(subject, allow_new=new_subject) if subject is not None else \
            Subject(old_subject, subject_key_of(old_subject))
        derived = derive(title if title is not None else old_title, chosen, config, qid=record.id)
        old_url = str(doc.get("url", ""))
        new_rel = _new_place(record, derived, config)
        for found in (coll.by_url(derived.url), coll.page(new_rel)):
            if found is not None and found.relpath != record.relpath:
                raise Refused(f"{derived.url} ({new_rel}) is already the address of {found.relpath}")
        if derived.url in claimed or new_rel in claimed:
            raise Refused(f"two pages would get the address {derived.url}")
        claimed.update((derived.url, new_rel))
        for key, value in derived.values().items():
            if key in ("article_title", "question") and key not in doc:
                continue
            doc.set(key, value)
        if old_url and old_url != derived.url and redirects == "aliases":
            aliases = doc.get("aliases")
            kept = aliases if isinstance(aliases, list) else [] if aliases is None or aliases == "" else [aliases]
            if old_url not in kept:
                doc.set("aliases", [*kept, old_url])
        new_path = coll.root / new_rel
        if new_rel != record.relpath and new_path.exists():
            raise Refused(f"{new_rel} exists already")
        report.moves.append(Move(record.relpath, new_rel, old_url, derived.url))
        if doc.changed or new_rel != record.relpath:
            plan.append((new_path, None if new_rel != record.relpath else doc.raw, doc.verify()))
            report.diffs[record.relpath] = doc.diff(record.relpath)
            if new_rel != record.relpath:
                removes.append((record.path, doc.raw))
        if old_url:
            moved[old_url] = {"id": record.id, "title": derived.title, "subject": derived.subject, "url": derived.url}
        old_dir, _, old_stem = record.relpath.rpartition("/")
        new_dir, _, new_stem = new_rel.rpartition("/")
        if old_dir != new_dir and old_stem == new_stem:
            moves_entries.append({"previous": old_dir, "question": old_stem[:-3], "current": new_dir})
    renamed = {r.relpath for r in records}
    for other in _inbound(coll, set(moved)):
        if other.relpath in renamed:
            continue
        odoc = load(other.path)
        for _, key, block in related_blocks(odoc.to_dict()):
            if isinstance(block, dict) and block.get("url") in moved:
                for name, value in moved[block["url"]].items():
                    if name in block and block[name] != value:
                        odoc.set((key, name), value)
        if odoc.changed:
            plan.append((other.path, odoc.raw, odoc.verify()))
            report.inbound.append(other.relpath)
            report.diffs[other.relpath] = odoc.diff(other.relpath)
    moves_file = settings.get("moves")
    if moves_file and moves_entries:
        plan.append(_moves_plan(coll.root, moves_file, moves_entries))
    if dry_run:
        return report
    pairs = "".join(f"{m.old_url}\t{m.new_url}\n" for m in report.moves if m.old_url and m.old_url != m.new_url)
    redirect_file = coll.root / redirects if redirects != "aliases" and pairs else None
    _commit(coll.root, plan, removes, redirect_file, pairs)
    coll.refresh()
    report.written = True
    return report


def _new_place(record: Any, derived: Derived, config: Any) -> str:
    """Where a renamed page goes: `<subject key>/<file_name>` for a page in the site's layout
    (one folder deep, named by its file_name), the `new_file` pattern when qtkit.toml sets
    one, the new file_name beside the old for a page named by it, else where it is."""
    folder, _, name = record.relpath.rpartition("/")
    named = name == record.data.get("file_name")
    if config.site_layout() and named and record.relpath.count("/") == 1:
        return derived.relpath
    if not config.site_layout():
        return derived.relpath
    if named:
        return f"{folder}/{derived.file_name}" if folder else derived.file_name
    return record.relpath


def _moves_plan(root: Path, name: str, entries: list[dict]) -> tuple[Path, bytes | None, bytes]:
    """The planned write of the site's list of moved pages (a JSON list, appended to)."""
    path = root / name
    if not path.resolve().is_relative_to(root.resolve()):
        raise Refused(f"[rename] moves = {name!r} is outside the collection")
    old = path.read_bytes() if path.exists() else None
    try:
        current = json.loads(old) if old else []
    except ValueError as exc:
        raise Refused(f"{name}: not a JSON list of moves: {exc}") from None
    if not isinstance(current, list):
        raise Refused(f"{name}: not a JSON list of moves")
    return path, old, (json.dumps(current + entries, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _inbound(coll: Collection, urls: set[str]) -> list[Any]:
    """Pages whose related links name one of `urls` (found in the cached JSON, then checked)."""
    out = []
    needles = [json.dumps(u)[1:-1] for u in urls]
    for rel, text, _ in coll.json_rows():
        if any(n in text for n in needles):
            record = coll.by_path(rel)
            if record is not None and any(isinstance(v, dict) and v.get("url") in urls
                                          for _, _, v in related_blocks(record.data)):
                out.append(record)
    return out


def _commit(root: Path, plan: list[tuple[Path, bytes | None, bytes]], removes: list[tuple[Path, bytes]],
            redirect_file: Path | None, redirect_lines: str) -> None:
    """Write every planned file and remove the old places, all or nothing (`write_all`: a
    failure is undone, and a failed undo is finished by the next command that writes)."""
    items: list[tuple[Path, bytes | None, bytes | None]] = list(plan)
    for path, old, _ in plan:
        if old is None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if redirect_file is not None:
        before = redirect_file.read_bytes() if redirect_file.exists() else None
        items.append((redirect_file, before, (before or b"") + redirect_lines.encode("utf-8")))
    items.extend((path, raw, None) for path, raw in removes)
    write_all(root, items, what="rename")


__all__ = ["Move", "RenameReport", "rename"]
