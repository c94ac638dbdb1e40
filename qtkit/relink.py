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

The run: `relink_model.build` chooses the links of every page a change could reach; here
each chosen list is compared with the file's, checked and written, the index rows of the
files written are updated and the state (`relink_state`) is saved. The term weights are
frozen in the state until `relink --full`.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections import Counter
from pathlib import Path
from collections.abc import Iterable
from typing import Any

from . import pools
from .document import Document
from .errors import NotFound, Notice, QtkitError
from .files import read_bytes, unified_diff, write_many
from .index import CACHE_DIR, Collection, parse_file
from .locks import collection_lock
from .links import LINK_FIELDS, current_links, links_digest, set_related
from .progress import PhaseProgress
from .related_config import RelatedConfig
from .relink_report import RelinkReport
from .relink_state import STATE_DIR, State, page_stats
from .scan import Listing
from .splice import splice_links

_MANY = 2000  # more lists than this: links resolved from one pass over the index, compared on every core
_CHUNK = 2000  # lists compared per task
WRITERS_PER_CORE = 2
#: the index rows of written files are stored this many at a time: big batches go without
#: a journal (`Collection.put`), small ones each commit to the write-ahead log
PUT_BATCH = 20_000


def _listing_after(files: Listing | None, written: dict[str, tuple[int, int]]) -> str | None:
    """The digest of the listing a run leaves: `files` (its listing before it wrote) with
    the stats of the files it wrote (`written`: {path: (size, mtime)}, stat'ed right after
    each write); None when unknown. Listing again would find it, unless someone else
    changed a file meanwhile (a different digest, which only costs the next run a
    comparison)."""
    if files is None:
        return None
    if not written:
        return files.digest()
    at = {p: i for i, p in enumerate(files.paths)}
    sizes, mtimes = list(files.sizes), list(files.mtimes)
    for p, (size, mtime) in written.items():
        i = at.get(p)
        if i is None:  # a file the listing does not hold
            return None
        sizes[i], mtimes[i] = size, mtime
    return Listing(files.paths, sizes, mtimes).digest()


def _remember_if_complete(folder: Path, state: State, listing: str | None, current: dict[str, tuple[int, int]],
                          written: dict[str, tuple[int, int]]) -> None:
    """After a run that wrote files: when the saved state holds exactly the pages of
    `current` (their stats when the run began) with the stats of the files `written`, and
    no list is left to write, record `listing` (`_listing_after`), so the next run stops
    after listing the files if that is what it finds. No second listing."""
    if listing is None or state.pending.any():
        return
    if state.live_stats() == {**current, **written}:
        State.remember(folder, listing)


def _write_chunk(jobs: list[tuple]) -> list[tuple[str, bool, str, str | None, Any]]:
    """Edit a chunk of files and write the changed ones with one sync (runs in workers);
    a written file comes back with its new index row (body left out: it did not change).

    Files in the house layout are edited as text (`splice_links`), others through
    `Document`; either way the new bytes are parsed again before they are written.
    """
    out: list[tuple[str, bool, str, str | None, Any]] = []
    pending = []
    for path, blocks, dry_run, want_diff, (_, rel) in jobs:
        try:
            raw = read_bytes(path)
            spliced = splice_links(raw, blocks, path)
            if spliced is not None:
                new, data, _, dates = spliced
                parsed = (data, None, dates)
            else:
                doc = set_related(Document(raw, path), blocks)
                new, parsed = (doc.verify() if doc.changed else raw), None
            if new == raw:
                out.append((path, False, "", None, None))
                continue
            out.append((path, True, unified_diff(raw, new, rel) if want_diff else "", None, None))
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


def page_of_url(coll: Collection, url: str) -> dict | None:
    """The id, title, subject and url of the page at `url` as the index has them, or None
    (the one place relink resolves a link; the shared links module can take it over)."""
    record = coll.by_url(url)
    if record is None:
        return None
    return {key: record.data.get(key) for key in LINK_FIELDS}


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



def _blocks(s: State, row: int) -> list[dict]:
    return [{"id": int(s.qids[t]), "title": s.titles[t], "subject": s.subjects[t], "url": s.urls[t]}
            for t in s.links[row].tolist() if t >= 0]



