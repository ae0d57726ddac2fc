"""The typer app every command registers on, the consoles, and `command`: the decorator that gives every
command the same error handling and exit codes.

Exit codes (documented in the README):
    0    success
    1    a user or data error (a HeadstartError: the message says what was expected, found, and the fix)
    2    a usage error (unknown option, missing argument: typer / click)
    3    an internal error: a bug in headstart; the traceback is written to a log file named in the message
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import os
import tempfile
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from headstart.errors import HeadstartError
from headstart.strategies import STRATEGIES

__all__ = ["app", "command", "console", "err", "StrategyName", "Compute", "EXIT_USER", "EXIT_INTERNAL",
           "EXIT_INTERRUPTED"]

EXIT_USER, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130
ISSUES = "https://github.com/headstart-nlp/headstart/issues"

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Adapt a pretrained language model to your text task, with the best practices built in.")
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from headstart import __version__

        console.print(f"headstart {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """Adapt a pretrained language model to your text task, with the best practices built in."""

StrategyName = Enum("StrategyName", {name.replace("-", "_"): name for name in STRATEGIES}, type=str)


class Compute(str, Enum):
    very_low = "very-low"
    low = "low"
    medium = "medium"
    high = "high"


def fail(exc: HeadstartError) -> None:
    """Print a user error without a traceback and exit 1."""
    # soft_wrap: paths and values in the message stay on one line, whole, for copying
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(EXIT_USER)


def command(*args, **kwargs):
    """`app.command` with the shared error handling: a HeadstartError exits 1 with its message, Ctrl-C
    exits 130, and anything else is a bug: its traceback goes to a log file and the command exits 3."""

    def register(fn):
        @functools.wraps(fn)  # typer reads the signature through __wrapped__
        def guarded(*a, **k):
            try:
                return fn(*a, **k)
            except HeadstartError as exc:
                fail(exc)
            except KeyboardInterrupt:
                err.print("interrupted")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except (typer.Exit, typer.Abort, SystemExit):
                raise
            except Exception as exc:  # a bug, not a user mistake (unless the disk is full or read-only)
                if isinstance(exc, OSError) and exc.errno in _DISK_ERRORS:
                    fail(_disk_error(exc))
                log = _crash_log(fn.__name__)
                err.print(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))[:500]}\n"
                          f"This is a bug in headstart, not in what you ran. The traceback is in {log}; please "
                          f"report it at {ISSUES} with that file.", highlight=False, soft_wrap=True)
                raise typer.Exit(EXIT_INTERNAL) from None

        return app.command(*args, **kwargs)(guarded)

    return register


def read_secret(path: Path, what: str, env: str) -> str:
    """The first line of `path` (an API key, a token): secrets come from files or the environment, since a
    value on the command line shows in `ps`."""
    from headstart.errors import ConfigError

    try:
        return path.read_text().splitlines()[0].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        raise ConfigError(f"cannot read {what} from {path}.", expected=f"a file whose first line is {what}",
                          found="no such file" if not path.exists() else "an empty or unreadable file",
                          fix=f"write {what} into the file, or set {env}") from None


# a full disk, a read-only one, a quota, a missing permission: the user's to fix, not a bug
_DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM}


def _disk_error(exc: OSError) -> HeadstartError:
    import shutil

    path = Path(exc.filename) if exc.filename else Path.cwd()
    folder = next((p for p in (path, *path.parents) if p.exists()), Path.cwd())
    try:
        free = f"{shutil.disk_usage(folder).free / 2**20:,.0f} MB free on {folder}"
    except OSError:
        free = "free space unknown"
    return HeadstartError(f"cannot write {path}: {exc.strerror}.", expected="a writable folder with room for the run",
                          found=f"{exc.strerror} ({free})",
                          fix="free disk space, or choose a writable --out; what was saved before is unchanged")


def _crash_log(name: str) -> Path:
    """Write the current traceback to $HEADSTART_HOME/logs (or the temp folder) and return the file."""
    home = Path(os.environ.get("HEADSTART_HOME", Path.home() / ".headstart"))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for folder in (home / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{name}-{stamp}-{os.getpid()}.log"
            path.write_text(traceback.format_exc())
            return path
        except OSError:
            continue
    return Path("(could not be written)")


def print_fitted_table(title: str, cells: dict[str, list[str]], *, wrap: tuple[str, ...] = (), note: str = "") -> None:
    """A table of `cells` (column name -> one string per row, in order of importance) that fits the terminal:
    the least important columns are left out until it does (said below it), and only `wrap` columns wrap (at
    30 characters), so numbers are never cut."""
    from rich.table import Table

    width = console.width

    def needed(names) -> int:
        return sum(min(max(len(n), *(len(c) for c in cells[n])), 30 if n in wrap else 10**6) + 3 for n in names) + 1

    names = list(cells)
    while len(names) > 2 and needed(names) > width:
        names.pop()
    table = Table(title=title)
    for n in names:
        table.add_column(n, no_wrap=n not in wrap, overflow="fold", max_width=30 if n in wrap else None)
    for i in range(len(next(iter(cells.values()), []))):
        table.add_row(*(cells[n][i] for n in names))
    console.print(table)
    if len(names) < len(cells):
        console.print(f"(columns left out to fit {width} characters: {', '.join(c for c in cells if c not in names)}"
                      f"{note})", highlight=False, markup=False)
