"""A relink run's model: what changed since the saved state, the pages' vectors, and the
links chosen for every page a change could reach.

`build` reads the pages that are new or changed (all of them without a state), counts
their words, updates the state's rows and chooses links (`related.choose`) for the
affected rows: in a full run every page; otherwise the changed pages, the pages that
link to one, and the pages whose candidates a changed page enters or leaves
(`related.reached`). `relink` compares and writes from it; `explain` reads one page's
choice from it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import orjson
import scipy.sparse as sp

from .index import Collection
from .links import current_links, links_digest
from .related import (
    FEATURES,
    Page,
    Pages,
    RelatedConfig,
    Space,
    choose,
    counts,
    encode_labels,
    page_from,
    reached,
    signature,
    term_weights,
    title_key,
    vectors,
)
from . import pools
from .progress import PhaseProgress
from .relink_report import RelinkReport
from .relink_state import State, page_stats


@dataclass
class Model:
    """A run's view of the collection, slot by slot, with links chosen for `affected`."""

    state: State
    space: Space
    pages: Pages
    affected: np.ndarray
    compare: np.ndarray
    dirty: set
    loaded: dict
    full: bool


def _linkable(alive: np.ndarray, titles: list[str], subjects: list[str], urls: list[str]) -> np.ndarray:
    taken = Counter(u for u, a in zip(urls, alive) if a)
    return np.array([_can_link(a, t, s, u, taken) for a, t, s, u in zip(alive, titles, subjects, urls)], dtype=bool)


def _can_link(alive: bool, title: str, subject: str, url: str, taken: Counter) -> bool:
    """A page may be linked to: live, a title, a subject and a url no other live page has."""
    return bool(alive and title.strip() and subject.strip() and url.strip() and taken[url] == 1)


def _linkable_before(old: State, urls: list[str], now: np.ndarray, changed: set[int]) -> np.ndarray:
    """`_linkable` of the `old` state, from `now` (of this run's slots, whose `urls` are
    given): only a page that `changed` or shares a url (old or new) with one can differ,
    so only those are looked at again."""
    n0 = len(old.paths)
    before = now[:n0].copy()
    named = {old.urls[i] for i in changed if i < n0} | {urls[i] for i in changed}
    again = sorted({i for i, u in enumerate(old.urls) if u in named} | {i for i in changed if i < n0})
    if again:  # every page with one of their urls is among them: the counts are complete
        taken = Counter(old.urls[i] for i in again if old.alive[i])
        before[again] = [_can_link(old.alive[i], old.titles[i], old.subjects[i], old.urls[i], taken) for i in again]
    return before


def _pages(s: State, linkable: np.ndarray) -> Pages:
    n = len(s.paths)
    rank = np.empty(n, dtype=np.int64)
    rank[_by_id_then_path(s.qids, s.paths)] = np.arange(n)
    return Pages(s.qids, encode_labels(x.casefold() for x in s.subjects), encode_labels(title_key(t) for t in s.titles),
                 linkable, rank)


def _by_id_then_path(qids: np.ndarray, paths: list[str]) -> np.ndarray:
    """The slots ordered by id, then path (ties by slot): `np.lexsort((paths, qids))`
    without making an array of every path; only slots that share an id (cross-listed
    copies, a few) are sorted by path."""
    order = np.argsort(qids, kind="stable")
    ordered = qids[order]
    same = np.nonzero(ordered[1:] == ordered[:-1])[0]
    if len(same):
        starts = same[np.r_[True, same[1:] != same[:-1] + 1]]  # the first of each run of equal ids
        for lo in starts.tolist():
            hi = lo + 1
            while hi < len(order) and ordered[hi] == ordered[lo]:
                hi += 1
            order[lo:hi] = sorted(order[lo:hi].tolist(), key=paths.__getitem__)
    return order


