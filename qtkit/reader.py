"""The one reader of front matter: values (and key positions) of a question file.

Every read takes the fast path first: one compiled pattern cuts the front matter into
entries (a `key:` line with the lines under it) and a small loop decodes the shapes the
house format uses (plain and single-line quoted scalars, `>-`/`|` block scalars without
blank lines, nested mappings) several times faster than libyaml. A front matter of a
shape seen often (the same keys, nesting and kinds of values, line for line: `_Shape`)
is read with one match of a pattern made for that shape, twice as fast again. Anything
else makes it defer to the full parse (libyaml through `yamlio.load_yaml`). The fast
path either gives exactly what the full parse gives or defers: it never guesses (tests
compare the two).

`read_front` is what `Document` reads with; `read` and `read_fast` are the index's.
"""

from __future__ import annotations

import datetime as _dt
import re
import string
from typing import Any

import yaml

from .entries import BOM, MAX_DEPTH, Block, Parts, decode, front_end, split_file, structure
from .errors import ParseError
from .yamlio import load_yaml

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLAIN_FIRST_BAD = set("-?:,[]{}#&*!|>'\"%@`")
#: the plain scalars that PyYAML's resolver reads as bools or null; all other plain
#: scalars starting with a letter are strings (so none of these may be a key either)
_WORDS = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
          "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL"}
_WORD_LEN = max(map(len, _WORDS))
_resolver = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_CLAIMED = {first: {tag.rpartition(":")[2] for tag, _ in found}
            for first, found in _resolver.yaml_implicit_resolvers.items()}
#: first characters of plain scalars that no implicit resolver (bool, int, null...) claims
_STR_FIRST = frozenset(string.ascii_letters + "/()_$^") - set(_CLAIMED) - _PLAIN_FIRST_BAD
#: first characters that only the bool and null resolvers claim: longer words are strings
_WORD_FIRST = frozenset(c for c in string.ascii_letters if _CLAIMED.get(c, {"?"}) <= {"bool", "null"}) - _STR_FIRST



def _chars(chars: frozenset) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


# A plain scalar that is a string whatever the resolvers say: it starts with a character
# no implicit type claims (or one only bools and nulls claim, and is longer than those
# words), and holds words separated by spaces, `:` or `#`, so never `: ` or ` #`, and
# ends in a word. (Runs of word characters keep the regex engine in its fast loops.)
_TEXT = (rf"(?:{_chars(_STR_FIRST)}|{_chars(_WORD_FIRST)}(?=[^\n]{{{_WORD_LEN}}}))"
         r"[^\n:# ]*(?:(?: +|:|#)[^\n:# ]+)*")
# One entry line of block-mapping front matter: a `key:` line (its indent, an identifier
# key, and one of: a block scalar's header with its text (one line) or its lines (all
# deeper than the key); a plain string; a decimal integer; the rest of the line after
# `: `, or nothing (a mapping below)); or a blank line; or any other line, which makes
# the fast path defer. Every line of the text is in one match.
_LINE = re.compile(
    r"( *)([A-Za-z_][A-Za-z0-9_]*):(?:"
    r"[ ]+([>|]-?)\n(?:\1[ ]+([^ \n][^\n]*)\n(?!\1[ ])|((?:\1[ ][^\n]*\n)+))"
    rf"|[ ]+({_TEXT})\n"
    r"|[ ]+([1-9][0-9]{0,17})\n"
    r"|(?:[ ]+([^\n]*))?\n)"
    r"|(\n)"
    r"|([^\n]*\n|[^\n]+)"
)
_INDENT = re.compile(" *")
_ASCII_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n"


class _Defer(Exception):
    """This file needs the full parser."""


