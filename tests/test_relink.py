"""relink: valid links, stability, only related lines change, styles, --check, quality."""

from __future__ import annotations

import os

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import qtkit
from qtkit.cli import app
from qtkit.files import write_many
from qtkit.index import Collection
from qtkit.relink import current_links, related, relink
from qtkit.shapes import RELATED
from benchmarks.synthetic import generate

from .conftest import REAL, copy_writable, needs_shared, ex

runner = CliRunner()


def _mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*.md") if ".qtkit" not in p.parts}


def _without_related(raw: bytes) -> bytes:
    doc = qtkit.loads(raw)
    for key in [k for k in doc.keys() if RELATED.match(k)]:
        doc.delete(key)
    return doc.dumps()


@pytest.fixture
def mixed(tmp_path: Path, collection: Path) -> Path:
    """Examples plus the real corpus (when present) in one collection."""
    for path in REAL:
        if path.suffix == ".md":
            copy_writable(path, collection / path.name)
    return collection


def test_links_are_valid_and_mirror_their_targets(mixed: Path) -> None:
    relink(mixed)
    coll = Collection(mixed)
    by_url = {r.url: r for r in coll}  # a link names its target page by url (ids are shared by copies)
    for record in coll:
        links = current_links(record.data)
        ids = [link["id"] for link in links]
        assert len(ids) == len(set(ids)) and record.id not in ids
        assert len(links) <= 5
        for link in links:
            target = by_url[link["url"]]  # never dangling
            assert link == {k: target.data[k] for k in ("id", "title", "subject", "url")}
            assert " ".join(link["title"].split()).casefold() != " ".join(record.data["title"].split()).casefold()


def test_second_run_changes_nothing(mixed: Path) -> None:
    relink(mixed)
    before = _mtimes(mixed)
    report = relink(mixed)
    assert report.written == 0 and report.changed == []
    assert _mtimes(mixed) == before
    full = relink(mixed, full=True)  # scoring everything again gives the same links
    assert full.written == 0 and _mtimes(mixed) == before


@needs_shared
def test_only_related_lines_change_on_real_files(tmp_path: Path) -> None:
    for path in REAL:
        if path.suffix == ".md":
            copy_writable(path, tmp_path / path.name)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.md")}
    report = relink(tmp_path)
    assert report.written > 0 and not report.errors
    for path in tmp_path.glob("*.md"):
        assert _without_related(path.read_bytes()) == _without_related(before[path.name]), path.name


def _question(qid: int, title: str, folded: bool, related: list[tuple[int, str]] | None = None) -> str:
    head = f"title: >-\n    {title}\n" if folded else f"title: {title}\n"
    text = (f"---\nid: {qid}\n{head}seo:\n  page_keywords: >-\n    quasar, pulsar, nebula\n"
            f"question: >-\n    {title}\nanswer: >-\n    Quasars and pulsars and nebulae are stars.\n"
            f"subject: Physics\nfile_name: q{qid}.md\nurl: /learn/physics/questions/q{qid}\n")
    for n, (rid, rtitle) in enumerate(related or [], 1):
        text += f"related_article{n}:\n    id: {rid}\n    title: >-\n        {rtitle}\n    subject: Physics\n    url: /x\n"
    return text + "---\n\n&nbsp;"


def test_new_blocks_follow_the_file_style(tmp_path: Path) -> None:
    (tmp_path / "qtkit.toml").write_text("[related]\nnear_duplicate = 1\n")  # the three are near-duplicates
    (tmp_path / "1.md").write_text(_question(1, "What is a quasar?", folded=False))
    (tmp_path / "2.md").write_text(_question(2, "What is a pulsar?", folded=True))
    (tmp_path / "3.md").write_text(_question(3, "What is a nebula?", folded=False, related=[(1, "Old title")]))
    relink(tmp_path)
    one, two, three = ((tmp_path / f"{i}.md").read_text() for i in (1, 2, 3))
    assert "    id: 2\n    title: What is a pulsar?\n" in one and "title: >-\n        " not in one  # plain, like its title
    assert "    id: 1\n    title: >-\n        What is a quasar?\n" in two  # folded, like its title
    # file 3's title is plain, but it already has a folded related block: new blocks follow that block
    assert three.count("    title: >-\n        ") == 2 and "    id: 2\n    title: >-\n        What is a pulsar?\n" in three
    assert "url: /x" not in three  # stale link metadata replaced


def test_surplus_and_bad_blocks_are_removed(tmp_path: Path) -> None:
    (tmp_path / "qtkit.toml").write_text("[related]\nnear_duplicate = 1\n")
    related = [(9, "Gone"), (9, "Gone again"), (1, "Self"), (2, "x"), (2, "y"), (2, "z")]
    (tmp_path / "1.md").write_text(_question(1, "What is a quasar?", folded=True, related=related))
    (tmp_path / "2.md").write_text(_question(2, "What is a pulsar?", folded=True))
    relink(tmp_path)
    data = qtkit.load(tmp_path / "1.md").to_dict()
    assert [link["id"] for link in current_links(data)] == [2]
    assert "related_article2" not in data and "related_article6" not in data


