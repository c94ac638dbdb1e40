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
full and the incremental run both call it through `choose`. `links_errors` applies
`qtkit.links.problems`, the single definition of a correct link (relink checks every list
with them before writing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .related_config import FEATURES, RelatedConfig
from .links import PageRef, problems
from . import pools

_TOKENS = r"(?u)\b[^\W\d_]{3,}\b"
LINK_KEYS = ("id", "title", "subject", "url")

# (phase, done, total): phases are "read", "vectorize", "score", "compare", "write", "save"


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

    return HashingVectorizer(n_features=FEATURES, alternate_sign=False, norm=None, analyzer=words, dtype=np.float32)


def columns(word_list: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(head column, body column) of each word."""
    from sklearn.feature_extraction.text import HashingVectorizer

    one = HashingVectorizer(n_features=FEATURES, alternate_sign=False, norm=None, analyzer=lambda w: [w])
    cols = one.transform(word_list).tocsr().indices if word_list else np.zeros(0, dtype=np.int64)
    return cols.astype(np.int64), cols.astype(np.int64) + FEATURES


def _count_chunk(texts: list[tuple[str, str, str, str]], config: RelatedConfig) -> sp.csr_matrix:
    vectorizer = _vectorizer()
    n = len(texts)
    parts = [vectorizer.transform([t[c] for t in texts]) if n else sp.csr_matrix((0, FEATURES)) for c in range(4)]
    w = (config.title_weight, config.keywords_weight, config.description_weight, config.answer_weight)
    head = parts[0] * np.float32(w[0]) + parts[1] * np.float32(w[1])
    body = head + parts[2] * np.float32(w[2]) + parts[3] * np.float32(w[3])
    out = sp.hstack([head, body], format="csr", dtype=np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return out


def _count_range(bounds: tuple[int, int]) -> sp.csr_matrix:
    texts, config = pools.shared()  # inherited from the parent, never pickled
    return _count_chunk(texts[bounds[0] : bounds[1]], config)


def counts(pages: list[Page], config: RelatedConfig, workers: int = 1) -> sp.csr_matrix:
    """Field-weighted word counts, one row per page, 2 * 2^20 hashed columns (head, body)."""
    texts = [p.texts for p in pages]
    if workers < 2 or len(texts) < 20_000:
        return _count_chunk(texts, config)
    size = -(-len(texts) // (workers * 4))
    bounds = [(i, min(i + size, len(texts))) for i in range(0, len(texts), size)]
    import sklearn.feature_extraction.text  # noqa: F401 - imported once, before the workers fork
    parts = list(pools.process_map(_count_range, bounds, workers=workers, shared=(texts, config)))
    return sp.vstack(parts, format="csr")


def document_frequencies(matrix: sp.csr_matrix, rows: np.ndarray | None = None) -> np.ndarray:
    """How many of the rows (default: all) have each column."""
    m = matrix if rows is None else matrix[rows]
    return np.bincount(m.indices, minlength=matrix.shape[1])


def term_weights(matrix: sp.csr_matrix, config: RelatedConfig, rows: np.ndarray | None = None) -> np.ndarray:
    """BM25 idf per column, counted per namespace (float32, 2 * 2^20 values); 0 for a word
    on one page only. A word on more than `head_max_df` titles / `body_max_df` bodies
    keeps its weight in the score but does not make pages candidates of each other: its
    idf is stored negated."""
    n = matrix.shape[0] if rows is None else len(rows)
    df = document_frequencies(matrix, rows).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    cap = np.concatenate([np.full(FEATURES, config.head_max_df), np.full(FEATURES, config.body_max_df)])
    idf[df < 2] = 0
    idf[df > cap] *= -1
    return idf


def vectors(matrix: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sub-linear tf times |idf|, rows of unit length, indices sorted (row by row, so a
    page's vector does not depend on the other rows)."""
    from sklearn.preprocessing import normalize

    out = matrix.copy()
    out.data = (np.log1p(out.data) * np.abs(idf)[out.indices]).astype(np.float32)
    out.eliminate_zeros()
    out.sort_indices()
    return normalize(out, copy=False) if out.shape[0] else out


def _split(x: sp.csr_matrix, idf: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """x's candidate words (same columns), and its common words (columns numbered compactly).

    Candidate words are few (absolute caps: ~4% of the stored values at 200,000 pages), so
    their positions are listed and each row's start found among them by bisection, not
    by a running count over every stored value."""
    common = idf < 0
    at = common[x.indices]  # whether each stored value is a common word
    rare = np.flatnonzero(~at)
    indptr_c = np.searchsorted(rare, x.indptr)  # candidate words before each row's first value
    xc = sp.csr_matrix((x.data[rare], x.indices[rare], indptr_c), shape=x.shape)
    compact = np.cumsum(common, dtype=np.int32) - 1
    width = max(int(common.sum()), 1)
    xf = sp.csr_matrix((x.data[at], compact[x.indices[at]], x.indptr - indptr_c), shape=(x.shape[0], width))
    return xc, xf


@dataclass
class Space:
    """A run's vectors: `x` whole (unit rows), `xc` only the candidate words, `xct` its
    transpose (CSR), `xf` only the common words (columns numbered compactly)."""

    x: sp.csr_matrix
    xc: sp.csr_matrix
    xct: sp.csr_matrix
    xf: sp.csr_matrix

    @classmethod
    def of(cls, x: sp.csr_matrix, idf: np.ndarray) -> Space:
        """The space of `x`: the rows' `vectors` under the weights `idf`."""
        xc, xf = _split(x, idf)
        return cls(x, xc, xc.T.tocsr(), xf)

    def candidates(self, x: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        """The candidate-word vectors of other rows (`vectors`, e.g. old versions of pages), as in `xc`."""
        return _split(x, idf)[0]


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
    """The links chosen for one row (target rows, best first, their scores), and `reach`:
    the lowest candidate-word score among the row's `candidates` best (0 when it has
    fewer), below which another page cannot enter its choice."""

    targets: np.ndarray
    scores: np.ndarray
    reach: float = 0.0


_FIRST = 8  # the candidates whose near-duplicate cosines are computed for a block at once


def order(row: int, cols: np.ndarray, vals: np.ndarray, pages: Pages, config: RelatedConfig
          ) -> tuple[np.ndarray, np.ndarray]:
    """A row's candidates that may be linked, best first, with their scores: same-subject
    scores boosted, rounded to 9 decimals; the page itself, its copies (same id), pages
    with its title, pages that cannot be linked and scores under `min_score` dropped;
    ties go to the lower rank."""
    vals = np.asarray(vals, dtype=np.float64)
    vals = np.round(np.where(pages.subjects[cols] == pages.subjects[row], vals * (1.0 + config.same_subject_boost),
                             vals), 9)
    ok = ((cols != row) & (pages.qids[cols] != pages.qids[row]) & (pages.titles[cols] != pages.titles[row])
          & pages.linkable[cols] & (vals >= config.min_score))
    cols, vals = cols[ok], vals[ok]
    at = np.lexsort((pages.rank[cols], -vals))
    return cols[at], vals[at]


def pick(row: int, cols: np.ndarray, vals: np.ndarray, x: sp.csr_matrix, pages: Pages,
         config: RelatedConfig, sims: np.ndarray | None = None) -> Choice:
    """THE choice of one page's links from its candidates (`cols`, cosine `vals`).

    `order` them, then walk them best first and take a candidate unless its id or title
    is already taken or it is a near-duplicate (cosine >= `near_duplicate`) of a link
    already taken, until `count` are taken. `sims` may hold the cosines between the first
    `_FIRST` ordered candidates (as `_prefix_grams` computes them); the rest are computed
    here when needed."""
    return walk(*order(row, cols, vals, pages, config), x, pages, config, sims)


def walk(cols: np.ndarray, vals: np.ndarray, x: sp.csr_matrix, pages: Pages, config: RelatedConfig,
         sims: np.ndarray | None = None) -> Choice:
    """`pick`'s walk over candidates already in `order`."""
    taken: list[int] = []  # positions in cols
    ids: set[int] = set()
    titles: set[int] = set()
    near = config.near_duplicate
    gram = sims
    for at in range(len(cols)):
        c = int(cols[at])
        qid, title = int(pages.qids[c]), int(pages.titles[c])
        if qid in ids or title in titles:
            continue
        if taken and near < 1:
            if gram is None or at >= len(gram):
                gram = _gram(x, cols[: min(len(cols), at + _FIRST)].tolist())
            if max(gram[at, t] for t in taken) >= near:
                continue
        taken.append(at)
        ids.add(qid)
        titles.add(title)
        if len(taken) == config.count:
            break
    return Choice(cols[taken].astype(np.int64), vals[taken].astype(np.float64))


def _prefix_grams(x: sp.csr_matrix, groups: list[np.ndarray]) -> list[np.ndarray]:
    """`_gram` of each group (up to `_FIRST` rows each), computed for all groups at once."""
    size = _FIRST
    lens = np.array([len(g) for g in groups], dtype=np.int64)
    if not len(groups) or not lens.sum():
        return [np.zeros((n, n)) for n in lens]
    flat = np.concatenate(groups).astype(np.int64)
    gid = np.repeat(np.arange(len(groups)), lens)
    slot = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
    own, offsets = _gather(x, flat)
    key = (gid[own] << 25) | (x.indices[offsets].astype(np.int64) << 3) | slot[own]
    at = np.argsort(key, kind="stable")
    key, values = key[at], x.data[offsets][at].astype(np.float64)
    g, s = key >> 25, key & 7
    pair_col = key >> 3
    total = np.zeros(len(groups) * size * size)
    for d in range(1, size):
        same = np.nonzero(pair_col[:-d] == pair_col[d:])[0]
        if not len(same):
            continue
        where = g[same] * size * size + s[same] * size + s[same + d]
        total += np.bincount(where, weights=values[same] * values[same + d], minlength=len(total))
    total = np.round(total.reshape(len(groups), size, size), 9)
    total = total + np.transpose(total, (0, 2, 1))
    return [total[i, :n, :n] for i, n in enumerate(lens)]


def _gather(m: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which of `rows`, position in m.data) of every stored value of those rows, in order."""
    starts = m.indptr[rows]
    lens = m.indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lens)
    offsets = np.arange(int(lens.sum())) + np.repeat(starts - np.cumsum(lens) + lens, lens)
    return owner, offsets


def _gram(x: sp.csr_matrix, rows: list[int]) -> np.ndarray:
    """The cosines between `rows` (a small dense matrix, rounded to 9 decimals)."""
    owner, offsets = _gather(x, np.asarray(rows, dtype=np.int64))
    cols, at = np.unique(x.indices[offsets], return_inverse=True)
    dense = np.zeros((len(rows), len(cols)), dtype=np.float64)
    dense[owner, at] = x.data[offsets]
    return np.round(dense @ dense.T, 9)


def _top(cols: np.ndarray, vals: np.ndarray, m: int, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The `m` best candidates by value (ties: lower rank) and the m-th value (0 if fewer)."""
    if len(cols) <= m:
        return cols, vals, 0.0
    cut = np.partition(vals, len(vals) - m)[len(vals) - m]
    above = np.nonzero(vals > cut)[0]
    tied = np.nonzero(vals == cut)[0]
    tied = tied[np.argsort(rank[cols[tied]], kind="stable")][: m - len(above)]
    keep = np.sort(np.concatenate([above, tied]))
    return cols[keep], vals[keep], float(cut)


_BLOCK = 1024


def choose(rows: np.ndarray, space: Space, pages: Pages, config: RelatedConfig,
           progress: Callable[[int, int], None] | None = None, workers: int = 1) -> list[Choice]:
    """`pick` for each of `rows`, block by block, on `workers` forked processes when there
    are many rows (the result does not depend on it). Candidates: the `candidates` rows
    with the best score on candidate words; each scored on all its words. One Choice per
    row, in order."""
    from threadpoolctl import threadpool_limits

    rows = np.asarray(rows, dtype=np.int64)
    if workers < 2 or len(rows) < 2 * _BLOCK:
        with threadpool_limits(1):  # tiny matrix products: BLAS threads only get in each other's way
            return _choose(rows, space, pages, config, progress)
    starts = list(range(0, len(rows), _BLOCK))
    out: list[Choice] = []
    for part in pools.process_map(_choose_block, starts, workers=workers, shared=(rows, space, pages, config)):
        out.extend(part)
        if progress:
            progress(len(out), len(rows))
    return out


def _choose_block(start: int) -> list[Choice]:
    from threadpoolctl import threadpool_limits

    rows, *rest = pools.shared()  # inherited from the parent, never pickled
    with threadpool_limits(1):
        return _choose(rows[start : start + _BLOCK], *rest)


def _choose(rows: np.ndarray, space: Space, pages: Pages, config: RelatedConfig,
            progress: Callable[[int, int], None] | None = None) -> list[Choice]:
    out: list[Choice] = []
    step = 256  # rows at a time: their candidate products stay small (peak memory of each worker)
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        partial = (space.xc[chunk] @ space.xct).tocsr()
        found = []
        for i, row in enumerate(chunk.tolist()):
            lo, hi = partial.indptr[i], partial.indptr[i + 1]
            cols, vals = partial.indices[lo:hi].astype(np.int64), partial.data[lo:hi]
            mine = cols != row
            found.append(_top(cols[mine], vals[mine], config.candidates, pages.rank))
        owner = np.concatenate([np.full(len(f[0]), i) for i, f in enumerate(found)]) if found else np.zeros(0, int)
        targets = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64)
        common = _pair_dots(space.xf, chunk[owner], targets)
        at = 0
        ordered = []
        for row, (cols, vals, reach) in zip(chunk.tolist(), found):
            exact = vals.astype(np.float64) + common[at : at + len(cols)]
            at += len(cols)
            ordered.append((reach, *order(row, cols, exact, pages, config)))
        grams = _prefix_grams(space.x, [o[1][:_FIRST] for o in ordered]) if config.near_duplicate < 1 else None
        for i, (reach, cols, exact) in enumerate(ordered):
            choice = walk(cols, exact, space.x, pages, config, grams[i] if grams is not None else None)
            choice.reach = reach
            out.append(choice)
        if progress:
            progress(min(start + step, len(rows)), len(rows))
    return out


def _pair_dots(xf: sp.csr_matrix, rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """xf[rows[k]] . xf[targets[k]] for every k, in float64 (the common-word part of each score)."""
    if not len(targets):
        return np.zeros(0)
    a, b = xf[rows], xf[targets]
    a = sp.csr_matrix((a.data.astype(np.float64), a.indices, a.indptr), shape=a.shape)
    return np.asarray(a.multiply(b).sum(axis=1), dtype=np.float64).ravel()


def reached(rows: sp.csr_matrix, space: Space, reach: np.ndarray) -> np.ndarray:
    """Rows whose candidates one of `rows` (candidate-word vectors of changed pages, new or
    old versions) enters or leaves: those for which it scores at least their `reach`. The
    score is symmetric, so one product finds them all."""
    if not rows.shape[0]:
        return np.zeros(0, dtype=np.int64)
    scores = (rows @ space.xct).tocsr()
    cols = scores.indices.astype(np.int64)
    hit = scores.data.astype(np.float64) >= reach[cols] - 1e-6  # a margin for rounding: more rows, never fewer
    return np.unique(cols[hit])


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


def _ref(data: dict, fallback: Any) -> PageRef:  # a page is named by its url
    return PageRef(data.get("url") or fallback, data.get("id"), data.get("title"), data.get("subject"), data.get("url"))


class _ByUrl:
    """`links.problems`' resolver over a `resolve(url) -> front matter` function."""

    def __init__(self, resolve: Callable[[str], dict | None]) -> None:
        self.by_url = resolve

    def resolve(self, link: Any) -> PageRef | None:
        url = link.get("url") if isinstance(link, dict) else None
        target = self.by_url(url) if isinstance(url, str) and url else None
        return _ref(target, url) if target is not None else None


def links_errors(page: dict, links: list, resolve: Callable[[str], dict | None]) -> list[tuple[int, str]]:
    """(N, reason) for every wrong link of a page's list `links` (related_article1..):
    `qtkit.links.problems` (the one definition of a correct link, which `check` reports
    with), plus a link that leaves a field empty or repeats a title linked before (relink
    never writes two links with one title). `page` is the page's front matter;
    `resolve(url)` gives the front matter of the page at a url, or None."""
    data = {f"related_article{n}": link for n, link in enumerate(links, 1)}
    found = problems(_ref(page, object()), data, _ByUrl(resolve))
    out = {int(p.key[15:]): p.message[len(p.key):].lstrip(" .") for p in found}
    titles: set = set()
    for n, link in enumerate(links, 1):
        if n in out or not isinstance(link, dict):
            continue
        empty = [k for k in LINK_KEYS if link.get(k) in (None, "") or isinstance(link.get(k), bool)
                 or (isinstance(link.get(k), str) and not link[k].strip())]
        if empty:
            out[n] = f"has no {empty[0]}"
        elif title_key(link["title"]) in titles:
            out[n] = f"repeats the title {link['title']!r}"
        else:
            titles.add(title_key(link["title"]))
    return sorted(out.items())


def title_key(title: str) -> str:
    """A title compared as relink compares titles: spaces collapsed, case folded (`str.split`
    splits on what `\\s` matches; a third of the cost of a regular expression)."""
    return " ".join(title.split()).casefold()


def encode_labels(values: Iterable[str]) -> np.ndarray:
    """Small ints standing for strings (equal strings, equal ints)."""
    table: dict[str, int] = {}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64)
