"""rename: everything derived changes together, inbound links follow, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import qtkit
from .conftest import ex
from qtkit import files, journal
from qtkit import rename as renaming
from qtkit.cli import app
from qtkit.errors import QtkitError, Refused
from qtkit.index import Collection
from benchmarks.synthetic import generate

runner = CliRunner()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.glob("*.md")}


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, int, list[str]]:
    """A generated collection where 50 questions link to one target (named by its file_name)."""
    generate(tmp_path, 120, seed=2)
    coll = Collection(tmp_path)
    records = list(coll)
    target = records[0]
    named = tmp_path / target.data["file_name"]
    target.path.rename(named)
    sources = []
    for record in records[1:51]:
        block = {"id": target.id, "title": target.data["title"], "subject": target.data["subject"],
                 "url": target.data["url"]}
        qtkit.edit.set_values(record.path, {"related_article1": block})
        sources.append(record.path.name)
    return tmp_path, target.id, sources


def test_rename_updates_all_inbound_links_and_nothing_else(linked: tuple[Path, int, list[str]]) -> None:
    root, qid, sources = linked
    before = _snapshot(root)
    report = renaming.rename(qid, title="What is a completely renamed question?", root=root)
    assert len(report.inbound) == 50 and report.new_url.endswith("/what-is-a-completely-renamed-question")
    after = _snapshot(root)
    changed = {name for name in after if before.get(name) != after[name]}
    assert changed == set(sources) | {"what-is-a-completely-renamed-question.md"}
    assert report.old_path not in after  # the file was renamed with its file_name
    for name in sources:
        old, new = before[name].decode().splitlines(), after[name].decode().splitlines()
        diff = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
        assert len(old) == len(new) and diff  # the links' title and url lines only
        for i in diff:
            line = new[i].strip()
            assert line.startswith(("title: What is a completely", "url: /learn/")) or line == (
                "What is a completely renamed question?"), line
    doc = qtkit.load(root / "what-is-a-completely-renamed-question.md")
    assert doc["title"] == doc["question"] == doc["article_title"] == "What is a completely renamed question?"
    assert doc["aliases"] == [report.old_url] and doc["file_name"] == "what-is-a-completely-renamed-question.md"


def test_a_failure_in_the_middle_leaves_everything_as_before(linked: tuple[Path, int, list[str]],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root, qid, _ = linked
    before = _snapshot(root)
    real = files.install
    calls = {"n": 0}

    def flaky(tmp, path, st, exclusive):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 26:
            raise OSError(28, "No space left on device")
        return real(tmp, path, st, exclusive)

    monkeypatch.setattr(files, "install", flaky)
    with pytest.raises(QtkitError, match="undone"):
        renaming.rename(qid, title="A title that will not stick?", root=root)
    assert _snapshot(root) == before
    assert not [p for p in root.iterdir() if "qtkit-tmp" in p.name]
    assert not list((root / ".qtkit" / journal.JOURNAL_DIR).iterdir())


def test_an_undo_that_fails_is_reported_and_finished_by_the_next_command(
        linked: tuple[Path, int, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The undo itself fails (say the disk is gone): the error names each file still
    changed and how to finish; the next writing command replays the journal."""
    root, qid, _ = linked
    before = _snapshot(root)
    real_install, real_replace = files.install, files.os.replace
    calls = {"n": 0}

    def flaky(tmp, path, st, exclusive):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError(5, "Input/output error")
        return real_install(tmp, path, st, exclusive)

    def no_undo(src, dst):  # noqa: ANN001, ANN202
        if str(src).endswith(".old"):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(files, "install", flaky)
        m.setattr(files.os, "replace", no_undo)
        with pytest.raises(QtkitError) as failure:
            renaming.rename(qid, title="A title that will half stick?", root=root)
    message = str(failure.value)
    assert "could not be fully undone" in message and "has the new text" in message and "qtkit index" in message
    assert _snapshot(root) != before
    result = runner.invoke(app, ["index", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert _snapshot(root) == before
    assert not list((root / ".qtkit" / journal.JOURNAL_DIR).iterdir())


def test_rename_keeps_a_scalar_alias(collection: Path) -> None:
    target = collection / ex(105)
    qtkit.edit.set_values(target, {"aliases": "/learn/old/questions/older-name"})
    qid = qtkit.load(target)["id"]
    old_url = qtkit.load(target)["url"]
    report = renaming.rename(qid, title="What is a question with an older alias?", root=collection)
    doc = qtkit.load(collection / report.new_path)
    assert doc["aliases"] == ["/learn/old/questions/older-name", old_url]


def test_refusals_and_subject_rename(collection: Path) -> None:
    with pytest.raises(Refused, match="already the address of economics/what-is-the-difference"):
        renaming.rename(112, title="What is the difference between GDP and GNP?", root=collection)
    with pytest.raises(Refused):
        renaming.rename(112, root=collection)
    result = runner.invoke(app, ["rename", "112", "--subject", "Physics", "--dry-run", "--root", str(collection)])
    assert result.exit_code == 0 and "+url: /learn/physics/questions/what-is-opportunity-cost" in result.stdout
    (collection / "qtkit.toml").write_text('[rename]\nredirects = "redirects.tsv"\n')
    result = runner.invoke(app, ["rename", "112", "--subject", "Physics", "--root", str(collection)])
    assert result.exit_code == 0, result.output
    assert (collection / "redirects.tsv").read_text() == (
        "/learn/economics/questions/what-is-opportunity-cost\t/learn/physics/questions/what-is-opportunity-cost\n")
    moved = collection / "physics" / "what-is-opportunity-cost.md"  # the page moved to its new subject's folder
    assert not (collection / ex(112)).exists()
    assert qtkit.load(moved)["seo"]["title"] == "QuickTakes | Physics"
    assert "aliases" not in qtkit.load(moved)


def test_subject_rename_moves_the_page_and_records_the_move(collection: Path) -> None:
    (collection / "qtkit.toml").write_text('[rename]\nmoves = "moves.json"\n')
    inbound = [p for p in collection.rglob("*.md") if "/learn/economics/questions/what-is-opportunity-cost" in p.read_text()
               and p.name != "what-is-opportunity-cost.md"]
    result = runner.invoke(app, ["rename", "/learn/economics/questions/what-is-opportunity-cost", "--subject", "physics",
                                 "--root", str(collection), "--json"])
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    assert report["new_path"] == "physics/what-is-opportunity-cost.md" and sorted(report["inbound"]) == sorted(
        p.relative_to(collection).as_posix() for p in inbound)
    assert json.loads((collection / "moves.json").read_text()) == [
        {"previous": "economics", "question": "what-is-opportunity-cost", "current": "physics"}]
    for p in inbound:
        assert "/learn/physics/questions/what-is-opportunity-cost" in p.read_text()
    from qtkit.check import check

    assert not [f for f in check(collection) if f.code.startswith(("QT3", "QT4")) and f.code != "QT403"]


def test_shared_id_needs_a_page_or_all(collection: Path) -> None:
    from qtkit.errors import Ambiguous

    with pytest.raises(Ambiguous):
        renaming.rename(103, title="When is a p-value significant?", root=collection)
    report = renaming.rename(103, title="When is a p-value significant?", root=collection, every=True)
    assert sorted(m.new_path for m in report.moves) == ["economics/when-is-a-pvalue-significant.md",
                                                          "mathematics/when-is-a-pvalue-significant.md"]
    result = runner.invoke(app, ["rename", "103", "--title", "x?", "--root", str(collection)])
    assert result.exit_code == 2 and "--all" in result.stderr
