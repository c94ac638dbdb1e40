"""The fast paths give exactly what the slow ones give: key positions recorded at index
time == the full `Document`'s, `check`'s lines from the index == from the files, and an
index built cold == refreshed warm == every file read afresh."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtkit
from qtkit import check as checking
from qtkit import reader
from qtkit.document import Document
from qtkit.edit import set_values
from qtkit.index import CACHE_DIR, Collection, Row, parse_file
from benchmarks.synthetic import generate

from .test_reader import _HOUSE, _fragments, _one_change_variants

ODD = {
    # full parser: a comment, a list, CRLF, a BOM, a quoted key, a flow mapping, an anchor
    "comment.md": "---\n# a note\nid: 1\ntitle: A\nseo:\n  # inside\n  title: S\n---\nbody\n",
    "list.md": "---\nid: 2\ntags:\n- a\n- b\nseo:\n    title: S\n    page_keywords: k\n---\n",
    "crlf.md": "---\r\nid: 3\r\ntitle: >-\r\n    A\r\n    B\r\nseo:\r\n  title: S\r\n---\r\nbody\r\n",
    "bom.md": "\ufeff---\nid: 4\ntitle: T\nrelated_article1:\n    id: 9\n    title: X\n---\n",
    "quoted.md": "---\nid: 5\n'odd key': 1\nseo:\n  title: 'S'\n---\n",
    "flow.md": "---\nid: 6\nseo: {title: S, page_keywords: k}\ntitle: T\n---\n",
    "blank.md": "---\nid: 8\n\ntitle: T\n\n\nseo:\n  title: S\n\n  page_description: D\n---\n",
    "deep.md": "---\nid: 9\na:\n  b:\n    c:\n      d: 1\n  e: 2\nf: 3\n---\n",
}


def _document_spots(raw: bytes) -> dict[tuple, tuple[int, int]]:
    """(line, col) of every key path, the slow way: the full Document's spans."""
    doc = Document(raw)
    out = {}

    def walk(node: dict, prefix: tuple) -> None:
        for key, value in node.items():
            path = (*prefix, key)
            entry = doc.entry(path)
            if entry is not None:
                out[path] = (doc.span(path)[0], entry.indent + 1)
            if isinstance(value, dict):
                walk(value, path)

    walk(doc.to_dict(), ())
    return out


def _index_spots(raw: bytes, tmp: Path) -> dict[tuple, tuple[int, int]] | None:
    path = tmp / "q.md"
    path.write_bytes(raw)
    row = parse_file((str(tmp), "q.md", 0, 0))
    assert row.error is None, row.error
    if row.lines is None:
        return None
    return reader.key_lines(json.loads(row.data) if row.data.startswith(" ") else orjson.loads(row.data), row.lines)


@pytest.mark.parametrize("name", sorted(ODD))
def test_positions_of_odd_files_equal_the_documents(name: str, tmp_path: Path) -> None:
    raw = ODD[name].encode()
    spots = _index_spots(raw, tmp_path)
    if spots is None:  # the index says it cannot place these keys: check asks the file
        assert name in ("flow.md", "comment.md")  # keys the Document does not mirror, or cannot edit
        return
    assert spots == _document_spots(raw)


def test_positions_of_generated_and_example_files(tmp_path: Path) -> None:
    generate(tmp_path / "gen", 60, seed=3)
    files = sorted((tmp_path / "gen").glob("*.md")) + sorted((Path(__file__).parents[1] / "examples").rglob("*.md"))
    for path in files:
        raw = path.read_bytes()
        assert _index_spots(raw, tmp_path) == _document_spots(raw), path.name


@settings(max_examples=int(os.environ.get("QTKIT_FUZZ_EXAMPLES", "300")), deadline=None)
@given(lines=st.lists(st.tuples(st.sampled_from([0, 0, 0, 2, 4, 8]), _fragments), min_size=1, max_size=12))
def test_fuzzed_positions_equal_the_documents(lines: list) -> None:
    front = "".join(" " * indent + text + "\n" for indent, text in lines)
    raw = f"---\n{front}---\nbody".encode()
    try:
        doc_spots = _document_spots(raw)
    except qtkit.QtkitError:
        return
    where: list = []
    try:
        data, _ = reader.read(raw, None, where)
    except qtkit.QtkitError:
        return
    if where[:1] == [None]:
        return
    assert reader.key_lines(data, ",".join(map(str, where))) == doc_spots, front


