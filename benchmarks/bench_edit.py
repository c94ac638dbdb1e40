"""Time a one-value edit (load + edit + save) per file: qtkit vs ruamel.yaml round trip vs
python-frontmatter, on the same files in one run, and print the ratios.

    python benchmarks/bench_edit.py [--files N] [--repeat R]

Files: ../shared/corpus/real and ../shared/seeds when present, plus the shipped examples,
plus generated files up to N. qtkit's save is its real one (verify by re-parsing, atomic
temp file + fsync + rename); the others write the file directly, as a user's script would.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import frontmatter
from ruamel.yaml import YAML

import qtkit
from synthetic import generate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NEW_TITLE = "An edited title: with a colon"


def edit_qtkit(path: Path) -> None:
    doc = qtkit.load(path)
    doc["title"] = NEW_TITLE
    doc.save()


def edit_ruamel(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    _, fm, body = text.split("---\n", 2)
    yaml = YAML()  # round-trip mode
    data = yaml.load(fm)
    data["title"] = NEW_TITLE
    out = io.StringIO()
    yaml.dump(data, out)
    path.write_text("---\n" + out.getvalue() + "---\n" + body, encoding="utf-8")


def edit_frontmatter(path: Path) -> None:
    post = frontmatter.load(path)
    post["title"] = NEW_TITLE
    path.write_text(frontmatter.dumps(post), encoding="utf-8")


def corpus(n: int, work: Path) -> list[Path]:
    sources = sorted((SHARED / "corpus" / "real").glob("*.md")) + sorted((SHARED / "seeds").glob("*.txt"))
    sources += sorted((ROOT / "examples").glob("*.md"))
    if len(sources) < n:
        generate(work / "generated", n - len(sources), seed=1)
        sources += sorted((work / "generated").glob("*.md"))
    return sources[:n]


def run(fn, sources: list[Path], work: Path, repeat: int) -> float:
    """Median over `repeat` rounds of the mean seconds per file."""
    rounds = []
    for r in range(repeat):
        target = work / f"{fn.__name__}-{r}"
        target.mkdir()
        copies = [target / f"{i}-{p.name}" for i, p in enumerate(sources)]
        for src, dst in zip(sources, copies):
            shutil.copyfile(src, dst)
        start = time.perf_counter()
        for path in copies:
            fn(path)
        rounds.append((time.perf_counter() - start) / len(copies))
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = corpus(args.files, work)
        results = {fn.__name__: run(fn, sources, work, args.repeat) for fn in (edit_qtkit, edit_ruamel, edit_frontmatter)}
    base = results["edit_qtkit"]
    print(f"one-value edit (load + set title + save), {len(sources)} files, median of {args.repeat} rounds\n")
    print(f"| {'tool':<38} | {'ms/file':>8} | {'vs qtkit':>9} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 11}|")
    names = {
        "edit_qtkit": "qtkit (verify + atomic fsync write)",
        "edit_ruamel": "ruamel.yaml round trip (plain write)",
        "edit_frontmatter": "python-frontmatter (plain write)",
    }
    for key, secs in results.items():
        print(f"| {names[key]:<38} | {secs * 1000:8.3f} | {secs / base:8.1f}x |")
    print(f"\nqtkit is {results['edit_ruamel'] / base:.1f}x faster than ruamel.yaml's round trip (target >= 3x)")


if __name__ == "__main__":
    main()
