"""relink's text fast path: whenever it answers, it writes exactly what the Document path writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtkit.document import Document
from qtkit.reader import read_fast
from qtkit.links import current_links, set_related
from qtkit.splice import splice_links
from benchmarks.synthetic import generate

from .conftest import REAL

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").rglob("*.md"))

TEXTS = st.one_of(
    st.sampled_from(["What is X?", "Why: because", "It's 'quoted'", "yes", "C# basics", "- dash", "123",
                     "@at", "x" * 120, "Ünïcode title", 'a\\b "q"', "", " padded ", "null", "#hash"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
)
NEW_BLOCK = st.fixed_dictionaries({"id": st.integers(0, 10**7), "title": TEXTS, "subject": TEXTS, "url": TEXTS})
STYLES = st.sampled_from(["plain", "single", "double", "folded"])


def _scalar(value: object, style: str, indent: int) -> str:
    if isinstance(value, int):
        return f" {value}\n"
    text = str(value)
    if style == "single":
        return " '" + text.replace("'", "''") + "'\n"
    if style == "double":
        return ' "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"\n'
    if style == "folded":
        return " >-\n" + " " * indent + text + "\n"
    return " " + text + "\n"


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """Front matter with related blocks in assorted numbers, orders, keys and styles."""
    lines = ["---\n", "id: 7\n"]
    title = draw(st.sampled_from(["plain", "folded", "single", "double", None]))
    if title:
        lines.append("title:" + _scalar("A question title", title, 4))
    lines.append("url: /learn/x/a-question\n")
    child = draw(st.sampled_from([2, 4]))
    numbers = draw(st.lists(st.integers(0, 7), unique=True, max_size=6))
    for n in numbers:
        if draw(st.booleans()):  # every key a new block has (plus maybe one more), in any order
            keys = draw(st.permutations(["id", "title", "subject", "url", "extra"][: draw(st.integers(4, 5))]))
        else:
            keys = draw(st.permutations(["id", "title", "subject", "url", "extra"]))[: draw(st.integers(1, 5))]
        lines.append(f"related_article{n}:\n")
        for key in keys:
            value = draw(st.integers(1, 999)) if key == "id" else draw(st.sampled_from(["Old words", "it's", "A b"]))
            style = draw(STYLES)
            lines.append(" " * child + key + ":" + _scalar(value, style, child + draw(st.sampled_from([2, 4]))))
    tail = draw(st.sampled_from(["", "", "", "score: 1\n", "\n", "# note\n"]))
    lines.append(tail)
    lines.append("---\nbody\n")
    return "".join(lines).encode()


def _document_path(raw: bytes, blocks: list[dict]) -> bytes:
    return set_related(Document(raw), blocks).dumps()


def _agrees(raw: bytes, blocks: list[dict]) -> bool:
    """The fast path either declines or gives the Document path's bytes and values."""
    got = splice_links(raw, blocks)
    if got is None:
        return False
    out, data, body, _ = got
    assert out == _document_path(raw, blocks)
    assert read_fast(out) == (data, body)
    assert current_links(data) == blocks
    return True


def _agrees_or_declines(raw: bytes, blocks: list[dict]) -> None:
    try:
        _document_path(raw, blocks)
    except Exception:  # noqa: BLE001 - a file the editor refuses must not be taken by the fast path
        assert splice_links(raw, blocks) is None
        return
    _agrees(raw, blocks)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files(), st.lists(NEW_BLOCK, max_size=7))
def test_fast_path_writes_what_the_document_path_writes(raw: bytes, blocks: list[dict]) -> None:
    _agrees_or_declines(raw, blocks)


@settings(max_examples=200, deadline=None)
@given(st.lists(NEW_BLOCK, max_size=7), st.integers(0, 5))
def test_fast_path_keeps_unchanged_values_byte_for_byte(blocks: list[dict], keep: int) -> None:
    raw = EXAMPLES[0].read_bytes()
    old = current_links(Document(raw)._data)
    blocks = old[:keep] + blocks[len(old[:keep]):]
    _agrees(raw, blocks)


def test_house_layout_takes_the_fast_path(tmp_path: Path) -> None:
    generate(tmp_path, 40, seed=5)
    taken = 0
    for path in sorted(tmp_path.glob("*.md")):
        raw = path.read_bytes()
        blocks = [{"id": n, "title": f"Question {n}?", "subject": "History", "url": f"/learn/h/q{n}"} for n in (3, 4, 5)]
        taken += _agrees(raw, blocks)
    assert taken == 40