def test_positions_of_near_house_files_equal_the_documents() -> None:
    """Every file one change away from a house-format file: the positions the reader
    records (fast or full path, and `fast_positions` where the fast path reads it) are
    the `Document`'s."""
    for front in [_HOUSE, *_one_change_variants(_HOUSE)]:
        raw = f"---\n{front}---\nbody".encode()
        try:
            doc_spots = _document_spots(raw)
        except qtkit.QtkitError:
            continue
        where: list = []
        data, _ = reader.read(raw, None, where)
        if where[:1] != [None]:
            assert reader.key_lines(data, ",".join(map(str, where))) == doc_spots, front
        fast_where: list = []
        if reader.read_fast(raw, None, None, fast_where) is not None:
            assert reader.fast_positions(raw) == fast_where == where, front


def test_relinks_parsed_rows_record_the_same_positions(tmp_path: Path) -> None:
    """`parse_file` given what the fast reader made (as relink's writes do) finds the
    positions again, the same as a row read from scratch."""
    generate(tmp_path, 5, seed=4)
    for path in sorted(tmp_path.glob("*.md")):
        raw = path.read_bytes()
        dates: list = []
        data, body = reader.read_fast(raw, path, dates)
        given_row = parse_file((str(tmp_path), path.name, 1, 1), raw, (data, None, dates))
        fresh = parse_file((str(tmp_path), path.name, 1, 1))
        assert isinstance(given_row, Row) and given_row.lines == fresh.lines and given_row.data == fresh.data


def _slow_locate(root: Path, findings: list[checking.Finding]) -> list[tuple]:
    """What check reported before the index kept positions: every finding's file loaded
    through the full Document."""
    out = []
    for f in findings:
        line, col = 1, 1
        if f.key and f.code != "QT001":
            doc = qtkit.load(root / f.path)
            span = doc.span(f.key)
            if span is not None:
                line, col = span[0], doc.entry(f.key).indent + 1
        out.append((f.path, line, col, f.code, f.message))
    return out


def _defective(root: Path, n: int, seed: int) -> None:
    """A generated collection with planted defects in every third file (stale and missing
    links, titles that no longer give the file name, seo titles, a repeated id)."""
    generate(root, n, seed=seed)
    files = sorted(root.glob("*.md"))
    for i, path in enumerate(files[::3]):
        edits = {"related_article2.title": "A stale title", "seo.title": "Wrong | Site"}
        if i % 2:
            edits.update({"title": f"A retitled question {i}", "related_article1.id": 10**9 + i})
        if i % 5 == 0:
            edits["id"] = Document(files[0].read_bytes())["id"]
        set_values(path, edits)


def test_check_lines_from_the_index_equal_the_files(tmp_path: Path) -> None:
    root = tmp_path / "c"
    _defective(root, 300, seed=5)
    for name, text in ODD.items():
        (root / name).write_text(text, encoding="utf-8", newline="")
    findings = checking.check(root)
    located = [f for f in findings if f.key and f.code != "QT001"]
    assert len(located) > 50 and any(f.line > 1 for f in located)
    assert [(f.path, f.line, f.col, f.code, f.message) for f in findings] == _slow_locate(root, findings)
    assert not any(os.path.exists(root / CACHE_DIR / n) for n in ("build",))


def test_check_does_not_load_documents_to_place_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "c"
    _defective(root, 200, seed=6)
    Collection(root).refresh()

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("check loaded a Document to place a finding")

    monkeypatch.setattr(checking, "load", refuse)
    findings = checking.check(root)
    assert any(f.line > 1 for f in findings)


def _rows(root: Path) -> list[tuple]:
    coll = Collection(root)
    coll.refresh()
    db = coll._db
    files = db.execute("SELECT f.path, f.size, f.mtime, f.qid, f.url, f.file_name, f.subject, l.keys, f.error,"
                       " f.title, d.data, d.dates, d.body, d.lines FROM files f LEFT JOIN docs d ON d.id = f.id"
                       " LEFT JOIN layouts l ON l.id = f.layout ORDER BY f.path").fetchall()
    coll.close()
    return files


