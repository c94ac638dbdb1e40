"""Relink: quality on planted topics, a sample of real files, and timing at scale.

    python benchmarks/bench_relink.py [--n 200000] [--quality-n 20000] [--dir /tmp/qtkit-bench]

1. Quality: a generated collection where questions of one topic share vocabulary and
   distractor words are shared by all; after `relink`, the share of links that stay in
   the question's own topic (precision@5). Target >= 0.90.
2. A sample of 20 real files from ../shared/corpus/real with their new links, for a
   person to judge (skipped when ../shared is absent).
3. Timing at N in one run: a full relink (scoring and writes) of a fresh copy of the
   generated collection, then 100 new questions of existing topics and a second relink.
   Targets: <= 120 s; <= 15 s and fewer than 2,000 files rewritten. Peak memory.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from qtkit.index import Collection
from qtkit.relink import relink
from qtkit.synthetic import generate

sys.path.insert(0, str(Path(__file__).parent))
from common import ensure_collection, scale_args, timed  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"


def precision(root: Path, truth: dict[int, int]) -> tuple[float, int]:
    hits = total = 0
    for record in Collection(root):
        for n in range(1, 6):
            link = record.data.get(f"related_article{n}")
            if isinstance(link, dict) and link.get("id") in truth:
                total += 1
                hits += truth[link["id"]] == truth[record.id]
    return hits / max(total, 1), total


def real_sample(work: Path) -> None:
    files = sorted(REAL.glob("*.md"))
    if not files:
        print("\n(../shared/corpus/real not found: no real sample)")
        return
    dest = work / "real"
    dest.mkdir()
    for path in files:
        shutil.copy(path, dest / path.name)
        (dest / path.name).chmod(0o644)  # the shared corpus is read-only, and qtkit leaves such files alone
    report = relink(dest)
    if report.errors:
        print(f"\n{len(report.errors)} real files not relinked: {report.errors[:3]}")
    print(f"\n## New links for 20 of the {len(files)} real files\n")
    for record in list(Collection(dest))[:20]:
        print(f"- {record.data.get('title')}  ({record.data.get('subject')})")
        for n in range(1, 6):
            link = record.data.get(f"related_article{n}")
            if isinstance(link, dict):
                print(f"    - {link.get('title')}  ({link.get('subject')})")


def peak_mb() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(me, kids) / 1024


def main() -> None:
    args = scale_args(__doc__, quality_n=20_000)
    with tempfile.TemporaryDirectory(dir=args.dir if args.dir.exists() else None) as tmp:
        work = Path(tmp)
        truth = generate(work / "quality", args.quality_n, seed=3)
        relink(work / "quality")
        score, links = precision(work / "quality", truth)
        print(f"\n## Quality: N = {args.quality_n}, {len(set(truth.values()))} planted topics\n")
        print(f"precision@5 of same-topic links: {score:.3f} over {links} links (target >= 0.90)")
        real_sample(work)

        pristine = ensure_collection(args.dir, args.n)
        root = work / "timed"
        subprocess.run(["cp", "-a", str(pristine), str(root)], check=True)
        shutil.rmtree(root / ".qtkit", ignore_errors=True)
        Collection(root).refresh()  # warm index, not timed
        os.sync()  # the copy's own write-back is not relink's to pay for
        full_s, full = timed(lambda: relink(root))
        top = Collection(root).max_id()
        generate(root, 100, seed=4242, topics=max(10, args.n // 40), start_id=top + 1, topic_seed=42)
        inc_s, inc = timed(lambda: relink(root))
        again_s, again = timed(lambda: relink(root))
        print(f"\n## Timing: N = {args.n}, 2 cores, peak memory {peak_mb():.0f} MiB\n")
        print(f"| {'run':<44} | {'seconds':>8} | {'files rewritten':>15} | target |")
        print(f"|{'-' * 46}|{'-' * 10}|{'-' * 17}|--------|")
        print(f"| {'full relink (scoring + writes)':<44} | {full_s:8.1f} | {full.written:15} | <= 120 s |")
        print(f"| {'relink after adding 100 questions':<44} | {inc_s:8.1f} | {inc.written:15} | <= 15 s, < 2000 |")
        print(f"| {'relink again (nothing to do)':<44} | {again_s:8.1f} | {again.written:15} | 0 files |")
        print(f"\nphases of the full run (s): {full.phases}")
        print(f"phases of the incremental run (s): {inc.phases}")


if __name__ == "__main__":
    main()
