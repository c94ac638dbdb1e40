"""`qtkit relink`: rebuild the related_articleN blocks of the collection."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from .common import EXIT_FAIL, Progress, err, errors_to_exit, out, root_option


def relink(
    ids: Optional[List[int]] = typer.Argument(None, help="Only these questions' files are written (default: all)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Write nothing; print a summary and diffs (of IDS, or a sample of 5)."),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 listing every file whose links would change (for CI)."),
    full: bool = typer.Option(False, "--full", help="Score every question again and recompute the term weights."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary (and changed files) as JSON."),
    root: Optional[str] = root_option(),
) -> None:
    """Rewrite related_article1..N so each question links to its most related questions.

    Relatedness is TF-IDF over title, keywords, description and answer, same subject
    preferred (docs/relink.md). Blocks are rewritten in place in the file's own style;
    files whose links do not change are not touched. Only questions that new or edited
    questions could affect are scored again; the second run in a row changes nothing.

    Examples:
      qtkit relink --dry-run
      qtkit relink --check            # exit 1 if any file would change
      qtkit relink 65955 65956 --dry-run
    """
    from ..relink import relink as run_relink  # numpy, scipy, scikit-learn: only when relinking

    with errors_to_exit():
        report = run_relink(root, ids=ids or None, dry_run=dry_run or check, full=full,
                            progress=Progress("scoring"), keep_diffs=len(ids) if ids else 5)
    for error in report.errors:
        err(f"error: {error}")
    summary = report.summary()
    if as_json:
        out(json.dumps({**summary, "files": report.changed} if (dry_run or check) else summary))
    else:
        if dry_run and not check:
            for diff in report.diffs.values():
                out(diff)
        if check:
            for rel in report.changed:
                out(rel)
        verb = "would change" if dry_run or check else "changed"
        written = "" if dry_run or check else f", {summary['written']} written"
        err(f"{summary['questions']} questions, {summary['scored']} scored; {summary['changed']} files {verb}"
            f"{written} in {summary['seconds']} s")
    if report.errors or (check and report.changed):
        raise typer.Exit(EXIT_FAIL)


def register(app: typer.Typer) -> None:
    app.command("relink")(relink)