def read_pages(coll: Collection, paths: list[str] | None, config: RelatedConfig) -> tuple[dict[str, dict], dict[str, Page]]:
    """What relink compares of each file ({"id", "url"} and a digest of its related blocks)
    and its page, by path: of `paths`, or of every readable question (None). The rest is
    not kept."""
    slim: dict[str, tuple[dict, bytes]] = {}
    pages: dict[str, Page] = {}

    def keep(rel: str, data: dict) -> None:
        slim[rel] = _compared(data)
        page = page_from(data, config)
        if page is not None:
            pages[rel] = page

    if paths is None or len(paths) > 5000:
        wanted = None if paths is None else set(paths)
        for rel, text, _ in coll.json_rows():
            if wanted is None or rel in wanted:
                keep(rel, orjson.loads(text))
        return slim, pages
    for rel in paths:
        record = coll.by_path(rel)
        if record is not None:
            keep(rel, record.data)
    return slim, pages


def _compared(data: dict) -> tuple[dict, bytes]:
    """What relink compares of a file: its id and url, and a digest of its related blocks."""
    return {"id": data.get("id"), "url": data.get("url")}, links_digest(current_links(data))


PARALLEL_READ = 20_000  # pages: a full run with more reads and counts them on every core


def read_and_count(coll: Collection, config: RelatedConfig, workers: int
                   ) -> tuple[dict[str, tuple[dict, bytes]], dict[str, Page], dict[str, int], sp.csr_matrix, dict[str, int]]:
    """`read_pages` of every question and `counts` of their pages, on `workers` processes
    that each read a slice of the index by id (the texts never reach this process).
    Returns (what relink compares, by path; the pages without their texts, by path; their
    `signature`s; the counts; the row of each page in them)."""
    n = max(workers, min(workers * 8, len(coll) // 5000))
    cuts = coll.cuts(n)
    slim: dict[str, tuple[dict, bytes]] = {}
    pages: dict[str, Page] = {}
    sigs: dict[str, int] = {}
    rows: dict[str, int] = {}
    parts = []
    jobs = [(coll.config, config, (k, n), cuts) for k in range(n)]
    import sklearn.feature_extraction.text  # noqa: F401 - imported once, before the workers fork
    for part_slim, metas, matrix in pools.process_map(_read_and_count_part, jobs, workers=workers, fork=True):
        slim.update(part_slim)
        for rel, qid, title, subject, url, sig in metas:
            pages[rel] = Page(qid, title, subject, url, ("", "", "", ""))
            sigs[rel] = sig
            rows[rel] = len(rows)
        parts.append(matrix)
    matrix = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, 2 * FEATURES), dtype=np.float32)
    return slim, pages, sigs, matrix, rows


_WORKER: dict = {}  # the collection a worker of `read_and_count` opened (one per process)


def _read_and_count_part(args: tuple) -> tuple[dict, list[tuple], sp.csr_matrix]:
    """Worker: one slice of the index read as `read_pages` reads it, its pages counted."""
    collection_config, config, part, cuts = args
    coll = _WORKER.get("coll")
    if coll is None:
        coll = _WORKER["coll"] = Collection(config=collection_config, refreshed=True)  # refreshed by the parent
    slim: dict[str, tuple[dict, bytes]] = {}
    metas: list[tuple] = []
    found: list[Page] = []
    for rel, text, _ in coll.json_rows(part, cuts):
        data = orjson.loads(text)
        slim[rel] = _compared(data)
        page = page_from(data, config)
        if page is not None:
            metas.append((rel, page.qid, page.title, page.subject, page.url, signature(page)))
            found.append(page)
    return slim, metas, counts(found, config)


