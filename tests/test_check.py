"""check: every planted defect found with its code and line; --fix; formats; exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qtkit
from qtkit.check import RULES, check, fix
from qtkit.cli import app
from qtkit.synthetic import generate

from .conftest import REAL, copy_writable, needs_shared

runner = CliRunner()


def _plant(root: Path) -> dict[tuple[str, str], int]:
    """Plant one defect of every kind; return {(file, code): line}."""
    planted: dict[tuple[str, str], int] = {}

    def edit(name: str, code: str, key: str, value, line_key: str | None = None) -> None:
        qtkit.edit.set_values(root / name, {key: value})
        planted[(name, code)] = qtkit.load(root / name).span(line_key or key)[0]

    edit("101.md", "QT010", "file_name", "something-else.md")
    edit("102.md", "QT011", "url", "/learn/mathematics/questions/old-slug")
    edit("103.md", "QT012", "seo.title", "QuickTakes | Maths")
    edit("104.md", "QT013", "article_title", "A different article title")
    edit("106.md", "QT020", "related_article1.id", 999)
    edit("107.md", "QT021", "related_article1.id", 107)
    edit("110.md", "QT023", "related_article1.title", "An old title of that question")
    edit("111.md", "QT040", "answer", "")
    qtkit.edit.unset(root / "112.md", ["author", "file_name"])
    planted[("112.md", "QT003")] = 1
    qtkit.edit.set_values(root / "113.md", {"subject": "economics", "seo.title": "QuickTakes | economics",
                                            "url": "/learn/economics/questions/what-is-the-difference-between-gdp-and-gnp"})
    planted[("113.md", "QT014")] = qtkit.load(root / "113.md").span("subject")[0]
    shutil.copy(root / "114.md", root / "dup.md")  # same id, same url, named by neither
    planted[("dup.md", "QT002")] = planted[("114.md", "QT002")] = qtkit.load(root / "114.md").span("id")[0]
    planted[("dup.md", "QT030")] = planted[("114.md", "QT030")] = qtkit.load(root / "114.md").span("url")[0]
    planted[("dup.md", "QT031")] = qtkit.load(root / "dup.md").span("file_name")[0]
    (root / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    planted[("broken.md", "QT001")] = 2
    planted[("109.md", "QT022")] = qtkit.load(root / "109.md").span("related_article2.id")[0]  # shipped defect
    return planted


def test_every_planted_defect_is_found_with_code_and_line(collection: Path) -> None:
    planted = _plant(collection)
    found = {(f.path, f.code): f.line for f in check(collection)}
    for (name, code), line in planted.items():
        assert (name, code) in found, (name, code)
        if code not in ("QT003", "QT001"):
            assert found[(name, code)] == line, (name, code)
    codes = {code for _, code in found}
    assert codes == set(RULES)  # every rule fired at least once
    clean = {"108.md"}  # links to none of the edited questions
    assert not [k for k in found if k[0] in clean]


def test_fix_then_check_reports_nothing_fixable_and_fix_is_idempotent(collection: Path) -> None:
    _plant(collection)
    findings = check(collection)
    report = fix(collection, findings)
    assert report.files and not report.errors
    after = check(collection)
    assert not [f for f in after if RULES[f.code].fixable], [f.text() for f in after if RULES[f.code].fixable]
    snapshot = {p.name: p.read_bytes() for p in collection.glob("*.md")}
    again = fix(collection, after)
    assert again.files == [] and {p.name: p.read_bytes() for p in collection.glob("*.md")} == snapshot
    # urls and file names are never fixed automatically
    assert qtkit.load(collection / "102.md")["url"] == "/learn/mathematics/questions/old-slug"
    assert qtkit.load(collection / "113.md")["subject"] == "Economics"


def test_fix_touches_only_the_fixed_lines(collection: Path) -> None:
    before = (collection / "109.md").read_bytes()
    fix(collection, check(collection))
    after = (collection / "109.md").read_bytes()
    old, new = before.decode().splitlines(), after.decode().splitlines()
    assert len(old) - len(new) == 6  # one block (6 lines) fewer: the later blocks move up one place
    assert new[:27] == old[:27]


def test_cli_formats_select_and_exit_codes(collection: Path) -> None:
    result = runner.invoke(app, ["check", "--root", str(collection)])
    assert result.exit_code == 1 and "109.md:33:5: QT022 related_article2 repeats id 108" in result.stdout
    result = runner.invoke(app, ["check", "--root", str(collection), "--format", "json"])
    assert json.loads(result.stdout)[0]["code"] == "QT022"
    result = runner.invoke(app, ["check", "--root", str(collection), "--format", "github"])
    assert result.stdout.startswith("::error file=109.md,line=33,col=5,title=QT022::")
    assert runner.invoke(app, ["check", "--root", str(collection), "--ignore", "QT02"]).exit_code == 0
    assert runner.invoke(app, ["check", "--root", str(collection), "--select", "QT9"]).exit_code == 2
    assert runner.invoke(app, ["check", "--root", str(collection), "--format", "xml"]).exit_code == 2
    result = runner.invoke(app, ["check", "--root", str(collection), "--fix", "--diff"])
    assert "-related_article2:" in result.stdout and (collection / "109.md").read_bytes().count(b"id: 108") == 2
    result = runner.invoke(app, ["check", "--root", str(collection), "--fix"])
    assert result.exit_code == 0 and "fixed 1 findings in 1 files" in result.output
    assert "--select" in runner.invoke(app, ["check", "--help"]).stdout


def test_config_sets_defaults(collection: Path) -> None:
    (collection / "qtkit.toml").write_text('[check]\nignore = ["QT022"]\n')
    assert check(collection) == []


@needs_shared
def test_real_corpus_defects_are_listed(tmp_path: Path) -> None:
    for path in REAL:
        if path.suffix == ".md":
            copy_writable(path, tmp_path / path.name)
    found = {(f.path, f.code) for f in check(tmp_path, ignore=["QT020"])}  # a sample: most targets are elsewhere
    # the real defects of this sample, as FORMAT.md describes them
    assert ("135332.md", "QT022") in found and ("135376.md", "QT022") in found  # repeated links
    assert ("160754.md", "QT014") in found and ("160754.md", "QT012") in found  # 'Computer science'
    assert {code for _, code in found} <= {"QT012", "QT014", "QT022", "QT023"}


@pytest.mark.parametrize("n", [300])
def test_generated_collection_is_clean_after_fix(tmp_path: Path, n: int) -> None:
    generate(tmp_path, n, seed=4)
    fix(tmp_path, check(tmp_path))
    assert [f for f in check(tmp_path) if RULES[f.code].fixable] == []


def test_bulk_set_where_edits_every_match_and_only_them(collection: Path) -> None:
    before = {p.name: p.read_bytes() for p in collection.glob("*.md")}
    result = runner.invoke(app, ["set", "--where", "subject=Economics", "author=Economics desk", "--dry-run",
                                 "--root", str(collection)])
    assert result.exit_code == 0 and "3 questions match; 3 would change" in result.output
    assert {p.name: p.read_bytes() for p in collection.glob("*.md")} == before
    result = runner.invoke(app, ["set", "--where", "subject=Economics", "author=Economics desk", "--root", str(collection)])
    assert result.exit_code == 0, result.output
    changed = sorted(p.name for p in collection.glob("*.md") if p.read_bytes() != before[p.name])
    assert changed == ["112.md", "113.md", "114.md"]
    for name in changed:
        old, new = before[name].decode().splitlines(), (collection / name).read_text().splitlines()
        assert [i for i, (a, b) in enumerate(zip(old, new)) if a != b] == [old.index("author: QuickTakes")]
