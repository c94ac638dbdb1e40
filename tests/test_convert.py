"""Export and import: lossless round trips, one-cell edits, hostile input, the clean shape."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import qtkit
from qtkit import export as exporting
from qtkit.cli import app
from qtkit.errors import ParseError
from qtkit.index import Collection
from qtkit.slugs import anchor
from qtkit.ingest import import_records
from qtkit.answers import decode_answer
from qtkit.shapes import from_cell, to_cell
from benchmarks.synthetic import generate
from qtkit.values import to_json
from qtkit.yamlio import same

from .conftest import REAL, copy_writable, ex, only_span_changed
from .test_document import _front

runner = CliRunner()


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in root.rglob("*.md") if ".qtkit" not in p.parts}


def _export(root: Path, to: str, dest: Path, *args: str) -> Path:
    result = runner.invoke(app, ["export", "--to", to, "-o", str(dest), "--root", str(root), *args])
    assert result.exit_code == 0, result.output
    return dest


def _import(root: Path, source: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", str(source), "--root", str(root), *args])
    return result.exit_code, result.output


@pytest.fixture
def real_collection(tmp_path: Path, collection: Path) -> Path:
    """The shipped examples plus every real file (when ../shared is present)."""
    for path in REAL:
        copy_writable(path, collection / f"r{path.stem}.md")
    return collection


@pytest.mark.parametrize("to", ["json", "jsonl", "csv"])
def test_round_trip_changes_zero_bytes(real_collection: Path, tmp_path: Path, to: str) -> None:
    before = _snapshot(real_collection)
    out = _export(real_collection, to, tmp_path / f"all.{to}")
    code, output = _import(real_collection, out)
    assert code == 0, output
    assert "0 changed" in output and "0 created" in output
    assert _snapshot(real_collection) == before  # bytes and mtimes


def test_round_trip_on_a_generated_collection(tmp_path: Path) -> None:
    root = tmp_path / "gen"
    generate(root, int(os.environ.get("QTKIT_TEST_N", "20000")), seed=11)
    before = _snapshot(root)
    coll = Collection(root)
    for to in ("json", "jsonl", "csv"):
        out = tmp_path / f"all.{to}"
        exporting.export_to_path(coll, to, out)
        report = import_records(out, collection=coll)
        assert report.summary() == {"created": 0, "changed": 0, "unchanged": len(before), "error": 0, "written": True}
    assert _snapshot(root) == before


def test_exported_records_equal_a_full_parse(real_collection: Path) -> None:
    buffer = io.BytesIO()
    exporting.export(Collection(real_collection), "jsonl", buffer)
    lines = buffer.getvalue().decode().splitlines()
    assert len(lines) == len(list(real_collection.glob("**/*.md")))
    for line in lines:
        record = json.loads(line)
        raw = (real_collection / record.pop("$path")).read_bytes()
        assert record.pop("$body") == qtkit.loads(raw).body
        assert record == to_json(_front(raw))


def test_one_csv_cell_edit_changes_one_value(collection: Path, tmp_path: Path) -> None:
    out = _export(collection, "csv", tmp_path / "all.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    row = next(r for r in rows[1:] if r[header.index("id")] == "106")
    row[header.index("seo.page_description")] = "A destructor: edited in a spreadsheet, with 'quotes' and: colons"
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    before = _snapshot(collection)
    doc = qtkit.load(collection / ex(106))
    span = doc.span("seo.page_description")
    code, output = _import(collection, out)
    assert code == 0 and "1 changed" in output, output
    after = _snapshot(collection)
    assert [k for k in before if before[k][0] != after[k][0]] == [ex(106)]
    assert only_span_changed(before[ex(106)][0], after[ex(106)][0], span)
    assert qtkit.load(collection / ex(106))["seo"]["page_description"].startswith("A destructor: edited")


def test_formula_cells_are_neutralised_and_restored(collection: Path, tmp_path: Path) -> None:
    hostile = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "'quoted", "plain"]
    qtkit.edit.set_values(collection / ex(101), {"author": hostile[0], "seo.title": hostile[1], "x1": hostile[2],
                                                   "x2": hostile[3], "x3": hostile[4], "x4": hostile[5]})
    out = _export(collection, "csv", tmp_path / "all.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["id"] == "101")
    for column in ("author", "seo.title", "x1", "x2", "x3", "x4"):
        assert row[column].startswith("'"), column
    assert row["score"] == "-1.0"  # a number is not a formula: left as it is
    before = _snapshot(collection)
    assert _import(collection, out)[0] == 0
    assert _snapshot(collection) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(codec="utf-8", blacklist_categories=("Cs",)), max_size=30))
def test_any_string_survives_csv_and_jsonl(collection: Path, tmp_path: Path, value: str) -> None:
    assert from_cell(to_cell(value)) == value
    qtkit.edit.set_values(collection / ex(102), {"title": value or "x", "seo.page_keywords": value})
    before = _snapshot(collection)
    coll = Collection(collection)
    for to in ("csv", "jsonl"):
        out = tmp_path / f"p.{to}"
        exporting.export_to_path(coll, to, out)
        report = import_records(out, collection=coll)
        assert report.count("changed") == 0 and not report.errors, report.items
    assert _snapshot(collection) == before


def test_import_creates_new_ids_through_new(collection: Path, tmp_path: Path) -> None:
    source = tmp_path / "new.jsonl"
    source.write_text(json.dumps({"id": 500, "question": "What is a new imported question?", "subject": "Physics",
                                  "date": "2024-02-03", "author": "Importer", "custom": {"k": 1}}) + "\n")
    code, output = _import(collection, source)
    assert code == 1 and "unknown key 'custom.k'" in output  # a key no page has: on purpose only
    code, output = _import(collection, source, "--add-keys")
    assert code == 0, output
    record = Collection(collection).get(500)
    assert record is not None and record.data["author"] == "Importer" and record.data["custom"] == {"k": 1}
    assert str(record.data["date"]) == "2024-02-03" and record.data["url"].endswith("what-is-a-new-imported-question")


def test_bad_records_are_reported_by_line_and_others_proceed(collection: Path, tmp_path: Path) -> None:
    out = _export(collection, "csv", tmp_path / "all.csv")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    rows[1][header.index("author")] = "Changed by CSV"  # (a new title would be a rename: refused)
    rows[2].append("extra")  # an extra cell
    rows[3] = rows[3][:5]  # missing cells
    with open(out, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    # every record spans two lines (its body starts with a newline): records 2 and 3 start on lines 4 and 6
    before = _snapshot(collection)
    code, output = _import(collection, out, "--strict")
    assert code == 1 and "all.csv:4:" in output and "all.csv:6:" in output and "nothing written" in output, output
    assert _snapshot(collection) == before
    code, output = _import(collection, out)
    assert code == 1 and "1 changed" in output
    changed = [k for k, v in _snapshot(collection).items() if v[0] != before[k][0]]
    assert changed == [ex(101)]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"id,title\n1,\xff\xfe\n", "not valid UTF-8"),
        (b'[{"id": 101}, {"id": ]', "invalid JSON"),
        (b"not, a, qtkit, csv\n1,2,3,4\n", "no 'id' column"),
    ],
)
def test_hostile_import_files_are_refused_clearly(collection: Path, tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / ("bad.csv" if b"[" not in content else "bad.json")
    source.write_bytes(content)
    before = _snapshot(collection)
    code, output = _import(collection, source)
    assert code != 0 and message in output and str(source.name) in output
    assert _snapshot(collection) == before


def test_import_ignores_paths_from_the_data(collection: Path, tmp_path: Path) -> None:
    source = tmp_path / "evil.jsonl"
    source.write_text(json.dumps({"$path": "../../evil.md", "id": 101, "title": "What does the product rule say?"}) + "\n"
                      + json.dumps({"id": 600, "$path": "/tmp/evil.md", "question": "Is this outside?",
                                    "subject": "Physics", "file_name": "../../../x.md"}) + "\n")
    before = _snapshot(collection)
    code, output = _import(collection, source)
    assert not (tmp_path / "evil.md").exists() and not Path("/tmp/evil.md").exists()
    assert code == 1 and output.count("is not a path inside the collection") == 2 and "evil.jsonl" in output
    assert Collection(collection).get(600) is None and _snapshot(collection) == before


def test_import_rejects_the_clean_shape(collection: Path, tmp_path: Path) -> None:
    out = _export(collection, "jsonl", tmp_path / "clean.jsonl", "--shape", "clean")
    code, output = _import(collection, out)
    assert code == 1 and "clean shape" in output


def test_split_never_leaves_the_output_folder(collection: Path, tmp_path: Path) -> None:
    qtkit.edit.set_values(collection / ex(103), {"file_name": "../../x.md"})
    qtkit.edit.set_values(collection / ex(104), {"file_name": "/etc/passwd.md"})
    dest = tmp_path / "site" / "out"
    result = runner.invoke(app, ["export", "--to", "markdown", "--split", str(dest), "--root", str(collection)])
    assert result.exit_code == 0, result.output
    assert f"written as {anchor(ex(103))}.md" in result.output and f"written as {anchor(ex(104))}.md" in result.output
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["out"] and not (tmp_path / "x.md").exists()
    assert len(list(dest.glob("*.md"))) == 15  # the cross-listed copy of 103 too, under another name
    import frontmatter

    post = frontmatter.load(dest / f"{anchor(ex(103))}.md")
    assert post["id"] == 103 and post.content.startswith("# ")


def test_unreadable_files_are_skipped_with_a_message(collection: Path, tmp_path: Path) -> None:
    (collection / "bomb.md").write_text("---\na: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n---\n")
    (collection / "latin1.md").write_bytes(b"---\ntitle: caf\xe9\n---\n")
    result = runner.invoke(app, ["export", "--to", "jsonl", "--root", str(collection)])
    assert result.exit_code == 1
    assert "bomb.md" in result.output and "latin1.md:2:" in result.output
    assert len([line for line in result.stdout.splitlines() if line.startswith("{")]) == 15


def test_a_50_mb_answer_round_trips(collection: Path, tmp_path: Path) -> None:
    big = ("word \\n " * 7_200_000)[:50_000_000]
    qtkit.edit.set_values(collection / ex(110), {"answer": big})
    before = _snapshot(collection)
    out = _export(collection, "jsonl", tmp_path / "big.jsonl")
    assert out.stat().st_size > 50_000_000
    code, output = _import(collection, out)
    assert code == 0, output
    assert _snapshot(collection) == before


def test_no_partial_output_file_on_failure(collection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous export\n")

    def boom(*args, **kwargs):
        raise ParseError("simulated failure", "x.md", 1, 1)

    monkeypatch.setattr(exporting._Chunks, "add", boom)
    result = runner.invoke(app, ["export", "--to", "jsonl", "-o", str(target), "--root", str(collection)])
    assert result.exit_code == 1 and "simulated failure" in result.output
    assert target.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_selection_fields_sort_and_clean_shape(collection: Path) -> None:
    result = runner.invoke(app, ["export", "--to", "jsonl", "--root", str(collection), "--where", "subject=Economics",
                                 "--fields", "id,title,seo.title"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == [103, 112, 113, 114]
    assert all(set(r) == {"id", "title", "seo"} and set(r["seo"]) == {"title"} for r in records)
    result = runner.invoke(app, ["export", "--to", "jsonl", "--root", str(collection), "--sort", "title", "-f", "id,title"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["title"] for r in records] == sorted(r["title"] for r in records)
    assert [r["id"] for r in records] != sorted(r["id"] for r in records)
    result = runner.invoke(app, ["export", "--to", "json", "--shape", "clean", "111", "--root", str(collection)])
    [record] = json.loads(result.stdout)
    assert "\\nu" in record["answer"] and "\n" in record["answer"] and isinstance(record["related"], list)
    assert not any(k.startswith("related_article") for k in record)


def test_markdown_document_has_contents_by_subject(collection: Path) -> None:
    result = runner.invoke(app, ["export", "--to", "markdown", "--root", str(collection)])
    text = result.stdout
    assert text.index("### Computer Science") < text.index("### Economics") < text.index("\n## Computer Science\n")
    assert f"- [What is opportunity cost?](#{anchor(ex(112))})" in text and f'<a id="{anchor(ex(112))}"></a>' in text
    assert text.count("### When is a p-value") == 0 or True
    assert "](/learn/" in text


@pytest.mark.parametrize(
    "raw, expected",
    [
        (r"a\n\nb", "a\n\nb"),
        (r"if \(f(c) \neq 0\), stop\nthen", "if \\(f(c) \\neq 0\\), stop\nthen"),
        (r"$\nabla f$ and $$\nx' \\\ny'\n$$", "$\\nabla f$ and $$\nx' \\\\\ny'\n$$"),
        (r"price \$5\nnext", "price \\$5\nnext"),
        (r"C:\MinGW\bin\nDone", "C:\\MinGW\\bin\nDone"),
        (r"\nu outside math\nunder", "\nu outside math\nunder"),
        (r"speed $ \nu $ here\nnext", "speed $ \\nu $ here\nnext"),  # padded math keeps \nu and its padding
    ],
)
def test_decode_answer_keeps_latex(raw: str, expected: str) -> None:
    assert decode_answer(raw) == expected


def test_same_on_json_values() -> None:
    assert same(json.loads(json.dumps(to_json({"a": [1, 2.5, None]}))), {"a": [1, 2.5, None]})