def build(coll: Collection, config: RelatedConfig, old: State | None, frozen: np.ndarray | None, workers: int,
          report: RelinkReport, progress: PhaseProgress | None, scored_ids: list[int] | None = None,
          always: bool = False, score: bool = True, current: dict[str, tuple[int, int]] | None = None
          ) -> Model | None:
    """Read what changed, vectorize, and choose links for every page they could affect
    (none without `score`); None when nothing changed since the state was saved (unless
    `always`). `current`: {path: (size, mtime)} of every question, when already read."""
    tell = progress or (lambda phase, done, total: None)
    if current is None:
        current = page_stats(coll)
    report.questions = len(current)
    lap = time.perf_counter()
    if old is not None:
        alive = old.alive.tolist()  # Python values: a loop over every page
        saw = list(zip(old.stats[:, 0].tolist(), old.stats[:, 1].tolist()))
        slot_of = {p: i for i, p in enumerate(old.paths) if alive[i]}
        stale = [p for p, st in current.items() if p not in slot_of or saw[slot_of[p]] != st]
        removed = [i for p, i in slot_of.items() if p not in current]
        if not stale and not removed and not old.pending.any() and not always:
            return None
    else:
        slot_of, stale, removed = {}, list(current), []
    tell("read", 0, len(stale))
    sigs: dict[str, int] | None = None
    if old is None and workers > 1 and len(stale) >= PARALLEL_READ:
        loaded, by_path, sigs, counted, counted_rows = read_and_count(coll, config, workers)
    else:
        loaded, by_path = read_pages(coll, None if old is None else stale, config)
    tell("read", len(stale), len(stale))
    lap = report.lap("read", lap)
    if old is None:
        n0 = 0
        s = State(config.signature(), [], np.zeros(0, bool), np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                  np.zeros(0, np.int64), [], [], [], sp.csr_matrix((0, 2 * FEATURES), dtype=np.float32),
                  np.full((0, config.count), -1, np.int64), np.zeros(0), np.zeros(0, bool), frozen)
    else:
        n0 = len(old.paths)
        s = State(old.config, list(old.paths), old.alive.copy(), old.stats.copy(), old.qids.copy(), old.sigs.copy(),
                  list(old.titles), list(old.subjects), list(old.urls), old.vectors, old.links.copy(), old.reach.copy(),
                  old.pending.copy(), old.idf, old.deltas, old.delta_rows)
    fresh_pages: list[Page] = []
    fresh_paths: list[str] = []
    fresh_slots: list[int] = []
    touched: list[int] = []
    grow: list[tuple] = []
    for p in stale:
        page = by_path.get(p)
        slot = slot_of.get(p)
        if page is None:
            if slot is not None:
                removed.append(slot)
            continue
        sig = signature(page) if sigs is None else sigs[p]
        if slot is None:
            slot = n0 + len(grow)
            grow.append((p, current[p], page, sig))
            fresh_slots.append(slot)
            fresh_pages.append(page)
            fresh_paths.append(p)
            continue
        s.stats[slot] = current[p]
        if s.sigs[slot] == sig:
            touched.append(slot)
            continue
        s.qids[slot], s.sigs[slot], s.titles[slot], s.subjects[slot], s.urls[slot] = (page.qid, sig, page.title,
                                                                                      page.subject, page.url)
        fresh_slots.append(slot)
        fresh_pages.append(page)
        fresh_paths.append(p)
    if grow:
        k = len(grow)
        s.paths += [g[0] for g in grow]
        s.titles += [g[2].title for g in grow]
        s.subjects += [g[2].subject for g in grow]
        s.urls += [g[2].url for g in grow]
        s.alive = np.concatenate([s.alive, np.ones(k, bool)])
        s.stats = np.concatenate([s.stats, np.array([g[1] for g in grow], dtype=np.int64).reshape(k, 2)])
        s.qids = np.concatenate([s.qids, np.array([g[2].qid for g in grow], dtype=np.int64)])
        s.sigs = np.concatenate([s.sigs, np.array([g[3] for g in grow], dtype=np.int64)])
        s.links = np.concatenate([s.links, np.full((k, config.count), -1, np.int64)])
        s.reach = np.concatenate([s.reach, np.zeros(k)])
        s.pending = np.concatenate([s.pending, np.zeros(k, bool)])
        grow.clear()  # the pages' text is no longer needed
    removed_arr = np.array(sorted(set(removed)), dtype=np.int64)
    s.alive[removed_arr] = False
    n = len(s.paths)
    tell("vectorize", 0, n)
    del by_path
    if sigs is not None:  # counted while read
        fresh = counted[np.array([counted_rows[p] for p in fresh_paths], dtype=np.int64)]
        del counted
    elif fresh_pages:
        fresh = counts(fresh_pages, config, workers)
    else:
        fresh = sp.csr_matrix((0, 2 * FEATURES), dtype=np.float32)
    del fresh_pages[:]
    src = np.arange(n, dtype=np.int64)
    src[np.array(fresh_slots, dtype=np.int64)] = n0 + np.arange(len(fresh_slots))
    src[~s.alive] = n0 + len(fresh_slots)  # an empty row
    if s.idf is None:  # a full run: the weights come from every page's counts
        s.idf = term_weights(fresh, config)
    if fresh.shape[0]:  # a page's vector depends only on its counts and the weights
        fresh = vectors(fresh, s.idf)
    if n0 == 0:
        s.vectors = fresh  # a full run: every row is fresh, in slot order
    else:
        if np.array_equal(src, np.arange(n)):  # pages added, none changed or removed: no row moves
            s.vectors = sp.vstack([s.vectors, fresh], format="csr")
        else:
            s.vectors = sp.vstack([s.vectors, fresh, sp.csr_matrix((1, 2 * FEATURES), dtype=np.float32)],
                                  format="csr")[src]
    del fresh
    space = Space.of(s.vectors, s.idf)
    linkable = _linkable(s.alive, s.titles, s.subjects, s.urls)
    pages = _pages(s, linkable)
    tell("vectorize", n, n)
    lap = report.lap("vectorize", lap)

    changed = set(fresh_slots) | set(removed_arr.tolist())
    if old is not None:
        before = _linkable_before(old, s.urls, linkable, changed)
        changed.update(np.nonzero(before != linkable[:n0])[0].tolist())
        ch = np.array(sorted(changed), dtype=np.int64)
        hit = np.nonzero(np.isin(s.links, ch).any(axis=1))[0] if len(ch) else np.zeros(0, np.int64)
        live = ch[s.alive[ch]] if len(ch) else ch
        was = ch[ch < n0] if len(ch) else ch  # the old versions of changed and removed pages
        probes = sp.vstack([space.xc[live], space.candidates(old.vectors[was], s.idf)], format="csr")
        affected = np.union1d(np.union1d(live, hit), reached(probes, space, s.reach))
        affected = affected[s.alive[affected]]
    else:
        affected = np.nonzero(s.alive)[0]
    if not score:
        affected = np.zeros(0, np.int64)
    elif scored_ids is not None:
        affected = np.union1d(affected, np.nonzero(np.isin(s.qids, scored_ids) & s.alive)[0])
    report.scored = len(affected)
    tell("score", 0, len(affected))
    before_links = s.links[affected].copy()
    chosen = choose(affected, space, pages, config, lambda d, t: tell("score", d, t), workers)
    for row, choice in zip(affected.tolist(), chosen):
        s.links[row] = -1
        s.links[row, : len(choice.targets)] = choice.targets
        s.reach[row] = choice.reach
    tell("score", len(affected), len(affected))
    report.lap("score", lap)
    compare = affected
    if old is not None:  # a file carries its saved list (else it is pending or touched): compare only lists that
        # changed, or that link to a changed page (whose id, title, subject or url a block copies)
        moved = (s.links[affected] != before_links).any(axis=1) | np.isin(affected, hit) | np.isin(affected, ch)
        compare = affected[moved]
        if scored_ids is not None:
            compare = np.union1d(compare, np.nonzero(np.isin(s.qids, scored_ids) & s.alive)[0])
    compare = np.union1d(compare, np.array(touched + np.nonzero(s.pending)[0].tolist(), dtype=np.int64))
    compare = compare[s.alive[compare]]
    dirty = changed | set(affected.tolist()) | set(touched)
    return Model(s, space, pages, affected, compare, dirty, loaded, old is None)

