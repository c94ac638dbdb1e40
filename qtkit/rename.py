"""`rename`: change a question's title or subject and everything derived from it, at once.

Updates title, article_title, question, subject, seo.title, file_name and url together,
renames the file when it is named by its `file_name`, rewrites every inbound related link
in other files, and records old url -> new url: by default in an `aliases` list in the
question's own front matter (as Hugo reads it), or appended to a redirects file
(`[rename] redirects = "redirects.tsv"` in qtkit.toml: `old<TAB>new` lines).

All or nothing: every new file is prepared and verified first, then written with
`files.write_all` (journal, second names for the old files, renames); if any write fails,
the files already written are put back as they were, and a failed undo is finished by
the next command that writes to the collection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .document import load
from .errors import QtkitError, Refused
from .files import collection_lock, write_all
from .index import Collection
from .shapes import RELATED
from .slugs import slug


@dataclass
class RenameReport:
    id: int
    old_url: str
    new_url: str
    old_path: str
    new_path: str
    inbound: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    written: bool = False

    def as_json(self) -> dict:
        return {"id": self.id, "old_url": self.old_url, "new_url": self.new_url, "old_path": self.old_path,
                "new_path": self.new_path, "inbound": self.inbound, "written": self.written}


def rename(
    qid: int,
    *,
    title: str | None = None,
    subject: str | None = None,
    root: str | Path | None = None,
    collection: Collection | None = None,
    dry_run: bool = False,
) -> RenameReport:
    """Rename question `qid` (new `title` and/or `subject`); see the module doc."""
    if title is None and subject is None:
        raise Refused("give a new title or a new subject")
    coll = collection or Collection(root)
    with collection_lock(coll.root, dry_run=dry_run):
        return _rename(coll, qid, title, subject, dry_run)


def _rename(coll: Collection, qid: int, title: str | None, subject: str | None, dry_run: bool) -> RenameReport:
    coll.refresh()
    record = coll.get(qid)
    if record is None:
        raise QtkitError(f"no question with id {qid} in {coll.root}")
    config = coll.config
    doc = load(record.path)
    new_title = " ".join((title if title is not None else str(doc.get("title", ""))).split())
    new_subject = " ".join((subject if subject is not None else str(doc.get("subject", ""))).split())
    if not new_title or not slug(new_title).strip("-"):
        raise Refused(f"the title {new_title!r} is empty or has nothing to make a slug from")
    if not new_subject:
        raise Refused("the subject is empty")
    title_slug = slug(new_title)
    file_name = title_slug + ".md"
    url = config.url_for(slug(new_subject), title_slug)
    old_url = str(doc.get("url", ""))
    for what, value, found in (("url", url, coll.by_url(url)), ("file_name", file_name, coll.by_file_name(file_name))):
        if found is not None and found.id != qid:
            raise Refused(f"{what} {value!r} is already used by id {found.id} ({found.relpath})")

    values: dict[str, Any] = {"title": new_title, "subject": new_subject, "seo.title": config.seo_title(new_subject),
                              "file_name": file_name, "url": url}
    for key in ("article_title", "question"):
        if key in doc:
            values[key] = new_title
    for key, value in values.items():
        doc.set(key, value)
    redirects = (config.extra.get("rename", {}) or {}).get("redirects", "aliases")
    if old_url and old_url != url and redirects == "aliases":
        aliases = doc.get("aliases")
        kept = aliases if isinstance(aliases, list) else [] if aliases is None or aliases == "" else [aliases]
        if old_url not in kept:
            doc.set("aliases", [*kept, old_url])

    old_path = record.path
    named_by_file_name = old_path.name == record.data.get("file_name")
    new_path = old_path.with_name(file_name) if named_by_file_name else old_path
    if new_path != old_path and new_path.exists():
        raise Refused(f"{new_path.name} exists already")
    report = RenameReport(qid, old_url, url, record.relpath, new_path.relative_to(coll.root).as_posix())
    plan: list[tuple[Path, bytes | None, bytes]] = []  # (path, old bytes or None if new, new bytes)
    if doc.changed or new_path != old_path:
        plan.append((new_path, None if new_path != old_path else doc.raw, doc.verify()))
        report.diffs[record.relpath] = doc.diff()
    link = {"title": new_title, "subject": new_subject, "url": url}
    for other in _inbound(coll, qid):
        if other.path == old_path:
            continue
        odoc = load(other.path)
        for key in [k for k in odoc.keys() if RELATED.match(k)]:
            block = odoc.get(key)
            if isinstance(block, dict) and block.get("id") == qid:
                for name, value in link.items():
                    if name in block and block[name] != value:
                        odoc.set((key, name), value)
        if odoc.changed:
            plan.append((other.path, odoc.raw, odoc.verify()))
            report.inbound.append(other.relpath)
            report.diffs[other.relpath] = odoc.diff()
    if dry_run:
        return report
    redirect_file = coll.root / redirects if redirects != "aliases" and old_url != url else None
    _commit(coll.root, plan, old_path if new_path != old_path else None, doc.raw, redirect_file, f"{old_url}\t{url}\n")
    coll.refresh()
    report.written = True
    return report


def _inbound(coll: Collection, qid: int) -> list[Any]:
    """Questions whose related links mention `qid` (found in the cached JSON, then checked)."""
    out = []
    for rel, text, _ in coll.json_rows():
        if f'"id":{qid}' in text:
            record = coll.by_path(rel)
            if record is not None and any(isinstance(v, dict) and v.get("id") == qid
                                          for k, v in record.data.items() if RELATED.match(k)):
                out.append(record)
    return out


def _commit(root: Path, plan: list[tuple[Path, bytes | None, bytes]], remove: Path | None, removed_bytes: bytes,
            redirect_file: Path | None, redirect_line: str) -> None:
    """Write every planned file, all or nothing (`write_all`: a failure is undone, and a
    failed undo is finished by the next command that writes)."""
    items: list[tuple[Path, bytes | None, bytes | None]] = list(plan)
    if redirect_file is not None:
        before = redirect_file.read_bytes() if redirect_file.exists() else None
        items.append((redirect_file, before, (before or b"") + redirect_line.encode("utf-8")))
    if remove is not None:
        items.append((remove, removed_bytes, None))
    write_all(root, items, what="rename")


__all__ = ["RenameReport", "rename"]
