"""The rule registry: one `Rule` per check (code, name, summary, fix kind, the function
that finds it, its documentation), selection by code, prefix, name or old code, and the
rule's documentation page.

Codes are `QT` + three digits; the hundreds digit is the family (`FAMILIES`). A rule is
registered by decorating the function that finds it with `@rule(...)`; the function's
docstring is the rule's documentation (ruff's sections: What it does, Why is this bad?,
Example, Fix), which `page` turns into the rule's docs page and `qtkit rule CODE` prints.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..errors import EditError

#: the families, by the hundreds digit of a code
FAMILIES = {"1": "syntax", "2": "fields", "3": "urls", "4": "links"}
#: fix kinds: "safe" (`--fix`), "unsafe" (`--fix --unsafe-fixes`), "" (none)
FIX_KINDS = ("safe", "unsafe", "")
#: the sections every rule's documentation has, in order
SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Fix")


class Hit(NamedTuple):
    """What a rule's function reports for one page: the message, the key path the finding
    is about (its line and column are that key's; `()` for line 1), and what `--fix` would
    do (a list of `(key path, value)` to set, `((block, field), value)` for a link field,
    `"drop"` to remove a link block, or None)."""

    message: str
    key: tuple = ()
    fix: Any = None


@dataclass(frozen=True)
class Rule:
    """A check rule. `find(page)` returns the `Hit`s on one page (`qtkit.rules.facts.PageFacts`;
    for the file-scoped QT101 an `Unreadable`). `aliases` are the old QT0xx codes it replaced."""

    code: str
    name: str
    fix: str
    summary: str
    aliases: tuple[str, ...] = ()
    find: Callable[[Any], list[Hit]] | None = field(default=None, compare=False, repr=False)
    doc: str = field(default="", compare=False, repr=False)
    scope: str = "page"  # "page" (front matter of a readable file) or "file" (a file that cannot be read)

    @property
    def fixable(self) -> bool:
        """Whether `--fix` repairs it (`--unsafe-fixes` for unsafe fixes)."""
        return bool(self.fix)

    @property
    def family(self) -> str:
        """`syntax`, `fields`, `urls` or `links` (the hundreds digit)."""
        return FAMILIES[self.code[2]]

    def as_json(self) -> dict:
        """The rule as `qtkit check --rules --json` shows it."""
        return {"code": self.code, "name": self.name, "fix": self.fix or None, "summary": self.summary,
                "aliases": list(self.aliases), "family": self.family}


#: every rule by code, in code order once `qtkit.rules` is imported
RULES: dict[str, Rule] = {}
#: old code (QT0xx) -> the codes that replaced it
ALIASES: dict[str, tuple[str, ...]] = {}


def rule(code: str, name: str, *, summary: str, fix: str = "", old: tuple[str, ...] = (),
         scope: str = "page") -> Callable[[Callable], Callable]:
    """Register the decorated function as the finder of rule `code`. Raises `ValueError`
    for a malformed or repeated code or name, an unknown fix kind, or a docstring without
    the `SECTIONS`."""

    def register(find: Callable) -> Callable:
        doc = inspect.cleandoc(find.__doc__ or "")
        if len(code) != 5 or not code.startswith("QT") or not code[2:].isdigit() or code[2] not in FAMILIES:
            raise ValueError(f"bad rule code {code!r}")
        if code in RULES or any(r.name == name for r in RULES.values()):
            raise ValueError(f"rule {code} {name} is registered twice")
        if fix not in FIX_KINDS:
            raise ValueError(f"rule {code}: unknown fix kind {fix!r}")
        missing = [s for s in SECTIONS if s not in doc]
        if missing:
            raise ValueError(f"rule {code}: its docstring lacks {', '.join(missing)}")
        RULES[code] = Rule(code, name, fix, summary, tuple(old), find, doc, scope)
        for alias in old:
            ALIASES[alias] = ALIASES.get(alias, ()) + (code,)
        return find

    return register


def lookup(name: str) -> Rule:
    """The rule with this code, name or old code (an old code that several rules replaced
    names the first). Raises `EditError` when none has it."""
    wanted = name.strip()
    found = RULES.get(wanted.upper()) or next((r for r in RULES.values() if r.name == wanted), None)
    if found is None and wanted.upper() in ALIASES:
        found = RULES[ALIASES[wanted.upper()][0]]
    if found is None:
        raise EditError(f"no rule {name!r} (see qtkit check --rules)")
    return found


def expand(codes: Iterable[str] | None) -> list[str] | None:
    """Selectors with old codes replaced by their new ones (`QT023` -> `QT405`, `QT406`);
    a rule name selects its code."""
    if codes is None:
        return None
    names = {r.name: r.code for r in RULES.values()}
    out: list[str] = []
    for code in codes:
        out.extend(ALIASES.get(code) or [names.get(code, code)])
        if code not in ALIASES and code.startswith("QT0"):  # an old prefix (QT02) selects what its codes became
            out.extend(new for old, news in ALIASES.items() if old.startswith(code) for new in news)
    return out


def selected(code: str, select: Iterable[str] | None, ignore: Iterable[str] | None) -> bool:
    """ruff-style selection by code prefix (`QT4` selects QT401-QT499); old codes count as
    their replacements."""
    select, ignore = expand(select), expand(ignore)
    if select and not any(code.startswith(s) for s in select):
        return False
    return not (ignore and any(code.startswith(s) for s in ignore))


def chosen(select: Iterable[str] | None, ignore: Iterable[str] | None) -> list[Rule]:
    """The rules `select` and `ignore` leave (every rule when both are empty), by code."""
    select, ignore = list(select or []), list(ignore or [])
    return [r for r in RULES.values() if selected(r.code, select, ignore)]


def check_selectors(selectors: Iterable[str]) -> None:
    """Raise `EditError` for a selector (code, prefix, name or old code) that matches no rule."""
    for code in selectors:
        if not any(known.startswith(c) for c in expand([code]) or [] for known in RULES):
            raise EditError(f"no rule matches {code!r} (see qtkit check --rules)")


def page(code: str) -> str:
    """The documentation page of a rule, in Markdown (what `qtkit rule CODE` prints and the
    docs site shows under `rules/CODE`). Raises `EditError` for an unknown rule."""
    r = lookup(code)
    fix = {"safe": "safe (`qtkit check --fix`)", "unsafe": "unsafe (`qtkit check --fix --unsafe-fixes`)",
           "": "none (by hand, or with the command the Fix section names)"}[r.fix]
    facts = [f"- Code: `{r.code}` (family: {r.family}, {r.code[2]}xx)", f"- Name: `{r.name}`", f"- Fix: {fix}"]
    if r.aliases:
        facts.append(f"- Replaces: {', '.join(f'`{a}`' for a in r.aliases)} (still accepted by `--select`,"
                     " `--ignore` and `[check]`)")
    return "\n".join([f"# {r.name} ({r.code})", "", r.summary[:1].upper() + r.summary[1:] + ".", "", *facts, "",
                      r.doc, ""])
