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
