"""Rules 1xx, syntax: the file is not a readable question file."""

from __future__ import annotations

from .facts import Unreadable
from .registry import Hit, rule


@rule("QT101", "unreadable", summary="the file is not a readable question file (front matter, YAML, UTF-8)",
      old=("QT001",), scope="file")
def unreadable(file: Unreadable) -> list[Hit]:
    """## What it does
    Reports a `.md` file that qtkit cannot read as a question: no front matter (the file
    does not start with a `---` line, or the front matter never closes), invalid YAML, an
    alias or anchor, a duplicate key, front matter that is not a mapping, or bytes that are
    not UTF-8. The finding is at the line and column where the parser stopped.

    ## Why is this bad?
    The site cannot build the page, and no qtkit command can read or edit it: the page
    is missing from every export, link and check until it is repaired. qtkit never
    rewrites a file it cannot read.

    ## Example
    ```markdown
    ---
    title: [unclosed
    ---
    ```
    reports `broken.md:3:1: QT101 invalid YAML: did not find expected ',' or ']'` (the
    parser's message, where it stopped).

    ## Fix
    None automatic: repair the file by hand at the line given (`qtkit get FILE` reads it
    again once it parses).
    """
    return [Hit(file.message)]