def read_front(text: str, path: Any = None) -> tuple[Parts, dict, bool]:
    """A decoded file (a BOM allowed) cut into its parts, its front matter's values, and
    whether the fast path read them (else the full parse did).

    Raises `ParseError` (with line and column) when the delimiters are missing, the YAML
    is invalid or nests too deeply, or the front matter is not a mapping.
    """
    parts = split_file(text, path)
    if parts.opening == "---\n" and parts.closing in ("---\n", "---"):
        front = "".join(parts.lines)  # (where `front_end` would cut: the same lines)
        if _printable(front):
            try:
                return parts, _mapping(front), True
            except _Defer:
                pass
    return parts, _full(parts.lines, path), False


def _full(lines: list[str], path: Any) -> dict:
    """The front-matter lines read by the full YAML parser."""
    try:
        data = load_yaml("".join(lines), path, line_offset=1)
    except RecursionError:
        raise ParseError("front matter nests too deeply to read", path, 2, 1) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParseError("front matter is not a mapping of keys to values", path, 2, 1)
    return data


def read(raw: bytes, path: Any = None, where: list | None = None) -> tuple[dict, str]:
    """Front matter and body of a question file, as `Document` reads them.

    With `where` (an empty list), the position of every key is appended to it (see
    `read_fast`); if the full parser's keys cannot be matched to lines, `where` is left
    holding a single None.
    Raises `ParseError` (with line and column) for files the full parser rejects, and for
    those `Document` refuses (duplicate keys, nesting deeper than `MAX_DEPTH`).
    """
    fast = read_fast(raw, path, None, where)
    if fast is not None:
        return fast
    parts = split_file(decode(raw, path), path)
    data = _full(parts.lines, path)
    root, unsupported = structure(parts.lines, data, path)
    if where is not None:
        where.clear()
        where.extend(_entry_positions(root if unsupported is None else None, data))
    return data, parts.body


def read_fast(raw: bytes, path: Any = None, dates: list | None = None,
              where: list | None = None, names: list | None = None) -> tuple[dict, str] | None:
    """`read` for the shapes the fast path knows, else None.

    Its values are only str, int, finite float, date, None and str-keyed dicts; the key
    path of every date is appended to `dates` when it is given. With `where`, the file
    position of every key, in the order of a depth-first walk of the returned mappings,
    is appended to it: its 1-based line, followed by minus its column where that is not
    1 (what `key_lines` reads back from the numbers joined by commas). With `names`, the
    dotted path of every value that is not a mapping (`seo.title`), in file order, is
    appended to it: `shapes.layout`'s names, without walking the data again.
    """
    text = decode(raw, path)
    if text.startswith(BOM):
        text = text[1:]
    end = front_end(text)
    if end is None:
        return None
    front = text[4:end]
    if not _printable(front):
        return None
    try:
        return _mapping(front, dates, where, names), text[end + 4 :]
    except _Defer:
        if where:
            where.clear()
        if names:
            names.clear()
        return None


def read_entries(text: str, dates: list | None = None) -> dict | None:
    """The entries of a run of whole front-matter lines that start at column 0, read as
    `read_fast` reads a whole front matter (None where it would defer)."""
    if not _printable(text):
        return None
    try:
        return _mapping(text, dates)
    except _Defer:
        return None


def _printable(front: str) -> bool:
    """No tab, CR, control or line-separator characters (those go to the full parser)."""
    if front.isascii():
        return not front.encode("ascii").translate(None, _ASCII_PRINTABLE)
    return front.replace("\n", "").isprintable()


def _mapping(text: str, dates: list | None = None, where: list | None = None, names: list | None = None) -> dict:
    """Decode `text` (whole lines, the first at column 0) as a block mapping.

    A text of a shape seen often (`_Shape`) is read with one match; any other line by
    line (`_by_lines`): the same values either way. With `where`, the positions of the
    keys are recorded as if `text` were a front matter starting on line 2; with `names`,
    the dotted paths of the values that are not mappings (see `read_fast`).
    """
    count = text.count("\n")
    for shape in _shapes.get(count, ()):
        found = shape.pattern.match(text)
        if found:
            return shape.read(found.groups(""), dates, where, names)
    entries = _LINE.findall(text)
    out = _by_lines(entries, dates, where, names)
    _learn(entries, count)
    return out


