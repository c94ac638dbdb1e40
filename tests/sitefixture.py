"""A small collection in the site's layout, written under tmp_path by the stats and serve tests.

Subject folders; a question cross-listed under two subjects (one id, two pages); an
answer with math (including `\\nabla`, `\\neq`, `\\nu` and a lone `$5`), one with a table
and a code fence, one with markup that must come out escaped; a link whose url names no
page, a link whose title is stale, a subject spelled two ways, an empty description.
"""

from __future__ import annotations

from pathlib import Path

from qtkit.slugs import slug

MATH_ANSWER = (r"It costs $5 to print. The gradient $\nabla f$ points uphill and $a \neq b$.\n\n"
               r"In display form:\n\n$$\nu = \frac{1}{2}$$\n\nInline \(x^2 + y^2\) too.")
TABLE_ANSWER = (r"Compare them:\n\n| unit | symbol |\n|---|---|\n| metre | m |\n| second | s |\n\n"
                r"```python\nprint('<b>hi</b>')\n```")
EVIL_ANSWER = r"Plain <script>alert(1)</script> and <img src=x onerror=alert(2)> text \(\text{<b>x</b>}\)."


def page(qid: int, title: str, subject: str, answer: str, links: list[tuple[int, str, str, str]] = (),
         description: str = "A short description.") -> str:
    """The text of a question file in the house layout."""
    url = f"/learn/{slug(subject)}/questions/{slug(title)}"
    lines = ["---", "_schema: default", f"id: {qid}", "date: 2025-01-02", "title: >-", f"    {title}",
             "article_title: >-", f"    {title}", "seo:", f"  title: QuickTakes | {subject}",
             *(["  page_description: >-", f"    {description}"] if description else ["  page_description: ''"]), "author: QuickTakes", "question: >-", f"    {title}",
             "answer: >-", f"    {answer}", f"subject: {subject}", f"file_name: {slug(title)}.md", f"url: {url}",
             "score: -1.0"]
    for n, (lid, ltitle, lsubject, lurl) in enumerate(links, 1):
        lines += [f"related_article{n}:", f"    id: {lid}", "    title: >-", f"        {ltitle}",
                  f"    subject: {lsubject}", f"    url: {lurl}"]
    return "\n".join(lines + ["---", "", "&nbsp;"])


def url_of(title: str, subject: str) -> str:
    return f"/learn/{slug(subject)}/questions/{slug(title)}"


MATH = ("What is the gradient?", "Mathematics")
TABLE = ("How are SI units written?", "Physics")
MOMENTUM = ("What is momentum?", "Physics")
EVIL = ("Is markup escaped?", "Computer Science")
VARIANT = ("What is a compiler?", "Computer science")
DANGLING_URL = "/learn/mathematics/questions/a-page-that-does-not-exist"


def build(root: Path) -> Path:
    """Write the collection under `root` and return it."""
    files = {
        MATH: page(1, *MATH, MATH_ANSWER, [(2, TABLE[0], TABLE[1], url_of(*TABLE)),
                                            (99, "A page that does not exist", "Mathematics", DANGLING_URL)]),
        TABLE: page(2, *TABLE, TABLE_ANSWER, [(1, "An old title of the gradient page", "Mathematics", url_of(*MATH)),
                                               (3, MOMENTUM[0], "Physics", url_of(*MOMENTUM))]),
        MOMENTUM: page(3, *MOMENTUM, r"Mass times velocity, \(p = mv\).", [(1, MATH[0], MATH[1], url_of(*MATH))]),
        (MOMENTUM[0], "Mathematics"): page(3, MOMENTUM[0], "Mathematics", r"Mass times velocity, \(p = mv\).",
                                           [(2, TABLE[0], TABLE[1], url_of(*TABLE))]),
        EVIL: page(7, *EVIL, EVIL_ANSWER, description=""),
        VARIANT: page(9, *VARIANT, "A program that translates programs.", [(7, EVIL[0], EVIL[1], url_of(*EVIL))]),
    }
    for (title, subject), text in files.items():
        folder = root / slug(subject)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{slug(title)}.md").write_text(text, encoding="utf-8")
    return root
