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
