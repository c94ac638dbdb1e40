"""Time `qtkit check` of a whole collection against a python-frontmatter loop.

    python benchmarks/bench_check.py [--n 200000] [--dir /tmp/qtkit-bench]

With a warm index (built first, not timed): the naive loop (python-frontmatter over every
file, then duplicate ids/urls and dangling links), and `qtkit check` end to end as a
subprocess (interpreter start included). Prints a table with the ratio.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import frontmatter

from qtkit.index import Collection

sys.path.insert(0, str(Path(__file__).parent))
from common import ensure_collection, scale_args, table, timed  # noqa: E402


def naive_check(root: Path) -> int:
    posts = [frontmatter.load(p).metadata for p in root.glob("*.md")]
    ids = Counter(p.get("id") for p in posts)
    urls = Counter(p.get("url") for p in posts)
    findings = sum(1 for p in posts if ids[p.get("id")] > 1 or urls[p.get("url")] > 1)
    for p in posts:
        for n in range(1, 6):
            link = p.get(f"related_article{n}")
            findings += isinstance(link, dict) and link.get("id") not in ids
    return findings


def main() -> None:
    args = scale_args(__doc__)
    root = ensure_collection(args.dir, args.n)
    Collection(root).refresh()  # warm the index (not timed)
    naive_s, _ = timed(lambda: naive_check(root))
    cmd = [sys.executable, "-m", "qtkit", "check", "--root", str(root), "--format", "json"]
    check_s, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
    assert proc.returncode in (0, 1), proc.stderr
    table(f"N = {args.n} files; 2 cores", [
        ("python-frontmatter loop: ids, urls, links", naive_s, ""),
        ("qtkit check, all rules, wall incl. startup", check_s, "<= 10 s"),
    ], naive_s)


if __name__ == "__main__":
    main()
