"""The one run writer: what `headstart train` writes for every task, and how `evaluate` reads any run back.

    runs/x/
      headstart-run.json   the marker: a headstart run, and the files it wrote (headstart.runs.folder)
      config.json          everything needed to reproduce the run (task, data, estimator options, resolved;
                           `sources`: the data files relative to the run folder, with their sha256)
      model/               the trained model (Hugging Face formats; headstart.persist)
      metrics.json         dev / test scores, baselines, time, memory, trainable parameters, size on disk
      history.json         one row per epoch (losses, dev metrics, learning rate)
      report.md, report.html (+ plots)
      <the task's own>     classification: predictions.npz; generation: samples.json
      checkpoint.safetensors   only while training: the last epoch, for --resume

The folder is claimed first (marker, lock); the task reads its data and builds its estimator before
anything is written; then training, then every part above.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from headstart.adapters.store import adapter_bytes
from headstart.errors import HeadstartError
from headstart.runs.folder import RunFolder
from headstart.runs.ranks import Follower, claim_on_main
from headstart.runs.replay import data_sources
from headstart.tasks.registry import detect_task, get_task

__all__ = ["train_run", "evaluate_run", "load_run_config", "write_run"]


def train_run(train, out: str | Path, *, dev=None, test=None, resume: bool = False, overwrite: bool = False,
              task: str | None = None, pause_after: int | None = None, **options) -> dict:
    """Train on data files and write a complete run folder. The task is detected from the training file
    (headstart.tasks.registry.detect_task) unless `task` is given.

    Args:
        train, dev, test: data files (dev defaults to a held-out part of train; test is optional).
        out: the run folder.
        resume: continue an interrupted run from its checkpoint in `out`.
        overwrite: replace an earlier headstart run in `out` (never a folder holding other files).
        pause_after: stop after this many epochs, leaving the checkpoint (a rung of `headstart compare`);
            returns {"paused": True, ...} when epochs of the schedule are left, and writes nothing else.
        **options: the estimator's options (backbone, strategy, top_n, epochs, lr, text_column ...); None
            takes the task's default.

    Under `accelerate launch` / `torchrun` every process trains its shard of the batches and only the main
    one writes (headstart.runs.ranks); the others return None.

    Returns:
        The metrics dict also written to out/metrics.json.
    """
    with claim_on_main(out, resume=resume, overwrite=overwrite) as folder:
        chosen = get_task(task) if task else get_task(detect_task(train, text_column=options.get("text_column")))
        _check_task_options(chosen, options)
        run = chosen.start(train, dev=dev, test=test, options=options)
        folder.begin()
        run.fit(checkpoint=folder.checkpoint, resume=resume, stop_after=pause_after)
        if isinstance(folder, Follower):  # data-parallel: the main process writes the run
            return None
        if run.estimator.paused_:
            return paused(run)
        metrics = write_run(folder, run)
        folder.finish()
        return metrics


def _check_task_options(task, options: dict) -> None:
    """Options the task's estimator does not take are refused, not dropped: a `--label-sep` on QA data, or
    distillation on a task that does not learn from a teacher, would otherwise do nothing in silence."""
    from headstart.distill.options import DistillOptions

    takes = set(task.estimator_class()._get_param_names())
    given = [k for k, v in options.items() if v not in (None, False) and k not in takes]
    flags = ", ".join("--" + k.replace("_", "-") for k in given)
    if any(k in DistillOptions.__dataclass_fields__ for k in given):
        raise HeadstartError(f"the {task.name} task does not learn from a teacher.",
                             expected="classification or pairs data for " + flags, found=f"{task.name} data",
                             fix="drop those options (distillation for tagging, QA and generation is not built yet)")
    if given:
        own = sorted("--" + k.replace("_", "-") for k, o in task.option_table().items() if task.name in o.owners
                     and k != "progress")
        raise HeadstartError(f"the {task.name} task does not take {flags}.",
                             expected=f"the training and strategy options, and the {task.name} task's own: "
                             + ", ".join(own), found=f"{task.name} data",
                             fix="drop those options, or pass --task if the data was read as the wrong task")


def paused(run) -> dict:
    """What a paused run reports: the epochs done, its best dev score so far, the time they took."""
    result = run.estimator.fit_result_
    trained = [row for row in result.history if row["epoch"] >= 1]
    return {"paused": True, "epochs_done": len(trained), "best_metric": result.best_metric, "metric": result.metric,
            "best_epoch": result.best_epoch, "train_seconds": round(result.train_seconds, 2), "history": result.history}


def write_run(folder: RunFolder, run) -> dict:
    """Every part of a trained run into its folder: model, config, history, metrics, the task's files and
    the report."""
    out = folder.path
    metrics = run.results()
    config = run.config()
    config["sources"] = data_sources(config["data"], out)  # portable: replayed by `train --from RUN`
    run.estimator.save(out / "model")
    metrics["saved_bytes"] = adapter_bytes(out / "model")  # what this run adds on disk beside the backbone
    result = getattr(run.estimator, "fit_result_", None)
    if result is not None:  # data-parallel runs: how many processes, and the batches each saw per epoch
        metrics["processes"], metrics["steps_per_epoch"] = result.processes, result.steps_per_epoch
        if result.processes > 1:  # each process's share of the cache and of each dev scoring
            metrics["cache_rows_per_process"], metrics["dev_rows_per_process"] = result.cache_rows, result.dev_rows
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "history.json").write_text(json.dumps(run.history(), indent=2))
    for name, content in run.files().items():
        (out / name).write_bytes(content)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    run.report(out, metrics, config)
    return metrics


def load_run_config(run: str | Path) -> dict:
    path = Path(run) / "config.json"
    if not path.exists():
        raise HeadstartError(f"{run} is not a headstart run folder.", expected="a folder written by `headstart train`",
                             found="no config.json", fix="pass the --out folder of `headstart train`")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise HeadstartError(f"cannot read {path}.", expected="the JSON headstart wrote", found=str(exc)[:200],
                             fix="the run folder is damaged: train it again") from None


def evaluate_run(run: str | Path, data, *, out: str | Path | None = None) -> dict:
    """Evaluate a trained run on a labelled file; writes metrics.json and a report into
    `run/eval-<file stem>/` (or `out`). Labels unseen in training are an error naming them. `run` may be
    an ensemble folder of `headstart compare` (its members' runs say how to read the data)."""
    from headstart.ensemble import EnsembleClassifier

    run = Path(run)
    dest = Path(out) if out else run / f"eval-{Path(str(data)).stem}"
    if EnsembleClassifier.is_ensemble(run):
        clf = EnsembleClassifier.load(run)
        config = load_run_config(clf.folders[0].parent)
        result = get_task(config.get("task", "classification")).evaluate(clf.folders[0].parent, data, config,
                                                                         _fresh(dest), clf=clf)
    else:
        config = load_run_config(run)
        result = get_task(config.get("task", "classification")).evaluate(run, data, config, _fresh(dest))
    result["report"] = str(dest / "report.html")
    return result


def _fresh(dest: Path) -> Path:
    """An evaluation folder, emptied of an earlier evaluation of the same file."""
    if dest.exists() and (dest / "metrics.json").exists():
        shutil.rmtree(dest)
    return dest
