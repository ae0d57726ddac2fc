"""Errors for user mistakes: each says what was expected, what was found, where, and what to do.

Raised at the boundaries (files, configs, CLI, HTTP). The CLI prints them without a traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HeadstartError", "DataError", "ConfigError", "BackboneError"]


class HeadstartError(ValueError):
    """A mistake the user can fix. Subclasses ValueError so callers can catch it the usual way.

    Args:
        problem: what is wrong, in one sentence.
        expected: what headstart expected.
        found: what it found instead.
        fix: what the user should do.
        file: the file concerned, if any.
        line: 1-based line number in that file, if known.
        column: 1-based column number or a column name, if known.
    """

    def __init__(
        self,
        problem: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
        file: str | Path | None = None,
        line: int | None = None,
        column: int | str | None = None,
    ) -> None:
        self.problem = problem
        self.expected = expected
        self.found = found
        self.fix = fix
        self.file = str(file) if file is not None else None
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f", line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
            where += ": "
        parts = [where + self.problem]
        if self.expected:
            parts.append(f"  expected: {self.expected}")
        if self.found:
            parts.append(f"  found:    {self.found}")
        if self.fix:
            parts.append(f"  fix:      {self.fix}")
        return "\n".join(parts)


class DataError(HeadstartError):
    """A data file or in-memory data set cannot be used as given."""


class ConfigError(HeadstartError):
    """A configuration value is out of range or of the wrong kind."""


class BackboneError(HeadstartError):
    """A backbone cannot be found, loaded, or is of an architecture headstart does not know."""
