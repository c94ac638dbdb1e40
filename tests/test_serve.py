"""`qtkit serve`: a real server on a free loopback port, its HTML checked page by page;
a smoke test in headless Chromium (skipped when /usr/bin/chromium is absent); the
answer renderer on its own."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qtkit.cli import app
from qtkit.answers import decode_answer
from qtkit.render import answer_html

from . import sitefixture as site
from .browser import CHROMIUM

TIMEOUT = 60  # seconds: the longest any one wait may take


class Server:
    """`python -m qtkit serve --port 0` in a subprocess; `url` once it listens."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "qtkit", "serve", "--root", str(root), "--port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        found: list[str] = []
        self.log: list[str] = []

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
                if m and not found:
                    found.append(m.group(1))

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while not found and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)
        if not found:
            self.stop()
            raise RuntimeError("the server did not start: " + "".join(self.log))
        self.url = found[0].rstrip("/")

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=TIMEOUT) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return site.build(tmp_path_factory.mktemp("serve") / "learn")


@pytest.fixture(scope="module")
def server(root: Path):
    srv = Server(root)
    yield srv
    srv.stop()


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def section(page: str, ident: str) -> str:
    """The inner HTML of the element with this id (nested elements of its kind balanced)."""
    m = re.search(rf'<(section|div|article|h1|table)[^>]* id="{ident}"[^>]*>', page)
    assert m, f"no #{ident}"
    depth = 1
    for tag in re.finditer(rf"<(/?){m.group(1)}\b[^>]*>", page[m.end():]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return page[m.end() : m.end() + tag.start()]
    raise AssertionError(f"#{ident} is not closed")


def test_math_answer(server: Server) -> None:
    status, page = server.get(site.url_of(*site.MATH))
    assert status == 200
    answer = section(page, "answer")
    assert answer.count("<math ") == 4  # \nabla f, a \neq b, \nu = 1/2 (display), x^2 + y^2
    assert '<mo>∇</mo>' in answer and "<mo>≠</mo>" in answer and "<mi>ν</mi>" in answer
    assert 'display="block"' in answer and "<mfrac>" in answer
    assert "It costs $5 to print." in answer  # a lone currency amount stays text
    assert "\\n" not in answer and "<p>In display form:</p>" in answer


def test_table_and_code(server: Server) -> None:
    status, page = server.get(site.url_of(*site.TABLE))
    assert status == 200
    answer = section(page, "answer")
    assert "<table>" in answer and "<th>unit</th>" in answer and "<td>metre</td>" in answer
    assert """<pre><code class="language-python">print('&lt;b&gt;hi&lt;/b&gt;')""" in answer


def test_markup_is_escaped(server: Server) -> None:
    status, page = server.get(site.url_of(*site.EVIL))
    assert status == 200
    answer = section(page, "answer")
    assert "<script" not in answer and "<img" not in answer and "<b>" not in answer
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer
    assert 'class="math-error"' in answer  # \text{<b>x</b>} is shown as source, not trusted


def test_links_marked(server: Server) -> None:
    _, page = server.get(site.url_of(*site.MATH))
    related = section(page, "related")
    items = re.findall(r'<li class="([^"]*)" data-n="(\d)">(.*?)</li>', related, re.S)
    assert [(cls, n) for cls, n, _ in items] == [("", "1"), ("dangling", "2")]
    assert f'href="{site.url_of(*site.TABLE)}"' in items[0][2]
    assert "its url names no page" in items[1][2] and site.DANGLING_URL in items[1][2] and "href=" not in items[1][2]
    _, page = server.get(site.url_of(*site.TABLE))
    items = re.findall(r'<li class="([^"]*)" data-n="(\d)">(.*?)</li>', section(page, "related"), re.S)
    assert items[0][0] == "stale" and "title differs from the page&#39;s" in items[0][2]
    assert items[1][0] == ""  # id 3 names two pages, but the url names one: not stale


def test_cross_listed(server: Server) -> None:
    status, page = server.get(site.url_of(*site.MOMENTUM))
    assert status == 200
    copies = section(page, "copies")
    assert 'href="/learn/mathematics/questions/what-is-momentum"' in copies
    assert "physics/what-is-momentum.md" not in copies
    status, panels = server.get("/panels/physics/what-is-momentum.md?fragment=1")
    assert status == 200
    inbound = section(panels, "inbound")
    assert "(1)" in text_of(re.search(r"<h3>.*?</h3>", inbound, re.S).group(0))
    assert "physics/how-are-si-units-written.md" in inbound  # links to it by url
    assert "mathematics/what-is-the-gradient.md" not in inbound


def test_panels(server: Server) -> None:
    status, panels = server.get("/panels/physics/how-are-si-units-written.md?fragment=1")
    assert status == 200
    assert "<html" not in panels  # a fragment for the page's script
    assert "An old title of the gradient page" in html.unescape(section(panels, "findings"))  # check: the stale link
    relink = section(panels, "relink")
    assert "score" in relink and "Scored with" in relink
    status, full = server.get("/panels/physics/how-are-si-units-written.md")
    assert status == 200 and "<html" in full


def test_dashboard_numbers_equal_stats_json(server: Server, root: Path) -> None:
    result = CliRunner().invoke(app, ["stats", "--root", str(root), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    status, page = server.get("/")
    assert status == 200
    shown = {name: text_of(value).strip()
             for name, value in re.findall(r'data-figure="([^"]+)">(.*?)</(?:div|span|td)>', page, re.S)}
    assert len(shown) >= 20
    for name, value in shown.items():
        node = data
        for part in name.split("."):
            node = node[part]
        assert value == str(node), name
    for subject in data["subjects"]:
        row = re.search(rf'<tr data-subject="{subject["key"]}">(.*?)</tr>', page, re.S).group(1)
        cells = [text_of(c).strip() for c in re.findall(r'<td class="n">(.*?)</td>', row, re.S)]
        assert cells == [str(subject["pages"]), str(subject["questions"])]


def test_numbers_link_to_their_pages(server: Server) -> None:
    _, page = server.get("/")
    assert 'href="/list/links%3Adangling"' in page
    status, listing = server.get("/list/links:dangling")
    assert status == 200 and "mathematics/what-is-the-gradient.md" in listing and "1 pages" in listing
    _, listing = server.get("/list/cross_listed")
    assert listing.count("what-is-momentum.md") == 2
    assert server.get("/list/no-such-figure")[0] == 404


def test_findings_per_rule_link_to_their_pages(server: Server) -> None:
    server.get("/panels/physics/how-are-si-units-written.md?fragment=1")  # waits for check to finish
    _, page = server.get("/")
    rules = section(page, "rules")
    links = dict(re.findall(r'href="(/list/rule:QT\d+)">(\d+)</a>', rules))
    assert links, rules
    listed = {}
    for href, count in links.items():
        _, listing = server.get(href)
        listed[href] = re.findall(r"<code>([^<]+\.md)</code>", listing)
        assert len(listed[href]) <= int(count)
    assert any("physics/how-are-si-units-written.md" in paths for paths in listed.values())  # its stale link


def test_search_and_where(server: Server) -> None:
    status, page = server.get("/search?q=gradient")
    assert status == 200 and "mathematics/what-is-the-gradient.md" in page and "<mark>" in page
    _, page = server.get("/search?where=subject%3DPhysics")
    assert "physics/what-is-momentum.md" in page and "mathematics/what-is-momentum.md" not in page
    _, page = server.get("/search?q=velocity&where=subject%3DMathematics")
    assert "mathematics/what-is-momentum.md" in page and "physics/what-is-momentum.md" not in page
    _, page = server.get("/search?where=nonsense")
    assert "--where expects KEY=VALUE" in html.unescape(page)


def test_read_only_and_local(server: Server) -> None:
    request = urllib.request.Request(server.url + "/", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert info.value.code == 405
    request = urllib.request.Request(server.url + "/", headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=TIMEOUT)
    assert info.value.code == 400
    assert server.get("/learn/physics/questions/nothing-here")[0] == 404


def test_reloads_changed_files(tmp_path: Path) -> None:
    root = site.build(tmp_path / "learn")
    srv = Server(root)
    try:
        path = root / "physics" / "what-is-momentum.md"
        assert "Mass times velocity" in srv.get(site.url_of(*site.MOMENTUM))[1]
        path.write_text(path.read_text().replace("Mass times velocity", "Changed on disk"))
        deadline = time.monotonic() + 20
        while "Changed on disk" not in srv.get(site.url_of(*site.MOMENTUM))[1]:
            assert time.monotonic() < deadline, "the change was not picked up"
            time.sleep(0.3)
    finally:
        srv.stop()


def test_cli_port_in_use(root: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--root", str(root), "--port", str(port)])
    assert result.exit_code == 1 and result.stderr.startswith("error: cannot listen on 127.0.0.1:")
    result = CliRunner().invoke(app, ["serve", "--root", str(root), "--port", "70000"])
    assert result.exit_code == 2


# ------------------------------------------------------------------ the renderer alone


@pytest.mark.parametrize("raw, expected", [
    (r"a\nb", "a\nb"),
    (r"$\nabla f$ and $a \neq b$\n\nnext", "$\\nabla f$ and $a \\neq b$\n\nnext"),
    (r"\(\nu\)\nline", "\\(\\nu\\)\nline"),
    (r"costs $5\nthen $x$", "costs $5\nthen $x$"),
    (r"$5 and $6 each\nend", "$5 and $6 each\nend"),
    (r"$$x \\ \nu$$", r"$$x \\ \nu$$"),
    (r"C:\MinGW\bin", r"C:\MinGW\bin"),
    (r"where $ u' $ is the derivative\nof $ \nu $", "where $u'$ is the derivative\nof $\\nu$"),
    (r"costs $5 and $ 6 today", "costs $5 and $ 6 today"),
])
def test_decode(raw: str, expected: str) -> None:
    assert decode_answer(raw, tight_math=True) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab x\n.|-*`#1"))))
def test_decode_turns_every_literal_newline_outside_math_into_a_newline(text: str) -> None:
    assert decode_answer(text.replace("\n", "\\n"), tight_math=True) == text


PIECES = list("<>&\"'$\\()[]{}n ab/=|-`\n") + ["<script>", "\\text{", "onerror=", "<img src=x ", "javascript:",
                                                "\\n", "[x](", "$$", "\\(", "\\["]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_answer_html_never_lets_markup_through(text: str) -> None:
    out = answer_html(text)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", out))
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert not re.search(r"<[^>]*\son\w+=", out) and 'href="javascript:' not in out


ALLOWED_TAGS = {"p", "br", "code", "pre", "em", "strong", "s", "a", "table", "thead", "tbody", "tr", "th", "td", "ul",
                "ol", "li", "blockquote", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "div", "math", "mrow", "mi", "mn",
                "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "munder", "mover", "munderover", "mfrac",
                "msqrt", "mroot", "mstyle", "merror", "mpadded", "mphantom", "menclose", "mtable", "mtr", "mtd"}


def test_answer_html_currency_and_math() -> None:
    out = answer_html(r"Pay $5 or $10 today; the area is $\pi r^2$.")
    assert "Pay $5 or $10 today" in out and out.count("<math") == 1 and "<mi>π</mi>" in out


def test_answer_html_display_brackets_inside_a_paragraph() -> None:
    out = answer_html(r"so\n\[ \int_0^1 x\,dx \]\nthen")
    assert 'display="block"' in out and "<mo>∫</mo>" in out


# ------------------------------------------------------------------ in a real browser


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
def test_browser_smoke(server: Server, tmp_path: Path) -> None:
    pytest.importorskip("websockets")
    from .browser import Browser

    browser = Browser(tmp_path / "profile")
    try:
        for path in ("/", site.url_of(*site.MATH), site.url_of(*site.TABLE), "/search?q=momentum"):
            errors = browser.open(server.url + path)
            assert errors == [], (path, errors)
        assert browser.open(server.url + "/learn/physics/questions/no-such-page")  # errors are seen: a 404 load
        browser.open(server.url + site.url_of(*site.MOMENTUM), settle=3.0)
        assert browser.evaluate("document.querySelector('#panels.loaded #relink') !== null")
        assert browser.evaluate("document.querySelectorAll('#answer math').length") == 1
    finally:
        browser.close()


def test_unexpected_errors_become_a_500_page(root: Path) -> None:
    """An exception inside a handler is a 500 page and one `on_error` line (the library
    prints nothing), never a traceback in the response."""
    import asyncio

    import uvicorn

    from qtkit import serve

    state: dict = {}
    lines: list[str] = []

    def main() -> None:
        app = serve.App(root, watch=False, on_error=lines.append)

        def broken(rel: str) -> None:
            raise RuntimeError("boom <b>")

        app._page = broken  # type: ignore[method-assign]
        sock = serve.bind("127.0.0.1", 0)
        state["url"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = state["server"] = uvicorn.Server(uvicorn.Config(app.asgi, log_level="critical", lifespan="on"))
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not (state.get("server") and state["server"].started) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(state["url"] + site.url_of(*site.MATH), timeout=TIMEOUT)
        body = info.value.read().decode()
        assert info.value.code == 500
        assert "RuntimeError: boom &lt;b&gt;" in body and "Traceback" not in body
        assert lines == [f"error: {site.url_of(*site.MATH)}: RuntimeError: boom <b>"]
    finally:
        state["server"].should_exit = True
        thread.join(TIMEOUT)


def test_relink_suggestions_are_what_collection_related_gives(tmp_path: Path) -> None:
    """The panel's model scores exactly as `relink.related` (relink's own API) does."""
    from qtkit.explain import RelinkModel
    from qtkit.index import Collection
    from qtkit.relink import related

    root = site.build(tmp_path / "learn")
    coll = Collection(root)
    model = RelinkModel(coll)
    for rel, qid in [("physics/how-are-si-units-written.md", 2), ("mathematics/what-is-the-gradient.md", 1)]:
        mine = [(s.id, s.url, s.score) for s in model.suggest(coll, rel)]
        assert mine, rel
        assert mine == [(r["id"], r["url"], r["score"]) for r in related(coll, qid)]
    assert model.suggest(coll, "no/such-page.md") is None
