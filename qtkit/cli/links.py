"""`qtkit relink`: rebuild the related_articleN blocks of the collection."""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from . import common
from .common import EXIT_FAIL, DryRun, Json, Progress, Root, err, errors_to_exit, info, out


def relink(
    targets: Optional[List[str]] = typer.Argument(None, metavar="[TARGET]...",
                                                  help="Only these pages are written: paths, urls or ids (an id: each of its"
                                                  " cross-listed copies; default: all)."),
    dry_run: DryRun = False,
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 listing every file whose links would change (for CI)."),
    full: bool = typer.Option(False, "--full", help="Score every page again and recompute the term weights."),
    explain: Optional[str] = typer.Option(None, "--explain", metavar="PAGE",
                                          help="Print the links chosen for PAGE (path, id or url) with scores and matching words; write nothing."),
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Rewrite related_article1..N so each page links to its most related pages.

    Relatedness is BM25-weighted word overlap of title, keywords, description and answer,
    same subject preferred, near-duplicates skipped, weak slots left empty
    (docs/relink.md). Blocks are rewritten in place in the file's own style; files whose
    links do not change are not touched. Only pages that new or edited pages could affect
    are scored again; the second run in a row changes nothing. Every link is checked
    (non-empty, url names a page, fields equal that page's, no self or copy, no question
    twice) before anything is written. --dry-run prints a summary and diffs (of the TARGETs, or
    a sample of 5); --json prints the summary (and the changed files), or the explanation.

    Examples:
      qtkit relink --dry-run
      qtkit relink --check            # exit 1 if any file would change
      qtkit relink --explain 65955    # why these links
      qtkit relink 65955 65956 --dry-run
    """
    from ..relink import relink as run_relink  # numpy, scipy, scikit-learn: only when relinking

    if explain is not None:
        _explain(explain, as_json, root)
        return
    with errors_to_exit():
        report = run_relink(root, targets=targets or None, dry_run=dry_run or check, full=full,
                            progress=Progress(), keep_diffs=sys.maxsize if targets else 5)  # targets: every diff
    common.finish_progress()
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
        info(f"{summary['questions']} pages, {summary['scored']} scored; {summary['changed']} files {verb}"
             f"{written} in {summary['seconds']} s")
    if report.errors or (check and report.changed):
        raise typer.Exit(EXIT_FAIL)


def _explain(target: str, as_json: bool, root: Optional[str]) -> None:
    from ..index import Collection
    from ..relink import explain

    with errors_to_exit():
        found = explain(Collection(root), target)
    if as_json:
        out(json.dumps(found, ensure_ascii=False))
        return
    out(f"{found['page']}  (id {found['id']}): {found['title']}")
    if not found["links"]:
        out("  no page scores above the floor: no links")
    for n, link in enumerate(found["links"], 1):
        words = ", ".join(f"{w} {share:.3f}" for w, share in link["words"])
        out(f"  {n}. {link['score']:.3f}  {link['title']}  ({link['subject']}, id {link['id']})")
        out(f"     {link['url']}")
        out(f"     words: {words}")


def register(app: typer.Typer) -> None:
    app.command("relink")(relink)
