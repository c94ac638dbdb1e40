"""`qtkit export` and `qtkit import`: the collection to and from JSON, JSONL, CSV, Markdown."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import common
from .common import (
    EXIT_FAIL,
    DryRun,
    Json,
    NewSubject,
    Progress,
    Root,
    Where,
    err,
    errors_to_exit,
    info,
    out,
)


def export(
    targets: Optional[List[str]] = typer.Argument(None, help="Ids or paths to export (default: every question)."),
    to: str = typer.Option(..., "--to", "-t", help="json | jsonl | csv | markdown."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here (atomically) instead of stdout."),
    where: Where = None,
    fields: Optional[str] = typer.Option(None, "--fields", "-f", help="Comma-separated keys/columns, e.g. 'id,title,seo.title,$path' (quoted: the shell expands $path)."),
    sort: Optional[str] = typer.Option(None, "--sort", help="Order by this key instead of id."),
    shape: str = typer.Option("lossless", "--shape", help="lossless (for import) | clean (Markdown answer, related as a"
                              " list) | sheet (CSV for a spreadsheet: real line breaks in cells; import --shape sheet)."),
    split: Optional[Path] = typer.Option(None, "--split", help="markdown: one clean .md per question in this folder."),
    root: Root = None,
) -> None:
    """Export questions to JSON, JSON Lines, CSV or Markdown.

    JSON/JSONL/CSV default to the lossless shape: every front-matter key as it is, plus
    `$path` and `$body` (a front-matter key starting with `$` is written `$$key`), so
    `qtkit import` of the output changes nothing. CSV flattens nested keys to dotted
    columns (`seo.title`, `related_article1.url`) and prefixes a `'` to cells a spreadsheet
    would run as formulas (import removes it). Data goes to stdout or -o; progress to stderr.

    Examples:
      qtkit export --to jsonl -o all.jsonl
      qtkit export --to csv --where subject=Physics --fields id,title,url
      qtkit export --to json --shape clean 101 102
      qtkit export --to markdown --split site/
      qtkit export --to jsonl --where 'answer~^\\s*$' --fields 'id,title,$path'

    Files that cannot be read are skipped with a message and the exit code is 1.
    """
    from ..export import export_collection

    with errors_to_exit():
        report = export_collection(to, output, targets=targets or (), where=where or (), fields=fields, sort=sort,
                                   shape=shape, split=split, stream=sys.stdout, root=root, progress=Progress())
    for warning in report.warnings:
        err(f"warning: {warning}")
    for line in report.skipped:
        err(f"skipped: {line}")
    common.finish_progress()
    if output is not None or split is not None:
        info(f"exported {report.count} questions to {split or output}")
    if report.skipped:
        raise typer.Exit(EXIT_FAIL)


def import_(
    source: Path = typer.Argument(..., help="A JSON, JSON Lines or CSV file written by `qtkit export` (lossless shape)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json | jsonl | csv (default: from the file)."),
    dry_run: DryRun = False,
    diff: bool = typer.Option(False, "--diff", help="With --dry-run, also print the diff of every change."),
    strict: bool = typer.Option(False, "--strict", help="Write nothing if any record fails."),
    new_subject: NewSubject = False,
    add_keys: bool = typer.Option(False, "--add-keys", help="Allow keys no page has yet (otherwise an unknown column is an"
                                  " error, e.g. Title for title)."),
    renames: str = typer.Option("refuse", "--renames", help="A changed title or subject: refuse (point at qtkit rename)"
                                " | apply (through rename: derived fields, file move, inbound links, redirects)."),
    shape: str = typer.Option("lossless", "--shape", help="lossless | sheet (CSV from export --shape sheet: real line"
                              " breaks in cells)."),
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Update questions from an export (matched by id) and create the ids that are new.

    Only values that differ are rewritten, through the format-preserving editor; keys a
    record lacks are left alone. A bad record is reported with its line and skipped
    (with --strict nothing is written). Exit 1 if any record failed. A record fails,
    with a hint, when it has a key no page has (unless --add-keys), text that looks
    mis-decoded (UTF-8 read as cp1252 by a spreadsheet: Hereâ€™s), or a new title or
    subject (unless --renames apply, which renames the page as qtkit rename does).
    --dry-run reports what would be created or changed; --json prints one object per
    record and a summary.

    Examples:
      qtkit import fixed.csv --dry-run --diff
      qtkit import all.jsonl --strict --json
      qtkit import sheet.csv --shape sheet --renames apply --dry-run
    """
    from .. import ingest

    with errors_to_exit():  # an unknown --renames or --shape is a BadOption: exit 2
        report = ingest.import_records(source, root=root, fmt=fmt, dry_run=dry_run, strict=strict,
                                       new_subject=new_subject, progress=Progress("importing"), add_keys=add_keys,
                                       renames=renames, shape=shape)
    common.finish_progress()
    for item in report.errors:
        err(f"error: {item.message}")
    if as_json:
        for item in report.items:
            out(json.dumps(item.as_json(), ensure_ascii=False))
        out(json.dumps({"summary": report.summary()}))
    else:
        if dry_run and diff:
            for item in report.items:
                if item.diff:
                    out(item.diff)
        verb = "would be" if dry_run else ""
        s = report.summary()
        info(f"{s['created']} {verb} created, {s['changed']} {verb} changed, {s['unchanged']} unchanged, "
            f"{s['error']} failed".replace("  ", " "))
        if strict and report.errors:
            err("nothing written (--strict)")
    if report.errors:
        raise typer.Exit(EXIT_FAIL)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)
