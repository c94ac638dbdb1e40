"""One question file as an editable document that keeps every byte it does not change.

The front matter is split into entries (a key line plus the lines of its value) that keep
their source text; values are read with a full YAML parser. An edit replaces the text of
one entry's value, so rendering an untouched document gives back its bytes exactly, and
an edit changes only the lines of the value it touches. Before anything is written the
new text is parsed again and must read back to the intended values.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import scalars
from .errors import EditError, KeyNotFound, ParseError, VerificationError
from .files import read_bytes, unified_diff, write_atomic
from .yamlio import load_yaml, same

BOM = "\ufeff"
KeyPath = tuple[str, ...]

_KEY = re.compile(
    r"""(?P<indent>\ *)
        (?P<key>"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\r\n]|'')*'|[^\s#'"?:,\[\]{}&*!|>%@`-][^\r\n]*?)
        [\ \t]*:(?=[\ \t\r\n]|$)""",
    re.VERBOSE,
)
_TRAILING_COMMENT = {
    "plain": re.compile(r"[ \t]+#.*$"),
    "single": re.compile(r"""(?<=')[ \t]+#.*$"""),
    "double": re.compile(r'(?<=")[ \t]+#.*$'),
    "folded": re.compile(r"[ \t]+#.*$"),
    "literal": re.compile(r"[ \t]+#.*$"),
}
_DELIMITER = re.compile(r"---[ \t]*(\r?\n)?$")
#: house format: related-link blocks are indented 4, other nested mappings 2
_WIDE_BLOCK = re.compile(r"related_article\d*$")


class _Unsupported(Exception):
    """The block structure is not one the editor models (values are still readable)."""


class _Duplicate(Exception):
    """A key appears twice in one mapping: YAML parsers disagree on which one wins."""

    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.line, self.col = line, col


@dataclass(eq=False)
class Entry:
    """A key and the exact text of its value (or a nested block of entries)."""

    key: str
    indent: int
    head: str  # the key line up to and including ':'
    value: str  # the rest of the key line plus continuation lines (for a mapping: rest only)
    lineno: int  # 0-based index of the key line in the front-matter lines
    children: "Block | None" = None
    kinds: dict | None = None  # for a mapping added as text: its values' styles, for its twins

    def render(self) -> str:
        text = self.head + self.value
        return text + self.children.render() if self.children is not None else text

    @property
    def style(self) -> scalars.Style:
        first, _, rest = self.value.partition("\n")
        indent = self.indent + 4
        for line in rest.split("\n"):
            if line.strip():
                indent = len(line) - len(line.lstrip(" "))
                break
        return scalars.Style.of_header(first, indent)


@dataclass(eq=False)
class Block:
    """The entries of one mapping, interleaved with blank and comment lines (kept as text)."""

    indent: int
    items: list = field(default_factory=list)  # Entry or str

    def render(self) -> str:
        return "".join(i if isinstance(i, str) else i.render() for i in self.items)

    def entries(self) -> Iterator[Entry]:
        return (i for i in self.items if isinstance(i, Entry))

    def find(self, key: str) -> Entry | None:
        for item in self.items:
            if type(item) is Entry and item.key == key:
                return item
        return None


MAX_DEPTH = 64  # deeper front matter is refused (no question file needs it; it only exhausts the stack)


def _depth(root: Block) -> int:
    """How deep mappings nest under `root` (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        block, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((item.children, level + 1) for item in block.items
                     if type(item) is Entry and item.children is not None)
    return deepest


def split_key(path: str | KeyPath) -> KeyPath:
    """`'seo.title'` -> `('seo', 'title')`; tuples pass through."""
    if isinstance(path, tuple):
        return path
    if not path or any(not part for part in path.split(".")):
        raise EditError(f"invalid key {path!r}")
    return tuple(path.split("."))


class Document:
    """A question file: front matter you can read and edit, and the body, byte for byte."""

    def __init__(self, raw: bytes, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.raw = raw
        text = decode(raw, self.path)
        self.bom = text.startswith(BOM)
        if self.bom:
            text = text[1:]
        lines = split_lines(text)
        if not lines or not _DELIMITER.match(lines[0]):
            raise ParseError("no front matter: the file must start with a '---' line", path, 1, 1)
        close = next((i for i in range(1, len(lines)) if _DELIMITER.match(lines[i])), None)
        if close is None:
            raise ParseError("front matter never closes: no '---' line after it", path, len(lines), 1)
        self.newline = "\r\n" if lines[0].endswith("\r\n") else "\n"
        self._open, self._close = lines[0], lines[close]
        self.body = "".join(lines[close + 1 :])
        self._lines = lines[1:close]
        from .reader import (
            read_fast,  # the fast reader returns exactly what load_yaml would, or None
        )

        try:
            fast = read_fast(raw, path)
            data = fast[0] if fast is not None else load_yaml("".join(self._lines), path, line_offset=1)
        except RecursionError:
            raise ParseError("front matter nests too deeply to read", path, 2, 1) from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ParseError("front matter is not a mapping of keys to values", path, 2, 1)
        self._data: dict = data
        self._unsupported: str | None = None
        try:
            self._root = self._structure(self._lines)
        except RecursionError:
            raise ParseError("front matter nests too deeply to edit", path, 2, 1) from None
        if _depth(self._root) > MAX_DEPTH:
            raise ParseError(f"front matter nests deeper than {MAX_DEPTH} levels; not edited", path, 2, 1)
        self._dirty = self._moved = False

    # ----------------------------------------------------------------- reading
    def __getitem__(self, key: str) -> Any:
        if key not in self._data:
            raise KeyNotFound(f"no key {key!r}", self.path)
        return _wrap(self, (key,), self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> list[str]:
        return list(self._data)

    def get(self, path: str | KeyPath, default: Any = None) -> Any:
        """The value at a dotted path (`'seo.title'`), or `default` if it is absent."""
        try:
            return copy.deepcopy(self.lookup(path))
        except KeyNotFound:
            return default

    def lookup(self, path: str | KeyPath) -> Any:
        """The value at a dotted path; raises `KeyNotFound` naming the missing part."""
        node: Any = self._data
        parts = split_key(path)
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                raise KeyNotFound(f"no key {'.'.join(parts[: depth + 1])!r}", self.path)
            node = node[part]
        return node

    def to_dict(self) -> dict:
        """A deep copy of the front matter as plain Python values."""
        return copy.deepcopy(self._data)

    def span(self, path: str | KeyPath) -> tuple[int, int] | None:
        """1-based first and last file lines of a key and its value, or None if absent."""
        if self._moved:
            self._reparse()
        entry = self._find(split_key(path))
        if entry is None:
            return None
        first = entry.lineno + 2
        return first, first + entry.render().count("\n") - 1

    # ----------------------------------------------------------------- editing
    def __setitem__(self, key: str, value: Any) -> None:
        self.set((key,), value)

    def __delitem__(self, key: str) -> None:
        self.delete((key,))

    def set(self, path: str | KeyPath, value: Any, style: str | None = None,
            kinds: dict[str, str] | None = None) -> None:
        """Set a value; a new key is added after its siblings in their indentation.

        `style` ('plain', 'single', 'double', 'folded', 'literal') overrides the style a
        string would otherwise take (the old value's, or a sibling's for a new key).
        For a new mapping, `kinds` gives its string values' styles by key (default: those
        of a same-stem sibling, e.g. related_article5's for a new related_article6).
        """
        parts = split_key(path)
        self._require_editable()
        value = _plain(value)
        if len(parts) > 1:
            self._fresh()  # descending needs the nested structure up to date
        block, data, parent_indent = self._root, self._data, -4
        for depth, part in enumerate(parts[:-1]):
            entry = block.find(part)
            if entry is None:
                nested: Any = value
                for name in reversed(parts[depth + 1 :]):
                    nested = {name: nested}
                return self.set(parts[: depth + 1], nested, style, kinds)
            if entry.children is None or not isinstance(data.get(part), dict):
                raise EditError(f"{'.'.join(parts[: depth + 1])!r} is not a mapping", self.path)
            block, data, parent_indent = entry.children, data[part], entry.indent
        key = parts[-1]
        entry = block.find(key)
        had_children = entry is not None and entry.children is not None
        if entry is None:
            self._add(block, parent_indent, key, value, style, kinds)
        else:
            self._replace(entry, value, style)
        data[key] = value
        # a new scalar leaves the entry tree valid (only line numbers move); nested values
        # are rendered as text and parsed again when something needs their structure
        self._moved = True
        if isinstance(value, (dict, list)) or had_children:
            self._dirty = True

    def delete(self, path: str | KeyPath) -> None:
        """Remove a key and all of its lines (a whole nested block included)."""
        parts = split_key(path)
        self._require_editable()
        self.lookup(parts)
        if len(parts) > 1:
            self._fresh()
        parent = self._find(parts[:-1]) if len(parts) > 1 else None
        block = parent.children if parent is not None else self._root
        entry = block.find(parts[-1]) if block is not None else None
        if block is None or entry is None:  # pragma: no cover - guarded by lookup
            raise KeyNotFound(f"no key {'.'.join(parts)!r}", self.path)
        block.items.remove(entry)
        if parent is not None and not any(True for _ in block.entries()):
            parent.value = " {}" + self.newline
            parent.children = None
        del (self.lookup(parts[:-1]) if len(parts) > 1 else self._data)[parts[-1]]
        self._dirty = self._moved = True

    def rename(self, path: str | KeyPath, new_key: str) -> None:
        """Rename a key in place, keeping its value's text and position."""
        parts = split_key(path)
        self._require_editable()
        entry = self._find(parts)
        if entry is None:
            raise KeyNotFound(f"no key {'.'.join(parts)!r}", self.path)
        parent = self.lookup(parts[:-1]) if len(parts) > 1 else self._data
        if new_key in parent:
            raise EditError(f"key {new_key!r} already exists", self.path)
        entry.head = " " * entry.indent + scalars.key_token(new_key) + ":"
        self._data = _rename_key(self._data, parts, new_key)
        self._reparse()

    # ----------------------------------------------------------------- output
    def dumps(self) -> bytes:
        """The file's bytes as they would be written."""
        text = self._open + self._root.render() + self._close + self.body
        return ((BOM if self.bom else "") + text).encode("utf-8")

    @property
    def changed(self) -> bool:
        return self.dumps() != self.raw

    def diff(self) -> str:
        """Unified diff between the file as read and as it would be written."""
        name = self.path.name if self.path else "document"
        return unified_diff(self.raw, self.dumps(), name)

    def verify(self) -> bytes:
        """Render and parse the result again; raise `VerificationError` unless it reads back
        to exactly the intended values with the same body."""
        out = self.dumps()
        from .reader import read_fast  # exactly the full parse's values, or None

        fast = read_fast(out, self.path)
        if fast is not None:
            if not same(fast[0], self._data) or fast[1] != self.body:
                raise VerificationError("edit would not read back to the same values; not written", self.path)
            return out
        try:
            again = Document(out, self.path)
        except ParseError as exc:
            raise VerificationError(f"edit would produce unreadable YAML: {exc.message}", self.path) from None
        if not same(again._data, self._data) or again.body != self.body:
            raise VerificationError("edit would not read back to the same values; not written", self.path)
        return out

    def save(self, path: str | Path | None = None) -> bool:
        """Write the document atomically if it changed; return whether it was written.

        Refuses (`ConflictError`) if the file changed on disk since it was read.
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            raise EditError("no path to save to")
        if target == self.path and not self.changed:
            return False
        out = self.verify()
        write_atomic(target, out, expect=self.raw if target == self.path else None)
        if target == self.path:
            self.raw = out
        return True

    # ----------------------------------------------------------------- internals
    def _structure(self, lines: list[str]) -> Block:
        try:
            root = _parse_block(lines, 0, len(lines))
            _check_keys(root, self._data)
            return root
        except _Duplicate as exc:
            raise ParseError(str(exc), self.path, exc.line + 2, exc.col + 1) from None
        except _Unsupported as exc:
            self._unsupported = str(exc)
            return Block(0, list(lines))

    def _reparse(self) -> None:
        self._lines = split_lines(self._root.render())
        self._root = self._structure(self._lines)
        self._dirty = self._moved = False

    def _fresh(self) -> None:
        if self._dirty:
            self._reparse()

    def _require_editable(self) -> None:
        if self._unsupported:
            raise EditError(f"cannot edit this front matter: {self._unsupported}", self.path)

    def _find(self, parts: KeyPath) -> Entry | None:
        self._fresh()
        block: Block | None = self._root
        entry = None
        for part in parts:
            if block is None:
                return None
            entry = block.find(part)
            if entry is None:
                return None
            block = entry.children
        return entry

    def _replace(self, entry: Entry, value: Any, style: str | None) -> None:
        replace_value(entry, value, style, self.newline)

    def _add(
        self, block: Block, parent_indent: int, key: str, value: Any, style: str | None,
        kinds: dict[str, str] | None = None,
    ) -> None:
        """Insert a new entry after the block's last one, styled like its same-stem twin."""
        entry = new_entry(list(block.entries()), block.indent, parent_indent, key, value, style, kinds, self.newline)
        last = max((i for i, item in enumerate(block.items) if isinstance(item, Entry)), default=-1)
        block.items.insert(last + 1, entry)

    def entry(self, path: str | KeyPath) -> Entry | None:
        """The entry at a dotted path as the file holds it (its `style`; `children` for a
        mapping written as a block), or None when the key is absent."""
        return self._find(split_key(path))


def replace_value(entry: Entry, value: Any, style: str | None, newline: str) -> None:
    """Give an entry a new value, in its old style (or `style`), keeping a trailing comment."""
    old = entry.style
    kind = style or old.kind
    comment = _TRAILING_COMMENT[old.kind].search(entry.value.partition("\n")[0].rstrip("\r"))
    child = entry.children.indent if entry.children is not None else child_indent(entry)
    text = scalars.render(value, scalars.Style(kind, old.indent), entry.indent, newline, child)
    if comment and entry.children is None:
        first, nl, rest = text.partition(newline)
        text = first + comment.group() + nl + rest
    entry.value, entry.children = text, None


def new_entry(
    siblings: list[Entry], block_indent: int, parent_indent: int, key: str, value: Any, style: str | None,
    kinds: dict[str, str] | None, newline: str,
) -> Entry:
    """A new entry for a block holding `siblings`, styled like its same-stem twin (the last
    sibling whose key differs only in its trailing digits), else in the house format."""
    given = style
    indent = siblings[0].indent if siblings else block_indent
    stem = key.rstrip("0123456789")
    twin = next((e for e in reversed(siblings) if e.key.rstrip("0123456789") == stem), None)
    if style is None:
        style = twin.style.kind if twin is not None and twin.children is None else "plain"
    text_indent = None
    if not isinstance(value, (dict, list)):  # (a mapping's or list's own text does not use it)
        text_indent = next((e.style.indent for e in siblings if e.style.kind in ("folded", "literal")), None)
    if text_indent is None:  # house format: text at 4 under top-level keys, else one step deeper
        text_indent = indent + max(indent - parent_indent, 2)
    probe = Entry(key, indent, "", "", -1)
    child = twin.children.indent if twin is not None and twin.children is not None else child_indent(probe)
    if kinds is None and isinstance(value, dict) and twin is not None:
        # a new block like related_article6 takes the styles of related_article5's values
        if twin.children is not None:
            kinds = {c.key: (given or c.style.kind) for c in twin.children.entries() if c.children is None}
        elif twin.kinds is not None:
            kinds = {k: (given or v) for k, v in twin.kinds.items()}
    text = scalars.render(value, scalars.Style(style, text_indent), indent, newline, child, kinds)
    return Entry(key, indent, " " * indent + scalars.key_token(key) + ":", text, -1,
                 kinds=kinds if isinstance(value, dict) else None)


def child_indent(entry: Entry) -> int:
    """Indent for keys of a new mapping under `entry`, following the house format."""
    return entry.indent + (4 if _WIDE_BLOCK.match(entry.key) else 2)


class Section(Mapping):
    """A live view of a nested mapping: `doc["seo"]["title"] = "..."` edits the document."""

    def __init__(self, doc: Document, path: KeyPath) -> None:
        self._doc, self._path = doc, path

    def __getitem__(self, key: str) -> Any:
        node = self._doc.lookup(self._path)
        if key not in node:
            raise KeyNotFound(f"no key {'.'.join(self._path + (key,))!r}", self._doc.path)
        return _wrap(self._doc, self._path + (key,), node[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self._doc.set(self._path + (key,), value)

    def __delitem__(self, key: str) -> None:
        self._doc.delete(self._path + (key,))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._doc.lookup(self._path)))

    def __len__(self) -> int:
        return len(self._doc.lookup(self._path))

    def to_dict(self) -> dict:
        return copy.deepcopy(self._doc.lookup(self._path))

    def __repr__(self) -> str:
        return f"Section({'.'.join(self._path)}={self.to_dict()!r})"


def load(path: str | Path) -> Document:
    """Read a question file into a `Document`."""
    return Document(read_bytes(path), path)


def loads(data: bytes | str, path: str | Path | None = None) -> Document:
    """Parse bytes (or text, encoded as UTF-8) into a `Document`."""
    return Document(data.encode("utf-8") if isinstance(data, str) else data, path)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split at LF only (CR and Unicode separators stay inside)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def decode(raw: bytes, path: Any = None) -> str:
    """UTF-8 text of a file; a bad byte is reported with its line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ParseError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); qtkit reads UTF-8 files only",
            path,
            line,
            col,
        ) from None


# --------------------------------------------------------------------- structure parsing
def _parse_block(lines: list[str], start: int, end: int) -> Block:
    block: Block | None = None
    items: list = []
    seen: dict[str, int] = {}
    i = start
    while i < end:
        line = lines[i]
        text = line.rstrip("\r\n")
        stripped = text.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            items.append(line)
            i += 1
            continue
        indent = len(text) - len(stripped)
        if block is None:
            block = Block(indent, items)
        elif indent != block.indent:
            raise _Unsupported(f"unexpected indentation at front-matter line {i + 1}")
        match = _KEY.match(text)
        if match is None:
            raise _Unsupported(f"line {i + 1} is not a 'key: value' line")
        key = _key_text(match.group("key"))
        if key in seen:
            raise _Duplicate(f"duplicate key {key!r} (first at line {seen[key] + 2})", i, indent)
        seen[key] = i
        rest = text[match.end() :].strip()
        opens_below = not rest or rest.startswith("#")
        last = _value_end(lines, i, end, indent, opens_below)
        if rest[:1] in (">", "|") and "+" in rest.split("#")[0]:
            while last + 1 < end and not lines[last + 1].strip():
                last += 1
        head = line[: match.end()]
        entry = Entry(key, indent, head, line[match.end() :], i)
        if opens_below and last > i:
            nxt = next(lines[j] for j in range(i + 1, last + 1) if lines[j].strip())
            if nxt.lstrip(" ").startswith("#"):
                raise _Unsupported(f"comment opens the value of {key!r}")
            if nxt.lstrip(" ").startswith("-"):
                entry.value += "".join(lines[i + 1 : last + 1])
            else:
                entry.children = _parse_block(lines, i + 1, last + 1)
        else:
            entry.value += "".join(lines[i + 1 : last + 1])
        items.append(entry)
        i = last + 1
    return block if block is not None else Block(0, items)


def _value_end(lines: list[str], i: int, end: int, indent: int, opens_below: bool) -> int:
    """Index of the last line that belongs to the value of the key on line `i`."""
    last = i
    j = i + 1
    while j < end:
        text = lines[j].rstrip("\r\n")
        stripped = text.lstrip(" ")
        if stripped:
            ind = len(text) - len(stripped)
            if ind > indent or (opens_below and ind == indent and stripped[:1] == "-" and stripped[1:2] in ("", " ")):
                last = j
            elif not stripped.startswith("#"):
                break
        j += 1
    return last


def _key_text(token: str) -> str:
    if token[:1] in ("'", '"'):
        value = load_yaml(token)
        if not isinstance(value, str):  # pragma: no cover - regex admits only strings
            raise _Unsupported(f"unsupported key {token}")
        return value
    return token


def _check_keys(block: Block, data: Any) -> None:
    """The modelled structure must name exactly the keys the YAML parser saw, in order."""
    if not isinstance(data, dict):
        raise _Unsupported("structure does not match the YAML parse")
    keys = [e.key for e in block.entries()]
    if keys != list(data):
        raise _Unsupported("keys that are not plain strings, merges or anchors")
    for entry in block.entries():
        if entry.children is not None:
            _check_keys(entry.children, data[entry.key])


def _plain(value: Any) -> Any:
    """Copy a value into plain dicts and lists (tuples become lists)."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _rename_key(data: dict, parts: KeyPath, new_key: str) -> dict:
    if len(parts) == 1:
        return {(new_key if k == parts[0] else k): v for k, v in data.items()}
    return {k: (_rename_key(v, parts[1:], new_key) if k == parts[0] else v) for k, v in data.items()}


def _wrap(doc: Document, path: KeyPath, value: Any) -> Any:
    return Section(doc, path) if isinstance(value, dict) else copy.deepcopy(value)

