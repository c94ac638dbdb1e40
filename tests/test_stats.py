"""`qtkit stats` and `qtkit.stats.stats`: figures, links resolved by url, CLI output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qtkit.cli import app
from qtkit.links import address
from qtkit.stats import stats

from . import sitefixture as site

runner = CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return site.build(tmp_path / "learn")


def test_figures(root: Path) -> None:
    data = stats(root).to_json()
    assert data["pages"] == 6
    assert data["questions"] == 5  # the cross-listed question is one id, two pages
    assert data["cross_listed"] == {"questions": 1, "pages": 2}
    by_key = {s["key"]: s for s in data["subjects"]}
    assert by_key["physics"]["pages"] == 2 and by_key["mathematics"]["pages"] == 2
    assert by_key["computer-science"]["spellings"] == {"Computer Science": 1, "Computer science": 1}
    assert data["variants"] == 1
    assert data["links_per_page"] == {"0": 1, "1": 3, "2": 2, "3": 0, "4": 0, "5+": 0}
    assert data["links"] == {"total": 7, "resolved": 6, "dangling": 1, "stale_title": 1, "stale_subject": 0}
    assert data["empty"] == {"answer": 0, "description": 1}
    assert data["ids"]["min"] == 1 and data["ids"]["max"] == 9
    assert data["ids"]["gaps"] == 2 and data["ids"]["gap_ids"] == 4  # 4..6 and 8
    assert data["ids"]["largest_gaps"][0] == {"from": 4, "to": 6, "ids": 3}


def test_links_resolve_by_url_not_by_id(root: Path) -> None:
    """A link carrying the id of a cross-listed copy, or another page's id, still resolves by its url."""
    result = stats(root)
    assert result.members["links:dangling"] == ["mathematics/what-is-the-gradient.md"]
    assert result.members["links:stale_title"] == ["physics/how-are-si-units-written.md"]
    assert sorted(result.members["cross_listed"]) == ["mathematics/what-is-momentum.md", "physics/what-is-momentum.md"]


def test_where_limits_the_pages_not_the_links(root: Path) -> None:
    data = stats(root, where=["subject=Physics"]).to_json()
    assert data["pages"] == 2
    assert data["links"]["dangling"] == 0 and data["links"]["resolved"] == 3


def test_address() -> None:
    assert address("physics/what-is-x.md", "/elsewhere") == "/learn/physics/questions/what-is-x"
    assert address("101.md", "/learn/a/questions/b") == "/learn/a/questions/b"
    assert address("101.md", None) is None


def test_cli_json_is_only_json(root: Path) -> None:
    result = runner.invoke(app, ["stats", "--root", str(root), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == stats(root).to_json()


def test_cli_table(root: Path) -> None:
    result = runner.invoke(app, ["stats", "--root", str(root)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.split() == ["pages", "6"] for line in lines)
    assert any(line.split()[:3] == ["url", "names", "no"] and line.split()[-1] == "1" for line in lines)
    row = next(line for line in lines if "computer-science" in line)
    assert "(Computer Science 1," in row and "█" in row
    assert "Computer science 1)" in result.stdout
    assert "related links per page" in result.stdout


def test_cli_where_and_usage_errors(root: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", "--root", str(root), "--json", "--where", "subject=Physics"])
    assert result.exit_code == 0 and json.loads(result.stdout)["pages"] == 2
    result = runner.invoke(app, ["stats", "--root", str(root), "--where", "subject"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr and result.stdout == ""
    result = runner.invoke(app, ["stats", "--root", str(tmp_path / "missing")])
    assert result.exit_code == 1 and result.stderr.startswith("error:")
