"""Errors for user mistakes: each says what was expected, what was found, where, and what to do.

Raised at the boundaries (files, configs, CLI, HTTP). The CLI prints them without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["HeadstartError", "DataError", "ConfigError", "BackboneError", "reading_saved"]


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


# what reading a damaged or doctored saved folder raises: the built-in kinds, and these libraries' own
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError)
_READ_MODULES = ("safetensors", "pickle", "_pickle", "json", "zipfile")


@contextmanager
def reading_saved(path: str | Path, what: str = "saved model") -> Iterator[None]:
    """Turn a failure to read a folder headstart saved (damaged, truncated, edited by hand, or holding a
    file that is not what its name says, such as a pickle where tensors belong) into a HeadstartError
    naming the folder, instead of a traceback. Readers inside only ever parse JSON and tensors: nothing
    in the folder runs."""
    try:
        yield
    except HeadstartError:
        raise
    except Exception as exc:
        if not isinstance(exc, _READ_ERRORS) and type(exc).__module__.split(".")[0] not in _READ_MODULES:
            raise
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise HeadstartError(f"cannot read the {what} in {path}.", expected=f"a {what} folder as headstart wrote it",
                             found=detail, fix="the folder is damaged or was changed by hand: train it again "
                             "(or restore it from a copy)") from None
