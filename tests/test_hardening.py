"""Hardening: kill -9 at random moments, failing writes, two writers, hostile files.

The kill campaign runs a reduced count in CI; the full one:

    QTKIT_FAULT_RUNS=200 QTKIT_FAULT_N=20000 python -m pytest tests/test_hardening.py -k campaign -s
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import qtkit
from qtkit import files
from qtkit.cli import app
from qtkit.errors import QtkitError
from qtkit.files import TEMP_SUFFIX
from qtkit.locks import collection_lock
from benchmarks.synthetic import generate

from .conftest import CAMPAIGN, ex

runner = CliRunner()
RUNS = int(os.environ.get("QTKIT_FAULT_RUNS", "2"))
N = int(os.environ.get("QTKIT_FAULT_N", "600"))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
            and ".qtkit" not in p.parts}


def _qtkit(*args: str, root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, "-m", "qtkit", *args, "--root", str(root)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _prepare(kind: str, root: Path, work: Path) -> list[str]:
    """Make `root` need work for `kind`; return the command's arguments."""
    if kind == "relink":
        return ["relink"]
    if kind == "check --fix":
        for path in sorted(root.glob("*.md"))[::3]:  # a third of the files get a fixable defect
            path.write_bytes(path.read_bytes().replace(b"  title: QuickTakes | ", b"  title: QuickTakes |  ", 1))
        return ["check", "--fix"]
    if kind == "rename":  # the most linked question: its file and every inbound link change together
        counts: dict[str, int] = {}
        for path in root.glob("*.md"):
            for qid in re.findall(r"related_article\d+:\n    id: (\d+)", path.read_text()):
                counts[qid] = counts.get(qid, 0) + 1
        return ["rename", max(counts, key=counts.__getitem__), "--title", "What is a question renamed mid-flight?"]
    if kind == "import new":  # 50 questions with new ids, created through the path `new` takes
        first = 1 + max(int(p.stem) for p in root.glob("*.md"))
        records = [{"id": first + i, "question": f"What is new question number {i} about?", "subject": "Engineering",
                    "answer": f"An answer to question {i}.", "date": "2025-01-15"} for i in range(50)]
        source = work / "new.json"
        source.write_text(json.dumps(records), encoding="utf-8")
        return ["import", str(source)]
    source = work / "edited.csv"
    done = subprocess.run([sys.executable, "-m", "qtkit", "export", "--to", "csv", "-o", str(source), "--root",
                           str(root)], capture_output=True)
    assert done.returncode == 0, done.stderr
    text = source.read_text(encoding="utf-8-sig").replace(',"QuickTakes",', ',"QuickTakes Imported",')
    assert "QuickTakes Imported" in text
    source.write_text(text, encoding="utf-8")
    shutil.rmtree(root / ".qtkit", ignore_errors=True)
    return ["import", str(source)]


@pytest.mark.parametrize("kind", ["relink", "import", "check --fix", "rename", "import new"])
def test_kill_campaign(tmp_path: Path, kind: str) -> None:
    pristine = tmp_path / "pristine"
    generate(pristine, N, seed=21)
    args = _prepare(kind, pristine, tmp_path)
    old = _snapshot(pristine)
    # the new version: the command run to completion on a copy
    done = tmp_path / "done"
    shutil.copytree(pristine, done)
    start = time.monotonic()
    proc = _qtkit(*args, root=done)
    proc.wait()
    duration = time.monotonic() - start
    assert proc.returncode in (0, 1), proc.stderr.read()
    new = _snapshot(done)
    assert new != old
    rng = random.Random(7)
    killed = checked = lost = 0
    for run in range(RUNS):
        root = tmp_path / f"run{run}"
        shutil.copytree(pristine, root)
        proc = _qtkit(*args, root=root)
        time.sleep(rng.uniform(0.1, duration))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        for name, data in _snapshot(root).items():
            if name.endswith(TEMP_SUFFIX):
                continue  # left by the killed process; the next run removes it
            checked += 1
            if data not in (old.get(name), new.get(name)):
                lost += 1
            else:
                qtkit.loads(data)  # and it parses
        again = _qtkit(*args, root=root)
        again.wait()
        assert again.returncode in (0, 1), again.stderr.read()
        after = _snapshot(root)
        assert {k: v for k, v in after.items() if not k.endswith(TEMP_SUFFIX)} == new  # the rerun finishes the job
        assert not [k for k in after if k.endswith(TEMP_SUFFIX)]
        shutil.rmtree(root)
    CAMPAIGN.append(f"{kind}: {N} files, runs killed {killed}/{RUNS}, files checked {checked}, "
                    f"files lost or corrupted {lost}")
    assert lost == 0