def relink(
    root: str | Path | None = None,
    *,
    collection: Collection | None = None,
    ids: list[int] | None = None,
    targets: Iterable[str | int] | None = None,
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
    frozen ones). `ids` limits the writes to the pages of those questions; `targets`
    (paths, urls or ids, as `Collection.targets` reads them) to those pages (an id: every
    cross-listed copy). `dry_run` writes nothing and keeps up to `keep_diffs` diffs.
    `progress(phase, done, total)` is called through every phase ("read", "vectorize",
    "score", "compare", "write", "save"). A list that breaks an invariant
    (`related.links_errors`) is not written and is reported in `errors`. An id no
    question has, or a target that names no page, raises `NotFound`.
    """
    coll = collection or Collection(root)
    missing = [qid for qid in ids or [] if coll.get(qid) is None]
    if missing:
        raise NotFound(f"no question with id {missing[0]}" + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""))
    pages = None
    if ids or targets:
        chosen = [*(ids or []), *(targets or [])]
        pages = {r.relpath: r.id for target in chosen for r in coll.targets(target, every=True)}
    with collection_lock(coll.root, dry_run=dry_run):
        return _relink(coll, pages, dry_run, full, keep_weights, progress, workers, keep_diffs)


def _relink(coll: Collection, pages: dict[str, int] | None, dry_run: bool, full: bool, keep_weights: bool,
            progress: PhaseProgress | None, workers: int | None, keep_diffs: int) -> RelinkReport:
    start = time.perf_counter()
    tell = progress or (lambda phase, done, total: None)
    refreshed = coll.refresh()
    listing = refreshed.listing
    report = RelinkReport()
    lap = report.lap("index", start)
    workers = workers or os.cpu_count() or 1
    config = RelatedConfig.from_config(coll.config)
    folder = coll.root / CACHE_DIR / STATE_DIR
    if not full and listing is not None and State.listed(folder, config.signature()) == listing:
        report.questions = len(coll)  # nothing to do: the files are as they were when the state was last complete
        report.lap("state", lap)
        report.seconds = time.perf_counter() - start
        return report
    current = page_stats(coll)
    if not full and State.unchanged(folder, config.signature(), current):  # nothing to do: the state is not loaded
        if listing is not None:
            State.remember(folder, listing)
        report.questions = len(current)
        report.lap("state", lap)
        report.seconds = time.perf_counter() - start
        return report
    old = State.load(folder)
    if old is not None and old.config != config.signature():
        old = None
    frozen = old.idf if (old is not None and keep_weights) else None
    if full:
        old = None
    report.full = old is None
    from .relink_model import build, read_pages  # numpy, scipy, scikit-learn: only when there is work

    ids = sorted({qid for qid in pages.values() if type(qid) is int}) if pages is not None else None
    model = build(coll, config, old, frozen, workers, report, progress, ids, current=current)
    lap = time.perf_counter()
    if model is None:  # nothing changed since the state was saved: it is complete for this listing
        if listing is not None and not dry_run:
            State.remember(folder, listing)
        report.seconds = time.perf_counter() - start
        return report
    s = model.state
    rows = [int(r) for r in model.compare if pages is None or s.paths[r] in pages]
    if pages is not None:
        s.pending[[int(r) for r in model.compare if s.paths[r] not in pages]] = True
    need = [s.paths[r] for r in rows if s.paths[r] not in model.loaded]
    datas = {**model.loaded, **read_pages(coll, need, config)[0]} if need else model.loaded
    resolve = _Resolver(coll, many=len(rows) > _MANY)
    jobs = []
    tell("compare", 0, len(rows))
    size = _CHUNK
    parts = [(i, min(i + size, len(rows))) for i in range(0, len(rows), size)]
    many = workers if resolve.many else 1  # the index's connection stays in this process
    done = 0
    for part in pools.process_map(_compare, parts, workers=many, shared=(rows, s, datas, resolve)):
        for r, blocks, problems in part:
            if blocks is None:
                s.pending[r] = False
            elif problems:
                for n, why in problems:
                    link = blocks[n - 1]
                    report.errors.append(f"{s.paths[r]}: related_article{n} -> {link.get('url')!r} {why}; links not written")
                s.pending[r] = True
            else:
                jobs.append((str(coll.root / s.paths[r]), blocks, dry_run, len(jobs) < keep_diffs,
                             (str(coll.root), s.paths[r]), r))
        done += size
        tell("compare", min(done, len(rows)), len(rows))
    tell("compare", len(rows), len(rows))
    lap = report.lap("compare", lap)
    # the front matter read (the largest part of this process) is not used again: the
    # writes reuse its memory (peak 2,092 to 1,826 MiB at 200,000 pages, with the state's
    # vectors saved without a copy)
    del datas, parts, resolve
    model.loaded.clear()
    report.changed, written, failed = _run_writes(jobs, workers, report, keep_diffs, tell, coll.put)
    for job in jobs:
        s.pending[job[5]] = job[5] in failed or dry_run
    for stat, r in written:
        s.stats[r] = stat
    written_stats = {s.paths[r]: (int(stat[0]), int(stat[1])) for stat, r in written}
    lap = report.lap("write", lap)
    if not dry_run:
        tell("save", 0, 1)
        after = _listing_after(refreshed.files, written_stats)
        if after is not None:  # the index's rows are that listing: its next refresh need not load them
            coll.remember_listing(after)
        import numpy as np

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
        else:
            _remember_if_complete(folder, s, after, current, written_stats)
        (coll.root / CACHE_DIR / "related.npz").unlink(missing_ok=True)  # the state of qtkit before pages
        tell("save", 1, 1)
    report.lap("save", lap)
    report.seconds = time.perf_counter() - start
    return report


def _compare(bounds: tuple[int, int]) -> list[tuple[int, list[dict] | None, list[tuple[int, str]]]]:
    """(row, blocks, problems) for rows[lo:hi] whose file was read: blocks None when the file
    already carries its chosen list, else the list and what is wrong with it (runs in
    forked workers when there are many rows)."""
    from .related import links_errors

    rows, s, datas, resolve = pools.shared()  # inherited from the parent, never pickled
    out: list[tuple[int, list[dict] | None, list[tuple[int, str]]]] = []
    for r in rows[bounds[0] : bounds[1]]:
        found = datas.get(s.paths[r])
        if found is None:
            continue
        data, digest = found
        blocks = _blocks(s, r)
        out.append((r, None, []) if digest == links_digest(blocks) else (r, blocks, links_errors(data, blocks, resolve)))
    return out


def _run_writes(jobs: list, workers: int, report: RelinkReport, keep: int, tell: PhaseProgress,
                put: Any) -> tuple[list[str], list[tuple], set[int]]:
    """Edit and write the jobs' files in chunks (on every core when many), handing the
    index rows of the files written to `put` `PUT_BATCH` at a time (then dropped);
    return the changed paths, ((size, mtime), slot) of each file written, and the slots
    that failed."""
    changed: list[str] = []
    written: list[tuple] = []
    failed: set[int] = set()
    size = 256
    chunks = [[j[:5] for j in jobs[i : i + size]] for i in range(0, len(jobs), size)]
    tell("write", 0, len(jobs))
    done = 0
    batch: list[tuple] = []
    # writing waits on the disk (fsync, rename, the old file freed on close) more than it
    # computes: twice as many processes as cores keep the cores busy meanwhile
    # (benchmarks/rewrite_floor.py on 10,000 files: 24 s with 2 processes, 14 s with 4)
    for part in pools.process_map(_write_chunk, chunks, workers=WRITERS_PER_CORE * workers if len(jobs) >= 1000 else 1):
        rows = []
        for job, (path, did, diff, error, row) in zip(jobs[done : done + len(part)], part):
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
                    rows.append(row)
                    written.append(((row[2], row[3]), job[5]))
        batch.extend(rows)
        done += len(part)
        if len(batch) >= PUT_BATCH or (batch and done == len(jobs)):
            put(batch)
            batch = []
        tell("write", done, len(jobs))
    if batch:
        put(batch)
    return changed, written, failed


def __getattr__(name: str) -> Any:
    """`relink.explain` and `relink.related` (from `qtkit.explain`), imported when first used,
    so that a run with nothing to do does not load the scoring libraries."""
    if name in ("explain", "related"):
        from . import explain as explaining

        return getattr(explaining, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RelinkReport", "current_links", "explain", "page_of_url", "related", "relink"]
