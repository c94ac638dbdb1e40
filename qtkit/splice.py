"""Related blocks rewritten as text: relink's fast path for files in the house layout.

`relink` would otherwise load every file it rewrites into a full `Document`, which models
every entry of the front matter. Here only the `related_articleN` entries are modelled
(with the same `Entry` objects and the same value-replacing and entry-making rules as
`Document`, so the bytes come out the same as `links.set_related` would make them); every line
before them is carried over as one piece of text. Files outside the simple shape return
None and take the `Document` path. The new blocks are parsed again and must read back
to exactly the blocks asked for; every other line is the old text, already read.
"""

from __future__ import annotations

import re
from typing import Any

from .document import new_entry, replace_value
from .entries import BOM, Block, DuplicateKey, Entry, Unsupported, front_end, parse_block, split_lines
from .reader import read_entries, read_fast
from .scalars import FOLDED, PLAIN, Style, render
from .shapes import RELATED
from .yamlio import same

_SCALAR = (str, int, float, bool, type(None))


def splice_links(raw: bytes, blocks: list[dict], path: Any = None) -> tuple[bytes, dict, str, list] | None:
    """The file's bytes with its related blocks made exactly `blocks` (as `links.set_related`
    makes them), with the new front matter, the body and the date paths read back from
    them; or None when the file is not in the shape this fast path handles."""
    dates: list = []
    try:
        old = read_fast(raw, path, dates)
    except Exception:  # noqa: BLE001 - anything odd is the full path's to report
        return None
    if old is None:
        return None
    data, body = old
    text = raw.decode("utf-8")
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    end = front_end(text)
    if end is None:
        return None
    house = _house_blocks(text, end, data, blocks)
    if house is not None:
        start, region, again, new_dates = house
        return _spliced(bom, text[:start], region, text[end:], data, again, body, dates, new_dates)
    lines = split_lines(text[4:end])
    parsed = _related_entries(lines, data)
    if parsed is None:
        return None
    first, entries = parsed
    title_style = _title_style(lines[:first], data)
    if title_style is None and "title" in data and not isinstance(data["title"], (dict, list)):
        return None
    order = list(entries.values())  # file order of the related entries, new ones appended
    kept: dict[str, dict] = {}
    for n, block in enumerate(blocks, 1):
        key = f"related_article{n}"
        entry = entries.get(key)
        if entry is not None:
            current = data[key]
            if any(name not in current for name in block):
                return None  # a value added inside an old block: the Document path places it
            children = entry.children
            if any(name not in block or not same(current[name], block[name]) for name in current):
                _settle(order)  # as `Document` re-reads its structure before a nested edit
            for child in list(children.entries()):
                if child.key not in block:
                    children.items.remove(child)
                elif not same(current[child.key], block[child.key]):
                    replace_value(child, block[child.key], None, "\n")
            if not any(True for _ in children.entries()):
                return None
            kept[key] = {name: block[name] for name in current if name in block}
        else:
            twins = [e for e in order if e.children is not None]
            kinds = {"title": title_style} if not twins and title_style in ("folded", "plain") else None
            entry = new_entry(order, 0, -4, key, dict(block), None, kinds, "\n")
            entries[key] = entry
            order.append(entry)
            kept[key] = dict(block)
    order = [e for e in order if 1 <= int(e.key[15:]) <= len(blocks)]  # surplus blocks go
    region = "".join(e.render() for e in order)
    # The new blocks are read back on their own: entries at column 0 are read apart from
    # each other, and every line before them is the old text, already read above.
    new_dates: list = []
    again = {e.key: _read_back(e.key, e.render(), new_dates) for e in order}
    if not _identical(again, {e.key: kept[e.key] for e in order}):
        return None
    return _spliced(bom, text[:4] + "".join(lines[:first]), region, text[end:], data, again, body, dates, new_dates)


def _spliced(bom: bool, before: str, region: str, after: str, data: dict, again: dict, body: str,
             dates: list, new_dates: list) -> tuple[bytes, dict, str, list]:
    """`splice_links`' answer: the bytes with the related `region` between the old text
    `before` and `after` it, the front matter (`data` with its related blocks replaced by
    those read back, `again`), the body, and the date paths (the old ones outside the
    related blocks, then `new_dates`, those of the blocks read back)."""
    out = ((BOM if bom else "") + before + region + after).encode("utf-8")
    expected = {k: v for k, v in data.items() if not RELATED.match(k)}
    expected.update(again)
    return out, expected, body, [p for p in dates if not RELATED.match(p[0])] + new_dates


