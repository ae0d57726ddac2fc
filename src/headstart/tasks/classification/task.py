"""The classification task: texts with one label or several (CSV / TSV / JSONL with text and label columns,
a DataFrame or a datasets.Dataset). Its run folder adds `predictions.npz` (held-out dev and test
probabilities, what `headstart compare` averages into an ensemble) and the baselines beside the scores."""

from __future__ import annotations

import io
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from headstart.data import Split, TaskData, load_task, read_split
from headstart.data.validate import check_known_labels
from headstart.evaluation import classification_metrics, majority_baseline, tfidf_baseline, write_report
from headstart.tasks.classification.options import OPTIONS
from headstart.tasks.task import CONFIG_KEYS, Sniff, Task, TaskRun, costs

__all__ = ["ClassificationTask", "ClassificationRun", "PREDICTIONS", "TABLE_SUFFIXES"]

PREDICTIONS = "predictions.npz"
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".json")
_COLUMNS = ("text_column", "label_column", "label_sep")


class ClassificationRun(TaskRun):
    def fit(self, *, checkpoint: Path, resume: bool, stop_after: int | None = None) -> None:
        self.estimator.fit_task(self.splits["task"], checkpoint=checkpoint, resume=resume, stop_after=stop_after)

    def results(self) -> dict:
        clf, task = self.estimator, self.splits["task"]
        metrics = {"task": self.task.name, **costs(clf, len(task.train)), "labels": clf.labels_,
                   "multilabel": clf.multilabel_, "primary_metric": clf.metric_}
        held_out = clf.heldout_dev_proba_  # features refit on dev: its dev scores come from before the refit
        self.proba = {"dev": clf.predict_proba(task.dev.texts) if held_out is None else held_out}
        seconds = None
        if task.test is not None:
            t0 = time.perf_counter()
            self.proba["test"] = clf.predict_proba(task.test.texts)
            seconds = time.perf_counter() - t0
        for name, p in self.proba.items():
            metrics[name] = scores(clf, task.dev if name == "dev" else task.test, p)
        metrics["baselines"] = baselines(clf, task.train, task.test or task.dev)
        metrics["evaluated_on"] = "test" if task.test is not None else "dev"
        if getattr(clf, "distillation_", None) is not None or getattr(clf, "self_training_", None):
            from headstart.distill.report import side_by_side

            split = task.test if task.test is not None else task.dev
            metrics["distillation"] = side_by_side(clf, split, self.proba[metrics["evaluated_on"]], seconds)
        return metrics

    def config(self) -> dict:
        config = super().config()
        config["data"] |= {k: getattr(self.estimator, k) for k in _COLUMNS}
        return config

    def files(self) -> dict[str, bytes]:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, labels=np.array(self.estimator.labels_),
                            **{name: p.astype(np.float32) for name, p in self.proba.items()})
        return {PREDICTIONS: buffer.getvalue()}

    def report(self, out: Path, metrics: dict, config: dict) -> None:
        clf, task = self.estimator, self.splits["task"]
        write_report(out, title=f"headstart run: {clf.strategy} on {Path(str(self.data['train'])).name}",
                     summary={k: metrics[k] for k in (*CONFIG_KEYS, "trainable_percent") if k in metrics and k != "task"},
                     metrics=metrics[metrics["evaluated_on"]], baselines=metrics["baselines"],
                     history=clf.fit_result_.history, drift=clf.drift_, data_stats=asdict(task.stats), config=config,
                     extra=_distill_sections(metrics))


class ClassificationTask(Task):
    name = "classification"
    summary = "one label (or several) per text: CSV / TSV / JSONL with text and label columns"
    estimator_path = "headstart.tasks.classification.estimator:HeadstartClassifier"
    options = OPTIONS
    run_class = ClassificationRun

    def sniff(self, path: Path, head: str) -> Sniff:
        if path.suffix.lower() in TABLE_SUFFIXES:
            return Sniff(0.5, f"a {path.suffix} table (text and label columns)")
        return Sniff(0.0, f"reads {', '.join(TABLE_SUFFIXES)} files, not {path.suffix or 'files without a suffix'}")

    def resolve(self, train, options: dict) -> dict:
        """The options, with what the file itself says filled in (pairs: its two text columns)."""
        return options

    def read(self, train, *, dev=None, test=None, options: dict) -> TaskData:
        columns = {k: options[k] for k in _COLUMNS if options.get(k) is not None}
        reader, by = self.estimator_class().reader, None
        if options.get("labels") and options.get("teacher") is not None:  # texts alone: the teacher labels them
            from headstart.distill.student import teacher_labelled

            train, by = teacher_labelled(train, self.estimator_class(), columns, options["teacher"], options["labels"])
        task = load_task(train, dev=dev, test=test, **columns, dev_fraction=options.get("dev_fraction") or 0.1,
                         seed=options.get("seed") or 0, reader=reader)
        task.labelled_by = by
        return task

    def start(self, train, *, dev=None, test=None, options: dict) -> TaskRun:
        cls = self.estimator_class()
        allowed = set(cls._get_param_names())
        kept = self.resolve(train, {k: v for k, v in options.items() if k in allowed and v is not None})
        task = self.read(train, dev=dev, test=test, options=kept)
        est = cls(**kept)
        est._strategy_and_config()  # options checked before anything is written
        return self.run_class(self, est, {"train": train, "dev": dev, "test": test}, {"task": task})

    def evaluate(self, run: Path, data, config: dict, out: Path, clf=None) -> dict:
        clf = clf or self.load(run)
        cols = {k: config["data"].get(k, d) for k, d in (("text_column", "text"), ("label_column", "label"),
                                                        ("label_sep", None))}
        reader = getattr(clf, "reader", read_split)  # an ensemble reads as its members' task does
        split = reader(data, **cols, multilabel=clf.multilabel_)
        if not clf.multilabel_:
            check_known_labels(split, clf.labels_)
        metrics = {"data": str(data), "strategy": clf.strategy, "backbone": clf.backbone_name_,
                   "metrics": scores(clf, split)}
        train_path = config["data"].get("train")
        metrics["baselines"] = {}
        if train_path and Path(train_path).exists():
            metrics["baselines"] = baselines(clf, reader(train_path, **cols), split)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
        write_report(out, title=f"headstart evaluation: {clf.strategy} on {Path(str(data)).name}",
                     summary={"strategy": clf.strategy, "backbone": clf.backbone_name_}, metrics=metrics["metrics"],
                     baselines=metrics["baselines"], history=history, drift=None, data_stats=None, config=config)
        return metrics


def _distill_sections(metrics: dict) -> list:
    if not metrics.get("distillation"):
        return []
    from headstart.distill.report import report_section

    return report_section(metrics["distillation"])


def scores(clf, split: Split, proba=None) -> dict:
    """Scores on `split`, from the classifier's predictions or from `proba` given."""
    proba = clf.predict_proba(split.texts) if proba is None else proba
    return classification_metrics(clf.encode_labels(split), proba, clf.labels_, multilabel=clf.multilabel_)


def baselines(clf, train: Split, target: Split) -> dict:
    n = len(clf.labels_)
    y_train, y_eval = clf.encode_labels(train), clf.encode_labels(target)
    return {
        "majority": majority_baseline(y_train, y_eval, n, clf.multilabel_, labels=clf.labels_),
        "tfidf": tfidf_baseline(train.texts, y_train, target.texts, y_eval, clf.labels_, clf.multilabel_),
    }
