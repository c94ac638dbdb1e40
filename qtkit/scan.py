"""Finding the wanted question files under a root, with their size and mtime: the globs
that choose them, the full scan a refresh compares with the cache, and the quick re-list
of the folders whose mtime changed."""

from __future__ import annotations

import gc
import hashlib
import os
import re
from array import array
from dataclasses import dataclass, field
from typing import Callable

from .files import TEMP_SUFFIX, remove_stale_temps

Stat = tuple[str, int, int]  # (path relative to the root with `/`, size, st_mtime_ns)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob where `**/` spans folders and `*` stays within one."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def path_filter(include: str, exclude: tuple[str, ...] | list[str] = ()) -> Callable[[str], bool]:
    """A test for relative paths: matches the `include` glob and none of the `exclude` globs."""
    exact = frozenset(p for p in exclude if "*" not in p and "?" not in p)  # "README.md": a set lookup
    patterns = [p for p in exclude if p not in exact]
    excluded = re.compile("|".join(f"(?:{glob_regex(p).pattern})" for p in patterns)).match if patterns else None
    simple = re.fullmatch(r"\*\*/\*([^*?\[\]/]*)", include)  # "**/*.md": a suffix test is enough
    if simple and excluded is None:
        end = simple.group(1)
        return lambda rel: rel.endswith(end) and rel not in exact
    included = (lambda rel, end=simple.group(1): rel.endswith(end)) if simple else glob_regex(include).match
    return lambda rel: bool(included(rel)) and rel not in exact and not (excluded and excluded(rel))


@dataclass
class Listing:
    """Every wanted file under a root, in the order found: its path (relative, with `/`),
    size and mtime (ns), in three lists; and every folder's mtime by relative path."""

    paths: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    mtimes: list[int] = field(default_factory=list)
    dirs: dict[str, int] = field(default_factory=dict)

    def stats(self) -> set[Stat]:
        """The (path, size, mtime) of every file."""
        return set(zip(self.paths, self.sizes, self.mtimes))

    def digest(self) -> str:
        """A hash of the paths, sizes and mtimes in order: equal digests, equal listings."""
        h = hashlib.blake2b(digest_size=20)
        h.update("\0".join(self.paths).encode("utf-8", "surrogateescape"))
        h.update(array("q", self.sizes).tobytes())
        h.update(array("q", self.mtimes).tobytes())
        return h.hexdigest()


@dataclass
class RefreshStats:
    """What a refresh of the index found (`Collection.refresh`)."""

    scanned: int = 0
    parsed: int = 0
    removed: int = 0
    errors: int = 0
    seconds: float = 0.0
    #: a digest of (path, size, mtime) of every file, when the refresh listed every file:
    #: equal digests, the same files as they were (None after a quick refresh)
    listing: str | None = None
    #: that listing itself (`Listing`), when there is one: what a command that then writes
    #: files needs to know the listing it leaves without listing again
    files: Listing | None = field(default=None, repr=False)


def scan(root: str, wanted: Callable[[str], bool]) -> Listing:
    """Every wanted file under `root`, with its size and mtime (hidden files and folders
    skipped; qtkit's stale temporary files removed on the way), and every folder's mtime.

    The cyclic garbage collector is paused meanwhile: the hundreds of thousands of tuples
    made here hold no cycles, and collecting them as they are made would cost a quarter of
    the scan."""
    listing = Listing()
    dirs = listing.dirs
    add_path, add_size, add_mtime = listing.paths.append, listing.sizes.append, listing.mtimes.append
    stack = [""]
    paused = gc.isenabled()
    gc.disable()
    try:
        while stack:
            rel_dir = stack.pop()
            full = os.path.join(root, rel_dir) if rel_dir else root
            try:
                dirs[rel_dir] = os.stat(full).st_mtime_ns
                found = os.scandir(full)
            except OSError:
                continue
            prefix = f"{rel_dir}/" if rel_dir else ""
            stale = []
            try:  # one entry at a time: no list of every entry (and its cached stat) is kept
                with found:
                    for entry in found:
                        name = entry.name
                        if name[0] == ".":
                            if name.endswith(TEMP_SUFFIX):
                                stale.append(name)
                        elif entry.is_file(follow_symlinks=False):
                            rel = prefix + name if prefix else name
                            if wanted(rel):
                                try:
                                    st = entry.stat(follow_symlinks=False)
                                except OSError:
                                    continue
                                add_path(rel)
                                add_size(st.st_size)
                                add_mtime(st.st_mtime_ns)
                        elif entry.is_dir(follow_symlinks=False):
                            stack.append(prefix + name)
            except OSError:  # the folder went away while it was read: what was found
                pass
            if stale:
                remove_stale_temps(full, stale)
    finally:
        if paused:
            gc.enable()
    return listing


def changed_dirs(root: str, known: dict[str, int]) -> dict[str, int]:
    """Folders whose mtime changed (a file was added, removed or renamed in them) since
    `known` ({relative path: mtime}); a folder gone has mtime -1."""
    changed: dict[str, int] = {}
    for rel_dir, mtime in known.items():
        try:
            now = os.stat(os.path.join(root, rel_dir) if rel_dir else root).st_mtime_ns
        except OSError:
            now = -1
        if now != mtime:
            changed[rel_dir] = now
    return changed


def list_dirs(root: str, wanted: Callable[[str], bool], changed: dict[str, int],
              cached: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """{path: (size, mtime)} of the wanted files now in the `changed` folders; files
    already `cached` keep their cached stat (a quick refresh does not see in-place edits)."""
    seen: dict[str, tuple[int, int]] = {}
    for rel_dir, mtime in changed.items():
        if mtime == -1:
            continue
        full = os.path.join(root, rel_dir) if rel_dir else root
        for entry in os.scandir(full):
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if rel in cached:
                seen[rel] = cached[rel]
            elif not entry.name.startswith(".") and entry.is_file(follow_symlinks=False) and wanted(rel):
                st = entry.stat(follow_symlinks=False)
                seen[rel] = (st.st_size, st.st_mtime_ns)
    return seen
