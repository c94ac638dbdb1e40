"""What `relink` keeps between runs (`.qtkit/related/`): one row ("slot") per page.

A base written by full runs, and one small delta appended per incremental run (only the
slots it touched), folded into a new base when the deltas grow past a fifth of it;
`meta.json` names the parts and the frozen term weights (the parts keep each page's unit
vector under them, so a run re-vectorizes only the pages that changed), and sums up what they hold (a
digest of every live page's path and stats, and whether a list is left to write) so that
`State.unchanged` reads no part. Each part is one `.npz` (numpy arrays, the texts as one
JSON blob), written to a temporary name and renamed.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:  # numpy is imported where arrays are read or written: a run with nothing to do needs none
    import numpy as np
    import scipy.sparse as sp

    from .index import Collection

from .related_config import FEATURES

#: the state's folder inside the collection's cache folder
STATE_DIR = "related"


@dataclass
class State:
    """Everything relink keeps between runs, one row ("slot") per page ever seen since the
    last base; a removed page's slot is dead until the next base."""

    config: str
    paths: list[str]
    alive: np.ndarray
    stats: np.ndarray  # (size, mtime) per slot, as the index saw the file
    qids: np.ndarray
    sigs: np.ndarray
    titles: list[str]
    subjects: list[str]
    urls: list[str]
    vectors: sp.csr_matrix  # each page's unit vector under the frozen weights `idf` (`related.vectors`)
    links: np.ndarray  # slots, -1 padded, shape (slots, count)
    reach: np.ndarray
    pending: np.ndarray  # the file may not carry the links chosen (not written yet)
    idf: np.ndarray
    deltas: list[str] = field(default_factory=list)
    delta_rows: int = 0

    @classmethod
    def load(cls, folder: Path) -> State | None:
        """The state in `folder`, or None when there is none or it cannot be read."""
        import numpy as np

        try:
            meta = _read_meta(folder)
            idf = np.load(folder / meta["weights"], allow_pickle=False)
            parts = [_read_part(folder / name) for name in [meta["base"], *meta["deltas"]]]
        except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        size = max((int(p["slots"].max()) + 1 for p in parts if len(p["slots"])), default=0)
        width = parts[0]["links"].shape[1] if parts[0]["links"].ndim == 2 else 0
        paths, titles, subjects, urls = [""] * size, [""] * size, [""] * size, [""] * size
        alive = np.zeros(size, dtype=bool)
        stats = np.zeros((size, 2), dtype=np.int64)
        qids, sigs = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
        links = np.full((size, width), -1, dtype=np.int64)
        reach, pending = np.zeros(size), np.zeros(size, dtype=bool)
        src = np.zeros(size, dtype=np.int64)
        offset = 0
        for p in parts:
            s = p["slots"]
            texts = (("paths", paths), ("titles", titles), ("subjects", subjects), ("urls", urls))
            if np.array_equal(s, np.arange(len(s))):  # slots 0..k-1 in order (a base): one slice each
                for name, target in texts:
                    target[: len(s)] = p[name]
            else:
                for name, target in texts:
                    for slot, value in zip(s.tolist(), p[name]):
                        target[slot] = value
            alive[s], stats[s], qids[s], sigs[s] = p["alive"], p["stats"], p["qids"], p["sigs"]
            links[s], reach[s], pending[s] = p["links"], p["reach"], p["pending"]
            src[s] = offset + np.arange(len(s))
            offset += len(s)
        import scipy.sparse as sp  # only here and in _read_part: `listed` and `unchanged` need none

        matrix = sp.vstack([p["counts"] for p in parts], format="csr") if size and len(parts) > 1 else parts[0]["counts"]
        if len(parts) > 1 or not np.array_equal(src, np.arange(size)):
            matrix = matrix[src]
        if not meta.get("vectors"):  # a state saved by an older qtkit kept the word counts
            from .related import vectors

            matrix = vectors(matrix, idf)
        return cls(meta["config"], paths, alive, stats, qids, sigs, titles, subjects, urls, matrix, links, reach,
                   pending, idf, list(meta["deltas"]), int(meta.get("delta_rows", 0)))

    @staticmethod
    def unchanged(folder: Path, config: str, current: dict[str, tuple[int, int]]) -> bool:
        """Whether the state in `folder` was saved with settings `config` and holds every
        file of `current` ({path: (size, mtime)}) as it is, and nothing else, with no
        list left to write: a run would have nothing to do. Reads only the paths and
        stats of the state (False when it cannot be read)."""
        try:
            meta = _read_meta(folder)
            if meta.get("config") != config:
                return False
            if "stats" in meta:  # what the parts hold, summed up when they were saved
                return (not meta.get("pending", True) and meta.get("count") == len(current)
                        and meta["stats"] == stats_digest(current))
            import numpy as np  # a state saved before this digest: read its parts

            by_slot: dict[int, tuple[str, bool, tuple[int, int], bool]] = {}
            for name in [meta["base"], *meta["deltas"]]:
                with np.load(folder / name, allow_pickle=False) as z:
                    paths = (orjson.loads(z["paths"].tobytes()) if "paths" in z.files
                             else orjson.loads(z["texts"].tobytes())["paths"])  # a state saved before paths stood apart
                    rows = zip(z["slots"].tolist(), paths, z["alive"].tolist(), z["stats"].tolist(), z["pending"].tolist())
                    for slot, path, alive, stat, pending in rows:  # the latest part naming a slot holds it
                        by_slot[slot] = (path, alive, (stat[0], stat[1]), pending)
        except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return False
        if any(pending for _, _, _, pending in by_slot.values()):
            return False
        live = {path: stat for path, alive, stat, _ in by_slot.values() if alive}
        return live == current

    @staticmethod
    def listed(folder: Path, config: str) -> str | None:
        """The listing digest (`RefreshStats.listing`) the state in `folder` was last found
        complete for, with settings `config` and no list left to write; None if none."""
        try:
            meta = _read_meta(folder)
        except (OSError, ValueError):
            return None
        return meta.get("listing") if meta.get("config") == config else None

    @staticmethod
    def remember(folder: Path, listing: str) -> None:
        """Record that the state in `folder` is complete for the files of `listing` (a run
        then has nothing to do while the listing stays the same). Any `save` forgets it."""
        try:
            _write_meta(folder, {**_read_meta(folder), "listing": listing})
        except (OSError, ValueError):
            pass  # only an optimisation: the next run compares the stats

    def live_stats(self) -> dict[str, tuple[int, int]]:
        """{path: (size, mtime)} of every live slot: the files the state holds, as it saw them."""
        import numpy as np

        live = np.nonzero(self.alive)[0]
        stats = self.stats[live]
        return dict(zip([self.paths[i] for i in live.tolist()], zip(stats[:, 0].tolist(), stats[:, 1].tolist())))

    def save(self, folder: Path, slots: np.ndarray | None = None) -> None:
        """Write a new base (all live slots, renumbered), or with `slots` append a delta of
        those slots; then point `meta.json` at them (atomically) and drop unused parts."""
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}-{time.time_ns()}"
        try:
            meta = _read_meta(folder)
        except (OSError, ValueError):
            meta = None
        if slots is None or meta is None or meta.get("config") != self.config or not meta.get("vectors"):
            keep = np.nonzero(self.alive)[0]
            renumber = np.full(len(self.paths) + 1, -1, dtype=np.int64)
            renumber[keep] = np.arange(len(keep))
            links = np.where(self.links[keep] >= 0, renumber[self.links[keep]], -1)
            name, weights = f"base-{token}.npz", f"weights-{token}.npy"
            _write_part(folder / name, np.arange(len(keep)), self, keep, links)
            tmp = folder / f".{weights}.tmp.npy"
            np.save(tmp, self.idf)
            os.replace(tmp, folder / weights)
            meta = {"config": self.config, "base": name, "deltas": [], "weights": weights, "delta_rows": 0,
                    "vectors": True}
        else:
            name = f"delta-{token}.npz"
            _write_part(folder / name, slots, self, slots, self.links[slots])
            kept = {key: value for key, value in meta.items() if key != "listing"}  # the files it was complete for changed
            meta = {**kept, "deltas": [*meta["deltas"], name], "delta_rows": int(meta.get("delta_rows", 0)) + len(slots)}
        meta.pop("pages", None)  # the digest of an older qtkit (another format)
        meta["stats"], meta["count"] = stats_digest(self.live_stats()), int(self.alive.sum())
        meta["pending"] = bool(self.pending.any())
        _write_meta(folder, meta)
        used = {meta["base"], meta["weights"], *meta["deltas"]}
        for entry in os.listdir(folder):
            if entry != "meta.json" and entry not in used:
                try:
                    os.unlink(folder / entry)
                except OSError:
                    pass


