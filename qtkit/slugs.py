"""The site's slug rule, and anchors for generated documents.

`slug` is the live site's rule, measured on every one of the 35,915 files of a published
snapshot (`../shared/FORMAT.md`, "The live collection"): lowercase; delete every character
that is not `a-z`, `0-9` or a space; then each space becomes one hyphen, never collapsed.
So `China-Africa` -> `chinaafrica`, `C++` -> `c`, `p > 0.5` -> `p--05`, accented letters
are deleted rather than transliterated (`La Tène` -> `la-tne`, `dēmos` -> `dmos`) and
HTML-entity text stays text (`&amp;` -> `amp`). It is the format itself, so it is written
here and not taken from a library: python-slugify transliterates, decodes entities and
collapses dashes, each of which would give pages the wrong address.

`anchor` makes fragment identifiers for generated documents (the Markdown export's table
of contents): that is what python-slugify is for.
"""

from __future__ import annotations

import re

from slugify import slugify

from .errors import Refused

_NOT_SLUG = re.compile(r"[^a-z0-9 ]+")
#: the longest file name most file systems allow, in bytes (ext4, APFS, NTFS: 255)
NAME_MAX = 255


def slug(text: str) -> str:
    """The site's slug of a title or subject: `"What's C++?"` -> `"whats-c"` (rule above)."""
    return _NOT_SLUG.sub("", text.lower()).replace(" ", "-")


def file_name(title: str) -> str:
    """`file_name` of a page: slug(title) + '.md'.

    Raises `Refused` when the title has nothing to make a slug from, or when the name
    would be longer than `NAME_MAX` (255) bytes, which no common file system stores.
    """
    title_slug = slug(title)
    if not title_slug.strip("-"):
        raise Refused(f"the title {title!r} has no letters or digits to make a slug from")
    name = title_slug + ".md"
    if len(name.encode("utf-8")) > NAME_MAX:
        raise Refused(f"the file name from this title would be {len(name)} bytes, over the {NAME_MAX}-byte limit"
                      " of file systems; shorten the title")
    return name


def anchor(text: str) -> str:
    """A fragment identifier for generated Markdown/HTML (python-slugify): `"sociology/q.md"` -> `"sociology-q-md"`."""
    return slugify(text) or "x"
