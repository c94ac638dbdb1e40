"""The fast reader agrees with a full YAML parse on every file, or defers to it."""

from __future__ import annotations

import os

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import qtkit
from qtkit import reader
from qtkit.errors import ParseError
from benchmarks.synthetic import generate
from qtkit.yamlio import same

from .conftest import corpus_params, ex
from .test_document import _front


@pytest.mark.parametrize("path", corpus_params())
def test_fast_reader_equals_full_parse_on_real_files(path: Path) -> None:
    raw = path.read_bytes()
    data, body = reader.read(raw, path)
    assert same(data, _front(raw))
    assert body == qtkit.loads(raw).body


def test_fast_reader_equals_full_parse_on_generated_files(tmp_path: Path) -> None:
    generate(tmp_path, 400, seed=3)
    for path in tmp_path.glob("*.md"):
        raw = path.read_bytes()
        data, _ = reader.read(raw, path)
        assert same(data, yaml.load(raw.decode().split("\n---\n")[0][4:], Loader=yaml.CSafeLoader)), path


def test_fast_path_is_taken_for_house_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "Document", None)  # any deferral would crash
    raw = (Path(__file__).parents[1] / "examples" / ex(105)).read_bytes()
    data, body = reader.read(raw)
    assert data["related_article5"]["id"] == 110 and body == "\n&nbsp;"


@pytest.mark.parametrize(
    "front",
    [
        "a: yes\n", "a: 0o14\n", "a: 012\n", "a: 1_000\n", "a: 2024-01-01 10:00:00\n", "a: ~\n",
        "a: 'it''s'\n", 'a: "x\\ty"\n', "a: x #c\n", "a: >+\n    x\n\n", "a: |2\n     x\n",
        "a: >-\n    x\n\n    y\n", "a: >-\n    x\n      y\n", "a:\n- 1\n- 2\n", "a: [1, 2]\n", "a: b\n  c\n",
        "a: 1\na: 2\n", "true: 1\n", "a:\n  b: 1\n   c: 2\n", "a: \tx\n", "a: x\u2028y\n", "a: -\n", "a: -1.5\n",
        "a: 1e5\n", "a: .5\n", "a: =\n", "a: 'x'y\n", "a:    spaced\n", "a: x\r\n", "# c\na: 1\n",
    ],
)
def test_tricky_shapes_agree_or_refuse(front: str) -> None:
    raw = f"---\n{front}---\nbody".encode()
    try:
        expected = yaml.load(front, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        expected = ParseError
    try:
        data, _ = reader.read(raw)
    except ParseError:
        data = ParseError
    if expected is ParseError or data is ParseError:
        assert data is ParseError  # the full parser (or the duplicate-key check) refused too
    else:
        assert same(data, expected or {})


safe_text = st.text(st.characters(codec="utf-8", blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.tuples(st.sampled_from(["title", "seo.title", "answer", "x", "seo.y", "related_article1.title"]),
                                 st.one_of(safe_text, st.integers(), st.floats(allow_nan=False), st.none())),
                       min_size=1, max_size=4))
def test_fuzzed_documents_agree(values: list) -> None:
    raw = (Path(__file__).parents[1] / "examples" / ex(105)).read_bytes()
    doc = qtkit.loads(raw)
    for key, value in values:
        doc.set(key, value)
    out = doc.verify()
    data, body = reader.read(out)
    assert same(data, _front(out))
    assert body == doc.body


_fragments = st.sampled_from([
    "a: 1", "b: x", "c: 'q'", 'd: "q"', "e: >-", "f: |", "g:", "h: yes", "i: 2024-01-02", "j: x # c", "k: -",
    "l: [1]", "m: &a x", "n: *a", "# note", "", "   ", "- item", "o: a: b", "p: 1.5", "q: ~", "r: 0x1F", "s: null",
    "text line", "more text", "t: x\ty", "u: é", "v: ''", "w: '", "x: :", "y: ---", "---", "...", "a: 2",
])


@settings(max_examples=int(os.environ.get("QTKIT_FUZZ_EXAMPLES", "400")), deadline=None)
@given(lines=st.lists(st.tuples(st.sampled_from([0, 0, 0, 2, 4, 8]), _fragments), min_size=1, max_size=12))
def test_fuzzed_line_grammar_agrees_or_refuses(lines: list) -> None:
    """Random front matter from plausible and hostile line fragments: the fast reader gives
    exactly the full parse's values, or defers to the full parser (same values or the
    same refusal); it never silently differs."""
    front = "".join(" " * indent + text + "\n" for indent, text in lines)
    raw = f"---\n{front}---\nbody".encode()
    try:
        expected = _front(raw) or {}  # the independent full parse, up to the first closing ---
    except yaml.YAMLError:
        expected = ParseError
    fast = reader.read_fast(raw)
    if fast is not None:
        assert expected is not ParseError and same(fast[0], expected), front
