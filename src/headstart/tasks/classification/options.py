"""The classifier's own options, declared once and torch-free: the estimator takes them, the CLI's
`headstart train --help` lists them (read without loading the estimator)."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import option
from headstart.distill.options import DistillOptions

__all__ = ["ClassificationOptions", "OPTIONS"]


@dataclass
class ClassificationOptions:
    """How the classifier reads DataFrames, Datasets and files."""

    text_column: str = option("text", "the column holding the texts (two, comma-separated, for sentence pairs)")
    label_column: str = option("label", "the column holding the labels")
    label_sep: str | None = option(None, "multi-label: the separator inside the label cell, e.g. '|'")


OPTIONS = (ClassificationOptions, DistillOptions)
