"""PNG plots for the report: learning curves and the confusion matrix.

Figures are built with matplotlib's object API on an explicit Agg canvas instead of `pyplot`: nothing
needs a display, no global backend is switched under a notebook or the server, and no figure is left
registered in pyplot's global state (so there is nothing to leak or to close).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from headstart.errors import DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_learning_curves", "plot_confusion_matrix"]

_MAX_TICK_LABELS = 30
_MAX_ANNOTATED = 15
_LOSS_KEYS = ("train_loss", "dev_loss")


def plot_learning_curves(history: list[dict], path: str | Path) -> Path:
    """Plot train/dev loss (left) and the dev metrics (right) against the epoch.

    Args:
        history: one dict per evaluation, e.g. {"epoch": 1, "step": 120, "train_loss": 0.4,
            "dev_loss": 0.3, "dev_macro_f1": 0.8, "dev_accuracy": 0.85, "lr": 2e-5}. The x axis is
            "epoch" (else "step", else the row number); every "dev_*" key other than the loss is a metric.
            Missing or non-finite values are skipped.
        path: where to write the PNG.

    Returns:
        The path written.

    Example:
        >>> plot_learning_curves([{"epoch": 1, "train_loss": 0.5, "dev_loss": 0.4}], "curves.png")
        PosixPath('curves.png')
    """
    x_key = next((k for k in ("epoch", "step") if history and all(k in row for row in history)), None)
    xs = [row[x_key] if x_key else i + 1 for i, row in enumerate(history)]
    from matplotlib.figure import Figure  # imported where used: the CLI's help stays free of matplotlib
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax_loss, ax_metric = fig.subplots(1, 2)

    metric_keys = [k for k in _keys_in_order(history) if k.startswith("dev_") and k not in _LOSS_KEYS]
    for ax, keys, title in ((ax_loss, _LOSS_KEYS, "Loss"), (ax_metric, metric_keys, "Dev metrics")):
        drawn = False
        for key in keys:
            points = _series(xs, history, key)
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=key)
                drawn = True
        if drawn:
            ax.legend()
            ax.grid(alpha=0.3)
        else:
            ax.text(0.5, 0.5, "no values logged", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        ax.set_xlabel(x_key or "evaluation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.25" ticks
    return _save(fig, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[float]] | np.ndarray, labels: Sequence[str], path: str | Path
) -> Path:
    """Plot a confusion matrix (rows = true label, columns = predicted) as a heat map.

    Cells are annotated with their counts up to 15 labels; beyond 30 labels the tick labels are omitted
    (and the title says so) because they would overlap.

    Args:
        matrix: square matrix of counts, in `labels` order.
        labels: the label names.
        path: where to write the PNG.

    Returns:
        The path written.

    Example:
        >>> plot_confusion_matrix([[5, 1], [2, 7]], ["neg", "pos"], "cm.png")
        PosixPath('cm.png')
    """
    m = np.asarray(matrix, dtype=float)
    k = len(labels)
    if m.ndim != 2 or m.shape != (k, k):
        raise DataError(
            "The confusion matrix does not match the labels.",
            expected=f"a square matrix of shape ({k}, {k}), one row and column per label",
            found=f"shape {m.shape}",
            fix="pass metrics['confusion_matrix'] with the labels it was computed for.",
        )
    side = min(max(4.5, 0.45 * k + 2.5), 16.0)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(m, cmap="Blues", interpolation="nearest")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colorbar.locator = MaxNLocator(integer=True)  # counts: no fractional ticks
    colorbar.update_ticks()
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")

    title = "Confusion matrix"
    if k > _MAX_TICK_LABELS:
        ax.set_xticks([])
        ax.set_yticks([])
        title += f" ({k} labels, tick labels omitted)"
    else:
        names = [_tick_label(label) for label in labels]
        ax.set_xticks(range(k), labels=names, rotation=45, ha="right")
        ax.set_yticks(range(k), labels=names)
    if k <= _MAX_ANNOTATED:
        high = m.max() if m.size else 0.0
        for (i, j), value in np.ndenumerate(m):
            text = f"{value:.0f}" if value == int(value) else f"{value:.2f}"
            # White text on the dark cells so the count stays readable.
            color = "white" if high > 0 and value > high / 2 else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=9)
    ax.set_title(title)
    return _save(fig, path)


def _save(fig: Figure, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # attaches the Agg canvas to the figure: no display, no pyplot
    fig.savefig(out, format="png", dpi=110)
    return out


def _series(xs: list, history: list[dict], key: str) -> list[tuple[object, float]]:
    pairs = ((x, _number(row.get(key))) for x, row in zip(xs, history, strict=True))
    return [(x, v) for x, v in pairs if v is not None]


def _keys_in_order(rows: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _number(value: object) -> float | None:
    """The value as a finite float, or None for missing, non-numeric or non-finite values."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value) if math.isfinite(value) else None


def _tick_label(label: object) -> str:
    text = str(label)
    text = text if len(text) <= 24 else text[:23] + "…"
    return text.replace("$", r"\$")  # a pair of "$" would otherwise be typeset as mathtext
