"""`qtkit get`, `qtkit set`, `qtkit unset`: read and edit front-matter values."""

from __future__ import annotations

import json
from typing import Any, List, Optional

import typer

from ..errors import EditError
from .common import EXIT_FAIL, EXIT_USAGE, DryRun, Every, Json, Root, Where, err, errors_to_exit, info, out


def get(
    target: str = typer.Argument(..., help="A page: its path, its url, or its question's id."),
    key: str = typer.Argument(..., help="Dotted key, e.g. title, seo.title, related_article1.url."),
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Print one front-matter value.

    Strings print as they are; other values (numbers, dates, mappings) as JSON (--json:
    every value as JSON).

    An id shared by cross-listed copies is an error (exit 2) that lists their paths.

    Examples:
      qtkit get economics/what-is-opportunity-cost.md seo.title
      qtkit get /learn/economics/questions/what-is-opportunity-cost title
      qtkit get 105 title
    """
    from ..edit import get as get_value
    from ..values import dumps_json, format_value

    with errors_to_exit():
        value = get_value(target, key, root=root)
    out(dumps_json(value) if as_json else format_value(value))


def set_(
    target: str = typer.Argument(..., help="A page: its path, url, or question id (with --where: the first KEY=VALUE)."),
    assignments: Optional[List[str]] = typer.Argument(
        None, help="KEY=VALUE sets a string; KEY:=JSON sets a typed value (score:=-1.0, id:=12)."
    ),
    where: Where = None,
    every: Every = False,
    dry_run: DryRun = False,
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Set front-matter values, changing only their lines.

    Each value keeps the style of the one it replaces (folded '>-', plain, quoted), or the
    nearest style that can hold it. New keys are added after their siblings, in their
    indentation. The result is parsed again before it is written, atomically. With
    --where, every matching page is edited and the count shown. --dry-run prints a
    unified diff; --json prints {"path", "changed", "written"}, one line per file.

    Examples:
      qtkit set q.md title="What is X?"  seo.title="QuickTakes | Sociology"
      qtkit set q.md score:=-1.0 related_article1.id:=42
      qtkit set q.md title="New" --dry-run
      qtkit set --where subject="Computer science" subject="Computer Science" seo.title="QuickTakes | Computer Science"
      qtkit set --where 'id>65000' --where '!author' author="Editors" --dry-run
    """
    from .. import edit as api
    from ..values import parse_assignment

    with errors_to_exit(EXIT_USAGE):
        if where:
            from ..query import parse_where

            conditions = parse_where(where)
            pairs = [parse_assignment(a) for a in [target, *(assignments or [])]]
        else:
            if not assignments:
                raise EditError("give KEY=VALUE assignments after TARGET")
            pairs = [parse_assignment(a) for a in assignments]
    if not where:
        _apply(target, pairs, [], dry_run, root, every, as_json)
        return
    with errors_to_exit():
        results = api.set_where(conditions, pairs, dry_run=dry_run, root=root)
    changed = [r for r in results if r.changed]
    for result in changed if as_json else ():
        out(json.dumps(_json(result)))
    if dry_run and not as_json:
        for result in changed:
            out(result.diff)
    info(f"{len(results)} questions match; {len(changed)} {'would change' if dry_run else 'changed'}")


def unset(
    target: str = typer.Argument(..., help="A page: its path, its url, or its question's id."),
    keys: List[str] = typer.Argument(..., help="Dotted keys to remove, e.g. related_article5."),
    dry_run: DryRun = False,
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Remove keys with all of their lines (a whole nested block included).

    --dry-run prints a unified diff; --json prints {"path", "changed", "written"}.
    """
    _apply(target, [], keys, dry_run, root, as_json=as_json)


def _json(result: Any) -> dict:
    return {"path": str(result.path), "changed": result.changed, "written": result.written}


def _apply(target: str, pairs: list, keys: list, dry_run: bool, root: Optional[str], every: bool = False,
           as_json: bool = False) -> None:
    from .. import edit as api

    with errors_to_exit():
        if every:
            results = api.set_every(target, pairs, unset=keys, dry_run=dry_run, root=root)
        else:
            results = [api.set_values(target, pairs, unset=keys, dry_run=dry_run, root=root)]
    for result in results:
        if as_json:
            out(json.dumps(_json(result)))
        elif dry_run:
            if result.diff:
                out(result.diff)
            info(f"{result.path}: {'would change' if result.changed else 'unchanged'} (dry run)")
        else:
            info(f"{result.path}: {'updated' if result.written else 'unchanged'}")


def replace(
    field: str = typer.Argument(..., help="Dotted key whose text is searched, e.g. answer, seo.page_description."),
    old: str = typer.Argument(..., help="The text to find (with --regex: a regular expression)."),
    new: str = typer.Argument(..., help="What replaces it (with --regex: may use \\1 or \\g<name>)."),
    use_regex: bool = typer.Option(False, "--regex", "-r", help="OLD is a regular expression."),
    where: Where = None,
    dry_run: DryRun = False,
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Find and replace inside one field of every page (or the pages --where selects).

    Only string values change, each keeping its style (folded, quoted, plain), through the
    format-preserving editor, under the collection lock. Preview with --dry-run first (the
    diffs and the count); --json prints one object per changed file and a summary.

    Examples:
      qtkit replace subject "Computer science" "Computer Science" --dry-run
      qtkit replace answer 'colour' 'color' --where subject=Physics
      qtkit replace title '\\s+\\?$' '?' --regex --dry-run
    """
    from ..replace import replace as run_replace

    failures: list[str] = []
    with errors_to_exit(EXIT_USAGE):
        from ..query import parse_where

        conditions = parse_where(where or [])
        if not old:
            raise EditError("OLD must not be empty")
    with errors_to_exit():
        done = run_replace(field, old, new, use_regex=use_regex, where=conditions, dry_run=dry_run, root=root,
                           errors=lambda exc: failures.append(str(exc)))
    for line in failures:
        err(f"error: {line}")
    count = sum(r.count for r in done)
    if as_json:
        for item in done:
            out(json.dumps(item.as_json()))
        out(json.dumps({"summary": {"files": len(done), "replacements": count, "failed": len(failures),
                                    "dry_run": dry_run}}))
    else:
        if dry_run:
            for item in done:
                out(item.result.diff)
        info(f"{count} replacements in {len(done)} files{' (dry run: nothing written)' if dry_run else ''}"
             + (f"; {len(failures)} files failed" if failures else ""))
    if failures:
        raise typer.Exit(EXIT_FAIL)


def register(app: typer.Typer) -> None:
    app.command("get")(get)
    app.command("set")(set_)
    app.command("unset")(unset)
    app.command("replace")(replace)



