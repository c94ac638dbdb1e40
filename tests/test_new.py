"""`qtkit new`: ids, slugs and urls, refusals, dry runs, batches, parallel runs."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qtkit
from qtkit.cli import app
from qtkit.errors import Refused
from qtkit.scaffold import answer_from_text, new
from qtkit.slugs import slug

from .conftest import REAL, ex, needs_shared
from .test_document import _front

runner = CliRunner()


@needs_shared
@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_slug_rule_reproduces_real_file_names_and_urls(path: Path) -> None:
    data = _front(path.read_bytes())
    assert data["file_name"] == slug(data["title"]) + ".md"
    assert data["url"] == f"/learn/{slug(data['subject'])}/questions/{slug(data['title'])}"


@pytest.mark.parametrize(
    "text, expected",
    [("China-Africa", "chinaafrica"), ("Court's", "courts"), ("C++", "c"), ("DC-DC", "dcdc"),
     ("EUI-64", "eui64"), ("p > 0.5", "p--05"), ("Café — résumé", "caf--rsum"),
     ("What is La Tène art?", "what-is-la-tne-art"), ("The dēmos of Athens", "the-dmos-of-athens"),
     ("When is &amp; written?", "when-is-amp-written"), ("Why <br> tags?", "why-br-tags"),
     ("x² + 2", "x--2"), ("Ｆｕｌｌ width", "-width")],
)
def test_slug_examples(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_new_uses_next_id_and_derives_fields(collection: Path) -> None:
    created = new("What is a Nash equilibrium: really?", "economics", root=collection,
                  answer=answer_from_text("Line one.\n\nLine two."), date=datetime.date(2025, 3, 1))
    assert created.id == 115
    doc = qtkit.load(created.path)
    assert created.path == collection / "economics" / "what-is-a-nash-equilibrium-really.md"  # the site's layout
    assert doc["subject"] == "Economics"  # case normalised to the known spelling
    assert doc["title"] == doc["article_title"] == doc["question"] == "What is a Nash equilibrium: really?"
    assert doc["seo"]["title"] == "QuickTakes | Economics"
    assert doc["file_name"] == "what-is-a-nash-equilibrium-really.md"
    assert doc["url"] == "/learn/economics/questions/what-is-a-nash-equilibrium-really"
    assert doc["answer"] == "Line one.\\n\\nLine two."
    assert doc["date"] == datetime.date(2025, 3, 1)
    assert "title: >-\n    What is a Nash equilibrium: really?\n" in created.path.read_text()


@pytest.mark.parametrize("subject", ["Economics", "economics", "ECONOMICS", "  economics "])
def test_subject_by_key_or_title_in_any_case_gives_the_canonical_title(collection: Path, subject: str) -> None:
    created = new("What is La Tène art?", subject, root=collection, dry_run=True)
    assert created.path == collection / "economics" / "what-is-la-tne-art.md"
    assert "subject: Economics\n" in created.text and "url: /learn/economics/questions/what-is-la-tne-art\n" in created.text


def test_subject_registry_from_qtkit_toml(collection: Path) -> None:
    (collection / "qtkit.toml").write_text('[subjects]\neconomics = "Economics and Finance"\nphysics = "Physics"\n')
    created = new("What is a bond?", "economics and finance", root=collection, dry_run=True)
    assert "subject: Economics and Finance\n" in created.text and created.path.parent.name == "economics"
    with pytest.raises(Refused, match="unknown subject"):
        new("What is a bond?", "Mathematics", root=collection, dry_run=True)


def test_file_name_over_255_bytes_is_a_clear_refusal(collection: Path) -> None:
    with pytest.raises(Refused, match="255"):
        new("Why " + "very " * 60 + "long?", "Physics", root=collection)
    result = runner.invoke(app, ["new", "Why " + "very " * 60 + "long?", "-s", "Physics", "--root", str(collection)])
    assert result.exit_code == 1 and result.stderr.startswith("error:") and "Traceback" not in result.output


def test_new_file_pattern_overrides_the_layout(collection: Path) -> None:
    (collection / "qtkit.toml").write_text('new_file = "flat/{id}.md"\n')
    assert new("What is flat?", "Physics", root=collection).path == collection / "flat" / "115.md"


def test_new_with_gaps_takes_highest_plus_one(collection: Path) -> None:
    (collection / ex(105)).rename(collection / "x.md")
    text = (collection / "x.md").read_text().replace("id: 105", "id: 900")
    (collection / "x.md").write_text(text)
    assert new("Brand new question", "Physics", root=collection, dry_run=True).id == 901


@pytest.mark.parametrize(
    "question, subject, message",
    [
        ("", "Physics", "empty"),
        ("?!", "Physics", "no letters or digits"),
        ("What is opportunity cost?", "Economics", "already exists: id 112"),
        ("Something new", "Econmics", "did you mean 'Economics'"),
    ],
)
def test_refusals(collection: Path, question: str, subject: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        new(question, subject, root=collection)
    assert len(list(collection.glob("**/*.md"))) == 15


def test_url_clash_is_refused_naming_id(collection: Path) -> None:
    with pytest.raises(Refused, match="id 112"):
        new("What is opportunity cost", "Economics", root=collection)  # same slug, no '?'


def test_new_subject_and_taken_id(collection: Path) -> None:
    assert new("Q about art", "Art History", root=collection, new_subject=True).id == 115
    with pytest.raises(Refused, match="taken"):
        new("Another", "Physics", root=collection, id=101)


def test_cli_dry_run_json_and_batch(collection: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "Why is the sky blue?", "-s", "Physics", "--root", str(collection), "--dry-run"])
    assert result.exit_code == 0 and "id: 115\n" in result.stdout
    assert not (collection / "physics" / "why-is-the-sky-blue.md").exists()
    batch = tmp_path / "b.jsonl"
    batch.write_text(
        json.dumps({"question": "First one?", "subject": "Physics"}) + "\n"
        + "{not json\n"
        + json.dumps({"question": "Second one?", "subject": "Physics", "answer": "A"}) + "\n"
    )
    result = runner.invoke(app, ["new", "--from", str(batch), "--json", "--root", str(collection)])
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [115, 116]
    assert "b.jsonl:2: invalid JSON" in result.stderr


def test_parallel_new_gives_distinct_ids(collection: Path) -> None:
    code = ("import sys; from qtkit.scaffold import new; "
            "print(new(f'Parallel question {sys.argv[1]}', 'Physics', root=sys.argv[2]).id)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i), str(collection)], stdout=subprocess.PIPE, text=True)
             for i in range(20)]
    ids = [int(p.communicate()[0]) for p in procs]
    assert sorted(ids) == list(range(115, 135))
    for qid in ids:
        assert qtkit.load(collection / "physics" / f"parallel-question-{ids.index(qid)}.md")["id"] == qid