def test_check_exit_codes_and_json(mixed: Path) -> None:
    result = runner.invoke(app, ["relink", "--check", "--root", str(mixed)])
    assert result.exit_code == 1 and ex(101) in result.stdout
    before = _mtimes(mixed)
    assert _mtimes(mixed) == before  # --check writes nothing
    assert runner.invoke(app, ["relink", "--root", str(mixed)]).exit_code == 0
    result = runner.invoke(app, ["relink", "--check", "--json", "--root", str(mixed)])
    assert result.exit_code == 0 and '"changed": 0' in result.stdout


def test_dry_run_prints_diffs_of_given_ids(collection: Path) -> None:
    before = _mtimes(collection)
    result = runner.invoke(app, ["relink", "101", "102", "--dry-run", "--root", str(collection)])
    assert result.exit_code == 0 and "+++ b/" + ex(101) in result.stdout and "+++ b/" + ex(105) not in result.stdout  # headed by the path from the root
    assert _mtimes(collection) == before


def test_empty_questions_never_crash(tmp_path: Path) -> None:
    for qid in (1, 2, 3):
        (tmp_path / f"{qid}.md").write_text(f"---\nid: {qid}\ntitle: ''\nsubject: ''\n---\n")
    (tmp_path / "4.md").write_text(_question(4, "What is a quasar?", folded=False))
    report = relink(tmp_path)
    assert not report.errors
    again = relink(tmp_path)
    assert again.written == 0


def test_incremental_relink_rewrites_only_what_changes(tmp_path: Path) -> None:
    generate(tmp_path, 600, seed=5)
    relink(tmp_path)
    top = Collection(tmp_path).max_id()
    generate(tmp_path, 10, seed=77, topics=15, start_id=top + 1, topic_seed=5)
    report = relink(tmp_path)
    assert not report.full and 10 <= report.written < 200
    coll = Collection(tmp_path)
    assert all(current_links(coll.get(qid).data) for qid in range(top + 1, coll.max_id() + 1) if coll.get(qid))
    assert relink(tmp_path).written == 0


def test_quality_on_planted_topics(tmp_path: Path) -> None:
    truth = generate(tmp_path, 2000, seed=9)
    (tmp_path / "qtkit.toml").write_text("[related]\nnear_duplicate = 1\n")  # one topic's pages share every word
    relink(tmp_path)
    hits = total = 0
    for record in Collection(tmp_path):
        for link in current_links(record.data):
            total += 1
            hits += truth[link["id"]] == truth[record.id]
    assert total > 5000 and hits / total >= 0.9


def test_related_api(collection: Path) -> None:
    links = related(Collection(collection), 108, k=3)
    assert 1 <= len(links) <= 3 and 108 not in [link["id"] for link in links]
    assert links[0]["id"] == 109  # the other question about the Roman empires


def test_write_many_refuses_a_file_changed_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    real_fsync = os.fsync
    calls = []

    def fsync_and_edit(fd: int) -> None:  # someone edits b while qtkit is between staging and renaming
        real_fsync(fd)
        calls.append(fd)
        if len(calls) == 2:  # b's temp file
            b.write_bytes(b"edited by hand, longer")

    monkeypatch.setattr(os, "fsync", fsync_and_edit)
    monkeypatch.setattr(os, "sync", lambda: pytest.fail("a machine-wide sync"))
    errors = write_many([(a, b"new a", b"old a"), (b, b"new b", b"old b")])
    assert errors[0] is None and errors[1] is not None and "changed on disk" in str(errors[1])
    assert a.read_bytes() == b"new a" and b.read_bytes() == b"edited by hand, longer"
    assert [p.name for p in tmp_path.iterdir()] == sorted(["a.md", "b.md"]) or len(list(tmp_path.iterdir())) == 2


def test_write_many_refuses_a_file_changed_or_removed_before_it_starts(tmp_path: Path) -> None:
    """The bytes are compared once, under the file's lock: a file that already differs from
    what was read is not overwritten, and one removed is not created again."""
    a, b, c = tmp_path / "a.md", tmp_path / "b.md", tmp_path / "c.md"
    a.write_bytes(b"edited by hand")
    b.write_bytes(b"old b")
    errors = write_many([(a, b"new a", b"old a"), (b, b"new b", b"old b"), (c, b"new c", b"old c")])
    assert "changed on disk" in str(errors[0]) and errors[1] is None and "removed" in str(errors[2])
    assert a.read_bytes() == b"edited by hand" and b.read_bytes() == b"new b" and not c.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md"]  # no temp file left


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
       | st.text(st.sampled_from("abcdeTHE and-x9_ \n.'"), max_size=80))
def test_words_are_what_scikit_learn_would_count(text: str) -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    from qtkit.related import _TOKENS, words

    analyzer = HashingVectorizer(token_pattern=_TOKENS, stop_words="english").build_analyzer()
    assert words(text) == analyzer(text)


