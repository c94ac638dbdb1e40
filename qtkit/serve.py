"""`qtkit serve`: a local, read-only web app over a collection (Starlette + uvicorn).

Routes:
- `/`: the dashboard, `stats` with bar charts; every number links to its pages.
- `/learn/<subject_key>/questions/<slug>`: a page as the site renders it (title, answer
  as Markdown with tables, code and math as MathML, related links marked when their url
  names no page or their title/subject differs from the page's); beside it, from
  `/panels/<path>`: the page's `check` findings, what `relink` would choose (scores and
  matching words), cross-listed copies and inbound links.
- `/file/<path>`: the same view for a page by its path (a page without a site address).
- `/list/<figure>`: the pages behind a dashboard number.
- `/search?q=..&where=KEY=VALUE`: full-text search (`qtkit.search`) and `--where` lists.

Every endpoint is `async` and runs on the event loop's thread, the one that owns the
index's SQLite connection. Whole-collection work (stats, check, inbound links, the relink
vectors) runs on one background thread with its own `Collection`, once per change of the
collection: files changed on disk (watched with watchfiles, or stat-checked every two
seconds where watching is impossible) are picked up on the next request. Everything shown
is escaped by Jinja2's autoescape; answers render with raw HTML disabled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import socket
import threading
import time
import webbrowser
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .index import Collection, RefreshStats
from .links import PageRef, Pages, address
from .render import answer_html, title_html
from .shapes import related_links
from .stats import LINK_BUCKETS, Stats, stats

WEB = Path(str(resources.files("qtkit") / "web"))
RESCAN_SECONDS = 2.0  # without a file watcher: how often a request re-checks the files
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
       " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class _Served(Collection):
    """A Collection whose refresh the server schedules: `check` and `stats` call
    `refresh()` themselves, which re-stats every file; here that is done once per change."""

    settled = False

    def refresh(self, progress: Any = None, *, quick: bool = False, workers: int | None = None) -> RefreshStats:
        if self.settled:
            return RefreshStats()
        return super().refresh(progress, quick=quick, workers=workers)


class _Worker:
    """One daemon thread running jobs in order (a stopped server never waits for a job
    still running, as it would for a ThreadPoolExecutor's threads at exit)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fn, future))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qtkit-analysis", daemon=True)
            self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the result
                future.set_exception(exc)

    def stop(self) -> None:
        self._jobs.put(None)


@dataclass
class Analysis:
    """Whole-collection results for one state of the files."""

    stats: Stats
    inbound: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # path -> [(source path, N)]
    seconds: float = 0.0


class App:
    """The web app over the collection at `root` (see the module doc). `app.asgi` is the
    ASGI application; `run()` serves it. `on_error(line)` hears of each unexpected error a
    request met (one line; the browser gets a 500 page)."""

    def __init__(self, root: str | Path | None = None, *, watch: bool = True, host: str = "127.0.0.1",
                 on_error: Callable[[str], None] | None = None) -> None:
        self.coll = _Served(root)
        self.on_error = on_error
        self.root_arg = str(self.coll.root)
        self.watch = watch
        self.generation = 0
        self._dirty = True
        self._checked = 0.0
        self._watcher: asyncio.Task | None = None
        self._pages: Pages | None = None
        self._search: Any = None
        self._worker = _Worker()
        self._local = threading.local()
        self._futures: dict[str, dict[int, concurrent.futures.Future]] = {"analysis": {}, "findings": {}, "model": {}}
        self.env = Environment(loader=FileSystemLoader(str(WEB / "templates")), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(page_href=self.page_href, buckets=LINK_BUCKETS, quote=quote)
        self.asgi = Starlette(
            routes=[
                Route("/", self.dashboard),
                Route("/learn/{key}/questions/{slug}", self.page),
                Route("/file/{path:path}", self.file),
                Route("/panels/{path:path}", self.panels),
                Route("/list/{figure}", self.listing),
                Route("/search", self.search),
                Mount("/static", StaticFiles(directory=str(WEB / "static")), name="static"),
            ],
            middleware=[
                # a page of another site cannot reach this one through a rebound DNS name
                Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "::1", host]),
                Middleware(BaseHTTPMiddleware, dispatch=self.guard),
            ],
            exception_handlers={HTTPException: self.error},
            lifespan=self.lifespan,
        )

    # ------------------------------------------------------------ freshness
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> Any:
        if self.watch:
            self._watcher = asyncio.create_task(self._watch())
        try:
            yield
        finally:
            if self._watcher is not None:
                self._watcher.cancel()
            self._worker.stop()

    async def _watch(self) -> None:
        """Mark the collection dirty when a file under the root changes."""
        try:
            from watchfiles import awatch
        except ImportError:  # pragma: no cover - watchfiles is a dependency
            self.watch = False
            return
        try:
            async for changes in awatch(self.coll.root, recursive=True, debounce=200, step=50):
                if any("/.qtkit" not in path and not Path(path).name.startswith(".") for _, path in changes):
                    self._dirty = True
        except (OSError, RuntimeError):  # no inotify here: stat the files on requests instead
            self.watch = False

    def fresh(self) -> None:
        """Bring the index up to date if the files may have changed; a change starts a new generation."""
        now = time.monotonic()
        if not self._dirty and (self.watch or now - self._checked < RESCAN_SECONDS):
            return
        self._dirty = False
        self._checked = now
        self.coll.settled = False
        result = self.coll.refresh()
        self.coll.settled = True
        if result.parsed or result.removed or self.generation == 0:
            self.generation += 1
            self._pages = None
            for futures in self._futures.values():
                for key in [k for k in futures if k < self.generation - 1]:
                    futures.pop(key)

    def pages(self) -> Pages:
        self.fresh()
        if self._pages is None:
            self._pages = _pages(self.coll)
        return self._pages

    # ------------------------------------------------------------ background work
    def _background_collection(self) -> _Served:
        """The analysis thread's own Collection (an SQLite connection belongs to one thread)."""
        coll = getattr(self._local, "coll", None)
        if coll is None:
            coll = self._local.coll = _Served(config=self.coll.config)
        coll.settled = False
        coll.refresh()
        coll.settled = True
        return coll

    def _analyse(self) -> Analysis:
        start = time.perf_counter()
        coll = self._background_collection()
        pages = _pages(coll)
        result = Analysis(stats(collection=coll, pages=pages))
        inbound: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for rel, text, _ in coll.json_rows():
            for n, block in enumerate(related_links(orjson.loads(text)), 1):
                target = pages.at(block.get("url"))
                if target is not None:
                    inbound[target.relpath].append((rel, n))
        result.inbound = dict(inbound)
        result.seconds = time.perf_counter() - start
        return result

    def _check(self) -> dict[str, list]:
        from . import check

        found: dict[str, list] = {}
        for finding in check.check(collection=self._background_collection()):
            found.setdefault(finding.path, []).append(finding)
        return found

    def _build_model(self) -> Any:
        from .explain import RelinkModel

        return RelinkModel(self._background_collection())

    def _future(self, name: str) -> concurrent.futures.Future:
        """The background job `name` for the current files, started with the others (in
        the order stats, check, relink vectors) when the first of them is asked for."""
        self.fresh()
        jobs = {"analysis": self._analyse, "findings": self._check, "model": self._build_model}
        for job, fn in jobs.items():
            if self.generation not in self._futures[job]:
                self._futures[job][self.generation] = self._worker.submit(fn)
        return self._futures[name][self.generation]

    async def analysis(self) -> Analysis:
        return await asyncio.wrap_future(self._future("analysis"))

    async def findings(self) -> dict[str, list]:
        return await asyncio.wrap_future(self._future("findings"))

    async def model(self) -> Any:
        return await asyncio.wrap_future(self._future("model"))

    def done(self, name: str) -> Any:
        """The result of a background job if it has finished, else None."""
        future = self._future(name)
        return future.result() if future.done() else None

    # ------------------------------------------------------------ helpers
    def page_href(self, rel: str) -> str:
        """Where this server shows the page at `rel`: its site address when that names it, else /file/<rel>."""
        pages = self._pages
        page = pages.by_path.get(rel) if pages is not None else None
        own = address(rel, page.url if page else None)
        if own is not None and own.startswith("/learn/") and own.count("/") == 4 and pages is not None \
                and _path(pages.at(own)) == rel:
            return own
        return "/file/" + quote(rel)

    def html(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.env.get_template(template).render(root=self.root_arg, **context)
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": CSP,
                                                               "X-Content-Type-Options": "nosniff",
                                                               "Referrer-Policy": "no-referrer"})

    async def guard(self, request: Request, call_next: Any) -> Response:
        """An unexpected error becomes a 500 page and one `on_error` line, never a traceback."""
        try:
            return await call_next(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if self.on_error is not None:
                self.on_error(f"error: {request.url.path}: {type(exc).__name__}: {exc}")
            return self.html("error.html", 500, code=500, detail=f"{type(exc).__name__}: {exc}")

    async def error(self, request: Request, exc: HTTPException) -> Response:
        return self.html("error.html", exc.status_code, code=exc.status_code, detail=exc.detail)

    def _summary(self, rel: str) -> dict:
        _, qid, title, subject, _ = self.pages().by_path.get(rel) or PageRef(rel, None, None, None, None)
        return {"path": rel, "href": self.page_href(rel), "id": qid, "title": title or rel, "subject": subject or "",
                "title_html": Markup(title_html(title or rel))}

    # ------------------------------------------------------------ routes
    async def dashboard(self, request: Request) -> Response:
        result = await self.analysis()
        data = result.stats.to_json()
        findings = self.done("findings")
        rules = None
        if findings is not None:
            from .rules import RULES

            by_rule: dict[str, int] = defaultdict(int)
            for items in findings.values():
                for finding in items:
                    by_rule[finding.code] += 1
            rules = [{"code": code, "name": RULES[code].name if code in RULES else "", "count": n}
                     for code, n in sorted(by_rule.items())]
        return self.html("dashboard.html", data=data, rules=rules, seconds=round(result.seconds, 2),
                         pages_with_findings=len(findings or ()))

    async def page(self, request: Request) -> Response:
        key, slug = request.path_params["key"], request.path_params["slug"]
        rel = _path(self.pages().at(f"/learn/{key}/questions/{slug}"))
        if rel is None:
            raise HTTPException(404, f"no page at /learn/{key}/questions/{slug}")
        return self._page(rel)

    async def file(self, request: Request) -> Response:
        rel = request.path_params["path"]
        if rel not in self.pages().by_path:
            raise HTTPException(404, f"no readable question file {rel!r}")
        return self._page(rel)

    def _page(self, rel: str) -> Response:
        pages = self.pages()
        record = self.coll.by_path(rel)
        if record is None:
            raise HTTPException(404, f"no readable question file {rel!r}")
        data = record.data
        own = pages.by_path[rel]
        links = []
        for n, block in enumerate(related_links(data), 1):
            url = block.get("url")
            target = pages.at(url)
            marks = []
            if target is None:
                marks.append(("dangling", "its url names no page"))
            else:
                if " ".join(str(block.get("title", "")).split()) != " ".join((target.title or "").split()):
                    marks.append(("stale", f"title differs from the page's: {target.title!r}"))
                if block.get("subject") != target.subject:
                    marks.append(("stale", f"subject differs from the page's: {target.subject!r}"))
                if block.get("id") != target.id:
                    marks.append(("note", f"id {block.get('id')!r} is not the page's ({target.id!r})"))
                if target.relpath == rel:
                    marks.append(("stale", "links to the page itself"))
            links.append({"n": n, "title": block.get("title"), "subject": block.get("subject"), "url": url,
                          "id": block.get("id"), "href": self.page_href(target.relpath) if target else None,
                          "marks": marks, "title_html": Markup(title_html(block.get("title")))})
        copies = [self._summary(p) for p in _copies(pages, rel)]
        return self.html("page.html", rel=rel, data=data, title_html=Markup(title_html(data.get("title"))),
                         answer_html=Markup(answer_html(data.get("answer"))), links=links, copies=copies,
                         own_subject=own.subject, own_title=own.title, address=address(rel, own.url),
                         panels="/panels/" + quote(rel))

    async def panels(self, request: Request) -> Response:
        rel = request.path_params["path"]
        pages = self.pages()
        if rel not in pages.by_path:
            raise HTTPException(404, f"no readable question file {rel!r}")
        result = await self.analysis()
        findings = await self.findings()
        model = await self.model()
        suggestions = model.suggest(self.coll, rel)
        current = {block.get("url") for block in related_links(self.coll.by_path(rel).data)}
        suggested = [{**s.__dict__, "href": self.page_href(s.path), "current": s.url in current,
                      "title_html": Markup(title_html(s.title))} for s in suggestions or []]
        chosen = {s.url for s in suggestions or []}
        dropped = sorted(url for url in current if url not in chosen and isinstance(url, str))
        inbound = [{**self._summary(src), "n": n} for src, n in result.inbound.get(rel, [])]
        fragment = request.query_params.get("fragment") == "1"
        return self.html("panels.html", rel=rel, findings=findings.get(rel, []), suggestions=suggested,
                         has_model=suggestions is not None, dropped=dropped, inbound=inbound,
                         copies=[self._summary(p) for p in _copies(pages, rel)], fragment=fragment,
                         source=model.source, page=self._summary(rel))

    async def listing(self, request: Request) -> Response:
        figure = request.path_params["figure"]
        result = await self.analysis()
        members = result.stats.members.get(figure)
        if members is None and figure not in _FIGURES and not figure.startswith(("subject:", "links:", "rule:")):
            raise HTTPException(404, f"no figure {figure!r}")
        if figure.startswith("rule:"):
            code = figure[5:]
            members = [p for p, items in (await self.findings()).items() if any(f.code == code for f in items)]
        rows = [self._summary(p) for p in (members or [])]
        return self.html("list.html", title=_FIGURES.get(figure) or figure, rows=rows, figure=figure)

    async def search(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        where = [w for w in request.query_params.getlist("where") if w.strip()]
        error, rows = None, []
        if where:
            from .errors import QtkitError
            from .query import parse_where, select

            try:
                conditions = parse_where(where)
                self.fresh()
                chosen = [r.relpath for r in select(self.coll, where=conditions)]
            except QtkitError as exc:
                error, chosen = str(exc), []
            rows = [self._summary(p) for p in chosen]
        if query:
            self.fresh()
            if self._search is None:
                from .search import SearchIndex

                self._search = SearchIndex(self.coll)
            self._search.refresh()
            hits = self._search.search(query, limit=100, marks=("\x02", "\x03"))
            allowed = {r["path"] for r in rows} if where else None
            rows = [{**self._summary(h.path), "snippet": _marked(h.snippet)} for h in hits
                    if allowed is None or h.path in allowed]
        return self.html("search.html", q=query, where=where, rows=rows, error=error)


_FIGURES = {
    "all": "every page",
    "cross_listed": "cross-listed pages (their id is shared with another page)",
    "subjects:variants": "pages of subjects spelled several ways",
    "links:dangling": "pages with a link whose url names no page",
    "links:stale_title": "pages with a link whose title differs from its page's",
    "links:stale_subject": "pages with a link whose subject differs from its page's",
    "empty:answer": "pages with an empty answer",
    "empty:description": "pages with an empty description",
    "ids:missing": "pages without an integer id",
    "ids:nonpositive": "pages with an id <= 0",
    **{f"links:{b}": f"pages with {b} related links" for b in LINK_BUCKETS},
}


def _pages(coll: Collection) -> Pages:
    """Every page of the index (built from its summaries without reading front matter:
    ~10 ms for 10,000 pages)."""
    return Pages(PageRef(*row) for row in coll.summaries())


def _path(page: PageRef | None) -> str | None:
    return page.relpath if page is not None else None


def _copies(pages: Pages, rel: str) -> list[str]:
    """The other pages of the question at `rel` (cross-listed copies sharing its id), by path."""
    qid = pages.by_path[rel].id if rel in pages.by_path else None
    return sorted(p.relpath for p in pages.by_id.get(qid, ()) if p.relpath != rel) if qid is not None else []


def _marked(snippet: str) -> Markup:
    """A search snippet, escaped, with its \\x02..\\x03 marks as <mark>."""
    return Markup(str(Markup.escape(snippet)).replace("\x02", "<mark>").replace("\x03", "</mark>"))


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A listening socket (port 0: any free port). Raises OSError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(app: App, *, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False,
        ready: Callable[[str], None] | None = None) -> None:
    """Serve `app` until interrupted. `ready(url)` is called once the socket listens.
    Raises `QtkitError` when the address cannot be bound."""
    import uvicorn

    from .errors import QtkitError

    try:
        sock = bind(host, port)
    except OSError as exc:
        raise QtkitError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{actual}/"
    if ready:
        ready(url)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    config = uvicorn.Config(app.asgi, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
