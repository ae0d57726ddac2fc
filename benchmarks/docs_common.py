"""What the pages of benchmarks/make_docs.py share: their prose, read from benchmarks/templates/benchmarks.md,
and the number formats of their tables."""

from __future__ import annotations

import re
from pathlib import Path

from common import HERE

TEMPLATES = HERE / "templates"


def notes(path: Path) -> dict[str, str]:
    """The notes of a prose file: each from its `<!-- note: KEY -->` line to the next."""
    parts = re.split(r"^<!-- note: (\S+) -->\n", path.read_text(), flags=re.M)
    return {key: text[:-1] for key, text in zip(parts[1::2], parts[2::2], strict=True)}


def group(notes: dict[str, str], prefix: str) -> dict[str, str]:
    """The notes KEY of `prefix/KEY`, by KEY."""
    return {key.split("/", 1)[1]: text for key, text in notes.items() if key.startswith(prefix + "/")}


NOTES = notes(TEMPLATES / "benchmarks.md")  # the page's prose, not Python strings
RUN_NOTES = group(NOTES, "run")  # what a reader must know about particular runs, after their tables
ADAPTER_TARGETS = (("lora", "LoRA", 1), ("bitfit", "BitFit", 2))  # method, name, points under `full` allowed

def _fmt(v, digits=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)

def _mean_sd(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) == 1:
        return _fmt(mean)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.4f} ± {sd:.4f}"
