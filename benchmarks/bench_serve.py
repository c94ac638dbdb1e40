"""Time `qtkit serve` on a copy of the live sample (9,693 pages in the site's layout).

    python benchmarks/bench_serve.py [--src ../shared/corpus/live/content/learn] [--sample 200]

Runs the server as a subprocess on a free loopback port, twice: with a cold cache (no
`.qtkit/`, so the first request builds the index) and with the warm cache the first run
left. For each: the time from starting the process to the first page served, and the CPU
time the server used until then, which a busy machine does not inflate (target: < 2 s
warm); a random sample of pages fetched one after the other (p50/p95/max; target
< 200 ms each); the dashboard and the editor panels (whole-collection work done once per
change on a background thread: their first request waits for it). Prints a table.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent.parent / "shared" / "corpus" / "live" / "content" / "learn"


def fetch(url: str, timeout: float = 120) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - start


class Server:
    def __init__(self, root: Path) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "qtkit", "serve", "--root", str(root), "--port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        found: list[str] = []

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                m = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
                if m and not found:
                    found.append(m.group(1))
                elif not m:
                    print(line, end="", file=sys.stderr)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 120
        while not found and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.01)
        if not found:
            self.stop()
            raise SystemExit("the server did not start")
        self.listening = time.perf_counter() - self.started
        self.url = found[0]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), or NaN elsewhere."""
    import os

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(root: Path, pages: list[str], label: str) -> list[tuple[str, str, str]]:
    srv = Server(root)
    try:
        status, _ = fetch(srv.url + pages[0])
        first = time.perf_counter() - srv.started
        first_cpu = cpu_seconds(srv.proc.pid)
        assert status == 200, status
        times = []
        for path in pages[1:]:
            status, secs = fetch(srv.url + path)
            assert status == 200, (path, status)
            times.append(secs)
        _, dash_first = fetch(srv.url + "/")
        _, dash_again = fetch(srv.url + "/")
        rels = [p.split("/learn/", 1)[1].replace("/questions/", "/") + ".md" for p in pages[1:21]]
        _, panel_first = fetch(srv.url + "/panels/" + quote(rels[0]) + "?fragment=1")
        panel_times = [fetch(srv.url + "/panels/" + quote(rel) + "?fragment=1")[1] for rel in rels[1:]]
        return [
            (f"{label}: process start to listening", f"{srv.listening:.2f} s", ""),
            (f"{label}: process start to first page served", f"{first:.2f} s", "< 2 s"),
            (f"{label}: CPU time the server used until then", f"{first_cpu:.2f} s", ""),
            (f"{label}: {len(times)} pages, p50 / p95 / max",
             f"{1000 * statistics.median(times):.0f} / {1000 * pct(times, 0.95):.0f} / {1000 * max(times):.0f} ms",
             "< 200 ms"),
            (f"{label}: dashboard, first (analysis) / again", f"{dash_first:.2f} s / {1000 * dash_again:.0f} ms", ""),
            (f"{label}: editor panels, first (relink vectors) / p50 / max",
             f"{panel_first:.2f} s / {1000 * statistics.median(panel_times):.0f} / {1000 * max(panel_times):.0f} ms",
             ""),
        ]
    finally:
        srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qtkit-bench"))
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.src.is_dir():
        raise SystemExit(f"no collection at {args.src}")
    root = args.dir / "serve-live"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(args.src, root, ignore=shutil.ignore_patterns(".qtkit"))
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared corpus is read-only
    files = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.md"))
    rng = random.Random(args.seed)
    sample = rng.sample(files, min(args.sample + 1, len(files)))
    pages = [f"/learn/{rel.split('/')[0]}/questions/{quote(rel.split('/')[1][:-3])}" for rel in sample]
    rows = run(root, pages, "cold cache")
    rows += run(root, pages, "warm cache")
    print(f"\n{len(files)} pages in {args.src.name}/ (copied to {root}); 2 cores\n")
    print(f"| {'measure':<62} | {'figure':>26} | target   |")
    print(f"|{'-' * 64}|{'-' * 28}|----------|")
    for name, figure, target in rows:
        print(f"| {name:<62} | {figure:>26} | {target:<8} |")


if __name__ == "__main__":
    main()
