"""Related links: which pages each page should link to, and the one definition of a correct link.

A PAGE is one file (its key is its path, its address its `url`); an `id` names a
question, which may be cross-listed as several pages. Relatedness is lexical: every page
becomes a vector of its words in two namespaces,

- *head*: the title (weight `title_weight`) and `seo.page_keywords` (`keywords_weight`),
  the words that say what the page is about;
- *body*: the same plus `seo.page_description` and the first `answer_chars` of the answer.

Each word weighs `log(1 + count) * idf`, with the BM25 inverse document frequency
`log(1 + (N - df + 0.5) / (df + 0.5))` counted per namespace (a word is rare among
titles long before it is rare among answers, so topic words keep their weight in the
head namespace). A word found on one page only, or on more than `head_max_df` titles /
`body_max_df` bodies (absolute counts, so the cost of a page's candidates does not grow
with the collection) carries no weight. Vectors have unit length; the score of a pair is
their cosine, times `1 + same_subject_boost` in the same subject.

`pick` is the single function choosing one page's links from its scored candidates; the
full and the incremental run both call it through `choose`. `link_error` /
`links_errors` are the single definition of a correct link (relink checks every list
with them before writing).
"""

from __future__ import annotations

import json
import multiprocessing
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import scipy.sparse as sp

from .errors import ConfigError
from .procs import die_with_parent

_TOKENS = r"(?u)\b[^\W\d_]{3,}\b"
_FEATURES = 2**20  # hashed words per namespace; head columns come first, body columns after
_ENGINE = 3  # raised when the same settings would choose other links (the next relink scores all)
LINK_KEYS = ("id", "title", "subject", "url")

# (phase, done, total): phases are "read", "vectorize", "score", "compare", "write", "save"
PhaseProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RelatedConfig:
    """How relatedness is scored (`[related]` in qtkit.toml; `count` is `related_count`).

    `min_score` is the floor below which a slot stays empty; `near_duplicate` the cosine
    at or above which a candidate counts as a rewording of a link already chosen (and is
    skipped); `head_max_df` / `body_max_df` the document counts above which a word of
    that namespace carries no weight."""

    count: int = 5
    title_weight: float = 3.0
    keywords_weight: float = 2.0
    description_weight: float = 1.0
    answer_weight: float = 1.0
    answer_chars: int = 1500
    same_subject_boost: float = 0.25
    min_score: float = 0.12
    near_duplicate: float = 0.6
    head_max_df: int = 1000
    body_max_df: int = 300

    @classmethod
    def from_config(cls, config: Any) -> RelatedConfig:
        """The `[related]` table of a loaded `Config`; ConfigError on unknown keys or bad values."""
        table = dict(config.extra.get("related", {}) or {})
        known = {f.name for f in fields(cls)}
        for key, value in table.items():
            if key not in known or key == "count":
                raise ConfigError(f"[related] has no setting {key!r} (known: {', '.join(sorted(known - {'count'}))})")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"[related] {key} must be a number >= 0")
        for key in ("answer_chars", "head_max_df", "body_max_df"):
            if key in table:
                table[key] = int(table[key])
        return cls(count=config.related_count, **table)

    def signature(self) -> str:
        return json.dumps({**asdict(self), "engine": _ENGINE}, sort_keys=True)


@dataclass
class Page:
    """What relatedness reads from one page, and what a link to it shows (raw front-matter
    values; a field that is missing or not a string is "")."""

    qid: int
    title: str
    subject: str
    url: str
    texts: tuple[str, str, str, str]  # title/question, keywords, description, answer