def _write_part(path: Path, slots: np.ndarray, s: State, rows: np.ndarray, links: np.ndarray) -> None:
    import numpy as np

    whole = len(rows) == s.vectors.shape[0] and bool((rows == np.arange(len(rows))).all())
    m = s.vectors if whole else s.vectors[rows]  # every row in order (a full run): no copy of the vectors
    texts = orjson.dumps({"titles": [s.titles[i] for i in rows], "subjects": [s.subjects[i] for i in rows],
                          "urls": [s.urls[i] for i in rows]})
    paths = orjson.dumps([s.paths[i] for i in rows])
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, slots=np.asarray(slots, dtype=np.int64), texts=np.frombuffer(texts, np.uint8),
             paths=np.frombuffer(paths, np.uint8),
             alive=s.alive[rows], stats=s.stats[rows], qids=s.qids[rows], sigs=s.sigs[rows], links=links,
             reach=s.reach[rows], pending=s.pending[rows], data=m.data, indices=m.indices, indptr=m.indptr)
    os.replace(tmp, path)


def page_stats(coll: Collection) -> dict[str, tuple[int, int]]:
    """{path: (size, mtime)} of every page the state tracks (the files with an id), from
    the collection's cache: what `State.unchanged` compares with."""
    return {p: (size, mtime) for p, size, mtime, qid in coll.file_stats() if qid is not None}


