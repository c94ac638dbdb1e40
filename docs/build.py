"""Build the documentation site: the CLI reference is generated from the code first.

    python docs/build.py [--site DIR]

Copies docs/ to a scratch folder, writes `cli.md` there with typer's generator (so the
reference always matches the installed commands; each command's `Examples:` become a
code block) and one page per check rule in `rules/` (`qtkit.rules.page`), then runs
`mkdocs build --strict` (every warning, e.g. a broken link, is an error). The site
needs nothing from the network (no CDN assets). The tests run it too.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(site: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("build.py", "__pycache__"))
        subprocess.run([sys.executable, "-m", "typer", "qtkit.cli", "utils", "docs", "--name", "qtkit",
                        "--title", "CLI reference", "--output", str(docs / "cli.md")], check=True,
                       capture_output=True)
        reference = docs / "cli.md"
        reference.write_text(code_blocks(reference.read_text(encoding="utf-8")), encoding="utf-8")
        rule_pages(docs / "rules")
        config = Path(tmp) / "mkdocs.yml"
        config.write_text((ROOT / "mkdocs.yml").read_text())
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config),
                        "-d", str(site.resolve())], check=True)


def rule_pages(folder: Path) -> list[Path]:
    """Write one page per check rule, `CODE.md`, from the rule registry (each rule's docstring)."""
    from qtkit.rules import RULES, page

    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"{code}.md" for code in RULES]
    for path in written:
        path.write_text(page(path.stem), encoding="utf-8")
    return written


def code_blocks(text: str) -> str:
    """The generated reference with every `Examples:` paragraph (indented command lines,
    HTML-escaped by the generator) as a fenced code block."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if line.strip() == "Examples:":
            block = []
            while i < len(lines) and re.match(r"^\s{2,}\S", lines[i]):
                block.append(html.unescape(lines[i].strip()))
                i += 1
            if block:
                out += ["", "```console", *(f"$ {cmd}" for cmd in block), "```", ""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    build(parser.parse_args().site)


if __name__ == "__main__":
    main()