@pytest.mark.parametrize("bulk", [False, True])
def test_cache_matches_the_files_after_a_relink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool) -> None:
    """The index rows relink stores (front matter re-read, body kept) equal a fresh read."""
    import qtkit.index as index
    from qtkit.reader import read

    if bulk:
        monkeypatch.setattr(index, "_BULK_ROWS", 1)
    generate(tmp_path, 300, seed=11)
    (tmp_path / "odd.md").write_text("---\nid: 999\ntitle: Odd one\nscore: 1\nrelated_article1:\n  id: 1\n"
                                     "# a comment\n  title: x\n---\nBody\n")  # takes the Document path
    report = relink(tmp_path)
    assert report.written > 250
    coll = Collection(tmp_path)
    for record in coll:
        data, body = read(record.path.read_bytes())
        assert record.data == data and record.body == body
    assert coll.refresh().parsed == 0  # every row already up to date
    assert dict(coll._db.execute("SELECT key, value FROM meta"))["state"] == "ready"


def test_two_questions_with_one_title_are_never_both_linked(tmp_path: Path) -> None:
    generate(tmp_path, 80, seed=21)
    (tmp_path / "qtkit.toml").write_text("[related]\nnear_duplicate = 1\n")  # one topic's pages share every word
    first = sorted(tmp_path.glob("*.md"))[0]
    twin = qtkit.load(first)
    qid = twin["id"]
    twin["id"] = 9005
    twin["url"] = "/learn/x/questions/a-twin"
    twin.save(tmp_path / "9005.md")
    relink(tmp_path)
    title = twin["title"]
    for record in Collection(tmp_path):
        titles = [link["title"] for link in current_links(record.data)]
        assert len(titles) == len(set(titles)), record.path
        if record.id in (qid, 9005):
            assert title not in titles
    linked = [r for r in Collection(tmp_path) if any(link["id"] in (qid, 9005) for link in current_links(r.data))]
    assert linked  # the pair is still linked to, once per file


# ------------------------------------------------------------------ pages, invariants, incremental == full

from qtkit.related import RelatedConfig, links_errors  # noqa: E402
from qtkit.relink import explain  # noqa: E402
from qtkit.slugs import slug  # noqa: E402
from benchmarks.synthetic import render_question  # noqa: E402

_VOCAB = ("quasar pulsar nebula galaxy photon quantum enzyme protein genome neuron synapse cortex market "
          "inflation tariff monetary empire dynasty treaty senate algebra matrix vector theorem").split()
_SUBJECTS = ("Physics", "Biology", "Economics", "History of the World")
_SMALL = "[related]\nhead_max_df = 3\nbody_max_df = 4\ncandidates = 4\nnear_duplicate = 0.7\nmin_score = 0.05\n"


def _page_file(root: Path, qid: int, title: str, subject: str, words: list[str]) -> Path:
    """Write one page in the site's layout (content/learn/<subject>/<slug>.md); return its path."""
    folder = root / "learn" / slug(subject)
    folder.mkdir(parents=True, exist_ok=True)
    answer = " ".join(words * 2)
    text = render_question(qid, title, subject, answer, f"About {' '.join(words[:2])}.", ", ".join(words[:3]), [],
                           folded=qid % 2 == 0)
    path = folder / f"{slug(title)}.md"
    path.write_text(text, encoding="utf-8")
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.md"))}


_OPS = st.lists(st.tuples(st.sampled_from(["edit", "new", "remove", "subject", "rename", "copy"]),
                          st.integers(0, 10**6), st.lists(st.sampled_from(_VOCAB), min_size=2, max_size=5)),
                min_size=1, max_size=5)


@settings(max_examples=20, deadline=None)
@given(ops=_OPS, seed=st.integers(0, 1000))
def test_incremental_equals_full_with_frozen_weights(tmp_path_factory: pytest.TempPathFactory, ops: list,
                                                     seed: int) -> None:
    """After every edit, new page, removal, subject change, rename or cross-listed copy,
    the incremental run writes exactly the bytes a full run with the same frozen term
    weights writes (candidate caps and the candidate cut small enough to matter)."""
    import random
    import shutil

    rng = random.Random(seed)
    base = tmp_path_factory.mktemp("inc")
    a = base / "a"
    a.mkdir()
    (a / "qtkit.toml").write_text(_SMALL)
    pages: dict[Path, tuple[int, str, str, list[str]]] = {}
    for qid in range(1, 13):
        words = rng.sample(_VOCAB, 4)
        title = f"What links {words[0]} and {words[1]} ({qid})?"
        subject = rng.choice(_SUBJECTS)
        pages[_page_file(a, qid, title, subject, words)] = (qid, title, subject, words)
    relink(a)
    next_id = 100
    for op, pick, words in ops:
        keys = sorted(pages)
        path = keys[pick % len(keys)]
        qid, title, subject, old_words = pages[path]
        if op == "edit":
            pages[_page_file(a, qid, title, subject, words + old_words[:1])] = (qid, title, subject, words + old_words[:1])
        elif op == "new":
            next_id += 1
            t = f"Why {words[0]} and {words[-1]} ({next_id})?"
            pages[_page_file(a, next_id, t, _SUBJECTS[pick % 4], words)] = (next_id, t, _SUBJECTS[pick % 4], words)
        elif op == "remove" and len(pages) > 3:
            path.unlink()
            del pages[path]
        elif op in ("subject", "rename", "copy"):
            new_subject = _SUBJECTS[(_SUBJECTS.index(subject) + 1) % 4] if op != "rename" else subject
            new_title = f"{title[:-1]} {words[0]}?" if op == "rename" else title
            target = a / "learn" / slug(new_subject) / f"{slug(new_title)}.md"
            if target in pages:
                continue
            if op != "copy":
                path.unlink()
                del pages[path]
            pages[_page_file(a, qid, new_title, new_subject, old_words)] = (qid, new_title, new_subject, old_words)
        b = base / f"b{len(list(base.iterdir()))}"
        shutil.copytree(a, b)
        inc = relink(a)
        full = relink(b, full=True, keep_weights=True)
        assert not inc.errors and not full.errors and not inc.full and full.full
        assert _tree(a) == _tree(b)
        shutil.rmtree(b)
    for record in Collection(a):
        assert not links_errors(record.data, current_links(record.data), _resolver(a))


