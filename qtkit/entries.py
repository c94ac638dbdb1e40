"""Front matter as text: finding it in a file and splitting it into entries.

A question file is an opening `---` line, the front-matter lines, a closing `---` line
and the body. The front matter splits into entries: a key line plus the lines of its
value (or a nested block of entries), each keeping its exact source text, interleaved
with blank and comment lines kept as text. Rendering the entries gives back the lines
byte for byte. This module knows the text only; the values are read by `reader`, and
`document` edits entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from . import scalars
from .errors import ParseError
from .yamlio import load_yaml

BOM = "\ufeff"
#: deeper front matter is refused (no question file needs it; it only exhausts the stack)
MAX_DEPTH = 64

_KEY = re.compile(
    r"""(?P<indent>\ *)
        (?P<key>"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\r\n]|'')*'|[^\s#'"?:,\[\]{}&*!|>%@`-][^\r\n]*?)
        [\ \t]*:(?=[\ \t\r\n]|$)""",
    re.VERBOSE,
)
_DELIMITER = re.compile(r"---[ \t]*(\r?\n)?$")


class Unsupported(Exception):
    """The block structure is not one the editor models (the values are still readable)."""


class DuplicateKey(Exception):
    """A key appears twice in one mapping (YAML parsers disagree on which one wins);
    `line` is the 0-based front-matter line of the second one, `col` its 0-based column."""

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
        """The entry's text: key line, value lines, nested entries."""
        text = self.head + self.value
        return text + self.children.render() if self.children is not None else text

    @property
    def style(self) -> scalars.Style:
        """How the value is written (plain, quoted, folded, literal) and, for a block
        scalar, the column of its text."""
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
        """The block's text, byte for byte."""
        return "".join(i if isinstance(i, str) else i.render() for i in self.items)

    def entries(self) -> Iterator[Entry]:
        """The entries, in file order (blank and comment lines left out)."""
        return (i for i in self.items if isinstance(i, Entry))

    def find(self, key: str) -> Entry | None:
        """The entry of `key` in this block (not below it), or None."""
        for item in self.items:
            if type(item) is Entry and item.key == key:
                return item
        return None


@dataclass
class Parts:
    """A question file's text cut at its delimiters: the opening `---` line, the
    front-matter lines (each with its line ending), the closing line and the body."""

    bom: bool
    opening: str
    lines: list[str]
    closing: str
    body: str

    @property
    def newline(self) -> str:
        """The file's line ending, as its opening line has it."""
        return "\r\n" if self.opening.endswith("\r\n") else "\n"


def split_file(text: str, path: Any = None) -> Parts:
    """Cut decoded file text (a BOM allowed) at its delimiter lines; `ParseError` if the
    file does not open with a `---` line or never closes its front matter."""
    bom = text.startswith(BOM)
    lines = split_lines(text[1:] if bom else text)
    if not lines or not _DELIMITER.match(lines[0]):
        raise ParseError("no front matter: the file must start with a '---' line", path, 1, 1)
    close = next((i for i in range(1, len(lines)) if _DELIMITER.match(lines[i])), None)
    if close is None:
        raise ParseError("front matter never closes: no '---' line after it", path, len(lines), 1)
    return Parts(bom, lines[0], lines[1:close], lines[close], "".join(lines[close + 1 :]))


def front_end(text: str) -> int | None:
    """Where the closing `---` line starts in text (BOM removed) that opens with a plain
    `---` line, or None for shapes the fast reader leaves to the full one (an opening or
    closing line with blanks or a CR after the dashes, or no closing line). Where it
    answers, `split_file` cuts at the same lines."""
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---", 3)
    while end != -1:
        after = end + 4
        if text[after : after + 1] in (" ", "\t", "\r"):
            return None  # a delimiter with trailing blanks: let the full reader decide
        if after == len(text) or text[after] == "\n":
            return end + 1
        end = text.find("\n---", after)
    return None


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split at LF only (CR and Unicode separators stay inside)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def decode(raw: bytes, path: Any = None) -> str:
    """UTF-8 text of a file; a bad byte is reported (`ParseError`) with its line and column."""
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


def structure(lines: list[str], data: dict, path: Any = None) -> tuple[Block, str | None]:
    """The entries of the front-matter `lines`, whose values a YAML parser read as `data`,
    and None; or, for a shape the editor does not model (anchors, flow mappings, lists of
    mappings...), one block holding the lines as text and the reason. Raises `ParseError`
    for a duplicate key and for nesting deeper than `MAX_DEPTH` (or than the stack)."""
    try:
        root = parse_block(lines, 0, len(lines))
        check_keys(root, data)
    except DuplicateKey as exc:
        raise ParseError(str(exc), path, exc.line + 2, exc.col + 1) from None
    except Unsupported as exc:
        return Block(0, list(lines)), str(exc)
    except RecursionError:
        raise ParseError("front matter nests too deeply to edit", path, 2, 1) from None
    if _depth(root) > MAX_DEPTH:
        raise ParseError(f"front matter nests deeper than {MAX_DEPTH} levels; not edited", path, 2, 1)
    return root, None


def _depth(root: Block) -> int:
    """How deep mappings nest under `root` (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        block, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((item.children, level + 1) for item in block.items
                     if type(item) is Entry and item.children is not None)
    return deepest


def parse_block(lines: list[str], start: int, end: int) -> Block:
    """The entries of `lines[start:end]`, one mapping at one indentation (nested blocks
    parsed below their keys). Raises `DuplicateKey`, and `Unsupported` for lines that
    are not `key: value` lines at the block's indentation."""
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
            raise Unsupported(f"unexpected indentation at front-matter line {i + 1}")
        match = _KEY.match(text)
        if match is None:
            raise Unsupported(f"line {i + 1} is not a 'key: value' line")
        key = _key_text(match.group("key"))
        if key in seen:
            raise DuplicateKey(f"duplicate key {key!r} (first at line {seen[key] + 2})", i, indent)
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
                raise Unsupported(f"comment opens the value of {key!r}")
            if nxt.lstrip(" ").startswith("-"):
                entry.value += "".join(lines[i + 1 : last + 1])
            else:
                entry.children = parse_block(lines, i + 1, last + 1)
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
            raise Unsupported(f"unsupported key {token}")
        return value
    return token


def check_keys(block: Block, data: Any) -> None:
    """Raise `Unsupported` unless the entries name exactly the keys a YAML parser read
    into `data`, in the same order, at every level."""
    if not isinstance(data, dict):
        raise Unsupported("structure does not match the YAML parse")
    keys = [e.key for e in block.entries()]
    if keys != list(data):
        raise Unsupported("keys that are not plain strings, merges or anchors")
    for entry in block.entries():
        if entry.children is not None:
            check_keys(entry.children, data[entry.key])
