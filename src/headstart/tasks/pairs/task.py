"""The sentence-pair task: a table with two text columns (text_a / text_b, or sentence1 / sentence2,
premise / hypothesis, question1 / question2 ...) and a label. Everything else is the classification task's:
the same run folder, baselines, predictions and report."""

from __future__ import annotations

import json
import re
from pathlib import Path

from headstart.tasks.classification.task import TABLE_SUFFIXES, ClassificationTask
from headstart.tasks.pairs.reader import DEFAULT_COLUMNS, PAIR_COLUMNS
from headstart.tasks.task import Sniff, read_head

__all__ = ["PairsTask"]


def _header(path: Path, head: str) -> set[str]:
    """The column names of a CSV / TSV header, or the keys of the first JSON row."""
    first = next((line for line in head.splitlines() if line.strip()), "")
    if path.suffix.lower() in (".jsonl", ".json"):
        try:
            row = json.loads(first.strip().lstrip("[").rstrip(","))
            return set(row) if isinstance(row, dict) else set()
        except ValueError:
            return set(re.findall(r'"(\w+)"\s*:', first))
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return {c.strip().strip('"') for c in first.split(sep)}


class PairsTask(ClassificationTask):
    name = "pairs"
    summary = "a label for a pair of texts (NLI, paraphrase, relevance): two text columns and a label"
    estimator_path = "headstart.tasks.pairs.estimator:HeadstartPairClassifier"

    def columns(self, path: Path, head: str) -> str | None:
        names = _header(path, head)
        return next((f"{a},{b}" for a, b in PAIR_COLUMNS if a in names and b in names), None)

    def sniff(self, path: Path, head: str) -> Sniff:
        if path.suffix.lower() not in TABLE_SUFFIXES:
            return Sniff(0.0, f"reads {', '.join(TABLE_SUFFIXES)} tables, not {path.suffix or 'this file'}")
        found = self.columns(path, head)
        if found:
            return Sniff(0.8, f"two text columns: {found}")
        return Sniff(0.0, "no pair of text columns (" + ", ".join("/".join(p) for p in PAIR_COLUMNS[:4]) + " ...)")

    def resolve(self, train, options: dict) -> dict:
        if options.get("text_column") is None and isinstance(train, str | Path):
            found = self.columns(Path(train), read_head(Path(train)))
            options = options | {"text_column": found or DEFAULT_COLUMNS}
        return options