def _resolver(root: Path):  # noqa: ANN202
    coll = Collection(root)
    return lambda url: (lambda r: r and {k: r.data.get(k) for k in ("id", "title", "subject", "url")})(coll.by_url(url))


def test_link_error_is_the_one_definition() -> None:
    """relink's check before writing is qtkit.links.problems, which check reports with."""
    page = {"id": 1, "title": "P", "url": "/a"}
    target = {"id": 2, "title": "T", "subject": "S", "url": "/b"}
    pages = {"/a": page, "/b": target, "/c": {**target, "url": "/c"}}

    def errors(*links: dict) -> list[tuple[int, str]]:
        return links_errors(page, list(links), pages.get)

    assert errors(dict(target)) == []
    assert "no url" in errors({**target, "url": ""})[0][1]
    assert "names no page" in errors({**target, "url": "/gone"})[0][1]
    assert "itself" in errors({**target, "url": "/a"})[0][1]
    pages["/d"] = {**target, "id": 1, "title": "P", "url": "/d"}  # a cross-listed copy: same id and title
    assert "copy" in errors({**target, "id": 1, "title": "P", "url": "/d"})[0][1]
    assert "title" in errors({**target, "title": "Old"})[0][1]
    [(n, why)] = errors(dict(target), {**target, "url": "/c"})
    assert n == 2 and "question (id 2)" in why


