"""The `qtkit` command line: a thin typer layer over the library."""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
from typing import Any, Callable

import typer

from . import coercion, collection, common, convert, edit, helptext, links, lint, web

coercion.install()

app = typer.Typer(
    name="qtkit",
    help="Format-preserving tools for a collection of question files (Markdown + YAML front matter).\n\n"
    "Exit codes: 0 success, 1 failure or findings, 2 usage error.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"qtkit {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an unexpected error (or set QTKIT_DEBUG=1)."),
    quiet: common.Quiet = False,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Options for every command."""
    common.setup(debug)
    common.set_quiet(quiet)


edit.register(app)
collection.register(app)
convert.register(app)
links.register(app)
lint.register(app)
web.register(app)


def _with_quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with a `--quiet/-q` option added: every command takes it, after its name too."""
    sig = inspect.signature(fn, eval_str=True)  # the annotations as objects: they name common.Json etc.
    if "quiet" in sig.parameters:
        return fn

    @functools.wraps(fn)
    def command(*args: Any, quiet: bool = False, **kwargs: Any) -> Any:
        if quiet:
            common.set_quiet(True)
        return fn(*args, **kwargs)

    option = inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, annotation=common.Quiet, default=False)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == p.POSITIONAL_OR_KEYWORD else p
              for p in sig.parameters.values()]
    command.__signature__ = sig.replace(parameters=[*params, option])  # type: ignore[attr-defined]
    return command


for _info in app.registered_commands:
    _info.callback = _with_quiet(_info.callback)  # type: ignore[arg-type]
    _info.cls = helptext.Command


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: no traceback ever reaches a user. A usage error prints
    one `error:` line and exits 2; an unexpected error prints one `error:` line and a hint
    to rerun with `--debug`, and exits 1."""
    command = typer.main.get_command(app)
    cx = importlib.import_module(typer.BadParameter.__module__)  # the click typer runs on (its own copy)
    try:
        code = command.main(args=argv, prog_name="qtkit", standalone_mode=False)
    except getattr(cx, "NoArgsIsHelpError", ()) as exc:  # plain `qtkit`: the help, as a usage error
        typer.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        code = common.EXIT_USAGE
    except cx.UsageError as exc:  # NoSuchOption, BadParameter, MissingParameter, ...
        see = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        if isinstance(exc, cx.NoSuchOption) and _NUMBER.fullmatch(exc.option_name or ""):
            # `qtkit get -5 title`: a negative number reads as an option (click's rule)
            path = exc.ctx.command_path if exc.ctx is not None else "qtkit COMMAND"
            see = (f"; a value starting with '-' goes after `--`, options before it:"
                   f" {path} [OPTIONS] -- {exc.option_name} ...")
        common.err(f"error: {_one_line(exc.format_message()).rstrip('.')}{see}")
        code = common.EXIT_USAGE
    except cx.ClickException as exc:  # e.g. a file argument that cannot be opened
        common.err(f"error: {_one_line(exc.format_message())}")
        code = common.EXIT_USAGE
    except (typer.Abort, KeyboardInterrupt):
        common.err("interrupted")
        code = 130
    except BrokenPipeError:  # the reader went away (`qtkit export ... | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = common.EXIT_FAIL
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if common.debug_enabled():
            raise
        common.err(common.unexpected(exc))
        code = common.EXIT_FAIL
    finally:
        common.finish_progress()
    sys.exit(code if isinstance(code, int) else 0)


_NUMBER = re.compile(r"-\d+(\.\d+)?")


def _one_line(text: str) -> str:
    return " ".join(text.split())
