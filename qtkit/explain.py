"""What `relink` would choose for a page, with scores and the words that matched.

`Explainer(coll)` builds relink's model of the collection once (the same scoring path as
`relink`, with the frozen weights of the last relink when there are some; nothing is
written) and explains any number of pages from it: `.explain(target)`, `.related(qid)`.
`explain(coll, target)` and `related(coll, qid)` build one for a single question.
`RelinkModel` is the shape `qtkit serve` shows beside a page (`suggest(path)`), one
model per version of the files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import QtkitError
from .index import CACHE_DIR, Collection
from .links import LINK_FIELDS
from .related import RelatedConfig, choose, explain_pair, page_from
from .relink_model import Model, build
from .relink_report import RelinkReport
from .relink_state import STATE_DIR, State


class Explainer:
    """Relink's model of one collection, built once, explaining many pages.

    Building reads every page and scores none (about the cost of the read and vectorize
    phases of a full relink); each `explain` then scores one page (milliseconds). The
    model is of the files as they were when it was built."""

    def __init__(self, coll: Collection) -> None:
        coll.refresh()
        self.coll = coll
        self.config = RelatedConfig.from_config(coll.config)
        old = State.load(coll.root / CACHE_DIR / STATE_DIR)
        if old is not None and old.config != self.config.signature():
            old = None
        model = build(coll, self.config, old, None, 1, RelinkReport(), None, always=True, score=False)
        assert model is not None  # `always`: built even when nothing changed
        self.model: Model = model
        state = model.state
        self.row_of = {p: i for i, p in enumerate(state.paths) if state.alive[i]}

    def explain(self, target: str | int, k: int | None = None, *, coll: Collection | None = None) -> dict:
        """The links relink chooses for one page (a path, an id or a url), scored and
        explained: {"page", "id", "title", "links": [{id, title, subject, url, score,
        words: [[word, share], ...]}]}. `k` links at most (default: `related_count`);
        `coll` reads the pages (default: the one the model was built from; a connection
        belongs to one thread). QtkitError when no page matches or relink does not link
        the page."""
        coll, config, s = coll or self.coll, self.config, self.model.state
        text = str(target)
        record = coll.by_url(text) if text.startswith("/") and not (coll.root / text.lstrip("/")).exists() else None
        record = record or coll.record(target)
        row = self.row_of.get(record.relpath)
        if row is None:
            raise QtkitError(f"{record.relpath}: not a page relink links (no integer id)")
        cfg = replace(config, count=k or config.count)
        choice = choose(np.array([row]), self.model.space, self.model.pages, cfg)[0]
        me = page_from(record.data, config)
        links = []
        for t, score in zip(choice.targets.tolist(), choice.scores.tolist()):
            other = coll.by_path(s.paths[t])
            words = explain_pair(me, page_from(other.data, config), s.idf, config) if other is not None and me else []
            link = {"id": int(s.qids[t]), "title": s.titles[t], "subject": s.subjects[t], "url": s.urls[t]}
            links.append({**link, "score": round(score, 4), "words": [[w, v] for w, v in words]})
        return {"page": record.relpath, "id": record.data.get("id"), "title": record.data.get("title"), "links": links}

    def related(self, qid: int, k: int | None = None) -> list[dict]:
        """The best `k` (default: `related_count`) pages for the first page of question
        `qid`: [{id, title, subject, url, score}]. QtkitError when there is no such question."""
        record = self.coll.get(qid)
        if record is None:
            raise QtkitError(f"no question with id {qid} in {self.coll.root}")
        return [{key: link[key] for key in (*LINK_FIELDS, "score")} for link in self.explain(record.relpath, k)["links"]]


def explain(coll: Collection, target: str | int, k: int | None = None) -> dict:
    """`Explainer(coll).explain(target, k)`: one page's links, scored and explained."""
    return Explainer(coll).explain(target, k)


def related(coll: Collection, qid: int, k: int | None = None) -> list[dict]:
    """`Explainer(coll).related(qid, k)`: one question's links with their scores."""
    return Explainer(coll).related(qid, k)


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
    """Relink's choice for the pages of one collection, the model built once (in the
    constructor) and asked for any number of pages."""

    source = "relink's own scoring (the frozen weights of the last relink, if any)"

    def __init__(self, coll: Collection) -> None:
        self.coll = coll
        self.explainer = Explainer(coll)

    def suggest(self, coll: Collection, path: str) -> list[Suggestion] | None:
        """The links relink would choose for the page at `path`, best first (None when
        relink does not link that page, e.g. it has no integer id). `coll` resolves the
        targets' paths (the server's collection)."""
        try:
            found = self.explainer.explain(path, coll=coll)
        except QtkitError:
            return None
        out = []
        for link in found["links"]:
            target = coll.page(link["url"])
            out.append(Suggestion(link["id"], link["title"], link["subject"], link["url"],
                                  target.relpath if target is not None else "", round(float(link["score"]), 4),
                                  [w for w, _ in link.get("words", [])][:8]))
        return out
