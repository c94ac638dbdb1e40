"""What the rules know about one page: its front matter and what the collection says about
it (other pages by url and id, the subject registry, the configuration), worked out once
for all the rules that ask (`PageFacts`); and what they know of a file that cannot be read
(`Unreadable`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..derived import subject_key_of
from ..links import PageRef, Pages, problems, text
from ..slugs import slug
from ..subjects import Subject, Subjects
from .registry import Hit


class PageFacts:
    """One readable page as the rules see it, worked out once for every rule that asks.

    `relpath` is relative to the root; `data` its front matter; `pages` every page of the
    collection (links resolve by url); `registry` the subject registry; `config` the
    collection's `Config`; `required` the keys `[check] required` names.
    """

    __slots__ = ("relpath", "data", "pages", "registry", "config", "required", "id", "title", "title_slug",
                 "written_subject", "folder", "in_own_folder", "canonical", "respelled", "subject", "subject_key",
                 "seo_title", "_links")

    def __init__(self, relpath: str, data: dict, pages: Pages, registry: Subjects, config: Any,
                 required: tuple[str, ...], places: dict | None = None) -> None:
        """`places`, when given, is a dict the pages of one check share (one registry and
        configuration), where what each (folder, subject) pair decides is kept."""
        self.relpath = relpath
        self.data = data
        self.pages = pages
        self.registry = registry
        self.config = config
        self.required = required
        self.id = data.get("id")
        self.title = text(data.get("title"))
        #: slug(title) ("" without a title)
        self.title_slug = slug(self.title) if self.title else ""
        #: the subject as written (whitespace runs as one space)
        self.written_subject = subject = text(data.get("subject"))
        #: the subject folder the page is filed in (site layout only), else None
        self.folder = folder = relpath.split("/")[0] if relpath.count("/") == 1 and config.site_layout() else None
        place = places.get((folder, subject)) if places is not None else None
        if place is None:
            place = _place(folder, subject, registry)
            if places is not None:
                places[(folder, subject)] = place
        #: whether the subject's key is the page's folder (always, outside the site layout);
        #: the registry's subject for the page: its folder's, else the one its subject spells;
        #: the registry's spelling when the page spells its subject otherwise (QT205), else None;
        #: the subject the derived fields follow (the registry's spelling when QT205 applies)
        #: and its key
        self.in_own_folder, self.canonical, self.respelled, self.subject, self.subject_key = place
        seo = data.get("seo")
        self.seo_title: str | None = seo.get("title") if isinstance(seo, dict) and isinstance(seo.get("title"), str) \
            else None
        self._links: dict[str, list[Hit]] | None = None

    @property
    def ref(self) -> PageRef:
        """The page as links know it."""
        d = self.data
        return self.pages.by_path.get(self.relpath) or PageRef(self.relpath, self.id, d.get("title"), d.get("subject"),
                                                               d.get("url"))

    @property
    def link_hits(self) -> dict[str, list[Hit]]:
        """The related links' problems (`qtkit.links.problems`, worked out once) as hits, by kind."""
        if self._links is None:
            self._links = {}
            for p in problems(self.ref, self.data, self.pages):
                fix = p.fix if p.fix == "drop" else ((p.key, p.field), p.fix) if p.fix is not None else None
                self._links.setdefault(p.kind, []).append(Hit(p.message, (p.key, p.field) if p.field else (p.key,), fix))
        return self._links


def _place(folder: str | None, subject: str, registry: Subjects) -> tuple[bool, Subject | None, str | None, str, str]:
    """(in_own_folder, canonical, respelled, subject, subject_key) of a page filed in
    `folder` (None outside the site layout) whose subject is written `subject`."""
    in_own_folder = folder is None or (bool(subject) and subject_key_of(subject) == folder)
    canonical: Subject | None = None
    if subject:
        canonical = (registry.for_key(folder) if folder is not None else None) or registry.find(subject)
    respelled: str | None = None
    if subject and in_own_folder and canonical is not None and canonical.title != subject:
        respelled = canonical.title
    derived = respelled or subject
    return in_own_folder, canonical, respelled, derived, subject_key_of(derived) if derived else ""


_LOCATION = re.compile(r"^(?P<path>.*?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<message>.*)$", re.S)


@dataclass(frozen=True)
class Unreadable:
    """A file the index could not read: where the reader stopped and why."""

    relpath: str
    line: int
    col: int
    message: str

    @classmethod
    def parse(cls, error: str) -> "Unreadable":
        """From the index's `path:line:col: message` (or `path: message`) error line."""
        m = _LOCATION.match(error)
        if m:
            return cls(m["path"], int(m["line"]), int(m["col"] or 1), m["message"])
        path, _, message = error.partition(": ")
        return cls(path, 1, 1, message)
