"""Rules 4xx, related links: each kind of problem `qtkit.links.problems` finds (the one
definition of a correct link, which `relink` checks before it writes) is one rule."""

from __future__ import annotations

from .facts import PageFacts
from .registry import Hit, rule

#: the kind of link problem (`qtkit.links.KINDS`) each rule reports: its function is
#: `page.link_hits.get(kind, [])`, which `check` takes straight from `PageFacts.link_hits`
KIND_OF = {"QT401": "dangling", "QT402": "self", "QT403": "repeated", "QT404": "stale-id", "QT405": "stale-title",
           "QT406": "stale-subject", "QT407": "incomplete"}


@rule("QT401", "link-dangling", fix="unsafe", summary="a related link's url names no page (or it has no url)",
      old=("QT020",))
def link_dangling(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related link (`related_articleN`) whose `url` names no page of the
    collection, or that has no `url`. Links resolve by url, never by id.

    ## Why is this bad?
    The reader follows the link to a page that does not exist. (In a sample of the
    collection, links into folders the sample does not hold are reported too.)

    ## Example
    ```yaml
    related_article1:
      id: 108
      title: What is a derivative?
      subject: Mathematics
      url: /learn/nowhere/questions/gone
    ```
    reports `QT401 related_article1 url '/learn/nowhere/questions/gone' names no page`.

    ## Fix
    Unsafe (the link is dropped, not repaired): `--fix --unsafe-fixes` removes the block
    and moves the later ones up. `qtkit relink` chooses new links.
    """
    return page.link_hits.get(KIND_OF["QT401"], [])


@rule("QT402", "link-self", fix="safe", summary="a related link names the page itself or one of its cross-listed copies",
      old=("QT021",))
def link_self(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related link to the page itself, or to one of its cross-listed copies (the
    same question, same id and title, in another subject's folder).

    ## Why is this bad?
    A "related question" that is the question the reader is reading wastes one of the
    five places.

    ## Example
    A page whose `related_article1.url` is its own `url` reports
    `QT402 related_article1 links to the page itself`.

    ## Fix
    Safe: `--fix` removes the block and moves the later ones up.
    """
    return page.link_hits.get(KIND_OF["QT402"], [])


@rule("QT403", "link-repeated", fix="safe", summary="a related link names a page or question linked before in the list",
      old=("QT022",))
def link_repeated(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related link to a page, or to a question (two cross-listed copies of one
    question), that an earlier link of the same list already names.

    ## Why is this bad?
    The reader sees one question twice among the five related ones.

    ## Example
    ```yaml
    related_article1:
      url: /learn/history-of-the-world/questions/what-caused-the-fall-of-the-western-roman-empire
    related_article2:
      url: /learn/history-of-the-world/questions/what-caused-the-fall-of-the-western-roman-empire
    ```
    reports `QT403 related_article2 links again to a page linked before: ...`.

    ## Fix
    Safe: `--fix` removes the later block and moves the ones after it up.
    """
    return page.link_hits.get(KIND_OF["QT403"], [])


@rule("QT404", "link-stale-id", fix="safe", summary="a related link's id differs from the id of the page its url names")
def link_stale_id(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related link whose `id` is not the id of the page its `url` names.

    ## Why is this bad?
    Tools that follow links by id (and readers of the front matter) reach another
    question than the site does; on the live site 2.9% of links carry such a stale id.

    ## Example
    ```yaml
    related_article1:
      id: 999
      url: /learn/mathematics/questions/what-is-a-derivative   # that page has id 108
    ```
    reports `QT404 related_article1.id is 999, the page its url names has id 108`.

    ## Fix
    Safe: `--fix` writes the target page's id.
    """
    return page.link_hits.get(KIND_OF["QT404"], [])


@rule("QT405", "link-stale-title", fix="safe", summary="a related link's title differs from the page its url names",
      old=("QT023",))
def link_stale_title(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related link whose `title` is not the title of the page its `url` names
    (whitespace runs count as one space).

    ## Why is this bad?
    The link's text promises a question the page it leads to no longer asks: usually an
    old title of its target.

    ## Example
    `related_article1.title: An old title of that question` for a target now titled
    `What is a derivative?` reports `QT405 related_article1.title is 'An old title of that
    question', the page its url names has 'What is a derivative?'`.

    ## Fix
    Safe: `--fix` writes the target page's title.
    """
    return page.link_hits.get(KIND_OF["QT405"], [])


@rule("QT406", "link-stale-subject", fix="safe", summary="a related link's subject differs from the page its url names",
      old=("QT023",))
def link_stale_subject(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related link whose `subject` is not the subject of the page its `url` names.

    ## Why is this bad?
    The site labels each related link with its subject: a stale one files the question
    under the wrong subject.

    ## Example
    `related_article5.subject: Physic` for a target whose subject is `Physics` reports
    `QT406 related_article5.subject is 'Physic', the page its url names has 'Physics'`.

    ## Fix
    Safe: `--fix` writes the target page's subject (after a QT205 fix, the next round
    updates the links to the respelled page).
    """
    return page.link_hits.get(KIND_OF["QT406"], [])


@rule("QT407", "link-incomplete", fix="unsafe",
      summary="a related link is not a mapping, or lacks a field, that no fix can fill")
def link_incomplete(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a related block that is not a mapping of `id`, `title`, `subject` and `url`,
    or that lacks one of them (or has it empty) where no other finding's fix fills it.

    ## Why is this bad?
    The site cannot show a link without its title and url; a block that is not a mapping
    breaks the page's related list.

    ## Example
    ```yaml
    related_article3: not a link
    ```
    reports `QT407 related_article3 is not a mapping of id, title, subject, url`.

    ## Fix
    Unsafe: `--fix --unsafe-fixes` drops a block that is not a mapping (a mapping that
    only lacks a field is left to `qtkit relink` or to the editor).
    """
    return page.link_hits.get(KIND_OF["QT407"], [])
