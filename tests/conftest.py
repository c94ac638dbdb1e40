"""Shared fixtures: the real corpus and seeds (skipped cleanly when ../shared is absent)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QTKIT_SHARED") or ROOT.parent / "shared")  # QTKIT_SHARED: another place
EXAMPLES = sorted((ROOT / "examples").glob("**/*.md"))
#: the shipped examples by id, laid out like the site (103 is cross-listed: economics/ has a copy)
EXAMPLE = {101: 'mathematics/how-do-you-compute-the-derivative-of--x2-sin-x-.md',
           102: 'mathematics/what-does-the-product-rule-say.md',
           103: 'mathematics/when-is-a-pvalue-below-005-considered-significant.md',
           104: 'computer-science/how-do-you-reverse-a-list-in-python.md',
           105: 'computer-science/what-is-the-difference-between-a-process-and-a-thread.md',
           106: 'computer-science/why-does-c-need-virtual-destructors.md',
           107: 'computer-science/how-do-you-add-cmingwbin-to-the-path-on-windows.md',
           108: 'history-of-the-world/what-caused-the-fall-of-the-western-roman-empire.md',
           109: 'history-of-the-world/why-did-the-byzantine-empire-last-longer-than-the-western-empire.md',
           110: 'physics/what-is-the-relation-between-force-mass-and-acceleration.md',
           111: 'physics/what-does-the-symbol--nu--mean-in-wave-equations.md',
           112: 'economics/what-is-opportunity-cost.md',
           113: 'economics/what-is-the-difference-between-gdp-and-gnp.md',
           114: 'economics/why-do-caf-prices-end-in-99.md'}


def ex(qid: int) -> str:
    """The path of example question `qid`, relative to the example collection's root."""
    return EXAMPLE[qid]
REAL = sorted((SHARED / "corpus" / "real").glob("*.md")) + sorted((SHARED / "seeds").glob("*.txt"))

needs_shared = pytest.mark.skipif(not REAL, reason="../shared/corpus/real is not present")


def corpus_params() -> list:
    """Every real file (skipped without ../shared) plus every shipped example."""
    real = [pytest.param(p, id=p.name, marks=needs_shared) for p in REAL]
    return real + [pytest.param(p, id="examples/" + p.relative_to(ROOT / "examples").as_posix()) for p in EXAMPLES]


def only_span_changed(old: bytes, new: bytes, span: tuple[int, int] | None) -> bool:
    """True if `new` equals `old` outside the 1-based line `span` (None: a pure insertion)."""
    a, b = old.split(b"\n"), new.split(b"\n")
    if span is None:
        prefix = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        suffix = next((i for i, (x, y) in enumerate(zip(reversed(a), reversed(b))) if x != y), min(len(a), len(b)))
        return prefix + suffix >= len(a) and len(b) >= len(a)
    head, tail = a[: span[0] - 1], a[span[1] :]
    return b[: len(head)] == head and (not tail or b[-len(tail) :] == tail) and len(b) >= len(head) + len(tail)


def copy_writable(src: Path, dest: Path) -> Path:
    """Copy a file and make the copy writable (the shared corpus is read-only)."""
    shutil.copyfile(src, dest)
    dest.chmod(0o644)
    return dest


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """A copy of the shipped example collection under tmp_path."""
    dest = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", dest, ignore=shutil.ignore_patterns(".qtkit"))  # never a stale cache
    return dest


CAMPAIGN: list[str] = []  # kill-campaign reports, printed at the end of the run


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest hook
    if CAMPAIGN:
        terminalreporter.write_sep("-", "kill -9 campaign")
        for line in CAMPAIGN:
            terminalreporter.write_line(line)
