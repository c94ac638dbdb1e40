"""Time `qtkit export` of a whole collection against the python-frontmatter loop.

    python benchmarks/bench_export.py [--n 200000] [--dir /tmp/qtkit-bench]

With a warm index (built first, not timed), in one run: the naive loop a user writes
(python-frontmatter over every file, one JSON line each), then qtkit's JSONL and CSV
exports (opening the collection and checking it is current included). Prints a table with
ratios; the outputs are checked to hold one record per file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import frontmatter

from qtkit.export import export_to_path
from qtkit.index import Collection

sys.path.insert(0, str(Path(__file__).parent))
from common import ensure_collection, scale_args, table, timed  # noqa: E402


def naive_export(root: Path, out: Path) -> int:
    count = 0
    with open(out, "w", encoding="utf-8") as fh:
        for path in sorted(root.glob("*.md")):
            post = frontmatter.load(path)
            fh.write(json.dumps({**post.metadata, "$path": path.name, "$body": post.content}, default=str) + "\n")
            count += 1
    return count


def main() -> None:
    args = scale_args(__doc__)
    root = ensure_collection(args.dir, args.n)
    out = args.dir / "export"
    out.mkdir(exist_ok=True)
    Collection(root).refresh()  # warm the index (not timed)

    naive_s, naive_n = timed(lambda: naive_export(root, out / "naive.jsonl"))
    rows = []
    for to, target in (("jsonl", "<= 10 s"), ("csv", "<= 10 s")):
        secs, report = timed(lambda: export_to_path(Collection(root), to, out / f"all.{to}"))
        assert report.count == naive_n, (report.count, naive_n)
        rows.append((f"qtkit export --to {to} (warm index)", secs, target))
    table(f"N = {args.n} files; 2 cores", [("python-frontmatter loop -> JSONL (naive)", naive_s, ""), *rows], naive_s)


if __name__ == "__main__":
    main()
