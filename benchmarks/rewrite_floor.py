"""The floor under a relink that changes every page: rewrite every file atomically.

    python benchmarks/rewrite_floor.py ROOT [--processes N]

Each `.md` file under ROOT (the `.qtkit` cache left out) is read and written back with
the same bytes the way any durable atomic writer must: a temp file beside it, `write`,
`fsync`, `rename` over the file, then one `fsync` of each folder. On two processes a
core, as relink's writes run (the disk's waits overlap: on 10,000 files, 24 s with 2
processes, 14 s with 4, 16 s with 8). Nothing else (no parsing, no locks, no comparison): the least a
full relink can cost on this disk when every file's links change. The files keep their
bytes; their mtimes change, so run it last (`bench_scale.py` does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path


def _rewrite(paths: list[str]) -> int:
    folders = set()
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".floor-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        folders.add(os.path.dirname(path))
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--processes", type=int, default=2 * (os.cpu_count() or 1))
    args = parser.parse_args()
    if not args.root.is_dir() or args.processes < 1:
        sys.exit(f"rewrite_floor: {args.root} is not a folder" if args.processes >= 1 else "rewrite_floor: --processes must be >= 1")
    paths = sorted(str(p) for p in args.root.rglob("*.md") if ".qtkit" not in p.parts)
    chunks = [paths[i : i + 256] for i in range(0, len(paths), 256)]
    start = time.perf_counter()
    with Pool(args.processes) as pool:
        done = sum(pool.imap_unordered(_rewrite, chunks))
    print(f"{done} files rewritten in {time.perf_counter() - start:.2f} s on {args.processes} processes")


if __name__ == "__main__":
    main()
