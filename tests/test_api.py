"""The library functions the CLI calls, one per command, used as a script would; and the
CLI's shared options (defined once in qtkit/cli/common.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from qtkit.errors import BadOption, QtkitError

runner = CliRunner()


def test_index_returns_its_summary(collection: Path) -> None:
    from qtkit.indexing import index

    calls: list[tuple] = []
    summary = index(collection, progress=lambda *args: calls.append(args))
    assert (summary.files, summary.parsed, summary.removed, summary.errors, summary.max_id) == (15, 15, 0, [], 114)
    assert summary.restored == [] and calls and all(c[0] == "indexing" for c in calls)
    (collection / "economics" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    again = index(collection)
    assert (again.files, again.parsed, len(again.errors)) == (16, 1, 1)
    assert again.errors[0].startswith("economics/broken.md:") or "broken.md:" in again.errors[0]
    assert set(again.as_json()) == {"root", "files", "parsed", "removed", "errors", "max_id", "seconds"}
    assert again.as_json()["errors"] == 1


def test_new_from_file_locates_each_failure(collection: Path, tmp_path: Path) -> None:
    from qtkit.scaffold import Created, new_from_file

    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"question": "First one?", "subject": "Physics"}) + "\n"
                     + "{not json\n\n"
                     + json.dumps({"question": "Second one?", "subject": "No such subject"}) + "\n"
                     + json.dumps({"question": "Third one?", "subject": "physics"}) + "\n")
    results = new_from_file(batch, root=collection, dry_run=True)
    assert [r.id if isinstance(r, Created) else str(r).split(": ")[0] for r in results] == [
        115, f"{batch}:2", f"{batch}:4", 116]
    assert not list(collection.glob("physics/*one*.md"))  # a dry run writes nothing
    written = new_from_file(batch, root=collection)
    assert [r.path.name for r in written if isinstance(r, Created)] == ["first-one.md", "third-one.md"]
    assert all(isinstance(r, QtkitError) for r in (written[1], written[2]))


def test_export_collection_selects_and_writes(collection: Path, tmp_path: Path) -> None:
    from qtkit.export import export_collection

    stream = io.StringIO()
    phases: set[str] = set()
    report = export_collection("jsonl", where=["subject=Physics"], fields="id,title", stream=stream,
                               root=collection, progress=lambda phase, done, total: phases.add(phase))
    rows = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [110, 111] and set(rows[0]) == {"id", "title"}
    assert report.count == 2 and report.skipped == [] and "indexing" in phases
    report = export_collection("csv", tmp_path / "two.csv", targets=["112", "101"], sort="title", root=collection)
    with open(tmp_path / "two.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert report.count == 2 and [r["id"] for r in rows] == ["101", "112"]  # by title: "How ..." < "What ..."
    report = export_collection("markdown", split=tmp_path / "md", root=collection)
    assert report.count == 15 and len(list((tmp_path / "md").glob("*.md"))) == 15
    (collection / "economics" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    report = export_collection("json", stream=io.StringIO(), root=collection)
    assert len(report.skipped) == 1 and "broken.md" in report.skipped[0]


@pytest.mark.parametrize("kwargs", [{"to": "xml", "stream": 1}, {"to": "json", "shape": "round", "stream": 1},
                                    {"to": "csv", "split": "out"}, {"to": "markdown", "split": "d", "output": "f"},
                                    {"to": "json", "where": ["=x"], "stream": 1}, {"to": "json"}])
def test_export_collection_refuses_bad_options(kwargs: dict, collection: Path) -> None:
    from qtkit.export import export_collection

    kwargs = {**kwargs, "stream": io.StringIO()} if "stream" in kwargs else kwargs  # {"to": "json"}: no output
    with pytest.raises(BadOption):
        export_collection(root=collection, **kwargs)


def test_a_bad_option_is_a_usage_error(collection: Path) -> None:
    from qtkit.cli import app

    result = runner.invoke(app, ["export", "--to", "xml", "--root", str(collection)])
    assert result.exit_code == 2 and "unknown --to 'xml'" in result.stderr
    result = runner.invoke(app, ["new", "--from", "missing.jsonl", "--root", str(collection)])
    assert result.exit_code == 2


def test_shared_options_are_defined_once() -> None:
    """Every command's --dry-run, --json, --root, --where, --all, --new-subject and --quiet
    have the same names and help (the ones of qtkit/cli/common.py)."""
    from qtkit.cli import app

    seen: dict[str, set] = {}
    for command in typer.main.get_command(app).commands.values():
        for param in command.params:
            for name in ("--dry-run", "--json", "--root", "--where", "--all", "--new-subject", "--quiet"):
                if name in param.opts:
                    seen.setdefault(name, set()).add((tuple(param.opts), param.help))
    assert set(seen) == {"--dry-run", "--json", "--root", "--where", "--all", "--new-subject", "--quiet"}
    drifting = {name: forms for name, forms in seen.items() if len(forms) > 1}
    assert drifting == {}


def test_plain_values_skip_typer_coercion_and_others_do_not(collection: Path) -> None:
    """qtkit/cli/coercion.py: strings and lists of strings pass as they are; ints are
    still checked by typer."""
    from qtkit.cli import app

    result = runner.invoke(app, ["export", "--to", "jsonl", "--where", "subject=Physics", "--where", "id>110",
                                 "--fields", "id", "--root", str(collection)])
    assert result.exit_code == 0 and [json.loads(x)["id"] for x in result.stdout.splitlines()] == [111]
    result = runner.invoke(app, ["new", "What is X?", "-s", "Physics", "--id", "x", "--root", str(collection)])
    assert result.exit_code == 2