def _by_lines(entries: list, dates: list | None, where: list | None, names: list | None) -> dict:
    """The mapping of `_LINE`'s matches, read in one pass with a stack of the mappings
    they are nested in; anything the house format does not use is deferred."""
    out: dict = {}
    here, indent, path = out, "", ()  # the mapping being filled, its keys' indent, its key path
    dotted = ""  # `path` joined by dots, with a dot after it (none at the top)
    levels: list = []  # the enclosing (mapping, indent, path)s
    opened = None  # the key just read when it opens a mapping below (nothing after its colon)
    line = 2
    for pad, key, header, one, block, plain, number, rest, _, other in entries:
        if not key:
            if other:
                raise _Defer  # a comment, list, document marker, text at the wrong indent...
            line += 1
            continue
        if pad != indent:
            width = len(pad)
            if width > len(indent):
                if opened is None or len(levels) + 1 >= MAX_DEPTH:
                    raise _Defer  # deeper lines under a scalar, or nesting the full parser refuses
                levels.append((here, indent, path, dotted))
                here[opened] = here = {}
                indent, path, dotted = pad, (*path, opened), f"{dotted}{opened}."
                if names is not None:
                    names.pop()  # the key above is a mapping, not a value
            else:
                while width < len(indent) and levels:
                    here, indent, path, dotted = levels.pop()
                if pad != indent:
                    raise _Defer  # between two levels
        opened = None
        if key in here or key in _WORDS:
            raise _Defer
        if where is not None:
            where.append(line)
            if pad:
                where.append(-len(pad) - 1)
        if names is not None:
            names.append(dotted + key if dotted else key)
        if plain:
            here[key] = plain
            line += 1
        elif one:
            here[key] = one if header[-1] == "-" else one + "\n"
            line += 2
        elif number:
            here[key] = int(number)
            line += 1
        elif rest:
            here[key] = value = _rest(rest)
            if dates is not None and type(value) is _dt.date:
                dates.append([*path, key])
            line += 1
        elif header:
            here[key] = _block(header, block)
            line += block.count("\n") + 1
        else:
            here[key] = None
            opened = key
            line += 1
    return out


def _rest(rest: str) -> Any:
    """`_scalar`, remembered for short texts (subject, seo.title, score, dates repeat)."""
    value = _known.get(rest, _MISS)
    if value is _MISS:
        value = _scalar(rest)
        if len(rest) < 32 and len(_known) < 4096:
            _known[rest] = value
    return value


# A shape of front matter: each line's indent, key and kind of value. A text of a shape
# seen often is read with one match of a pattern made for it (several times cheaper than
# a match per line) and a fixed program. Each key line's part matches exactly when
# `_LINE`'s first matching alternative there is the one the shape has, with the same
# value (an atomic group: never taken back), so a match gives `_by_lines`' values.
_NUMBER = r"[1-9][0-9]{0,17}"
_PARTS = {
    "plain": rf"[ ]+({_TEXT})\n",  # A1 fails: no `>` or `|` starts a plain string
    "number": rf"[ ]+({_NUMBER})\n",  # A1 and A2 fail on a digit
    "one": r"[ ]+{h}\n{p}[ ]+([^ \n][^\n]*)\n(?!{p}[ ])",  # A1's first branch, tried first
    "rest": rf"(?![ ]+[>|]-?\n{{p}}[ ])(?![ ]+{_TEXT}\n)(?![ ]+{_NUMBER}\n)(?:[ ]+([^\n]*))?\n",  # A1-A3 fail
    "open": r"[ ]*()\n",  # nothing after the colon: only A4 matches, without a value
}
_LEARN_AFTER = 16  # a shape seen this often (read line by line) gets its pattern
_seen: dict[tuple, int] = {}  # shapes read line by line (up to 4096): how often
_shapes: dict[int, list] = {}  # shapes with a pattern, by their count of lines (up to 64 in all)


