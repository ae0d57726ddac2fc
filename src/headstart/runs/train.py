"""Run directories: what `headstart train` writes and `evaluate` / `predict` read.

    runs/spam/
      config.json     everything needed to reproduce the run (data, columns, backbone, strategy, options)
      model/          the trained classifier (Hugging Face formats, see headstart.persist)
      metrics.json    dev and test metrics, baselines, time, memory, trainable parameters
      history.json    one row per epoch (losses, dev metrics, learning rate)
      predictions.npz class probabilities on dev (held out) and test, with the label order (what
                      `headstart compare` averages into an ensemble without reloading the model)
      report.md, report.html, learning_curves.png, confusion_matrix.png
      checkpoint.safetensors   only while training: the last epoch, for --resume
      headstart-run.json       the marker: this folder is a headstart run, and the files it wrote
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from headstart.adapters.store import adapter_bytes
from headstart.tasks.classification.estimator import HeadstartClassifier
from headstart.data import Split, TaskData, load_task, read_split
from headstart.data.validate import check_known_labels
from headstart.errors import HeadstartError
from headstart.evaluation import classification_metrics, majority_baseline, tfidf_baseline, write_report
from headstart.runs.folder import RunFolder, claim
from headstart.task_runs import check_task, detect_task, evaluate_span_run, train_span_run

__all__ = ["train_run", "evaluate_run", "load_run_config", "peak_rss_mb", "PREDICTIONS"]

PREDICTIONS = "predictions.npz"


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes, Linux KiB


def train_run(train: str | Path, out: str | Path, *, dev: str | Path | None = None,
              test: str | Path | None = None, resume: bool = False, overwrite: bool = False,
              text_column: str = "text", label_column: str = "label", label_sep: str | None = None,
              **options) -> dict:
    """Train on a data file and write a complete run directory. The task (classification, NER, QA) is
    detected from the file (`headstart.task_runs.detect_task`) unless `task=` is given.

    Args:
        train, dev, test: data files (dev defaults to a stratified 10% of train; test is optional).
        out: the run directory.
        resume: continue an interrupted run from its checkpoint in `out`.
        overwrite: replace an earlier headstart run in `out` (never a folder holding other files; see
            headstart.runs.folder).
        **options: HeadstartClassifier options (backbone, strategy, top_n, epochs, lr, ...).

    Returns:
        The metrics dict also written to out/metrics.json.
    """
    with claim(out, resume=resume, overwrite=overwrite) as folder:
        return _train_run(train, folder, dev=dev, test=test, resume=resume, text_column=text_column,
                          label_column=label_column, label_sep=label_sep, **options)


def _train_run(train, folder: RunFolder, *, dev, test, resume: bool, text_column: str, label_column: str,
               label_sep: str | None, **options) -> dict:
    out = folder.path
    task = options.pop("task", None) or detect_task(train)
    check_task(task)
    for name in ("backbone", "max_length"):  # None: the task's own default (e.g. smollm2 for generation)
        if options.get(name) is None:
            options.pop(name, None)
    if task == "generation":  # instruction tuning: its own estimator, scores and report
        return _generation_run(train, folder, dev=dev, test=test, resume=resume, options=options)
    if task != "classification":  # NER and QA: the same run folder, their own readers and scores
        options = {k: v for k, v in options.items() if v is not None}  # None: the estimator's default
        return train_span_run(task, train, folder, dev=dev, test=test, resume=resume, **options)
    options.pop("stride", None)
    columns = {"text_column": text_column, "label_column": label_column, "label_sep": label_sep}
    task = load_task(train, dev=dev, test=test, **columns)
    clf = HeadstartClassifier(**columns, **options)
    folder.begin()
    clf.fit_task(task, checkpoint=folder.checkpoint, resume=resume)

    eval_name = "test" if task.test is not None else "dev"
    metrics = _summary(clf, task)
    proba = {"dev": clf.predict_proba(task.dev.texts) if clf.heldout_dev_proba_ is None  # held out even when
             else clf.heldout_dev_proba_}                                                # refit on it
    if task.test is not None:
        proba["test"] = clf.predict_proba(task.test.texts)
    for name, p in proba.items():
        metrics[name] = _metrics(clf, task.dev if name == "dev" else task.test, p)
    metrics["baselines"] = _baselines(clf, task.train, task.test or task.dev)
    metrics["evaluated_on"] = eval_name

    config = {"task": "classification", "data": {"train": str(train), "dev": str(dev) if dev else None, "test": str(test) if test else None,
                       **columns},
              "estimator": clf.get_params(), "resolved": {"strategy": clf.strategy_.describe(),
                                                          "train": clf.train_config_.to_dict()}}
    clf.save(out / "model")
    metrics["saved_bytes"] = adapter_bytes(out / "model")  # what this run adds on disk beside the backbone
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "history.json").write_text(json.dumps(clf.fit_result_.history, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    np.savez_compressed(out / PREDICTIONS, labels=np.array(clf.labels_),
                        **{name: p.astype(np.float32) for name, p in proba.items()})
    write_report(out, title=f"headstart run: {clf.strategy} on {Path(str(train)).name}",
                 summary={k: metrics[k] for k in ("strategy", "backbone", "trainable_params", "trainable_percent",
                                                  "total_params", "saved_bytes", "peak_rss_mb", "train_seconds",
                                                  "best_epoch", "averaged_epochs", "primary_metric")},
                 metrics=metrics[eval_name], baselines=metrics["baselines"], history=clf.fit_result_.history,
                 drift=clf.drift_, data_stats=asdict(task.stats), config=config)
    folder.finish()
    return metrics


def _generation_run(train, folder: RunFolder, *, dev, test, resume: bool, options: dict) -> dict:
    """`train_run` for instruction data: the generator's own options (None: its default)."""
    from headstart.tasks.generation.run import train_generation_run
    from headstart.tasks.generation.estimator import HeadstartGenerator

    allowed = set(HeadstartGenerator._get_param_names())
    kept = {k: v for k, v in options.items() if k in allowed and v is not None}
    return train_generation_run(train, folder, dev=dev, test=test, resume=resume, **kept)