def test_index_cold_equals_warm_equals_fresh_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "c"
    generate(root, 120, seed=8)
    for name, text in ODD.items():
        (root / name).write_text(text, encoding="utf-8", newline="")
    (root / "bad.md").write_bytes(b"---\ntitle: [unclosed\n---\n")
    monkeypatch.setattr(Collection, "bulk_min", 10)  # the sharded cold build on every core
    cold = _rows(root)
    warm = _rows(root)
    assert cold == warm
    # one edited, one added, one removed: the warm refresh re-reads only those
    edited = sorted(root.glob("*.md"))[3]
    set_values(edited, {"title": "An edited title"})
    shutil.copy(root / "comment.md", root / "copy.md")
    (root / "blank.md").unlink()
    warm = _rows(root)
    shutil.rmtree(root / CACHE_DIR)
    monkeypatch.setattr(Collection, "bulk_min", 10**9)  # read afresh, one file at a time
    fresh = _rows(root)
    assert warm == fresh
    assert [r[0] for r in fresh] == sorted(p.name for p in root.glob("*.md"))


WHERE_FILES = {
    "a.md": "---\nid: 1\nsubject: Physics\ntitle: A\nseo:\n  title: QuickTakes | Physics\n---\n",
    "b.md": "---\nid: 2\nsubject: 5\ntitle: B\ndate: 2024-01-02\n---\n",
    "c.md": "---\nid: 3\nsubject: Physics\ntitle: Ünïcode\nscore: .nan\n---\n",
    "d.md": "---\nid: x7\nsubject: 'true'\ntitle: D\nflag: true\ndate: 2024-01-02 10:30:00\n---\n",
    "e.md": "---\nid: 5\nsubject: Physics\ntitle: E\nseo: {title: QuickTakes | Physics}\nbig: 123456789012345678901234567890\n---\n",
    "f.md": "---\nid: 6\nsubject: [Physics]\ntitle: '5'\nscore: -1.0\n---\n",
}


@pytest.mark.parametrize("conditions", [
    [("subject", "Physics")], [("subject", "5")], [("title", "5")], [("title", "Ünïcode")], [("id", "5")],
    [("id", "x7")], [("date", "2024-01-02")], [("date", "2024-01-02T10:30:00")], [("flag", "true")],
    [("subject", "true")], [("score", "-1.0")], [("seo.title", "QuickTakes | Physics")], [("score", '"nan"')],
    [("big", "123456789012345678901234567890")], [("subject", '[\n  "Physics"\n]')], [("missing", "x")],
    [("subject", "Physics"), ("id", "3")],
])
def test_where_finds_what_the_slow_filter_finds(conditions: list, tmp_path: Path) -> None:
    from qtkit.query import matches, parse_where

    for name, text in WHERE_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    coll = Collection(tmp_path)
    slow = [r.relpath for r in coll if matches(r.data, parse_where(conditions))]
    assert coll.where(conditions) == slow


def test_set_where_writes_a_batch_like_one_edit_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qtkit.edit import set_where

    generate(tmp_path / "batch", 40, seed=9)
    shutil.copytree(tmp_path / "batch", tmp_path / "one")
    subject = Document((tmp_path / "one" / sorted(p.name for p in (tmp_path / "one").glob("*.md"))[0]).read_bytes())["subject"]
    for path in sorted((tmp_path / "one").glob("*.md")):
        if Document(path.read_bytes())["subject"] == subject:
            set_values(path, {"seo.page_keywords": "batch, edit"})
    monkeypatch.setattr(os, "sync", None)  # never a global sync
    results = set_where([("subject", subject)], {"seo.page_keywords": "batch, edit"}, root=tmp_path / "batch")
    assert results and all(r.written for r in results)
    for path in sorted((tmp_path / "one").glob("*.md")):
        assert (tmp_path / "batch" / path.name).read_bytes() == path.read_bytes(), path.name
    assert not list((tmp_path / "batch").glob(".*qtkit-tmp"))
    fresh = Collection(tmp_path / "batch")
    assert all(fresh.by_path(tmp_path / "batch" / r.path.name).get("seo.page_keywords") == "batch, edit" for r in results)
    # the rows set --where stored from the bytes it wrote == every file read afresh
    assert [(r.relpath, r.data, r.body) for r in fresh] == [
        (r.relpath, r.data, r.body) for r in Collection(tmp_path / "batch", cache=False)]


