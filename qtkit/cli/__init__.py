"""The `qtkit` command line: a thin typer layer over the library."""

from __future__ import annotations

import os
import sys

import typer

from . import collection, common, convert, edit, links, lint, web

app = typer.Typer(
    name="qtkit",
    help="Format-preserving tools for a collection of question files (Markdown + YAML front matter).\n\n"
    "Exit codes: 0 success, 1 failure or findings, 2 usage error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an unexpected error (or set QTKIT_DEBUG=1)."),
) -> None:
    """Options for every command."""
    common.setup(debug)


edit.register(app)
collection.register(app)
convert.register(app)
links.register(app)
lint.register(app)
web.register(app)


def main() -> None:
    """Console-script entry point: no traceback ever reaches a user. An unexpected error
    prints one `error:` line and a hint to rerun with `--debug`, and exits 1."""
    try:
        app()
    except BrokenPipeError:  # the reader went away (`qtkit export ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(common.EXIT_FAIL)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if common.debug_enabled():
            raise
        common.err(common.unexpected(exc))
        sys.exit(common.EXIT_FAIL)
