"""`qtkit new` and `qtkit index`: the collection as a whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import BadOption, EditError, QtkitError
from . import common
from .common import (
    EXIT_FAIL,
    EXIT_USAGE,
    DryRun,
    Every,
    Json,
    NewSubject,
    Progress,
    Root,
    err,
    errors_to_exit,
    info,
    out,
)


def new(
    question: Optional[str] = typer.Argument(None, help="The question; it becomes title, article_title and question."),
    subject: Optional[str] = typer.Option(None, "--subject", "-s", help="Subject (a known one; case is normalised)."),
    answer: str = typer.Option("", "--answer", help="Answer text, using the collection's literal \\n for breaks."),
    answer_file: Optional[Path] = typer.Option(None, "--answer-file", help="Read the answer from a file; real newlines become \\n."),
    description: str = typer.Option("", "--description", help="seo.page_description."),
    keywords: str = typer.Option("", "--keywords", help="seo.page_keywords (comma-separated)."),
    qid: Optional[int] = typer.Option(None, "--id", help="Use this id instead of the highest + 1."),
    date: Optional[str] = typer.Option(None, "--date", help="YYYY-MM-DD (default: today)."),
    new_subject: NewSubject = False,
    from_file: Optional[Path] = typer.Option(None, "--from", help="Create many: a JSON Lines file, one object per line with the same fields."),
    dry_run: DryRun = False,
    as_json: Json = False,
    edit: bool = typer.Option(False, "--edit", help="Open the new file in $EDITOR."),
    root: Root = None,
) -> None:
    """Create a question file with the next free id, slugs and url.

    file_name, url and seo.title are derived from the question and subject as qtkit.toml
    says. An unknown subject is refused with suggestions (unless --new-subject); a
    file_name or url that exists already is refused naming that question's id.
    --dry-run prints the file; --json prints {"id", "path", "url"}, one line per file.

    Examples:
      qtkit new "What is X?" --subject Sociology --answer "X is ...\\n\\nMore."
      qtkit new "What is X?" -s sociology --dry-run
      qtkit new --from batch.jsonl --json
    """
    import datetime

    from .. import scaffold

    with errors_to_exit(EXIT_USAGE):
        if from_file is not None:
            if question or subject:
                raise EditError("give either QUESTION --subject or --from FILE, not both")
        else:
            if not question or not subject:
                raise EditError("QUESTION and --subject are required (or --from FILE)")
            if answer_file is not None:
                answer = scaffold.answer_from_text(answer_file.read_text(encoding="utf-8"))
            try:
                day = datetime.date.fromisoformat(date) if date else None
            except ValueError:
                raise BadOption(f"--date must be a date YYYY-MM-DD, got {date!r}") from None
    results: list[scaffold.Created | QtkitError]
    if from_file is not None:
        with errors_to_exit(EXIT_USAGE):  # the file cannot be read
            results = scaffold.new_from_file(from_file, root=root, dry_run=dry_run)
    else:
        with errors_to_exit():
            results = [scaffold.new(question, subject, root=root, answer=answer, description=description,
                                    keywords=keywords, id=qid, date=day, new_subject=new_subject, dry_run=dry_run)]
    failed = 0
    for result in results:
        if isinstance(result, QtkitError):
            failed += 1
            err(f"error: {result}")
            continue
        if as_json:
            out(json.dumps(result.as_json()))
        elif dry_run:
            out(result.text)
        else:
            info(f"created {result.path} (id {result.id})")
        if edit and not dry_run:
            _open_in_editor(result.path)
    if failed:
        raise typer.Exit(EXIT_FAIL)


def _open_in_editor(path: Path) -> None:
    """Open `path` in $VISUAL, else $EDITOR, else vi, and wait for it."""
    import os
    import shlex
    import subprocess

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    subprocess.call([*shlex.split(editor), str(path)])


def index(
    root: Root = None,
    as_json: Json = False,
) -> None:
    """Build or refresh the index cache (.qtkit/index.sqlite) and report unreadable files.

    Only files whose size or mtime changed are read again; a cold build uses every core.
    --json prints {"root", "files", "parsed", "removed", "errors", "max_id", "seconds"}.
    """
    from ..indexing import index as run_index

    with errors_to_exit():
        summary = run_index(root, progress=Progress("indexing"))
    common.finish_progress()
    for path in summary.restored:
        err(f"{path}: put back as it was before an interrupted multi-file write")
    for line in summary.errors:
        err(line)
    if as_json:
        out(json.dumps(summary.as_json()))
    else:
        info(f"{summary.files} files ({summary.parsed} read, {summary.removed} removed, "
             f"{len(summary.errors)} unreadable) in {round(summary.seconds, 3)} s; highest id {summary.max_id}")
    if summary.errors:
        raise typer.Exit(EXIT_FAIL)


def rename(
    target: str = typer.Argument(..., help="The page to rename: its path, its url, or its question's id."),
    title: Optional[str] = typer.Option(None, "--title", help="The new title (also article_title and question)."),
    subject: Optional[str] = typer.Option(None, "--subject", help="The new subject: a key or title, any case."),
    every: Every = False,
    new_subject: NewSubject = False,
    dry_run: DryRun = False,
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Change a page's title or subject and everything derived from it, at once.

    Updates title, article_title, question, subject, seo.title, file_name and url,
    moves the file to <subject key>/<file_name> (the site serves a page from where its
    file is), rewrites every inbound related link (matched by url) and records old url ->
    new url (an `aliases` list in the page, or the redirects file set in qtkit.toml; a
    move between folders is also appended to the `moves` file of qtkit.toml's rename
    table, the site's list of moved pages). All or nothing: a failed write undoes the others; if even the undo fails,
    the error says which file is in which state, and the next command that writes (or
    `qtkit index`) puts them back from the journal in .qtkit/journal/. --all (with
    --title) renames every cross-listed copy; --dry-run prints the diffs of every file.

    Examples:
      qtkit rename economics/what-is-opportunity-cost.md --title "What is an opportunity cost?" --dry-run
      qtkit rename 112 --subject Economics
      qtkit rename 105 --title "What is a market?" --all
    """
    from ..rename import rename as run_rename

    with errors_to_exit():
        report = run_rename(target, title=title, subject=subject, root=root, dry_run=dry_run, every=every,
                            new_subject=new_subject)
    if dry_run and not as_json:
        for diff in report.diffs.values():
            out(diff)
    if as_json:
        out(json.dumps(report.as_json()))
    else:
        for move in report.moves:
            info(f"{'would rename' if dry_run else 'renamed'} {move.old_path} -> {move.new_path}; url "
                 f"{move.old_url} -> {move.new_url}")
        info(f"{len(report.inbound)} inbound links {'would be ' if dry_run else ''}updated")