def stats_digest(stats: Mapping[str, Sequence[int]]) -> str:
    """A hash of {path: (size, mtime)} (in any order; a stat as a tuple or a list of two
    ints): equal digests, equal stats. What `State.unchanged` compares, without reading
    the state's parts. (orjson sorts the keys: a third of the cost of sorting here.)"""
    stats = stats if isinstance(stats, dict) else dict(stats)
    return hashlib.blake2b(orjson.dumps(stats, option=orjson.OPT_SORT_KEYS), digest_size=20).hexdigest()


def _read_meta(folder: Path) -> dict:
    """`meta.json`: the parts, the weights, the settings (and the listing it is complete for).
    Raises OSError when it cannot be read, ValueError when it is not a JSON object."""
    meta = orjson.loads((folder / "meta.json").read_bytes())  # orjson.JSONDecodeError is a ValueError
    if not isinstance(meta, dict):
        raise ValueError("meta.json is not a JSON object")
    return meta


def _write_meta(folder: Path, meta: dict) -> None:
    """Replace `meta.json` atomically (a temporary file, then a rename)."""
    tmp = folder / f".meta-{os.getpid()}.json.tmp"
    tmp.write_bytes(orjson.dumps(meta))
    os.replace(tmp, folder / "meta.json")


def _read_part(path: Path) -> dict:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        part = {k: z[k] for k in ("slots", "alive", "stats", "qids", "sigs", "links", "reach", "pending")}
        texts = orjson.loads(z["texts"].tobytes())
        if "paths" in z.files:
            texts["paths"] = orjson.loads(z["paths"].tobytes())
        import scipy.sparse as sp

        part["counts"] = sp.csr_matrix((z["data"], z["indices"], z["indptr"]),
                                       shape=(len(part["slots"]), 2 * FEATURES))
    part.update(texts)
    return part

