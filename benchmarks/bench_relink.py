"""Relink: relevance on the live sample, and time and memory at scale.

    python benchmarks/bench_relink.py [--corpus /tmp/gen200k/questions] [--n 200000]
                                      [--live ../shared/corpus/live/content] [--dir /tmp/qtkit-bench]
                                      [--skip-live] [--skip-scale]

1. Live sample (read-only: copied first): the share of title words that keep weight
   (before: `max_df = 0.01`; now), recall@5 of the candidate generation against exact
   scoring (every page a candidate) on 500 pages, the share of lists holding a
   near-duplicate pair (cosine >= `near_duplicate`; and, independently, two titles with
   Jaccard >= 0.5 over their words), the share of empty slots, the score of random
   cross-subject pairs (what the floor is set against), and the timing below.
2. Timing, on the live sample and on `--corpus` (a folder of pages, e.g. made by
   `../shared/tools/gen_corpus.py OUT 200000 --seed 7`; else a generated collection of
   `--n`): a full relink (warm index), then +100 pages, then 20 edited pages, then a run
   with nothing to do; wall and CPU seconds (children included), peak memory.
   Targets at 200,000: <= 120 s and <= 2 GiB; <= 15 s; <= 3 s.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson

from qtkit.document import load
from qtkit.index import Collection
from qtkit.related import (
    Pages,
    RelatedConfig,
    Space,
    _gram,
    choose,
    counts,
    encode_labels,
    linkable,
    page_from,
    term_weights,
    title_key,
    vectors,
    words,
)
from qtkit.relink import relink

sys.path.insert(0, str(Path(__file__).parent))
from common import add_pages, ensure_collection  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_mib() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(me, kids) / 1024


def run(root: Path, label: str = "") -> tuple[float, float, object]:
    w, c = time.perf_counter(), cpu()
    report = relink(root)
    wall, c = time.perf_counter() - w, cpu() - c
    print(f"  {label}: {wall:.1f} s wall, {c:.1f} s CPU, {report.scored} scored, {report.written} written, "
          f"peak {peak_mib():.0f} MiB, phases {report.phases}", flush=True)
    return wall, c, report


def edit_pages(root: Path, k: int, seed: int) -> None:
    """k pages get one more sentence at the start of their answer (format-preserving edits)."""
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("*.md") if ".qtkit" not in p.parts)
    for src in rng.sample(files, k):
        doc = load(src)
        doc["answer"] = f"An editor adds a note on entropy and tariffs. {doc['answer']}"
        doc.save()


def timing(name: str, src: Path, work: Path) -> list[tuple]:
    root = work / name
    subprocess.run(["cp", "-a", str(src), str(root)], check=True)
    subprocess.run(["chmod", "-R", "u+w", str(root)], check=True)
    shutil.rmtree(root / ".qtkit", ignore_errors=True)
    Collection(root).refresh()  # warm index, not timed
    rows = []
    wall, c, full = run(root, "full")
    rows.append(("full relink", wall, c, full.written, full.scored, full.phases))
    add_pages(root, 100, 1)
    wall, c, inc = run(root, "+100")
    rows.append(("+100 pages", wall, c, inc.written, inc.scored, inc.phases))
    edit_pages(root, 20, 2)
    wall, c, ed = run(root, "20 edits")
    rows.append(("20 edited pages", wall, c, ed.written, ed.scored, ed.phases))
    wall, c, again = run(root, "nothing")
    rows.append(("nothing to do", wall, c, again.written, again.scored, again.phases))
    print(f"\n## Timing: {name} ({full.questions} pages), peak memory so far {peak_mib():.0f} MiB\n")
    print("| run | wall s | CPU s | pages scored | files written |")
    print("|---|---:|---:|---:|---:|")
    for label, wall, c, written, scored, _ in rows:
        print(f"| {label} | {wall:.1f} | {c:.1f} | {scored} | {written} |")
    for label, *_, phases in rows:
        print(f"- phases of {label}: {phases}")
    return rows


def relevance(root: Path) -> None:
    """Weighting and choice measured on real text (no files written)."""
    coll = Collection(root)
    cfg = RelatedConfig.from_config(coll.config)
    pages = [p for _, text, _ in coll.json_rows() if (p := page_from(orjson.loads(text), cfg))]
    n = len(pages)
    m = counts(pages, cfg, 2)
    idf = term_weights(m, cfg)
    from qtkit.related import columns

    title_words = [words(p.title) for p in pages]
    vocab = sorted({w for t in title_words for w in t})
    head, body = columns(vocab)
    df = np.bincount(m.indices, minlength=m.shape[1])
    kept_new = {w for w, h, b in zip(vocab, head, body) if idf[h] != 0 or idf[b] != 0}
    kept_old = {w for w, b in zip(vocab, body) if 2 <= df[b] <= max(int(0.01 * n), 50)}
    total = sum(len(t) for t in title_words)
    print(f"\n## Relevance on the live sample ({n} pages)\n")
    print(f"- title words that keep weight: {sum(w in kept_new for t in title_words for w in t) / total:.1%}"
          f" (with max_df = 0.01: {sum(w in kept_old for t in title_words for w in t) / total:.1%})")
    cand = [w for w, h in zip(vocab, head) if idf[h] > 0]
    print(f"- title words that also find candidates (head df <= {cfg.head_max_df}): "
          f"{sum(w in set(cand) for t in title_words for w in t) / total:.1%}")
    space = Space.of(vectors(m, idf), idf)
    pages_ = Pages(np.array([p.qid for p in pages]), encode_labels(p.subject.casefold() for p in pages),
                   encode_labels(title_key(p.title) for p in pages), np.array([linkable(p) for p in pages]),
                   np.arange(n))
    rng = np.random.default_rng(7)
    sample = rng.choice(n, min(500, n), replace=False)
    chosen = choose(np.arange(n), space, pages_, cfg, workers=2)
    exact_idf = np.abs(idf)
    exact = choose(sample, Space.of(vectors(m, exact_idf), exact_idf), pages_, replace(cfg, candidates=n))
    recall = np.mean([len(set(a.targets) & set(chosen[int(r)].targets)) / max(1, len(a.targets))
                      for r, a in zip(sample, exact)])
    print(f"- recall@{cfg.count} of the candidates ({cfg.candidates} best on words with df <= "
          f"{cfg.head_max_df}/{cfg.body_max_df}) against exact scoring of every page: {recall:.3f}")
    for h, b, label in ((57, 17, "x N/170,000"), (114, 34, "x 2N/170,000")):
        scaled = term_weights(m, replace(cfg, head_max_df=h, body_max_df=b))
        approx = choose(sample, Space.of(vectors(m, scaled), scaled), pages_, replace(cfg, head_max_df=h, body_max_df=b))
        r_ = np.mean([len(set(a.targets) & set(c.targets)) / max(1, len(a.targets)) for a, c in zip(exact, approx)])
        print(f"  - with caps {h}/{b} (the defaults {label}: what a site of 170,000 pages sees): {r_:.3f}")
    near = jac = 0
    for c in chosen:
        t = c.targets.tolist()
        if len(t) > 1:
            g = _gram(space.x, t)
            near += bool((np.triu(g, 1) >= cfg.near_duplicate).any())
            sets = [set(words(pages[i].title)) for i in t]
            jac += any(len(a & b) / max(1, len(a | b)) >= 0.5 for i, a in enumerate(sets) for b in sets[i + 1:])
    off = replace(cfg, near_duplicate=1.0)
    unsuppressed = choose(sample, space, pages_, off)
    near_off = sum(bool((np.triu(_gram(space.x, c.targets.tolist()), 1) >= cfg.near_duplicate).any())
                   for c in unsuppressed if len(c.targets) > 1)
    print(f"- lists holding a near-duplicate pair: {near / n:.2%} (cosine >= {cfg.near_duplicate}); "
          f"{jac / n:.2%} (title Jaccard >= 0.5); without suppression {near_off / len(sample):.1%}")
    slots = np.array([len(c.targets) for c in chosen])
    print(f"- empty slots: {1 - slots.mean() / cfg.count:.2%}; pages with no link: {(slots == 0).mean():.2%}")
    a, b = rng.integers(0, n, 200_000), rng.integers(0, n, 200_000)
    other = pages_.subjects[a] != pages_.subjects[b]
    s = np.asarray(space.x[a[other]].multiply(space.x[b[other]]).sum(axis=1)).ravel()
    print("- random cross-subject pairs, score percentiles 50/90/99/99.9: "
          + " / ".join(f"{v:.3f}" for v in np.percentile(s, [50, 90, 99, 99.9])) + f" (floor {cfg.min_score})")
    chosen_scores = np.concatenate([c.scores for c in chosen if len(c.scores)])
    print("- chosen links, score percentiles 1/10/50: "
          + " / ".join(f"{v:.3f}" for v in np.percentile(chosen_scores, [1, 10, 50])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--live", type=Path, default=SHARED / "corpus" / "live" / "content")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qtkit-bench"))
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        if not args.skip_live:
            if args.live.exists():
                timing("live", args.live, work)
                relevance(work / "live")
            else:
                print(f"({args.live} not found: no live sample)")
        if not args.skip_scale:
            src = args.corpus or ensure_collection(args.dir, args.n)
            timing(f"n{args.n}" if args.corpus is None else src.parent.name or "corpus", src, work)
    print(f"\npeak memory {peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()
