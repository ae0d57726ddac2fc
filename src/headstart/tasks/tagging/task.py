"""The tagging task (named entities): CoNLL text (`token<TAB>tag` lines) or JSON lines with tokens and tags."""

from __future__ import annotations

import re
from pathlib import Path

from headstart.tasks.span_task import SpanTask
from headstart.tasks.tagging.options import OPTIONS
from headstart.tasks.tagging.tags import TAG_PATTERN
from headstart.tasks.task import Sniff

__all__ = ["TaggingTask"]

CONLL_SUFFIXES = {".conll", ".conllu", ".iob", ".iob2", ".bio", ".bioes", ".txt", ".tsv", ".tab"}
_SAMPLE = 40  # lines looked at
_SHARE = 0.75  # of them that must look like "token tag": one broken line early on still reads as CoNLL


class TaggingTask(SpanTask):
    name = "ner"
    summary = "a tag per word (named entities): CoNLL token<TAB>tag lines, or JSONL tokens + tags"
    estimator_path = "headstart.tasks.tagging.estimator:HeadstartTagger"
    options = OPTIONS

    def sniff(self, path: Path, head: str) -> Sniff:
        suffix = path.suffix.lower()
        if suffix in (".json", ".jsonl"):
            if re.search(r'"tokens"\s*:', head):
                return Sniff(0.9, 'JSON rows with "tokens"')
            return Sniff(0.0, 'no "tokens" key in the first rows')
        if suffix not in CONLL_SUFFIXES:
            return Sniff(0.0, f"reads CoNLL ({', '.join(sorted(CONLL_SUFFIXES))}) or JSONL, not {suffix or 'this file'}")
        lines = [ln.split() for ln in head.splitlines()[:_SAMPLE] if ln.strip() and "DOCSTART" not in ln]
        if not lines:
            return Sniff(0.0, "no token lines at the start")
        tagged = sum(len(cols) >= 2 and bool(TAG_PATTERN.fullmatch(cols[-1])) for cols in lines)
        share = tagged / len(lines)
        if share >= _SHARE:
            return Sniff(0.6 + 0.3 * share, f"{tagged} of the first {len(lines)} lines are 'token tag'")
        return Sniff(0.0, f"only {tagged} of the first {len(lines)} lines end in a tag (O, B-X, I-X ...)")
