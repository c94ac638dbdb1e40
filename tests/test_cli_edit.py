"""`qtkit get/set/unset` through typer's runner: exact output, exit codes, nothing written on error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qtkit
from qtkit.cli import app

from .conftest import copy_writable, corpus_params, ex

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def qfile(tmp_path: Path) -> Path:
    target = tmp_path / ex(101)
    target.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "examples" / ex(101), target)
    return target


def test_get_prints_string_and_json(qfile: Path) -> None:
    assert run("get", str(qfile), "seo.title").stdout == "QuickTakes | Mathematics\n"
    assert run("get", str(qfile), "id").stdout == "101\n"
    assert run("get", str(qfile), "date", "--json").stdout == '"2025-02-03"\n'
    result = run("get", str(qfile), "related_article1", "--json")
    assert result.exit_code == 0
    assert result.stdout.startswith('{"id": 102, "title": "What does the product rule say?"')


def test_set_string_and_typed_values(qfile: Path) -> None:
    result = run("set", str(qfile), "seo.title=QuickTakes | Calculus", "score:=-2.0", "related_article1.id:=7")
    assert result.exit_code == 0, result.output
    doc = qtkit.load(qfile)
    assert doc.get("seo.title") == "QuickTakes | Calculus"
    assert doc.get("score") == -2.0
    assert doc.get("related_article1.id") == 7


def test_dry_run_prints_diff_and_writes_nothing(qfile: Path) -> None:
    before = qfile.read_bytes()
    result = run("set", str(qfile), "author=Someone", "--dry-run")
    assert result.exit_code == 0
    assert "-author: QuickTakes\n+author: Someone\n" in result.stdout
    assert qfile.read_bytes() == before


def test_unset_removes_block(qfile: Path) -> None:
    result = run("unset", str(qfile), "related_article2")
    assert result.exit_code == 0
    assert "related_article2" not in qfile.read_text()


@pytest.mark.parametrize("path", corpus_params())
def test_set_current_value_changes_nothing(path: Path, tmp_path: Path) -> None:
    target = tmp_path / path.name
    copy_writable(path, target)
    doc = qtkit.load(target)
    for key in ["title", "seo.title", "answer", "subject", "url"]:
        result = run("set", str(target), f"{key}={doc.get(key)}")
        assert result.exit_code == 0, result.output
    result = run("set", str(target), f"id:={doc.get('id')}")
    assert result.exit_code == 0
    assert target.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    "content, args, message",
    [
        (None, ["get", "{f}", "title"], "no such file"),
        (b"just text\n", ["get", "{f}", "title"], "no front matter"),
        (b"---\ntitle: [x\n---\n", ["set", "{f}", "title=y"], "invalid YAML"),
        (b"---\ntitle: x\n---\n", ["get", "{f}", "nope"], "no key 'nope'"),
        (b"---\ntitle: x\n---\n", ["unset", "{f}", "nope"], "no key 'nope'"),
        (b"---\ntitle: \xe9t\xe9\n---\n", ["set", "{f}", "title=y"], "not valid UTF-8"),
    ],
)
def test_errors_are_one_line_nonzero_and_write_nothing(tmp_path: Path, content, args, message) -> None:
    f = tmp_path / "q.md"
    if content is not None:
        f.write_bytes(content)
    result = run(*[a.replace("{f}", str(f)) for a in args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {f}") and message in lines[0]
    if content is not None:
        assert f.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == (["q.md"] if content is not None else [])


def test_invalid_yaml_error_names_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "q.md"
    f.write_bytes(b"---\nid: 1\ntitle: a: b\n---\n")
    result = run("get", str(f), "id")
    assert result.stderr.startswith(f"error: {f}:3:")


def test_bad_assignment_is_usage_error(qfile: Path) -> None:
    assert run("set", str(qfile), "novalue").exit_code == 2
    assert run("set", str(qfile), "id:={bad json").exit_code == 2


def test_target_may_be_an_id(collection: Path) -> None:
    result = run("get", "105", "subject", "--root", str(collection))
    assert result.exit_code == 0 and result.stdout == "Computer Science\n"
    assert run("set", "105", "author=Me", "--root", str(collection)).exit_code == 0
    assert qtkit.load(collection / ex(105))["author"] == "Me"
    missing = run("get", "999", "title", "--root", str(collection))
    assert missing.exit_code == 1 and "no page '999'" in missing.stderr


def test_index_command_reports_unreadable_files(collection: Path) -> None:
    result = run("index", "--root", str(collection), "--json")
    assert result.exit_code == 0
    assert '"files": 15' in result.stdout and '"max_id": 114' in result.stdout
    (collection / "bad.md").write_text("---\nid: [\n---\n")
    result = run("index", "--root", str(collection))
    assert result.exit_code == 1
    assert result.stderr.startswith("bad.md:3:")


def test_diffs_of_cross_listed_copies_are_headed_by_their_paths(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two copies share a file name in two folders: each diff names its own folder, from
    the cwd, so the patch applies from there."""
    monkeypatch.chdir(collection)
    result = runner.invoke(app, ["set", "103", "author=Desk", "--all", "--dry-run"])
    heads = sorted(line for line in result.stdout.splitlines() if line.startswith("+++ "))
    copies = sorted(p.relative_to(collection).as_posix() for p in collection.rglob(Path(ex(103)).name))
    assert result.exit_code == 0 and len(copies) == 2 and heads == [f"+++ b/{rel}" for rel in copies]