def init(
    folder: Path = typer.Argument(Path("."), help="The folder holding the question files (default: the current one)."),
    dry_run: DryRun = False,
    force: bool = typer.Option(False, "--force", help="Replace an existing qtkit.toml."),
    as_json: Json = False,
) -> None:
    """Make an existing tree of question files a collection: write its qtkit.toml.

    Reads every page once (no cache is written by a dry run), detects the layout (the
    site's <subject_key>/<slug>.md, or every file at the top) and writes the subject
    registry the pages' spellings give ([subjects] key = "Title"), then prints what it
    found. Commands run inside the folder then find the collection by its qtkit.toml.
    --dry-run prints the qtkit.toml that would be written.

    Examples:
      qtkit init content/learn
      qtkit init --dry-run
      qtkit init . --json
    """
    from ..initialize import init as run_init

    with errors_to_exit():
        report = run_init(folder, dry_run=dry_run, force=force)
    if as_json:
        out(json.dumps(report.as_json(), ensure_ascii=False))
        return
    if dry_run:
        out(report.text)
    layout = {"site": "site layout (<subject_key>/<slug>.md)", "flat": "flat (every file at the top)",
              "mixed": "mixed layout"}[report.layout]
    info(f"{report.root}: {report.pages} pages, {report.questions} questions, {len(report.subjects)} subjects, {layout}"
         + (f", {report.unreadable} unreadable" if report.unreadable else ""))
    info(f"{'would write' if dry_run else 'wrote'} {report.config}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("new")(new)
    app.command("index")(index)
    app.command("rename")(rename)
