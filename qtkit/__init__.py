"""qtkit: format-preserving tools for a collection of question files (Markdown + YAML).

`qtkit.load(path)` gives an editable `Document`; every command has a function in a
submodule (`qtkit.edit.set_values`, `qtkit.scaffold.new`, `qtkit.export.export_collection`,
...), imported on first use so that `import qtkit` (and the CLI's start) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ConflictError,
    EditError,
    KeyNotFound,
    ParseError,
    QtkitError,
    VerificationError,
    WriteError,
)

if TYPE_CHECKING:
    from .document import Document, Section, load, loads

__version__ = "0.1.0"

_FROM_DOCUMENT = frozenset(("Document", "Section", "load", "loads"))


def __getattr__(name: str) -> Any:
    """`qtkit.load`, `qtkit.Document` and the submodules (`qtkit.edit`, `qtkit.scaffold`,
    ...), imported on first use."""
    import importlib
    import importlib.util

    if name in _FROM_DOCUMENT:
        return getattr(importlib.import_module(".document", __name__), name)
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)  # any submodule: qtkit.edit, qtkit.rules, ...
    raise AttributeError(f"module 'qtkit' has no attribute {name!r}")


__all__ = [
    "ConflictError",
    "Document",
    "EditError",
    "KeyNotFound",
    "ParseError",
    "QtkitError",
    "Section",
    "VerificationError",
    "WriteError",
    "load",
    "loads",
]