def test_a_wrong_link_is_refused_never_written(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qtkit.relink as rl

    real = rl._blocks

    def broken(s, row):  # noqa: ANN001, ANN202 - a bug in the choice: an empty url
        return [{**b, "url": ""} for b in real(s, row)]

    monkeypatch.setattr(rl, "_blocks", broken)
    before = _tree(collection)
    report = relink(collection)
    assert report.errors  # every page given a link is refused; a page left with no link may be written
    assert all("url: ''" not in p.read_text() for p in collection.rglob("*.md"))
    assert f"{ex(101)}: related_article1 -> '' has no url; links not written" in report.errors
    after = _tree(collection)
    assert {k for k in before if after.get(k) != before[k]} <= set(report.changed) - {e.split(":")[0] for e in report.errors}
    result = runner.invoke(app, ["relink", "--root", str(collection)])
    assert result.exit_code == 1 and "has no url" in result.stderr


def test_keyword_edit_then_relink_never_writes_an_empty_url(collection: Path) -> None:
    """Issue 13 / case 17: relink, `qtkit set 112 seo.page_keywords=x`, relink."""
    assert runner.invoke(app, ["relink", "--root", str(collection)]).exit_code == 0
    assert runner.invoke(app, ["set", "112", "seo.page_keywords=x", "--root", str(collection)]).exit_code == 0
    result = runner.invoke(app, ["relink", "--root", str(collection)])
    assert result.exit_code == 0, result.output
    resolve = _resolver(collection)
    for path in collection.glob("*.md"):
        assert "url: ''" not in path.read_text() and 'url: ""' not in path.read_text()
        data = qtkit.load(path).to_dict()
        assert not links_errors(data, current_links(data), resolve), path.name


def test_relink_and_check_agree(mixed: Path) -> None:
    from qtkit import check

    relink(mixed)
    assert [f.text() for f in check.check(mixed, select=["QT02"])] == []
    target = sorted(p for p in mixed.rglob("*.md") if ".qtkit" not in p.parts)[0]  # a hand edit makes a link stale: check sees it, relink repairs it
    doc = qtkit.load(target)
    doc.set("related_article1.title", "Something else")
    doc.save()
    assert [f.code for f in check.check(mixed, select=["QT02"])] == ["QT405"]  # QT023 became QT405/QT406
    assert relink(mixed).written == 1
    assert check.check(mixed, select=["QT02"]) == []
    assert runner.invoke(app, ["relink", "--check", "--root", str(mixed)]).exit_code == 0


def test_cross_listed_copies_are_never_linked_to_each_other(tmp_path: Path) -> None:
    words = ["quasar", "pulsar", "nebula", "galaxy"]
    one = _page_file(tmp_path, 7, "What is a quasar pulsar?", "Physics", words)
    two = _page_file(tmp_path, 7, "What is a quasar pulsar?", "Biology", words)  # the same question, cross-listed
    for qid in (8, 9, 10):
        _page_file(tmp_path, qid, f"Why is a quasar pulsar {qid}?", ("Physics", "Biology")[qid % 2], words[::-1])
    relink(tmp_path)
    coll = Collection(tmp_path)
    for record in coll:
        links = current_links(record.data)
        assert len({link["id"] for link in links}) == len(links)
        assert all(link["url"] != record.data["url"] for link in links)
        if record.data["id"] == 7:
            assert 7 not in [link["id"] for link in links] and links
    linked = [link["url"] for r in coll if r.data["id"] != 7 for link in current_links(r.data) if link["id"] == 7]
    assert linked and set(linked) <= {qtkit.load(one)["url"], qtkit.load(two)["url"]}


def test_near_duplicates_fill_one_slot_and_weak_slots_stay_empty(tmp_path: Path) -> None:
    law = ["faraday", "induction", "flux", "coil", "magnet", "voltage"]
    _page_file(tmp_path, 1, "What is Faraday's law?", "Physics", law)
    for qid, t in ((2, "State Faraday's law of induction."), (3, "Explain Faraday's law of induction."),
                   (4, "Describe Faraday's law of induction.")):
        _page_file(tmp_path, qid, t, "Physics", law[1:] + law[:1])  # rewordings of one question
    _page_file(tmp_path, 5, "How does a transformer use a coil?", "Physics", ["transformer", "coil", "voltage", "winding"])
    _page_file(tmp_path, 6, "Why did the empire fall?", "History of the World", ["empire", "senate", "legion", "tax"])
    _page_file(tmp_path, 7, "What ended the empire?", "History of the World", ["empire", "senate", "barbarian", "tax"])
    relink(tmp_path)
    coll = Collection(tmp_path)
    links = [link["id"] for link in current_links(coll.get(1).data)]
    assert len([i for i in links if i in (2, 3, 4)]) == 1 and 5 in links  # one rewording, then the next topic
    assert not {6, 7} & set(links)  # nothing from an unrelated subject fills the free slots


def test_explain_prints_scores_and_words(collection: Path) -> None:
    result = runner.invoke(app, ["relink", "--explain", "108", "--json", "--root", str(collection)])
    assert result.exit_code == 0, result.output
    import json

    found = json.loads(result.stdout)
    assert found["id"] == 108 and found["links"][0]["id"] == 109
    assert found["links"][0]["score"] > 0 and "empire" in [w for w, _ in found["links"][0]["words"]]
    text = runner.invoke(app, ["relink", "--explain", "108", "--root", str(collection)])
    assert text.exit_code == 0 and "109" in text.stdout and "empire" in text.stdout
    assert runner.invoke(app, ["relink", "--explain", "999999", "--root", str(collection)]).exit_code == 1
    assert explain(Collection(collection), ex(108))["links"] == found["links"]


def test_progress_covers_every_phase_and_no_machine_wide_sync(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sync", lambda: pytest.fail("a machine-wide sync"))
    seen: list[tuple[str, int, int]] = []
    relink(collection, progress=lambda phase, done, total: seen.append((phase, done, total)))
    phases = [p for p, _, _ in seen]
    assert {"read", "vectorize", "score", "compare", "write", "save"} <= set(phases)
    writes = [(done, total) for phase, done, total in seen if phase == "write"]
    assert writes[0][0] == 0 and writes[-1][0] == writes[-1][1] > 0  # from none to every file that changes


def test_state_is_appended_not_rewritten(tmp_path: Path) -> None:
    generate(tmp_path, 300, seed=5)
    relink(tmp_path)
    folder = tmp_path / ".qtkit" / "related"
    base = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.name.startswith(("base-", "weights-"))}
    top = Collection(tmp_path).max_id()
    generate(tmp_path, 3, seed=78, topics=7, start_id=top + 1, topic_seed=5)
    relink(tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.name.startswith(("base-", "weights-"))}
    assert after == base and any(p.name.startswith("delta-") for p in folder.iterdir())
    full = tmp_path.parent / "again"
    import shutil

    shutil.copytree(tmp_path, full)
    assert relink(full, full=True, keep_weights=True).written == 0  # base + delta == a fresh full run


def test_config_rejects_unknown_settings(tmp_path: Path) -> None:
    from qtkit.config import load_config
    from qtkit.errors import ConfigError

    (tmp_path / "qtkit.toml").write_text("[related]\nmax_df = 0.01\n")
    with pytest.raises(ConfigError, match="max_df"):
        RelatedConfig.from_config(load_config(tmp_path))


def test_a_state_that_cannot_be_saved_is_a_notice_not_a_failure(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import warnings

    import qtkit.relink as rl
    from qtkit.errors import Notice

    def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - a full disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rl.State, "save", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = relink(collection)
    assert report.written and not report.errors
    assert any(isinstance(w.message, Notice) and "could not be saved" in str(w.message) for w in caught)
    assert not (collection / ".qtkit" / "related").exists()


def test_nothing_to_do_reads_only_the_state_stats(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with nothing to do never loads the whole state (vectors, links, texts); any
    change, or a list not written yet, still runs."""
    from qtkit.relink_state import State

    relink(collection)
    real = State.load
    loads = []
    monkeypatch.setattr(State, "load", classmethod(lambda cls, folder: loads.append(folder) or real(folder)))
    report = relink(collection)
    assert report.written == 0 and loads == [] and report.questions > 0
    path = sorted(collection.rglob("*.md"))[0]
    path.write_bytes(path.read_bytes().replace(b"\nanswer: ", b"\nanswer: Quasars. ", 1))
    relink(collection)
    assert len(loads) == 1
    assert relink(collection, ids=[101], dry_run=True).written == 0 and len(loads) == 1


def test_nothing_to_do_after_a_run_only_lists_the_files(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that wrote files records the listing it left; the next run with nothing to
    do compares only that digest (not even the state's stats), and any change on disk
    since, by anyone, makes a run compare and score again."""
    import os

    from qtkit.relink_state import State

    relink(collection, full=True)
    calls = []
    real = State.unchanged
    monkeypatch.setattr(State, "unchanged", staticmethod(lambda *a: calls.append(a) or real(*a)))
    again = relink(collection)
    assert again.written == 0 and again.scored == 0 and calls == [] and again.questions > 0
    path = sorted(p for p in collection.rglob("*.md") if ".qtkit" not in p.parts)[0]
    before = path.read_bytes()
    path.write_bytes(before.replace(b"\nanswer: ", b"\nanswer: Quasars. ", 1))  # a hand edit: new size and mtime
    edited = relink(collection)
    assert calls and edited.scored > 0
    st = path.stat()
    path.write_bytes(before)  # back to the same size, with a new mtime
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert relink(collection).scored > 0


def test_a_run_that_writes_lists_the_files_once_and_records_what_it_leaves(collection: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that writes files does not list them again to learn the listing it leaves (its
    first listing with the stats of the files it wrote): the state and the index both
    record that digest, so the next run's refresh loads no row and the run stops there."""
    import sqlite3

    import orjson

    import qtkit.index as ix

    scans = []
    real = ix.scan
    monkeypatch.setattr(ix, "scan", lambda *a: scans.append(a) or real(*a))
    for full in (True, False):
        path = sorted(p for p in collection.rglob("*.md") if ".qtkit" not in p.parts)[1]
        path.write_bytes(_without_related(path.read_bytes()))  # a hand edit the run puts back
        scans.clear()
        report = relink(collection, full=full)
        assert report.written > 0 and len(scans) == 1
        with sqlite3.connect(collection / ".qtkit" / "index.sqlite") as db:
            kept = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('changes', 'listing')"))
        listing = Collection(collection).refresh().listing  # what listing the files again finds
        assert kept["listing"] == f"{kept['changes']}:{listing}"
        assert orjson.loads((collection / ".qtkit" / "related" / "meta.json").read_bytes())["listing"] == listing
        assert relink(collection).scored == 0


def test_nothing_to_do_without_a_listing_reads_no_part_of_the_state(collection: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """When no listing was recorded, a run with nothing to do compares the files' stats
    with the digest `meta.json` keeps (no part of the state is opened); a file with a new
    mtime and the same size still makes a run read it again."""
    import numpy
    import orjson

    relink(collection, full=True)
    meta = collection / ".qtkit" / "related" / "meta.json"

    def forget() -> None:
        meta.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(meta.read_bytes()).items() if k != "listing"}))

    forget()
    opened = []
    real = numpy.load
    monkeypatch.setattr(numpy, "load", lambda *a, **k: opened.append(a) or real(*a, **k))
    again = relink(collection)
    assert again.written == 0 and again.scored == 0 and again.questions > 0 and opened == []
    assert "listing" in orjson.loads(meta.read_bytes())  # and it is recorded for the next run
    forget()
    path = sorted(p for p in collection.rglob("*.md") if ".qtkit" not in p.parts)[0]
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same size, new mtime
    touched = relink(collection)
    assert "read" in touched.phases and opened


def test_a_state_of_word_counts_is_read_as_vectors(tmp_path: Path) -> None:
    """The state keeps each page's vector; one saved by an older qtkit (word counts, no
    `vectors` flag) is vectorized when loaded, and the next save is a base of vectors."""
    import numpy as np
    import orjson

    from qtkit.related import counts
    from qtkit.related_config import RelatedConfig
    from qtkit.relink_model import read_pages
    from qtkit.relink_state import State

    generate(tmp_path, 120, seed=9)
    relink(tmp_path, full=True)
    folder = tmp_path / ".qtkit" / "related"
    state = State.load(folder)
    coll = Collection(tmp_path)
    config = RelatedConfig.from_config(coll.config)
    pages = read_pages(coll, state.paths, config)[1]
    expected = state.vectors
    state.vectors = counts([pages[p] for p in state.paths], config)
    state.save(folder)
    meta = folder / "meta.json"
    meta.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(meta.read_bytes()).items() if k != "vectors"}))
    old = State.load(folder)
    assert old.vectors.shape == expected.shape and (old.vectors != expected).nnz == 0
    old.save(folder, np.array([0], dtype=np.int64))  # a delta on a base of counts would mix the two
    assert orjson.loads(meta.read_bytes())["deltas"] == [] and (State.load(folder).vectors != expected).nnz == 0