def test_disk_full_read_only_and_permission_denied(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = collection / ex(101)
    before = target.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(files.os, "fsync", full)
        result = runner.invoke(app, ["set", str(target), "title=Will not fit"])
    assert result.exit_code == 1 and "No space left on device" in result.output and ex(101) in result.output
    assert target.read_bytes() == before and not [p for p in collection.iterdir() if TEMP_SUFFIX in p.name]

    target.chmod(0o444)  # a file without write bits in a writable folder is written (as sed -i, git do), mode kept
    result = runner.invoke(app, ["set", str(target), "title=Read only"])
    assert result.exit_code == 0 and qtkit.load(target)["title"] == "Read only"
    assert target.stat().st_mode & 0o777 == 0o444
    target.chmod(0o644)
    target.write_bytes(before)

    real_open = os.open

    def denied(path, flags, *args, **kwargs):  # noqa: ANN001, ANN202 - creating a file in the folder is refused
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(files.os, "open", denied)
        result = runner.invoke(app, ["set", str(target), "title=No permission"])
    assert result.exit_code == 1 and "Permission denied" in result.output and target.read_bytes() == before


def test_writers_are_serialised(collection: Path) -> None:
    before = _snapshot(collection)
    env = {**os.environ, "QTKIT_LOCK_TIMEOUT": "0.5"}
    with collection_lock(collection):  # another writer holds the collection
        done = subprocess.run([sys.executable, "-m", "qtkit", "relink", "--root", str(collection)], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 1 and "another qtkit command is writing" in done.stderr
        assert _snapshot(collection) == before
        waiting = subprocess.Popen([sys.executable, "-m", "qtkit", "relink", "--root", str(collection)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = waiting.stderr.readline()  # blocks until it says it waits (however slow its start)
        assert "waiting for another qtkit command" in first
        time.sleep(0.5)
        assert waiting.poll() is None  # it waits for the lock
    _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert _snapshot(collection) != before


def _hostile() -> list[tuple[str, bytes, str]]:
    deep = "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)) + "  " * 400 + "x: 1\n"
    return [
        ("bomb.md", b"---\na: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n---\n", "bomb.md:"),
        ("deep.md", ("---\n" + deep + "---\n").encode(), "deep.md"),
        ("latin1.md", b"---\ntitle: caf\xe9\n---\n", "latin1.md:2:"),
        ("nul.md", b"---\ntitle: a\x00b\n---\n", "nul.md"),
        ("open.md", b"---\ntitle: never closed\n", "open.md"),
        ("dup.md", b"---\ntitle: a\ntitle: b\n---\n", "dup.md:3:"),
        ("none.md", b"just text\n", "none.md:1:"),
    ]


@pytest.mark.parametrize("name, raw, where", _hostile(), ids=[h[0] for h in _hostile()])
def test_hostile_files(collection: Path, name: str, raw: bytes, where: str) -> None:
    path = collection / name
    path.write_bytes(raw)
    result = runner.invoke(app, ["set", str(path), "title=x"])
    assert result.exit_code != 0 and where in result.output
    assert path.read_bytes() == raw
    result = runner.invoke(app, ["check", "--root", str(collection), "--select", "QT001"])
    assert result.exit_code == 1 and where.split(":")[0] in result.stdout
    assert path.read_bytes() == raw


def test_enormous_value_is_handled(collection: Path) -> None:
    path = collection / ex(101)
    big = "x" * 20_000_000
    qtkit.edit.set_values(path, {"answer": big})
    assert qtkit.load(path)["answer"] == big


def test_symlinks_are_never_written_through(collection: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    shutil.copy(collection / ex(101), outside)
    before = outside.read_bytes()
    (collection / "link.md").symlink_to(outside)
    result = runner.invoke(app, ["set", str(collection / "link.md"), "title=Through a link"])
    assert result.exit_code == 1 and "symbolic link" in result.output
    assert runner.invoke(app, ["relink", "--root", str(collection)]).exit_code == 0
    assert runner.invoke(app, ["check", "--fix", "--root", str(collection)]).exit_code in (0, 1)
    assert outside.read_bytes() == before


def test_stale_temp_files_of_dead_processes_are_removed(collection: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = collection / f".101.md.{dead.stdout.strip()}.abc{TEMP_SUFFIX}"
    stale.write_text("half written")
    mine = collection / f".102.md.{os.getpid()}.abc{TEMP_SUFFIX}"
    mine.write_text("being written")
    from qtkit.index import Collection

    Collection(collection).refresh()
    assert not stale.exists() and mine.exists()


def test_a_crash_in_the_editor_is_a_clear_error(collection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qtkit import document

    def broken(*args, **kwargs):
        raise QtkitError("simulated failure", collection / ex(101), 1, 1)

    monkeypatch.setattr(document.Document, "verify", broken)
    before = _snapshot(collection)
    result = runner.invoke(app, ["set", str(collection / ex(101)), "title=x"])
    assert result.exit_code == 1 and f"{ex(101)}:1:1: simulated failure" in result.output
    assert _snapshot(collection) == before
