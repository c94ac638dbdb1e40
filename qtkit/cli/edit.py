"""`qtkit get`, `qtkit set`, `qtkit unset`: read and edit front-matter values."""

from __future__ import annotations

from typing import List, Optional

import typer

from .. import edit as api
from ..errors import EditError
from ..values import dumps_json, format_value, parse_assignment
from .common import EXIT_USAGE, err, errors_to_exit, out, root_option


def get(
    target: str = typer.Argument(..., help="A page: its path, its url, or its question's id."),
    key: str = typer.Argument(..., help="Dotted key, e.g. title, seo.title, related_article1.url."),
    as_json: bool = typer.Option(False, "--json", help="Print the value as JSON."),
    root: Optional[str] = root_option(),
) -> None:
    """Print one front-matter value.

    Strings print as they are; other values (numbers, dates, mappings) as JSON.

    An id shared by cross-listed copies is an error (exit 2) that lists their paths.

    Examples:
      qtkit get economics/what-is-opportunity-cost.md seo.title
      qtkit get /learn/economics/questions/what-is-opportunity-cost title
      qtkit get 105 title
    """
    with errors_to_exit():
        value = api.get(target, key, root=root)
    out(dumps_json(value) if as_json else format_value(value))


def set_(
    target: str = typer.Argument(..., help="A page: its path, url, or question id (with --where: the first KEY=VALUE)."),
    assignments: Optional[List[str]] = typer.Argument(
        None, help="KEY=VALUE sets a string; KEY:=JSON sets a typed value (score:=-1.0, id:=12)."
    ),
    where: Optional[List[str]] = typer.Option(None, "--where", "-w", help="Edit every question where KEY=VALUE (repeat to AND)."),
    every: bool = typer.Option(False, "--all", help="When TARGET is an id shared by cross-listed copies: edit every copy."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print a unified diff; write nothing."),
    root: Optional[str] = root_option(),
) -> None:
    """Set front-matter values, changing only their lines.

    Each value keeps the style of the one it replaces (folded '>-', plain, quoted), or the
    nearest style that can hold it. New keys are added after their siblings, in their
    indentation. The result is parsed again before it is written, atomically.

    Examples:
      qtkit set q.md title="What is X?"  seo.title="QuickTakes | Sociology"
      qtkit set q.md score:=-1.0 related_article1.id:=42
      qtkit set q.md title="New" --dry-run
      qtkit set --where subject="Computer science" subject="Computer Science" seo.title="QuickTakes | Computer Science"
    """
    with errors_to_exit(EXIT_USAGE):
        if where:
            from ..export import parse_where

            conditions = parse_where(where)
            pairs = [parse_assignment(a) for a in [target, *(assignments or [])]]
        else:
            if not assignments:
                raise EditError("give KEY=VALUE assignments after TARGET")
            pairs = [parse_assignment(a) for a in assignments]
    if not where:
        _apply(target, pairs, [], dry_run, root, every)
        return
    with errors_to_exit():
        results = api.set_where(conditions, pairs, dry_run=dry_run, root=root)
    changed = [r for r in results if r.changed]
    if dry_run:
        for result in changed:
            out(result.diff)
    err(f"{len(results)} questions match; {len(changed)} {'would change' if dry_run else 'changed'}")


def unset(
    target: str = typer.Argument(..., help="A page: its path, its url, or its question's id."),
    keys: List[str] = typer.Argument(..., help="Dotted keys to remove, e.g. related_article5."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print a unified diff; write nothing."),
    root: Optional[str] = root_option(),
) -> None:
    """Remove keys with all of their lines (a whole nested block included)."""
    _apply(target, [], keys, dry_run, root)


def _apply(target: str, pairs: list, keys: list, dry_run: bool, root: Optional[str], every: bool = False) -> None:
    with errors_to_exit():
        if every:
            results = api.set_every(target, pairs, unset=keys, dry_run=dry_run, root=root)
        else:
            results = [api.set_values(target, pairs, unset=keys, dry_run=dry_run, root=root)]
    for result in results:
        if dry_run:
            if result.diff:
                out(result.diff)
            err(f"{result.path}: {'would change' if result.changed else 'unchanged'} (dry run)")
        else:
            err(f"{result.path}: {'updated' if result.written else 'unchanged'}")


def register(app: typer.Typer) -> None:
    app.command("get")(get)
    app.command("set")(set_)
    app.command("unset")(unset)



