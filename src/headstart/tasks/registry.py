"""The one registry of tasks, and task detection: each task is asked whether it can read a file, the most
likely one reads it (so its own reader reports any problem, with the line), and when none can, the error
says which tasks were considered and why each was ruled out.

Adding a task = one package in `headstart/tasks/` with its `task.py` + one line in TASKS.
"""

from __future__ import annotations

import json
from pathlib import Path

from headstart.errors import ConfigError, DataError
from headstart.tasks.classification.task import ClassificationTask
from headstart.tasks.extractive_qa.task import QATask
from headstart.tasks.generation.task import GenerationTask
from headstart.tasks.pairs.task import PairsTask
from headstart.tasks.tagging.task import TaggingTask
from headstart.tasks.task import Sniff, Task, read_head

__all__ = ["TASKS", "get_task", "detect_task", "sniff_all", "estimator_class", "load", "task_of_run"]

TASKS: dict[str, Task] = {t.name: t for t in (ClassificationTask(), PairsTask(), TaggingTask(), QATask(),
                                               GenerationTask())}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}.", expected="one of " + ", ".join(TASKS), found=repr(name),
                          fix="pass --task " + ", ".join(TASKS) + " (or leave it out to detect it from the file)")
    return TASKS[name]


def sniff_all(path: str | Path) -> dict[str, Sniff]:
    """Every task's verdict on `path` (a file that cannot be opened gets the classification reader, whose
    error names the file)."""
    path = Path(path)
    try:
        head = read_head(path)
    except OSError:
        return {"classification": Sniff(1.0, "the file cannot be opened; its reader says why")}
    return {name: task.sniff(path, head) for name, task in TASKS.items()}


def detect_task(path, **hints) -> str:
    """The name of the task most likely to read `path` (generation, qa, ner, pairs or classification).
    In-memory data (a DataFrame, a Dataset, a list) is classification. `hints`: the user's column options
    (two text columns mean pairs). Raises a DataError listing each task's reason when none can read it."""
    if not isinstance(path, str | Path):
        return "classification"
    verdicts = sniff_all(path)
    if hints.get("text_column") and "," in str(hints["text_column"]):
        return "pairs"
    name, best = max(verdicts.items(), key=lambda kv: kv[1].score)
    if best.score > 0:
        return name
    reasons = "; ".join(f"{n}: {v.reason}" for n, v in verdicts.items())
    raise DataError(f"headstart cannot tell which task {Path(path).name} is for.",
                    expected="a CSV / TSV / JSONL table, CoNLL token lines, SQuAD JSON or instruction JSONL",
                    found=reasons, fix="convert the file to one of those formats, or pass --task", file=path)


def estimator_class(task: str) -> type:
    return get_task(task).estimator_class()


def task_of_run(path: Path) -> str:
    """The task a saved model or run folder holds (its headstart.json says; classification before tasks were
    recorded)."""
    meta = path / "model" / "headstart.json" if (path / "model" / "headstart.json").exists() else path / "headstart.json"
    try:
        return json.loads(meta.read_text()).get("task", "classification") if meta.exists() else "classification"
    except (OSError, ValueError, AttributeError):
        return "classification"  # the classifier's loader reports the damaged file


def load(path: str | Path):
    """Load a saved model or run folder with the estimator of its task, an ensemble folder written by
    `headstart compare`, or a few-shot run."""
    from headstart.ensemble import EnsembleClassifier

    path = Path(path)
    if EnsembleClassifier.is_ensemble(path):
        return EnsembleClassifier.load(path)
    if (path / "fewshot.json").exists() or (path / "model" / "fewshot.json").exists():
        from headstart.fewshot import FewShotClassifier

        return FewShotClassifier.load(path)
    return estimator_class(task_of_run(path)).load(path)  # a missing folder gets the classifier's clear error