def test_the_stats_digest_ignores_order_and_sees_every_change() -> None:
    from qtkit.relink_state import stats_digest

    stats = {"a.md": (10, 5), "b/c.md": (7, 9)}
    assert stats_digest(stats) == stats_digest({"b/c.md": [7, 9], "a.md": [10, 5]})
    for other in ({"a.md": (10, 6), "b/c.md": (7, 9)}, {"a.md": (11, 5), "b/c.md": (7, 9)},
                  {"a.md": (10, 5)}, {"a.md": (10, 5), "b/d.md": (7, 9)}):
        assert stats_digest(other) != stats_digest(stats)


def test_every_save_of_the_state_forgets_the_listing(collection: Path) -> None:
    """A base and a delta alike: the digest recorded for the old files no longer holds."""
    import numpy as np

    from qtkit.relink_state import State

    relink(collection, full=True)
    folder = collection / ".qtkit" / "related"
    state = State.load(folder)
    config = state.config
    for slots in (None, np.array([0], dtype=np.int64)):
        State.remember(folder, "digest")
        assert State.listed(folder, config) == "digest"
        state.save(folder, slots)
        assert State.listed(folder, config) is None


def test_compare_on_every_core_equals_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists compared and checked in forked workers give the same files, errors and
    counts as in one process."""
    import shutil

    import qtkit.relink as rl

    generate(tmp_path / "a", 120, seed=3)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    one = relink(tmp_path / "a", workers=1)
    monkeypatch.setattr(rl, "_MANY", 10)
    monkeypatch.setattr(rl, "_CHUNK", 7)
    many = relink(tmp_path / "b", workers=2)
    assert (one.written, one.changed, one.errors) == (many.written, many.changed, many.errors) and one.written > 100
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_one_explainer_explains_many_pages(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model is built once and explains every page as `explain` does (what the serve
    panel asks for each page)."""
    import qtkit.explain as ex_mod

    coll = Collection(collection)
    expected = {r.relpath: explain(coll, r.relpath) for r in coll}
    builds = []
    real = ex_mod.build
    monkeypatch.setattr(ex_mod, "build", lambda *a, **k: builds.append(1) or real(*a, **k))
    explainer = ex_mod.Explainer(coll)
    assert {rel: explainer.explain(rel) for rel in expected} == expected and len(builds) == 1
    model = ex_mod.RelinkModel(coll)
    assert [s.url for s in model.suggest(coll, ex(108))] == [link["url"] for link in expected[ex(108)]["links"]]
    assert len(builds) == 2 and explainer.related(108, k=2) == related(coll, 108, k=2)


