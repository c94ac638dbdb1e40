"""Shared pieces of the CLI: error handling, exit codes, output helpers."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import warnings
from typing import Any, Iterator

import typer

from ..errors import Ambiguous, Notice, QtkitError

#: Exit codes, as in ruff: 0 success / clean, 1 findings or a failed operation, 2 usage error.
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


_debug = False


def setup(debug: bool = False) -> None:
    """Per-invocation set-up: `--debug`, and library notices shown as `notice:` lines."""
    global _debug
    _debug = debug
    _shown.clear()
    warnings.filterwarnings("always", category=Notice)
    if getattr(warnings.showwarning, "__module__", "") != __name__:
        default = warnings.showwarning

        def show(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
            if not issubclass(category, Notice):
                default(message, category, *args, **kwargs)
            elif str(message) not in _shown:  # each notice once per command
                _shown.add(str(message))
                err(f"notice: {message}")

        warnings.showwarning = show


_shown: set[str] = set()


def debug_enabled() -> bool:
    """`--debug` was given or `QTKIT_DEBUG` is set (to anything but empty or 0)."""
    return _debug or os.environ.get("QTKIT_DEBUG", "") not in ("", "0")


def unexpected(exc: BaseException) -> str:
    """The one line shown for an error qtkit did not expect."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"error: {type(exc).__name__}: {text} (unexpected; rerun with --debug for the traceback)"


def err(message: str) -> None:
    """Write one line to stderr."""
    typer.echo(message, err=True)


@contextlib.contextmanager
def errors_to_exit(code: int = EXIT_FAIL) -> Iterator[None]:
    """Turn qtkit errors into `error: <file:line:col: message>` on stderr and an exit code."""
    try:
        yield
    except Ambiguous as exc:  # an id shared by cross-listed copies: the user must say which page
        err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except QtkitError as exc:
        err(f"error: {exc}")
        raise typer.Exit(code) from None
    except (OSError, sqlite3.Error, MemoryError, RecursionError, UnicodeError, ValueError) as exc:
        if debug_enabled():
            raise
        err(unexpected(exc))
        raise typer.Exit(EXIT_FAIL) from None
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        err("interrupted")
        raise typer.Exit(130) from None


def out(text: str) -> None:
    """Write data to stdout (never progress or messages)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def root_option() -> Any:
    """`--root DIR`, the same on every command."""
    return typer.Option(
        None, "--root", help="Collection root (default: $QTKIT_ROOT, else the nearest qtkit.toml upward, else the cwd)."
    )


class Progress:
    """A progress line on stderr when it is a terminal; silent otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.active = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self.active and total:
            sys.stderr.write(f"\r{self.label} {done}/{total} ({100 * done // total}%)")
            if done == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
