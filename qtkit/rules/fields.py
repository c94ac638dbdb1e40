"""Rules 2xx, fields: required keys, the three titles, the answer, the subject's spelling
and `seo.title`, and ids shared by different questions."""

from __future__ import annotations

from ..links import text
from .facts import PageFacts
from .registry import Hit, rule


@rule("QT201", "missing-key", summary="a required key is missing or empty", old=("QT003",))
def missing_key(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a required key that is missing or empty (only spaces). The required keys are
    `[check] required` in `qtkit.toml`; by default `id`, `title`, `question`, `answer`,
    `subject`, `file_name` and `url`. An `answer` key that is present but empty is QT203's.

    ## Why is this bad?
    The site builds a page's address, heading and listing from these keys: without them
    the page is unreachable or shown without its question.

    ## Example
    ```yaml
    title: What is opportunity cost?
    subject: Economics
    ```
    with no `file_name` reports `QT201 required key 'file_name' is missing or empty`.

    ## Fix
    None automatic: `qtkit set FILE KEY=VALUE` adds the value (a title's derived keys
    are what `qtkit rename` or `qtkit new` would write).
    """
    out = []
    d = page.data
    for key in page.required:
        value = d.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if key != "answer" or key not in d:
                out.append(Hit(f"required key {key!r} is missing or empty", (key,) if key in d else ()))
    return out


@rule("QT202", "titles-disagree", summary="title, article_title and question are not the same text", old=("QT013",))
def titles_disagree(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports an `article_title` or `question` that is not the page's `title` (whitespace
    runs count as one space).

    ## Why is this bad?
    The site shows the three in different places (heading, listing, question box); a page
    edited in one place but not the others shows two different questions.

    ## Example
    ```yaml
    title: What is opportunity cost?
    article_title: What is an opportunity cost?
    ```
    reports `QT202 article_title differs from title` on the `article_title` line.

    ## Fix
    None automatic (which one is right is an editor's call): `qtkit rename FILE --title`
    sets all three, with everything derived from the title.
    """
    if not page.title:
        return []
    d = page.data
    return [Hit(f"{key} differs from title", (key,)) for key in ("article_title", "question")
            if key in d and text(d.get(key)) != page.title]


@rule("QT203", "empty-answer", summary="the answer is empty", old=("QT040",))
def empty_answer(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a page whose `answer` key is present but empty.

    ## Why is this bad?
    The page is published as a question with no answer.

    ## Example
    ```yaml
    answer: ''
    ```
    reports `QT203 the answer is empty`.

    ## Fix
    None automatic: write the answer (`qtkit set FILE answer=...`).
    """
    d = page.data
    answer = d.get("answer")  # empty as a reader sees it: not a string, or only whitespace (`links.text`)
    return [Hit("the answer is empty", ("answer",))] if "answer" in d and not (isinstance(answer, str) and
                                                                               answer.strip()) else []


@rule("QT204", "seo-title-not-derived", fix="safe", summary="seo.title is not '<site_name> | <subject>'",
      old=("QT012",))
def seo_title_not_derived(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a `seo.title` that is not `<site_name> | <subject>` (`site_name` from
    `qtkit.toml`). A `seo.title` that follows the subject as spelled, when the subject
    itself is misspelled, is left to QT205, whose fix updates both.

    ## Why is this bad?
    Search engines and browser tabs show `seo.title`; a stale one names another subject.

    ## Example
    ```yaml
    subject: Mathematics
    seo:
      title: QuickTakes | Maths
    ```
    reports `QT204 seo.title 'QuickTakes | Maths' should be 'QuickTakes | Mathematics'`.

    ## Fix
    Safe: `--fix` writes the derived `seo.title`.
    """
    seo_title = page.seo_title
    if not page.written_subject or not page.in_own_folder or seo_title is None:
        return []
    want = page.config.seo_title(page.subject)
    if seo_title != want and seo_title != page.config.seo_title(text(page.data.get("subject"))):
        return [Hit(f"seo.title {seo_title!r} should be {want!r}", ("seo", "title"), [(("seo", "title"), want)])]
    return []


@rule("QT205", "subject-not-canonical", fix="safe",
      summary="the subject is not the registry's spelling of its subject (e.g. 'Computer science' for"
              " 'Computer Science')", old=("QT014",))
def subject_not_canonical(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports a subject spelled otherwise than the subject registry spells it
    (`Computer science` for `Computer Science`). The registry is `[subjects]` of
    `qtkit.toml` or, without it, one subject per key spelled the best-cased way the
    collection spells it; in the site's layout the folder names the subject.

    ## Why is this bad?
    The site lists subjects by their spelling: one subject spelled two ways is shown as
    two subjects, each with part of the pages.

    ## Example
    ```yaml
    subject: Computer science   # in computer-science/
    ```
    reports `QT205 subject 'Computer science' should be spelled 'Computer Science'`.

    ## Fix
    Safe: `--fix` writes the registry's spelling, and `seo.title` with it when it was
    derived from the old spelling; the next round of `--fix` updates the links to the page
    (QT406).
    """
    respelled = page.respelled
    if respelled is None:
        return []
    subject = page.written_subject
    fixes: list = [("subject", respelled)]
    if page.seo_title == page.config.seo_title(subject):  # derived from the old spelling: follows it
        fixes.append((("seo", "title"), page.config.seo_title(respelled)))
    return [Hit(f"subject {subject!r} should be spelled {respelled!r} (the subject registry's spelling, from"
                f" {page.registry.source})", ("subject",), fixes)]


@rule("QT206", "id-shared-by-different-questions",
      summary="pages with one id hold different questions (cross-listed copies of one question share an id and a"
              " title)", old=("QT002",))
def id_shared_by_different_questions(page: PageFacts) -> list[Hit]:
    """## What it does
    Reports an `id` that another page with a *different* title has. Cross-listed copies
    of one question (same id and title, one page in each subject folder) are not a defect:
    13.6% of the live site's pages are such copies.

    ## Why is this bad?
    An id names a question: links, imports and `qtkit get ID` take two different
    questions with one id for copies of one.

    ## Example
    Two files with `id: 114`, titled `Why do prices end in .99?` and `Why do prices end in
    .95?`, each report `QT206 id 114 is also used by a different question: ...`.

    ## Fix
    None automatic: give one of them a new id (`qtkit set FILE id=...`; `qtkit new`
    allocates the next free one).
    """
    qid = page.id
    if qid is None or len(page.pages.by_id.get(qid, ())) <= 1:
        return []
    others = [o for o in page.pages.by_id[qid] if o.relpath != page.relpath and text(o.title) != page.title]
    if not others:
        return []
    listed = ", ".join(f"{o.relpath} ({text(o.title)!r})" for o in others)
    return [Hit(f"id {qid} is also used by a different question: {listed}", ("id",))]
