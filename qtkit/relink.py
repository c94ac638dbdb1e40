"""`relink`: rewrite every page's `related_articleN` blocks from the relatedness engine.

A page is one file; links are chosen per page (`related.pick`) and each block copies the
id, title, subject and url of the page its url names. Every list is checked against
`related.links_errors` before it is written: a wrong link is refused with an error
naming the page and the link, and never written.

Blocks are written through the format-preserving editor: existing blocks are updated in
place (their values keep their styles), surplus blocks are removed, new ones take the
style of the file's other blocks (or of its own title when it has none). A file whose
links do not change is not written at all. Python: `relink(root)`; the CLI is
`qtkit relink`.

State (`.qtkit/related/`): a base written by full runs, and one small delta appended per
incremental run (only the pages it touched), folded into a new base when the deltas
grow past a fifth of it. The term weights are frozen in it until `relink --full`.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp

from .document import Document, load
from .errors import Notice, QtkitError
from .files import read_bytes, unified_diff, write_many
from .index import CACHE_DIR, Collection, parse_file
from . import pools
from .related import (
    _FEATURES,
    LINK_KEYS,
    Choice,
    Page,
    Pages,
    PhaseProgress,
    RelatedConfig,
    Space,
    choose,
    counts,
    encode_labels,
    explain_pair,
    links_errors,
    page_from,
    reached,
    signature,
    term_weights,
    title_key,
)
from .links import related_blocks
from .locks import collection_lock
from .splice import splice_links
from .yamlio import same

STATE_DIR = "related"


@dataclass
class RelinkReport:
    """What one run did: counts, the files changed, errors (one line each), diffs kept."""

    questions: int = 0
    scored: int = 0
    changed: list[str] = field(default_factory=list)
    written: int = 0
    errors: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    full: bool = False
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step

    def lap(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[name] = round(self.phases.get(name, 0.0) + now - since, 3)
        return now

    def summary(self) -> dict:
        return {"questions": self.questions, "scored": self.scored, "changed": len(self.changed),
                "written": self.written, "errors": len(self.errors), "full": self.full,
                "seconds": round(self.seconds, 2)}


def current_links(data: dict) -> list[dict]:
    """The file's related blocks in N order (as they are, whatever their keys)."""
    return [value for _, _, value in related_blocks(data)]


def edit_links(path: str | Path, blocks: list[dict]) -> Any:
    """The document at `path` with its related blocks made exactly `blocks` (not written)."""
    return apply_links(load(path), blocks)


def apply_links(doc: Any, blocks: list[dict]) -> Any:
    """Make a document's related blocks exactly `blocks`, in order, numbered from 1.

    An existing block is edited value by value (styles kept, keys not in the new block
    removed); a new block takes the style of the file's other blocks, or of its title.
    """
    data = doc.data
    existing = [(n, key) for n, key, _ in related_blocks(data)]
    twins = [key for _, key in existing if isinstance(data[key], dict)]
    title_style = _style(doc, "title")
    for n, block in enumerate(blocks, 1):
        key = f"related_article{n}"
        current = data.get(key)
        entry = doc.entry((key,))
        if isinstance(current, dict) and entry is not None and entry.children is not None:
            for name, value in block.items():
                if name not in current or not same(current[name], value):
                    doc.set((key, name), value)
            for name in [k for k in current if k not in block]:
                doc.delete((key, name))
        else:
            kinds = {"title": title_style} if not twins and title_style in ("folded", "plain") else None
            doc.set((key,), dict(block), kinds=kinds)
            twins.append(key)
    for n, key in existing:
        if n > len(blocks) or n < 1:
            doc.delete((key,))
    return doc


def write_links(path: str | Path, blocks: list[dict], dry_run: bool = False) -> tuple[bool, str]:
    """Make one file's related blocks exactly `blocks`; return (changed, diff)."""
    doc = edit_links(path, blocks)
    if not doc.changed:
        return False, ""
    diff = doc.diff()
    doc.verify()
    if not dry_run:
        doc.save()
    return True, diff


