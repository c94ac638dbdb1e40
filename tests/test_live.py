"""The live collection (`../shared/corpus/live`: 9,693 real pages in the site's own layout).

What must hold there (FORMAT.md, "The live collection"): a page's place and url are what
`new` gives its title and subject; `check` names only real defects; `relink` then `check`
gives no link findings; `get` finds pages by path, url and unshared id; export then import,
in every format, changes no byte. Skipped cleanly when ../shared is absent.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from qtkit.check import check
from qtkit.cli import app
from qtkit.config import load_config
from qtkit.derived import derive
from qtkit.index import Collection
from qtkit.links import related_blocks
from qtkit.subjects import Subject

from .conftest import SHARED

LIVE = SHARED / "corpus" / "live" / "content" / "learn"
needs_live = pytest.mark.skipif(not LIVE.is_dir(), reason="../shared/corpus/live is not present")
pytestmark = needs_live
runner = CliRunner()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the live sample, indexed once."""
    root = tmp_path_factory.mktemp("live") / "learn"
    shutil.copytree(LIVE, root, ignore=shutil.ignore_patterns(".qtkit"))
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    Collection(root).refresh()
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.md") if ".qtkit" not in p.parts}


def test_every_page_is_where_new_would_put_it(live: Path) -> None:
    config = load_config(live)
    wrong = []
    for record in Collection(live):
        subject = Subject(record.data["subject"], record.relpath.split("/")[0])
        derived = derive(record.data["title"], subject, config)
        if (derived.relpath, derived.url, derived.file_name) != (record.relpath, record.url, record.data["file_name"]):
            wrong.append(record.relpath)
    assert wrong == []


def test_check_names_only_real_defects(live: Path) -> None:
    """Each code found, and how we know it is a real defect (counts on this sample):
    - QT205 'Computer science' in computer-science/: the site's subject list spells it
      'Computer Science' (FORMAT.md); the page's seo.title follows the page, one finding.
    - QT401: a url no page of the sample has. Almost all point into the 26 subject folders
      the sample does not hold; the rest (under 0.5% of links) point into its own folders,
      as the 0.3% dangling links of the whole site do.
    - QT403: the same page, or a cross-listed copy of one question, twice in one list.
    - QT404: the link's id is not the id of the page its url names (2.9% of the site's links).
    - QT405: the link's title is not its target's (0.1% of the site's links).
    Not findings: cross-listed copies sharing an id, accented titles' slugs, links that
    resolve by url whatever their id."""
    findings = check(live)
    codes = Counter(f.code for f in findings)
    assert set(codes) <= {"QT205", "QT401", "QT403", "QT404", "QT405"}, codes
    assert not [f for f in findings if f.code in ("QT206", "QT301", "QT302", "QT303", "QT304", "QT305", "QT306")]
    held = {p.name for p in live.iterdir() if p.is_dir()}
    links = sum(len(related_blocks(r.data)) for r in Collection(live))
    inside = [f for f in findings if f.code == "QT401" and f.message.split("'/learn/")[1].split("/")[0] in held]
    assert len(inside) < 0.005 * links
    assert codes["QT404"] < 0.1 * links and codes["QT405"] < 0.005 * links
    assert all("Computer science" in f.message for f in findings if f.code == "QT205")


def test_get_by_path_url_and_shared_id(live: Path) -> None:
    coll = Collection(live)
    shared = next(qid for qid, n in Counter(r.id for r in coll).items() if n > 1)
    pages = coll.pages(shared)
    page = pages[0]
    for target in (page.relpath, page.url):
        result = runner.invoke(app, ["get", target, "url", "--root", str(live)])
        assert result.exit_code == 0 and result.stdout == page.url + "\n", (target, result.output)
    result = runner.invoke(app, ["get", str(shared), "title", "--root", str(live)])
    assert result.exit_code == 2 and all(p.relpath in result.stderr for p in pages)
    single = next(r for r in coll if r.id > 0 and len(coll.pages(r.id)) == 1)  # (-2 would read as an option)
    result = runner.invoke(app, ["get", str(single.id), "url", "--root", str(live)])
    assert result.exit_code == 0 and result.stdout == single.url + "\n"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_export_then_import_changes_nothing(live: Path, tmp_path: Path, fmt: str) -> None:
    before = _snapshot(live)
    out = tmp_path / f"all.{fmt}"
    assert runner.invoke(app, ["export", "--to", fmt, "-o", str(out), "--root", str(live)]).exit_code == 0
    result = runner.invoke(app, ["import", str(out), "--root", str(live), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.splitlines()[-1]) if result.stdout.strip().startswith("{") else None
    assert "0 failed" in result.output or (summary and summary.get("error", 0) == 0), result.output
    assert _snapshot(live) == before


def test_relink_then_check_has_no_link_findings(live: Path, tmp_path: Path) -> None:
    root = tmp_path / "learn"
    shutil.copytree(live, root, ignore=shutil.ignore_patterns(".qtkit"))
    result = runner.invoke(app, ["relink", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert not [f.text() for f in check(root) if f.code.startswith("QT4")][:5]
    assert runner.invoke(app, ["relink", "--check", "--root", str(root)]).exit_code == 0
    for path in list(root.rglob("*.md"))[:300]:  # every link names a page, none itself or its copy
        data = yaml.safe_load(path.read_text(encoding="utf-8").split("\n---", 1)[0][4:])
        ids = [b["id"] for _, _, b in related_blocks(data)]
        assert data["id"] not in ids and len(ids) == len(set(ids))