class _Shape:
    """The pattern and program of one shape, made from the `_LINE` matches of a text
    that `_by_lines` read without deferring (so every text of the shape reads the same
    way: same keys, nesting and positions; only values differ)."""

    def __init__(self, entries: list, kinds: list[str]) -> None:
        self.where: list = []
        self.names: list = []
        _by_lines(entries, None, self.where, self.names)
        self.program: list = []  # per key line: (kind, mapping slot, key, key path or new slot)
        self.slots = 1
        stack = [("", 0, ())]  # the enclosing mappings: indent, slot, key path
        parts = []
        for i, ((pad, key, header, *_), kind) in enumerate(zip(entries, kinds)):
            while len(pad) < len(stack[-1][0]):
                stack.pop()
            _, slot, path = stack[-1]
            extra: Any = (*path, key)
            if kind == "open" and i + 1 < len(entries) and len(entries[i + 1][0]) > len(pad):
                kind, extra = "map", self.slots
                stack.append((entries[i + 1][0], self.slots, (*path, key)))
                self.slots += 1
            elif kind == "one" and header[-1] != "-":
                kind = "one+"
            part = _PARTS["open" if kind == "map" else kind[:3] if kind.startswith("one") else kind]
            parts.append(f"(?>{pad}{key}:{part.replace('{p}', pad).replace('{h}', re.escape(header))})")
            self.program.append((kind, slot, key, extra))
        self.pattern = re.compile("".join(parts) + r"\Z")

    def read(self, values: tuple, dates: list | None, where: list | None, names: list | None) -> dict:
        """The mapping of a text this shape's pattern matched (`values`: its groups)."""
        mappings: list = [{}] * self.slots
        for (kind, slot, key, extra), value in zip(self.program, values):
            here = mappings[slot]
            if kind == "plain" or kind == "one":
                here[key] = value
            elif kind == "number":
                here[key] = int(value)
            elif kind == "rest":
                here[key] = value = _rest(value) if value else None
                if dates is not None and type(value) is _dt.date:
                    dates.append(list(extra))
            elif kind == "map":
                here[key] = mappings[extra] = {}
            elif kind == "one+":
                here[key] = value + "\n"
            else:
                here[key] = None
        if where is not None:
            where.extend(self.where)
        if names is not None:
            names.extend(self.names)
        return mappings[0]


def _learn(entries: list, count: int) -> None:
    """Count the shape of a text `_by_lines` read; give it a pattern once it is common."""
    kinds = []
    for pad, key, header, one, _, plain, number, rest, _, _ in entries:
        if not key or (header and not one):
            return  # blank, other and block lines: always line by line
        kinds.append("one" if one else "plain" if plain else "number" if number else "rest" if rest else "open")
    shape = (tuple((pad, key, header) for pad, key, header, *_ in entries), tuple(kinds))
    seen = _seen.get(shape, 0) + 1
    if shape in _seen or len(_seen) < 4096:
        _seen[shape] = seen
    if seen == _LEARN_AFTER and sum(map(len, _shapes.values())) < 64:
        _shapes.setdefault(count, []).append(_Shape(entries, kinds))


def fast_positions(raw: bytes) -> list[int] | None:
    """The positions `read_fast(raw, where=...)` records, for bytes the fast reader is
    known to accept (it does not check values again: cheaper), or None if the front
    matter is not in the fast reader's shape."""
    text = raw.decode("utf-8")
    if text.startswith(BOM):
        text = text[1:]
    end = front_end(text)
    if end is None:
        return None
    where: list[int] = []
    _positions(text[4:end], where)
    return where


