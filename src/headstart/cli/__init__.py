"""The `headstart` command line. Each command calls one library function and prints its result; the
commands live by group in this package's modules and register on one typer app (`_app.app`)."""

from __future__ import annotations

import os

from headstart.cli import choose, deploy, other, train  # noqa: F401  (registers the commands)
from headstart.cli._app import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()
