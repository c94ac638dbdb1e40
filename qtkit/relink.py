"""`relink`: rewrite every question's `related_articleN` blocks from the relatedness engine.

Blocks are written through the format-preserving editor: existing blocks are updated in
place (their values keep their styles), surplus blocks are removed, new ones take the
style of the file's other blocks (or of its own title when it has none). A file whose
links do not change is not written at all. Python: `relink(root)`; the CLI is
`qtkit relink`.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp

from .document import Document, load
from .errors import QtkitError
from .files import collection_lock, read_bytes, unified_diff, write_many
from .index import CACHE_DIR, Collection, parse_file
from .procs import die_with_parent
from .related import (
    Links,
    Progress,
    Question,
    RelatedConfig,
    State,
    _signature,
    choose,
    counts,
    encode_labels,
    idf_weights,
    question_from,
    title_key,
    vectors,
)
from .shapes import RELATED
from .splice import splice_links
from .yamlio import same

LINK_KEYS = ("id", "title", "subject", "url")


@dataclass
class RelinkReport:
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
    found = sorted((int(m.group(1)), key) for key in data if (m := RELATED.match(key)))
    return [data[key] for _, key in found]


def edit_links(path: str | Path, blocks: list[dict]) -> Any:
    """The document at `path` with its related blocks made exactly `blocks` (not written)."""
    return apply_links(load(path), blocks)


def apply_links(doc: Any, blocks: list[dict]) -> Any:
    """Make a document's related blocks exactly `blocks`, in order, numbered from 1.

    An existing block is edited value by value (styles kept, keys not in the new block
    removed); a new block takes the style of the file's other blocks, or of its title.
    """
    data = doc._data
    existing = sorted((int(m.group(1)), key) for key in data if (m := RELATED.match(key)))
    twins = [key for _, key in existing if isinstance(data[key], dict)]
    title_style = _style(doc, "title")
    for n, block in enumerate(blocks, 1):
        key = f"related_article{n}"
        current = data.get(key)
        entry = doc._root.find(key)
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
    entry = doc._find((key,))
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


def _questions(coll: Collection, config: RelatedConfig, paths: list[str] | None = None) -> list[tuple[str, dict]]:
    """(path, data) of every readable question with an integer id, by id (or of `paths`)."""
    if paths is None:
        return [(rel, orjson.loads(text)) for rel, text, _ in coll.json_rows()]
    out = []
    for rel in paths:
        record = coll.by_path(rel)
        if record is not None:
            out.append((rel, record.data))
    return out


def relink(
    root: str | Path | None = None,
    *,
    collection: Collection | None = None,
    ids: list[int] | None = None,
    dry_run: bool = False,
    full: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    keep_diffs: int = 20,
) -> RelinkReport:
    """Recompute related links and write the files whose links change.

    Only questions that new or edited questions could affect are scored again, unless
    `full` (which also recomputes the term weights). `ids` limits the writes to those
    questions. `dry_run` writes nothing and keeps up to `keep_diffs` diffs.
    """
    coll = collection or Collection(root)
    with collection_lock(coll.root, dry_run=dry_run):
        return _relink(coll, ids, dry_run, full, progress, workers, keep_diffs)


def _relink(coll: Collection, ids: list[int] | None, dry_run: bool, full: bool, progress: Progress | None,
            workers: int | None, keep_diffs: int) -> RelinkReport:
    start = time.perf_counter()
    coll.refresh()
    report = RelinkReport()
    lap = report.lap("index", start)
    workers = workers or os.cpu_count() or 1
    config = RelatedConfig.from_config(coll.config)
    state_path = coll.root / CACHE_DIR / "related.npz"
    stats = coll.file_stats()
    paths = [p for p, _, _, q in stats if q is not None]
    stat_of = {p: (s, m) for p, s, m, _ in stats}
    state = None if full else State.load(state_path)
    if state is not None and state.config != config.signature():
        state = None
    report.full = state is None
    report.questions = len(paths)
    old_row = {p: i for i, p in enumerate(state.paths)} if state is not None else {}

    # which rows must be read again: new files, or files whose size/mtime moved
    stale = [p for p in paths if p not in old_row or tuple(state.stats[old_row[p]]) != stat_of[p]] if state else paths
    loaded = dict(_questions(coll, config, None if state is None else stale))
    info_new = {p: question_from(d, config) for p, d in loaded.items()}
    n = len(paths)
    qids = np.zeros(n, dtype=np.int64)
    sigs = np.zeros(n, dtype=np.int64)
    subjects: list[str] = [""] * n
    titles: list[str] = [""] * n
    changed_rows: list[int] = []
    new_rows: list[int] = []
    new_questions: list[Question] = []
    source = np.full(n, -1, dtype=np.int64)
    for i, p in enumerate(paths):
        q = info_new.get(p)
        if q is None and p in loaded:
            continue
        if q is not None:
            qids[i], sigs[i], subjects[i], titles[i] = q.qid, _signature(q), q.subject, q.title
            j = old_row.get(p)
            if state is not None and j is not None and state.signatures[j] == sigs[i]:
                source[i] = j  # its text did not change: keep its vector
            else:
                changed_rows.append(i)
                new_rows.append(i)
                new_questions.append(q)
        else:
            j = old_row[p]
            qids[i], sigs[i], subjects[i], titles[i], source[i] = (state.qids[j], state.signatures[j],
                                                                    state.subjects[j], state.titles[j], j)
    lap = report.lap("read", lap)
    fresh = counts(new_questions, config, workers) if new_questions else sp.csr_matrix((0, 2**20), dtype=np.float32)
    if state is not None:
        perm = np.where(source >= 0, source, 0)
        matrix = state.counts[perm] if n else state.counts[:0]
        if new_rows:
            matrix = sp.vstack([matrix, fresh]).tocsr()
            order = np.arange(n)
            order[np.array(new_rows)] = np.arange(len(new_rows)) + n
            matrix = matrix[order]
        idf = state.idf
    else:
        matrix = fresh
        idf = idf_weights(matrix, config)
    x = vectors(matrix, idf)
    xt = x.T.tocsr()
    lap = report.lap("vectorize", lap)
    subject_codes = encode_labels(s.casefold() for s in subjects)
    title_codes = encode_labels(title_key(t) for t in titles)

    links = np.full((n, config.count), -1, dtype=np.int64)
    kth = np.zeros(n, dtype=np.float64)
    if state is None:
        todo = np.arange(n)
    else:
        remap = np.full(len(state.paths) + 1, -1, dtype=np.int64)
        for i, j in enumerate(source):
            if j >= 0:
                remap[j] = i
        old_links = state.links[np.where(source >= 0, source, 0)]
        links = np.where(old_links >= 0, remap[old_links], -1)
        lost = ((old_links >= 0) & (links < 0)).any(axis=1)  # a target was removed
        links[source < 0] = -1
        kth = np.where(source >= 0, state.kth[np.where(source >= 0, source, 0)], 0.0)
        todo = _affected(np.array(changed_rows, dtype=np.int64), x, xt, links, kth, subject_codes, config, lost)
    if ids:
        wanted = set(ids)
        todo = np.array([i for i in todo if qids[i] in wanted] + [i for i in range(n) if qids[i] in wanted])
        todo = np.unique(todo)
    report.scored = len(todo)
    chosen = choose(todo, x, xt, qids, subject_codes, title_codes, config, progress, workers)
    for row, targets, score in zip(chosen.rows, chosen.targets, chosen.kth):
        links[row] = -1
        links[row, : len(targets)] = targets
        kth[row] = score

    lap = report.lap("score", lap)
    # files to check: the rows scored again and the rows that link to a changed question
    check = set(int(r) for r in todo)
    if state is not None and changed_rows:
        hit = np.isin(links, np.array(changed_rows)).any(axis=1)
        check.update(int(r) for r in np.nonzero(hit)[0])
    if ids:
        check = {r for r in check if qids[r] in set(ids)}
    need = [paths[r] for r in sorted(check)]
    datas = loaded if state is None else {**loaded, **dict(_questions(coll, config, [p for p in need if p not in loaded]))}
    info = {i: info_new.get(paths[i]) or _light(i, paths, datas, titles, subjects, qids, config)
            for i in _targets_of(check, links)}
    jobs = []
    for r in sorted(check):
        data = datas.get(paths[r])
        if data is None:
            continue
        blocks = [_block(info[int(t)]) for t in links[r] if t >= 0]
        if current_links(data) != blocks:
            jobs.append((str(coll.root / paths[r]), blocks, dry_run, len(jobs) < keep_diffs, (str(coll.root), paths[r])))
    lap = report.lap("compare", lap)
    report.changed, rows = _run_writes(jobs, workers, report, keep_diffs)
    lap = report.lap("write", lap)
    for row in rows:
        stat_of[row[0]] = (row[2], row[3])
    if not dry_run:
        coll.put(rows)
        _save(state_path, config, paths, stat_of, qids, sigs, matrix, idf, links, kth, subjects, titles)
    report.lap("save", lap)
    report.seconds = time.perf_counter() - start
    return report


def _block(q: Question) -> dict:
    return {"id": q.qid, "title": q.title, "subject": q.subject, "url": q.url}


def _targets_of(rows: set[int], links: np.ndarray) -> set[int]:
    out: set[int] = set()
    for r in rows:
        out.update(int(t) for t in links[r] if t >= 0)
    return out


def _light(i: int, paths: list[str], datas: dict, titles: list[str], subjects: list[str], qids: np.ndarray,
           config: RelatedConfig) -> Question:
    """What a link to row `i` shows: from the loaded data, else from the remembered state."""
    data = datas.get(paths[i])
    if data is not None:
        q = question_from(data, config)
        if q is not None:
            return q
    return Question(int(qids[i]), titles[i], subjects[i], "", ("", "", "", ""))


def _affected(changed: np.ndarray, x: sp.csr_matrix, xt: sp.csr_matrix, links: np.ndarray, kth: np.ndarray,
              subjects: np.ndarray, config: RelatedConfig, lost: np.ndarray) -> np.ndarray:
    """Rows whose links may change: the changed rows, rows that lost a target or link to a
    changed question, and rows for which a changed question now scores above their
    weakest link (similarity is symmetric, so one product finds them all)."""
    rows = set(int(r) for r in changed)
    rows.update(int(r) for r in np.nonzero(lost)[0])
    if len(changed):
        rows.update(int(r) for r in np.nonzero(np.isin(links, changed).any(axis=1))[0])
        scores = (x[changed] @ xt).tocsr()
        boost = 1.0 + config.same_subject_boost
        for i, c in enumerate(changed):
            lo, hi = scores.indptr[i], scores.indptr[i + 1]
            cols = scores.indices[lo:hi]
            vals = scores.data[lo:hi].astype(np.float64)
            vals = np.round(np.where(subjects[cols] == subjects[c], vals * boost, vals), 9)
            rows.update(int(r) for r in cols[(vals >= config.min_score) & (vals >= kth[cols])])
    return np.array(sorted(rows), dtype=np.int64)


def _run_writes(jobs: list, workers: int, report: RelinkReport, keep: int) -> tuple[list[str], list]:
    changed: list[str] = []
    rows: list[tuple] = []
    size = 256
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    if len(jobs) >= 1000 and workers > 1:
        with ProcessPoolExecutor(workers, initializer=die_with_parent) as pool:
            results = [row for part in pool.map(_write_chunk, chunks) for row in part]
    else:
        results = [row for chunk in chunks for row in _write_chunk(chunk)]
    for job, (path, did, diff, error, row) in zip(jobs, results):
        rel = job[4][1]
        if error:
            report.errors.append(error)
            continue
        if did:
            changed.append(rel)
            if diff and len(report.diffs) < keep:
                report.diffs[rel] = diff
            if row is not None:
                report.written += 1
                rows.append(row)
    return changed, rows


def _save(path: Path, config: RelatedConfig, paths: list[str], stat_of: dict, qids: np.ndarray, sigs: np.ndarray,
          matrix: sp.csr_matrix, idf: np.ndarray, links: np.ndarray, kth: np.ndarray, subjects: list[str],
          titles: list[str]) -> None:
    stats = np.array([stat_of[p] for p in paths], dtype=np.int64).reshape(len(paths), 2)
    State(config.signature(), paths, stats, qids, sigs, matrix.astype(np.float32), idf, links, kth, subjects,
          titles).save(path)


def related(coll: Collection, qid: int, k: int | None = None) -> list[dict]:
    """The best `k` (default: `related_count`) questions for question `qid`, scored as
    `relink` scores them: [{id, title, subject, url, score}]. Uses the vectors kept by the
    last relink when there are some, else computes them."""
    config = RelatedConfig.from_config(coll.config)
    state = State.load(coll.root / CACHE_DIR / "related.npz")
    if state is not None and state.config == config.signature():
        matrix, idf = state.counts, state.idf
        qids, subjects, titles, paths = state.qids, state.subjects, state.titles, state.paths
    else:
        rows = [(rel, q) for rel, d in _questions(coll, config) if (q := question_from(d, config)) is not None]
        matrix = counts([q for _, q in rows], config)
        idf = idf_weights(matrix, config)
        qids = np.array([q.qid for _, q in rows], dtype=np.int64)
        subjects, titles, paths = [q.subject for _, q in rows], [q.title for _, q in rows], [r for r, _ in rows]
    hits = np.nonzero(qids == qid)[0]
    if not len(hits):
        raise QtkitError(f"no question with id {qid} in {coll.root}")
    x = vectors(matrix, idf)
    cfg = RelatedConfig(**{**config.__dict__, "count": k or config.count})
    chosen = choose(hits[:1], x, x.T.tocsr(), qids, encode_labels(s.casefold() for s in subjects),
                    encode_labels(title_key(t) for t in titles), cfg)
    out = []
    for t in chosen.targets[0]:
        record = coll.by_path(paths[int(t)])
        q = question_from(record.data, config) if record is not None else None
        score = float(x[hits[0]].multiply(x[int(t)]).sum())
        if q is not None:
            out.append({**_block(q), "score": round(score, 4)})
    return out


__all__ = ["Links", "RelinkReport", "current_links", "related", "relink", "write_links"]
