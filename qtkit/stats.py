"""`stats`: the collection at a glance, the Python side of `qtkit stats`.

Pages and questions per subject (a question is an id; a page is a file, so a question
cross-listed under two subjects is two pages), subject spelling variants, cross-listed
questions, related links per page, links whose url names no page, empty answers and
descriptions, the id range and its gaps.

Links are resolved by url, never by id, as `check` resolves them (`qtkit.links`): a page
is identified by its address, and the copies of a cross-listed question share one id.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .derived import subject_key_of
from .index import Collection
from .links import PageRef, Pages, problems, related_blocks
from .shapes import related_links

#: the buckets of the links-per-page histogram (the site shows at most five links)
LINK_BUCKETS = ("0", "1", "2", "3", "4", "5+")


@dataclass
class Stats:
    """What `stats` measured. `members` maps each figure's name to the pages behind it
    (paths), for the dashboard's lists; it is left out of `to_json()`."""

    root: str
    pages: int = 0
    questions: int = 0
    unreadable: int = 0
    subjects: list[dict] = field(default_factory=list)  # {key, pages, questions, spellings: {spelling: pages}}
    variants: int = 0  # subjects spelled more than one way
    cross_listed: dict = field(default_factory=dict)  # {questions, pages}
    links_per_page: dict[str, int] = field(default_factory=dict)
    links: dict = field(default_factory=dict)  # {total, resolved, dangling, stale_title, stale_subject}
    empty: dict = field(default_factory=dict)  # {answer, description}
    ids: dict = field(default_factory=dict)  # {min, max, distinct, missing, nonpositive, gaps, gap_ids, largest_gaps}
    members: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        """The figures as JSON-ready data (no page lists)."""
        return {"root": self.root, "pages": self.pages, "questions": self.questions, "unreadable": self.unreadable,
                "subjects": self.subjects, "variants": self.variants, "cross_listed": self.cross_listed, "links_per_page": self.links_per_page,
                "links": self.links, "empty": self.empty, "ids": self.ids}


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def _selected(coll: Collection, where: Iterable[str | tuple[str, str]] | None) -> Iterable[tuple[str, dict]]:
    """(path, front matter) of the pages `where` selects (all of them by default)."""
    if not where:
        return ((rel, orjson.loads(text)) for rel, text, _ in coll.json_rows())
    from .query import select

    conditions = list(where)
    return ((r.relpath, r.data) for r in select(coll, where=conditions))


def stats(root: str | Path | None = None, *, where: Iterable[Any] | None = None,
          collection: Collection | None = None, pages: Pages | None = None) -> Stats:
    """Measure the collection at `root` (or the given `collection`), or only the pages
    `where` selects (`["subject=Physics"]` or `[("subject", "Physics")]`, as `export
    --where`). Links are resolved by url against the whole collection (`pages`, default:
    every page of the index), as `check` resolves them. Raises `EditError` for a malformed
    condition and `ConfigError` for a bad root."""
    coll = collection or Collection(root)
    coll.refresh()
    pages = pages or Pages(PageRef(*row) for row in coll.summaries())
    subject_key = functools.lru_cache(maxsize=4096)(subject_key_of)
    out = Stats(root=str(coll.root), unreadable=len(coll.errors()))
    members: dict[str, list[str]] = defaultdict(list)
    subject_pages: dict[str, Counter] = defaultdict(Counter)
    subject_ids: dict[str, set] = defaultdict(set)
    ids: Counter = Counter()
    histogram = Counter()
    links = Counter()
    chosen: list[str] = []
    for rel, data in _selected(coll, where):
        chosen.append(rel)
        qid = data.get("id")
        subject = data.get("subject") if isinstance(data.get("subject"), str) else ""
        key = subject_key(subject) if subject else ""
        subject_pages[key][subject] += 1
        members[f"subject:{key}"].append(rel)
        if isinstance(qid, int) and not isinstance(qid, bool):
            ids[qid] += 1
            subject_ids[key].add(qid)
        else:
            members["ids:missing"].append(rel)
        if _blank(data.get("answer")):
            members["empty:answer"].append(rel)
        seo = data.get("seo") if isinstance(data.get("seo"), dict) else {}
        if _blank(seo.get("page_description")):
            members["empty:description"].append(rel)
        blocks = related_links(data)
        bucket = LINK_BUCKETS[min(len(blocks), 5)]
        histogram[bucket] += 1
        members[f"links:{bucket}"].append(rel)
        links["total"] += len(blocks)
        page = pages.by_path.get(rel) or PageRef(rel, qid, data.get("title"), data.get("subject"), data.get("url"))
        kinds: dict[str, set] = defaultdict(set)
        for problem in problems(page, data, pages):
            kinds[problem.key].add(problem.kind)
        for _, key, _ in related_blocks(data):
            if "dangling" in kinds[key]:
                links["dangling"] += 1
                members["links:dangling"].append(rel)
                continue
            links["resolved"] += 1
            for name in ("stale_title", "stale_subject"):
                if name.replace("_", "-") in kinds[key]:
                    links[name] += 1
                    members[f"links:{name}"].append(rel)
    out.pages = len(chosen)
    out.questions = len(ids)
    for key in sorted(subject_pages, key=lambda k: (-sum(subject_pages[k].values()), k)):
        spellings = subject_pages[key]
        out.subjects.append({"key": key, "pages": sum(spellings.values()), "questions": len(subject_ids[key]),
                             "spellings": dict(spellings.most_common())})
        if len(spellings) > 1:
            members["subjects:variants"].extend(members[f"subject:{key}"])
    out.variants = sum(1 for s in out.subjects if len(s["spellings"]) > 1)
    shared = {qid for qid in ids if len(pages.by_id.get(qid, ())) > 1}
    qids = {rel: page.id for rel, page in pages.by_path.items()}
    members["cross_listed"] = [rel for rel in chosen if qids.get(rel) in shared]
    out.cross_listed = {"questions": len(shared), "pages": len(members["cross_listed"])}
    out.links_per_page = {bucket: histogram.get(bucket, 0) for bucket in LINK_BUCKETS}
    out.links = {name: links.get(name, 0) for name in ("total", "resolved", "dangling", "stale_title", "stale_subject")}
    for name in ("links:dangling", "links:stale_title", "links:stale_subject"):
        members[name] = list(dict.fromkeys(members[name]))
    out.empty = {"answer": len(members["empty:answer"]), "description": len(members["empty:description"])}
    out.ids = _id_summary(sorted(ids), len(members["ids:missing"]))
    members["ids:nonpositive"] = [rel for rel in chosen if isinstance(qids.get(rel), int) and qids[rel] <= 0]
    members["all"] = chosen
    out.members = dict(members)
    return out


def _id_summary(ids: list[int], missing: int) -> dict:
    """Range, gaps (missing ids between the lowest positive and the highest) and the largest gaps."""
    positive = [i for i in ids if i > 0]
    runs = [(a + 1, b - 1) for a, b in zip(positive, positive[1:]) if b - a > 1]
    largest = sorted(runs, key=lambda r: (-(r[1] - r[0]), r[0]))[:5]
    return {"min": ids[0] if ids else None, "max": ids[-1] if ids else None, "distinct": len(ids),
            "missing": missing, "nonpositive": len(ids) - len(positive), "gaps": len(runs),
            "gap_ids": sum(b - a + 1 for a, b in runs),
            "largest_gaps": [{"from": a, "to": b, "ids": b - a + 1} for a, b in largest]}
