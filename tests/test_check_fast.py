"""check's quick paths give what the plain definitions give: link problems through the
per-url `Target`s of `Pages` (and the "link is the correct block" shortcut) against the
plain definition kept here, `key_lines` of wanted keys against the full walk, the row
slices of `located_rows` against every row once, `Pages` made in any order against the
plain loop over pages by id, the findings of one lookup of the link rules against every
rule's function, the --json text against `json.dumps`, and the order of the findings when
the index's storage order is not by path."""

from __future__ import annotations

import json
import random
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtkit import check as checking
from qtkit.check import Finding, findings_of, render
from qtkit.index import Collection
from qtkit.links import LINK_FIELDS, PageRef, Pages, Problem, link_fields, problems, question, related_blocks, text
from qtkit.reader import key_lines
from qtkit.rules import RULES

ROOT = Path(__file__).resolve().parents[1]


def reference_problems(page: PageRef, data: dict, pages: Any) -> list[Problem]:
    """The definition of a correct link as it was written before the quick paths (each
    target resolved and compared field by field), kept as the oracle."""
    out: list[Problem] = []
    seen_pages: set[str] = set()
    seen_ids: set = set()
    seen_urls: set = set()
    for _, key, link in related_blocks(data):
        if not isinstance(link, dict):
            out.append(Problem(key, "incomplete", "", f"{key} is not a mapping of id, title, subject, url", "drop"))
            continue
        target = pages.resolve(link)
        url = link.get("url")
        if isinstance(url, str) and url and url in seen_urls:
            out.append(Problem(key, "repeated", "url", f"{key} links again to a page linked before: {url}", "drop"))
            continue
        seen_urls.add(url)
        if target is None:
            url = link.get("url")
            why = "has no url" if not isinstance(url, str) or not url else f"url {url!r} names no page"
            out.append(Problem(key, "dangling", "url", f"{key} {why}", "drop"))
            continue
        if target.relpath == page.relpath or (question(page) is not None and question(target) == question(page)):
            what = "the page itself" if target.relpath == page.relpath else f"its own cross-listed copy {target.relpath}"
            out.append(Problem(key, "self", "url", f"{key} links to {what}", "drop"))
            continue
        if target.relpath in seen_pages or question(target) in seen_ids:
            what = "page" if target.relpath in seen_pages else f"question (id {target.id})"
            out.append(Problem(key, "repeated", "url", f"{key} links again to a {what} linked before: {target.url}", "drop"))
            continue
        seen_pages.add(target.relpath)
        if target.id is not None:
            seen_ids.add(question(target))
        want = link_fields(target)
        if link.get("id") != want["id"]:
            out.append(Problem(key, "stale-id", "id", f"{key}.id is {link.get('id')!r}, the page its url names has id "
                                                      f"{want['id']!r}", want["id"]))
        for name in ("title", "subject"):
            have = link.get(name)
            if text(have) != want[name] and want[name]:
                out.append(Problem(key, f"stale-{name}", name, f"{key}.{name} is {have!r}, the page its url names has "
                                                                f"{want[name]!r}", want[name]))
        missing = [name for name in LINK_FIELDS if link.get(name) in (None, "")]
        if missing and not any(p.key == key for p in out):
            out.append(Problem(key, "incomplete", missing[0], f"{key} has no {', '.join(missing)}", None))
    return out


