"""Time the collection index and `qtkit new` at scale, against the python-frontmatter loop.

    python benchmarks/bench_index.py [--n 200000] [--dir /tmp/qtkit-bench]

Generates N synthetic files in the house format (kept in --dir for reuse), then in one
run: the naive loop (python-frontmatter over every file to find the next id), a cold
index build (both cores), a warm index (nothing changed), and `qtkit new` end to end as a
subprocess (interpreter start included) with a warm index. Prints a table with ratios.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import frontmatter

from qtkit.index import CACHE_DIR, Collection

sys.path.insert(0, str(Path(__file__).parent))
from common import ensure_collection, scale_args, table, timed  # noqa: E402


def naive_next_id(root: Path) -> int:
    best = 0
    for path in root.glob("*.md"):
        best = max(best, int(frontmatter.load(path)["id"]))
    return best + 1


def main() -> None:
    args = scale_args(__doc__)
    root = ensure_collection(args.dir, args.n)
    for extra in list(root.glob("*.md")):
        if "bench-new" in extra.read_text(encoding="utf-8")[:400]:
            extra.unlink()
    shutil.rmtree(root / CACHE_DIR, ignore_errors=True)

    naive_s, naive_id = timed(lambda: naive_next_id(root))
    cold_s, stats = timed(lambda: Collection(root).refresh())
    warm_s, warm = timed(lambda: Collection(root).refresh())
    coll = Collection(root)
    assert coll.max_id() + 1 == naive_id, (coll.max_id(), naive_id)
    cmd = [sys.executable, "-m", "qtkit", "new", "A bench-new question about timing?", "--subject", "Physics",
           "--root", str(root), "--json"]
    new_runs = []
    for i in range(3):
        cmd[4] = f"A bench-new question about timing number {i}?"
        secs, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
        assert proc.returncode == 0, proc.stderr
        new_runs.append(secs)
    new_s = min(new_runs)

    table(f"N = {args.n} files, {stats.errors} unreadable; 2 cores", [
        ("python-frontmatter loop: next id (naive)", naive_s, ""),
        ("qtkit cold index build (both cores)", cold_s, "<= 15 s"),
        (f"qtkit warm index (re-read {warm.parsed})", warm_s, "<= 2 s"),
        ("qtkit new, warm index, wall incl. interpreter", new_s, "<= 0.5 s"),
    ], naive_s)


if __name__ == "__main__":
    main()