def test_fix_related_drops_and_sets_through_the_editor() -> None:
    from qtkit.links import current_links as links_of, fix_related

    doc = qtkit.loads(_question(1, "What is a quasar?", folded=True, related=[(2, "Two"), (3, "Three"), (4, "Four")]))
    fix_related(doc, {"related_article2"}, {("related_article3", "title"): "Four, renamed"})
    assert [(link["id"], link["title"]) for link in links_of(doc.to_dict())] == [(2, "Two"), (4, "Four, renamed")]
    assert "related_article3" not in doc.to_dict() and doc.dumps().count(b"title: >-\n        ") == 2


def test_reading_and_counting_on_every_core_equals_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full run that reads and counts the pages in forked workers (slices of the index
    by id) writes the same files and saves the same state as one that reads them here."""
    import shutil

    import qtkit.relink_model as model
    from qtkit.index import CACHE_DIR
    from qtkit.relink_state import STATE_DIR, State

    generate(tmp_path / "a", 150, seed=4)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    calls = []
    real = model.read_and_count
    monkeypatch.setattr(model, "read_and_count", lambda *a: calls.append(1) or real(*a))
    one = relink(tmp_path / "a", workers=2)
    monkeypatch.setattr(model, "PARALLEL_READ", 10)
    many = relink(tmp_path / "b", workers=2)
    assert calls == [1] and one.written == many.written > 100 and one.errors == many.errors
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    a, b = (State.load(tmp_path / d / CACHE_DIR / STATE_DIR) for d in "ab")
    assert a.paths == b.paths and (a.vectors != b.vectors).nnz == 0 and (a.sigs == b.sigs).all()
    assert (a.links == b.links).all() and (a.idf == b.idf).all()


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_title_key_collapses_what_a_regex_space_matches(title: str) -> None:
    import re

    from qtkit.related import title_key

    assert title_key(title) == re.sub(r"\s+", " ", title).strip().casefold()


def test_a_url_claimed_twice_then_once_again_equals_a_full_run(tmp_path: Path) -> None:
    """A new page taking another's url makes both unlinkable (every link to it goes); its
    removal makes the first linkable again: an incremental run sees both, as a full run."""
    import shutil
    from collections import Counter

    a = tmp_path / "a"
    generate(a, 80, seed=4)
    relink(a)
    linked = Counter(link["url"] for r in Collection(a) for link in current_links(r.data))
    url = linked.most_common(1)[0][0]
    twin = qtkit.load(sorted(a.glob("*.md"))[-1])
    twin["id"], twin["title"], twin["url"] = 9100, "An unrelated twin", url
    twin.save(a / "9100.md")
    for step in ("claimed twice", "claimed once"):
        b = tmp_path / step.replace(" ", "-")
        shutil.copytree(a, b)
        assert relink(a).written and relink(b, full=True, keep_weights=True).full
        assert _tree(a) == _tree(b)
        now = Counter(link["url"] for r in Collection(a) for link in current_links(r.data))
        assert (now[url] == 0) == (step == "claimed twice")
        (a / "9100.md").unlink(missing_ok=True)


def test_nothing_to_do_imports_no_array_library(collection: Path) -> None:
    """A run with nothing to do (listing recorded or not) imports neither numpy nor scipy."""
    import subprocess
    import sys

    import orjson

    relink(collection)
    script = ("import sys; from qtkit.relink import relink; r = relink(sys.argv[1]);"
              " print(r.scored, r.written, sorted(m for m in ('numpy', 'scipy', 'sklearn') if m in sys.modules))")
    meta = collection / ".qtkit" / "related" / "meta.json"
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script, str(collection)], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["0", "0", "[]"]
        meta.write_bytes(orjson.dumps({k: v for k, v in orjson.loads(meta.read_bytes()).items() if k != "listing"}))


def test_an_id_no_question_has_is_an_error(collection: Path) -> None:
    """`relink 999999` names the missing id and exits 1 (it said "0 files would change")."""
    from qtkit.errors import NotFound

    with pytest.raises(NotFound, match="999999"):
        relink(collection, ids=[999999], dry_run=True)
    result = CliRunner().invoke(app, ["relink", "999999", "--dry-run", "--root", str(collection)])
    assert result.exit_code == 1 and "999999" in result.output
    result = CliRunner().invoke(app, ["relink", "no/such-page.md", "--dry-run", "--root", str(collection)])
    assert result.exit_code == 1 and "no/such-page.md" in result.output


def test_targets_name_pages_by_path_url_or_id(tmp_path: Path) -> None:
    """`relink TARGET...` takes what `--explain` takes: a path or url writes that page
    alone (not its cross-listed copy), an id writes each of its copies."""
    words = ["quasar", "pulsar", "nebula", "galaxy"]
    one = _page_file(tmp_path, 7, "What is a quasar pulsar?", "Physics", words)
    two = _page_file(tmp_path, 7, "What is a quasar pulsar?", "Biology", words)  # cross-listed
    other = _page_file(tmp_path, 8, "Why is a quasar pulsar bright?", "Physics", words[::-1])
    _page_file(tmp_path, 9, "How does a nebula form a galaxy?", "Biology", words)
    url = qtkit.load(two)["url"]
    for targets, changed in (([str(one)], {one}), ([url], {two}), (["7"], {one, two}), ([8, str(one)], {one, other})):
        report = relink(tmp_path, targets=targets, dry_run=True, keep_diffs=100)
        assert {tmp_path / rel for rel in report.changed} == changed, targets
    before = {p: p.read_bytes() for p in (one, two, other)}
    result = CliRunner().invoke(app, ["relink", url, "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert two.read_bytes() != before[two] and one.read_bytes() == before[one] and other.read_bytes() == before[other]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["a.md", "b.md", "c/a.md", "é.md", "B.md", "a.mdx"])),
                max_size=40))
def test_pages_ranked_by_id_then_path_as_lexsort_ranks_them(slots: list[tuple[int, str]]) -> None:
    """The tie-break rank (id, then path, then slot) is `np.lexsort`'s order, made without
    an array of every path (a removed slot may share its path with a live one)."""
    import numpy as np

    from qtkit.relink_model import _by_id_then_path

    qids = np.array([q for q, _ in slots], dtype=np.int64)
    paths = [p for _, p in slots]
    expected = np.lexsort((np.array(paths, dtype=object).astype(str) if paths else np.zeros(0, str), qids))
    assert _by_id_then_path(qids, paths).tolist() == expected.tolist()


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 6), st.integers(1, 12), st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_split_keeps_candidate_words_apart_from_common_words(rows: int, cols: int, seed: int, share: float) -> None:
    """`Space.of` splits each vector into its candidate words (same columns) and its common
    words (columns numbered compactly, in order): the two parts hold every stored value once."""
    import numpy as np
    import scipy.sparse as sp

    from qtkit.related import Space

    rng = np.random.default_rng(seed)
    dense = (rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.5)).astype(np.float32)
    idf = np.where(rng.random(cols) < share, -1.0, 1.0).astype(np.float32)
    space = Space.of(sp.csr_matrix(dense), idf)
    common = idf < 0
    assert np.array_equal(space.xc.toarray(), np.where(common, 0, dense))
    assert np.array_equal(space.xf.toarray()[:, : int(common.sum())], dense[:, common])
    assert space.xf.shape[1] == max(int(common.sum()), 1) and np.array_equal(space.xct.toarray(), space.xc.toarray().T)