def _positions(text: str, where: list) -> None:
    for shape in _shapes.get(text.count("\n"), ()):
        if shape.pattern.match(text):
            where.extend(shape.where)
            return
    line = 2
    for pad, key, _, one, block, _, _, _, _, _ in _LINE.findall(text):
        if key:
            where.append(line)
            if pad:
                where.append(-len(pad) - 1)
        line += 2 if one else block.count("\n") + 1 if block else 1


def _entry_positions(root: Block | None, data: dict) -> list:
    """`where` for a file the full parser read: its entries' positions, when its entries
    (none for a structure the editor does not model) are exactly the keys of `data` in
    the same order ([None] otherwise)."""
    out: list = []
    names: list = []
    stack = [iter(root.entries())] if root is not None else []
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        out.append(entry.lineno + 2)
        if entry.indent:
            out.append(-entry.indent - 1)
        names.append((len(stack), entry.key))
        if entry.children is not None:
            stack.append(iter(entry.children.entries()))
    return out if names == _walk_names(data) else [None]


def _walk_names(data: dict) -> list:
    """(depth, key) of every key of nested mappings, depth first, in order."""
    out: list = []
    stack = [iter(data.items())]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        out.append((len(stack), item[0]))
        if isinstance(item[1], dict):
            stack.append(iter(item[1].items()))
    return out


def key_lines(data: dict, lines: str, wanted: Any = None) -> dict[tuple, tuple[int, int]] | None:
    """(line, col) of every key path of `data` (`("seo", "title")`), or only of those in
    `wanted`, from the positions `read_fast` recorded (`lines` as the index stores them:
    joined by commas). Data from the index cache has its keys in file order, so the n-th
    key of a depth-first walk is at the n-th position; None if the counts disagree."""
    if wanted is not None and _simple_lines(lines):
        return _wanted_lines(data, lines, set(wanted))
    spots: list[tuple[int, int]] = []
    for token in lines.split(",") if lines else ():
        number = int(token)
        if number > 0:
            spots.append((number, 1))
        elif spots:
            spots[-1] = (spots[-1][0], -number)
    paths: list[tuple] = []
    _key_paths(data, (), paths)
    if len(paths) != len(spots):
        return None
    if wanted is None:
        return dict(zip(paths, spots))
    return {path: spot for path, spot in zip(paths, spots) if path in wanted}


def _simple_lines(lines: str) -> bool:
    """Whether `lines` is as `read_fast` writes it: a key's line (digits, not starting with
    0), then its -column or not, and so on, joined by commas (string tests only: no regex)."""
    return bool(lines) and lines.isascii() and lines.replace(",", "").replace("-", "").isdigit() and \
        lines[0] not in ",-0" and lines[-1] not in ",-" and ",," not in lines and ",0" not in lines and \
        lines.count("-") == lines.count(",-")


def _wanted_lines(data: dict, lines: str, wanted: set) -> dict[tuple, tuple[int, int]] | None:
    """`key_lines` of the `wanted` paths only, for `_simple_lines`: the keys outside them
    are counted, not listed, and only the wanted positions are read as numbers."""
    keys = lines.replace(",-", "-").split(",")  # one token a key: its line, then -column if any
    found: dict[tuple, int] = {}
    firsts: dict[Any, list[tuple]] = {}
    for path in wanted:
        if path:
            firsts.setdefault(path[0], []).append(path)
    n = 0
    for key, value in data.items():  # the top level, without a tuple a key
        paths = firsts.get(key)
        if paths is not None and (key,) in wanted:
            found[(key,)] = n
        n += 1
        if isinstance(value, dict):
            deeper = {p for p in paths if len(p) > 1} if paths is not None else None
            if deeper:
                n = _walk(value, (key,), deeper, {p[:i] for p in deeper for i in range(2, len(p))}, found, n)
            else:
                n += _count(value)
    if n != len(keys):
        return None
    out = {}
    for path, i in found.items():
        token = keys[i]
        dash = token.find("-")
        out[path] = (int(token), 1) if dash < 0 else (int(token[:dash]), int(token[token.rfind("-") + 1:]))
    return out


