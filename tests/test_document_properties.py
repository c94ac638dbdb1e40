"""Property-based: random edits (set, add, delete) over real and example files keep the
three promises: only the touched lines change, the new value reads back with PyYAML,
and every other value is equal."""

from __future__ import annotations

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qtkit

from .conftest import EXAMPLES, REAL, only_span_changed
from .test_document import _front, _without

FILES = [p.read_bytes() for p in (REAL + EXAMPLES)]

scalar_values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, width=64),
    st.booleans(),
    st.none(),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2100, 1, 1)),
)
key_names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)


def _leaf_paths(data: dict, prefix: tuple = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.extend(_leaf_paths(value, prefix + (key,)))
        out.append(prefix + (key,))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), raw=st.sampled_from(FILES), op=st.sampled_from(["set", "add", "delete"]))
def test_random_edit_keeps_promises(data: st.DataObject, raw: bytes, op: str) -> None:
    doc = qtkit.loads(raw)
    before = _front(raw)
    paths = _leaf_paths(before)
    if op == "add":
        parents = [()] + [p for p in paths if isinstance(doc.lookup(p), dict)]
        parent = data.draw(st.sampled_from(parents))
        name = data.draw(key_names.filter(lambda k: k not in doc.lookup(parent or ()) if parent else k not in before))
        path = parent + (name,)
    else:
        path = data.draw(st.sampled_from(paths))
    span = doc.span(path)
    if op == "delete":
        doc.delete(path)
    else:
        value = data.draw(scalar_values)
        doc.set(path, value)
    out = doc.verify()
    assert only_span_changed(raw, out, span)
    after = _front(out)
    if op != "delete":
        node = after
        for part in path:
            node = node[part]
        assert node == value and type(node) is type(value)
    assert _without(after, path) == _without(before, path)


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=200), style=st.sampled_from(["plain", "single", "double", "folded", "literal"]))
def test_any_string_in_any_style_reads_back(value: str, style: str) -> None:
    doc = qtkit.loads(b"---\nid: 1\ntitle: >-\n    x\nseo:\n  t: y\n---\n")
    doc.set("title", value, style=style)
    doc.set("seo.t", value, style=style)
    again = qtkit.loads(doc.verify())
    assert again["title"] == value
    assert again["seo"]["t"] == value
