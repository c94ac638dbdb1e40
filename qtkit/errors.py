"""Typed errors. Each carries the file, line and column it is about, when known."""

from __future__ import annotations

from pathlib import Path


class QtkitError(Exception):
    """Base class: a message plus where it happened (1-based line and column)."""

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        col: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.col = col

    def located(self, path: str | Path | None = None) -> "QtkitError":
        """Return self with `path` filled in if it was not known."""
        if self.path is None and path is not None:
            self.path = str(path)
        return self

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            where += ": "
        return where + self.message


class ParseError(QtkitError):
    """The file is not a question file we can read (no front matter, bad YAML, bad UTF-8)."""


class KeyNotFound(QtkitError, KeyError):
    """A key path does not exist in the front matter."""

    __str__ = QtkitError.__str__


class EditError(QtkitError):
    """An edit cannot be made (wrong type of parent, unsupported structure, bad value)."""


class VerificationError(QtkitError):
    """The edited text would not read back to the intended values; nothing was written."""


class WriteError(QtkitError):
    """A write was refused or failed; the file on disk is unchanged."""


class ConflictError(WriteError):
    """The file changed on disk between qtkit's read and its write."""


class ConfigError(QtkitError):
    """qtkit.toml or an option is invalid."""


class NoCollection(ConfigError):
    """No collection was pointed at (no --root, $QTKIT_ROOT or qtkit.toml, and the current
    folder holds no question files); a usage error."""


class NotFound(QtkitError):
    """A target (id, path or url) is not in the collection."""


class Ambiguous(QtkitError):
    """A target names several pages (an id shared by cross-listed copies); a usage error."""

    def __init__(self, message: str, pages: list[str]) -> None:
        super().__init__(message)
        self.pages = pages


class Refused(QtkitError):
    """A request was understood but refused (duplicate url, unknown subject, ...)."""


class Notice(UserWarning):
    """Something the user should know that did not stop the command (issued with
    `warnings.warn`; the CLI prints it as one `notice:` line on stderr)."""


class UnknownKey(Notice):
    """A `--where` condition names a key that no page has (likely a typo); the CLI prints
    it as one `warning:` line."""


class BadOption(ConfigError):
    """An argument's value is invalid (an unknown format, two options that exclude each
    other); a usage error."""


class BadCondition(BadOption, EditError):
    """A `--where` condition or a regular expression that cannot be read (a usage error,
    exit 2; also an `EditError`, as before)."""
