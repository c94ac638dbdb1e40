"""One question file as an editable document that keeps every byte it does not change.

The front matter is split into entries (`entries`: a key line plus the lines of its
value) that keep their source text; values are read by `reader` (its fast path, or the
full YAML parse). An edit replaces the text of one entry's value, so rendering an
untouched document gives back its bytes exactly, and an edit changes only the lines of
the value it touches. Before anything is written the new text is read again, through the
same reader, and must read back to the intended values.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import scalars
from .errors import EditError, KeyNotFound, ParseError, VerificationError
from .entries import BOM, Block, Entry, decode, split_lines, structure
from .files import read_bytes, unified_diff, write_atomic
from .reader import read_front
from .yamlio import same

KeyPath = tuple[str, ...]

_TRAILING_COMMENT = {
    "plain": re.compile(r"[ \t]+#.*$"),
    "single": re.compile(r"""(?<=')[ \t]+#.*$"""),
    "double": re.compile(r'(?<=")[ \t]+#.*$'),
    "folded": re.compile(r"[ \t]+#.*$"),
    "literal": re.compile(r"[ \t]+#.*$"),
}
#: house format: related-link blocks are indented 4, other nested mappings 2
_WIDE_BLOCK = re.compile(r"related_article\d*$")


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
        parts, data, _ = read_front(decode(raw, path), path)
        self.bom, self.newline = parts.bom, parts.newline
        self._open, self._close, self._body = parts.opening, parts.closing, parts.body
        self._data: dict = data
        self._root, self._unsupported = structure(parts.lines, data, path)
        self._dirty = self._moved = False
        self._out: bytes | None = None  # the rendered bytes, until the next edit
        self._verified: bytes | None = None  # the rendered bytes once they were read back

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

    @property
    def data(self) -> dict:
        """The front matter's values as read and edited so far: the document's own
        mapping, not a copy, so it must not be changed (edit through `set`/`delete`)."""
        return self._data

    def entry(self, path: str | KeyPath) -> Entry | None:
        """The entry (key line and value text, see `entries.Entry`) at a dotted path, or
        None if absent. It is the entry as it stands: a value set as a whole mapping is
        text (no `children`) until a path descends into it, which reads the structure
        again. Read it only: edits go through `set`, `delete` or `rename`."""
        parts = split_key(path)
        block: Block | None = self._root
        found = None
        for part in parts:
            if block is None:
                if self._dirty:  # a mapping set as text lies on the way: read its structure
                    self._reparse()
                    return self.entry(parts)
                return None
            found = block.find(part)
            if found is None:
                return None
            block = found.children
        return found

    def to_dict(self) -> dict:
        """A deep copy of the front matter as plain Python values."""
        return copy.deepcopy(self._data)

    def span(self, path: str | KeyPath) -> tuple[int, int] | None:
        """1-based first and last file lines of a key and its value, or None if absent."""
        if self._moved:
            self._reparse()
        entry = self.entry(split_key(path))
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
        self._edited()
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
        self._edited()
        self.lookup(parts)
        if len(parts) > 1:
            self._fresh()
        parent = self.entry(parts[:-1]) if len(parts) > 1 else None
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
        self._edited()
        entry = self.entry(parts)
        if entry is None:
            raise KeyNotFound(f"no key {'.'.join(parts)!r}", self.path)
        parent = self.lookup(parts[:-1]) if len(parts) > 1 else self._data
        if new_key in parent:
            raise EditError(f"key {new_key!r} already exists", self.path)
        entry.head = " " * entry.indent + scalars.key_token(new_key) + ":"
        self._data = _rename_key(self._data, parts, new_key)
        self._reparse()

    # ----------------------------------------------------------------- output
    @property
    def body(self) -> str:
        """The text after the closing `---` line, byte for byte (assignable)."""
        return self._body

    @body.setter
    def body(self, text: str) -> None:
        self._body = text
        self._edited()

    def dumps(self) -> bytes:
        """The file's bytes as they would be written (rendered once per edit)."""
        if self._out is None:
            self._out = self._render().encode("utf-8")
        return self._out

    def _render(self) -> str:
        return (BOM if self.bom else "") + self._open + self._root.render() + self._close + self._body

    @property
    def changed(self) -> bool:
        """Whether the bytes to write differ from the bytes read."""
        return self.dumps() != self.raw

    def diff(self, name: str | None = None) -> str:
        """Unified diff between the file as read and as it would be written, headed
        `a/NAME` and `b/NAME`: give the path relative to the collection root (or the cwd)
        so that copies in two folders can be told apart; default: the file's name."""
        return unified_diff(self.raw, self.dumps(), name or (self.path.name if self.path else "document"))

    def verify(self) -> bytes:
        """The bytes to write, once they were parsed again (through the same reader as a
        load) and read back to exactly the intended values with the same body; raises
        `VerificationError` otherwise. Done once per edit: `save` reuses the result."""
        out = self.dumps()
        if self._verified is out:
            return out
        try:
            parts, data, fast = read_front(out.decode("utf-8"), self.path)
            if not fast:
                structure(parts.lines, data, self.path)  # what a load refuses (duplicate keys, depth)
        except ParseError as exc:
            raise VerificationError(f"edit would produce unreadable YAML: {exc.message}", self.path) from None
        if not same(data, self._data) or parts.body != self._body:
            raise VerificationError("edit would not read back to the same values; not written", self.path)
        self._verified = out
        return out

    def save(self, path: str | Path | None = None) -> bool:
        """Write the document atomically if it changed; return whether it was written.

        Refuses (`ConflictError`) if the file changed on disk since it was read, and
        `VerificationError` if the new text would not read back (see `verify`).
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
    def _edited(self) -> None:
        """Forget the rendered bytes (and their verification): the text changed."""
        self._out = self._verified = None

    def _reparse(self) -> None:
        lines = split_lines(self._root.render())
        self._root, self._unsupported = structure(lines, self._data, self.path)
        self._dirty = self._moved = False

    def _fresh(self) -> None:
        if self._dirty:
            self._reparse()

    def _require_editable(self) -> None:
        if self._unsupported:
            raise EditError(f"cannot edit this front matter: {self._unsupported}", self.path)

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

