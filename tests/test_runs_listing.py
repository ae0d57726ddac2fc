"""`headstart runs`: every run under a folder with its task, data, strategy, backbone, score, size and time,
filtered and sorted; `headstart runs show RUN` for one run in full."""

from __future__ import annotations

import json
import os

from typer.testing import CliRunner

from headstart.cli import app
from headstart.runs.listing import list_runs, select_runs, show_run


def _run(root, name, *, task, strategy, backbone, data, score, seconds, age):
    folder = root / name
    folder.mkdir(parents=True)
    metric = "f1" if task == "ner" else "accuracy"
    (folder / "metrics.json").write_text(json.dumps({
        "task": task, "strategy": strategy, "backbone": backbone, "primary_metric": metric,
        "dev": {metric: score, "n": 10}, "train_seconds": seconds, "baselines": {"majority": {metric: 0.5}}}))
    (folder / "config.json").write_text(json.dumps({"data": {"train": data, "dev": None, "test": None},
                                                    "resolved": {"strategy": {"options": {"top_n": 4}},
                                                                 "train": {"epochs": 5, "lr": 5e-4}}}))
    marker = folder / "headstart-run.json"
    marker.write_text("{}")
    os.utime(marker, (1_700_000_000 + age, 1_700_000_000 + age))
    return folder


def _runs(tmp_path):
    _run(tmp_path, "spam-full", task="classification", strategy="full", backbone="minilm", data="data/spam.csv",
         score=0.98, seconds=300.0, age=3)
    _run(tmp_path, "spam-topn", task="classification", strategy="top-n", backbone="minilm", data="data/spam.csv",
         score=0.99, seconds=100.0, age=2)
    _run(tmp_path, "ner", task="ner", strategy="full", backbone="mpnet", data="data/wnut.txt", score=0.41,
         seconds=None, age=1)
    (tmp_path / "notes").mkdir()  # not a run: left out
    return tmp_path


def test_runs_are_listed_filtered_and_sorted(tmp_path) -> None:
    rows = list_runs(_runs(tmp_path))
    assert [r["name"] for r in rows] == ["spam-full", "spam-topn", "ner"]  # newest first
    assert rows[0]["data"] == "data/spam.csv" and rows[2]["backbone"] == "mpnet"
    assert [r["name"] for r in select_runs(rows, task="classification", sort="score")] == ["spam-topn", "spam-full"]
    assert [r["name"] for r in select_runs(rows, data="wnut")] == ["ner"]
    assert [r["name"] for r in select_runs(rows, strategy="full", backbone="minilm")] == ["spam-full"]
    assert [r["name"] for r in select_runs(rows, sort="time")] == ["spam-topn", "spam-full", "ner"]  # unknown last


def test_the_command_filters_shows_one_run_and_names_a_wrong_folder(tmp_path) -> None:
    root = _runs(tmp_path)
    listed = CliRunner().invoke(app, ["runs", str(root), "--strategy", "full", "--sort", "name", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [r["name"] for r in json.loads(listed.output)] == ["ner", "spam-full"]
    table = CliRunner().invoke(app, ["runs", str(root)])  # rich sees 80 columns here: the table fits them
    assert table.exit_code == 0 and "spam-topn" in table.output and "columns left out to fit 80" in table.output
    shown = CliRunner().invoke(app, ["runs", "show", str(root / "spam-topn")])
    assert shown.exit_code == 0, shown.output
    for text in ("top-n on minilm", "train: data/spam.csv", '"top_n": 4', "accuracy 0.9900", "baseline majority"):
        assert text in shown.output
    assert show_run(root / "spam-topn")["scores"] == {"dev": {"accuracy": 0.99, "n": 10}}
    missing = CliRunner().invoke(app, ["runs", "show", str(root / "notes")])
    assert missing.exit_code == 1 and "not a headstart run folder" in missing.output
    two = CliRunner().invoke(app, ["runs", "show"])
    assert two.exit_code == 1 and "runs show takes one run folder" in two.output
