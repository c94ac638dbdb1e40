"""Help that reads well: prose reflowed to the terminal, examples kept as written,
flags without a type."""

from __future__ import annotations

import inspect

import pytest
import typer.main
from typer.testing import CliRunner

from qtkit.cli import app
from qtkit.cli.helptext import reflow

COMMANDS = sorted(typer.main.get_command(app).commands)


def test_reflow_joins_prose_and_keeps_indented_paragraphs() -> None:
    text = "Summary.\n\nOne sentence\ncut in two.\n\nExamples:\n  qtkit a\n  qtkit b"
    assert reflow(text) == "Summary.\n\nOne sentence cut in two.\n\nExamples:\n  qtkit a\n  qtkit b"
    assert reflow(None) is None and reflow("") == ""


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    runner = CliRunner()
    out = {}
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"})
        assert result.exit_code == 0, (name, result.output)
        out[name] = result.output
    return out


@pytest.mark.parametrize("name", COMMANDS)
def test_help_keeps_every_example_line_indented(helps: dict[str, str], name: str) -> None:
    """Each indented line of the command's docstring (its examples) shows indented, below
    its heading (typer's dedent of the text after the summary once took it away)."""
    command = typer.main.get_command(app).commands[name]
    indented = [line for line in (command.help or "").splitlines() if line[:1].isspace() and line.strip()]
    shown = [line.rstrip() for line in helps[name].splitlines()]
    for line in indented:
        assert any(s.endswith(line.rstrip()) and s[: len(s) - len(line.rstrip())].isspace() for s in shown), (name, line)
        assert " " + line.strip() not in [s.rstrip() for s in shown], (name, line)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_reflows_prose_and_shows_no_bool_type(helps: dict[str, str], name: str) -> None:
    """On a wide terminal a prose paragraph is not cut where the source line ended, nothing
    in it is taken for Rich markup (`[subjects]` once vanished), and a flag (which takes no
    value) has no `<bool>` type beside it."""
    assert "<bool>" not in helps[name]
    doc = inspect.getdoc(typer.main.get_command(app).commands[name].callback) or ""
    flat = " ".join(helps[name].split())
    for paragraph in doc.split("\n\n"):
        if not any(line[:1].isspace() for line in paragraph.splitlines()):
            # the paragraph's words appear in one run, each source line break now a space
            words = " ".join(paragraph.split())
            assert words.replace("`", "") in flat.replace("`", ""), (name, paragraph[:60])
    lines = helps[name].splitlines()
    long_prose = [line for line in lines if len(line.strip()) > 100 and "│" not in line]
    if any(len(" ".join(p.split())) > 120 for p in doc.split("\n\n")[1:] if "\n  " not in p):
        assert long_prose, name