def test_odd_shapes_are_left_to_the_document_path() -> None:
    base = "---\nid: 1\ntitle: T\nrelated_article1:\n    id: 2\n    title: U\n"
    odd = [
        base + "score: 1\n---\n",  # related blocks are not the last entries
        base + "\n---\n",  # a blank line in the related section
        base.replace("related_article1:", "related_article1: # c") + "---\n",  # a comment on the key line
        base.replace("related_article1:", "related_article01:") + "---\n",  # not the canonical key
        "---\nid: 1\nrelated_article1: x\n---\n",  # a block that is not a mapping
        "---\r\nid: 1\r\nrelated_article1:\r\n    id: 2\r\n---\r\n",  # CRLF: the full parser's
        "---\nid: 1\ntitle: T\n# trailing comment\n---\n",  # new blocks would go before the comment
    ]
    blocks = [{"id": 9, "title": "N", "subject": "S", "url": "/u"}]
    for text in odd:
        assert splice_links(text.encode(), blocks) is None, text


@pytest.mark.parametrize("path", REAL + EXAMPLES, ids=lambda p: p.name)
def test_real_and_example_files_agree(path: Path) -> None:
    raw = path.read_bytes()
    old = [link for link in current_links(Document(raw)._data) if isinstance(link, dict)]
    new = [{"id": 10**6 + n, "title": f"Another question {n}?", "subject": "Sociology",
            "url": f"/learn/sociology/questions/another-{n}"} for n in range(5)]
    for blocks in (new, old[1:] + new[:1], old[:2], [], list(reversed(old))):
        _agrees(raw, blocks)


@st.composite
def house_files(draw: st.DrawFn) -> bytes:
    """Files in the house format: house related blocks (or none) last, values safe or not."""
    title = draw(st.sampled_from(["plain", "folded", "single", None]))
    lines = ["---\n", "id: 7\n"]
    if title:
        lines.append("title:" + _scalar("A question title", title, 4))
    lines.append("url: /learn/x/a-question\n")
    for n in range(1, draw(st.integers(0, 6)) + 1):
        old = draw(NEW_BLOCK)
        lines.append(f"related_article{n}:\n    id: {old['id']}\n    title: >-\n        {draw(TEXTS) or 'T'}\n"
                     f"    subject: {draw(st.sampled_from(['History', 'Law', 'A b']))}\n    url: /learn/u/{n}\n")
    lines.append("---\nbody\n")
    return "".join(lines).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(house_files(), st.lists(NEW_BLOCK, max_size=7))
def test_house_blocks_write_what_the_document_path_writes(raw: bytes, blocks: list[dict]) -> None:
    _agrees_or_declines(raw, blocks)


def test_house_blocks_are_made_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A house file takes the text path for new, changed, fewer and more blocks (the
    entry-modelling path is never reached)."""
    import qtkit.splice as splice

    def refuse(*args: object) -> None:
        raise AssertionError("the general path was taken")

    monkeypatch.setattr(splice, "_related_entries", refuse)
    old = "".join(f"related_article{n}:\n    id: {n}\n    title: >-\n        Old {n}?\n    subject: Law\n"
                  f"    url: /learn/law/q{n}\n" for n in (1, 2, 3))
    base = "---\nid: 7\ntitle: >-\n    A question?\nurl: /learn/law/q7\n"
    new = [{"id": 10 + n, "title": f"New {n}?", "subject": "Law", "url": f"/learn/law/q{10 + n}"} for n in range(5)]
    for raw in ((base + old + "---\nbody\n").encode(), (base + "---\nbody\n").encode()):
        for blocks in (new, new[:2], new[:1] + [{"id": 2, "title": "Old 2?", "subject": "Law", "url": "/learn/law/q2"}]):
            assert _agrees(raw, blocks)


@pytest.mark.parametrize("key", ["title", "subject", "url"])
@pytest.mark.parametrize("odd", ["Economics: Micro", "It's #1", "yes", "- dash", '"quoted"'])
def test_new_blocks_take_the_styles_of_the_last_old_block_as_edited(key: str, odd: str) -> None:
    """A value of the last old block rewritten in quotes makes the blocks added after it
    quoted too (the Document path styles a new block like its twin as it now reads)."""
    raw = (b"---\nid: 1\ntitle: >-\n    Q one?\nsubject: Economics\nurl: /learn/economics/questions/q-one\n"
           b"related_article1:\n    id: 2\n    title: >-\n        Q two?\n    subject: Economics\n"
           b"    url: /learn/economics/questions/q-two\n---\n")
    first = {"id": 2, "title": "Q two?", "subject": "Economics", "url": "/learn/economics/questions/q-two", key: odd}
    added = [{"id": n, "title": f"Q {n}?", "subject": "Economics", "url": f"/learn/economics/questions/q-{n}"}
             for n in (3, 4)]
    assert _agrees(raw, [first, *added])
