"""relink: valid links, stability, only related lines change, styles, --check, quality."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import qtkit
from qtkit.cli import app
from qtkit.files import write_many
from qtkit.index import Collection
from qtkit.relink import current_links, relink
from qtkit.shapes import RELATED
from qtkit.synthetic import generate

from .conftest import REAL, copy_writable, needs_shared

runner = CliRunner()


def _mtimes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in root.glob("*.md")}


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
    by_id = {r.id: r for r in coll}
    for record in coll:
        links = current_links(record.data)
        ids = [link["id"] for link in links]
        assert len(ids) == len(set(ids)) and record.id not in ids
        assert len(links) <= 5
        for link in links:
            target = by_id[link["id"]]  # never dangling
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
    related = [(9, "Gone"), (9, "Gone again"), (1, "Self"), (2, "x"), (2, "y"), (2, "z")]
    (tmp_path / "1.md").write_text(_question(1, "What is a quasar?", folded=True, related=related))
    (tmp_path / "2.md").write_text(_question(2, "What is a pulsar?", folded=True))
    relink(tmp_path)
    data = qtkit.load(tmp_path / "1.md").to_dict()
    assert [link["id"] for link in current_links(data)] == [2]
    assert "related_article2" not in data and "related_article6" not in data


def test_check_exit_codes_and_json(mixed: Path) -> None:
    result = runner.invoke(app, ["relink", "--check", "--root", str(mixed)])
    assert result.exit_code == 1 and "101.md" in result.stdout
    before = _mtimes(mixed)
    assert _mtimes(mixed) == before  # --check writes nothing
    assert runner.invoke(app, ["relink", "--root", str(mixed)]).exit_code == 0
    result = runner.invoke(app, ["relink", "--check", "--json", "--root", str(mixed)])
    assert result.exit_code == 0 and '"changed": 0' in result.stdout


def test_dry_run_prints_diffs_of_given_ids(collection: Path) -> None:
    before = _mtimes(collection)
    result = runner.invoke(app, ["relink", "101", "102", "--dry-run", "--root", str(collection)])
    assert result.exit_code == 0 and "+++ b/101.md" in result.stdout and "+++ b/105.md" not in result.stdout
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
    relink(tmp_path)
    hits = total = 0
    for record in Collection(tmp_path):
        for link in current_links(record.data):
            total += 1
            hits += truth[link["id"]] == truth[record.id]
    assert total > 5000 and hits / total >= 0.9


def test_collection_related_api(collection: Path) -> None:
    links = Collection(collection).related(108, k=3)
    assert 1 <= len(links) <= 3 and 108 not in [link["id"] for link in links]
    assert links[0]["id"] == 109  # the other question about the Roman empires


def test_write_many_refuses_a_file_changed_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    from qtkit import files

    real_sync = files._fsync_all

    def sync_and_edit(paths: list[str]) -> None:  # someone edits b while qtkit is between staging and renaming
        real_sync(paths)
        b.write_bytes(b"edited by hand, longer")

    monkeypatch.setattr(files, "_fsync_all", sync_and_edit)
    errors = write_many([(a, b"new a", b"old a"), (b, b"new b", b"old b")])
    assert errors[0] is None and errors[1] is not None and "changed on disk" in str(errors[1])
    assert a.read_bytes() == b"new a" and b.read_bytes() == b"edited by hand, longer"
    assert [p.name for p in tmp_path.iterdir()] == sorted(["a.md", "b.md"]) or len(list(tmp_path.iterdir())) == 2


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
