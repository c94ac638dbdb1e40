"""qtkit: format-preserving tools for a collection of question files (Markdown + YAML)."""

from .document import Document, Section, load, loads
from .errors import (
    ConflictError,
    EditError,
    KeyNotFound,
    ParseError,
    QtkitError,
    VerificationError,
    WriteError,
)

__version__ = "0.1.0"

_SUBMODULES = frozenset(("check", "derived", "edit", "export", "index", "ingest", "links", "relink", "rename",
                         "scaffold", "slugs", "stats", "subjects"))


def __getattr__(name: str):  # noqa: ANN202 - module attribute hook
    """`qtkit.edit`, `qtkit.scaffold`, ...: submodules imported on first use (keeps `import qtkit` light)."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
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
