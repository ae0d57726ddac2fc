"""A progress bar with the running loss and the last dev metric (rich), silent when disabled."""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    def __init__(self, *, enabled: bool, total: int, completed: int = 0) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._metric = ""
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"), transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("train", total=total, completed=completed, status="")

    def advance(self, *, loss: float) -> None:
        if self.enabled:
            self._bar.update(self._task, advance=1, status=f"loss {loss:.4f}{self._metric}")

    def set_metric(self, name: str, value: float) -> None:
        self._metric = f"  dev {name} {value:.4f}"

    def close(self) -> None:
        if self.enabled:
            self._bar.stop()
