"""Experiment tracking: a finished run folder logged to MLflow or TensorBoard (`headstart train --track
mlflow`, `headstart compare --track mlflow` for every candidate).

    headstart train data.csv --track mlflow            # -> ./mlruns.db (MLflow's SQLite store); `mlflow ui
                                                      #    --backend-store-uri sqlite:///mlruns.db` shows it
    headstart train data.csv --track mlflow --track-uri http://mlflow:5000
    headstart train data.csv --track tensorboard       # -> RUN/tensorboard/ event files

What is logged is read from the run folder once it is complete (config.json, history.json, metrics.json,
the report and the model), so every task, `--resume` and compare's candidates are tracked the same way
and a tracking server that is down costs no training: the run is saved first, then the error names it.
Parameters: the estimator's options that were set and the resolved training config; metrics: every
numeric column of history.json per epoch (step = epoch), and the final dev / test scores.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from headstart.errors import ConfigError, HeadstartError

__all__ = ["TRACKERS", "track_run", "check_tracker"]

TRACKERS = ("mlflow", "tensorboard")
DEFAULT_STORE = "mlruns.db"  # MLflow's SQLite store, in the folder the command runs in


def check_tracker(tracker: str | None) -> None:
    """Refuse an unknown tracker, or one whose package is missing, before anything trains."""
    if tracker is None:
        return
    if tracker not in TRACKERS:
        raise ConfigError(f"unknown tracker {tracker!r}.", expected=" or ".join(TRACKERS), found=repr(tracker),
                          fix="--track mlflow (or tensorboard)")
    import importlib.util

    package = "mlflow" if tracker == "mlflow" else "tensorboard"
    if importlib.util.find_spec(package) is None:
        raise ConfigError(f"--track {tracker} needs the {package} package.", expected=f"{package} installed",
                          found="not installed", fix=f"pip install {package} (or pip install 'headstart[track]')")


def track_run(folder: str | Path, tracker: str, *, uri: str | None = None, experiment: str = "headstart",
              tags: dict | None = None) -> str:
    """Log the finished run in `folder`; returns where it went (the MLflow run id and store, or the folder)."""
    check_tracker(tracker)
    folder = Path(folder)
    from headstart.runs.writer import load_run_config

    config = load_run_config(folder)  # a clear error for a folder that is not a run
    if not (folder / "metrics.json").exists():
        raise HeadstartError(f"{folder} has not finished: it holds no metrics.json.", expected="a finished run",
                             found="a run without metrics", fix="finish it (headstart train ... --resume), then track it")
    params = _params(config)
    history = _read(folder / "history.json") if (folder / "history.json").exists() else []
    final = _final(_read(folder / "metrics.json"))
    if tracker == "tensorboard":
        return _tensorboard(folder, params, history, final)
    return _mlflow(folder, params, history, final, uri=uri, experiment=experiment,
                   tags={"headstart.task": config.get("task", "classification"), "headstart.run": str(folder.resolve()),
                         **(tags or {})})


def _read(path: Path):
    return json.loads(path.read_text())


def _params(config: dict) -> dict[str, str]:
    set_options = {k: v for k, v in (config.get("estimator") or {}).items() if v is not None and k != "progress"}
    resolved = (config.get("resolved") or {}).get("train") or {}
    strategy = ((config.get("resolved") or {}).get("strategy") or {}).get("options") or {}
    out = {**{f"train.{k}": v for k, v in resolved.items()}, **{f"strategy.{k}": v for k, v in strategy.items()},
           **set_options, "task": config.get("task", "classification")}
    return {k: str(v)[:500] for k, v in out.items()}  # MLflow's limit on a parameter's value


def _final(metrics: dict) -> dict[str, float]:
    out = {}
    for split in ("dev", "test"):
        for key, value in (metrics.get(split) or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"final_{split}_{key}"] = float(value)
    for key in ("train_seconds", "peak_rss_mb", "trainable_params", "saved_bytes"):
        if isinstance(metrics.get(key), int | float):
            out[key] = float(metrics[key])
    return out


def _epoch_metrics(history: list[dict]):
    for row in history:
        for key, value in row.items():
            if key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
                yield key, float(value), int(row.get("epoch", 0))


def _mlflow(folder: Path, params: dict, history: list[dict], final: dict, *, uri: str | None, experiment: str,
            tags: dict) -> str:
    import os

    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(DEFAULT_STORE).resolve()}"
    # a server that is down: a few retries, not MLflow's minutes of backoff (the user's settings win)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:  # artefacts beside a local SQLite store, not in the working folder's ./mlruns
            where = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" if uri.startswith("sqlite:///") else None
            experiment_id = client.create_experiment(experiment, artifact_location=where.resolve().as_uri()
                                                     if where else None)
        run = client.create_run(experiment_id, run_name=folder.name, tags=tags)
        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v, step in _epoch_metrics(history)]
        metrics += [Metric(k, v, now, 0) for k, v in final.items()]
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, max(len(items), len(metrics)), 100):  # MLflow's batch limits
            client.log_batch(run.info.run_id, params=items[i:i + 100], metrics=metrics[i:i + 100])
        for name in ("report.html", "report.md", "metrics.json", "config.json", "history.json"):
            if (folder / name).exists():
                client.log_artifact(run.info.run_id, str(folder / name))
        if (folder / "model").is_dir():
            client.log_artifacts(run.info.run_id, str(folder / "model"), artifact_path="model")
        client.set_terminated(run.info.run_id)
    except Exception as exc:  # a store or server the user pointed at: name it, the run folder stays saved
        if isinstance(exc, HeadstartError):
            raise
        raise HeadstartError(f"the run in {folder} is saved, but logging it to MLflow failed.",
                             expected=f"a reachable MLflow store at {uri}", found=f"{type(exc).__name__}: {exc}"[:300],
                             fix="check --track-uri / MLFLOW_TRACKING_URI; log it later with "
                             f"`headstart track {folder}`") from None
    return f"MLflow run {run.info.run_id} in {uri}"


def _tensorboard(folder: Path, params: dict, history: list[dict], final: dict) -> str:
    from torch.utils.tensorboard import SummaryWriter

    logdir = folder / "tensorboard"
    with SummaryWriter(str(logdir)) as writer:
        for key, value, step in _epoch_metrics(history):
            writer.add_scalar(key, value, step)
        writer.add_hparams(params, {k: v for k, v in final.items() if k.startswith("final_")} or {"final": 0.0},
                           run_name=".")
    return str(logdir)
