"""Conversions between front-matter values and JSON, and `KEY=VALUE` assignments."""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from typing import Any

from .errors import EditError


def to_json(value: Any) -> Any:
    """Front-matter values as JSON types: dates become ISO strings, NaN/inf strings."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def dumps_json(value: Any, indent: int | None = None) -> str:
    """JSON text for a front-matter value (UTF-8, not ASCII-escaped)."""
    return json.dumps(to_json(value), ensure_ascii=False, indent=indent)


def format_value(value: Any) -> str:
    """How `qtkit get` prints a value: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return dumps_json(value, indent=2 if isinstance(value, (dict, list)) else None)


class Text(str):
    """A string given as `KEY=VALUE`: it takes the type of the value it replaces when it
    reads as one (see `keep_type`), so `date=2025-03-09` on a date stays a date."""


def keep_type(value: Any, current: Any) -> Any:
    """`value` as the type of `current` (the value it replaces) when `value` is a `Text`
    that reads as that type: a date or datetime (ISO), an int, a float, `true`/`false`
    for a bool. Anything else, and every other value, is returned as a plain `str` or as
    it is."""
    if not isinstance(value, Text):
        return value
    text = str(value)
    try:
        if isinstance(current, bool):
            if text in ("true", "false"):
                return text == "true"
        elif isinstance(current, int):
            if text.strip() == text and text.lstrip("-").isdigit():
                return int(text)
        elif isinstance(current, float):
            number = float(text)
            if text.strip() == text:
                return number
        elif isinstance(current, _dt.datetime):
            return _dt.datetime.fromisoformat(text)
        elif isinstance(current, _dt.date):
            return _dt.date.fromisoformat(text)
    except ValueError:
        pass
    return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` sets a string (a `Text`: it keeps the type of the value it replaces
    when it reads as one), `KEY:=JSON` a typed value (HTTPie's convention); the typed form
    also takes an ISO date or datetime (`date:=2025-03-09`)."""
    eq = text.find("=")
    if eq <= 0:
        raise EditError(f"expected KEY=VALUE or KEY:=JSON, got {text!r}")
    if text[eq - 1] == ":" and eq > 1:
        key, raw = text[: eq - 1], text[eq + 1 :]
        try:
            return key, json.loads(raw)
        except (ValueError, RecursionError) as exc:
            when = _iso_date(raw)
            if when is not None:
                return key, when
            raise EditError(f"{key}: invalid JSON value {raw!r}: {exc}") from None
    return text[:eq], Text(text[eq + 1 :])


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[-+][0-9]{2}:[0-9]{2})?\Z")


def _iso_date(raw: str) -> _dt.date | _dt.datetime | None:
    try:
        if _ISO_DATE.match(raw):
            return _dt.date.fromisoformat(raw)
        if _ISO_DATETIME.match(raw):
            return _dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return None
