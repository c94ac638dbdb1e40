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
from collections import Counter, defaultdict
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


class Target(NamedTuple):
    """A page as links to it are checked: the page, its `question`, its title and subject
    as a reader sees them (`text`), and the block a correct link to it holds (`link_fields`;
    None when one of them would be missing)."""

    ref: PageRef
    question: tuple | None
    title: str
    subject: str
    block: dict | None


def target_of(ref: PageRef | None) -> Target | None:
    """`ref` as links to it are checked (None for None)."""
    if ref is None:
        return None
    _, qid, title, subject, url = ref  # (`link_fields`, `question` and `text`'s common case, inlined)
    if title.__class__ is not str or "  " in title or "\n" in title or "\t" in title or title.strip() != title:
        title = text(title)
    if subject.__class__ is not str or "  " in subject or "\n" in subject or "\t" in subject or \
            subject.strip() != subject:
        subject = text(subject)
    block = {"id": qid, "title": title, "subject": subject, "url": url} \
        if title and subject and qid not in (None, "") and url not in (None, "") else None
    return _new(Target, (ref, (qid, title.casefold()) if qid is not None else None, title, subject, block))


_new = tuple.__new__  # a NamedTuple made from its fields' tuple, without its Python `__new__`


def related_blocks(data: dict) -> list[tuple[int, str, Any]]:
    """A page's related blocks as (N, key, value), by N: `[(1, "related_article1", {...}), ...]`."""
    keys = tuple(data)
    found = _BLOCK_KEYS.get(keys)
    if found is None:
        found = sorted((int(m.group(1)), key) for key in keys
                       if isinstance(key, str) and key[:15] == "related_article" and (m := RELATED.match(key)))
        if len(_BLOCK_KEYS) >= 4096:  # the layouts of a collection are few; bound them all the same
            _BLOCK_KEYS.clear()
        _BLOCK_KEYS[keys] = found
    return [(n, key, data[key]) for n, key in found]


#: the related keys (N, key) of a layout (a front matter's keys in order), found once for each
_BLOCK_KEYS: dict[tuple, list[tuple[int, str]]] = {}


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

    def __init__(self, pages: Iterable[PageRef], *, by_id: bool = True) -> None:
        """`pages` by id, then path (as `Collection.summaries()` gives them): the pages
        that share a url or an id are listed in that order. With `by_id=False` they may
        come in any order (integer or None ids only) and those lists are sorted so."""
        refs = list(pages)
        self.by_path: dict[str, PageRef] = {page[0]: page for page in refs}
        urls = [url if isinstance(url, str) and url else None for _, _, _, _, url in refs]
        self.by_url: dict[str, list[PageRef]] = _index(refs, urls, by_id)
        self.by_id: dict[Any, list[PageRef]] = _index(refs, [page[1] for page in refs], by_id)
        self._by_address: dict[str, list[str]] | None = None
        self._targets: dict[str, Target | None] = {}

    def __iter__(self) -> Iterator[PageRef]:
        return iter(self.by_path.values())

    def resolve(self, link: Any) -> PageRef | None:
        """The page a link's url names (None for a missing url or one no page has)."""
        url = link.get("url") if isinstance(link, dict) else None
        found = self.by_url.get(url) if isinstance(url, str) else None
        return found[0] if found else None

    def target(self, url: Any) -> Target | None:
        """What a link to `url` is checked against: the page `resolve` gives, worked out
        once a url (None for a url that is not a string or that no page has)."""
        if not isinstance(url, str):
            return None
        found = self._targets.get(url, self)
        if found is self:
            refs = self.by_url.get(url)  # (`resolve`, inlined)
            found = self._targets[url] = target_of(refs[0]) if refs else None
        return found

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


def _index(refs: list[PageRef], keys: list, by_id: bool) -> dict[Any, list[PageRef]]:
    """{key: [page, ...]} of the pages whose key (`keys[i]` of `refs[i]`; None for none) is
    not None, in the order of `refs` (by `_by_id` when not `by_id`): one list a key, made
    in a comprehension, and the few shared keys' lists made again."""
    index = {key: [page] for page, key in zip(refs, keys) if key is not None}
    if len(index) < len(keys) - keys.count(None):
        shared = {key for key, n in Counter(key for key in keys if key is not None).items() if n > 1}
        for key in shared:
            index[key] = []
        for page, key in zip(refs, keys):
            if key is not None and key in shared:
                index[key].append(page)
        if not by_id:
            for key in shared:
                index[key].sort(key=_by_id)
    return index


def _by_id(page: PageRef) -> tuple:
    """The order of `Collection.summaries()`: by id (None last), then path."""
    return page.id is None, page.id if page.id is not None else 0, page.relpath


class Problem(NamedTuple):
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
    """Everything wrong with the related links in `data`, the front matter of `page`
    (`pages` may be any object with `resolve(link)`; a `Pages` works out each target once)."""
    out: list[Problem] = []
    blocks = related_blocks(data)
    if not blocks:
        return out
    own = question(page)
    cached = pages.target if isinstance(pages, Pages) else None
    seen_pages: set[str] = set()
    seen_ids: set = set()
    seen_urls: set = set()
    for _, key, link in blocks:
        if not isinstance(link, dict):
            out.append(Problem(key, "incomplete", "", f"{key} is not a mapping of id, title, subject, url", "drop"))
            continue
        url = link.get("url")
        target = cached(url) if cached is not None else target_of(pages.resolve(link))
        if isinstance(url, str) and url and url in seen_urls:
            out.append(Problem(key, "repeated", "url", f"{key} links again to a page linked before: {url}", "drop"))
            continue
        if isinstance(url, str):  # (only a string is looked up: a list would not hash)
            seen_urls.add(url)
        if target is None:
            why = "has no url" if not isinstance(url, str) or not url else f"url {url!r} names no page"
            out.append(Problem(key, "dangling", "url", f"{key} {why}", "drop"))
            continue
        ref, wanted = target.ref, target.question
        if ref.relpath == page.relpath or (own is not None and wanted == own):
            what = "the page itself" if ref.relpath == page.relpath else f"its own cross-listed copy {ref.relpath}"
            out.append(Problem(key, "self", "url", f"{key} links to {what}", "drop"))
            continue
        if ref.relpath in seen_pages or wanted in seen_ids:
            what = "page" if ref.relpath in seen_pages else f"question (id {ref.id})"
            out.append(Problem(key, "repeated", "url", f"{key} links again to a {what} linked before: {ref.url}", "drop"))
            continue
        seen_pages.add(ref.relpath)
        if ref.id is not None:
            seen_ids.add(wanted)
        if link == target.block:  # the link is the block itself: nothing stale, nothing missing
            continue
        found = len(out)
        if link.get("id") != ref.id:
            out.append(Problem(key, "stale-id", "id", f"{key}.id is {link.get('id')!r}, the page its url names has id "
                                                      f"{ref.id!r}", ref.id))
        for name, want in (("title", target.title), ("subject", target.subject)):
            have = link.get(name)
            if want and have != want and text(have) != want:  # `want` is a reader's text: equal means same text
                out.append(Problem(key, f"stale-{name}", name, f"{key}.{name} is {have!r}, the page its url names has "
                                                                f"{want!r}", want))
        if len(out) == found:
            missing = [name for name in LINK_FIELDS if link.get(name) in (None, "")]
            if missing:
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
