"""The `qtkit` command line: a thin typer layer over the library."""

from __future__ import annotations

import typer

from . import collection, convert, edit, links, lint, web

app = typer.Typer(
    name="qtkit",
    help="Format-preserving tools for a collection of question files (Markdown + YAML front matter).\n\n"
    "Exit codes: 0 success, 1 failure or findings, 2 usage error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
edit.register(app)
collection.register(app)
convert.register(app)
links.register(app)
lint.register(app)
web.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
