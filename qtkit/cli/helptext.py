"""How help reads: prose paragraphs reflowed to the terminal, text shown as written,
flags without a type.

Command docstrings are written with hard line breaks, which typer's Rich help keeps
inside every paragraph after the first, so prose came out as ragged lines cut at the
source's width. `Command` joins the lines of each prose paragraph (Rich then wraps it to
the terminal); a paragraph with an indented line (examples, lists) keeps its lines.
Help is plain text: what Rich would read as markup (`[check]`, `[subjects]`) is escaped,
so it shows as written. A boolean flag takes no value, so its type column (typer's
`<bool>`) is left empty.
"""

from __future__ import annotations

from typing import Any

import typer.core


def reflow(text: str | None) -> str | None:
    """`text` with each prose paragraph on one line; paragraphs with an indented line
    (after the first line: "Examples:" then indented commands) are kept as written."""
    if not text:
        return text
    paragraphs = text.split("\n\n")
    return "\n\n".join(
        p if any(line[:1].isspace() for line in p.splitlines()[1:]) else " ".join(p.split("\n"))
        for p in paragraphs)


class Command(typer.core.TyperCommand):
    """A typer command whose help is reflowed (`reflow`) and shown as written, and whose
    flags show no type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plain = False
        for param in self.params:
            _untyped(param)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The help, its texts made plain first (here, not at start-up: only `--help`
        loads Rich)."""
        if not self.plain:
            self.plain = True
            self.help = _plain(reflow(self.help))
            for param in self.params:
                param.help = _plain(getattr(param, "help", None))
        super().format_help(ctx, formatter)

    def get_help_option(self, ctx: Any) -> Any:
        """`--help`, like the other flags without a type."""
        option = super().get_help_option(ctx)
        if option is not None:
            _untyped(option)
        return option


def _plain(text: str | None) -> str | None:
    """`text` with Rich markup escaped (typer renders help as Rich markup)."""
    from rich.markup import escape

    return escape(text) if text else text


def _untyped(param: Any) -> None:
    """Show no type for a flag (a parameter that takes no value)."""
    if getattr(param, "is_flag", False) and param.metavar is None:
        param.metavar = ""
