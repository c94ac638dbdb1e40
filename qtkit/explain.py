"""What `relink` would choose for one page, with scores and the words that matched: the
shape `qtkit serve` shows beside a page.

The choice is `qtkit.relink.explain` itself (the same scoring path as `relink` and
`relink --explain`), so what the server shows is what relink would write.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import QtkitError
from .index import Collection


@dataclass
class Suggestion:
    """One link relink would write: its target and why (score, top shared words)."""

    id: int
    title: str
    subject: str
    url: str
    path: str
    score: float
    words: list[str]


class RelinkModel:
    """Relink's choice for the pages of one collection; `suggest(path)` asks `relink.explain`."""

    source = "relink's own scoring (the frozen weights of the last relink, if any)"

    def __init__(self, coll: Collection) -> None:
        self.coll = coll

    def suggest(self, coll: Collection, path: str) -> list[Suggestion] | None:
        """The links relink would choose for the page at `path`, best first (None when
        relink does not link that page, e.g. it has no integer id)."""
        from .relink import explain

        try:
            found = explain(coll, path)
        except QtkitError:
            return None
        out = []
        for link in found["links"]:
            target = coll.page(link["url"])
            out.append(Suggestion(link["id"], link["title"], link["subject"], link["url"],
                                  target.relpath if target is not None else "", round(float(link["score"]), 4),
                                  [w for w, _ in link.get("words", [])][:8]))
        return out
