"""Extractive QA's own options, declared once and torch-free."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import option
from headstart.tasks.tagging.options import TaggingOptions

__all__ = ["QAOptions", "OPTIONS"]


@dataclass
class QAOptions:
    """Answer spans."""

    max_answer_length: int = option(30, "qa: the longest answer, in tokens")


OPTIONS = (TaggingOptions, QAOptions)
