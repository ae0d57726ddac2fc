"""Tracking against real stores: MLflow's SQLite store (what `mlflow ui` reads) and TensorBoard event files."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from headstart.cli import app

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def run(tmp_path_factory, toy_data, tiny_bert):
    texts, labels = toy_data
    folder = tmp_path_factory.mktemp("track")
    pd.DataFrame({"text": texts[:40], "label": labels[:40]}).to_csv(folder / "train.csv", index=False)
    store = f"sqlite:///{folder / 'mlruns.db'}"
    result = CliRunner().invoke(app, ["train", str(folder / "train.csv"), "--out", str(folder / "run"), "--backbone",
                                      str(tiny_bert), "--strategy", "head", "--epochs", "3", "--max-length", "16",
                                      "--track", "mlflow", "--track-uri", store])
    assert result.exit_code == 0, result.output
    return folder, store


def test_train_track_mlflow_logs_params_epochs_scores_and_artefacts(run) -> None:
    folder, store = run
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    (found,) = client.search_runs([client.get_experiment_by_name("headstart").experiment_id])
    assert found.data.params["strategy"] == "head" and found.data.params["epochs"] == "3"
    assert found.data.tags["headstart.task"] == "classification" and found.info.status == "FINISHED"
    history = json.loads((folder / "run" / "history.json").read_text())
    losses = client.get_metric_history(found.info.run_id, "train_loss")
    assert [m.step for m in losses] == [r["epoch"] for r in history if r["train_loss"] is not None]
    dev = json.loads((folder / "run" / "metrics.json").read_text())["dev"]
    assert found.data.metrics["final_dev_accuracy"] == pytest.approx(dev["accuracy"])
    names = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"report.html", "config.json", "model"} <= names
    assert (folder / "mlartifacts").is_dir()  # beside the store, not in the working folder


def test_track_command_logs_again_and_a_dead_server_keeps_the_run(run, tmp_path) -> None:
    folder, store = run
    result = CliRunner().invoke(app, ["track", str(folder / "run"), "--uri", store, "--experiment", "again"])
    assert result.exit_code == 0, result.output
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    assert len(client.search_runs([client.get_experiment_by_name("again").experiment_id])) == 1
    result = CliRunner().invoke(app, ["track", str(folder / "run"), "--uri", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "is saved" in " ".join(result.output.split()), result.output
    assert (folder / "run" / "model").is_dir()


def test_unknown_tracker_is_refused_before_training(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("text,label\na,b\n")
    result = CliRunner().invoke(app, ["train", str(tmp_path / "d.csv"), "--out", str(tmp_path / "r"), "--track", "wandb"])
    assert result.exit_code == 1 and "unknown tracker" in result.output and not (tmp_path / "r").exists()


def test_track_tensorboard_writes_event_files(run) -> None:
    pytest.importorskip("tensorboard")
    folder, _ = run
    result = CliRunner().invoke(app, ["track", str(folder / "run"), "--to", "tensorboard"])
    assert result.exit_code == 0, result.output
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "run" / "tensorboard")).Reload()
    assert "train_loss" in events.Tags()["scalars"]


@pytest.mark.xdist_group("compare")
def test_compare_tracks_every_candidate(reviews_csv, tiny_bert, tmp_path) -> None:
    out, store = tmp_path / "cmp", f"sqlite:///{tmp_path / 'mlruns.db'}"
    result = CliRunner().invoke(app, [str(a) for a in (
        "compare", reviews_csv, "--strategies", "head,features", "--budget", "5m", "--out", out, "--backbone",
        tiny_bert, "--epochs", 1, "--max-length", 16, "--text-column", "review", "--label-column", "y",
        "--no-ensemble", "--track", "mlflow", "--track-uri", store)])
    assert result.exit_code == 0, result.output
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    runs = client.search_runs([client.get_experiment_by_name(f"compare {out}").experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["features", "head"]
    assert all(r.data.tags["headstart.compare"] == str(out.resolve()) for r in runs)
