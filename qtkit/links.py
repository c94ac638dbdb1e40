"""Related links: list a page's `related_articleN` blocks, resolve them, and say what is wrong.

How the site addresses things (`../shared/FORMAT.md`, "The live collection"): a *page* is
named by its url (equivalently its path); a *question* by its id, which cross-listed copies
of one question share. A link is resolved by its `url` (99.7% of the 103,133 real links
resolve that way; only 97.1% carry the target's id), and its `id`, `title` and `subject` are
facts to check against the page its url names.

A correct link — one definition, used by `check` to report and by `relink` before it
writes — has a non-empty id, title, subject and url; its url names an existing page; its
id, title and subject equal that page's; it names neither the page itself nor one of its
cross-listed copies; and no page or question is linked twice in one list.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple

from .document import Document
from .yamlio import same

#: a related block's key: `related_article1`, `related_article2`, ...
RELATED = re.compile(r"related_article(\d+)\Z")
#: the fields of a link, in the order the site writes them
LINK_FIELDS = ("id", "title", "subject", "url")


class PageRef(NamedTuple):
    """What links need to know of a page: its path, question id, title, subject and url."""

    relpath: str
    id: Any
    title: str | None
    subject: str | None
    url: str | None


def related_blocks(data: dict) -> list[tuple[int, str, Any]]:
    """A page's related blocks as (N, key, value), by N: `[(1, "related_article1", {...}), ...]`."""
    return sorted((int(m.group(1)), key, data[key]) for key in data
                  if key[:15] == "related_article" and (m := RELATED.match(key)))


def text(value: Any) -> str:
    """A title or subject as a reader sees it: whitespace runs as one space ("" if not a string)."""
    if not isinstance(value, str):
        return ""
    if "  " not in value and value.strip() == value and "\n" not in value and "\t" not in value:
        return value
    return " ".join(value.split())


def question(page: PageRef) -> tuple | None:
    """What names a question: its id and its title. Cross-listed copies share both; two
    different questions that share an id by mistake (check's QT206) are still two."""
    return (page.id, text(page.title).casefold()) if page.id is not None else None


def link_fields(target: PageRef) -> dict:
    """The block a link to `target` should hold: `{"id", "title", "subject", "url"}`."""
    return {"id": target.id, "title": text(target.title), "subject": text(target.subject), "url": target.url}


def address(relpath: str, url: Any) -> str | None:
    """The address the site serves a page at: `/learn/<folder>/questions/<stem>` for a
    file in a subject folder (`<folder>/<stem>.md`, optionally under `learn/`), else the
    page's own `url` value (None if it has none)."""
    parts = relpath.split("/")
    if len(parts) >= 2 and parts[-1].endswith(".md") and (len(parts) == 2 or parts[-3] == "learn"):
        return f"/learn/{parts[-2]}/questions/{parts[-1][:-3]}"
    return url if isinstance(url, str) and url else None


