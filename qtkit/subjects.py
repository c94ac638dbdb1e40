"""The subject registry: each subject's display title and key (its folder, its url part).

The live site keeps a list of subjects, each a display title and a key (`Computer Science`
/ `computer-science`), and serves a subject's pages from the folder named by the key; files
spell some subjects in other cases (`Education studies`). The registry comes from
`[subjects]` in `qtkit.toml` (`key = "Title"`) or, when that is absent, from the collection:
one subject per key (the slug of every spelling), titled by its best-cased spelling.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from .errors import ConfigError, Refused
from .slugs import slug

if TYPE_CHECKING:
    from .index import Collection


@dataclass(frozen=True)
class Subject:
    """A subject: `title` as pages spell it (`Computer Science`), `key` its folder and url part."""

    title: str
    key: str


def _casing(spelling: str) -> int:
    """How title-cased a spelling is: words starting with a capital, not shouted."""
    return sum(1 for w in spelling.split() if w[:1].isupper() and not (len(w) > 3 and w.isupper()))


def best_spelling(counts: Mapping[str, int]) -> str:
    """The best-cased of several spellings of one subject (most capitalised words, then most
    pages, then alphabetical): `{"Education studies": 9, "Education Studies": 2}` -> `"Education Studies"`."""
    return max(counts, key=lambda s: (_casing(s), counts[s], s))


class Subjects:
    """A registry of subjects, looked up by key, title, or any case of either."""

    def __init__(self, subjects: Iterable[Subject], source: str) -> None:
        self.source = source  # "qtkit.toml" or "collection"
        self._by_key: dict[str, Subject] = {}
        for subject in subjects:
            self._by_key.setdefault(subject.key, subject)
        self._by_fold = {s.title.casefold(): s for s in self._by_key.values()}

    @classmethod
    def from_config(cls, table: Mapping[str, object]) -> "Subjects":
        """From `[subjects]` of qtkit.toml: `{"computer-science": "Computer Science"}`.

        Raises `ConfigError` for a title that is not a non-empty string or a key that is not a slug.
        """
        subjects = []
        for key, title in table.items():
            if not isinstance(title, str) or not title.strip():
                raise ConfigError(f"[subjects] {key!r} must be a subject title (a non-empty string)")
            if not key or slug(key.replace("-", " ")) != key:
                raise ConfigError(f"[subjects] key {key!r} must be a slug (a-z, 0-9, hyphens)")
            subjects.append(Subject(" ".join(title.split()), key))
        return cls(subjects, "qtkit.toml")

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> "Subjects":
        """From how many pages spell each subject: one subject per slug, best-cased."""
        groups: dict[str, Counter] = {}
        for spelling, n in counts.items():
            text = " ".join(spelling.split()) if isinstance(spelling, str) else ""
            key = slug(text)
            if key.strip("-"):
                groups.setdefault(key, Counter())[text] += n
        return cls((Subject(best_spelling(c), key) for key, c in sorted(groups.items())), "collection")

    def __iter__(self) -> Iterator[Subject]:
        return iter(sorted(self._by_key.values(), key=lambda s: s.key))

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, text: str) -> Subject | None:
        """The subject `text` names: its key, its title, or either in any case (or None)."""
        text = " ".join(text.split())
        return (self._by_key.get(text) or self._by_key.get(text.lower()) or self._by_fold.get(text.casefold())
                or self._by_key.get(slug(text)))

    def for_key(self, key: str) -> Subject | None:
        """The subject filed in folder `key`."""
        return self._by_key.get(key)

    def resolve(self, text: str, *, allow_new: bool = False) -> Subject:
        """The subject `text` names, or a new one when `allow_new`.

        Raises `Refused` for an empty or unknown subject, with the closest names as a hint.
        """
        text = " ".join(text.split())
        if not slug(text).strip("-"):
            raise Refused(f"the subject {text!r} is empty or has no letters or digits")
        found = self.find(text)
        if found is not None:
            return found
        if allow_new or not self._by_key:
            return Subject(text, slug(text))
        names = [s.title for s in self._by_key.values()]
        close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise Refused(f"unknown subject {text!r}{hint} (use --new-subject to add it)")


def subject_registry(coll: "Collection") -> Subjects:
    """A collection's subject registry: `[subjects]` of its qtkit.toml, else its own spellings."""
    if coll.config.subjects:
        return Subjects.from_config(coll.config.subjects)
    return Subjects.from_counts(coll.subjects())
