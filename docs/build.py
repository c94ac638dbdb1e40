"""Build the documentation site: the CLI reference is generated from the code first.

    python docs/build.py [--site DIR]

Copies docs/ to a scratch folder, writes `cli.md` there with typer's generator (so the
reference always matches the installed commands), then runs `mkdocs build --strict`
(every warning, e.g. a broken link, is an error). The tests run it too.
"""

from __future__ import annotations

import argparse
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
        config = Path(tmp) / "mkdocs.yml"
        config.write_text((ROOT / "mkdocs.yml").read_text())
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config),
                        "-d", str(site.resolve())], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    build(parser.parse_args().site)


if __name__ == "__main__":
    main()
