"""Run directories for the span tasks (NER, extractive QA), in the same layout as classification runs:

    runs/ner/  config.json  model/  metrics.json  history.json  report.md  report.html  learning_curves.png

`detect_task` tells the three tasks apart from the training file, so `headstart train FILE` needs no flag.
"""

from __future__ import annotations

import json
from pathlib import Path

from headstart.adapters.store import adapter_bytes
from headstart.errors import ConfigError
from headstart.evaluation.report import write_span_report
from headstart.tasks.tagging.tags import TAG_PATTERN

__all__ = ["TASKS", "detect_task", "estimator_class", "load", "train_span_run", "evaluate_span_run"]

TASKS = ("classification", "ner", "qa", "generation")
_CONLL_SUFFIXES = {".conll", ".conllu", ".iob", ".iob2", ".bio", ".bioes", ".txt"}


def detect_task(path: str | Path) -> str:
    """"generation" for JSONL whose first row has `instruction` or `messages`, "qa" for SQuAD
    JSON / JSONL with questions, "ner" for CoNLL text or JSONL with tokens and tags,
    else "classification" (CSV / TSV / JSONL with text and label). Reads only the start of the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return "classification"  # the classification reader reports the missing file
    if suffix in (".json", ".jsonl"):
        if _instruction_keys(head):
            return "generation"
        if '"question"' in head or '"paragraphs"' in head:
            return "qa"
        if '"tokens"' in head:
            return "ner"
        return "classification"
    if suffix in _CONLL_SUFFIXES or suffix in (".tsv", ".tab"):
        # CoNLL: every line a token and a tag (the last column), e.g. "Paris<TAB>B-LOC"
        lines = [line.split() for line in head.splitlines()[:20] if line.strip() and "DOCSTART" not in line]
        if lines and all(len(cols) >= 2 and TAG_PATTERN.fullmatch(cols[-1]) for cols in lines):
            return "ner"
    return "classification"


def _instruction_keys(head: str) -> bool:
    """Whether the first JSON row has the keys of instruction data (`instruction` or `messages`)."""
    first = next((line for line in head.splitlines() if line.strip()), "").strip().lstrip("[").strip()
    try:
        row = json.loads(first.rstrip(","))
    except json.JSONDecodeError:
        return False
    return isinstance(row, dict) and ("instruction" in row or "messages" in row)


def estimator_class(task: str):
    check_task(task)
    if task == "generation":
        from headstart.tasks.generation.estimator import HeadstartGenerator

        return HeadstartGenerator
    if task == "ner":
        from headstart.tasks.tagging.estimator import HeadstartTagger

        return HeadstartTagger
    if task == "qa":
        from headstart.tasks.extractive_qa.estimator import HeadstartQA

        return HeadstartQA
    from headstart.tasks.classification.estimator import HeadstartClassifier

    return HeadstartClassifier


def load(path: str | Path):
    """Load a saved model or run folder with the estimator of its task (classifier, tagger or QA), or an
    ensemble folder written by `headstart compare`."""
    from headstart.ensemble import EnsembleClassifier

    path = Path(path)
    if EnsembleClassifier.is_ensemble(path):
        return EnsembleClassifier.load(path)
    meta = path / "model" / "headstart.json" if (path / "model" / "headstart.json").exists() else path / "headstart.json"
    task = json.loads(meta.read_text()).get("task", "classification") if meta.exists() else "classification"
    return estimator_class(task).load(path)  # a missing folder gets the classifier's clear error


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}.", expected="one of " + ", ".join(TASKS), found=repr(task),
                          fix="pass --task classification, ner, qa or generation (or leave it out to detect it from the file)")


def train_span_run(task: str, train: str | Path, folder, *, dev=None, test=None, resume: bool = False,
                   **options) -> dict:
    """Train a NER or QA model on files and write the run folder (a claimed `headstart.runs.RunFolder`);
    returns metrics.json's content."""
    from headstart.runs import peak_rss_mb

    out = folder.path
    cls = estimator_class(task)
    reader = cls.read_split
    train_split = reader(train)
    dev_split = reader(dev) if dev else None
    test_split = reader(test) if test else None  # read before training: a bad test file fails fast
    est = cls(**options)
    folder.begin()
    est.fit_task(train_split, dev_split, checkpoint=folder.checkpoint, resume=resume)
    result = est.fit_result_
    metrics = {
        "task": task, "strategy": est.strategy, "backbone": est.backbone_name_, "primary_metric": est.metric_,
        "trainable_params": est.trainable_params_, "total_params": est.total_params_,
        "trainable_percent": round(100 * est.trainable_params_ / est.total_params_, 4), "adapter": est.adapter_,
        "train_seconds": round(est.fit_seconds_, 2), "best_epoch": result.best_epoch,
        "averaged_epochs": result.averaged_epochs, "stopped_early": result.stopped_early,
        "n_train": len(train_split), "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    eval_name = "test" if test_split is not None else "dev"
    metrics["evaluated_on"] = eval_name
    if test_split is not None:
        metrics["test"] = est.evaluate(test_split)
    elif dev_split is not None and not est.refit_on_dev_:  # after a refit, dev rows are training rows
        metrics["dev"] = est.evaluate(dev_split)
    else:
        metrics["dev"] = {k.removeprefix("dev_"): v for k, v in _best_row(result).items() if k.startswith("dev_")}
    config = {"task": task, "data": {"train": str(train), "dev": str(dev) if dev else None,
                                     "test": str(test) if test else None},
              "estimator": est.get_params(), "resolved": {"strategy": est.strategy_.describe(),
                                                          "train": est.train_config_.to_dict()}}
    est.save(out / "model")
    metrics["saved_bytes"] = adapter_bytes(out / "model")
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "history.json").write_text(json.dumps(result.history, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _report(out, f"headstart {task} run: {est.strategy} on {Path(str(train)).name}", metrics, metrics[eval_name],
            result.history, est.drift_, config)
    folder.finish()
    return metrics


def evaluate_span_run(run: str | Path, data: str | Path, config: dict, *, out: str | Path | None = None) -> dict:
    task = config["task"]
    est = estimator_class(task).load(run)
    scores = est.evaluate(est.read_split(data))
    result = {"task": task, "data": str(data), "strategy": est.strategy, "backbone": est.backbone_name_,
              "metrics": scores}
    dest = Path(out) if out else Path(run) / f"eval-{Path(str(data)).stem}"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "metrics.json").write_text(json.dumps(result, indent=2))
    history_file = Path(run) / "history.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    _report(dest, f"headstart {task} evaluation: {est.strategy} on {Path(str(data)).name}", result, scores,
            history, None, config)
    result["report"] = str(dest / "report.html")
    return result


def _best_row(result) -> dict:
    rows = [row for row in result.history if row["epoch"] == result.best_epoch]
    return rows[0] if rows else {}


def _report(out: Path, title: str, summary: dict, metrics: dict, history, drift, config) -> None:
    keys = ("task", "strategy", "backbone", "trainable_params", "total_params", "saved_bytes", "peak_rss_mb",
            "train_seconds", "best_epoch", "averaged_epochs", "primary_metric")
    write_span_report(out, title=title, summary={k: summary[k] for k in keys if k in summary}, metrics=metrics,
                      history=history, drift=drift, config=config)
