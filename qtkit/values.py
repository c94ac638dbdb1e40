"""Conversions between front-matter values and JSON, and `KEY=VALUE` assignments."""

from __future__ import annotations

import datetime as _dt
import json
import math
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


def parse_assignment(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` sets a string, `KEY:=JSON` a typed value (HTTPie's convention)."""
    eq = text.find("=")
    if eq <= 0:
        raise EditError(f"expected KEY=VALUE or KEY:=JSON, got {text!r}")
    if text[eq - 1] == ":" and eq > 1:
        key, raw = text[: eq - 1], text[eq + 1 :]
        try:
            return key, json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise EditError(f"{key}: invalid JSON value {raw!r}: {exc}") from None
    return text[:eq], text[eq + 1 :]