def _related_entries(lines: list[str], data: dict) -> tuple[int, dict[str, Entry]] | None:
    """Where the related entries start and the entries, when they are the last entries,
    each a `related_articleN:` line over a block of scalar values with nothing else in it."""
    related = [k for k in data if RELATED.match(k)]
    if "related_article" in data:
        return None  # a twin of every block to the Document path; not worth modelling here
    if not related:
        if lines and (not lines[-1].strip() or lines[-1].lstrip(" ").startswith("#")):
            return None  # new blocks go before trailing blank or comment lines: the Document path
        return len(lines), {}
    for key in related:
        value = data[key]
        if key != f"related_article{int(key[15:])}" or not isinstance(value, dict) or not value:
            return None
        if not all(type(v) in _SCALAR for v in value.values()):
            return None
    starts = [i for i, line in enumerate(lines) if line[:1] not in (" ", "\n", "#", "\t")]
    cut = len(starts) - len(related)
    if cut < 0 or [lines[i] for i in starts[cut:]] != [k + ":\n" for k in related]:
        return None  # not the last entries, or the key lines carry more than the key
    first = starts[cut] if related else len(lines)
    entries: dict[str, Entry] = {}
    for at, (i, key) in enumerate(zip(starts[cut:], related)):
        stop = starts[cut + at + 1] if cut + at + 1 < len(starts) else len(lines)
        entry = _scalar_block(lines, i, stop)
        if entry is None:
            if any(not line.strip() or line.lstrip(" ").startswith("#") for line in lines[i + 1 : stop]):
                return None  # blank or comment lines: the Document path knows where they go
            try:
                entry = next(parse_block(lines, i, stop).entries(), None)
            except (Unsupported, DuplicateKey):
                return None
        if entry is None or entry.children is None or [e.key for e in entry.children.entries()] != list(data[key]):
            return None
        if any(e.children is not None for e in entry.children.entries()):
            return None
        entries[key] = entry
    return first, entries


def _identical(found: dict, wanted: dict) -> bool:
    """`same` for mappings of mappings of scalars (equal, same key order, same types)."""
    if found != wanted or list(found) != list(wanted):
        return False
    for key, block in wanted.items():
        got = found[key]
        if list(got) != list(block) or any(type(got[k]) is not type(v) for k, v in block.items()):
            return False
    return True


# Blocks already read back, by the text under their key line: a question linked from many
# files is written the same way in most of them, so most blocks are read once per process.
_READ: dict[str, dict] = {}


def _read_back(key: str, text: str, dates: list) -> dict | None:
    """The value of the entry `key` whose whole text is `text`, read again (a mapping of scalars)."""
    below = text[text.index("\n") + 1 :]
    known = _READ.get(below)
    if known is not None:
        return dict(known)
    found = read_entries(text, dates)
    value = found.get(key) if found is not None and len(found) == 1 else None
    if isinstance(value, dict) and all(type(v) in (str, int) for v in value.values()):
        if len(_READ) >= 100_000:
            _READ.clear()
        _READ[below] = dict(value)
    return value


# A related block exactly as the house format writes it (docs/format.md): four values, the id,
# subject and url plain, the title folded on one line at column 8. Old values that could be
# anything else (a quote, a comment, an anchor, a tag, a CR) are left to the general path.
_HOUSE = re.compile(
    r"related_article([1-9][0-9]{0,5}):\n"
    r"(    id: -?[0-9]+\n)"
    r"(    title: >-\n        [^ \r\n\"][^\r\n\"]*\n)"
    r"(    subject: [^ \r\n\"'>|&*!#%@`][^\r\n\"#]*\n)"
    r"(    url: [^ \r\n\"'>|&*!#%@`][^\r\n\"#]*\n)"
)
_HOUSE_KEYS = ["id", "title", "subject", "url"]
_HOUSE_STYLES = (Style(PLAIN, 8), Style(FOLDED, 8), Style(PLAIN, 8), Style(PLAIN, 8))


