"""Helpers shared by the benchmark scripts: a cached synthetic collection and a timer."""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

from synthetic import generate

from qtkit.document import load
from qtkit.index import Collection
from qtkit.slugs import slug


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def scale_args(doc: str | None, **extra: int) -> argparse.Namespace:
    """`--n` (collection size) and `--dir` (where generated collections are kept), plus
    `extra` integer options (`quality_n=20_000` gives `--quality-n`)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    for name, default in extra.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qtkit-bench"))
    return parser.parse_args()


def ensure_collection(folder: Path, n: int, seed: int = 42) -> Path:
    """`folder/n{n}`: N synthetic house-format files, generated once and reused."""
    root = folder / f"n{n}"
    if not root.exists() or len(list(root.glob("*.md"))) < n:
        shutil.rmtree(root, ignore_errors=True)
        secs, _ = timed(lambda: generate(root, n, seed=seed))
        print(f"generated {n} files in {secs:.1f} s", file=sys.stderr)
    return root


def table(title: str, rows: list[tuple[str, float, str]], baseline: float) -> None:
    """Print rows of (operation, seconds, target) with the ratio to `baseline`."""
    print(f"\n{title}\n")
    print(f"| {'operation':<46} | {'seconds':>8} | {'vs naive':>9} | target |")
    print(f"|{'-' * 48}|{'-' * 10}|{'-' * 11}|--------|")
    for name, secs, target in rows:
        print(f"| {name:<46} | {secs:8.2f} | {baseline / secs:8.1f}x | {target:<6} |")


def add_pages(root: Path, k: int, seed: int) -> None:
    """k new pages: copies of existing pages' text under new ids, titles and urls."""
    rng = random.Random(seed)
    files = sorted(p for p in root.rglob("*.md") if ".qtkit" not in p.parts)
    top = Collection(root).max_id()
    for i, src in enumerate(rng.sample(files, k) if k <= len(files) else rng.choices(files, k=k), 1):
        doc = load(src)
        title = f"{doc['title']} Revisited {i}"
        doc["id"] = top + i
        for key in ("title", "article_title", "question"):
            if key in doc:
                doc[key] = title
        doc["file_name"] = slug(title) + ".md"
        doc["url"] = str(doc["url"]).rstrip("/").rsplit("/", 1)[0] + "/" + slug(title)
        doc.save(src.with_name(slug(title) + ".md"))
