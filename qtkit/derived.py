"""What a page's title and subject decide: its slugs, `file_name`, `url`, `seo.title` and path.

One function, used by `new`, `rename`, `check` and `import`. The rules are the site's
(`../shared/FORMAT.md`, measured on 35,915 files): `file_name` = slug(title) + `.md`;
`url` = `/learn/<subject key>/questions/<slug(title)>` (the `url_pattern` of qtkit.toml);
`seo.title` = `<site_name> | <subject>`; the file lives at `<subject key>/<file_name>`, since
the site serves a page from where its file is (a `new_file` pattern in qtkit.toml overrides
the path).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .config import Config
from .errors import Refused
from .slugs import file_name as _file_name
from .slugs import slug
from .subjects import Subject


@dataclass(frozen=True)
class Derived:
    """The fields a title and subject decide. `relpath` is relative to the collection root."""

    title: str
    subject: str
    subject_key: str
    slug: str
    file_name: str
    url: str
    seo_title: str
    relpath: str

    def values(self) -> dict[str, str]:
        """The front-matter values, by dotted key."""
        return {"title": self.title, "article_title": self.title, "question": self.title,
                "subject": self.subject, "seo.title": self.seo_title, "file_name": self.file_name, "url": self.url}


def derive(title: str, subject: Subject, config: Config, *, qid: int | None = None) -> Derived:
    """The derived fields of a page titled `title` filed under `subject`.

    `title` is normalised to single spaces. Raises `Refused` when the title has nothing to
    make a slug from, when its file name would exceed 255 bytes, or when a `new_file`
    pattern would put the file outside the collection.
    """
    title = " ".join(title.split())
    if not title:
        raise Refused("the title is empty")
    name = _file_name(title)
    title_slug = name[:-3]
    if config.site_layout():
        relpath = f"{subject.key}/{name}"
    else:
        relpath = config.new_file.format(id=qid if qid is not None else "", slug=title_slug, subject_slug=subject.key)
    parts = PurePosixPath(relpath).parts
    if not parts or relpath.startswith("/") or ".." in parts or any(p.startswith(".") for p in parts):
        raise Refused(f"new file path {relpath!r} would leave the collection or be hidden")
    return Derived(title, subject.title, subject.key, title_slug, name, config.url_for(subject.key, title_slug),
                   config.seo_title(subject.title), relpath)


def location_url(relpath: str, config: Config) -> str | None:
    """The url the site serves the file at `relpath` from (`<folder>/<stem>.md` ->
    `/learn/<folder>/questions/<stem>`), or None when the collection does not use the
    site's layout or the file is not one folder deep."""
    if not config.site_layout():
        return None
    parts = relpath.split("/")
    if len(parts) != 2 or not parts[1].endswith(".md"):
        return None
    return config.url_for(parts[0], parts[1][:-3])


def subject_key_of(subject: str) -> str:
    """The key (folder) a subject spelling files under: its slug."""
    return slug(" ".join(subject.split()))