def _house_blocks(text: str, end: int, data: dict, blocks: list[dict]) -> tuple[int, str, dict, list] | None:
    """The common case made as text directly: the front matter ends with house-format blocks
    related_article1..K (nothing else in them, nothing after them), or has none and ends
    with an entry, and `blocks` are lists of (id, title, subject, url). Returns where the
    old blocks start in `text`, the new blocks' text, their values read back and their date
    paths; None for anything else (the general path). A value that does not change keeps
    its text; a changed one is rendered in its old style, a new block in its twin's styles
    (`scalars.render`, as `Document` does), so the bytes are those of the general path."""
    related = [k for k in data if RELATED.match(k)]
    if not blocks or "related_article" in data or any(list(b) != _HOUSE_KEYS for b in blocks):
        return None
    old: list[re.Match] = []
    if related:
        start = text.rfind("\nrelated_article1:\n", 3, end) + 1
        if start == 0:
            return None
        at = start
        while at < end:
            m = _HOUSE.match(text, at)
            if m is None or int(m.group(1)) != len(old) + 1:
                return None
            old.append(m)
            at = m.end()
        if at != end or len(old) != len(related) or related[-1] != f"related_article{len(old)}":
            return None
        styles = _HOUSE_STYLES  # the twin of a new block is the last old block (its styles once edited, below)
    else:
        start = end  # the first block goes after the last entry, in the style of the title
        last = text[text.rfind("\n", 0, end - 1) + 1 : end]
        if end <= 4 or not last.strip() or last.lstrip(" ").startswith("#"):
            return None
        kind = _title_style(text[4:start].splitlines(keepends=True), data) if "title" in data else None
        if kind is None and "title" in data and not isinstance(data["title"], (dict, list)):
            return None
        styles = _HOUSE_STYLES if kind == FOLDED else (Style(PLAIN, 8),) * 4
    parts: list[str] = []
    again: dict[str, dict] = {}
    dates: list = []
    for n, block in enumerate(blocks, 1):
        key = f"related_article{n}"
        if type(block["id"]) is not int or not all(isinstance(block[k], str) for k in _HOUSE_KEYS[1:]):
            return None
        lines = [key + ":\n"]
        if n <= len(old):
            current = data[key]
            if (not isinstance(current, dict) or list(current) != _HOUSE_KEYS or type(current["id"]) is not int
                    or int(old[n - 1].group(2)[8:]) != current["id"]):
                return None
            kinds = []
            for i, name in enumerate(_HOUSE_KEYS):
                value = block[name]
                if same(current[name], value):
                    lines.append(old[n - 1].group(i + 2))
                    kinds.append(_HOUSE_STYLES[i].kind)
                else:
                    rendered = render(value, _HOUSE_STYLES[i], 4, "\n")
                    lines.append(f"    {name}:" + rendered)
                    kinds.append(Style.of_header(rendered.partition("\n")[0], 8).kind)
            if n == len(old):  # a new block takes the styles of the last old one, as edited
                styles = tuple(Style(kind, 8) for kind in kinds)
        else:
            lines += [f"    {name}:" + render(block[name], styles[i], 4, "\n") for i, name in enumerate(_HOUSE_KEYS)]
        region = "".join(lines)
        value = _read_back(key, region, dates)
        if not _identical({key: value}, {key: block}):
            return None
        parts.append(region)
        again[key] = value
    return start, "".join(parts), again, dates


_CHILD = re.compile(r"( +)([A-Za-z_][A-Za-z0-9_]*):(?: +[^ #\n][^\n]*)\n")


def _scalar_block(lines: list[str], i: int, stop: int) -> Entry | None:
    """The entry `parse_block` makes of lines i..stop (a key line over `key: value` lines,
    each value on its line or continued on deeper ones), made in one pass; None for
    anything else (comments, blank lines, quoted keys, values that open below)."""
    pad = None
    children: list = []
    for j in range(i + 1, stop):
        line = lines[j]
        if pad is not None and line.startswith(pad) and line[len(pad)] == " ":
            children[-1].value += line  # deeper: the value goes on
            continue
        m = _CHILD.fullmatch(line)
        if m is None or (pad is not None and len(m.group(1)) != len(pad)):
            return None
        if pad is None:
            pad = m.group(1)
        head = line[: m.start(2) + len(m.group(2)) + 1]
        children.append(Entry(m.group(2), len(pad), head, line[len(head) :], j))
    if not children or len({c.key for c in children}) != len(children):
        return None
    line = lines[i]
    return Entry(line[: line.index(":")], 0, line[: line.index(":") + 1], line[line.index(":") + 1 :], i,
                 Block(len(pad), children))


def _settle(order: list[Entry]) -> None:
    """Give blocks added as text their parsed structure, so a later block takes its
    value styles from the text as written (what `Document` sees after re-reading)."""
    for at, entry in enumerate(order):
        if entry.children is None:
            lines = split_lines(entry.render())
            order[at] = next(parse_block(lines, 0, len(lines)).entries())


def _title_style(lines: list[str], data: dict) -> str | None:
    """The style of the top-level `title` value (a new file's first related block follows it)."""
    if "title" not in data:
        return None
    if isinstance(data["title"], (dict, list)):
        return None
    for line in lines:
        if line.startswith("title:"):
            return Style.of_header(line[6:].rstrip("\n"), 0).kind
    return None
