"""The editor keeps every byte it does not change, and each edit reads back exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

import qtkit
from qtkit.document import Document
from qtkit.errors import EditError, KeyNotFound, ParseError, VerificationError

from .conftest import only_span_changed, corpus_params

TRICKY = [
    "colon: inside",
    "hash #not a comment",
    "'single' and \"double\" quotes",
    "-leading dash",
    "curly ’quote’ — dash ± é",
    "emoji 😀 here",
    "real\nnewline",
    "trailing space ",
    "yes",
    "12",
    "",
    "  leading spaces",
    "C:\\MinGW\\bin and \\nabla \\neq",
    "tab\there",
    "a \u2028 line separator",
    "multiple\n\n\nnewlines\n",
]
KEYS = ["title", "seo.title", "seo.page_keywords", "answer", "related_article1.title", "related_article1.id"]


def _front(data: bytes) -> dict:
    lines = data.decode("utf-8").lstrip("\ufeff").split("\n")
    close = next(i for i in range(1, len(lines)) if lines[i].rstrip("\r") == "---")
    return yaml.load("".join(line + "\n" for line in lines[1:close]), Loader=yaml.CSafeLoader)


def _without(data: dict, path: tuple[str, ...]) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    node = out
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1], None)
    return out


@pytest.mark.parametrize("path", corpus_params())
def test_untouched_round_trip_is_byte_identical(path: Path) -> None:
    raw = path.read_bytes()
    doc = qtkit.loads(raw, path)
    assert doc.dumps() == raw
    assert not doc.changed
    assert doc.to_dict() == _front(raw)


@pytest.mark.parametrize("path", corpus_params())
def test_save_without_change_does_not_touch_file(path: Path, tmp_path: Path) -> None:
    target = tmp_path / path.name
    target.write_bytes(path.read_bytes())
    before = os.stat(target).st_mtime_ns
    assert qtkit.load(target).save() is False
    assert os.stat(target).st_mtime_ns == before
    assert target.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", corpus_params())
@pytest.mark.parametrize("key", KEYS + ["seo.new_nested_key"])
def test_edit_changes_only_that_value(path: Path, key: str) -> None:
    raw = path.read_bytes()
    parts = tuple(key.split("."))
    base = qtkit.loads(raw, path)
    if parts[0] not in base:
        pytest.skip(f"{path.name} has no {parts[0]}")
    span = base.span(key)
    for value in TRICKY + ([12345] if key.endswith(".id") else []):
        doc = qtkit.loads(raw, path)
        doc.set(key, value)
        out = doc.verify()
        assert only_span_changed(raw, out, span), (key, value, span)  # span None: pure insertion
        after = _front(out)
        node = after
        for part in parts:
            node = node[part]
        assert node == value and type(node) is type(value), (key, value)
        assert _without(after, parts) == _without(_front(raw), parts)


def test_folded_value_stays_folded_and_plain_stays_plain() -> None:
    doc = qtkit.loads(_sample(title_folded=True))
    doc["title"] = "A new title"
    doc["seo"]["title"] = "QuickTakes | Physics"
    text = doc.dumps().decode()
    assert "title: >-\n    A new title\n" in text
    assert "  title: QuickTakes | Physics\n" in text


def test_plain_that_needs_quoting_takes_nearest_safe_style() -> None:
    doc = qtkit.loads(_sample(title_folded=False))
    doc["title"] = "Why: because"
    doc["author"] = "yes"
    text = doc.dumps().decode()
    assert "\ntitle: 'Why: because'\n" in text
    assert "\nauthor: 'yes'\n" in text
    doc["title"] = "it's: \x07 odd"
    assert '\ntitle: "it\'s: \\a odd"\n' in doc.dumps().decode()


def test_folded_value_with_leading_space_falls_back_to_double_quotes() -> None:
    doc = qtkit.loads(_sample(title_folded=True))
    doc["answer"] = "  indented"
    assert '\nanswer: "  indented"\n' in doc.dumps().decode()


def test_trailing_comment_is_kept() -> None:
    doc = qtkit.loads(b"---\nid: 5  # the id\nname: x\n---\n")
    doc["id"] = 6
    assert doc.dumps() == b"---\nid: 6  # the id\nname: x\n---\n"


def test_delete_removes_a_whole_block() -> None:
    raw = _sample(title_folded=True, related=3)
    doc = qtkit.loads(raw)
    del doc["related_article2"]
    out = doc.dumps().decode()
    assert "related_article2" not in out
    assert out == raw.decode().replace(_related(2, True), "")


def test_delete_last_nested_key_leaves_empty_mapping() -> None:
    doc = qtkit.loads(b"---\na:\n  b: 1\nc: 2\n---\n")
    doc.delete("a.b")
    assert doc.dumps() == b"---\na: {}\nc: 2\n---\n"
    assert doc.to_dict() == {"a": {}, "c": 2}


def test_new_related_block_follows_sibling_style() -> None:
    doc = qtkit.loads(_sample(title_folded=True, related=2))
    doc["related_article3"] = {"id": 9, "title": "Why: now?", "subject": "Physics", "url": "/learn/physics/questions/why-now"}
    assert doc.dumps().decode().endswith(
        "related_article3:\n    id: 9\n    title: >-\n        Why: now?\n"
        "    subject: Physics\n    url: /learn/physics/questions/why-now\n---\n\n&nbsp;"
    )


def test_new_nested_key_uses_sibling_indent() -> None:
    doc = qtkit.loads(_sample(title_folded=True, related=1))
    doc.set("related_article1.note", "hi")
    doc.set("seo.extra", "there")
    text = doc.dumps().decode()
    assert "    url: /learn/x/questions/related-1\n    note: hi\n" in text
    assert "    Keywords\n  extra: there\nauthor" in text


def test_new_key_goes_before_trailing_blank_line() -> None:
    doc = qtkit.loads(b"---\nid: 1\nscore: -1.0\n\n---\n\n&nbsp;")
    doc["related_article1"] = {"id": 2}
    assert doc.dumps() == b"---\nid: 1\nscore: -1.0\nrelated_article1:\n    id: 2\n\n---\n\n&nbsp;"


def test_crlf_and_bom_survive_edits() -> None:
    raw = "\ufeff" + _sample(title_folded=True).decode().replace("\n", "\r\n")
    doc = qtkit.loads(raw.encode())
    assert doc.dumps() == raw.encode()
    doc["title"] = "Two\nlines"
    doc["seo.newkey"] = "v"
    out = doc.verify()
    assert out.startswith(b"\xef\xbb\xbf---\r\n")
    assert b"\n" not in out.replace(b"\r\n", b"")
    assert qtkit.loads(out)["title"] == "Two\nlines"


def test_body_and_missing_final_newline_survive() -> None:
    raw = b"---\nid: 1\n---\n\n# Body\n\ntext with --- inside\n---\nno newline"
    doc = qtkit.loads(raw)
    doc["id"] = 2
    assert doc.dumps() == raw.replace(b"id: 1", b"id: 2")
    assert doc.body == "\n# Body\n\ntext with --- inside\n---\nno newline"


def test_values_have_full_yaml_types() -> None:
    doc = qtkit.loads(b"---\nd: 2024-11-29\nf: -1.0\ni: 3\nl: [1, two]\nm: {a: 1}\nn:\n---\n")
    import datetime

    assert doc["d"] == datetime.date(2024, 11, 29)
    assert doc["f"] == -1.0 and isinstance(doc["f"], float)
    assert doc["l"] == [1, "two"]
    assert doc["m"].to_dict() == {"a": 1}
    assert doc["n"] is None


def test_typed_values_round_trip() -> None:
    import datetime

    doc = qtkit.loads(_sample(title_folded=True))
    for value in [12, -1.0, 1e20, True, None, datetime.date(2025, 1, 2), [1, "a: b"], {"x": {"y": "z"}}]:
        doc["newkey"] = value
        again = qtkit.loads(doc.verify())
        assert again.get("newkey") == value


@pytest.mark.parametrize(
    "raw, message, line",
    [
        (b"no front matter\n", "no front matter", 1),
        (b"---\ntitle: x\n", "never closes", None),
        (b"---\ntitle: [unclosed\n---\n", "invalid YAML", 3),
        (b"---\ntitle: a: b\n---\n", "invalid YAML", 2),
        (b"---\nid: 1\nid: 2\n---\n", "duplicate key", 3),
        (b"---\ntitle: \xff\n---\n", "not valid UTF-8", 2),
        (b"---\n- a\n---\n", "not a mapping", 2),
    ],
)
def test_bad_files_raise_parse_error_with_position(raw: bytes, message: str, line: int | None) -> None:
    with pytest.raises(ParseError) as info:
        qtkit.loads(raw, "bad.md")
    assert message in str(info.value)
    assert info.value.path == "bad.md"
    if line is not None:
        assert info.value.line == line
        assert info.value.col is not None


def test_alias_bomb_is_refused() -> None:
    bomb = b"---\na: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n---\n"
    with pytest.raises(ParseError, match="aliases"):
        qtkit.loads(bomb)


def test_missing_key_and_non_mapping_parent() -> None:
    doc = qtkit.loads(_sample(title_folded=True))
    with pytest.raises(KeyNotFound):
        doc.lookup("nope.deeper")
    with pytest.raises(KeyNotFound):
        doc.delete("nope")
    with pytest.raises(EditError, match="not a mapping"):
        doc.set("title.sub", "x")


def test_unmodelled_structure_reads_but_refuses_edits() -> None:
    doc = qtkit.loads(b"---\n? base\n: {x: 1}\nother: 2\n---\n")  # an explicit key
    assert doc["base"].to_dict() == {"x": 1}
    assert doc.dumps() == b"---\n? base\n: {x: 1}\nother: 2\n---\n"
    with pytest.raises(EditError, match="cannot edit"):
        doc["base"] = 2


@pytest.mark.parametrize("raw, where", [
    (b"---\nbase: &b {x: 1}\nother:\n  <<: *b\n---\n", "q.md:4:7"),  # a merge
    (b"---\nbig: &s some long text\ncopy: *s\n---\n", "q.md:3:7"),  # a scalar alias
    (b"---\nlist: [&a x, *a, *a]\n---\n", "q.md:2:14"),
    (b"---\n\"k\": &a v\n\"j\": *a\n---\n", "q.md:3:6"),
])
def test_every_yaml_alias_is_refused_with_its_position(raw: bytes, where: str) -> None:
    """Aliases (scalar ones too) are refused wherever a file is read, so what is read
    stays proportional to the file: the full parser, the fast reader and key parsing."""
    from qtkit.reader import read

    for parse in (lambda: qtkit.loads(raw, "q.md"), lambda: read(raw, "q.md")):
        with pytest.raises(ParseError, match="aliases") as failure:
            parse()
        assert str(failure.value).startswith(where + ": ")


def test_verification_refuses_a_file_that_would_mean_something_else(monkeypatch: pytest.MonkeyPatch) -> None:
    from qtkit import scalars

    doc = qtkit.loads(_sample(title_folded=True))
    monkeypatch.setattr(scalars, "render", lambda *a, **k: " 12\n")
    doc["title"] = "not a number"
    with pytest.raises(VerificationError):
        doc.verify()


def test_one_set_decodes_once_renders_once_and_verifies_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`set_values` (the path of `qtkit set`): the file is decoded once, the edited
    document rendered once, and the new text read back once (the reading that proves it
    means the intended values), however many times diff, verify and save ask for it."""
    from qtkit import document, edit

    path = tmp_path / "q.md"
    path.write_bytes(_sample(title_folded=True))
    calls = {"decode": 0, "read_front": 0, "render": 0}

    def counted(name: str, real):  # noqa: ANN001, ANN202
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            calls[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(document, "decode", counted("decode", document.decode))
    monkeypatch.setattr(document, "read_front", counted("read_front", document.read_front))
    monkeypatch.setattr(Document, "_render", counted("render", Document._render))
    result = edit.set_values(path, {"title": "A new title", "seo.title": "Site | X"})
    assert result.written and "A new title" in result.diff
    assert calls == {"decode": 1, "read_front": 2, "render": 1}  # read_front: the load, then the verification
    assert qtkit.load(path)["title"] == "A new title"


def test_an_edit_after_verify_is_verified_again() -> None:
    doc = qtkit.loads(_sample(title_folded=True))
    doc["title"] = "First"
    first = doc.verify()
    doc.body = "a new body\n"
    second = doc.verify()
    assert second != first and second.endswith(b"a new body\n") and b"First" in second
    doc["title"] = "Second"
    assert b"Second" in doc.verify() and b"Second" in doc.dumps()


def test_save_keeps_mode_and_refuses_concurrent_change(tmp_path: Path) -> None:
    path = tmp_path / "q.md"
    path.write_bytes(_sample(title_folded=True))
    os.chmod(path, 0o640)
    doc = qtkit.load(path)
    doc["title"] = "Changed"
    assert doc.save()
    assert os.stat(path).st_mode & 0o777 == 0o640
    other = qtkit.load(path)
    path.write_bytes(path.read_bytes().replace(b"Changed", b"By hand"))
    other["title"] = "Mine"
    with pytest.raises(qtkit.ConflictError):
        other.save()
    assert b"By hand" in path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["q.md"]


def _related(n: int, folded: bool) -> str:
    title = f"        Related {n}\n" if folded else ""
    head = "    title: >-\n" + title if folded else f"    title: Related {n}\n"
    return f"related_article{n}:\n    id: {n}\n{head}    subject: X\n    url: /learn/x/questions/related-{n}\n"


def _sample(title_folded: bool, related: int = 0) -> bytes:
    title = "title: >-\n    A question?\n" if title_folded else "title: A question?\n"
    text = (
        "---\n_schema: default\nid: 7\ndate: 2025-01-01\n" + title
        + "seo:\n  title: QuickTakes | X\n  page_keywords: >-\n    Keywords\n"
        + "author: QuickTakes\nanswer: >-\n    An answer.\\n\\nMore.\nscore: -1.0\n"
        + "".join(_related(n, title_folded) for n in range(1, related + 1))
        + "---\n\n&nbsp;"
    )
    return text.encode()


def test_sample_helper_is_valid() -> None:
    assert isinstance(Document(_sample(True, 3)).to_dict(), dict)