def page_from(data: dict, config: RelatedConfig) -> Page | None:
    """The page of a file's front matter; None when its id is not an integer."""
    qid = data.get("id")
    if not isinstance(qid, int) or isinstance(qid, bool):
        return None
    seo = data.get("seo") if isinstance(data.get("seo"), dict) else {}
    title = _text(data.get("title"))
    question = _text(data.get("question"))
    head = title or question if question in ("", title) else f"{title} {question}"
    return Page(qid, title, _text(data.get("subject")), _text(data.get("url")),
                (head, _text(seo.get("page_keywords")), _text(seo.get("page_description")),
                 _text(data.get("answer"))[: config.answer_chars].replace("\\n\\n", "  ")))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def signature(p: Page) -> int:
    """A 63-bit hash of everything about a page that relatedness reads or a link shows."""
    import hashlib

    digest = hashlib.blake2b("\x00".join((str(p.qid), *p.texts, p.title, p.subject, p.url)).encode("utf-8", "replace"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def linkable(p: Page) -> bool:
    """A page can be linked to: its id, title, subject and url are all non-empty."""
    return bool(p.title.strip() and p.subject.strip() and p.url.strip())


# ------------------------------------------------------------------ words and vectors

_WORDS = re.compile(_TOKENS)
_ASCII_WORDS = re.compile(r"\b[a-z]{3,}\b")  # the same words in ASCII text, found faster


def words(text: str) -> list[str]:
    """The words relatedness counts: what scikit-learn's analyzer gives for `token_pattern=_TOKENS,
    stop_words="english"` (lower case, letters only, three or more, stop words dropped)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    text = text.lower()
    found = (_ASCII_WORDS if text.isascii() else _WORDS).findall(text)
    return [w for w in found if w not in ENGLISH_STOP_WORDS]


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=_FEATURES, alternate_sign=False, norm=None, analyzer=words, dtype=np.float32)


def columns(word_list: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(head column, body column) of each word."""
    from sklearn.feature_extraction.text import HashingVectorizer

    one = HashingVectorizer(n_features=_FEATURES, alternate_sign=False, norm=None, analyzer=lambda w: [w])
    cols = one.transform(word_list).tocsr().indices if word_list else np.zeros(0, dtype=np.int64)
    return cols.astype(np.int64), cols.astype(np.int64) + _FEATURES


def _count_chunk(texts: list[tuple[str, str, str, str]], config: RelatedConfig) -> sp.csr_matrix:
    vectorizer = _vectorizer()
    n = len(texts)
    parts = [vectorizer.transform([t[c] for t in texts]) if n else sp.csr_matrix((0, _FEATURES)) for c in range(4)]
    w = (config.title_weight, config.keywords_weight, config.description_weight, config.answer_weight)
    head = parts[0] * np.float32(w[0]) + parts[1] * np.float32(w[1])
    body = head + parts[2] * np.float32(w[2]) + parts[3] * np.float32(w[3])
    out = sp.hstack([head, body], format="csr", dtype=np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return out


_TEXTS: list = []  # what `counts`' forked workers read (inherited, never pickled)


def _count_range(bounds: tuple[int, int], config: RelatedConfig) -> sp.csr_matrix:
    return _count_chunk(_TEXTS[bounds[0] : bounds[1]], config)


def counts(pages: list[Page], config: RelatedConfig, workers: int = 1) -> sp.csr_matrix:
    """Field-weighted word counts, one row per page, 2 * 2^20 hashed columns (head, body)."""
    global _TEXTS
    texts = [p.texts for p in pages]
    if workers < 2 or len(texts) < 20_000:
        return _count_chunk(texts, config)
    size = -(-len(texts) // (workers * 4))
    bounds = [(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
    _TEXTS = texts
    import sklearn.feature_extraction.text  # noqa: F401 - imported once, before the workers fork
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent) as pool:
            parts = list(pool.map(_count_range, bounds, [config] * len(bounds)))
    finally:
        _TEXTS = []
    return sp.vstack(parts, format="csr")


def document_frequencies(matrix: sp.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
    """How many of the rows (default: all) have each column."""
    m = matrix if rows is None else matrix[rows]
    return np.bincount(m.indices, minlength=matrix.shape[1])


def term_weights(matrix: sp.csr_matrix, config: RelatedConfig, rows: np.ndarray | None = None) -> np.ndarray:
    """BM25 idf per column, counted per namespace; 0 for a word on one page only or on
    more than `head_max_df` / `body_max_df` pages. Float32, 2 * 2^20 values."""
    n = matrix.shape[0] if rows is None else len(rows)
    df = document_frequencies(matrix, rows).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    cap = np.concatenate([np.full(_FEATURES, config.head_max_df), np.full(_FEATURES, config.body_max_df)])
    idf[(df < 2) | (df > cap)] = 0
    return idf


def vectors(matrix: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sub-linear tf times idf, rows of unit length, indices sorted (row by row, so a page's
    vector does not depend on the other rows)."""
    from sklearn.preprocessing import normalize

    out = matrix.copy()
    out.data = (np.log1p(out.data) * idf[out.indices]).astype(np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return normalize(out, copy=False)


# ------------------------------------------------------------------ choosing links


@dataclass
class Pages:
    """What `pick` needs about every row: ids, encoded subjects and titles, whether a page
    may be linked to, and the tie-break rank (by id, then path)."""

    qids: np.ndarray
    subjects: np.ndarray
    titles: np.ndarray
    linkable: np.ndarray
    rank: np.ndarray


@dataclass
class Choice:
    """The links chosen for one row: target rows, best first, and their scores."""

    targets: np.ndarray
    scores: np.ndarray

    @property
    def kth(self) -> float:
        return float(self.scores[-1]) if len(self.scores) else 0.0


_MORE = 16  # candidates compared for near-duplicates at a time


def pick(row: int, cols: np.ndarray, vals: np.ndarray, x: sp.csr_matrix, pages: Pages,
         config: RelatedConfig) -> Choice:
    """THE choice of one page's links from its candidates (`cols`, raw cosine `vals`).

    Boost same-subject scores, round to 9 decimals, drop the page itself, its copies (same
    id), pages with its title, pages that cannot be linked and scores under `min_score`;
    then walk the rest best first (ties: lower rank) and take a candidate unless its id or
    title is already taken or it is a near-duplicate (cosine >= `near_duplicate`) of a
    link already taken, until `count` are taken."""
    vals = np.asarray(vals, dtype=np.float64)
    vals = np.round(np.where(pages.subjects[cols] == pages.subjects[row], vals * (1.0 + config.same_subject_boost),
                             vals), 9)
    ok = ((cols != row) & (pages.qids[cols] != pages.qids[row]) & (pages.titles[cols] != pages.titles[row])
          & pages.linkable[cols] & (vals >= config.min_score))
    cols, vals = cols[ok], vals[ok]
    order = np.lexsort((pages.rank[cols], -vals))
    cols, vals = cols[order], vals[order]
    taken: list[int] = []
    scores: list[float] = []
    ids: set[int] = set()
    titles: set[int] = set()
    at = 0
    while at < len(cols) and len(taken) < config.count:
        batch = [int(c) for c in cols[at : at + _MORE]]
        batch_vals = vals[at : at + _MORE]
        at += _MORE
        sims = None
        if config.near_duplicate < 1 and (taken or len(batch) > 1):
            group = taken + batch
            sims = _gram(x, group)
        for j, (c, v) in enumerate(zip(batch, batch_vals)):
            qid, title = int(pages.qids[c]), int(pages.titles[c])
            if qid in ids or title in titles:
                continue
            if sims is not None:
                me = len(group) - len(batch) + j
                chosen_at = [group.index(t) for t in taken]
                if chosen_at and sims[me, chosen_at].max() >= config.near_duplicate:
                    continue
            taken.append(c)
            scores.append(float(v))
            ids.add(qid)
            titles.add(title)
            if len(taken) == config.count:
                break
    return Choice(np.array(taken, dtype=np.int64), np.array(scores, dtype=np.float64))


def _gram(x: sp.csr_matrix, rows: list[int]) -> np.ndarray:
    """The cosines between `rows` (a small dense matrix, rounded to 9 decimals)."""
    starts, ends = x.indptr[rows], x.indptr[np.asarray(rows) + 1]
    take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if rows else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(rows)), ends - starts)
    cols, at = np.unique(x.indices[take], return_inverse=True)
    dense = np.zeros((len(rows), len(cols)), dtype=np.float64)
    dense[owner, at] = x.data[take]
    return np.round(dense @ dense.T, 9)


_SHARED: tuple = ()  # what `choose`'s forked workers read (inherited, never pickled)
_BLOCK = 1024


def choose(rows: np.ndarray, x: sp.csr_matrix, xt: sp.csr_matrix, pages: Pages, config: RelatedConfig,
           progress: Callable[[int, int], None] | None = None, workers: int = 1) -> list[Choice]:
    """`pick` for each of `rows` (candidates: every row sharing a weighted word), block by
    block, on `workers` forked processes when there are many rows (the result does not
    depend on it). One Choice per row, in order."""
    global _SHARED
    rows = np.asarray(rows, dtype=np.int64)
    if workers < 2 or len(rows) < 8 * _BLOCK:
        return _choose(rows, x, xt, pages, config, progress)
    _SHARED = (rows, x, xt, pages, config)
    starts = list(range(0, len(rows), _BLOCK))
    out: list[Choice] = []
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=die_with_parent) as pool:
            for part in pool.map(_choose_block, starts):
                out.extend(part)
                if progress:
                    progress(len(out), len(rows))
    finally:
        _SHARED = ()
    return out


def _choose_block(start: int) -> list[Choice]:
    rows, *rest = _SHARED
    return _choose(rows[start : start + _BLOCK], *rest)


def _choose(rows: np.ndarray, x: sp.csr_matrix, xt: sp.csr_matrix, pages: Pages, config: RelatedConfig,
            progress: Callable[[int, int], None] | None = None) -> list[Choice]:
    out: list[Choice] = []
    for start in range(0, len(rows), _BLOCK):
        chunk = rows[start : start + _BLOCK]
        scores = (x[chunk] @ xt).tocsr()
        for i, row in enumerate(chunk):
            lo, hi = scores.indptr[i], scores.indptr[i + 1]
            out.append(pick(int(row), scores.indices[lo:hi].astype(np.int64), scores.data[lo:hi], x, pages, config))
        if progress:
            progress(min(start + _BLOCK, len(rows)), len(rows))
    return out


def reached(changed: np.ndarray, x: sp.csr_matrix, xt: sp.csr_matrix, pages: Pages, kth: np.ndarray,
            config: RelatedConfig) -> np.ndarray:
    """Rows for which one of the `changed` rows now scores at least their weakest link (or
    the floor, when their list is not full): the rows whose choice a changed page could
    enter. Similarity is symmetric, so one product finds them all."""
    if not len(changed):
        return np.zeros(0, dtype=np.int64)
    scores = (x[changed] @ xt).tocsr()
    found: list[np.ndarray] = []
    boost = 1.0 + config.same_subject_boost
    for i, c in enumerate(changed):
        lo, hi = scores.indptr[i], scores.indptr[i + 1]
        cols = scores.indices[lo:hi].astype(np.int64)
        vals = scores.data[lo:hi].astype(np.float64)
        vals = np.where(pages.subjects[cols] == pages.subjects[c], vals * boost, vals)
        floor = np.maximum(kth[cols], config.min_score) - 1e-6  # a margin for rounding: more rows, never fewer
        found.append(cols[vals >= floor])
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------ explaining


def explain_pair(a: Page, b: Page, idf: np.ndarray, config: RelatedConfig, top: int = 8) -> list[tuple[str, float]]:
    """The shared words that make `b` related to `a`, with their share of the cosine
    (before the subject boost), largest first."""
    ma, mb = counts([a], config), counts([b], config)
    va, vb = vectors(ma, idf), vectors(mb, idf)
    contrib = va.multiply(vb).tocsr()
    by_col = dict(zip(contrib.indices.tolist(), contrib.data.tolist()))
    vocabulary = sorted(set(words(" ".join(a.texts))) & set(words(" ".join(b.texts))))
    head, body = columns(vocabulary)
    found = []
    for w, h, bcol in zip(vocabulary, head, body):
        share = by_col.get(int(h), 0.0) + by_col.get(int(bcol), 0.0)
        if share > 0:
            found.append((w, round(share, 4)))
    found.sort(key=lambda item: (-item[1], item[0]))
    return found[:top]


# ------------------------------------------------------------------ the definition of a correct link


def link_error(page: dict, link: Any, target: dict | None) -> str | None:
    """Why one related block of `page` (its front matter) is not a correct link, or None.

    `target` is the front matter of the page the link's url names (None if no page has
    that url). Correct: a mapping whose id, title, subject and url are non-empty, whose url
    names a page, whose four fields equal that page's, and which links neither to the page
    itself (same url) nor to a copy of its question (same id)."""
    if not isinstance(link, dict):
        return "is not a mapping"
    for key in LINK_KEYS:
        value = link.get(key)
        if value is None or value == "" or (isinstance(value, str) and not value.strip()) or isinstance(value, bool):
            return f"has no {key}"
    if target is None:
        return f"url {link['url']!r} names no page"
    if link["url"] == page.get("url"):
        return "links to the page itself"
    if link["id"] == page.get("id"):
        return f"links to a copy of the page's own question (id {link['id']})"
    for key in LINK_KEYS:
        if link.get(key) != target.get(key) or type(link.get(key)) is not type(target.get(key)):
            return f"{key} is {link.get(key)!r}, its target has {target.get(key)!r}"
    return None


def links_errors(page: dict, links: list, resolve: Callable[[str], dict | None]) -> list[tuple[int, str]]:
    """(N, reason) for every wrong link of a page's list `links` (related_article1..):
    `link_error` for each, plus a question (id) or title linked twice. `resolve(url)`
    gives the front matter of the page at a url, or None."""
    out: list[tuple[int, str]] = []
    ids: set = set()
    titles: set = set()
    for n, link in enumerate(links, 1):
        url = link.get("url") if isinstance(link, dict) else None
        problem = link_error(page, link, resolve(url) if isinstance(url, str) and url else None)
        if problem is None:
            if link["id"] in ids:
                problem = f"repeats question {link['id']}"
            elif title_key(link["title"]) in titles:
                problem = f"repeats the title {link['title']!r}"
        if problem is not None:
            out.append((n, problem))
        elif isinstance(link, dict):
            ids.add(link["id"])
            titles.add(title_key(link["title"]))
    return out


_SPACE = re.compile(r"\s+")


def title_key(title: str) -> str:
    """A title compared as relink compares titles: spaces collapsed, case folded."""
    return _SPACE.sub(" ", title).strip().casefold()


def encode_labels(values: Iterable[str]) -> np.ndarray:
    """Small ints standing for strings (equal strings, equal ints)."""
    table: dict[str, int] = {}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)
