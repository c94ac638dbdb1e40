"""What `import` refuses, each with a hint: values that would become a path or a url and
do not have the collection's form (`validate`), keys no page has (`check_keys`, a typo
such as `Title` for `title`), and text that looks mis-decoded (`check_text`: UTF-8 read as
cp1252, as a spreadsheet saving in the wrong encoding does). Import data is untrusted.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from .errors import EditError
from .index import Collection
from .records import KeyPath, dotted, leaves, lookup
from .shapes import BODY, RELATED
from .yamlio import same

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SLUG = "[a-z0-9-]+"
MAX_NAME_BYTES = 255  # the longest file name most file systems take


def url_shape(config: Any) -> re.Pattern[str]:
    """The shape of a question url in this collection: `url_pattern` with every
    `{subject_slug}` and `{slug}` standing for a slug (`[a-z0-9-]+`)."""
    parts = re.split(r"(\{subject_slug\}|\{slug\})", config.url_pattern)
    return re.compile("".join(_SLUG if part in ("{subject_slug}", "{slug}") else re.escape(part) for part in parts) + r"\Z")


def validate_value(path: KeyPath, value: Any, shape: re.Pattern[str]) -> None:
    """Refuse (`EditError`) a value from import data that would become a path or a url
    and is not of the form the collection uses: `file_name` is one file name (no `/`,
    `\\`, NUL or control character, not `.`/`..` or hidden, at most 255 bytes); `url` and
    a related link's `url` have the site's shape (`/learn/<slug>/questions/<slug>`);
    each of `aliases` is a root-relative url path without `..` or control characters."""
    name = ".".join(path)
    if path == ("file_name",):
        if not isinstance(value, str):
            raise EditError(f"{name} must be a string, not {value!r:.60}")
        why = _bad_file_name(value)
        if why:
            raise EditError(f"{name} {value!r:.80} is not a file name: {why}")
    elif path[-1:] == ("url",) and (len(path) == 1 or RELATED.match(path[0])):
        if not isinstance(value, str) or not shape.match(value):
            raise EditError(f"{name} {value!r:.80} does not have the site's url shape "
                            f"{shape.pattern.removesuffix(chr(92) + 'Z')!r}")
    elif path == ("aliases",):
        for alias in value if isinstance(value, list) else [value]:
            if not isinstance(alias, str) or not alias.startswith("/") or alias.startswith("//") or "\\" in alias \
                    or _CONTROL.search(alias) or ".." in alias.split("/") or len(alias.encode("utf-8")) > 2048:
                raise EditError(f"aliases entry {alias!r:.80} is not a url path of this site")


def _bad_file_name(value: str) -> str:
    if not value:
        return "empty"
    if "/" in value or "\\" in value:
        return "holds a path separator"
    if _CONTROL.search(value):
        return "holds a NUL or control character"
    if value in (".", "..") or value.startswith("."):
        return "a hidden or special name"
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    return ""


def known_keys(coll: Collection, hints: dict) -> set[str]:
    """Every dotted key some page or the template has (top-level `$x` written `$$x`)."""
    known = set(coll.columns())
    known.update(dotted(path) for path, _ in leaves(hints))
    return known


def check_keys(values: list[tuple[KeyPath, Any]], known: set[str], add_keys: bool) -> None:
    """Refuse a key no page (and not the template) has, unless `add_keys`: naming the
    known key it differs from only in case, or a close one."""
    if add_keys:
        return
    for path, _ in values:
        name = dotted(path)
        if name in known or any(name.startswith(k + ".") for k in known):
            continue
        same_case = [k for k in known if k.casefold() == name.casefold()]
        close = same_case or difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise EditError(f"unknown key {name!r}: no page has it{hint} (--add-keys adds new keys)")


#: sequences UTF-8 text shows when read as cp1252 or Latin-1 (`’` -> `â€™`, `é` -> `Ã©`)
_MOJIBAKE = re.compile("[ÃÂâ][\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ\xa0-\xbf]")


def check_text(values: list[tuple[KeyPath, Any]], body: str | None, data: dict, current_body: str | None) -> None:
    """Refuse new text that looks mis-decoded (UTF-8 read as cp1252, as a spreadsheet saving
    with the wrong encoding does); text the page already has is left alone."""
    changed_body = [(("$body",), body)] if body is not None and body != current_body else []
    for path, value in [*values, *changed_body]:
        if not isinstance(value, str) or value.isascii():
            continue
        if path != ("$body",) and same(lookup(data, path)[1], value):
            continue
        suspect = _mojibake(value)
        if suspect is not None:
            name = BODY if path == ("$body",) else dotted(path)
            raise EditError(f"{name}: {suspect[0]!r} looks mis-decoded (UTF-8 read as cp1252; it would read "
                            f"{suspect[1]!r}): save the file as UTF-8 (in a spreadsheet: CSV UTF-8) and import again")


def _mojibake(text: str) -> tuple[str, str] | None:
    """(a snippet of `text` that looks mis-decoded, the snippet fixed) or None."""
    m = _MOJIBAKE.search(text)
    if m is None:
        return None
    try:
        import ftfy
    except ImportError:  # pragma: no cover - a dependency; the pattern alone decides
        ftfy = None
    snippet = text[max(0, m.start() - 12): m.end() + 12]
    if ftfy is not None:
        if not ftfy.is_bad(snippet) and ftfy.fix_text(snippet) == snippet:
            return None
        return snippet, ftfy.fix_text(snippet)
    return snippet, snippet  # pragma: no cover


def validate(values: list[tuple[KeyPath, Any]], shape: re.Pattern[str]) -> None:
    """`validate_value` for every value of a record that becomes a path or a url."""
    for path, value in values:
        if path[-1] in _CHECKED:
            validate_value(path, value, shape)


_CHECKED = frozenset(("file_name", "url", "aliases"))