@pytest.mark.parametrize("where", [
    ["subject=Physics", "title~^[A-E]$"], ["subject=Physics", "id>2"], ["subject=Physics", "!big"],
    ["subject=Physics", "seo?"], ["date=2024-01-02", "subject!=Physics"], ["title=Ünïcode", "score!~x"],
    ["subject=Physics", "id=5", "big>1"],
])
def test_select_with_equal_and_other_conditions_equals_the_slow_filter(where: list, tmp_path: Path) -> None:
    """select finds the `=` conditions inside SQLite and checks the others on those pages only."""
    from qtkit.query import matches, parse_where, select

    for name, text in WHERE_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    coll = Collection(tmp_path)
    slow = [(r.relpath, r.data) for r in coll if matches(r.data, parse_where(where))]
    assert slow or where[0].startswith("title")
    assert [(r.relpath, r.data) for r in select(coll, where=where)] == slow


@pytest.mark.parametrize("to", ["jsonl", "json", "csv"])
def test_parallel_export_equals_serial_and_writes_the_output_once(to: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from qtkit import export as exporting

    root = tmp_path / "c"
    generate(root, 150, seed=10)
    (root / "odd.md").write_text(WHERE_FILES["c.md"].replace("id: 3", "id: 9999"), encoding="utf-8")
    coll = Collection(root)
    serial = tmp_path / f"serial.{to}"
    exporting.export_to_path(coll, to, serial, workers=1)
    monkeypatch.setattr(exporting, "PARALLEL_MIN", 10)
    opened: list[str] = []
    real_open = open

    def spy(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if "w" in str(mode) or "a" in str(mode):
            opened.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    parallel = tmp_path / f"parallel.{to}"
    exporting.export_to_path(coll, to, parallel, workers=2)
    assert parallel.read_bytes() == serial.read_bytes()
    assert opened == []  # no slice went through a file of its own


_ODD_EXPORTS = {
    "plain.md": "---\nid: 1\ntitle: Plain\nseo:\n  title: T\ndate: 2024-01-02\n---\nbody \u00e9 \\ \" \x01\x1f\t\u2028\n",
    "dollar.md": "---\nid: 2\n$ref: x\nnested:\n  $inner: 1\n---\nb\n",
    "nan.md": "---\nid: 3\nscore: .nan\nbig: 123456789012345678901234567890\n---\n",
    "empty.md": "---\n---\nonly a body\n",
    "flow.md": "---\nid: 5\ntags: [a, b]\nwhen: 2024-01-02 10:00:00\n---\n\n",
    "unicode.md": "---\nid: 6\ntitle: \u00c9t\u00e9 \U0001f600\n---\n\U0001f600\n",
}


def test_export_lines_spliced_as_bytes_equal_the_text_path(tmp_path: Path) -> None:
    """The lossless JSON lines that take the cached JSON as bytes are byte for byte the
    lines built from the decoded row (a `$` key, NaN and big ints, empty front matter,
    control and non-ASCII characters in the body), in both JSON formats."""
    from qtkit import export as exporting

    for name, text in _ODD_EXPORTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    coll = Collection(tmp_path)
    assert coll.errors() == [] and len(coll) == len(_ODD_EXPORTS)
    spliced = list(exporting._fast_lines(coll, "jsonl", []))
    built = [exporting._json_line(rel, text, body) for rel, text, body in coll.json_rows()]
    assert spliced == built and all(isinstance(line, bytes) for line in spliced)
    for line, record in zip(spliced, coll):
        assert json.loads(line) == json.loads(exporting._json_bytes(exporting.lossless(
            record.relpath, record.data, record.body), False))
    for to in ("jsonl", "json"):
        out = io.BytesIO()
        exporting.export(coll, to, out)
        assert out.getvalue() == (b"\n".join(built) + b"\n" if to == "jsonl" else b"[\n" + b",\n".join(built) + b"\n]\n")


@pytest.mark.parametrize("value", ["123", "0", "012", "1_000", "\u0661\u0662", "99999999999999999999999", "+5", "7x"])
def test_integers_read_fast_as_the_full_parser_reads_them(value: str) -> None:
    import yaml

    raw = f"---\na: {value}\n---\n".encode()
    fast = reader.read_fast(raw)
    assert fast is None or fast[0] == yaml.load(f"a: {value}\n", Loader=yaml.CSafeLoader)
