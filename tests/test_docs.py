"""The documentation site builds (CLI reference generated from the code, warnings as errors)."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
def test_docs_build_strictly(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import build
    finally:
        sys.path.pop(0)
    build.build(tmp_path / "site")
    reference = (tmp_path / "site" / "cli" / "index.html").read_text()
    for command in ("qtkit relink", "qtkit check", "qtkit export", "qtkit import", "qtkit new", "qtkit rename"):
        assert command in reference
    assert (tmp_path / "site" / "guarantees" / "index.html").exists()
    assert "<code>$ qtkit replace subject &quot;Computer science&quot;" in reference or \
        '$ qtkit replace subject "Computer science"' in html.unescape(reference)
    assert "Examples:</p>\n<pre>" in reference or re.search(r"Examples:</p>\s*<pre", reference)  # a code block
    assert (tmp_path / "site" / "where" / "index.html").exists()
    for page in (tmp_path / "site").rglob("*.html"):  # offline: nothing loaded from another host
        for url in re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', page.read_text()):
            assert not re.match(r"(https?:)?//", url), (page, url)


def test_guarantees_name_tests_that_exist() -> None:
    import re

    text = (ROOT / "docs" / "guarantees.md").read_text()
    for module, name in re.findall(r"`(test_\w+\.py)::(test_\w+)", text):
        source = (ROOT / "tests" / module).read_text()
        assert f"def {name}" in source, f"{module}::{name}"


def test_every_rule_and_command_has_a_docs_entry() -> None:
    """Each check rule has a row in docs/check.md; each command a row in the CLI-to-Python
    table of docs/api.md (its Python equivalent)."""
    import typer.main

    from qtkit.check import RULES
    from qtkit.cli import app

    check_doc = (ROOT / "docs" / "check.md").read_text()
    assert [code for code in RULES if f"| {code} | {RULES[code].name} |" not in check_doc] == []
    api = (ROOT / "docs" / "api.md").read_text()
    commands = typer.main.get_command(app).commands
    assert [name for name in commands if f"| `qtkit {name}" not in api] == []


# ------------------------------------------------------------------ every option has a docs entry

#: Options every command takes, documented once (docs/getting-started.md), not per command.
COMMON_OPTIONS = ("--root", "--quiet")
DOC_PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


def option_gaps(commands: dict | None = None, texts: list[str] | None = None) -> dict[str, list[str]]:
    """Command -> its long options that no page about it mentions (default: the app's
    commands and the README and docs/ pages). A page is about `qtkit NAME` when it shows
    that command; `--help` needs no entry, and the options every command takes must be in
    docs/getting-started.md."""
    import typer.main

    from qtkit.cli import app

    if commands is None:
        commands = typer.main.get_command(app).commands
    if texts is None:
        texts = [path.read_text(encoding="utf-8") for path in DOC_PAGES]
    gaps: dict[str, list[str]] = {}
    for name, command in commands.items():
        about = "\n".join(t for t in texts if re.search(rf"qtkit {re.escape(name)}(?![\w-])", t))
        missing = []
        for param in command.params:
            longs = [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
            if not longs or longs[0] in ("--help", *COMMON_OPTIONS):
                continue
            if not any(re.search(re.escape(o) + r"(?![\w-])", about) for o in longs):
                missing.append(longs[0])
        if missing or not about:
            gaps[name] = missing or ["(no page shows the command)"]
    return gaps


def test_every_option_of_every_command_has_a_docs_entry() -> None:
    assert option_gaps() == {}
    started = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert [o for o in COMMON_OPTIONS if o not in started] == []


def test_option_gaps_notices_what_is_missing() -> None:
    import click

    command = click.Command("relink", params=[click.Option(["--dry-run", "-n"], is_flag=True),
                                             click.Option(["--undocumented"], is_flag=True)])
    other = click.Command("frobnicate", params=[])
    page = "Run `qtkit relink --dry-run` first."
    assert option_gaps({"relink": command, "frobnicate": other}, [page]) == {
        "relink": ["--undocumented"], "frobnicate": ["(no page shows the command)"]}
    assert option_gaps({"relink": command}, [page + " Then --undocumented."]) == {}


# ------------------------------------------------------------------ the docs' Python code runs

#: A code block preceded by this comment line is not run (it needs a server, a network or a
#: big collection); use it sparingly.
NO_RUN = "<!-- no-run -->"
FENCE = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.S)


def python_blocks() -> list[tuple[str, int, str]]:
    """(page, line, code) of every ```python block in the README and docs/, except the
    blocks marked no-run."""
    found = []
    for path in DOC_PAGES:
        text = "\n" + path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match["before"].strip() == NO_RUN:
                continue
            line = text.count("\n", 0, match.start("code")) - 1
            found.append((str(path.relative_to(ROOT)), line, match["code"]))
    return found


def test_the_docs_have_python_blocks() -> None:
    pages = {page for page, _, _ in python_blocks()}
    assert "README.md" in pages and "docs/api.md" in pages


@pytest.mark.parametrize("page,line,code", python_blocks(), ids=lambda v: str(v)[:40] if isinstance(v, str) else v)
def test_python_block_runs(page: str, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """Each block runs as written, in a folder holding a copy of examples/ (paths like
    `examples/...` work; nothing in the repository is written)."""
    import shutil

    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns(".qtkit"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QTKIT_ROOT", raising=False)
    exec(compile(code, f"{page}:{line}", "exec"), {"__name__": "__docs__"})
