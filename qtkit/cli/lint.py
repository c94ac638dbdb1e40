"""`qtkit check`: lint the collection; `--fix` repairs what is safe to repair. `qtkit rule`:
a rule's documentation."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from . import common
from .common import EXIT_FAIL, EXIT_USAGE, Json, Root, err, errors_to_exit, info, out

FORMATS = ("text", "json", "github")


def check(
    targets: Optional[List[str]] = typer.Argument(None, help="Ids or paths to check (default: the whole collection)."),
    select: Optional[str] = typer.Option(None, "--select", help="Only these codes, prefixes or names, comma-separated"
                                         " (QT4,QT205; old QT0xx codes select what replaced them)."),
    ignore: Optional[str] = typer.Option(None, "--ignore", help="Skip these codes or prefixes, comma-separated."),
    fmt: str = typer.Option("text", "--format", help="text | json | github (GitHub Actions annotations)."),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes and report what changed."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="With --fix/--diff: also apply unsafe fixes"
                                      " (drop dangling or incomplete links)."),
    diff: bool = typer.Option(False, "--diff", help="Show the fixes as diffs; write nothing."),
    rules: bool = typer.Option(False, "--rules", help="List every rule and exit."),
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Find defects: duplicate ids and urls, bad or stale related links, slugs and urls
    that do not follow the title, subject spellings, missing keys, empty answers.

    Each finding is `path:line:col: CODE message` (codes: qtkit check --rules; one rule's
    documentation: qtkit rule CODE). Exit 0 when clean, 1 with findings, 2 on a usage
    error. Safe fixes (stale link titles, subjects and ids, repeated/self links, subject
    case, seo.title) are made by --fix through the format-preserving editor; unsafe ones
    (dropping dangling links) with --unsafe-fixes; urls and file names are never changed
    automatically. Configure defaults in qtkit.toml under [check] (select, ignore,
    required). --json is --format json: one JSON array of the findings, each {"path",
    "line", "col", "code", "name", "message", "fixable", "fix"}, as ruff's json output
    is (with --rules: the rules as JSON).

    Examples:
      qtkit check
      qtkit check --select QT4 --format github
      qtkit check --fix --diff
      qtkit check --json
    """
    from .. import check as checking
    from ..rules import RULES

    if as_json:
        if fmt not in ("text", "json"):
            err(f"error: give --json or --format {fmt}, not both")
            raise typer.Exit(EXIT_USAGE)
        fmt = "json"
    if rules:
        if as_json:
            out(json.dumps([r.as_json() for r in RULES.values()]))
        else:
            for r in RULES.values():
                out(f"{r.code}  {r.name:<34} {r.fix or '-':<7} {r.summary}")
        return
    if fmt not in FORMATS:
        err(f"error: unknown --format {fmt!r} (text, json or github)")
        raise typer.Exit(EXIT_USAGE)
    with errors_to_exit(EXIT_USAGE):
        result = checking.check_and_fix(root, targets=targets or (), select=_codes(select), ignore=_codes(ignore),
                                        fix=fix or diff, unsafe_fixes=unsafe_fixes, dry_run=diff,
                                        progress=common.Progress("checking"))
    findings, report = result.findings, result.fixes
    if report is not None:
        for error in report.errors:
            err(f"error: {error}")
        if diff and fmt != "json":
            for text in report.diffs.values():
                out(text)
        fixed = sum(report.fixed.values())
        by_code = ", ".join(f"{code} x{n}" for code, n in sorted(report.fixed.items()))
        info(f"{'would fix' if diff else 'fixed'} {fixed} findings in {len(report.files)} files"
             + (f" ({by_code})" if by_code else ""))
    if findings or fmt == "json":
        out(checking.render(findings, fmt))
    if fmt == "text" and not common.quiet():
        fixable = f" ({result.fixable} fixable with --fix)" if result.fixable else ""
        err(f"{len(findings)} findings{fixable}" if findings else "no findings")
    if findings:
        raise typer.Exit(EXIT_FAIL)


def _codes(option: str | None) -> list[str] | None:
    """A comma-separated --select/--ignore as a list (None when not given)."""
    return [s.strip() for s in option.split(",")] if option else None


def rule(
    code: str = typer.Argument(..., help="A rule's code (QT401), name (link-dangling) or old code (QT020)."),
    as_json: Json = False,
) -> None:
    """Explain a check rule.

    What it finds, why it is a defect, an example and its fix (the rule's page of the
    documentation). --json prints the rule and its page as JSON.

    Examples:
      qtkit rule QT401
      qtkit rule link-stale-title
      qtkit rule QT023 --json
    """
    from ..rules import lookup, page

    with errors_to_exit(EXIT_USAGE):
        found = lookup(code)
    out(json.dumps({**found.as_json(), "doc": found.doc}, ensure_ascii=False) if as_json else page(found.code))


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("rule")(rule)