def _summary(clf: HeadstartClassifier, task: TaskData) -> dict:
    result = clf.fit_result_
    epochs_run = max(1, sum(row["epoch"] >= 1 for row in result.history))  # row 0 is the starting point
    return {
        "strategy": clf.strategy, "backbone": clf.backbone_name_, "labels": clf.labels_,
        "multilabel": clf.multilabel_, "primary_metric": clf.metric_,
        "trainable_params": clf.trainable_params_, "total_params": clf.total_params_,
        "trainable_percent": round(100 * clf.trainable_params_ / clf.total_params_, 4), "adapter": clf.adapter_,
        "train_seconds": round(clf.fit_seconds_, 2), "best_epoch": result.best_epoch,
        "averaged_epochs": result.averaged_epochs, "epochs_run": epochs_run, "stopped_early": result.stopped_early,
        "cache_depth": result.cache_depth, "n_train": len(task.train),
        "examples_per_second": round(len(task.train) * epochs_run / max(clf.fit_seconds_, 1e-9), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _metrics(clf: HeadstartClassifier, split: Split, proba=None) -> dict:
    """Scores on `split`, from the classifier's predictions or from `proba` given."""
    proba = clf.predict_proba(split.texts) if proba is None else proba
    return classification_metrics(clf.encode_labels(split), proba, clf.labels_, multilabel=clf.multilabel_)


def _baselines(clf: HeadstartClassifier, train: Split, target: Split) -> dict:
    n = len(clf.labels_)
    y_train, y_eval = clf.encode_labels(train), clf.encode_labels(target)
    return {
        "majority": majority_baseline(y_train, y_eval, n, clf.multilabel_, labels=clf.labels_),
        "tfidf": tfidf_baseline(train.texts, y_train, target.texts, y_eval, clf.labels_, clf.multilabel_),
    }


def load_run_config(run: str | Path) -> dict:
    path = Path(run) / "config.json"
    if not path.exists():
        raise HeadstartError(f"{run} is not a headstart run folder.", expected="a folder written by `headstart train`",
                             found="no config.json", fix="pass the --out folder of `headstart train`")
    return json.loads(path.read_text())


def evaluate_run(run: str | Path, data: str | Path, *, out: str | Path | None = None) -> dict:
    """Evaluate a trained run on a labelled file; writes metrics.json and a report into
    `run/eval-<file stem>/` (or `out`). Labels unseen in training are an error naming them. `run` may be
    an ensemble folder of `headstart compare` (its members' runs say how to read the data)."""
    from headstart.ensemble import EnsembleClassifier

    if EnsembleClassifier.is_ensemble(run):
        clf = EnsembleClassifier.load(run)
        return _evaluate_classifier(clf, run, data, load_run_config(clf.folders[0].parent), out)
    config = load_run_config(run)
    if config.get("task") == "generation":
        from headstart.tasks.generation.run import evaluate_generation_run

        return evaluate_generation_run(run, data, config, out=out)
    if config.get("task", "classification") != "classification":
        return evaluate_span_run(run, data, config, out=out)
    return _evaluate_classifier(HeadstartClassifier.load(run), run, data, config, out)


def _evaluate_classifier(clf, run: str | Path, data: str | Path, config: dict, out: str | Path | None) -> dict:
    cols = config["data"]
    split = read_split(data, text_column=cols["text_column"], label_column=cols["label_column"],
                       label_sep=cols["label_sep"], multilabel=clf.multilabel_)
    if not clf.multilabel_:
        check_known_labels(split, clf.labels_)
    metrics = {"data": str(data), "strategy": clf.strategy, "backbone": clf.backbone_name_,
               "metrics": _metrics(clf, split)}
    train_path = cols.get("train")
    if train_path and Path(train_path).exists():
        train = read_split(train_path, text_column=cols["text_column"], label_column=cols["label_column"],
                           label_sep=cols["label_sep"])
        metrics["baselines"] = _baselines(clf, train, split)
    else:
        metrics["baselines"] = {}
    dest = Path(out) if out else Path(run) / f"eval-{Path(str(data)).stem}"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "metrics.json").write_text(json.dumps(metrics, indent=2))
    history = json.loads((Path(run) / "history.json").read_text()) if (Path(run) / "history.json").exists() else []
    write_report(dest, title=f"headstart evaluation: {clf.strategy} on {Path(str(data)).name}",
                 summary={"strategy": clf.strategy, "backbone": clf.backbone_name_}, metrics=metrics["metrics"],
                 baselines=metrics["baselines"], history=history, drift=None, data_stats=None, config=config)
    metrics["report"] = str(dest / "report.html")
    return metrics
