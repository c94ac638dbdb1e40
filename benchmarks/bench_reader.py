"""Time the front-matter reader per file, in microseconds (µs/file).

    python benchmarks/bench_reader.py DIR [DIR ...] [--limit 4000] [--repeat 5]

CPU time (`time.process_time`, so a busy machine counts less). Reads every `*.md` under each DIR into memory first (not timed), then times, per file:
`read_fast` with date paths and key positions (what `qtkit index` does cold), `read` (the
fast path, else the full parse), `fast_positions`, and loading a `Document` (the editor's
full read). Best of `--repeat` runs; also the share of files the fast path takes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from qtkit import reader
from qtkit.document import Document
from qtkit.errors import QtkitError


def _best(fn, raws: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for raw in raws:
            try:
                fn(raw)
            except QtkitError:
                pass
        best = min(best, time.process_time() - start)
    return best / max(len(raws), 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for folder in args.dirs:
        paths = sorted(folder.rglob("*.md"))[: args.limit]
        raws = [p.read_bytes() for p in paths]
        fast = sum(reader.read_fast(raw) is not None for raw in raws)
        rows = [
            ("read_fast + dates + positions", lambda raw: reader.read_fast(raw, None, [], [])),
            ("read_fast", lambda raw: reader.read_fast(raw)),
            ("read + positions", lambda raw: reader.read(raw, None, [])),
            ("fast_positions", lambda raw: reader.fast_positions(raw)),
            ("Document", lambda raw: Document(raw)),
        ]
        print(f"{folder}: {len(raws)} files, {fast / max(len(raws), 1):.1%} on the fast path")
        for name, fn in rows:
            print(f"  {name:32s} {_best(fn, raws, args.repeat):8.1f} µs/file")


if __name__ == "__main__":
    main()