def _style(doc: Any, key: str) -> str | None:
    entry = doc.entry((key,))
    return entry.style.kind if entry is not None and entry.children is None else None


def _write_chunk(jobs: list[tuple]) -> list[tuple[str, bool, str, str | None, Any]]:
    """Edit a chunk of files and write the changed ones with one sync (runs in workers);
    a written file comes back with its new index row (body left out: it did not change).

    Files in the house layout are edited as text (`splice_links`), others through
    `Document`; either way the new bytes are parsed again before they are written.
    """
    out: list[tuple[str, bool, str, str | None, Any]] = []
    pending = []
    for path, blocks, dry_run, want_diff, _ in jobs:
        try:
            raw = read_bytes(path)
            spliced = splice_links(raw, blocks, path)
            if spliced is not None:
                new, data, _, dates = spliced
                parsed = (data, None, dates)
            else:
                doc = apply_links(Document(raw, path), blocks)
                new, parsed = (doc.verify() if doc.changed else raw), None
            if new == raw:
                out.append((path, False, "", None, None))
                continue
            out.append((path, True, unified_diff(raw, new, Path(path).name) if want_diff else "", None, None))
            if not dry_run:
                pending.append((len(out) - 1, Path(path), new, raw, parsed))
        except QtkitError as exc:
            out.append((path, False, "", str(exc), None))
    errors = write_many([(p, new, raw) for _, p, new, raw, _ in pending]) if pending else []
    for (i, p, new, _, parsed), error in zip(pending, errors):
        path, did, diff, _, _ = out[i]
        if error is not None:
            out[i] = (path, False, "", str(error), None)
        else:
            st = os.stat(p)
            root, rel = jobs[i][4]
            out[i] = (path, did, diff, None, parse_file((root, rel, st.st_size, st.st_mtime_ns), new, parsed))
    return out




# ------------------------------------------------------------------ state


@dataclass
class State:
    """Everything relink keeps between runs, one row ("slot") per page ever seen since the
    last base; a removed page's slot is dead until the next base."""

    config: str
    paths: list[str]
    alive: np.ndarray
    stats: np.ndarray  # (size, mtime) per slot, as the index saw the file
    qids: np.ndarray
    sigs: np.ndarray
    titles: list[str]
    subjects: list[str]
    urls: list[str]
    counts: sp.csr_matrix
    links: np.ndarray  # slots, -1 padded, shape (slots, count)
    reach: np.ndarray
    pending: np.ndarray  # the file may not carry the links chosen (not written yet)
    idf: np.ndarray
    deltas: list[str] = field(default_factory=list)
    delta_rows: int = 0

    @classmethod
    def load(cls, folder: Path) -> State | None:
        """The state in `folder`, or None when there is none or it cannot be read."""
        try:
            meta = orjson.loads((folder / "meta.json").read_bytes())
            idf = np.load(folder / meta["weights"], allow_pickle=False)
            parts = [_read_part(folder / name) for name in [meta["base"], *meta["deltas"]]]
        except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        size = max((int(p["slots"].max()) + 1 for p in parts if len(p["slots"])), default=0)
        width = parts[0]["links"].shape[1] if parts[0]["links"].ndim == 2 else 0
        paths, titles, subjects, urls = [""] * size, [""] * size, [""] * size, [""] * size
        alive = np.zeros(size, dtype=bool)
        stats = np.zeros((size, 2), dtype=np.int64)
        qids, sigs = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        links = np.full((size, width), -1, dtype=np.int64)
        reach, pending = np.zeros(size), np.zeros(size, dtype=bool)
        src = np.zeros(size, dtype=np.int64)
        offset = 0
        for p in parts:
            s = p["slots"]
            for name, target in (("paths", paths), ("titles", titles), ("subjects", subjects), ("urls", urls)):
                for slot, value in zip(s.tolist(), p[name]):
                    target[slot] = value
            alive[s], stats[s], qids[s], sigs[s] = p["alive"], p["stats"], p["qids"], p["sigs"]
            links[s], reach[s], pending[s] = p["links"], p["reach"], p["pending"]
            src[s] = offset + np.arange(len(s))
            offset += len(s)
        matrix = sp.vstack([p["counts"] for p in parts], format="csr")[src] if size else parts[0]["counts"]
        return cls(meta["config"], paths, alive, stats, qids, sigs, titles, subjects, urls, matrix, links, reach,
                   pending, idf, list(meta["deltas"]), int(meta.get("delta_rows", 0)))

    def save(self, folder: Path, slots: np.ndarray | None = None) -> None:
        """Write a new base (all live slots, renumbered), or with `slots` append a delta of
        those slots; then point `meta.json` at them (atomically) and drop unused parts."""
        folder.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}-{time.time_ns()}"
        try:
            meta = orjson.loads((folder / "meta.json").read_bytes())
        except (OSError, ValueError, orjson.JSONDecodeError):
            meta = None
        if slots is None or meta is None or meta.get("config") != self.config:
            keep = np.nonzero(self.alive)[0]
            renumber = np.full(len(self.paths) + 1, -1, dtype=np.int64)
            renumber[keep] = np.arange(len(keep))
            links = np.where(self.links[keep] >= 0, renumber[self.links[keep]], -1)
            name, weights = f"base-{token}.npz", f"weights-{token}.npy"
            _write_part(folder / name, np.arange(len(keep)), self, keep, links)
            tmp = folder / f".{weights}.tmp.npy"
            np.save(tmp, self.idf)
            os.replace(tmp, folder / weights)
            meta = {"config": self.config, "base": name, "deltas": [], "weights": weights, "delta_rows": 0}
        else:
            name = f"delta-{token}.npz"
            _write_part(folder / name, slots, self, slots, self.links[slots])
            meta = {**meta, "deltas": [*meta["deltas"], name], "delta_rows": int(meta.get("delta_rows", 0)) + len(slots)}
        tmp = folder / ".meta.json.tmp"
        tmp.write_bytes(orjson.dumps(meta))
        os.replace(tmp, folder / "meta.json")
        used = {meta["base"], meta["weights"], *meta["deltas"]}
        for entry in os.listdir(folder):
            if entry != "meta.json" and entry not in used:
                try:
                    os.unlink(folder / entry)
                except OSError:
                    pass


