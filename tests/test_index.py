"""Collection: config and root discovery, cache invalidation, lookups, broken files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qtkit.config import load_config
from qtkit.errors import ConfigError
from qtkit.index import Collection

from .conftest import REAL, needs_shared


def test_root_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "qtkit.toml").write_text('site_name = "Site"\nrelated_count = 3\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.delenv("QTKIT_ROOT", raising=False)
    monkeypatch.chdir(deep)
    config = load_config()
    assert config.root == tmp_path.resolve() and config.site_name == "Site" and config.related_count == 3
    monkeypatch.setenv("QTKIT_ROOT", str(deep))
    assert load_config().root == deep.resolve()
    assert load_config(tmp_path / "a").root == (tmp_path / "a").resolve()


def test_bad_config_is_reported(tmp_path: Path) -> None:
    (tmp_path / "qtkit.toml").write_text("related_count = 'five'\n")
    with pytest.raises(ConfigError, match="related_count"):
        load_config(tmp_path)
    (tmp_path / "qtkit.toml").write_text("[[[")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path)


def test_lookups(collection: Path) -> None:
    coll = Collection(collection)
    assert len(coll) == 14
    assert coll.max_id() == 114
    assert coll.get(105).data["title"] == "What is the difference between a process and a thread?"
    assert coll.by_url("/learn/physics/questions/what-is-opportunity-cost") is None
    assert coll.by_url("/learn/economics/questions/what-is-opportunity-cost").id == 112
    assert coll.by_path(collection / "101.md").id == 101
    assert coll.subjects()["Computer Science"] == 4
    assert [r.id for r in coll] == list(range(101, 115))


def _touch(path: Path, text: str | None = None) -> None:
    if text is not None:
        path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_cache_notices_edit_add_delete_rename(collection: Path) -> None:
    assert Collection(collection).refresh().parsed == 14
    warm = Collection(collection).refresh()
    assert warm.parsed == 0 and warm.scanned == 14
    f = collection / "101.md"
    _touch(f, f.read_text().replace("id: 101", "id: 201"))
    shutil.copy(collection / "102.md", collection / "sub.md")
    (collection / "103.md").unlink()
    os.rename(collection / "104.md", collection / "renamed.md")
    coll = Collection(collection)
    stats = coll.refresh()
    assert (stats.parsed, stats.removed) == (3, 2)
    assert coll.get(201).relpath == "101.md"
    assert coll.get(103) is None
    assert coll.get(104).relpath == "renamed.md"
    assert coll.max_id() == 201


def test_broken_file_is_reported_and_skipped(collection: Path) -> None:
    (collection / "bad.md").write_text("---\nid: 5\ntitle: a: b\n---\n")
    (collection / "nofm.md").write_bytes(b"hello\xff")
    coll = Collection(collection)
    coll.refresh()
    errors = coll.errors()
    assert errors[0].startswith("bad.md:3:") and "invalid YAML" in errors[0]
    assert errors[1].startswith("nofm.md:1:")
    assert len(coll) == 14


def test_id_gaps_and_hidden_folders(tmp_path: Path) -> None:
    src = Path(__file__).parents[1] / "examples"
    for name in ("101.md", "114.md"):
        shutil.copy(src / name, tmp_path / name)
    (tmp_path / ".git").mkdir()
    shutil.copy(src / "110.md", tmp_path / ".git" / "x.md")
    coll = Collection(tmp_path)
    assert coll.max_id() == 114 and len(coll) == 2


def test_parallel_cold_build_matches_serial(tmp_path: Path) -> None:
    from qtkit.synthetic import generate

    generate(tmp_path / "c", 700, seed=5)
    serial = Collection(tmp_path / "c", cache=False)
    serial.refresh(workers=1)
    parallel = Collection(tmp_path / "c")
    stats = parallel.refresh(workers=2)
    assert stats.parsed == 700
    assert [r.data for r in serial] == [r.data for r in parallel]


@needs_shared
def test_real_corpus_indexes_without_errors(tmp_path: Path) -> None:
    for path in REAL:
        shutil.copy(path, tmp_path / (path.stem + ".md"))
    coll = Collection(tmp_path)
    coll.refresh()
    assert coll.errors() == []
    assert len(coll) == len(REAL)
