"""The data `recommend`, `compare` and `auto` choose for: a classification or sentence-pair table, read the
way `headstart train` reads it (the same task detection, columns and dev split)."""

from __future__ import annotations

from pathlib import Path

from headstart.data import TaskData
from headstart.errors import ConfigError

__all__ = ["read_task"]


def read_task(train, dev=None, test=None, *, text_column: str | None = None, label_column: str = "label",
              label_sep: str | None = None, seed: int = 0, command: str = "compare") -> TaskData:
    """Read `train` (and dev / test) as a classification or pair task; other tasks are refused with what to
    do instead."""
    from headstart.tasks.registry import detect_task, get_task

    name = detect_task(train, text_column=text_column) if isinstance(train, str | Path) else "classification"
    if name not in ("classification", "pairs"):
        raise ConfigError(f"`headstart {command}` chooses among classifiers; {Path(str(train)).name} is {name} data.",
                          expected="a classification or sentence-pair table", found=f"task {name!r}",
                          fix="train each strategy with `headstart train --strategy ...` and compare their metrics")
    options = {"label_column": label_column, "label_sep": label_sep, "seed": seed}
    if text_column:
        options["text_column"] = text_column
    task_def = get_task(name)
    return task_def.read(train, dev=dev, test=test, options=task_def.resolve(train, options))
