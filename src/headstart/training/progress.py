"""Training progress: a rich bar with the running loss and the last dev metric on a terminal, and plain
lines (`training: 120/480 steps (25%), loss 0.4123, dev auc 0.9100, 1m20s, about 4m left`) every
`PLAIN_EVERY` seconds when stderr is a log or a pipe (CI, `nohup`, `compare`'s workers); silent when
disabled."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "PLAIN_EVERY", "duration"]

PLAIN_EVERY = 30.0  # seconds between plain progress lines


def duration(seconds: float) -> str:
    """90 -> "1m30s", 3725 -> "1h02m"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    def __init__(self, *, enabled: bool, total: int, completed: int = 0, label: str = "training") -> None:
        self.enabled, self.plain = enabled and sys.stderr.isatty(), enabled and not sys.stderr.isatty()
        self.total, self.done, self.label = total, completed, label
        self._metric, self._loss = "", None
        self._start = self._last = time.monotonic()
        self._first = completed
        if not self.enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"), transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("train", total=total, completed=completed, status="")

    def advance(self, *, loss: float) -> None:
        self.done, self._loss = self.done + 1, loss
        if self.enabled:
            self._bar.update(self._task, advance=1, status=f"loss {loss:.4f}{self._metric}")
        elif self.plain and time.monotonic() - self._last >= PLAIN_EVERY:
            self._line()

    def set_metric(self, name: str, value: float | None) -> None:
        if value is not None:
            self._metric = f"  dev {name} {value:.4f}"

    def _line(self) -> None:
        self._last = now = time.monotonic()
        elapsed, steps = now - self._start, self.done - self._first
        left = elapsed / steps * (self.total - self.done) if steps else None
        share = 100 * self.done / max(self.total, 1)
        parts = [f"{self.label}: {self.done}/{self.total} steps ({share:.0f}%)"]
        if self._loss is not None:
            parts.append(f"loss {self._loss:.4f}")
        if self._metric:
            parts.append(self._metric.strip())
        parts.append(duration(elapsed) + ("" if left is None else f", about {duration(left)} left"))
        print(", ".join(parts), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            self._bar.stop()
        elif self.plain and self.done > self._first:
            self._line()
