"""What a task tells the rest of headstart: whether it can read a file (`sniff`), how to train on files
(`start` -> a `TaskRun`, whose parts the one run writer, headstart.runs.writer, puts in the run folder), how
to evaluate a saved model on a file, and which estimator loads its runs.

A task is one package in `headstart/tasks/` with a `task.py` defining a Task, plus one line in
`tasks/registry.py`.
"""

from __future__ import annotations

import importlib
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

__all__ = ["Task", "TaskRun", "Sniff", "peak_rss_mb", "costs", "read_head", "CONFIG_KEYS"]

_HEAD_BYTES = 8192

# the summary keys every run's metrics.json and report share
CONFIG_KEYS = ("task", "strategy", "backbone", "trainable_params", "total_params", "saved_bytes", "peak_rss_mb",
               "train_seconds", "best_epoch", "averaged_epochs", "primary_metric")


def read_head(path: Path) -> str:
    """The first characters of a file, as text, without a BOM (which says nothing about the task)."""
    with open(path, "rb") as f:
        raw = f.read(_HEAD_BYTES)
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes, Linux KiB


@dataclass(frozen=True)
class Sniff:
    """A task's answer to "can you read this file?": how likely (0: no, 1: certainly) and why."""

    score: float
    reason: str


@dataclass
class TaskRun:
    """One training run of a task, as the run writer sees it. The task's `start` reads the data (so a bad
    file fails before anything is written) and builds the estimator; `fit` trains; the rest are the parts
    of the run folder: `metrics` (metrics.json), `config` (config.json), `history` (history.json),
    `files` (name -> bytes of task-specific outputs: predictions.npz, samples.json) and `report`."""

    task: Task
    estimator: object
    data: dict  # train / dev / test paths as given
    splits: dict = field(default_factory=dict)  # what the task read: train / dev / test in its own types
    metrics: dict = field(default_factory=dict)

    def fit(self, *, checkpoint: Path, resume: bool, stop_after: int | None = None) -> None:
        """Train; `stop_after`: pause after that many epochs, leaving the checkpoint to resume from."""
        raise NotImplementedError

    def results(self) -> dict:
        """metrics.json's content (the costs and the scores); called once, after `fit`."""
        raise NotImplementedError

    def config(self) -> dict:
        est = self.estimator
        return {"task": self.task.name, "data": {k: (None if v is None else str(v)) for k, v in self.data.items()},
                "estimator": est.get_params(), "resolved": {"strategy": est.strategy_.describe(),
                                                            "train": est.train_config_.to_dict()}}

    def history(self) -> list[dict]:
        return self.estimator.fit_result_.history

    def files(self) -> dict[str, bytes]:
        return {}

    def report(self, out: Path, metrics: dict, config: dict) -> None:
        raise NotImplementedError


class Task:
    """One kind of problem headstart trains for. Subclasses set the class attributes and the methods."""

    name: ClassVar[str]  # what run folders record (config.json "task") and `--task` takes
    summary: ClassVar[str]
    estimator_path: ClassVar[str]  # "module:Class", imported only when needed (startup stays fast)
    options: ClassVar[tuple[type, ...]] = ()  # the option dataclasses of the task (torch-free modules)
    strategies: ClassVar[tuple[str, ...] | None] = None  # the strategies that train it; None: all

    def option_table(self) -> dict:
        """Every option this task's estimator takes, read from the declarations alone (`headstart train
        --help` lists them without importing the estimator, torch or transformers)."""
        from headstart.tasks.options import option_table

        return option_table(self.name, self.options, self.strategies)

    def estimator_class(self) -> type:
        module, _, cls = self.estimator_path.partition(":")
        return getattr(importlib.import_module(module), cls)

    def sniff(self, path: Path, head: str) -> Sniff:
        """Whether this task reads `path`, from its suffix and its first characters (`head`, BOM removed)."""
        raise NotImplementedError

    def start(self, train, *, dev=None, test=None, options: dict) -> TaskRun:
        """Read the files and build the estimator (no training yet)."""
        raise NotImplementedError

    def load(self, path: str | Path):
        return self.estimator_class().load(path)

    def evaluate(self, run: Path, data, config: dict, out: Path) -> dict:
        """Score the saved model in `run` on the labelled `data`; write metrics.json and a report into `out`."""
        raise NotImplementedError


def costs(est, n_train: int) -> dict:
    """What every run's metrics.json says about the training itself."""
    result = est.fit_result_
    epochs_run = max(1, sum(row["epoch"] >= 1 for row in result.history))  # row 0 is the starting point
    return {
        "strategy": est.strategy, "backbone": est.backbone_name_,
        "trainable_params": est.trainable_params_, "total_params": est.total_params_,
        "trainable_percent": round(100 * est.trainable_params_ / est.total_params_, 4),
        "adapter": getattr(est, "adapter_", est.strategy_.adapter), "train_seconds": round(est.fit_seconds_, 2),
        "best_epoch": result.best_epoch, "averaged_epochs": result.averaged_epochs, "epochs_run": epochs_run,
        "stopped_early": result.stopped_early, "cache_depth": result.cache_depth, "n_train": n_train,
        "examples_per_second": round(n_train * epochs_run / max(est.fit_seconds_, 1e-9), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        # after a refit the saved model learnt from the dev rows too; the dev scores are the first fit's
        "refit_on_dev": bool(getattr(est, "refit_on_dev_", False)),
        "trained_on": "train + dev (refit after early stopping; dev scores from the first fit)"
        if getattr(est, "refit_on_dev_", False) else "train (dev held out for early stopping)",
    } | ({"features_C": est.features_C_} if getattr(est, "features_C_", None) is not None else {})
