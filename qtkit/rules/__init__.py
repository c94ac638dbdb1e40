"""The check rules, one registry entry each: `RULES` by code (`QT101` ...), grouped by
hundreds: 1xx syntax (`syntax`), 2xx fields (`fields`), 3xx slugs, urls and places
(`urls`), 4xx related links (`links`). The old QT0xx codes are `ALIASES`.

A rule is a function registered with `@rule(code, name, summary=..., fix=..., old=...)`
in its family's module; it takes what the rules know about one page (`PageFacts`) and
returns `Hit`s. Its docstring is its documentation page (`page(code)`, `qtkit rule CODE`,
`docs/rules/CODE` on the docs site). `qtkit.check` runs the rules over a collection.
"""

from __future__ import annotations

from . import fields, links, syntax, urls  # noqa: F401 - each registers its rules
from .facts import PageFacts, Unreadable
from .registry import (
    ALIASES,
    FAMILIES,
    RULES,
    Hit,
    Rule,
    check_selectors,
    chosen,
    expand,
    lookup,
    page,
    rule,
    selected,
)

for _code, _rule in sorted(RULES.items()):  # by code, whatever order the families registered in
    del RULES[_code]
    RULES[_code] = _rule

__all__ = ["ALIASES", "FAMILIES", "RULES", "Hit", "PageFacts", "Rule", "Unreadable", "check_selectors", "chosen",
           "expand", "lookup", "page", "rule", "selected"]