class Pages:
    """Every page of a collection, by url and by question id: what resolving links needs."""

    def __init__(self, pages: Iterable[PageRef]) -> None:
        self.by_url: dict[str, list[PageRef]] = defaultdict(list)
        self.by_id: dict[Any, list[PageRef]] = defaultdict(list)
        self.by_path: dict[str, PageRef] = {}
        self._by_address: dict[str, list[str]] | None = None
        for page in pages:
            self.by_path[page.relpath] = page
            if isinstance(page.url, str) and page.url:
                self.by_url[page.url].append(page)
            if page.id is not None:
                self.by_id[page.id].append(page)

    def __iter__(self) -> Iterator[PageRef]:
        return iter(self.by_path.values())

    def resolve(self, link: Any) -> PageRef | None:
        """The page a link's url names (None for a missing url or one no page has)."""
        url = link.get("url") if isinstance(link, dict) else None
        found = self.by_url.get(url) if isinstance(url, str) else None
        return found[0] if found else None

    def at(self, where: Any) -> PageRef | None:
        """The page at a site address (the first by path): one the site serves there (by
        where its file is: `address`) or whose `url` is it. None when no page is there."""
        if self._by_address is None:
            self._by_address = defaultdict(list)
            for page in self:
                own = address(page.relpath, page.url)
                if own is not None:
                    self._by_address[own].append(page.relpath)
                if page.url and page.url != own:
                    self._by_address[page.url].append(page.relpath)
        found = self._by_address.get(where) if isinstance(where, str) else None
        return self.by_path[min(found)] if found else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one link. `kind` is one of `KINDS`; `field` the link field it is
    about; `fix` is "drop" or the value the field should hold."""

    key: str
    kind: str
    field: str
    message: str
    fix: Any = None


#: kinds of link problem, in the order they are looked for
KINDS = ("dangling", "self", "repeated", "stale-id", "stale-title", "stale-subject", "incomplete")


def problems(page: PageRef, data: dict, pages: Pages) -> list[Problem]:
    """Everything wrong with the related links in `data`, the front matter of `page`."""
    out: list[Problem] = []
    seen_pages: set[str] = set()
    seen_ids: set = set()
    seen_urls: set = set()
    for _, key, link in related_blocks(data):
        if not isinstance(link, dict):
            out.append(Problem(key, "incomplete", "", f"{key} is not a mapping of id, title, subject, url", "drop"))
            continue
        target = pages.resolve(link)
        url = link.get("url")
        if isinstance(url, str) and url and url in seen_urls:
            out.append(Problem(key, "repeated", "url", f"{key} links again to a page linked before: {url}", "drop"))
            continue
        seen_urls.add(url)
        if target is None:
            url = link.get("url")
            why = "has no url" if not isinstance(url, str) or not url else f"url {url!r} names no page"
            out.append(Problem(key, "dangling", "url", f"{key} {why}", "drop"))
            continue
        if target.relpath == page.relpath or (question(page) is not None and question(target) == question(page)):
            what = "the page itself" if target.relpath == page.relpath else f"its own cross-listed copy {target.relpath}"
            out.append(Problem(key, "self", "url", f"{key} links to {what}", "drop"))
            continue
        if target.relpath in seen_pages or question(target) in seen_ids:
            what = "page" if target.relpath in seen_pages else f"question (id {target.id})"
            out.append(Problem(key, "repeated", "url", f"{key} links again to a {what} linked before: {target.url}", "drop"))
            continue
        seen_pages.add(target.relpath)
        if target.id is not None:
            seen_ids.add(question(target))
        want = link_fields(target)
        if link.get("id") != want["id"]:
            out.append(Problem(key, "stale-id", "id", f"{key}.id is {link.get('id')!r}, the page its url names has id "
                                                      f"{want['id']!r}", want["id"]))
        for name in ("title", "subject"):
            have = link.get(name)
            if text(have) != want[name] and want[name]:
                out.append(Problem(key, f"stale-{name}", name, f"{key}.{name} is {have!r}, the page its url names has "
                                                                f"{want[name]!r}", want[name]))
        missing = [name for name in LINK_FIELDS if link.get(name) in (None, "")]
        if missing and not any(p.key == key for p in out):
            out.append(Problem(key, "incomplete", missing[0], f"{key} has no {', '.join(missing)}", None))
    return out


# ------------------------------------------------------------------ editing a page's links


def current_links(data: dict) -> list[Any]:
    """A page's related blocks in N order, as they are (whatever their keys or type)."""
    return [value for _, _, value in related_blocks(data)]


def links_digest(links: list) -> bytes:
    """A 16-byte digest of a list of related blocks: equal lists (same keys, values and
    types, in any key order) give equal digests."""
    import hashlib

    import orjson

    canon = [sorted((str(k), type(v).__name__, str(v)) for k, v in link.items()) if isinstance(link, dict)
             else ("", type(link).__name__, str(link)) for link in links]
    return hashlib.blake2b(orjson.dumps(canon), digest_size=16).digest()


def set_related(doc: Document, blocks: list[dict]) -> Document:
    """Make a document's related blocks exactly `blocks`, in order, numbered from 1; return
    `doc` (edited, not written).

    An existing block is edited value by value (styles kept, keys not in the new block
    removed); a new block takes the style of the file's other blocks, or of its title.
    Raises `EditError` when the front matter cannot be edited.
    """
    data = {key: doc.lookup(key) for key in doc.keys() if key[:15] == "related_article"}
    existing = [(n, key) for n, key, _ in related_blocks(data)]
    twins = [key for _, key in existing if isinstance(data[key], dict)]
    title = doc.entry("title")
    title_style = title.style.kind if title is not None and title.children is None else None
    for n, block in enumerate(blocks, 1):
        key = f"related_article{n}"
        current = data.get(key)
        entry = doc.entry(key) if isinstance(current, dict) else None
        if entry is not None and entry.children is not None:
            for name, value in block.items():
                if name not in current or not same(current[name], value):
                    doc.set((key, name), value)
            for name in [k for k in current if k not in block]:
                doc.delete((key, name))
        else:
            kinds = {"title": title_style} if not twins and title_style in ("folded", "plain") else None
            doc.set((key,), dict(block), kinds=kinds)
            twins.append(key)
    for n, key in existing:
        if n > len(blocks) or n < 1:
            doc.delete((key,))
    return doc


def fix_related(doc: Document, drops: set[str], sets: dict[tuple[str, str], Any]) -> Document:
    """Apply link fixes to a document (not written): remove the blocks named in `drops`
    (`"related_article3"`), set `sets[(key, field)] = value` in the others, and number the
    blocks left from 1 (through `set_related`). A block that is not a mapping and not
    dropped is kept as it is. Returns `doc`."""
    data = {key: doc.lookup(key) for key in doc.keys() if key[:15] == "related_article"}
    blocks = []
    for _, key, link in related_blocks(data):
        if key in drops:
            continue
        if not isinstance(link, dict):
            blocks.append(link)
            continue
        block = dict(link)
        for (k, name), value in sets.items():
            if k == key:
                block[name] = value
        blocks.append(block)
    return set_related(doc, blocks)
