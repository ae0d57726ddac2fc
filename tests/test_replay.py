"""Runs as configs: `train --config FILE` (typed, checked, flags win) and `train --from RUN` (the same data,
task and options again, found relative to the run folder and checked by hash)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from headstart.cli import app

runner = CliRunner()


@pytest.fixture
def project(tmp_path, toy_data):
    """A folder with a training CSV, as a user's project would hold it."""
    texts, labels = toy_data
    folder = tmp_path / "project"
    folder.mkdir()
    pd.DataFrame({"review": texts[:40], "y": labels[:40]}).to_csv(folder / "train.csv", index=False)
    return folder


def _train(*args: str) -> object:
    result = runner.invoke(app, ["train", *args])
    return result


def _dev(run) -> dict:
    return json.loads((run / "metrics.json").read_text())["dev"]


def test_config_file_sets_options_and_flags_win(project, tiny_bert) -> None:
    (project / "run.yaml").write_text(f"data: train.csv\ntext_column: review\nlabel_column: y\n"
                                      f"backbone: {tiny_bert}\nstrategy: head\nepochs: 2\nlr: 1e-2\n"
                                      "max_length: 16\n")
    out = project / "run"
    result = _train("--config", str(project / "run.yaml"), "--out", str(out), "--epochs", "3")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["estimator"]["epochs"] == 3  # the flag won
    assert config["estimator"]["lr"] == 1e-2 and config["estimator"]["strategy"] == "head"  # YAML's "1e-2" typed
    assert config["sources"]["train"]["path"] == "../train.csv"  # relative to the run folder


@pytest.mark.parametrize(("text", "line", "words"), [
    ("strategy: head\nepochz: 3\n", 2, ["no option 'epochz'", "did you mean 'epochs'"]),
    ("epochs: three\n", 1, ["epochs takes a whole number"]),
    ("strategy: [unclosed\n", 2, ["cannot read"]),
    ("- just\n- a list\n", 1, ["not a mapping"]),
    ("epochs: 2\nepochs: 3\n", 2, ["'epochs' is set twice"]),
])
def test_config_file_mistakes_name_the_line(project, text, line, words) -> None:
    (project / "bad.yaml").write_text(text)
    result = _train("--config", str(project / "bad.yaml"), "--out", str(project / "run"))
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    assert f"line {line}" in flat and all(w in flat for w in words), flat
    assert not (project / "run").exists()


def test_config_file_that_is_not_text(project) -> None:
    (project / "bin.yaml").write_bytes(b"epochs: \xff\xfe\x00")
    result = _train("--config", str(project / "bin.yaml"), "--out", str(project / "run"))
    assert result.exit_code == 1 and "not UTF-8" in result.output, result.output


def test_config_file_cannot_run_code(project) -> None:
    marker = project / "pwned"
    (project / "evil.yaml").write_text(f'epochs: !!python/object/apply:os.system ["touch {marker}"]\n')
    result = _train("--config", str(project / "evil.yaml"), "--out", str(project / "run"))
    assert result.exit_code == 1 and not marker.exists(), result.output


def test_from_run_replays_the_same_metrics_after_the_project_moved(project, tiny_bert, tmp_path) -> None:
    first = project / "runs" / "first"
    result = _train(str(project / "train.csv"), "--out", str(first), "--text-column", "review", "--label-column",
                    "y", "--backbone", str(tiny_bert), "--strategy", "top-n", "--epochs", "2", "--max-length", "16")
    assert result.exit_code == 0, result.output
    moved = tmp_path / "moved"
    shutil.move(project, moved)  # data and runs travel together
    again = moved / "runs" / "again"
    result = _train("--from", str(moved / "runs" / "first"), "--out", str(again))
    assert result.exit_code == 0, result.output
    assert _dev(again) == _dev(moved / "runs" / "first")

    (moved / "train.csv").write_text((moved / "train.csv").read_text().replace("good", "bad", 1))
    result = _train("--from", str(moved / "runs" / "first"), "--out", str(moved / "runs" / "third"))
    assert result.exit_code == 1 and "changed since" in " ".join(result.output.split()), result.output
    result = _train(str(moved / "train.csv"), "--from", str(moved / "runs" / "first"), "--out",
                    str(moved / "runs" / "third"), "--epochs", "1")  # on purpose: the file given wins
    assert result.exit_code == 0, result.output
    assert json.loads((moved / "runs" / "third" / "config.json").read_text())["estimator"]["epochs"] == 1


def test_no_data_anywhere_is_a_clear_error(tmp_path) -> None:
    result = _train("--out", str(tmp_path / "run"))
    assert result.exit_code == 1 and "no training data" in result.output, result.output


def test_train_json_and_quiet_for_scripts(project, tiny_bert) -> None:
    base = [str(project / "train.csv"), "--text-column", "review", "--label-column", "y", "--backbone", str(tiny_bert),
            "--strategy", "head", "--epochs", "1", "--max-length", "16"]
    result = CliRunner().invoke(app, ["train", *base, "--out", str(project / "a"), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == json.loads((project / "a" / "metrics.json").read_text())
    result = CliRunner().invoke(app, ["train", *base, "--out", str(project / "b"), "--quiet"])
    assert result.exit_code == 0 and result.stdout.strip() == "" and result.stderr.strip() == "", result.output
    result = CliRunner().invoke(app, ["evaluate", str(project / "a"), str(project / "train.csv"), "--json"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in json.loads(result.stdout.strip().splitlines()[-1])["metrics"]
