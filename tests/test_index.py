"""Collection: config and root discovery, cache invalidation, lookups, broken files."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtkit.config import load_config
from qtkit.errors import ConfigError
from qtkit.index import Collection, decode_data, encode_data, path_filter
from qtkit.yamlio import same

from .conftest import REAL, needs_shared, ex
from .test_document import _front


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
    assert len(coll) == 15  # 14 questions, one of them (103) cross-listed on two pages
    assert coll.max_id() == 114
    assert [r.relpath for r in coll.pages(103)] == ["economics/" + ex(103).split("/")[1], ex(103)]
    assert coll.page("/learn/economics/questions/what-is-opportunity-cost").id == 112
    assert coll.page(ex(112)).id == 112 and coll.page("/learn/no/questions/such") is None
    assert coll.get(105).data["title"] == "What is the difference between a process and a thread?"
    assert coll.by_url("/learn/physics/questions/what-is-opportunity-cost") is None
    assert coll.by_url("/learn/economics/questions/what-is-opportunity-cost").id == 112
    assert coll.by_path(collection / ex(101)).id == 101
    assert coll.subjects()["Computer Science"] == 4
    assert [r.id for r in coll] == [101, 102, 103, 103, *range(104, 115)]


def test_targets_name_pages_and_shared_ids_are_ambiguous(collection: Path) -> None:
    from qtkit.errors import Ambiguous, NotFound

    coll = Collection(collection)
    assert [r.relpath for r in coll.targets("105")] == [ex(105)]
    assert [r.relpath for r in coll.targets("/learn/economics/questions/what-is-opportunity-cost")] == [ex(112)]
    assert [r.relpath for r in coll.targets(ex(112))] == [ex(112)]
    with pytest.raises(Ambiguous) as info:
        coll.targets(103)
    assert len(info.value.pages) == 2 and ex(103) in str(info.value)
    assert len(coll.targets(103, every=True)) == 2
    with pytest.raises(NotFound):
        coll.targets("/learn/economics/questions/nothing-here")


def _touch(path: Path, text: str | None = None) -> None:
    if text is not None:
        path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_cache_notices_edit_add_delete_rename(collection: Path) -> None:
    assert Collection(collection).refresh().parsed == 15
    warm = Collection(collection).refresh()
    assert warm.parsed == 0 and warm.scanned == 15
    f = collection / ex(101)
    _touch(f, f.read_text().replace("id: 101", "id: 201"))
    shutil.copy(collection / ex(102), collection / "sub.md")
    (collection / ex(103)).unlink()
    os.rename(collection / ex(104), collection / "renamed.md")
    coll = Collection(collection)
    stats = coll.refresh()
    assert (stats.parsed, stats.removed) == (3, 2)
    assert coll.get(201).relpath == ex(101)
    assert [r.relpath for r in coll.pages(103)] == ["economics/" + ex(103).split("/")[1]]
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
    assert len(coll) == 15


def test_id_gaps_and_hidden_folders(tmp_path: Path) -> None:
    src = Path(__file__).parents[1] / "examples"
    for name in (ex(101), ex(114)):
        shutil.copy(src / name, tmp_path / name.split("/")[1])
    (tmp_path / ".git").mkdir()
    shutil.copy(src / ex(110), tmp_path / ".git" / "x.md")
    coll = Collection(tmp_path)
    assert coll.max_id() == 114 and len(coll) == 2


def test_parallel_cold_build_matches_serial(tmp_path: Path) -> None:
    from benchmarks.synthetic import generate

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


def test_cold_bulk_build_matches_incremental_and_survives_a_crash(tmp_path: Path) -> None:
    from benchmarks.synthetic import generate

    generate(tmp_path / "c", 300, seed=9)
    small = Collection(tmp_path / "c", cache=False)
    small.bulk_min = 10**9
    expected = [(r.relpath, r.data, r.body) for r in small]
    coll = Collection(tmp_path / "c")
    coll.bulk_min = 100
    assert coll.refresh(workers=2).parsed == 300
    assert [(r.relpath, r.data, r.body) for r in coll] == expected
    coll.close()
    # a build interrupted before it finished is never trusted: the next open starts over
    db = sqlite3.connect(tmp_path / "c" / ".qtkit" / "index.sqlite")
    with db:
        db.execute("UPDATE meta SET value = 'building' WHERE key = 'state'")
        db.execute("UPDATE files SET qid = 999999 WHERE qid IS NOT NULL")
    db.close()
    again = Collection(tmp_path / "c")
    assert again.refresh().parsed == 300 and again.max_id() == max(d["id"] for _, d, _ in expected)


def test_damaged_cache_is_rebuilt(collection: Path) -> None:
    Collection(collection).refresh()
    cache = collection / ".qtkit" / "index.sqlite"
    for suffix in ("-wal", "-shm"):
        cache.with_name(cache.name + suffix).unlink(missing_ok=True)
    cache.write_bytes(b"this is not a database" * 100)
    coll = Collection(collection)
    assert coll.refresh().parsed == 15 and coll.max_id() == 114


@pytest.mark.parametrize(
    "front, expected",
    [
        ("id: 123456789012345678901234567890\n", {"id": 123456789012345678901234567890}),  # beyond orjson's ints
        ("score: .nan\nx: .inf\n", None),  # NaN and infinity need the standard library's JSON
        ("when: 2024-05-01\nlist:\n- 2024-05-02\n- {d: 2024-05-03}\n", None),
        ("$date: x\n", {"$date": "x"}),
    ],
)
def test_cache_codec_keeps_every_value(tmp_path: Path, front: str, expected: dict | None) -> None:
    (tmp_path / "q.md").write_text(f"---\n{front}---\nbody\n")
    data = Collection(tmp_path).by_path("q.md").data
    want = _front((tmp_path / "q.md").read_bytes())
    assert same(data, want)
    if expected is not None:
        assert data == expected
    assert same(Collection(tmp_path).by_path("q.md").data, want)  # and again from the warm cache


def test_path_filter() -> None:
    wanted = path_filter("**/*.md", ("README.md", "drafts/**/*.md"))
    assert wanted("a.md") and wanted("x/y/a.md") and wanted("x/README.md")
    assert not wanted("README.md") and not wanted("a.txt") and not wanted("drafts/a.md") and not wanted("drafts/x/a.md")
    only = path_filter("questions/*.md")
    assert only("questions/a.md") and not only("questions/x/a.md") and not only("a.md")


def test_exact_excludes_name_one_path_only() -> None:
    """An exclude without `*` or `?` names one path from the root (brackets are literal)."""
    wanted = path_filter("**/*.md", ("README.md", "a[1].md", "x/b.md"))
    assert not wanted("README.md") and not wanted("a[1].md") and not wanted("x/b.md")
    assert wanted("x/README.md") and wanted("a1.md") and wanted("y/x/b.md") and wanted("x/b.mdx.md")


_globs = st.text(alphabet="ab/.*?[", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(include=st.sampled_from(["**/*.md", "**/*", "*.md", "a/*.md", "**/a*.md"]),
       exclude=st.lists(_globs, max_size=3), paths=st.lists(st.text(alphabet="ab/.[", max_size=8).map(lambda p: p + ".md"),
                                                             max_size=10))
def test_path_filter_is_the_globs(include: str, exclude: list[str], paths: list[str]) -> None:
    """Whatever shortcut it takes, `path_filter` says what the glob regexes say."""
    from qtkit.scan import glob_regex

    wanted = path_filter(include, exclude)
    for rel in paths:
        expected = bool(glob_regex(include).match(rel)) and not any(glob_regex(p).match(rel) for p in exclude)
        assert wanted(rel) == expected, (include, exclude, rel)


def test_scan_lists_what_a_walk_finds(tmp_path: Path) -> None:
    """The scan lists every wanted regular file (not hidden, not through a symlink) with its
    lstat size and mtime, every folder's mtime, and removes dead processes' temp files."""
    from qtkit.files import TEMP_SUFFIX
    from qtkit.scan import scan

    for rel in ("a.md", "b.txt", "s/c.md", "s/t/d.md", ".hidden/e.md", "s/.f.md", "README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x" * len(rel))
    (tmp_path / "link.md").symlink_to(tmp_path / "a.md")
    (tmp_path / "linked").symlink_to(tmp_path / "s")
    dead = tmp_path / "s" / f".c.md.999999999.x{TEMP_SUFFIX}"
    dead.write_text("half")
    listing = scan(str(tmp_path), path_filter("**/*.md", ("README.md",)))
    assert not dead.exists()
    expected = {(rel, (tmp_path / rel).lstat().st_size, (tmp_path / rel).lstat().st_mtime_ns)
                for rel in ("a.md", "s/c.md", "s/t/d.md")}
    assert listing.stats() == expected and len(listing.paths) == 3
    assert set(listing.dirs) == {"", "s", "s/t"}
    assert listing.dirs["s/t"] == (tmp_path / "s" / "t").stat().st_mtime_ns
    assert listing.digest() == scan(str(tmp_path), path_filter("**/*.md", ("README.md",))).digest()


_keys = st.one_of(st.sampled_from(["$date", "$datetime", "$dict", "a", "date"]), st.text(max_size=5))
_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), st.dates(),
                    st.datetimes(), st.sampled_from(["2024-01-01", "$date"]))
_trees = st.recursive(_leaves, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(_keys, c, max_size=3)),
                      max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(_keys, _trees, max_size=4), plain=st.booleans())
def test_cache_codec_round_trips_any_tree(data: dict, plain: bool) -> None:
    plain = plain and "nan" not in repr(data) and "inf" not in repr(data)  # the fast reader never yields those
    assert same(decode_data(*encode_data(data, plain=plain)), data)


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(_keys, _trees, max_size=5))
def test_layout_matches_flatten(data: dict) -> None:
    from qtkit.shapes import flatten, layout

    assert layout(data) == "\n".join(name for name, _ in flatten(data))


def test_fast_reader_reports_date_paths() -> None:
    from qtkit.reader import read_fast

    dates: list = []
    data, _ = read_fast(b"---\nid: 1\ndate: 2024-01-02\nseo:\n  when: 2024-02-03\n  t: x\n---\n", None, dates)
    assert dates == [["date"], ["seo", "when"]] and str(data["seo"]["when"]) == "2024-02-03"


def _statements(coll: Collection) -> list[str]:
    seen: list[str] = []
    coll._db.set_trace_callback(seen.append)
    return seen


def test_warm_refresh_trusts_the_stored_listing_without_loading_the_rows(collection: Path) -> None:
    Collection(collection).refresh()
    Collection(collection).refresh()  # the first warm refresh stores the listing's digest
    coll = Collection(collection)
    seen = _statements(coll)
    stats = coll.refresh()
    assert stats.scanned == 15 and stats.parsed == 0
    assert not [s for s in seen if "FROM files" in s and "size" in s]  # the rows' stats were not loaded
    path = collection / ex(105)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # same bytes, new mtime
    coll = Collection(collection)
    assert coll.refresh().parsed == 1


@pytest.mark.parametrize("bulk", [False, True])
def test_the_listing_goes_stale_when_any_writer_changes_the_rows(collection: Path, bulk: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing stored before `put` (set --where's batch) no longer vouches for the rows:
    with the file's old bytes and mtime put back, the next refresh reads it again (also
    after a cold build, which fills the tables without the triggers that count changes)."""
    from qtkit.edit import set_where

    if bulk:
        monkeypatch.setattr(Collection, "bulk_min", 10)

    path = collection / ex(105)
    old, st = path.read_bytes(), path.stat()
    Collection(collection).refresh()
    Collection(collection).refresh()
    set_where(["id=105"], {"score": 7}, root=collection)  # rows updated by `Collection.add`, no refresh
    path.write_bytes(old)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the disk is as the listing saw it
    assert Collection(collection).get(105).data == Collection(collection, cache=False).get(105).data


