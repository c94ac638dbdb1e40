"""The reader's shapes: a front matter of a shape seen often is read with one match of a
pattern made for the shape; it must give exactly what reading it line by line gives
(values and their types, date paths, key positions, layout names), or defer as that does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtkit import reader

from .conftest import SHARED, ex
from .test_reader import _HOSTILE, _WORDS, _one_change_variants


def _typed(node: object) -> object:
    """`node` with the type of every value beside it (1 and 1.0 and True differ)."""
    if isinstance(node, dict):
        return [(key, _typed(value)) for key, value in node.items()]
    return (type(node).__name__, node)


def _read(front: str, lines: bool) -> object:
    dates: list = []
    where: list = []
    names: list = []
    try:
        if lines:
            data = reader._by_lines(reader._LINE.findall(front), dates, where, names)
        else:
            data = reader._mapping(front, dates, where, names)
    except reader._Defer:
        return "defer"
    return _typed(data), dates, where, names


@pytest.fixture
def fresh_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """No shape learned yet; a shape gets its pattern the second time it is read."""
    monkeypatch.setattr(reader, "_seen", {})
    monkeypatch.setattr(reader, "_shapes", {})
    monkeypatch.setattr(reader, "_LEARN_AFTER", 2)


def _learn(front: str) -> None:
    for _ in range(2):
        reader._mapping(front)
    assert reader._shapes, "the shape was not learned"


def _agrees(front: str) -> bool:
    """Whether a shape's pattern took `front` (asserting it read as line by line)."""
    matched = any(shape.pattern.match(front) for shape in reader._shapes.get(front.count("\n"), ()))
    assert _read(front, lines=False) == _read(front, lines=True), front
    return matched


_BASE = (
    "_schema: default\nid: 12\ntitle: >-\n    What is a thing?\ndate: 2025-01-06\nscore: -1.0\nseo:\n"
    "  title: Site | Subject\n  page_description: >-\n    Text of the page.\nauthor: Someone\nquestion: >\n"
    "    What is a thing?\nanswer: |-\n    A long answer, with words: and more.\nempty:\nurl: /learn/x/what\n"
    "related_article1:\n    id: 7\n    title: >-\n        Another question?\n    subject: Physics\n"
    "    url: /learn/physics/another\n    deeper:\n        m: 1\nlast: 'quoted'\n"
)


def _house_example() -> str:
    text = (Path(__file__).parents[1] / "examples" / ex(105)).read_text(encoding="utf-8")
    return text[4 : text.index("\n---", 3) + 1]


@pytest.mark.parametrize("base", ["base", "example"])
def test_every_one_change_variant_reads_as_line_by_line(base: str, fresh_shapes: None) -> None:
    """Thousands of variants one change away from a learned shape (an odd character in a
    value, a line indented differently, a line put in): each reads exactly as line by
    line does, whether the shape's pattern took it or not."""
    front = _BASE if base == "base" else _house_example()
    _learn(front)
    assert _agrees(front)
    matched = sum(_agrees(variant) for variant in _one_change_variants(front))
    assert matched > 50  # many variants do go through the pattern


_VALUES = [*_WORDS, ">-", ">", "|", "|-", "", " ", "a: b", "x #c", "x#c", "'q'", "'it''s'", '"d"', '"a\\tb"', "[1]",
           "{a: 1}", "&a", "*a", "!t x", "%x", "@x", "`x", "?", "? x", "- x", "C#", "a:b", "x:", "12345678901234567890",
           "9" * 18, "1" + "0" * 18, "2024-02-30", "2024-02-29", "1.5e3", "-0", "+1", "00", "0.0", "Yes it is",
           "offside"]


@st.composite
def _values_for(draw: st.DrawFn, front: str) -> str:
    """`front` with some of its one-line values replaced by tricky ones (same lines; a key
    with nothing after its colon may get a value too)."""
    lines = front.split("\n")[:-1]
    for at, line in enumerate(lines):
        key, colon, value = line.partition(": ") if ": " in line else line.rpartition(":")
        if colon and value not in (">-", ">", "|", "|-") and draw(st.integers(0, 3)) == 0:
            choice = draw(st.sampled_from(["", ">-", "|", "1"]) | st.sampled_from(_VALUES)
                          | st.text(alphabet=_HOSTILE + "abc019", max_size=6))
            lines[at] = key + ":" + ("" if choice == "" else " " + choice)
    return "".join(line + "\n" for line in lines)


@settings(max_examples=int(os.environ.get("QTKIT_FUZZ_EXAMPLES", "400")), deadline=None)
@given(data=st.data())
def test_tricky_values_in_a_learned_shape_read_as_line_by_line(data: st.DataObject) -> None:
    """Values of every kind put where a learned shape has plain strings, numbers, block
    scalars' texts and other scalars: the shape's pattern takes the text only when each
    line reads as the shape's kind would, and then gives what line by line gives."""
    reader._seen.clear()
    reader._shapes.clear()
    for base in (_BASE, _house_example()):
        _learn_quietly(base)
        _agrees(data.draw(_values_for(base)))


def _learn_quietly(front: str) -> None:
    for _ in range(reader._LEARN_AFTER):
        reader._mapping(front)


LIVE = SHARED / "corpus" / "live" / "content" / "learn"


@pytest.mark.skipif(not LIVE.is_dir(), reason="../shared/corpus/live is not present")
def test_the_live_sample_reads_the_same_through_shapes(fresh_shapes: None) -> None:
    """Every live page's front matter, read twice (the second time through the shapes
    learned from the first): exactly what line by line gives."""
    fronts = []
    for path in sorted(LIVE.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        end = reader.front_end(text)
        if text.startswith("---\n") and end is not None:
            fronts.append(text[4:end])
    for front in fronts:
        try:
            reader._mapping(front)
        except reader._Defer:
            pass
    assert reader._shapes
    matched = sum(_agrees(front) for front in fronts)
    assert matched > len(fronts) // 2
