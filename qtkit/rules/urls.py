"""Rules 3xx, slugs, urls and places: what a page's title and subject decide
(`qtkit.derived`) and where its file is."""

from __future__ import annotations

from ..derived import location_url, subject_key_of
from .facts import PageFacts
from .registry import Hit, rule


@rule("QT301", "file-name-not-derived", summary="file_name is not slug(title).md", old=("QT010",))
def file_name_not_derived(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a `file_name` that is not the slug of the title plus `.md` (the site's slug
    rule: lowercase, every character but `a-z`, `0-9` and space deleted, each space a
    hyphen).

    ## Why is this bad?
    The site names a page's file after its title; a `file_name` that does not follow the
    title is the trace of a rename done by hand, and the next tool to trust it files the
    page in the wrong place.

    ## Example
    ```yaml
    title: What is opportunity cost?
    file_name: something-else.md
    ```
    reports `QT301 file_name 'something-else.md' should be 'what-is-opportunity-cost.md'`.

    ## Fix
    None automatic (a file name is part of the page's address): `qtkit rename FILE --title`
    changes the title, `file_name`, url and file together and redirects the old url.
    """
    file_name = page.data.get("file_name")
    want = page.title_slug + ".md"
    if page.title and isinstance(file_name, str) and file_name != want:
        return [Hit(f"file_name {file_name!r} should be {want!r} (from the title)", ("file_name",))]
    return []


@rule("QT302", "url-not-derived",
      summary="url is not the url pattern filled with the subject's key and the title's slug", old=("QT011",))
def url_not_derived(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a `url` that is not `url_pattern` (`/learn/{subject_slug}/questions/{slug}` by
    default) filled with the subject's key and the title's slug.

    ## Why is this bad?
    Links name pages by url: a url that no longer follows the title and subject is one a
    reader cannot guess and one that a rename left behind.

    ## Example
    ```yaml
    title: What is a derivative?
    subject: Mathematics
    url: /learn/mathematics/questions/old-slug
    ```
    reports `QT302 url '/learn/mathematics/questions/old-slug' should be
    '/learn/mathematics/questions/what-is-a-derivative'`.

    ## Fix
    None automatic (a url is an address other pages link to): `qtkit rename` changes it
    together with the links to it and records a redirect.
    """
    url = page.data.get("url")
    if not page.title or not page.subject or not isinstance(url, str):
        return []
    want = page.config.url_for(page.subject_key, page.title_slug)
    return [Hit(f"url {url!r} should be {want!r} (from subject and title)", ("url",))] if url != want else []


@rule("QT303", "url-not-location",
      summary="url is not the address the site serves the file at (<folder>/<file>.md -> /learn/<folder>/questions/"
              "<file>)")
def url_not_location(page: PageFacts) -> list[Hit]:
    """## What it does
    In the site's layout, reports a `url` that is not the address the site serves the
    file at: `<folder>/<stem>.md` is served at `/learn/<folder>/questions/<stem>`.

    ## Why is this bad?
    The site serves a page from where its file is, whatever its `url` says: links that
    follow the `url` lead nowhere.

    ## Example
    `mathematics/what-is-a-derivative.md` with
    `url: /learn/mathematics/questions/old-slug` reports `QT303 url ... is not where the
    site serves this file: '/learn/mathematics/questions/what-is-a-derivative'`.

    ## Fix
    None automatic: `qtkit rename` moves the file and the url together.
    """
    url = page.data.get("url")
    served = location_url(page.relpath, page.config)
    if served is not None and isinstance(url, str) and url != served:
        return [Hit(f"url {url!r} is not where the site serves this file: {served!r}", ("url",))]
    return []


@rule("QT304", "duplicate-url", summary="two pages have the same url", old=("QT030",))
def duplicate_url(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a `url` another page has too (each of the pages reports it).

    ## Why is this bad?
    A url names one page: links to it resolve to either, and the site publishes one of
    them over the other.

    ## Example
    `economics/why-do-caf-prices-end-in-99.md` and a copy `physics/dup.md` with the same
    `url` report `QT304 url is also used by physics/dup.md` (and the other way round).

    ## Fix
    None automatic: give one page its own title (`qtkit rename`) or delete the copy.
    """
    url = page.data.get("url")
    if isinstance(url, str) and len(page.pages.by_url.get(url, ())) > 1:
        others = ", ".join(o.relpath for o in page.pages.by_url[url] if o.relpath != page.relpath)
        return [Hit(f"url is also used by {others}", ("url",))]
    return []


@rule("QT305", "wrong-folder",
      summary="the page is filed in a folder that is not its subject's key (qtkit rename --subject moves it)")
def wrong_folder(page: PageFacts) -> list[Hit]:
    """## What it does
    In the site's layout, reports a page whose subject's key (the slug of its spelling) is
    not the folder it is in.

    ## Why is this bad?
    The site files a subject's pages in the subject's folder and serves them from there:
    a page in another subject's folder is listed and addressed under that subject.

    ## Example
    `physics/dup.md` with `subject: Economics` reports `QT305 subject 'Economics' (key
    'economics') is filed in folder 'physics'`.

    ## Fix
    None automatic: `qtkit rename FILE --subject` moves the page, with its url, derived
    fields and the links to it.
    """
    subject = page.written_subject
    if not subject or page.folder is None or page.in_own_folder:
        return []
    return [Hit(f"subject {subject!r} (key {subject_key_of(subject)!r}) is filed in folder {page.folder!r}",
                ("subject",))]


@rule("QT306", "path-not-file-name", summary="the file is not named by its file_name", old=("QT031",))
def path_not_file_name(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a file whose name is not its `file_name` (outside the site's layout, a file
    named `<id>.md` is accepted too).

    ## Why is this bad?
    The site publishes the file under its file name: a page whose file is named
    otherwise is published at another address than the one its `file_name` and `url`
    promise.

    ## Example
    `mathematics/derivative.md` with `file_name: what-is-a-derivative.md` reports
    `QT306 file is named 'derivative.md', not by its file_name 'what-is-a-derivative.md'`.

    ## Fix
    None automatic: `qtkit rename` renames the file when its title changes; `git mv` the
    file to its `file_name` otherwise.
    """
    file_name = page.data.get("file_name")
    name = page.relpath.rpartition("/")[2]
    allowed = (file_name,) if page.folder is not None else (file_name, f"{page.id}.md")
    if isinstance(file_name, str) and name not in allowed:
        return [Hit(f"file is named {name!r}, not by its file_name {file_name!r}", ("file_name",))]
    return []
