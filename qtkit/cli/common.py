"""Shared pieces of the CLI: error handling, exit codes, output helpers."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import warnings
from typing import Annotated, Any, Iterator, List, Optional

import typer

from ..errors import Ambiguous, BadOption, NoCollection, Notice, QtkitError, UnknownKey

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
            if issubclass(category, UnknownKey):
                err(f"warning: {message}")
            elif not issubclass(category, Notice):
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
    except (Ambiguous, NoCollection, BadOption) as exc:  # which page / collection / option value: the user must say
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


# ------------------------------------------------------------------ options shared by commands
# Each is defined once here and used as a parameter's type, e.g. `root: Root = None`.

ROOT_HELP = ("Collection root (default: $QTKIT_ROOT, else the nearest qtkit.toml upward, else the cwd if it holds"
             " question files).")
Root = Annotated[Optional[str], typer.Option("--root", help=ROOT_HELP)]
"""`--root DIR`: which collection."""

DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help="Write nothing; print what would change (diffs, or"
                                      " the new file) instead.")]
"""`--dry-run/-n`."""

Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout (one object per line where"
                                    " there are several; the command's description gives the fields).")]
"""`--json`."""

Where = Annotated[Optional[List[str]], typer.Option(
    "--where", "-w", help="Only the pages where the condition holds: KEY=VALUE, KEY!=V, KEY~REGEX, KEY<N, KEY>N,"
    " KEY?, !KEY (repeat: all must hold; see docs/where.md).")]
"""`--where/-w COND` (repeatable)."""

Every = Annotated[bool, typer.Option("--all", help="When TARGET is an id shared by cross-listed copies: act on"
                                     " every copy.")]
"""`--all`."""

NewSubject = Annotated[bool, typer.Option("--new-subject", help="Allow a subject the collection does not have yet.")]
"""`--new-subject`."""

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no summary lines on stderr (errors and"
                                     " warnings still show).")]
"""`--quiet/-q` (every command takes it, before or after its name)."""


class Progress:
    """Live progress on stderr, for a terminal only: one rich line per phase (a bar, done/total
    and the elapsed time), left on screen when the phase ends. Silent when stderr is not a
    terminal or with `--quiet`. Call it as the library's callback, `progress(done, total)`
    (the phase is `label`) or `progress(phase, done, total)`; `finish()` stops it."""

    def __init__(self, label: str = "working") -> None:
        self.label = label
        self.active = sys.stderr.isatty() and not _quiet
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __call__(self, *args: Any) -> None:
        if not self.active:
            return
        phase, done, total = (self.label, *args) if len(args) == 2 else args
        if self._bar is None:
            self._start()
        task = self._tasks.get(phase)
        if task is None:
            for other in self._tasks.values():  # a new phase: the previous ones are over
                t = self._bar.tasks[other]
                if t.total is not None and not t.finished:
                    self._bar.update(other, completed=t.total)
                self._bar.stop_task(other)
            task = self._tasks[phase] = self._bar.add_task(str(phase), total=total or None)
        self._bar.update(task, completed=done, total=total or None)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=False, refresh_per_second=8)
        self._bar.start()
        _live.append(self)

    def finish(self) -> None:
        """Stop the live display (its last lines stay on screen)."""
        if self._bar is not None:
            for task in self._tasks.values():
                self._bar.stop_task(task)
            self._bar.stop()
            self._bar = None
            self._tasks = {}


_live: list[Progress] = []
_quiet = False


def finish_progress() -> None:
    """Stop every progress display still running (called once a command ends)."""
    while _live:
        _live.pop().finish()


def set_quiet(quiet: bool) -> None:
    """`--quiet`: no progress and no summary lines (errors and warnings still show)."""
    global _quiet
    _quiet = quiet


def quiet() -> bool:
    return _quiet


def info(message: str) -> None:
    """A summary or informational line on stderr (left out with --quiet)."""
    if not _quiet:
        err(message)
