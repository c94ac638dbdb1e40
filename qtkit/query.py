"""`--where` conditions: one parser and one matcher for `export`, `set`, `stats`, `replace`,
`serve` and the Python API.

A condition is one of (KEY is a dotted front-matter key such as `seo.title`):

- `KEY=VALUE`   the value, as `qtkit get` prints it, equals VALUE
- `KEY!=VALUE`  it does not (a page without KEY matches)
- `KEY~REGEX`   a regular expression finds a match in it (`KEY!~REGEX`: finds none)
- `KEY<N`, `KEY>N`, `KEY<=N`, `KEY>=N`  compares numbers, or dates (`date>2024-01-01`)
- `KEY?`        the page has KEY (any value, empty included)
- `!KEY`        the page has no KEY

A page is selected when every condition holds. Regular expressions run on the `regex`
engine with a time limit, so a pathological pattern fails with an error instead of hanging.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import regex

from .errors import BadCondition, EditError, UnknownKey
from .values import format_value

if TYPE_CHECKING:
    from .index import Collection, Record

#: longest regular expression accepted (characters)
MAX_PATTERN = 500
#: longest time one regular-expression search may take (seconds)
REGEX_TIMEOUT = 1.0

OPERATORS = ("!=", "!~", "<=", ">=", "=", "~", "<", ">")
_SPLIT = re.compile(r"\A(?P<key>[^=!~<>?\s][^=!~<>?]*?)\s*(?P<op>!=|!~|<=|>=|=|~|<|>)(?P<value>.*)\Z", re.S)
_KEY = re.compile(r"\A[^=!~<>?\s][^=!~<>?]*\Z")
_NUMBER = re.compile(r"\A[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


@dataclass(frozen=True)
class Condition:
    """One parsed `--where` condition: `key`, `op` (one of `OPERATORS`, `?` present, `!`
    absent) and the text `value` it compares with."""

    key: str
    op: str
    value: str = ""

    def __str__(self) -> str:
        if self.op == "?":
            return f"{self.key}?"
        if self.op == "!":
            return f"!{self.key}"
        return f"{self.key}{self.op}{self.value}"

    def matches(self, data: Mapping[str, Any]) -> bool:
        """Whether a page's front matter `data` satisfies the condition. Raises `EditError`
        when a regular expression runs out of time."""
        found, value = lookup(data, self.key)
        if self.op == "?":
            return found
        if self.op == "!":
            return not found
        if self.op in ("=", "!="):
            equal = found and value is not None and format_value(value) == self.value
            return equal if self.op == "=" else not equal
        if self.op in ("~", "!~"):
            hit = found and value is not None and _search(self.value, format_value(value))
            return hit if self.op == "~" else not hit
        if not found:
            return False
        return _compare(self.op, value, _bound(self.value))


def lookup(data: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """(whether the dotted `key` is in `data`, its value)."""
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def parse(text: str | Condition | tuple[str, str]) -> Condition:
    """One condition from its text (`subject=Physics`, `id>100`, `seo?`, `!aliases`); a
    `(key, value)` pair means `key=value`. Raises `EditError` for malformed text or an
    invalid or too long regular expression."""
    if isinstance(text, Condition):
        return text
    if isinstance(text, tuple):
        key, value = text
        return Condition(str(key), "=", str(value))
    item = str(text)
    if item.endswith("?") and _KEY.match(item[:-1]):
        return Condition(item[:-1].strip(), "?")
    if item.startswith("!") and _KEY.match(item[1:]):
        return Condition(item[1:].strip(), "!")
    m = _SPLIT.match(item)
    if not m:
        raise BadCondition(f"--where expects KEY=VALUE, KEY!=VALUE, KEY~REGEX, KEY<N, KEY>N, KEY? or !KEY, got {item!r}")
    cond = Condition(m["key"].strip(), m["op"], m["value"])
    if cond.op in ("~", "!~"):
        compile_pattern(cond.value)
    elif cond.op in ("<", ">", "<=", ">="):
        if _bound(cond.value) is None:
            raise BadCondition(f"{item!r}: {cond.op} compares numbers or dates (YYYY-MM-DD), got {cond.value!r}")
    return cond


def parse_where(items: Iterable[str | Condition | tuple[str, str]]) -> list[Condition]:
    """Every condition of a repeated `--where` (all must hold); see `parse`."""
    return [parse(item) for item in items]


def matches(data: Mapping[str, Any], conditions: Iterable[Condition]) -> bool:
    """Whether front matter `data` satisfies every condition."""
    return all(c.matches(data) for c in conditions)


def select(
    coll: Collection,
    targets: Iterable[str] = (),
    where: Iterable[str | Condition | tuple[str, str]] = (),
    sort: str | None = None,
) -> Iterator[Record]:
    """Records by id (or by `sort` key), limited to `targets` (ids, paths or urls) and to
    the pages every `where` condition holds for. A condition on a key no page has issues
    an `UnknownKey` warning. Raises `EditError` for a bad condition, `NotFound`/`Ambiguous`
    for a bad target."""
    wanted = list(targets)
    records: Iterable[Record] = [coll.record(t) for t in wanted] if wanted else coll
    conditions = parse_where(where)
    if conditions:
        for key in unknown_keys(coll, conditions):
            warnings.warn(UnknownKey(f"no page has the key {key!r} (--where {key})"), stacklevel=2)
        equal = [(c.key, c.value) for c in conditions if c.op == "="]
        rest = [c for c in conditions if c.op != "="]
        if not wanted and equal:  # found inside SQLite, without decoding the other pages
            records = _where_equal(coll, equal)
            if rest:
                records = (r for r in records if matches(r.data, rest))
        else:
            records = (r for r in records if matches(r.data, conditions))
    if sort:
        records = sorted(records, key=lambda r: _sort_key(r.get(sort)))
    return iter(records)


def _where_equal(coll: Collection, pairs: list[tuple[str, str]]) -> Iterator[Record]:
    """The pages where every key prints as its value (`=` only), found by
    `Collection.where`; every page is looked at where the SQLite is too old for it."""
    import sqlite3

    try:
        found = coll.where(pairs)
    except sqlite3.Error:
        conditions = [Condition(k, "=", v) for k, v in pairs]
        yield from (r for r in coll if matches(r.data, conditions))
        return
    yield from coll.records(found)


def unknown_keys(coll: Collection, conditions: Iterable[str | Condition | tuple[str, str]]) -> list[str]:
    """The keys of `conditions` that no page of the collection has (likely typos), in order."""
    columns = set(coll.columns())
    prefixes = {c.rsplit(".", i)[0] for c in columns for i in range(c.count(".") + 1)}
    out: list[str] = []
    for cond in parse_where(conditions):
        key = "$$" + cond.key[1:] if cond.key.startswith("$") else cond.key
        if key not in prefixes and cond.key not in out:
            out.append(cond.key)
    return out


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, format_value(value))


def compile_pattern(pattern: str) -> Any:
    """A `regex` pattern (cached), as `--where KEY~PATTERN` and `replace --regex` use it.
    Raises `BadCondition` (an `EditError`) for a pattern that is too long or invalid."""
    if len(pattern) > MAX_PATTERN:
        raise BadCondition(f"regular expression too long ({len(pattern)} characters; at most {MAX_PATTERN})")
    return _cached(pattern)


_patterns: dict[str, Any] = {}


def _cached(pattern: str) -> Any:
    compiled = _patterns.get(pattern)
    if compiled is None:
        try:
            compiled = regex.compile(pattern, regex.V0)
        except (regex.error, OverflowError, RecursionError) as exc:
            raise BadCondition(f"invalid regular expression {pattern!r}: {exc}") from None
        if len(_patterns) > 256:
            _patterns.clear()
        _patterns[pattern] = compiled
    return compiled


def _search(pattern: str, text: str) -> bool:
    try:
        return compile_pattern(pattern).search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        raise EditError(f"regular expression {pattern!r} took longer than {REGEX_TIMEOUT} s on one value;"
                        " simplify it") from None


def _bound(text: str) -> float | _dt.date | _dt.datetime | None:
    """The number or date a `<`/`>` condition compares with (None: neither)."""
    text = text.strip()
    if _NUMBER.match(text):
        return float(text)
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _compare(op: str, value: Any, bound: Any) -> bool:
    if isinstance(bound, float):
        if isinstance(value, bool):
            return False
        if isinstance(value, str):
            if not _NUMBER.match(value.strip()):
                return False
            value = float(value)
        if not isinstance(value, (int, float)):
            return False
    else:
        value = _as_date(value, type(bound))
        if value is None:
            return False
        if isinstance(bound, _dt.datetime) and (bound.tzinfo is None) != (value.tzinfo is None):
            value, bound = value.replace(tzinfo=None), bound.replace(tzinfo=None)
    try:
        return {"<": value < bound, ">": value > bound, "<=": value <= bound, ">=": value >= bound}[op]
    except TypeError:
        return False


def _as_date(value: Any, kind: type) -> Any:
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, _dt.datetime):
        return value if kind is _dt.datetime else value.date()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day) if kind is _dt.datetime else value
    return None