def test_names_a_file_tells_paths_from_ids_and_urls(collection: Path, tmp_path: Path) -> None:
    from qtkit.edit import names_a_file, resolve

    existing = collection / ex(105)
    assert names_a_file(existing, collection) and names_a_file(str(existing))
    assert not names_a_file("105", collection) and not names_a_file("-3")
    assert names_a_file("105.md")  # a file name, not an id
    assert names_a_file("missing/page.md") and not names_a_file("missing/page.md", collection)
    assert not names_a_file("/learn/economics/questions/what-is-opportunity-cost", collection)
    assert names_a_file(str(tmp_path / "new.md"), collection)  # absolute, missing, in an existing folder
    assert not names_a_file("/no/such/folder/page.md", collection)
    assert resolve("/learn/economics/questions/what-is-opportunity-cost", collection) == [collection / ex(112)]


@pytest.mark.parametrize("url", [
    "/learn/economics/questions/what-is-opportunity-cost/",  # a trailing slash
    "https://www.example.org/learn/economics/questions/what-is-opportunity-cost",  # as a browser shows it
    "http://localhost:1313/learn/economics/questions/what-is-opportunity-cost/?ref=x#answer",
])
def test_a_url_as_copied_from_a_browser_names_its_page(collection: Path, url: str) -> None:
    from qtkit.edit import resolve

    assert Collection(collection).page(url).relpath == ex(112)
    assert resolve(url, collection) == [collection / ex(112)]


def test_a_url_of_no_page_is_not_found(collection: Path) -> None:
    assert Collection(collection).page("https://www.example.org/learn/economics/questions/nope/") is None
    assert Collection(collection).page("/") is None


def test_a_collection_is_true_without_being_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`collection or Collection(root)` (every command's entry) neither refreshes nor
    counts a collection it is given, empty or not."""
    coll = Collection(tmp_path)
    monkeypatch.setattr(Collection, "_ensure", lambda self: pytest.fail("the collection was refreshed"))
    assert (coll or None) is coll
