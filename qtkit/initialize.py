"""`qtkit init`: make an existing tree of question files a collection, with a `qtkit.toml`.

The tree is read once (in memory, no cache is written on a dry run), its layout detected
(the site's `<subject_key>/<slug>.md`, or every file at the top) and its subject
registry taken from the spellings its pages use (`Subjects.from_counts`).
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .config import CONFIG_NAME, Config
from .errors import ConfigError, Refused
from .files import write_atomic
from .slugs import slug
from .subjects import Subjects

#: share of pages that must follow a layout for it to be chosen
LAYOUT_SHARE = 0.9


@dataclass
class InitReport:
    """What `init` found in a tree and the `qtkit.toml` it wrote (or would write)."""

    root: Path
    config: Path
    pages: int
    questions: int
    layout: str  # "site", "flat" or "mixed"
    subjects: dict[str, str] = field(default_factory=dict)
    unreadable: int = 0
    text: str = ""
    written: bool = False

    def as_json(self) -> dict:
        return {"root": str(self.root), "config": str(self.config), "pages": self.pages,
                "questions": self.questions, "layout": self.layout, "subjects": self.subjects,
                "unreadable": self.unreadable, "written": self.written}


def init(folder: str | Path = ".", *, dry_run: bool = False, force: bool = False) -> InitReport:
    """Write `folder/qtkit.toml` describing the collection found there and return what
    was found. Raises `ConfigError` if `folder` is not a folder, `Refused` if it holds no
    question file or already has a qtkit.toml (unless `force`)."""
    from .index import Collection

    root = Path(folder).resolve()
    if not root.is_dir():
        raise ConfigError(f"{str(folder)!r} is not a folder")
    target = root / CONFIG_NAME
    if target.exists() and not force:
        raise Refused(f"{target} exists already (--force writes a new one)")
    coll = Collection(config=Config(root=root), cache=False)
    try:
        coll.refresh()
        spellings: Counter = Counter()
        shapes: Counter = Counter()
        ids = set()
        pages = 0
        for relpath, qid, _title, subject, _url in coll.summaries():
            pages += 1
            if qid is not None:
                ids.add(qid)
            if isinstance(subject, str) and subject.strip():
                spellings[subject] += 1
            if "/" not in relpath:
                shapes["flat"] += 1
            elif relpath.count("/") == 1 and isinstance(subject, str) and relpath.split("/")[0] == slug(subject):
                shapes["site"] += 1
            else:
                shapes["other"] += 1
        unreadable = len(coll.errors())
    finally:
        coll.close()
    if not pages:
        raise Refused(f"no question files under {root} (Markdown files with YAML front matter)")
    layout = next((name for name in ("site", "flat") if shapes[name] >= LAYOUT_SHARE * pages), "mixed")
    registry = {s.key: s.title for s in Subjects.from_counts(spellings)}
    text = render(layout, registry)
    report = InitReport(root, target, pages, len(ids), layout, registry, unreadable, text)
    if not dry_run:
        write_atomic(target, text.encode("utf-8"), exclusive=not target.exists())
        report.written = True
    return report


def render(layout: str, subjects: dict[str, str]) -> str:
    """The text of a `qtkit.toml` for a detected layout and subject registry."""
    lines = ["# qtkit.toml: written by `qtkit init` (every key is optional; see the qtkit.toml reference)", ""]
    if layout == "flat":
        lines += ["# every question file sits at the top of the collection", 'new_file = "{slug}.md"', ""]
    elif layout == "site":
        lines += ["# the site's layout: <subject_key>/<slug>.md (the page's url follows from where its file is)",
                  'new_file = ""', ""]
    else:
        lines += ["# pages are in several layouts; new questions go where the site puts them", 'new_file = ""', ""]
    lines += ["# the subject registry: key (folder and url part) = display title", "[subjects]"]
    lines += [f"{json.dumps(key)} = {json.dumps(title, ensure_ascii=False)}" for key, title in sorted(subjects.items())]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # what we write must read back
    return text
