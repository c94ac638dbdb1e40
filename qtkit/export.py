"""Export the collection (or a selection) to JSON, JSON Lines, CSV or Markdown.

`export(collection, "jsonl", out)` writes to any text stream; `export_to_path` writes a
file atomically (nothing is left behind if it fails); `export_split` writes one clean
Markdown file per question into a folder, never outside it.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

import frontmatter
import orjson

from . import pools
from .answers import decode_answer
from .errors import EditError, QtkitError
from .files import atomic_writer
from .index import Collection, Record
from .progress import Progress
from .rows import dumps_json_text
from .shapes import (
    BODY,
    GUARDED,
    PATH,
    clean,
    csv_line,
    header_cell,
    flatten,
    lossless,
    related_links,
    to_cell,
    unescape_key,
)
from .slugs import anchor
from .values import to_json

FORMATS = ("json", "jsonl", "csv", "markdown")
PARALLEL_MIN = 20_000
SLICE_RECORDS = 1000  # questions a slice of a parallel export: ~5 MB of output, memory malloc reuses
SHAPES = ("lossless", "clean", "sheet")


# ------------------------------------------------------------------ selection


# `parse_where` and `select` live in qtkit.query (one parser for every command); kept here
# for the callers that import them from qtkit.export.
from .query import parse_where, select  # noqa: E402,F401


# ------------------------------------------------------------------ shapes and fields


def shaped(record: Record, shape: str) -> dict:
    if shape == "clean":
        return clean(record.relpath, record.data, record.body)
    return lossless(record.relpath, record.data, record.body)


def pick(record: dict, fields: list[str] | None) -> dict:
    """The chosen fields (dotted paths allowed) in the order given; missing ones left out."""
    if not fields:
        return record
    out: dict = {}
    for name in fields:
        parts = name.split(".")
        node: Any = record
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            target = out
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = node
    return out


# ------------------------------------------------------------------ writers


@dataclass
class ExportReport:
    format: str
    count: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # `path:line:col: message` of unreadable files (export_collection)


def _json_bytes(obj: dict, plain: bool) -> bytes:
    """One JSON record: orjson (dates as ISO strings), or the standard library's JSON for
    data holding NaN, infinities or ints beyond 64 bits."""
    if plain:
        try:
            return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        except (orjson.JSONEncodeError, TypeError):
            pass
    return json.dumps(to_json(obj), ensure_ascii=False).encode("utf-8")


def export(
    coll: Collection,
    to: str,
    out: TextIO | io.BufferedIOBase,
    *,
    records: Iterable[Record] | None = None,
    fields: list[str] | None = None,
    shape: str = "lossless",
    progress: Progress | None = None,
    workers: int = 1,
) -> ExportReport:
    """Write the records (default: the whole collection by id) to a stream in one format.

    With `workers` > 1, a whole-collection JSON, JSONL or CSV export of at least
    `PARALLEL_MIN` questions runs on that many processes, which format slices by id
    that this process writes out in order."""
    if to not in FORMATS:
        raise EditError(f"unknown format {to!r} (choose from {', '.join(FORMATS)})")
    if shape not in SHAPES:
        raise EditError(f"unknown shape {shape!r} (choose from {', '.join(SHAPES)})")
    if to == "csv" and shape == "clean":
        raise EditError("CSV is written in the lossless shape (or sheet: real line breaks in cells)")
    if shape == "sheet" and to != "csv":
        raise EditError("the sheet shape is a CSV shape (use it with --to csv)")
    source = coll if records is None else records
    total = len(coll) if records is None else 0
    report = ExportReport(to)
    sink = _binary(out)
    fast = records is None and shape == "lossless" and (to == "csv" or not fields)
    if to == "markdown":
        _write_markdown(source, sink, report)
    elif fast:
        columns = _csv_columns(coll, fields) if to == "csv" else []
        if workers > 1 and total >= PARALLEL_MIN:
            _export_parallel(coll, to, sink, columns, workers, report, progress)
        else:
            sink.write(_header(to, columns))
            chunks = _Chunks(sink, to, report, progress, total)
            for line in _fast_lines(coll, to, columns):
                chunks.add(line)
            chunks.flush()
            sink.write(_footer(to))
    elif to == "csv":
        sink.write(_header(to, _csv_columns(coll, fields)))
        chunks = _Chunks(sink, to, report, progress, total)
        rows = ((r.relpath, r.data, r.body) for r in source)
        if shape == "sheet":
            rows = _sheet_rows(rows, report)
        for line in _csv_lines(_csv_columns(coll, fields), rows):
            chunks.add(line)
        chunks.flush()
    else:
        sink.write(_header(to, []))
        _write_json(source, sink, to, fields, shape, report, progress, total)
        sink.write(_footer(to))
    sink.flush()
    return report


def _sheet_rows(rows: Iterable[tuple[str, dict, str]], report: ExportReport) -> Iterator[tuple[str, dict, str]]:
    """Rows in the sheet shape: the literal `\\n` of front-matter strings as real line breaks (a
    spreadsheet shows them); `import --shape sheet` turns them back. A value that already
    holds a real line break could not be told apart: it is named in a warning."""
    from .records import to_sheet_cell

    def convert(value: Any, where: str) -> Any:
        if isinstance(value, str):
            if "\n" in value or "\r" in value:
                report.warnings.append(f"{where}: holds a real line break; the sheet shape cannot keep it apart"
                                       " from \\n (use the lossless shape)")
            return to_sheet_cell(value)
        if isinstance(value, dict):
            return {k: convert(v, where) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, where) for v in value]
        return value

    for rel, data, body in rows:
        yield rel, convert(data, rel), body  # the body keeps its own line breaks


def _binary(out: Any) -> Any:
    """A binary sink for a text or binary stream."""
    if isinstance(out, io.TextIOBase):
        out.flush()
        return getattr(out, "buffer", None) or _TextSink(out)
    return out


class _TextSink:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


class _Chunks:
    """Records' lines written to a binary sink in chunks: JSONL lines (UTF-8 bytes) end
    with a newline, JSON records (bytes) are separated by `,\n` (brackets are the caller's),
    CSV lines (text) carry CRLF."""

    def __init__(self, sink: Any, to: str, report: ExportReport, progress: Progress | None = None,
                 total: int = 0) -> None:
        self.sink, self.to, self.report, self.progress, self.total = sink, to, report, progress, total
        self.lines: list = []
        self.first = True

    def add(self, line: str | bytes) -> None:
        self.lines.append(line)
        self.report.count += 1
        if len(self.lines) >= 1024:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            if self.to == "json":
                data = (b"" if self.first else b",\n") + b",\n".join(self.lines)
            elif self.to == "jsonl":
                data = b"\n".join(self.lines) + b"\n"
            else:
                data = "".join(self.lines).encode("utf-8")
            self.sink.write(data)
            self.first = False
            self.lines.clear()
        if self.progress:
            self.progress(self.report.count, self.total)


def _write_json(source, sink, to, fields, shape, report, progress, total) -> None:
    chunks = _Chunks(sink, to, report, progress, total)
    for record in source:
        chunks.add(_json_bytes(pick(shaped(record, shape), fields), record.plain))
    chunks.flush()


def _fast_lines(coll: Collection, to: str, columns: list[str], part: tuple[int, int] = (0, 1),
                cuts: list[int | None] | None = None) -> Iterator[str] | Iterator[bytes]:
    """Lossless lines of the whole collection (or one slice of it) straight from the cache:
    CSV lines as text, JSON records as UTF-8 bytes (the cached JSON is taken as bytes and
    spliced in, not decoded)."""
    if to == "csv":
        yield from _csv_lines(columns, ((rel, orjson.loads(text), body)
                                        for rel, text, body in coll.json_rows(part, cuts)))
        return
    dumps = orjson.dumps
    for rel, data, body in coll.selected_rows("f.path, CAST(d.data AS BLOB), d.body", part, cuts):
        if data[:1] == b" " or b'{"$' in data or b',"$' in data:  # NaN, big ints or a key starting with "$"
            yield _json_line(rel, data.decode("utf-8"), body)
        elif len(data) > 2:
            yield b'{"$path":%b,%b,"$body":%b}' % (dumps(rel), data[1:-1], dumps(body))
        else:
            yield b'{"$path":%b,"$body":%b}' % (dumps(rel), dumps(body))


def _json_line(rel: str, text: str, body: str) -> bytes:
    """One lossless JSON record from a path, the cache's JSON of its front matter and its body."""
    if text.startswith(" "):  # the standard library's JSON (NaN, big ints): as `json_rows` gives it
        text = dumps_json_text(to_json(json.loads(text)))
    if '{"$' in text or ',"$' in text:  # a key that starts with "$": escape it
        return orjson.dumps(lossless(rel, orjson.loads(text), body))
    inner = text[1:-1]
    return f'{{"$path":{_quote(rel)}{"," if inner else ""}{inner},"$body":{_quote(body)}}}'.encode("utf-8")


def _quote(text: str) -> str:
    return orjson.dumps(text).decode("utf-8")


def _csv_columns(coll: Collection, fields: list[str] | None) -> list[str]:
    columns = [PATH, *coll.columns(), BODY]
    if fields:
        columns = [c for c in columns if any(c == f or c.startswith(f + ".") for f in fields)]
    return columns


def _csv_lines(columns: list[str], rows: Iterable[tuple[str, dict, str]]) -> Iterator[str]:
    index = {name: i for i, name in enumerate(columns)}
    width = len(columns)
    path_at, body_at = index.get(PATH), index.get(BODY)
    for rel, data, body in rows:
        row = [""] * width
        if path_at is not None:
            row[path_at] = to_cell(rel)
        for name, value in flatten(data):
            i = index.get(name)
            if i is not None:
                row[i] = value if type(value) is str and not value.startswith(GUARDED) else to_cell(value)
        if body_at is not None:
            row[body_at] = to_cell(body)
        yield csv_line(row)


def _header(to: str, columns: list[str]) -> bytes:
    if to == "csv":
        # spreadsheets want the BOM for UTF-8; a column name is guarded like a value
        return ("\ufeff" + csv_line([header_cell(c) for c in columns])).encode("utf-8")
    return b"[\n" if to == "json" else b""


def _footer(to: str) -> bytes:
    return b"\n]\n" if to == "json" else b""


_WORKER: dict = {}  # the collection a worker of `_export_parallel` opened (one per process)


def _export_part(args: tuple) -> tuple[int, bytes]:
    """Worker: one slice of the collection's lines as bytes, with its record count."""
    config, to, columns, part, cuts = args
    coll = _WORKER.get("coll")
    if coll is None:
        coll = _WORKER["coll"] = Collection(config=config, refreshed=True)  # the parent refreshed it just before
    report = ExportReport(to)
    sink = io.BytesIO()
    chunks = _Chunks(sink, to, report)
    for line in _fast_lines(coll, to, columns, part, cuts):
        chunks.add(line)
    chunks.flush()
    return report.count, sink.getvalue()


def _export_parallel(coll: Collection, to: str, fh: Any, columns: list[str], workers: int,
                     report: ExportReport, progress: Progress | None) -> None:
    """The whole collection on every core: the workers format slices by id, and the
    parent writes each slice to the output as it comes, in order (the output is written
    once: no temp files to append)."""
    total = len(coll)
    n = max(workers, total // SLICE_RECORDS)  # slices of a few MB: the memory of one is reused for the next
    cuts = coll.cuts(n)
    fh.write(_header(to, columns))
    written = False
    jobs = [(coll.config, to, columns, (k, n), cuts) for k in range(n)]
    for count, data in pools.process_map(_export_part, jobs, workers=workers, fork=True):
        if data:
            if written and to == "json":
                fh.write(b",\n")
            fh.write(data)
            written = True
        report.count += count
        if progress:
            progress(report.count, total)
    fh.write(_footer(to))


def _anchor(record: Record) -> str:
    return anchor(record.relpath)  # one per page: cross-listed copies share an id


def _write_markdown(source, sink, report) -> None:
    records = list(source)
    by_subject: dict[str, list[Record]] = {}
    for record in records:
        subject = record.data.get("subject")
        by_subject.setdefault(subject if isinstance(subject, str) and subject else "(no subject)", []).append(record)
    parts = ["# Questions\n\n## Contents\n"]
    for subject in sorted(by_subject, key=str.casefold):
        parts.append(f"\n### {_inline(subject)}\n\n")
        for record in by_subject[subject]:
            parts.append(f"- [{_inline(_title(record))}](#{_anchor(record)})\n")
    sink.write("".join(parts).encode("utf-8"))
    for subject in sorted(by_subject, key=str.casefold):
        sink.write(f"\n## {_inline(subject)}\n".encode())
        for record in by_subject[subject]:
            sink.write(_section(record).encode("utf-8"))
            report.count += 1


def _title(record: Record) -> str:
    for key in ("title", "question", "article_title"):
        value = record.data.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return record.relpath


def _inline(text: str) -> str:
    """Text safe on one Markdown line (no raw HTML, no line breaks)."""
    return " ".join(text.split()).replace("<", "&lt;")


def _section(record: Record) -> str:
    answer = record.data.get("answer")
    lines = [f'\n<a id="{_anchor(record)}"></a>\n\n### {_inline(_title(record))}\n\n']
    if isinstance(answer, str) and answer:
        lines.append(decode_answer(answer).rstrip() + "\n")
    links = _links(record.data)
    if links:
        lines.append("\nRelated:\n\n" + links)
    return "".join(lines)


def _links(data: dict) -> str:
    out = []
    for link in related_links(data):
        title = link.get("title")
        url = link.get("url")
        if isinstance(title, str) and isinstance(url, str):
            out.append(f"- [{_inline(title)}]({_url(url)})\n")
    return "".join(out)


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


# ------------------------------------------------------------------ to files


def export_to_path(coll: Collection, to: str, path: str | Path, **kwargs: Any) -> ExportReport:
    """`export` into a file, atomically: the file appears complete or not at all.
    Uses every core for whole-collection exports unless `workers` says otherwise."""
    kwargs.setdefault("workers", os.cpu_count() or 1)
    with atomic_writer(path) as fh:
        return export(coll, to, fh, **kwargs)


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.md\Z")


def safe_name(name: Any) -> str | None:
    """A file name from front matter if it is a plain `.md` name (no folders, no `..`)."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        return None
    return name


def export_split(
    coll: Collection,
    dest: str | Path,
    *,
    records: Iterable[Record] | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    """One clean Markdown file per question in `dest`, named by its `file_name`.

    Names that are not a plain `NAME.md` (folders, `..`, absolute paths, odd characters)
    or that repeat fall back to `ID.md`, with a warning; nothing is written outside `dest`.
    """
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    base = folder.resolve()
    report = ExportReport("markdown")
    used: set[str] = set()
    source = coll if records is None else records
    total = len(coll) if records is None else 0
    for record in source:
        name = safe_name(record.data.get("file_name"))
        if name is None or name in used:
            fallback = anchor(record.relpath) + ".md"
            why = "repeats another question's" if name else "is not a plain NAME.md"
            report.warnings.append(f"{record.relpath}: file_name {record.data.get('file_name')!r} {why}; "
                                   f"written as {fallback}")
            name = fallback
        used.add(name)
        target = (base / name).resolve()
        if target.parent != base:  # pragma: no cover - safe_name already rules this out
            raise QtkitError(f"refusing to write outside {base}: {name}", record.path)
        with atomic_writer(target) as fh:
            fh.write(_post(record).encode("utf-8"))
        report.count += 1
        if progress and report.count % 256 == 0:
            progress(report.count, total)
    if progress:
        progress(report.count, total)
    return report


_POST_KEYS = ("id", "title", "subject", "date", "url")


def _post(record: Record) -> str:
    """A clean question file: a small front matter (python-frontmatter) and Markdown."""
    data = record.data
    meta = {k: to_json(data[k]) for k in _POST_KEYS if k in data}
    seo = data.get("seo")
    if isinstance(seo, dict):
        for key, name in (("page_description", "description"), ("page_keywords", "keywords")):
            if isinstance(seo.get(key), str) and seo[key]:
                meta[name] = seo[key]
    meta["related"] = [to_json(link) for link in related_links(data)]
    answer = data.get("answer")
    content = f"# {_inline(_title(record))}\n\n"
    if isinstance(answer, str):
        content += decode_answer(answer).rstrip() + "\n"
    return frontmatter.dumps(frontmatter.Post(content, **meta), sort_keys=False) + "\n"


def parse_fields(text: str | None) -> list[str] | None:
    """`--fields a,seo.title,$path` as a list (front-matter `$` keys written `$$key`)."""
    if not text:
        return None
    names = [f.strip() for f in text.split(",") if f.strip()]
    for name in names:
        if name.startswith("$") and name not in (PATH, BODY):
            unescape_key(name)  # raises on an unknown reserved name
    return names


# ------------------------------------------------------------------ the `export` command


def export_collection(
    to: str,
    output: str | Path | None = None,
    *,
    targets: Iterable[str] = (),
    where: Iterable[str] = (),
    fields: str | list[str] | None = None,
    sort: str | None = None,
    shape: str = "lossless",
    split: str | Path | None = None,
    stream: TextIO | io.BufferedIOBase | None = None,
    root: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportReport:
    """`qtkit export`: refresh the index, select (`targets`: ids, paths or urls; `where`
    conditions; `sort` key; default every question by id) and write in format `to`: into
    the file `output` (atomically), one clean Markdown file per question into the folder
    `split`, or else to `stream`. `fields` is a list or `"id,title,$path"`.
    `progress(phase, done, total)` is called while indexing and writing. The report's
    `skipped` lists the unreadable files left out. Raises `BadOption` for an invalid
    format, shape, field or condition or a bad combination, `NotFound`/`Ambiguous` for a
    bad target."""
    from .errors import BadOption

    if to not in FORMATS:
        raise BadOption(f"unknown --to {to!r} (choose from {', '.join(FORMATS)})")
    if shape not in SHAPES:
        raise BadOption(f"unknown --shape {shape!r} (choose from {', '.join(SHAPES)})")
    if split is not None and to != "markdown":
        raise BadOption("--split writes Markdown; use it with --to markdown")
    if split is not None and output is not None:
        raise BadOption("give --split DIR or -o FILE, not both")
    if output is None and split is None and stream is None:
        raise BadOption("give an output file, a --split folder or a stream")
    try:
        conditions = parse_where(where)
        chosen = parse_fields(fields) if isinstance(fields, str) or fields is None else list(fields)
    except QtkitError as exc:
        raise BadOption(exc.message, exc.path, exc.line, exc.col) from None
    coll = Collection(root)
    coll.refresh(progress=(lambda done, total: progress("indexing", done, total)) if progress else None)
    targets = list(targets)
    records = select(coll, targets, conditions, sort) if targets or conditions or sort else None

    def step(done: int, total: int) -> None:
        if progress:
            progress(f"exporting {to}", done, total)

    if split is not None:
        report = export_split(coll, split, records=records, progress=step)
    elif output is not None:
        report = export_to_path(coll, to, output, records=records, fields=chosen, shape=shape, progress=step)
    else:
        report = export(coll, to, stream, records=records, fields=chosen, shape=shape, progress=step)
    report.skipped = coll.errors()
    return report
