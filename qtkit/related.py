"""Related links: which questions each question should link to, and `relink`.

Relatedness is lexical (TF-IDF cosine through scikit-learn): every question becomes a
vector of its words, weighted by field (`title` 3, `seo.page_keywords` 2,
`seo.page_description` 1, the first `answer_chars` of the answer 1; tune in
`[related]` of qtkit.toml), with sub-linear term frequency and inverse document
frequency. Words in more than `max_df` of the questions, or in only one, carry no
signal and are dropped. A candidate from the same subject has its score multiplied by
`1 + same_subject_boost`, so strong cross-subject matches still win. A question never
links to itself, to its own id, twice to one id, to a question with the same title, or
to two questions with one title; ties go to the lower id, so the result is the same on
any machine.

The vectors and the links chosen are kept in `.qtkit/related.npz`, so after a few
questions are added or edited only the questions those could affect are scored again.
The term weights (IDF) are frozen there until `relink --full`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp

from .errors import ConfigError
from .index import Progress
from .procs import die_with_parent

STATE_FILE = "related.npz"
_TOKENS = r"(?u)\b[^\W\d_]{3,}\b"
_FEATURES = 2**20
_ENGINE = 2  # raised when the same settings would choose other links (the next relink scores all)


@dataclass(frozen=True)
class RelatedConfig:
    """How relatedness is scored (`[related]` in qtkit.toml; `count` is `related_count`)."""

    count: int = 5
    title_weight: float = 3.0
    keywords_weight: float = 2.0
    description_weight: float = 1.0
    answer_weight: float = 1.0
    answer_chars: int = 1500
    same_subject_boost: float = 0.25
    min_score: float = 0.05
    max_df: float = 0.01

    @classmethod
    def from_config(cls, config: Any) -> RelatedConfig:
        table = dict(config.extra.get("related", {}) or {})
        known = {f.name: f.type for f in fields(cls)}
        for key, value in table.items():
            if key not in known or key == "count":
                raise ConfigError(f"[related] has no setting {key!r} (known: {', '.join(sorted(known))})")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"[related] {key} must be a number >= 0")
        return cls(count=config.related_count, **table)

    def signature(self) -> str:
        return json.dumps({**asdict(self), "engine": _ENGINE}, sort_keys=True)


@dataclass
class Question:
    """What relatedness reads from one question, and what a link to it shows."""

    qid: int
    title: str
    subject: str
    url: str
    texts: tuple[str, str, str, str]  # title/question, keywords, description, answer


def question_from(data: dict, config: RelatedConfig) -> Question | None:
    qid = data.get("id")
    if not isinstance(qid, int) or isinstance(qid, bool):
        return None
    seo = data.get("seo") if isinstance(data.get("seo"), dict) else {}
    title = _text(data.get("title")) or _text(data.get("question"))
    question = _text(data.get("question"))
    head = title if question in ("", title) else f"{title} {question}"
    return Question(qid, " ".join(title.split()), _text(data.get("subject")), _text(data.get("url")),
                    (head, _text(seo.get("page_keywords")), _text(seo.get("page_description")),
                     _text(data.get("answer"))[: config.answer_chars]))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _signature(q: Question) -> int:
    return zlib.crc32("\x00".join((*q.texts, q.title, q.subject, q.url)).encode("utf-8", "replace"))


# ------------------------------------------------------------------ vectors


def _count_chunk(texts: list[tuple[str, str, str, str]], weights: tuple[float, ...]) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(n_features=_FEATURES, alternate_sign=False, norm=None, analyzer=words,
                                   dtype=np.float32)
    total = None
    for column, weight in enumerate(weights):
        if weight:
            part = vectorizer.transform([t[column] for t in texts]) * np.float32(weight)
            total = part if total is None else total + part
    return sp.csr_matrix(total if total is not None else (len(texts), _FEATURES), dtype=np.float32)


_WORDS = re.compile(_TOKENS)
_ASCII_WORDS = re.compile(r"\b[a-z]{3,}\b")  # the same words in ASCII text, found faster


def words(text: str) -> list[str]:
    """The words relatedness counts: what scikit-learn's analyzer gives for `token_pattern=_TOKENS,
    stop_words="english"` (lower case, letters only, three or more, stop words dropped)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    text = text.lower()
    found = (_ASCII_WORDS if text.isascii() else _WORDS).findall(text)
    return [w for w in found if w not in ENGLISH_STOP_WORDS]


_TEXTS: list = []  # what `counts`' forked workers read (inherited, never pickled)


def _count_range(bounds: tuple[int, int], weights: tuple[float, ...]) -> sp.csr_matrix:
    return _count_chunk(_TEXTS[bounds[0] : bounds[1]], weights)


def counts(questions: list[Question], config: RelatedConfig, workers: int = 1) -> sp.csr_matrix:
    """Field-weighted term counts (hashed words), one row per question, on every core."""
    global _TEXTS
    weights = (config.title_weight, config.keywords_weight, config.description_weight, config.answer_weight)
    texts = [q.texts for q in questions]
    if workers < 2 or len(texts) < 20_000:
        return _count_chunk(texts, weights)
    size = -(-len(texts) // (workers * 4))
    bounds = [(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
    _TEXTS = texts
    import sklearn.feature_extraction.text  # noqa: F401 - imported once, before the workers fork
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent) as pool:
            parts = list(pool.map(_count_range, bounds, [weights] * len(bounds)))
    finally:
        _TEXTS = []
    return sp.vstack(parts, format="csr")


def idf_weights(matrix: sp.csr_matrix, config: RelatedConfig) -> np.ndarray:
    """Inverse document frequency; 0 for words in one question only or in too many."""
    n = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    limit = max(int(config.max_df * n), 50)  # small collections keep every shared word
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
    idf[(df < 2) | (df > limit)] = 0
    return idf


def vectors(matrix: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sub-linear tf times idf, rows of unit length."""
    from sklearn.preprocessing import normalize

    out = matrix.copy()
    out.data = np.log1p(out.data) * idf[out.indices]
    out.eliminate_zeros()
    return normalize(out, copy=False)


# ------------------------------------------------------------------ choosing links


@dataclass
class Links:
    """The links chosen for some rows: `targets[i]` are row numbers, best first."""

    rows: np.ndarray
    targets: list[np.ndarray]
    kth: np.ndarray  # the lowest chosen score (0 when fewer than `count` were found)


_SHARED: tuple = ()  # what `choose`'s forked workers read (inherited, never pickled)
_BLOCK = 2048


def choose(rows: np.ndarray, x: sp.csr_matrix, xt: sp.csr_matrix, qids: np.ndarray, subjects: np.ndarray,
           titles: np.ndarray, config: RelatedConfig, progress: Progress | None = None, workers: int = 1) -> Links:
    """The best `config.count` targets for each of `rows`, block by block (on `workers`
    forked processes when there are many rows; the result does not depend on it)."""
    global _SHARED
    if workers < 2 or len(rows) < 8 * _BLOCK:
        return _choose(rows, x, xt, qids, subjects, titles, config, progress)
    _SHARED = (rows, x, xt, qids, subjects, titles, config)
    starts = list(range(0, len(rows), _BLOCK))
    parts: list[Links] = []
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent) as pool:
            for part in pool.map(_choose_block, starts):
                parts.append(part)
                if progress:
                    progress(min(len(parts) * _BLOCK, len(rows)), len(rows))
    finally:
        _SHARED = ()
    return Links(rows, [t for part in parts for t in part.targets], np.concatenate([part.kth for part in parts]))


def _choose_block(start: int) -> Links:
    rows, *rest = _SHARED
    return _choose(rows[start : start + _BLOCK], *rest)


def _choose(rows: np.ndarray, x: sp.csr_matrix, xt: sp.csr_matrix, qids: np.ndarray, subjects: np.ndarray,
            titles: np.ndarray, config: RelatedConfig, progress: Progress | None = None) -> Links:
    out: list[np.ndarray] = []
    kth = np.zeros(len(rows), dtype=np.float64)
    boost = 1.0 + config.same_subject_boost
    block = _BLOCK
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        scores = (x[chunk] @ xt).tocsr()
        for i, row in enumerate(chunk):
            lo, hi = scores.indptr[i], scores.indptr[i + 1]
            cols = scores.indices[lo:hi]
            vals = scores.data[lo:hi].astype(np.float64)
            vals = np.where(subjects[cols] == subjects[row], vals * boost, vals)
            ok = (cols != row) & (qids[cols] != qids[row]) & (titles[cols] != titles[row]) & (vals >= config.min_score)
            cols, vals = cols[ok], np.round(vals[ok], 9)
            order = np.lexsort((qids[cols], -vals))
            cols, vals = cols[order], vals[order]
            if len(cols) > 1:
                _, first = np.unique(qids[cols], return_index=True)  # one link per id,
                keep = np.sort(first)
                _, first = np.unique(titles[cols[keep]], return_index=True)  # and per title
                keep = keep[np.sort(first)][: config.count]
                cols, vals = cols[keep], vals[keep]
            out.append(cols)
            kth[start + i] = vals[-1] if len(cols) >= config.count else 0.0
        if progress:
            progress(min(start + block, len(rows)), len(rows))
    return Links(rows, out, kth)


# ------------------------------------------------------------------ state


@dataclass
class State:
    """Everything relink keeps between runs (`.qtkit/related.npz`)."""

    config: str
    paths: list[str]
    stats: np.ndarray  # (size, mtime) per row, as the index saw the file
    qids: np.ndarray
    signatures: np.ndarray
    counts: sp.csr_matrix
    idf: np.ndarray
    links: np.ndarray  # row numbers, -1 padded, shape (rows, count)
    kth: np.ndarray
    subjects: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def save(self, path: os.PathLike) -> None:
        tmp = f"{path}.tmp.npz"
        np.savez(tmp, meta=np.frombuffer(orjson.dumps({"config": self.config, "paths": self.paths,
                                                        "subjects": self.subjects, "titles": self.titles}), np.uint8),
                 stats=self.stats, qids=self.qids, signatures=self.signatures, data=self.counts.data,
                 indices=self.counts.indices, indptr=self.counts.indptr, idf=self.idf, links=self.links, kth=self.kth)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: os.PathLike) -> State | None:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = orjson.loads(z["meta"].tobytes())
                n = len(meta["paths"])
                matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=(n, _FEATURES))
                return cls(meta["config"], meta["paths"], z["stats"], z["qids"], z["signatures"], matrix, z["idf"],
                           z["links"], z["kth"], meta["subjects"], meta["titles"])
        except (OSError, ValueError, KeyError, orjson.JSONDecodeError):
            return None


_SPACE = re.compile(r"\s+")


def title_key(title: str) -> str:
    return _SPACE.sub(" ", title).strip().casefold()


def encode_labels(values: Iterable[str]) -> np.ndarray:
    """Small ints standing for strings (equal strings, equal ints)."""
    table: dict[str, int] = {}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)