def _walk(node: dict, prefix: tuple, wanted: set, through: set, found: dict, n: int) -> int:
    """Number the keys of `node` depth first from `n` (as `_key_paths` lists them), noting
    in `found` the number of each path in `wanted`; the number after the last."""
    for key, value in node.items():
        path = (*prefix, key)
        if path in wanted:
            found[path] = n
        n += 1
        if isinstance(value, dict):
            n = _walk(value, path, wanted, through, found, n) if path in through else n + _count(value)
    return n


def _count(node: dict) -> int:
    """How many keys a mapping holds, nested ones included."""
    n = len(node)
    for value in node.values():
        if isinstance(value, dict):
            n += _count(value)
    return n


def _key_paths(node: dict, prefix: tuple, out: list) -> None:
    for key, value in node.items():
        path = (*prefix, key)
        out.append(path)
        if isinstance(value, dict):
            _key_paths(value, path, out)


def _block(header: str, lines: str) -> str:
    """A block scalar's value from its header (`>-`...) and its lines (each ending in a newline)."""
    width = _INDENT.match(lines).end()  # type: ignore[union-attr]
    if lines.find("\n") == len(lines) - 1:
        text = lines[width:-1]  # one line: the house format's
    else:
        pad = "\n" + " " * width
        lines = "\n" + lines
        if lines.count(pad) != lines.count("\n") - 1:
            raise _Defer  # a line indented less than the first one
        text = lines.replace(pad, "\n")[1:-1]
    if not text or text[0] == "\n" or ("\n" in text and ("\n " in text or "\n\n" in text or text[-1] == "\n")):
        raise _Defer  # blank or more-indented lines: leave folding rules to the parser
    if header[0] == ">":
        text = text.replace("\n", " ")
    return text if header[-1] == "-" else text + "\n"


_MISS = object()
_known: dict[str, Any] = {}  # short scalars already decoded (subject, seo.title, score, dates repeat)


def _scalar(rest: str) -> Any:
    """The value of a one-line scalar (the text after `key: `), or `_Defer`."""
    first = rest[0]
    if first == "'":
        if len(rest) < 2 or rest[-1] != "'" or "'" in rest[1:-1].replace("''", ""):
            raise _Defer
        return rest[1:-1].replace("''", "'")
    if first == '"':
        if len(rest) < 2 or rest[-1] != '"' or '"' in rest[1:-1] or "\\" in rest:
            raise _Defer
        return rest[1:-1]
    if (first in _STR_FIRST or first in _WORD_FIRST and len(rest) > _WORD_LEN) and not rest[-1].isspace() \
            and rest[-1] != ":" and ": " not in rest and " #" not in rest:
        return rest  # no implicit type starts this way: a plain string
    if first in "123456789" and rest.isdigit() and rest.isascii():
        return int(rest)  # a decimal integer (ids): what the resolver would say, without asking it
    return _plain(rest)


def _plain(rest: str) -> Any:
    if _first_bad(rest) or rest != rest.rstrip() or ": " in rest or " #" in rest or rest.endswith(":"):
        raise _Defer
    tag = _resolver.resolve(yaml.ScalarNode, rest, (True, False))
    if tag == _STR:
        return rest
    if tag.endswith(":int") and _INT.fullmatch(rest):
        return int(rest)
    if tag.endswith(":float") and _FLOAT.fullmatch(rest):
        return float(rest)
    if tag.endswith(":timestamp") and _DATE.fullmatch(rest):
        try:
            return _dt.date.fromisoformat(rest)
        except ValueError:
            raise _Defer from None  # no such day: the full parse reports it
    raise _Defer


def _first_bad(rest: str) -> bool:
    """True if a plain scalar starting this way needs the full parser's rules."""
    if rest[0] == "-":
        return len(rest) == 1 or rest[1] in " \t"
    return rest[0] in _PLAIN_FIRST_BAD
