"""Retake the screenshots in docs/img/ (used by docs/serve.md).

    python docs/screenshots.py [--root examples] [--chromium /usr/bin/chromium]

Copies the collection to a temporary folder, starts `qtkit serve` on a free loopback
port, waits until the dashboard's background work is done, and lets headless Chromium
(no network, a fresh profile) take each picture at 1280 px wide.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--virtual-time-budget=5000"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=HERE.parent / "examples")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=HERE / "img")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "collection"
        shutil.copytree(args.root, root, ignore=shutil.ignore_patterns(".qtkit"))
        proc = subprocess.Popen([sys.executable, "-m", "qtkit", "serve", "--root", str(root), "--port", "0"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        found: list[str] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                m = re.search(r"at (http://127\.0\.0\.1:\d+)/", line)
                if m:
                    found.append(m.group(1))

        threading.Thread(target=read, daemon=True).start()
        try:
            deadline = time.monotonic() + 60
            while not found and time.monotonic() < deadline:
                time.sleep(0.05)
            url = found[0]
            urllib.request.urlopen(url + "/", timeout=120).read()  # the background work, done once
            pages = {"serve-dashboard.png": ("/", 760)}
            from qtkit.index import Collection

            coll = Collection(root)
            def formulas(record: object) -> int:
                answer = str(record.data.get("answer"))  # type: ignore[attr-defined]
                return sum(answer.count(mark) for mark in ("\\(", "\\[", "$$"))

            records = sorted(coll, key=lambda r: (-formulas(r), r.relpath))
            math_page = records[0]
            rel = math_page.relpath
            page_url = f"/file/{rel}"
            if rel.count("/") == 1:
                folder, stem = rel[:-3].split("/")
                page_url = f"/learn/{folder}/questions/{stem}"
            elif isinstance(math_page.data.get("url"), str):
                page_url = math_page.data["url"]
            coll.close()
            urllib.request.urlopen(url + "/panels/" + rel, timeout=120).read()
            pages["serve-page.png"] = (page_url, 1000)
            pages["serve-search.png"] = ("/search?q=rule", 700)
            for name, (path, height) in pages.items():
                with tempfile.TemporaryDirectory() as profile:
                    subprocess.run([args.chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size=1280,{height}",
                                    f"--screenshot={args.out / name}", url + path],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=True)
                print(f"{args.out / name}: {path}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
