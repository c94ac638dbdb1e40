"""The fast reader agrees with a full YAML parse on every file, or defers to it."""

from __future__ import annotations

import datetime
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
    monkeypatch.setattr(reader, "load_yaml", None)  # any deferral would crash
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
        "a: >-\n    \n    x\n", "a: >\n   \n   x\n", "a: C#\n", "a: x\xa0\n", "a: x\u3000\n", "a: Yes it is\n",
        "a: Off\n", "a: x:y\n", "a: x :y\n", "a: /a#b\n", "a: 123456789012345678901\n", "a:\n  b: >-\n    x\n  c: 1\n",
        "a:\n  b: >-\n   x\n", "a:\n    b: 1\n  c: 2\n", "a:\n  b:\n    c: 1\n  d:\ne: 1\n", "a:\n\n  b: 1\n",
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


_TAME = "abcdXYZ xyz0189.,?()'/-"
_HOSTILE = ":#-'\"|>%@&*!?,[]{}.\\/()$^~=+< \u00e9\u00a0\u3000\u2028\t\r"
_WORDS = ["yes", "No", "null", "~", "true", "2024-01-02", "12", "012", "1.5", "-1.0", "0x1F", ".inf", "1e3", "-", "Off",
          "y", "NULL", "1_000", "+5", "=", "Yesterday", "nothing", "offside", "0", "-7", "2024-13-45", "1.0e5"]


@st.composite
def _value(draw: st.DrawFn, indent: int, depth: int) -> str:
    """The text after `key:` (with the lines under it) for a key at `indent`, in the house's shapes."""
    text = st.text(alphabet=_TAME, min_size=1, max_size=20)
    kind = draw(st.sampled_from(["plain", "block", "map", "quoted", "word"]))
    if kind == "plain":
        return " " + draw(text) + "\n"
    if kind == "quoted":
        inner = draw(text)
        return " '" + inner.replace("'", "''") + "'\n" if draw(st.booleans()) else ' "' + inner.replace('"', "") + '"\n'
    if kind == "word":
        return " " + draw(st.sampled_from(_WORDS)) + "\n"
    if kind == "map" and depth < 3:
        return "\n" + draw(_entries(indent + draw(st.sampled_from([2, 4])), depth + 1))
    header = draw(st.sampled_from([">-", "|", "|-", ">"]))
    pad = " " * (indent + draw(st.sampled_from([2, 4])))
    return " " + header + "\n" + "".join(pad + line + "\n" for line in draw(st.lists(text, min_size=1, max_size=3)))


@st.composite
def _entries(draw: st.DrawFn, indent: int = 0, depth: int = 0) -> str:
    """House-format block-mapping entries at `indent` (unique identifier keys)."""
    keys = draw(st.lists(st.sampled_from(["title", "id", "seo", "url", "date", "a", "b", "x_1"]), min_size=1, max_size=4,
                         unique=True))
    return "".join(" " * indent + key + ":" + draw(_value(indent, depth)) for key in keys)


@st.composite
def _near_house(draw: st.DrawFn) -> str:
    """House-format front matter with one small change that may take it out of the fast
    path's shapes: a character put in, a line indented differently, a line added."""
    lines = draw(_entries()).split("\n")[:-1]
    at = draw(st.integers(0, len(lines) - 1))
    change = draw(st.sampled_from(["char", "indent", "line", "none"]))
    if change == "char":
        line = lines[at]
        where = draw(st.integers(0, len(line)))
        lines[at] = line[:where] + draw(st.sampled_from(_HOSTILE)) + line[where:]
    elif change == "indent":
        shift = draw(st.sampled_from([-2, -1, 1, 2]))
        lines[at] = " " * shift + lines[at] if shift > 0 else lines[at][-shift:] if lines[at][: -shift].isspace() \
            else lines[at]
    elif change == "line":
        same_indent = " " * (len(lines[at]) - len(lines[at].lstrip(" ")))  # blank, but as deep as its neighbour
        lines.insert(at, draw(st.sampled_from([same_indent, "", " ", "# note", "  # note", "- x", "  - x", "...", "? x"])))
    return "".join(line + "\n" for line in lines)


@settings(max_examples=int(os.environ.get("QTKIT_FUZZ_EXAMPLES", "500")), deadline=None)
@given(front=_near_house())
def test_fuzzed_house_documents_agree_or_refuse(front: str) -> None:
    """House-format front matter, as is or with one small change: whatever the fast reader
    returns is exactly the full parse's values (dates listed where they are), and `read`
    gives what `Document` gives, or both refuse the file."""
    raw = f"---\n{front}---\nbody\n".encode()
    try:
        expected = yaml.load(front, Loader=yaml.CSafeLoader)
    except (yaml.YAMLError, ValueError):  # (ValueError: a date with no such day)
        expected = ParseError
    dates: list = []
    fast = reader.read_fast(raw, None, dates)
    if fast is not None:
        assert expected is not ParseError and same(fast[0], expected or {}), front
        assert fast[1] == "body\n"
        assert sorted(dates) == sorted(_date_paths(fast[0])), front
    try:
        doc = qtkit.loads(raw)
    except ParseError:
        with pytest.raises(ParseError):
            reader.read(raw)
        return
    data, body = reader.read(raw)
    assert same(data, doc.to_dict()) and body == doc.body


