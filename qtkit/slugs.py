"""The collection's slug rule, built on python-slugify.

Observed on every real file: lowercase; delete each character that is not `a-z`, `0-9` or
a space (`China-Africa` -> `chinaafrica`, `C++` -> `c`); then each space becomes one
hyphen, never collapsed (`p > 0.5` -> `p--05`). python-slugify does the lowercasing,
HTML-entity decoding and transliteration of accented letters (`é` -> `e`); spaces ride
through it as a placeholder so that its dash-collapsing cannot merge them.
"""

from __future__ import annotations

import re

from slugify import slugify

_SPACE = "\x00"  # placeholder for a space while python-slugify works
_DISALLOWED = re.compile(r"[^a-z0-9\x00]+")


def slug(text: str) -> str:
    """The collection's slug of a title or subject: `"What's C++?"` -> `"whats-c"`."""
    text = text.replace(_SPACE, "")
    out = slugify(text, regex_pattern=_DISALLOWED, replacements=[(" ", _SPACE)], lowercase=True)
    return out.replace("-", "").replace(_SPACE, "-")


def file_name(title: str) -> str:
    """`file_name` of a question: slug(title) + '.md'."""
    return slug(title) + ".md"