def _write_part(path: Path, slots: np.ndarray, s: State, rows: np.ndarray, links: np.ndarray) -> None:
    m = s.counts[rows]
    texts = orjson.dumps({"paths": [s.paths[i] for i in rows], "titles": [s.titles[i] for i in rows],
                          "subjects": [s.subjects[i] for i in rows], "urls": [s.urls[i] for i in rows]})
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, slots=np.asarray(slots, dtype=np.int64), texts=np.frombuffer(texts, np.uint8),
             alive=s.alive[rows], stats=s.stats[rows], qids=s.qids[rows], sigs=s.sigs[rows], links=links,
             reach=s.reach[rows], pending=s.pending[rows], data=m.data, indices=m.indices, indptr=m.indptr)
    os.replace(tmp, path)


def _read_part(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        part = {k: z[k] for k in ("slots", "alive", "stats", "qids", "sigs", "links", "reach", "pending")}
        texts = orjson.loads(z["texts"].tobytes())
        part["counts"] = sp.csr_matrix((z["data"], z["indices"], z["indptr"]),
                                       shape=(len(part["slots"]), 2 * _FEATURES))
    part.update(texts)
    return part


# ------------------------------------------------------------------ one run


def page_of_url(coll: Collection, url: str) -> dict | None:
    """The id, title, subject and url of the page at `url` as the index has them, or None
    (the one place relink resolves a link; the shared links module can take it over)."""
    record = coll.by_url(url)
    if record is None:
        return None
    return {key: record.data.get(key) for key in LINK_KEYS}


class _Resolver:
    """`page_of_url` for many urls: one query each, or one pass over the index when many."""

    def __init__(self, coll: Collection, many: bool) -> None:
        self.coll = coll
        self.known: dict[str, dict | None] = {}
        if many:
            seen: Counter = Counter()
            for _, qid, title, subject, url in coll.summaries():
                if url is not None:
                    seen[url] += 1
                    self.known.setdefault(url, {"id": qid, "title": title, "subject": subject, "url": url})
            for url, n in seen.items():
                if n > 1:
                    self.known[url] = None  # a url two pages claim names no one page
        self.many = many

    def __call__(self, url: str) -> dict | None:
        if url not in self.known and not self.many:
            self.known[url] = page_of_url(self.coll, url)
        return self.known.get(url)


@dataclass
class _Model:
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
    return np.array([bool(a and t.strip() and s.strip() and u.strip() and taken[u] == 1)
                     for a, t, s, u in zip(alive, titles, subjects, urls)], dtype=bool)


def _pages(s: State, linkable: np.ndarray) -> Pages:
    n = len(s.paths)
    order = np.lexsort((np.array(s.paths, dtype=object).astype(str) if n else np.zeros(0, str), s.qids))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return Pages(s.qids, encode_labels(x.casefold() for x in s.subjects), encode_labels(title_key(t) for t in s.titles),
                 linkable, rank)


def _read(coll: Collection, paths: list[str] | None, config: RelatedConfig) -> tuple[dict[str, dict], dict[str, Page]]:
    """What relink compares of each file ({"id", "url"} and a digest of its related blocks)
    and its page, by path: of `paths`, or of every readable question (None). The rest is
    not kept."""
    slim: dict[str, tuple[dict, bytes]] = {}
    pages: dict[str, Page] = {}

    def keep(rel: str, data: dict) -> None:
        slim[rel] = ({"id": data.get("id"), "url": data.get("url")}, links_digest(current_links(data)))
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


def links_digest(links: list) -> bytes:
    """A digest of a list of related blocks: equal lists (same keys, values and types, in
    any key order) give equal digests."""
    import hashlib

    canon = [sorted((str(k), type(v).__name__, str(v)) for k, v in link.items()) if isinstance(link, dict)
             else ("", type(link).__name__, str(link)) for link in links]
    return hashlib.blake2b(orjson.dumps(canon), digest_size=16).digest()


def _model(coll: Collection, config: RelatedConfig, old: State | None, frozen: np.ndarray | None, workers: int,
           report: RelinkReport, progress: PhaseProgress | None, scored_ids: list[int] | None = None,
           always: bool = False) -> _Model | None:
    """Read what changed, vectorize, and choose links for every page they could affect;
    None when nothing changed since the state was saved."""
    tell = progress or (lambda phase, done, total: None)
    current = {p: (s, m) for p, s, m, q in coll.file_stats() if q is not None}
    report.questions = len(current)
    lap = time.perf_counter()
    if old is not None:
        slot_of = {p: i for i, p in enumerate(old.paths) if old.alive[i]}
        stale = [p for p, st in current.items() if p not in slot_of or tuple(old.stats[slot_of[p]]) != st]
        removed = [i for p, i in slot_of.items() if p not in current]
        if not stale and not removed and not old.pending.any() and not always:
            return None
    else:
        slot_of, stale, removed = {}, list(current), []
    tell("read", 0, len(stale))
    loaded, read_pages = _read(coll, None if old is None else stale, config)
    tell("read", len(stale), len(stale))
    lap = report.lap("read", lap)
    if old is None:
        n0 = 0
        s = State(config.signature(), [], np.zeros(0, bool), np.zeros((0, 2), np.int64), np.zeros(0, np.int64),
                  np.zeros(0, np.int64), [], [], [], sp.csr_matrix((0, 2 * _FEATURES), dtype=np.float32),
                  np.full((0, config.count), -1, np.int64), np.zeros(0), np.zeros(0, bool), frozen)
    else:
        n0 = len(old.paths)
        s = State(old.config, list(old.paths), old.alive.copy(), old.stats.copy(), old.qids.copy(), old.sigs.copy(),
                  list(old.titles), list(old.subjects), list(old.urls), old.counts, old.links.copy(), old.reach.copy(),
                  old.pending.copy(), old.idf, old.deltas, old.delta_rows)
    fresh_pages: list[Page] = []
    fresh_slots: list[int] = []
    touched: list[int] = []
    grow: list[tuple] = []
    for p in stale:
        page = read_pages.get(p)
        slot = slot_of.get(p)
        if page is None:
            if slot is not None:
                removed.append(slot)
            continue
        sig = signature(page)
        if slot is None:
            slot = n0 + len(grow)
            grow.append((p, current[p], page, sig))
            fresh_slots.append(slot)
            fresh_pages.append(page)
            continue
        s.stats[slot] = current[p]
        if s.sigs[slot] == sig:
            touched.append(slot)
            continue
        s.qids[slot], s.sigs[slot], s.titles[slot], s.subjects[slot], s.urls[slot] = (page.qid, sig, page.title,
                                                                                      page.subject, page.url)
        fresh_slots.append(slot)
        fresh_pages.append(page)
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
    del read_pages
    fresh = counts(fresh_pages, config, workers) if fresh_pages else sp.csr_matrix((0, 2 * _FEATURES), dtype=np.float32)
    del fresh_pages[:]
    src = np.arange(n, dtype=np.int64)
    src[np.array(fresh_slots, dtype=np.int64)] = n0 + np.arange(len(fresh_slots))
    src[~s.alive] = n0 + len(fresh_slots)  # an empty row
    if n0 == 0:
        s.counts = fresh  # a full run: every row is fresh, in slot order
    else:
        s.counts = sp.vstack([s.counts, fresh, sp.csr_matrix((1, 2 * _FEATURES), dtype=np.float32)], format="csr")[src]
    del fresh
    if s.idf is None:
        s.idf = term_weights(s.counts, config)
    space = Space.of(s.counts, s.idf)
    linkable = _linkable(s.alive, s.titles, s.subjects, s.urls)
    pages = _pages(s, linkable)
    tell("vectorize", n, n)
    lap = report.lap("vectorize", lap)

    changed = set(fresh_slots) | set(removed_arr.tolist())
    if old is not None:
        before = _linkable(old.alive, old.titles, old.subjects, old.urls)
        changed.update(np.nonzero(before != linkable[:n0])[0].tolist())
        ch = np.array(sorted(changed), dtype=np.int64)
        hit = np.nonzero(np.isin(s.links, ch).any(axis=1))[0] if len(ch) else np.zeros(0, np.int64)
        live = ch[s.alive[ch]] if len(ch) else ch
        was = ch[ch < n0] if len(ch) else ch  # the old versions of changed and removed pages
        probes = sp.vstack([space.xc[live], space.candidates(old.counts[was], s.idf)], format="csr")
        affected = np.union1d(np.union1d(live, hit), reached(probes, space, s.reach))
        affected = affected[s.alive[affected]]
    else:
        affected = np.nonzero(s.alive)[0]
    if scored_ids is not None:
        affected = np.union1d(affected, np.nonzero(np.isin(s.qids, scored_ids) & s.alive)[0])
    report.scored = len(affected)
    tell("score", 0, len(affected))
    chosen = choose(affected, space, pages, config, lambda d, t: tell("score", d, t), workers)
    for row, choice in zip(affected.tolist(), chosen):
        s.links[row] = -1
        s.links[row, : len(choice.targets)] = choice.targets
        s.reach[row] = choice.reach
    tell("score", len(affected), len(affected))
    report.lap("score", lap)
    compare = np.union1d(affected, np.array(touched + np.nonzero(s.pending)[0].tolist(), dtype=np.int64))
    compare = compare[s.alive[compare]]
    dirty = changed | set(affected.tolist()) | set(touched)
    return _Model(s, space, pages, affected, compare, dirty, loaded, old is None)


def _blocks(s: State, row: int) -> list[dict]:
    return [{"id": int(s.qids[t]), "title": s.titles[t], "subject": s.subjects[t], "url": s.urls[t]}
            for t in s.links[row].tolist() if t >= 0]


def relink(
    root: str | Path | None = None,
    *,
    collection: Collection | None = None,
    ids: list[int] | None = None,
    dry_run: bool = False,
    full: bool = False,
    keep_weights: bool = False,
    progress: PhaseProgress | None = None,
    workers: int | None = None,
    keep_diffs: int = 20,
) -> RelinkReport:
    """Recompute related links and write the files whose links change.

    Only pages that new, edited or removed pages could affect are scored again, unless
    `full` (which also recomputes the term weights, or with `keep_weights` keeps the
    frozen ones). `ids` limits the writes to the pages of those questions. `dry_run`
    writes nothing and keeps up to `keep_diffs` diffs. `progress(phase, done, total)` is
    called through every phase ("read", "vectorize", "score", "compare", "write",
    "save"). A list that breaks an invariant (`related.links_errors`) is not written and
    is reported in `errors`.
    """
    coll = collection or Collection(root)
    with collection_lock(coll.root, dry_run=dry_run):
        return _relink(coll, ids, dry_run, full, keep_weights, progress, workers, keep_diffs)


def _relink(coll: Collection, ids: list[int] | None, dry_run: bool, full: bool, keep_weights: bool,
            progress: PhaseProgress | None, workers: int | None, keep_diffs: int) -> RelinkReport:
    start = time.perf_counter()
    tell = progress or (lambda phase, done, total: None)
    coll.refresh()
    report = RelinkReport()
    lap = report.lap("index", start)
    workers = workers or os.cpu_count() or 1
    config = RelatedConfig.from_config(coll.config)
    folder = coll.root / CACHE_DIR / STATE_DIR
    old = State.load(folder)
    if old is not None and old.config != config.signature():
        old = None
    frozen = old.idf if (old is not None and keep_weights) else None
    if full:
        old = None
    report.full = old is None
    model = _model(coll, config, old, frozen, workers, report, progress, ids)
    lap = time.perf_counter()
    if model is None:
        report.seconds = time.perf_counter() - start
        return report
    s = model.state
    wanted = set(ids) if ids else None
    rows = [int(r) for r in model.compare if wanted is None or int(s.qids[r]) in wanted]
    if wanted is not None:
        s.pending[[int(r) for r in model.compare if int(s.qids[r]) not in wanted]] = True
    need = [s.paths[r] for r in rows if s.paths[r] not in model.loaded]
    datas = {**model.loaded, **_read(coll, need, config)[0]} if need else model.loaded
    resolve = _Resolver(coll, many=len(rows) > 2000)
    jobs = []
    tell("compare", 0, len(rows))
    for at, r in enumerate(rows):
        found = datas.get(s.paths[r])
        if found is None:
            continue
        data, digest = found
        blocks = _blocks(s, r)
        if digest == links_digest(blocks):
            s.pending[r] = False
            continue
        problems = links_errors(data, blocks, resolve)
        if problems:
            for n, why in problems:
                link = blocks[n - 1]
                report.errors.append(f"{s.paths[r]}: related_article{n} -> {link.get('url')!r} {why}; links not written")
            s.pending[r] = True
            continue
        jobs.append((str(coll.root / s.paths[r]), blocks, dry_run, len(jobs) < keep_diffs, (str(coll.root), s.paths[r]), r))
        if at % 1000 == 0:
            tell("compare", at, len(rows))
    tell("compare", len(rows), len(rows))
    lap = report.lap("compare", lap)
    report.changed, written, failed = _run_writes(jobs, workers, report, keep_diffs, tell)
    for job in jobs:
        s.pending[job[5]] = job[5] in failed or dry_run
    for row in written:
        r = row[1]
        s.stats[r] = (row[0][2], row[0][3])
    lap = report.lap("write", lap)
    if not dry_run:
        tell("save", 0, 1)
        coll.put([row for row, _ in written])
        dirty = np.array(sorted(model.dirty | {j[5] for j in jobs} | set(np.nonzero(s.pending)[0].tolist())), np.int64)
        try:
            if model.full or s.delta_rows + len(dirty) > max(2000, len(s.paths) // 5):
                s.save(folder)
            else:
                s.save(folder, dirty)
        except OSError as exc:  # the state is an optimisation: without it the next run scores every page
            shutil.rmtree(folder, ignore_errors=True)
            warnings.warn(Notice(f"relink's state could not be saved in {folder} ({exc.strerror or exc}); the files"
                                 " are written, and the next relink scores every page again"), stacklevel=2)
        (coll.root / CACHE_DIR / "related.npz").unlink(missing_ok=True)  # the state of qtkit before pages
        tell("save", 1, 1)
    report.lap("save", lap)
    report.seconds = time.perf_counter() - start
    return report


def _run_writes(jobs: list, workers: int, report: RelinkReport, keep: int,
                tell: PhaseProgress) -> tuple[list[str], list[tuple], set[int]]:
    """Edit and write the jobs' files in chunks (on every core when many); return the
    changed paths, (index row, slot) of each file written, and the slots that failed."""
    changed: list[str] = []
    written: list[tuple] = []
    failed: set[int] = set()
    size = 256
    chunks = [[j[:5] for j in jobs[i : i + size]] for i in range(0, len(jobs), size)]
    results: list = []
    tell("write", 0, len(jobs))
    for part in pools.process_map(_write_chunk, chunks, workers=workers if len(jobs) >= 1000 else 1):
        results.extend(part)
        tell("write", len(results), len(jobs))
    for job, (path, did, diff, error, row) in zip(jobs, results):
        rel = job[4][1]
        if error:
            report.errors.append(error)
            failed.add(job[5])
            continue
        if did:
            changed.append(rel)
            if diff and len(report.diffs) < keep:
                report.diffs[rel] = diff
            if row is not None:
                report.written += 1
                written.append((row, job[5]))
    return changed, written, failed


# ------------------------------------------------------------------ one page, explained


def explain(coll: Collection, target: str | int, k: int | None = None) -> dict:
    """The links relink chooses for one page (a path, an id or a url), scored and explained,
    without writing: {"page", "id", "title", "links": [{id, title, subject, url, score,
    words: [[word, share], ...]}]}. Uses the frozen weights of the last relink when there
    are some. QtkitError when no page matches."""
    coll.refresh()
    config = RelatedConfig.from_config(coll.config)
    text = str(target)
    record = coll.by_url(text) if text.startswith("/") and not (coll.root / text.lstrip("/")).exists() else None
    record = record or coll.record(target)
    old = State.load(coll.root / CACHE_DIR / STATE_DIR)
    if old is not None and old.config != config.signature():
        old = None
    model = _model(coll, config, old, None, 1, RelinkReport(), None, always=True)
    assert model is not None
    s = model.state
    rows = [i for i, p in enumerate(s.paths) if p == record.relpath and s.alive[i]]
    if not rows:
        raise QtkitError(f"{record.relpath}: not a page relink links (no integer id)")
    row = rows[0]
    cfg = RelatedConfig(**{**config.__dict__, "count": k or config.count})
    choice: Choice = choose(np.array([row]), model.space, model.pages, cfg)[0]
    me = page_from(record.data, config)
    links = []
    for t, score in zip(choice.targets.tolist(), choice.scores.tolist()):
        other = coll.by_path(s.paths[t])
        words = explain_pair(me, page_from(other.data, config), s.idf, config) if other is not None and me else []
        links.append({**_blocks_one(s, t), "score": round(score, 4), "words": [[w, v] for w, v in words]})
    return {"page": record.relpath, "id": record.data.get("id"), "title": record.data.get("title"), "links": links}


def _blocks_one(s: State, t: int) -> dict:
    return {"id": int(s.qids[t]), "title": s.titles[t], "subject": s.subjects[t], "url": s.urls[t]}


def related(coll: Collection, qid: int, k: int | None = None) -> list[dict]:
    """The best `k` (default: `related_count`) pages for the first page of question `qid`,
    scored as `relink` scores them: [{id, title, subject, url, score}]."""
    record = coll.get(qid)
    if record is None:
        raise QtkitError(f"no question with id {qid} in {coll.root}")
    return [{key: link[key] for key in (*LINK_KEYS, "score")} for link in explain(coll, record.relpath, k)["links"]]


__all__ = ["RelinkReport", "current_links", "explain", "page_of_url", "related", "relink", "write_links"]
