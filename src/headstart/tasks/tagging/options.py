"""The tagger's own options (also QA's window stride), declared once and torch-free."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import option
from headstart.distill.options import TeacherOptions

__all__ = ["TaggingOptions", "OPTIONS"]


@dataclass
class TaggingOptions:
    """How long sentences are cut into windows."""

    stride: int | None = option(None, "ner / qa: tokens two windows of one long text share (default: ner a "
                                "quarter of max_length, 32 at 128; qa a third, 128 at 384)")


OPTIONS = (TaggingOptions, TeacherOptions)
