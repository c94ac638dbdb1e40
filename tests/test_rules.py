"""The rule registry: one entry per rule, codes by hundreds, old codes as aliases, a docs
page per rule (and no page without a rule), `qtkit rule`, and `check_and_fix`."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import qtkit
from qtkit import check as checking
from qtkit.cli import app
from qtkit.errors import EditError
from qtkit.rules import ALIASES, FAMILIES, RULES, PageFacts, lookup, page, registry, rule

from .conftest import ex

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _nav_pages() -> dict[str, str]:
    """{docs path: title} of every page in mkdocs.yml's navigation."""
    def walk(items: list) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in items:
            for title, value in item.items():
                out.update(walk(value) if isinstance(value, list) else {value: title})
        return out

    return walk(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])


def test_every_rule_has_a_page_and_every_rule_page_a_rule() -> None:
    nav = _nav_pages()
    rule_pages = {path.removeprefix("rules/").removesuffix(".md") for path in nav if path.startswith("rules/")}
    assert sorted(set(RULES) - rule_pages) == [], "rules without a page in mkdocs.yml's nav"
    assert sorted(rule_pages - set(RULES)) == [], "pages in mkdocs.yml's nav that name no rule"
    for code, r in RULES.items():
        assert nav[f"rules/{code}.md"] == f"{code} {r.name}"
    check_doc = (ROOT / "docs" / "check.md").read_text()
    assert [code for code in RULES if f"(rules/{code}.md)" not in check_doc] == []


def test_the_docs_build_writes_each_rule_page_from_its_rule(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import build
    finally:
        sys.path.pop(0)
    written = build.rule_pages(tmp_path / "rules")
    assert sorted(p.stem for p in written) == sorted(RULES)
    for path in written:
        text = path.read_text(encoding="utf-8")
        r = RULES[path.stem]
        assert text == page(r.code)
        assert text.startswith(f"# {r.name} ({r.code})\n")
        assert [line for line in text.splitlines() if line.startswith("## ")] == list(registry.SECTIONS)
        assert r.doc in text


def test_registry_entries_are_complete_and_grouped_by_hundreds() -> None:
    assert list(RULES) == sorted(RULES)
    names = [r.name for r in RULES.values()]
    assert len(set(names)) == len(names)
    for code, r in RULES.items():
        assert re.fullmatch(r"QT[1-4]\d\d", code) and r.code == code
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", r.name)
        assert r.fix in ("safe", "unsafe", "") and r.summary and callable(r.find)
        assert r.family == FAMILIES[code[2]]
        assert sys.modules[r.find.__module__].__name__ == f"qtkit.rules.{r.family}"  # one module per family
        assert all(re.fullmatch(r"QT0\d\d", old) for old in r.aliases)
    assert {r.family for r in RULES.values()} == {"syntax", "fields", "urls", "links"}
    assert ALIASES["QT023"] == ("QT405", "QT406") and ALIASES["QT001"] == ("QT101",)
    assert checking.RULES is RULES  # check's names still work


def test_a_rule_without_its_documentation_or_with_a_taken_code_is_refused() -> None:
    def undocumented(page: PageFacts) -> list:
        """Finds nothing."""
        return []

    with pytest.raises(ValueError, match="lacks"):
        rule("QT499", "undocumented", summary="x")(undocumented)
    undocumented.__doc__ = "\n".join(registry.SECTIONS)
    with pytest.raises(ValueError, match="twice"):
        rule("QT401", "another-name", summary="x")(undocumented)
    with pytest.raises(ValueError, match="bad rule code"):
        rule("QT999", "nine", summary="x")(undocumented)
    assert "QT499" not in RULES and "QT999" not in RULES


def test_lookup_by_code_name_or_old_code() -> None:
    assert lookup("QT401") is lookup("link-dangling") is lookup("QT020") is lookup("qt401") is RULES["QT401"]
    assert lookup("QT023") is RULES["QT405"]
    with pytest.raises(EditError, match="no rule 'QT999'"):
        lookup("QT999")


def test_only_the_selected_rules_run(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(page: PageFacts) -> list:
        raise AssertionError("an ignored rule ran")

    monkeypatch.setitem(RULES, "QT202", registry.Rule("QT202", "titles-disagree", "", "x", (), boom))
    assert [f.code for f in checking.check(collection, ignore=["QT202"])] == ["QT403"]
    assert checking.check(collection, select=["QT3"]) == []
    with pytest.raises(AssertionError, match="ignored rule ran"):
        checking.check(collection)


def test_a_selector_that_matches_no_rule_is_an_error(collection: Path) -> None:
    with pytest.raises(EditError, match="no rule matches 'QT9'"):
        checking.check(collection, select=["QT9"])
    with pytest.raises(EditError, match="no rule matches 'no-such-rule'"):
        checking.check(collection, ignore=["no-such-rule"])


def test_qtkit_rule_prints_the_rule_page() -> None:
    result = runner.invoke(app, ["rule", "QT401"])
    assert result.exit_code == 0 and result.stdout == page("QT401")
    assert result.stdout.startswith("# link-dangling (QT401)\n")
    result = runner.invoke(app, ["rule", "link-stale-title", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["code"] == "QT405" and data["fix"] == "safe" and "## Why is this bad?" in data["doc"]
    result = runner.invoke(app, ["rule", "QT999"])
    assert result.exit_code == 2 and "no rule 'QT999'" in result.output


def test_check_rules_lists_the_registry() -> None:
    result = runner.invoke(app, ["check", "--rules", "--json"])
    assert [r["code"] for r in json.loads(result.stdout)] == list(RULES)
    text = runner.invoke(app, ["check", "--rules"]).stdout.splitlines()
    assert [line.split()[0] for line in text] == list(RULES)


def test_check_and_fix_is_the_whole_check_command(collection: Path) -> None:
    qtkit.edit.set_values(collection / ex(105), {"related_article1.id": 999})
    before = {p: p.read_bytes() for p in collection.glob("**/*.md")}
    result = checking.check_and_fix(collection, fix=False)
    assert result.fixes is None and {f.code for f in result.findings} == {"QT403", "QT404"} and result.fixable == 2
    dry = checking.check_and_fix(collection, dry_run=True)
    assert dry.fixes is not None and sorted(dry.fixes.fixed) == ["QT403", "QT404"] and len(dry.fixes.diffs) == 2
    assert {p: p.read_bytes() for p in collection.glob("**/*.md")} == before  # a dry run writes nothing
    phases: list[str] = []
    done = checking.check_and_fix(collection, progress=lambda phase, n, total: phases.append(phase))
    assert done.findings == [] and sorted(done.fixes.files) == sorted([ex(105), ex(109)])
    assert "checking" in phases
    assert checking.check_and_fix(collection).fixes.files == []
