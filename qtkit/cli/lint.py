"""`qtkit check`: lint the collection; `--fix` repairs what is safe to repair."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from ..errors import EditError
from . import common
from .common import EXIT_FAIL, EXIT_USAGE, err, errors_to_exit, info, out, root_option


def check(
    targets: Optional[List[str]] = typer.Argument(None, help="Ids or paths to check (default: the whole collection)."),
    select: Optional[str] = typer.Option(None, "--select", help="Only these codes or prefixes, comma-separated (QT02,QT014)."),
    ignore: Optional[str] = typer.Option(None, "--ignore", help="Skip these codes or prefixes, comma-separated."),
    fmt: str = typer.Option("text", "--format", help="text | json | github (GitHub Actions annotations)."),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes and report what changed."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes", help="With --fix/--diff: also apply unsafe fixes"
                                      " (drop dangling or incomplete links)."),
    diff: bool = typer.Option(False, "--diff", help="Show the fixes as diffs; write nothing."),
    rules: bool = typer.Option(False, "--rules", help="List every rule and exit."),
    as_json: bool = typer.Option(False, "--json", help="Machine output: the same as --format json (with --rules: the"
                                 " rules as JSON)."),
    root: Optional[str] = root_option(),
) -> None:
    """Find defects: duplicate ids and urls, bad or stale related links, slugs and urls
    that do not follow the title, subject spellings, missing keys, empty answers.

    Each finding is `path:line:col: CODE message` (codes: qtkit check --rules). Exit 0
    when clean, 1 with findings, 2 on a usage error. Safe fixes (stale link titles,
    subjects and urls, repeated/self/dangling links, subject case, seo.title) are made
    by --fix through the format-preserving editor; urls and file names are never
    changed automatically. Configure defaults in qtkit.toml under [check]
    (select, ignore, required).

    Examples:
      qtkit check
      qtkit check --select QT4 --format github
      qtkit check --fix --diff
      qtkit check --json
    """
    from .. import check as checking

    if as_json:
        if fmt not in ("text", "json"):
            err(f"error: give --json or --format {fmt}, not both")
            raise typer.Exit(EXIT_USAGE)
        fmt = "json"
    if rules:
        if as_json:
            out(json.dumps([{"code": r.code, "name": r.name, "fix": r.fix or None, "summary": r.summary,
                             "aliases": list(r.aliases)} for r in checking.RULES.values()]))
            return
        for rule in checking.RULES.values():
            out(f"{rule.code}  {rule.name:<34} {rule.fix or '-':<7} {rule.summary}")
        return
    with errors_to_exit(EXIT_USAGE):
        if fmt not in ("text", "json", "github"):
            raise EditError(f"unknown --format {fmt!r} (text, json or github)")
        chosen = [s.strip() for s in select.split(",")] if select else None
        skipped = [s.strip() for s in ignore.split(",")] if ignore else None
        for code in (chosen or []) + (skipped or []):
            if not any(rule.startswith(c) for c in checking.expand([code]) or [] for rule in checking.RULES):
                raise EditError(f"no rule matches {code!r} (see qtkit check --rules)")
    with errors_to_exit(EXIT_USAGE):
        if fix or diff:
            report, findings = checking.fix_all(root, targets=targets or (), select=chosen, ignore=skipped,
                                                unsafe=unsafe_fixes, dry_run=diff)
            for error in report.errors:
                err(f"error: {error}")
            if diff and fmt != "json":
                for text in report.diffs.values():
                    out(text)
            verb = "would fix" if diff else "fixed"
            info(f"{verb} {sum(report.fixed.values())} findings in {len(report.files)} files"
                + (f" ({', '.join(f'{c} x{n}' for c, n in sorted(report.fixed.items()))})" if report.fixed else ""))
        else:
            findings = checking.check(root, targets=targets or (), select=chosen, ignore=skipped)
    if findings or fmt == "json":
        out(checking.render(findings, fmt))
    if fmt == "text" and not common.quiet():
        fixable = sum(1 for f in findings if f.fix is not None and checking.RULES[f.code].fix == "safe")
        err(f"{len(findings)} findings" + (f" ({fixable} fixable with --fix)" if fixable else "") if findings
            else "no findings")
    if findings:
        raise typer.Exit(EXIT_FAIL)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
