"""The extractive QA task: SQuAD v1.1 JSON ({"data": [{"paragraphs": [...]}]}) or JSON lines with question,
context and answers."""

from __future__ import annotations

import re
from pathlib import Path

from headstart.tasks.extractive_qa.options import OPTIONS
from headstart.tasks.span_task import SpanTask
from headstart.tasks.task import Sniff

__all__ = ["QATask"]


class QATask(SpanTask):
    name = "qa"
    summary = "answers as spans of a passage: SQuAD v1.1 JSON, or JSONL with question, context, answers"
    estimator_path = "headstart.tasks.extractive_qa.estimator:HeadstartQA"
    options = OPTIONS

    def sniff(self, path: Path, head: str) -> Sniff:
        if path.suffix.lower() not in (".json", ".jsonl"):
            return Sniff(0.0, f"reads .json / .jsonl, not {path.suffix or 'this file'}")
        keys = set(re.findall(r'"(\w+)"\s*:', head))
        if keys & {"paragraphs", "qas"}:
            return Sniff(0.95, "SQuAD-style paragraphs / qas")
        if "question" in keys and "context" in keys:
            return Sniff(0.9, "rows with question and context")
        if "question" in keys and "answers" in keys:
            return Sniff(0.7, "rows with question and answers")
        return Sniff(0.0, "no paragraphs, qas or question + context keys in the first rows")