class ByResolve:
    """A resolver that is not a `Pages` (as relink's is): `problems` takes its plain path."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def resolve(self, link: Any) -> PageRef | None:
        return self.pages.resolve(link)


IDS = st.one_of(st.none(), st.integers(1, 4), st.sampled_from(["", "2", 2.0, True]))
WORDS = st.sampled_from(["A b", "A  b", " A b", "a B", "", "C", "C\td", None, 7])
URLS = st.sampled_from(["/u/1", "/u/2", "/u/3", "/u/4", "/u/5", "", None, 3])
PAGES = st.lists(st.tuples(IDS, WORDS, WORDS, URLS), min_size=1, max_size=6)


@st.composite
def collections_and_links(draw: Any) -> tuple[list[PageRef], int, dict]:
    rows = draw(PAGES)
    refs = [PageRef(f"p{i}.md", qid, title, subject, url) for i, (qid, title, subject, url) in enumerate(rows)]
    me = draw(st.integers(0, len(refs) - 1))
    links: dict = {}
    for n in range(draw(st.integers(0, 6))):
        key = draw(st.sampled_from([f"related_article{n + 1}", f"related_article0{n + 1}", f"related_article{n + 1}x"]))
        if draw(st.integers(0, 9)) == 0:
            links[key] = draw(st.sampled_from(["not a link", None, ["/u/1"]]))
            continue
        like = refs[draw(st.integers(0, len(refs) - 1))]
        block = dict(link_fields(like)) if draw(st.booleans()) else {}
        for name, values in (("id", IDS), ("title", WORDS), ("subject", WORDS), ("url", URLS)):
            if not block or draw(st.integers(0, 3)) == 0:
                value = draw(values)
                if value is not None or draw(st.booleans()):
                    block[name] = value
        if draw(st.integers(0, 9)) == 0:
            block["extra"] = 1
        links[key] = block
    return refs, me, links


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections_and_links())
def test_link_problems_through_targets_equal_the_plain_definition(case: tuple) -> None:
    refs, me, links = case
    pages = Pages(refs)
    data = {"id": refs[me].id, "title": refs[me].title, **links}
    want = reference_problems(refs[me], data, pages)
    assert problems(refs[me], data, pages) == want
    assert problems(refs[me], data, pages) == want  # again, from the targets worked out the first time
    assert problems(refs[me], data, ByResolve(pages)) == want


def test_a_link_that_is_the_correct_block_has_no_problem_and_a_stale_one_has() -> None:
    pages = Pages([PageRef("a.md", 1, "What is A?", "Maths", "/a"), PageRef("b.md", 2, "What  is B?", "Maths", "/b")])
    page = pages.by_path["a.md"]
    good = {"related_article1": {"id": 2, "title": "What is B?", "subject": "Maths", "url": "/b"}}
    assert problems(page, good, pages) == []
    stale = {"related_article1": {"id": 2, "title": "What is B", "subject": "Maths", "url": "/b"}}
    assert [p.kind for p in problems(page, stale, pages)] == ["stale-title"]
    assert pages.target("/b").block == good["related_article1"] and pages.target("/nowhere") is None


def _keys(prefix: str = "") -> Any:
    names = st.sampled_from(["id", "title", "seo", "related_article1", "url"])
    return st.dictionaries(names, st.recursive(st.integers(), lambda inner: st.dictionaries(names, inner, max_size=3),
                                               max_leaves=6), max_size=5)


def _paths(node: dict, prefix: tuple = ()) -> list[tuple]:
    out: list[tuple] = []
    for key, value in node.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out.extend(_paths(value, (*prefix, key)))
    return out


@settings(max_examples=300, deadline=None)
@given(_keys(), st.data())
def test_key_lines_of_wanted_keys_equal_the_full_walk_filtered(data: dict, draw: Any) -> None:
    paths = _paths(data)
    count = len(paths) + draw.draw(st.sampled_from([0, 0, 0, 1, -1]))  # mostly as many positions as keys
    spots = draw.draw(st.lists(st.tuples(st.integers(1, 90), st.lists(st.integers(0, 9), max_size=2)),
                               min_size=max(count, 0), max_size=max(count, 0)))
    lead = draw.draw(st.sampled_from(["", "", "0,", "-3,"]))
    lines = (lead + ",".join(",".join([str(line), *(f"-{c}" for c in cols)]) for line, cols in spots)).rstrip(",")
    full = key_lines(data, lines)
    wanted = set(draw.draw(st.lists(st.sampled_from(paths + [("nope",), ("seo", "nope"), ()]), max_size=4)))
    got = key_lines(data, lines, wanted)
    assert got == (None if full is None else {p: s for p, s in full.items() if p in wanted})
    if count == len(paths) and not lead:
        assert full is not None and len(full) == len(paths)


def test_located_rows_slices_hold_every_row_once(tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(ROOT / "examples", root)
    coll = Collection(root)
    whole = sorted(coll.located_rows())
    assert len(whole) == len(coll) > 0
    for n in (2, 3, 5):
        assert sorted(row for k in range(n) for row in coll.located_rows((k, n))) == whole



def reference_pages(refs: list[PageRef]) -> tuple[dict, dict, dict]:
    """(by_path, by_url, by_id) as `Pages` made them before: one loop, a list appended to."""
    by_path: dict = {}
    by_url: dict = defaultdict(list)
    by_id: dict = defaultdict(list)
    for page in refs:
        by_path[page.relpath] = page
        if isinstance(page.url, str) and page.url:
            by_url[page.url].append(page)
        if page.id is not None:
            by_id[page.id].append(page)
    return by_path, dict(by_url), dict(by_id)


@settings(max_examples=300, deadline=None)
@given(PAGES, st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 4)), URLS), min_size=1, max_size=12),
       st.randoms(use_true_random=False))
def test_pages_in_any_order_list_shared_urls_and_ids_by_id(rows: list, int_rows: list, rnd: random.Random) -> None:
    refs = [PageRef(f"p{i}.md", qid, title, subject, url) for i, (qid, title, subject, url) in enumerate(rows)]
    pages = Pages(refs)
    assert (pages.by_path, pages.by_url, pages.by_id) == reference_pages(refs)
    refs = [PageRef(f"p{i}.md", qid, "T", "S", url) for i, (qid, url) in enumerate(int_rows)]
    by_id = sorted(refs, key=lambda p: (p.id is None, p.id or 0, p.relpath))  # summaries' ORDER BY
    rnd.shuffle(refs)
    pages = Pages(refs, by_id=False)
    assert (pages.by_path, pages.by_url, pages.by_id) == reference_pages(by_id)


def test_the_link_rules_taken_at_once_find_what_each_rule_finds(tmp_path: Path) -> None:
    from qtkit.rules import RULES, PageFacts
    from qtkit.subjects import subject_registry

    root = tmp_path / "c"
    shutil.copytree(ROOT / "examples", root)
    coll = Collection(root)
    coll.refresh()
    pages = Pages(PageRef._make(row) for row in coll.summaries())
    registry = subject_registry(coll)
    rules = [r for r in RULES.values() if r.scope == "page"]
    refs = list(pages)
    seen = set()
    for i, (rel, text_, _) in enumerate(coll.located_rows()):
        data = {k: v for k, v in json.loads(text_).items() if not k.startswith("related_article")}
        a, b, c = (link_fields(refs[(i + k) % len(refs)]) for k in (1, 2, 3))
        links = [a, dict(b, title="stale"), dict(c, id=-1, subject="x"), a, {"url": "/nowhere"}, "not a link",
                 link_fields(pages.by_path[rel]), {"url": c["url"], "title": ""}]
        data.update({f"related_article{n}": link for n, link in enumerate(links[i % 3:], 1)})
        page = PageFacts(rel, data, pages, registry, coll.config, checking.REQUIRED)
        want = [Finding(rel, 1, 1, rule.code, *hit) for rule in rules for hit in rule.find(page)]
        got = findings_of(PageFacts(rel, data, pages, registry, coll.config, checking.REQUIRED), rules)
        assert sorted(got, key=checking._order) == sorted(want, key=checking._order)
        seen.update(f.code for f in got)
    assert {"QT401", "QT402", "QT403", "QT404", "QT405", "QT406", "QT407"} <= seen


MESSAGES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(MESSAGES, st.integers(1, 10**6), st.integers(1, 999), st.sampled_from(sorted(RULES)),
                          MESSAGES, st.booleans()), max_size=4))
def test_json_output_is_json_dumps_of_the_findings(items: list) -> None:
    findings = [Finding(path, line, col, code, message, fix=[("k", 1)] if fixed else None)
                for path, line, col, code, message, fixed in items]
    assert render(findings, "json") == json.dumps([f.as_json() for f in findings], ensure_ascii=False, indent=1)


def test_findings_are_sorted_when_the_index_is_not_by_path(tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(ROOT / "examples", root)
    Collection(root).refresh()  # the index by path; the files added next come after every row
    for name in ("aaa-first.md", "zzz-last.md", "mmm-middle.md"):
        source = next(root.glob("physics/*.md"))
        (root / "physics" / name).write_text(source.read_text().replace("title:", "title: Other"))
    added = checking.check(root)
    assert added == sorted(added, key=checking._order) and any(f.path.endswith("aaa-first.md") for f in added)
    shutil.rmtree(root / ".qtkit")
    assert [f.text() for f in checking.check(root)] == [f.text() for f in added]


def test_a_link_whose_url_is_a_list_dangles() -> None:
    pages = Pages([PageRef("a.md", 1, "What is A?", "Maths", "/a")])
    found = problems(pages.by_path["a.md"], {"related_article1": {"url": ["/a"], "id": 1}}, pages)
    assert [(p.kind, p.message) for p in found] == [("dangling", "related_article1 has no url")]
