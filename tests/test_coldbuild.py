"""The cold build on every core fills the cache exactly as a build in one process does:
the same rows, ids and layout ids, even when a worker's chunks come late."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from qtkit import coldbuild
from qtkit.index import Collection


def _tables(db: sqlite3.Connection) -> dict[str, list]:
    return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in ("files", "docs", "layouts")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list]]:
    from benchmarks.synthetic import generate

    root = tmp_path_factory.mktemp("cold") / "c"
    generate(root, 400, seed=11)
    (root / "broken.md").write_text("---\nid: 1\ntitle: a: b\n---\n")
    (root / "odd.md").write_text("---\nid: 2\ntags: [a, b]\nnested:\n  deep: {x: 1}\n---\nbody\n")
    serial = Collection(root, cache=False)
    serial.refresh(workers=1)
    expected = _tables(serial._db)
    assert len(expected["layouts"]) > 3 and any(row[10] for row in expected["files"])  # layouts and an error
    return root, expected


def _cold(root: Path) -> dict[str, list]:
    shutil.rmtree(root / ".qtkit", ignore_errors=True)
    coll = Collection(root)
    coll.bulk_min = 10
    assert coll.refresh(workers=2).parsed == 402
    tables = _tables(coll._db)
    coll.close()
    assert not list((root / ".qtkit").glob("build-*")), "chunk files left behind"
    return tables


def test_cold_build_in_chunks_matches_one_process(corpus: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    root, expected = corpus
    monkeypatch.setattr(coldbuild, "chunk_size", lambda total, workers: 23)
    assert _cold(root) == expected


def test_late_worker_chunks_still_give_the_same_rows_and_layout_ids(corpus: tuple[Path, dict],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """This process puts its own chunks in ahead of a worker's late one (no backlog
    allowed): the layouts are numbered again, in order of first use, as in order."""
    root, expected = corpus
    build = coldbuild.build_chunks

    def late(*args) -> None:  # (in the worker only) each file takes a while
        parse = coldbuild.parse_file
        coldbuild.parse_file = lambda job: (time.sleep(0.02), parse(job))[1]
        build(*args)

    monkeypatch.setattr(coldbuild, "build_chunks", late)
    monkeypatch.setattr(coldbuild, "BACKLOG", 0)
    monkeypatch.setattr(coldbuild, "chunk_size", lambda total, workers: 7)
    early = []
    renumber = coldbuild.Filler.renumber_layouts

    def spy(self) -> None:
        early.append(sorted(self.early))
        renumber(self)

    monkeypatch.setattr(coldbuild.Filler, "renumber_layouts", spy)
    assert _cold(root) == expected
    assert early and early[0], "no chunk went in ahead of a worker's"


def test_a_failed_worker_fails_the_build_and_leaves_no_chunk_files(corpus: tuple[Path, dict],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root, expected = corpus
    build, flag = coldbuild.build_chunks, root.parent / "failed-once"

    def broken(*args) -> None:  # the first worker fails; the build in memory that follows works
        if not flag.exists():
            flag.touch()
            raise SystemExit(3)
        build(*args)

    monkeypatch.setattr(coldbuild, "build_chunks", broken)
    shutil.rmtree(root / ".qtkit", ignore_errors=True)
    with pytest.warns(Warning, match="could not be written"):
        coll = Collection(root)
        coll.bulk_min = 10
        coll.refresh(workers=2)
    assert _tables(coll._db) == expected  # read again in memory
    assert not list((root / ".qtkit").glob("build-*"))
