"""`qtkit stats` and `qtkit serve`: the collection at a glance, in a terminal or a browser."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import typer

from .common import EXIT_USAGE, Json, Root, Where, err, errors_to_exit, out

BAR_WIDTH = 30


def _bar(value: int, top: int) -> str:
    """A bar of `value` out of `top`, in eighths of a block."""
    if not top or not value:
        return ""
    eighths = max(1, round(BAR_WIDTH * 8 * value / top))
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]


def render_stats(data: dict, width: int | None = None) -> str:
    """The `stats` figures (as `Stats.to_json()` gives them) as plain-text tables with bar charts."""
    from rich.console import Console

    console = Console(width=width or 100, record=True, file=io.StringIO(), color_system=None, force_terminal=False)
    print_stats(data, console)
    return console.export_text()


def print_stats(data: dict, console: Any) -> None:
    """Print the `stats` tables on a rich `console` (in colour on a terminal)."""
    from rich.table import Table

    head = Table(title=f"{data['root']}", show_header=False, box=None)
    head.add_column(justify="left")
    head.add_column(justify="right")
    links, ids, cross = data["links"], data["ids"], data["cross_listed"]
    rows = [("pages", data["pages"]), ("questions (distinct ids)", data["questions"]),
            ("cross-listed questions", f"{cross['questions']} ({cross['pages']} pages)"),
            ("subjects", f"{len(data['subjects'])} ({data['variants']} spelled several ways)"),
            ("related links", links["total"]), ("  url names no page", links["dangling"]),
            ("  title differs from the page's", links["stale_title"]),
            ("  subject differs from the page's", links["stale_subject"]),
            ("empty answers", data["empty"]["answer"]), ("empty descriptions", data["empty"]["description"]),
            ("ids", f"{ids['min']} .. {ids['max']}"),
            ("  gaps", f"{ids['gaps']} ({ids['gap_ids']} unused ids)"),
            ("  <= 0 / missing", f"{ids['nonpositive']} / {ids['missing']}"),
            ("unreadable files", data["unreadable"])]
    for name, value in rows:
        head.add_row(name, str(value))
    console.print(head)
    top = max((s["pages"] for s in data["subjects"]), default=0)
    table = Table(title="pages per subject", title_style="bold")
    for name, justify in (("subject", "left"), ("pages", "right"), ("questions", "right"), ("", "left")):
        table.add_column(name, justify=justify, style="cyan" if not name else None)  # type: ignore[arg-type]
    for subject in data["subjects"]:
        spellings = subject["spellings"]
        label = subject["key"] or "(none)"
        if len(spellings) > 1:
            label += " (" + ", ".join(f"{k} {v}" for k, v in spellings.items()) + ")"
        table.add_row(label, str(subject["pages"]), str(subject["questions"]), _bar(subject["pages"], top))
    console.print(table)
    hist = data["links_per_page"]
    top = max(hist.values(), default=0)
    table = Table(title="related links per page", title_style="bold")
    for name, justify in (("links", "right"), ("pages", "right"), ("", "left")):
        table.add_column(name, justify=justify, style="cyan" if not name else None)  # type: ignore[arg-type]
    for bucket, count in hist.items():
        table.add_row(bucket, str(count), _bar(count, top))
    console.print(table)
    if ids["largest_gaps"]:
        console.print("largest id gaps: " + ", ".join(f"{g['from']}..{g['to']} ({g['ids']})" for g in ids["largest_gaps"]))


def stats(
    where: Where = None,
    as_json: Json = False,
    root: Root = None,
) -> None:
    """Count the collection: pages and questions per subject (with spelling variants),
    cross-listed questions, related links per page, links whose url names no page,
    empty answers and descriptions, the id range and its gaps.

    Links are resolved by url (a page is its address; cross-listed copies share an id).
    --json prints the figures as JSON (nothing else on stdout).

    Examples:
      qtkit stats
      qtkit stats --where subject=Physics
      qtkit stats --where 'date>2025-01-01' --where '!related_article1'
      qtkit stats --json
    """
    from .. import stats as measuring

    with errors_to_exit():  # a bad --where is a BadCondition: exit 2
        result = measuring.stats(root, where=where or None)
    data = result.to_json()
    if as_json:
        out(json.dumps(data, ensure_ascii=False))
        return
    if sys.stdout.isatty():
        from rich.console import Console

        print_stats(data, Console(highlight=False))
    else:
        out(render_stats(data))


def serve(
    port: int = typer.Option(8000, "--port", "-p", help="Port to listen on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: loopback only)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the dashboard in a web browser."),
    root: Root = None,
) -> None:
    """Browse the collection in a web browser: each page as the site renders it (Markdown,
    tables, math), its related links checked by url, its check findings, the links relink
    would choose, its cross-listed copies and inbound links; a dashboard of `stats`;
    search by title and text, and --where lists.

    Read-only; files changed on disk are picked up on the next request. Binds
    127.0.0.1 unless --host says otherwise.

    Examples:
      qtkit serve --open
      qtkit serve --port 8080 --root content/learn
    """
    from .. import serve as serving

    with errors_to_exit(EXIT_USAGE):
        if not 0 <= port <= 65535:
            from ..errors import EditError

            raise EditError(f"--port must be 0..65535, got {port}")
    with errors_to_exit():
        app = serving.App(root, host=host, on_error=err)
        serving.run(app, host=host, port=port, open_browser=open_browser,
                    ready=lambda url: err(f"serving {app.coll.root} at {url} (Ctrl-C to stop)"))


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("serve")(serve)