@settings(max_examples=int(os.environ.get("QTKIT_FUZZ_EXAMPLES", "400")), deadline=None)
@given(front=_near_house())
def test_fast_reader_names_are_the_layout(front: str) -> None:
    """The key names the fast reader collects as it reads are `shapes.layout` of what it
    returns (none when it defers), so the index need not walk the data again."""
    from qtkit.shapes import layout

    names: list = []
    fast = reader.read_fast(f"---\n{front}---\n".encode(), None, [], [], names)
    if fast is None:
        assert names == []
    else:
        assert "\n".join(names) == layout(fast[0]), front


def test_fast_reader_names_nested_and_empty_keys() -> None:
    from qtkit.shapes import layout

    front = "a: 1\nb:\n  c:\n    d: x\n  e:\n  f: >-\n    text\ng:\n"
    names: list = []
    data, _ = reader.read_fast(f"---\n{front}---\n".encode(), None, None, None, names)
    assert data == {"a": 1, "b": {"c": {"d": "x"}, "e": None, "f": "text"}, "g": None}
    assert names == ["a", "b.c.d", "b.e", "b.f", "g"] and "\n".join(names) == layout(data)


def _date_paths(data: dict, prefix: tuple = ()) -> list:
    out: list = []
    for key, value in data.items():
        if isinstance(value, dict):
            out.extend(_date_paths(value, (*prefix, key)))
        elif type(value) is datetime.date:
            out.append([*prefix, key])
    return out


@pytest.mark.parametrize("value", ["Yesterday", "offside", "nothing", "Truely", "Nullable", "FALSEY", "yes sir",
                                   "Onward", "true", "Off", "NULL", "n", "Y"])
def test_words_that_start_like_bools_read_as_the_resolver_reads_them(value: str) -> None:
    raw = f"---\na: {value}\n---\n".encode()
    fast = reader.read_fast(raw)
    assert fast is None or same(fast[0], yaml.load(f"a: {value}\n", Loader=yaml.CSafeLoader))


@pytest.mark.parametrize("front, line, col", [("a: 2024-13-45\n", 2, 4), ("b: 1\nc:\n  a: 2024-02-30\n", 4, 6)])
def test_a_date_with_no_such_day_is_refused_where_it_is(front: str, line: int, col: int) -> None:
    raw = f"---\n{front}---\n".encode()
    for read in (reader.read, qtkit.loads):
        with pytest.raises(ParseError) as caught:
            read(raw, "q.md")
        assert (caught.value.line, caught.value.col) == (line, col) and "invalid value" in caught.value.message


def _one_change_variants(front: str) -> list[str]:
    """Every front matter one small change away from `front`: a line put in before each
    line (blank at the line's own depth, empty, a comment, a list item...), each line
    indented one or two columns more or less, and an odd character put at the start of
    each value, after it, and at the end of each line."""
    lines = front.split("\n")[:-1]
    out = []
    for at, line in enumerate(lines):
        depth = len(line) - len(line.lstrip(" "))
        for extra in (" " * depth, " " * (depth + 1), "", "# note", " " * depth + "# c", "- x", " " * depth + "- x", "..."):
            out.append(lines[:at] + [extra] + lines[at:])
        for shift in (-2, -1, 1, 2):
            if shift > 0 or line[:-shift].isspace():
                out.append(lines[:at] + [" " * shift + line if shift > 0 else line[-shift:]] + lines[at + 1 :])
        colon = line.find(": ")
        for char in ":#-'\"|>%@&*!?,[]{}~=\\u00a0\u3000 ":
            spots = {depth, len(line)} | ({colon + 2} if colon > 0 else set())
            for spot in spots:
                out.append(lines[:at] + [line[:spot] + char + line[spot:]] + lines[at + 1 :])
    return ["".join(line + "\n" for line in variant) for variant in out]


_HOUSE = (
    "id: 12\ntitle: What is a thing?\ndate: 2025-01-06\nscore: -1.0\nseo:\n  title: Site | Subject\n"
    "  page_description: >-\n    Text of the page.\nquestion: >-\n    What is a thing?\nanswer: >-\n"
    "    A long answer, with words.\nurl: /learn/x/what-is-a-thing\nrelated_article1:\n    id: 7\n"
    "    title: >-\n        Another question?\n    subject: Physics\n    url: /learn/physics/another\n"
    "notes: |\n  line one\n  line two\n"
)


@pytest.mark.parametrize("base", ["house", "example"])
def test_every_one_change_variant_of_a_house_file_agrees_or_refuses(base: str) -> None:
    """Thousands of near-house files, each one change away from a house-format file: the
    fast reader gives exactly the full parse's values (and positions, see `read`) or
    defers; it never silently differs."""
    if base == "house":
        front = _HOUSE
    else:
        text = (Path(__file__).parents[1] / "examples" / ex(105)).read_text(encoding="utf-8")
        front = text[4 : text.index("\n---", 3) + 1]
    taken = 0
    for variant in _one_change_variants(front):
        raw = f"---\n{variant}---\nbody\n".encode()
        fast = reader.read_fast(raw)
        if fast is None:
            continue
        taken += 1
        try:
            expected = yaml.load(variant, Loader=yaml.CSafeLoader)
        except (yaml.YAMLError, ValueError):
            raise AssertionError(f"fast path read a file the full parser refuses:\n{variant}") from None
        assert same(fast[0], expected or {}), variant
    assert taken > 100  # the variants do reach the fast path
