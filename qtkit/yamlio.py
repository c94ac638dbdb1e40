"""Full YAML reads through libyaml (PyYAML's CSafeLoader), hardened for untrusted input."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import yaml

from .errors import ParseError

#: The safe loader every full read uses: libyaml's (about 15x faster than the pure-Python
#: parser) where PyYAML was built with it.
LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Flow brackets beyond this count make us use the pure-Python parser, whose recursion
#: is bounded by Python's limit instead of the C stack.
_DEEP_FLOW = 256


def load_yaml(text: str, path: Any = None, line_offset: int = 0) -> Any:
    """Parse YAML text with safe semantics; errors carry file, line and column.

    `line_offset` is the number of file lines before `text` (so positions name the file's
    own lines). Every alias (`*name`) is refused, with the line and column of the first:
    aliases are how "billion laughs" documents explode (to a container, or a large
    scalar repeated), and no question file needs them. So what is read stays proportional
    to the text.
    """
    loader = LOADER
    if text.count("[") + text.count("{") > _DEEP_FLOW:
        loader = yaml.SafeLoader
    try:
        if "*" in text:
            _refuse_aliases(text, loader, path, line_offset)
        value = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 + line_offset if mark else None
        col = mark.column + 1 if mark else None
        raise ParseError(f"invalid YAML: {problem}", path, line, col) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}", path) from None
    except RecursionError:
        raise ParseError("invalid YAML: nesting too deep", path) from None
    except (ValueError, OverflowError) as exc:  # a value its type cannot hold (2024-13-45)
        line, col = _bad_value_at(text, loader)
        raise ParseError(f"invalid value: {exc}", path, line and line + line_offset, col) from None
    _refuse_shared(value, path)
    return value


def _bad_value_at(text: str, loader: type) -> tuple[int | None, int | None]:
    """1-based line and column of the first scalar of `text` whose value cannot be made
    (a date with month 13...), or (None, None)."""
    constructor = yaml.SafeLoader("")
    stack = [yaml.compose(text, Loader=loader)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except (ValueError, OverflowError, yaml.YAMLError):
                return node.start_mark.line + 1, node.start_mark.column + 1
        elif isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in reversed(node.value) for item in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return None, None


def _refuse_aliases(text: str, loader: type, path: Any, line_offset: int) -> None:
    """Raise `ParseError` at the first alias event of `text` (parsing only, no values)."""
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise ParseError("YAML aliases (*name) are not allowed in front matter", path,
                             mark.line + 1 + line_offset, mark.column + 1)


def _refuse_shared(value: Any, path: Any) -> None:
    seen: set[int] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                raise ParseError("YAML aliases to mappings or lists are not allowed", path)
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)


def same(a: Any, b: Any) -> bool:
    """Strict equality of YAML values: types must match (1 != 1.0 != True), NaN == NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, _dt.datetime):
        return a == b and a.tzinfo == b.tzinfo
    return bool(a == b)
