"""What `relink` would choose for one page, with scores and the words that matched.

`RelinkModel` scores like `Collection.related` (the same engine: `qtkit.related`), but
keeps the vectors in memory so that asking for many pages costs one build: the vectors
kept by the last `relink` (`.qtkit/related.npz`) when they fit the settings, else vectors
computed from the collection. Each suggestion lists the words that contributed most to
its score (the words both questions share, by their weight in both vectors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson

from .index import CACHE_DIR, Collection
from .related import (
    STATE_FILE,
    RelatedConfig,
    State,
    choose,
    counts,
    encode_labels,
    idf_weights,
    question_from,
    title_key,
    vectors,
    words,
)


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
    """The relatedness vectors of a whole collection, built once (seconds for 10,000
    pages); `suggest(path)` then answers in milliseconds."""

    def __init__(self, coll: Collection) -> None:
        self.config = RelatedConfig.from_config(coll.config)
        state = State.load(coll.root / CACHE_DIR / STATE_FILE)
        texts: dict[str, tuple[str, str, str, str]] = {}
        if state is not None and state.config == self.config.signature():
            matrix, idf = state.counts, state.idf
            self.qids, subjects, titles, self.paths = state.qids, state.subjects, state.titles, list(state.paths)
            self.source = "the vectors kept by the last relink"
        else:
            rows = []
            for rel, text, _ in coll.json_rows():
                q = question_from(orjson.loads(text), self.config)
                if q is not None:
                    rows.append((rel, q))
                    texts[rel] = q.texts
            matrix = counts([q for _, q in rows], self.config)
            idf = idf_weights(matrix, self.config)
            self.qids = np.array([q.qid for _, q in rows], dtype=np.int64)
            subjects, titles, self.paths = [q.subject for _, q in rows], [q.title for _, q in rows], [r for r, _ in rows]
            self.source = "vectors computed from the collection"
        self.idf = idf
        self.row = {p: i for i, p in enumerate(self.paths)}
        self.x = vectors(matrix, idf)
        self.xt = self.x.T.tocsr()
        self.subjects = encode_labels(s.casefold() for s in subjects)
        self.titles = encode_labels(title_key(t) for t in titles)
        self.subject_names, self.title_names = list(subjects), list(titles)
        self.texts = texts

    def suggest(self, coll: Collection, path: str) -> list[Suggestion] | None:
        """The links relink would choose for the page at `path`, best first (None when the
        page has no integer id or is not in the model)."""
        i = self.row.get(path)
        if i is None:
            return None
        chosen = choose(np.array([i]), self.x, self.xt, self.qids, self.subjects, self.titles, self.config)
        mine = self._words(coll, path)
        out = []
        for t in chosen.targets[0]:
            t = int(t)
            target = self.paths[t]
            record = coll.by_path(target)
            if record is None:
                continue
            q = question_from(record.data, self.config)
            if q is None:
                continue
            score = float(self.x[i].multiply(self.x[t]).sum())
            out.append(Suggestion(q.qid, q.title, q.subject, q.url, target, round(score, 4),
                                  self._shared(i, t, mine, self._words(coll, target))))
        return out

    def _words(self, coll: Collection, path: str) -> set[str]:
        texts = self.texts.get(path)
        if texts is None:
            record = coll.by_path(path)
            q = question_from(record.data, self.config) if record is not None else None
            texts = q.texts if q is not None else ("", "", "", "")
        return {w for text in texts for w in words(text)}

    def _shared(self, i: int, t: int, a: set[str], b: set[str], top: int = 8) -> list[str]:
        """The shared words that weigh most in both vectors."""
        from sklearn.utils import murmurhash3_32

        weights = []
        ra, rb = self.x[i], self.x[t]
        for word in a & b:
            h = abs(murmurhash3_32(word, seed=0)) % self.x.shape[1]  # as HashingVectorizer hashes
            w = float(ra[0, h]) * float(rb[0, h])
            if w > 0:
                weights.append((-w, word))
        return [word for _, word in sorted(weights)[:top]]
