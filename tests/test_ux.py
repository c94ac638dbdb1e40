"""Issue 17: a collection pointed at on purpose, `init`, progress, one CLI convention,
`--where` queries, `replace`, safe imports, and a `Collection` that sees qtkit's own writes."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import qtkit
from qtkit import ingest
from qtkit.cli import app
from qtkit.config import looks_like_collection
from qtkit.errors import EditError
from qtkit.export import export
from qtkit.index import Collection
from qtkit.query import matches, parse

from .conftest import ROOT, ex

runner = CliRunner()
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
ENV.pop("QTKIT_ROOT", None)


def qtkit_run(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`python -m qtkit ARGS` as a user runs it (through `main()`), stdout and stderr piped."""
    return subprocess.run([sys.executable, "-m", "qtkit", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=120, **kwargs)


def _question(path: Path, qid: int, title: str, subject: str = "Physics") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nid: {qid}\ntitle: {title}\nsubject: {subject}\nanswer: An answer.\n---\n\nBody\n")
    return path


# ------------------------------------------------------------------ 1. the collection, on purpose


def test_no_collection_is_refused_in_one_line_and_no_cache_is_made(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    (scratch / "notes").mkdir(parents=True)
    (scratch / "notes" / "readme.md").write_text("# not a question\n")
    result = qtkit_run("get", "20", "title", cwd=scratch)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no collection here")
    assert "--root" in result.stderr and "qtkit init" in result.stderr
    assert result.stdout == ""
    assert not list(scratch.rglob(".qtkit"))


def test_question_files_at_the_top_or_in_subject_folders_are_a_collection(tmp_path: Path, collection: Path) -> None:
    flat = tmp_path / "flat"
    _question(flat / "a.md", 7, "What is a flat page?")
    result = qtkit_run("get", "7", "title", cwd=flat)
    assert result.returncode == 0 and result.stdout == "What is a flat page?\n"
    result = qtkit_run("get", "112", "title", cwd=collection)  # the site layout: <subject_key>/<slug>.md
    assert result.returncode == 0 and result.stdout == "What is opportunity cost?\n"


def test_the_tree_is_never_walked_to_decide(tmp_path: Path) -> None:
    _question(tmp_path / "a" / "b" / "c" / "deep.md", 1, "Deep?")  # two levels too deep to count
    assert not looks_like_collection(tmp_path)
    _question(tmp_path / "physics" / "q.md", 2, "Shallow?")
    assert looks_like_collection(tmp_path)


def test_init_writes_a_config_with_the_layout_and_the_subjects(collection: Path) -> None:
    result = runner.invoke(app, ["init", str(collection), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["layout"] == "site" and found["pages"] == 15 and found["questions"] == 14
    assert found["subjects"]["history-of-the-world"] == "History of the World"
    assert not (collection / "qtkit.toml").exists()  # a dry run writes nothing, no cache either
    assert not (collection / ".qtkit").exists()
    result = runner.invoke(app, ["init", str(collection)])
    assert result.exit_code == 0
    assert "15 pages, 14 questions, 5 subjects, site layout" in result.stderr
    text = (collection / "qtkit.toml").read_text()
    assert '"economics" = "Economics"' in text
    assert runner.invoke(app, ["init", str(collection)]).exit_code == 1  # exists: --force to replace
    sub = collection / "economics"
    result = qtkit_run("get", "112", "title", cwd=sub)  # found upward by its qtkit.toml
    assert result.returncode == 0 and result.stdout == "What is opportunity cost?\n"


def test_init_detects_a_flat_layout(tmp_path: Path) -> None:
    for i in range(3):
        _question(tmp_path / f"q{i}.md", i + 1, f"Question {i}?", "Computer science")
    result = runner.invoke(app, ["init", str(tmp_path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["layout"] == "flat"
    text = (tmp_path / "qtkit.toml").read_text()
    assert 'new_file = "{slug}.md"' in text and '"computer-science" = "Computer science"' in text
    assert runner.invoke(app, ["init", str(tmp_path / "nothing")]).exit_code == 1


# ------------------------------------------------------------------ 2. progress


def _run_with_pty_stderr(args: list[str]) -> tuple[int, str, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "qtkit", *args], stdout=subprocess.PIPE, stderr=slave,
                            env={**ENV, "COLUMNS": "100", "TERM": "xterm"})
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()  # type: ignore[union-attr]
    code = proc.wait(60)
    os.close(master)
    return code, out, b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal_is_a_live_line_per_phase(collection: Path) -> None:
    code, out, err = _run_with_pty_stderr(["index", "--root", str(collection)])
    assert code == 0
    assert "indexing" in err and "15/15" in err  # phase, counts
    assert "0:00:0" in err  # elapsed time
    assert err.count("indexing 15/15") == 0  # not the old `\r` line printed on every call
    assert "15 files (15 read" in err  # the one-line summary
    assert out == ""


def test_no_progress_on_a_pipe_only_the_summary(collection: Path) -> None:
    result = qtkit_run("index", "--root", str(collection))
    assert result.returncode == 0
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("15 files (15 read, 0 removed, 0 unreadable) in ")
    quiet = qtkit_run("index", "--root", str(collection), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
    code, _, err = _run_with_pty_stderr(["index", "--root", str(collection), "-q"])
    assert code == 0 and err == ""


# ------------------------------------------------------------------ 3. one convention


@pytest.mark.parametrize("args, text", [
    (["export", "--to", "xml"], "error: unknown --to 'xml'"),
    (["index", "--bogus"], "error: No such option: --bogus"),
    (["get"], "error: Missing argument 'target'"),
    (["frobnicate"], "error: No such command 'frobnicate'"),
    (["export", "--to", "json", "--where", "a~("], "error: invalid regular expression"),
    (["export", "--to", "json", "--where", "id<soon"], "error: 'id<soon': < compares numbers or dates"),
    (["import", "x.csv", "--renames", "maybe"], "error: unknown --renames 'maybe'"),
    (["get", "-5", "title"], "error: No such option: -5; a value starting with '-' goes after `--`, options before it:"
                             " qtkit get [OPTIONS] -- -5 ..."),
])
def test_usage_errors_are_one_error_line_and_exit_2(collection: Path, args: list[str], text: str) -> None:
    result = qtkit_run(*args, "--root", str(collection)) if args[0] != "frobnicate" else qtkit_run(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(text) and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_version_and_completion() -> None:
    result = qtkit_run("--version")
    assert result.returncode == 0 and result.stdout == f"qtkit {qtkit.__version__}\n"
    result = qtkit_run("--help")
    assert "--install-completion" in result.stdout
    result = qtkit_run("--show-completion", "bash")
    assert result.returncode == 0 and "complete" in result.stdout and "qtkit" in result.stdout


def test_json_is_the_only_thing_on_stdout(collection: Path) -> None:
    result = qtkit_run("rename", ex(112), "--title", "What is an opportunity cost?", "--json", "--dry-run",
                       "--root", str(collection))
    assert result.returncode == 0
    assert json.loads(result.stdout)["moves"]  # no diff before the JSON
    result = qtkit_run("check", "--rules", "--json")
    rules = json.loads(result.stdout)
    assert result.returncode == 0 and {"code", "name", "fix", "summary"} <= set(rules[0])
    result = qtkit_run("check", "--json", "--root", str(collection))
    assert isinstance(json.loads(result.stdout), list) and result.returncode == 1
    result = qtkit_run("set", ex(112), "author=Desk", "--json", "--dry-run", "--root", str(collection))
    assert json.loads(result.stdout)["changed"] is True and result.returncode == 0
    result = qtkit_run("init", str(collection), "--dry-run", "--json")
    assert json.loads(result.stdout)["layout"] == "site"


def test_quiet_on_a_command_leaves_only_errors(collection: Path) -> None:
    result = qtkit_run("set", ex(112), "author=Desk", "--quiet", "--root", str(collection))
    assert result.returncode == 0 and result.stderr == ""
    assert qtkit.load(collection / ex(112))["author"] == "Desk"


# ------------------------------------------------------------------ 4. queries and replace


DATA = {"id": 12, "title": "What is X?", "score": "-1.5", "date": dt.date(2025, 2, 5), "seo": {"title": "QT | X"},
        "empty": ""}


@pytest.mark.parametrize("text, expected", [
    ("title=What is X?", True), ("title!=What is X?", False), ("missing!=a", True), ("title~^What", True),
    ("title~^what", False), ("title~(?i)^what", True), ("title!~X", False), ("id>11", True), ("id<12", False),
    ("id<=12", True), ("id>=13", False), ("score<0", True), ("date>2025-01-31", True), ("date<2025-02-05", False),
    ("date>=2025-02-05T00:00", True), ("seo.title=QT | X", True), ("seo?", True), ("empty?", True),
    ("missing?", False), ("!missing", True), ("!empty", False), ("title>3", False), ("seo.title~\\|", True),
])
def test_conditions(text: str, expected: bool) -> None:
    assert parse(text).matches(DATA) is expected


@pytest.mark.parametrize("text", ["nokey", "=x", "a~(", "a<soon", "a~" + "x" * 600])
def test_bad_conditions_are_refused(text: str) -> None:
    with pytest.raises(EditError):
        parse(text)


def test_a_runaway_regex_fails_instead_of_hanging() -> None:
    cond = parse("title~(a|aa)+$")
    with pytest.raises(EditError, match="longer than"):
        matches({"title": "a" * 60 + "b"}, [cond])


def test_where_is_shared_by_export_set_stats(collection: Path) -> None:
    result = runner.invoke(app, ["export", "--to", "jsonl", "--root", str(collection), "--fields", "id",
                                 "--where", "id>110", "--where", "subject~^Eco"])
    assert result.exit_code == 0
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [112, 113, 114]
    result = runner.invoke(app, ["stats", "--root", str(collection), "--json", "--where", "!related_article1"])
    assert result.exit_code == 0 and json.loads(result.stdout)["pages"] == 2  # the cross-listed p-value question
    result = runner.invoke(app, ["set", "--where", "id<103", "--where", "subject=Mathematics", "author=Maths",
                                 "--root", str(collection)])
    assert result.exit_code == 0 and "2 questions match; 2 changed" in result.stderr
    assert qtkit.load(collection / ex(101))["author"] == "Maths"
    assert qtkit.load(collection / ex(103))["author"] != "Maths"


def test_a_key_no_page_has_is_a_warning(collection: Path) -> None:
    result = runner.invoke(app, ["export", "--to", "jsonl", "--root", str(collection), "--where", "subjet=Physics"])
    assert result.exit_code == 0 and result.stdout == ""
    assert "warning: no page has the key 'subjet'" in result.stderr
    result = runner.invoke(app, ["export", "--to", "jsonl", "--root", str(collection), "--where", "seo.title?"])
    assert "warning" not in result.stderr


def test_replace_previews_then_writes_with_a_count(collection: Path) -> None:
    before = {p: p.read_bytes() for p in collection.rglob("*.md")}
    result = runner.invoke(app, ["replace", "title", "What is", "What's", "--where", "subject=Economics",
                                 "--dry-run", "--root", str(collection)])
    assert result.exit_code == 0
    assert "+    What's the difference between GDP and GNP?" in result.stdout or "+title: What's" in result.stdout
    assert "2 replacements in 2 files (dry run" in result.stderr
    assert {p: p.read_bytes() for p in collection.rglob("*.md")} == before
    result = runner.invoke(app, ["replace", "title", r"^What is (\w+)", r"Define \1:", "--regex", "--json",
                                 "--where", "subject=Economics", "--root", str(collection)])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["summary"] == {"files": 2, "replacements": 2, "failed": 0, "dry_run": False}
    assert qtkit.load(collection / ex(112))["title"] == "Define opportunity: cost?"
    changed = [p for p in before if p.read_bytes() != before[p]]
    assert len(changed) == 2
    old, new = before[collection / ex(112)].split(b"\n"), (collection / ex(112)).read_bytes().split(b"\n")
    assert sum(1 for a, b in zip(old, new) if a != b) == 1 and len(old) == len(new)  # one line changed
    assert runner.invoke(app, ["replace", "title", "", "x", "--root", str(collection)]).exit_code == 2


# ------------------------------------------------------------------ 5. imports that cannot damage


def _export_csv(collection: Path, *extra: str) -> str:
    result = runner.invoke(app, ["export", "--to", "csv", "--root", str(collection), *extra])
    assert result.exit_code == 0
    return result.stdout


def test_an_unknown_column_is_an_error_with_a_hint(collection: Path, tmp_path: Path) -> None:
    text = _export_csv(collection, "--fields", "id,$path,title")
    source = tmp_path / "in.csv"
    source.write_text(text.replace('"title"', '"Title"', 1), encoding="utf-8")
    before = {p: p.read_bytes() for p in collection.rglob("*.md")}
    result = runner.invoke(app, ["import", str(source), "--root", str(collection)])
    assert result.exit_code == 1
    assert "unknown key 'Title': no page has it; did you mean 'title'? (--add-keys adds new keys)" in result.stderr
    assert {p: p.read_bytes() for p in collection.rglob("*.md")} == before
    result = runner.invoke(app, ["import", str(source), "--add-keys", "--root", str(collection)])
    assert result.exit_code == 0
    assert qtkit.load(collection / ex(112))["Title"] == "What is opportunity cost?"


def test_mis_decoded_text_is_an_error_with_a_hint(collection: Path, tmp_path: Path) -> None:
    text = _export_csv(collection, "--fields", "id,$path,answer")
    answer = qtkit.load(collection / ex(113))["answer"]
    source = tmp_path / "in.csv"
    source.write_text(text.replace(answer, "Hereâ€™s the answer", 1), encoding="utf-8")
    result = runner.invoke(app, ["import", str(source), "--root", str(collection)])
    assert result.exit_code == 1
    assert "looks mis-decoded (UTF-8 read as cp1252" in result.stderr and "Here's" in result.stderr
    assert qtkit.load(collection / ex(113))["answer"] == answer


def test_a_new_title_is_refused_or_renamed(collection: Path, tmp_path: Path) -> None:
    text = _export_csv(collection, "--fields", "id,$path,title")
    source = tmp_path / "in.csv"
    source.write_text(text.replace("What is opportunity cost?", "What is an opportunity cost?"), encoding="utf-8")
    result = runner.invoke(app, ["import", str(source), "--root", str(collection)])
    assert result.exit_code == 1
    assert "`qtkit rename economics/what-is-opportunity-cost.md --title \"What is an opportunity cost?\"`" in result.stderr
    assert "--renames apply" in result.stderr
    assert (collection / ex(112)).exists()
    inbound = [p for p in collection.rglob("*.md") if b"/what-is-opportunity-cost\n" in p.read_bytes()
               and p != collection / ex(112)]
    result = runner.invoke(app, ["import", str(source), "--renames", "apply", "--root", str(collection)])
    assert result.exit_code == 0, result.stderr
    moved = collection / "economics" / "what-is-an-opportunity-cost.md"
    assert moved.exists() and not (collection / ex(112)).exists()
    data = qtkit.load(moved).to_dict()
    assert data["title"] == data["article_title"] == data["question"] == "What is an opportunity cost?"
    assert data["url"].endswith("/what-is-an-opportunity-cost")
    assert "/learn/economics/questions/what-is-opportunity-cost" in data["aliases"]
    for path in inbound:
        assert b"/what-is-an-opportunity-cost\n" in path.read_bytes()


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="ÃÂâ"),
                min_size=1, max_size=40).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_TEXT, min_size=1, max_size=4))
def test_the_sheet_shape_imports_back_losslessly(tmp_path_factory: pytest.TempPathFactory,
                                                 parts: list[str]) -> None:
    base = tmp_path_factory.mktemp("sheet")
    edited, pristine = base / "edited", base / "pristine"
    shutil.copytree(ROOT / "examples", edited, ignore=shutil.ignore_patterns(".qtkit"))
    shutil.copytree(ROOT / "examples", pristine, ignore=shutil.ignore_patterns(".qtkit"))
    answer = "\\n\\n".join(parts) + "\\nu"  # the collection's literal \n, and a \nu that is LaTeX
    from qtkit import edit as editing

    editing.set_values(edited / ex(104), {"answer": answer})
    buffer = io.StringIO()
    report = export(Collection(edited), "csv", buffer, shape="sheet")
    assert not report.warnings
    text = buffer.getvalue()
    assert "\n\n" in text  # real line breaks in the cells
    sheet = base / "sheet.csv"
    sheet.write_text(text, encoding="utf-8", newline="")
    result = ingest.import_records(sheet, root=pristine, shape="sheet")
    assert not result.errors, [i.message for i in result.errors]
    assert qtkit.load(pristine / ex(104))["answer"] == answer
    assert result.summary()["changed"] == 1
    again = ingest.import_records(sheet, root=pristine, shape="sheet", dry_run=True)
    assert again.summary()["changed"] == 0 and not again.errors


def test_sheet_cells_hold_real_line_breaks(collection: Path) -> None:
    text = _export_csv(collection, "--shape", "sheet", "--where", "id=112", "--fields", "id,answer")
    assert "\n\n" in text and "\\n" not in text
    assert runner.invoke(app, ["export", "--to", "json", "--shape", "sheet", "--root", str(collection)]).exit_code == 1


# ------------------------------------------------------------------ 6. the API stays true


def test_a_collection_sees_what_the_library_wrote(collection: Path) -> None:
    coll = Collection(collection)
    assert coll.page(ex(112)).get("title") == "What is opportunity cost?"
    doc = qtkit.load(collection / ex(112))
    doc.set("title", "Saved through the API")
    doc.save()
    buffer = io.StringIO()
    export(coll, "jsonl", buffer)
    titles = {json.loads(line)["$path"]: json.loads(line)["title"] for line in buffer.getvalue().splitlines()}
    assert titles[ex(112)] == "Saved through the API"
    from qtkit import edit as editing

    editing.set_values(collection / ex(113), {"title": "Edited"})
    assert coll.page(ex(113)).get("title") == "Edited"
    from qtkit.rename import rename

    rename(ex(114), title="Why do prices end in .99?", root=collection)
    assert coll.page(ex(114)) is None and coll.page("economics/why-do-prices-end-in-99.md") is not None
