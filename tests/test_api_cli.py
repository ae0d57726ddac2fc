"""The scikit-learn-shaped HeadstartClassifier and the `headstart` command line, on the tiny BERT."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from typer.testing import CliRunner

from headstart import HeadstartClassifier
from headstart.cli import app
from headstart.errors import ConfigError, DataError
from headstart.strategies import PLANNED, STRATEGIES

# module-scoped fixtures: keep this file's tests on one xdist worker
pytestmark = pytest.mark.xdist_group("api-cli")

OPTIONS = {"strategy": "head", "epochs": 2, "batch_size": 8, "max_length": 16, "patience": 0}


def match(*parts: str) -> str:
    """A regex that finds each part, in order, anywhere in the (multi-line) message."""
    return "(?s)" + ".*".join(map(re.escape, parts))


def flat(text: str) -> str:
    """Output with line wrapping undone (rich wraps long messages at the terminal width)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def fitted(tiny_bert, toy_data3) -> HeadstartClassifier:
    """A 3-class head-only classifier fitted on (texts, labels)."""
    return HeadstartClassifier(backbone=str(tiny_bert), **OPTIONS).fit(*toy_data3)


# --- HeadstartClassifier ------------------------------------------------------------------------------------


def test_predict_and_predict_proba_shapes(fitted, toy_data3) -> None:
    texts, labels = toy_data3
    assert list(fitted.classes_) == ["neg", "neutral", "pos"]
    proba = fitted.predict_proba(texts[:7])
    assert proba.shape == (7, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-6)
    predicted = fitted.predict(texts[:7])
    assert predicted.shape == (7,) and set(predicted) <= set(fitted.classes_)
    assert list(predicted) == list(fitted.classes_[proba.argmax(1)])
    assert fitted.score(texts, labels) == pytest.approx(np.mean(fitted.predict(texts) == np.array(labels)))
    assert fitted.trainable_params_ == 32 * 3 + 3 < fitted.total_params_
    assert fitted.backbone_modified_ is False


def test_fit_accepts_a_dataframe_and_a_dataset_alike(fitted, tiny_bert, toy_data3) -> None:
    import datasets

    texts, labels = toy_data3
    frame = pd.DataFrame({"sms": texts, "y": labels})
    columns = {"text_column": "sms", "label_column": "y"}
    from_frame = HeadstartClassifier(backbone=str(tiny_bert), **OPTIONS, **columns).fit(frame)
    from_dataset = HeadstartClassifier(backbone=str(tiny_bert), **OPTIONS, **columns).fit(
        datasets.Dataset.from_pandas(frame))
    want = fitted.predict_proba(texts[:10])
    for clf in (from_frame, from_dataset):
        assert list(clf.classes_) == list(fitted.classes_)
        # same rows, same seed: the same dev split and the same training run
        np.testing.assert_allclose(clf.predict_proba(texts[:10]), want, atol=1e-6)
    assert from_frame.score(frame) == fitted.score(texts, labels)


def test_fit_with_an_explicit_dev_set(tiny_bert, toy_data, toy_dev) -> None:
    dev = pd.DataFrame({"text": toy_dev[0], "label": toy_dev[1]})
    clf = HeadstartClassifier(backbone=str(tiny_bert), **OPTIONS).fit(*toy_data, dev=dev)
    assert [row["epoch"] for row in clf.fit_result_.history] == [0, 1, 2]  # 0: before training
    assert clf.fit_result_.metric == clf.metric_ == "auc"  # binary: ROC-AUC


def test_sklearn_clone_and_params(fitted) -> None:
    params = fitted.get_params()
    copy = clone(fitted)
    assert copy.get_params() == params
    assert not hasattr(copy, "model_")
    assert copy.set_params(epochs=5).epochs == 5
    assert HeadstartClassifier(**params).get_params() == params


def test_predict_takes_a_pandas_series(fitted, toy_data3) -> None:
    import pandas as pd

    texts = toy_data3[0][:5]
    series = pd.Series(texts, index=[10, 11, 12, 13, 14], name="review")  # any index, any name
    assert list(fitted.predict(series)) == list(fitted.predict(texts))
    np.testing.assert_allclose(fitted.predict_proba(series), fitted.predict_proba(texts))


def test_predict_on_one_string_says_wrap_it(fitted) -> None:
    with pytest.raises(DataError, match=match("predict takes a list of texts", "wrap it in a list")):
        fitted.predict("one text")


def test_not_fitted() -> None:
    clf = HeadstartClassifier()
    for call in (lambda: clf.predict(["text"]), lambda: clf.predict_proba(["text"]), lambda: clf.save("x")):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


def test_unknown_and_own_command_strategies(tiny_bert, toy_data, monkeypatch) -> None:
    built = list(STRATEGIES)
    with pytest.raises(ConfigError, match=match("'few-shot' is not trained by `headstart train`", *built,
                                                "headstart few-shot DATA --out runs/few-shot")):
        HeadstartClassifier(backbone=str(tiny_bert), strategy="few-shot").fit(*toy_data)
    monkeypatch.setitem(PLANNED, "warp", "warp tuning (issue 99)")
    with pytest.raises(ConfigError, match=match("'warp'", "warp tuning (issue 99)", "is not built yet", *built)):
        HeadstartClassifier(backbone=str(tiny_bert), strategy="warp").fit(*toy_data)
    with pytest.raises(ConfigError, match=match("unknown strategy 'nonsense'.", "expected: one of", *built)):
        HeadstartClassifier(backbone=str(tiny_bert), strategy="nonsense").fit(*toy_data)


@pytest.mark.parametrize("options, message", [
    ({"strategy": "top-n", "top_n": 0}, ("invalid value for top_n", "found:    0")),
    ({"strategy": "head", "top_n": 2}, ("strategy 'head' has no option(s) top_n",)),
    ({"strategy": "features", "classifier": "tree"}, ("invalid value for classifier", "'logreg', 'svm'")),
    ({"strategy": "head", "epochs": 0}, ("invalid value for epochs", "found:    0")),
    ({"strategy": "head", "schedule": "cosine"}, ("invalid value for schedule", "'linear', 'slanted'")),
    ({"strategy": "full", "average_epochs": 0}, ("invalid value for average_epochs", "an integer >= 1")),
    ({"strategy": "head", "label_smoothing": 0.7}, ("invalid value for label_smoothing", "between 0.0 and 0.5")),
])
def test_invalid_options(options, message, tiny_bert, toy_data) -> None:
    with pytest.raises(ConfigError, match=match(*message)):
        HeadstartClassifier(backbone=str(tiny_bert), **options).fit(*toy_data)


def test_data_mistakes(tiny_bert, toy_data) -> None:
    texts, labels = toy_data
    clf = HeadstartClassifier(backbone=str(tiny_bert), **OPTIONS)
    with pytest.raises(DataError, match=match("labels are missing", "pass the labels as y")):
        clf.fit(texts)
    with pytest.raises(DataError, match=match("texts and labels differ in length", "80 texts, 79 labels")):
        clf.fit(texts, labels[:-1])


def test_features_refits_on_dev_rows_and_reports_the_held_out_score(tiny_bert, toy_data3) -> None:
    """refit (the default): score the probe on the held-out dev rows, then fit it on train + dev."""
    from headstart.data import load_task
    from headstart.strategies.features import C_GRID, FeaturesOptions, fit_linear_probe
    from headstart.training import pooled_features, tokenize

    texts, labels = toy_data3
    base = {"backbone": str(tiny_bert), "strategy": "features", "max_length": 16}
    refit = HeadstartClassifier(**base).fit(texts, labels)
    kept = HeadstartClassifier(**base, refit=False).fit(texts, labels)
    assert refit.refit_on_dev_ and not kept.refit_on_dev_
    # the one history row is the dev score of the probe fitted on train alone, in both
    assert len(refit.fit_result_.history) == 1
    assert refit.fit_result_.history == kept.fit_result_.history
    np.testing.assert_allclose(refit.heldout_dev_proba_, kept.predict_proba(_dev_texts(texts, labels)), atol=1e-6)
    # the saved head is the probe fitted on every labelled row
    task = load_task(pd.DataFrame({"text": texts, "label": labels}), dev_fraction=0.1, seed=0)
    rows = task.train.texts + task.dev.texts
    X = pooled_features(refit.model_, tokenize(refit.tokenizer_, rows, 16), pad_id=refit.tokenizer_.pad_token_id)
    y = np.concatenate([refit.encode_labels(task.train), refit.encode_labels(task.dev)])
    C = refit.features_C_  # chosen by cross-validation on the training rows, kept for the refit
    assert C in C_GRID and kept.features_C_ == C
    W, b = fit_linear_probe(np.asarray(X), y, 3, FeaturesOptions(C=C), multilabel=False, class_weight=None, seed=0)
    np.testing.assert_allclose(refit.model_.head.weight.detach().numpy(), W, atol=1e-5)
    np.testing.assert_allclose(refit.model_.head.bias.detach().numpy(), b, atol=1e-5)
    assert not np.allclose(kept.model_.head.weight.detach().numpy(), W, atol=1e-3)


def _dev_texts(texts: list[str], labels: list[str]) -> list[str]:
    from headstart.data import load_task

    return load_task(pd.DataFrame({"text": texts, "label": labels}), dev_fraction=0.1, seed=0).dev.texts


def test_a_features_run_reports_dev_metrics_from_before_the_refit(tmp_path, tiny_bert, toy_data3) -> None:
    """metrics.json's dev scores (what compare ranks on) are the held-out ones, equal to a run without refit.
    Shuffled labels, so that scoring the refit model on its own training rows would look better."""
    texts, labels = toy_data3
    labels = list(np.random.default_rng(0).permutation(labels))
    data = _write_csv(tmp_path / "train.csv", texts, labels)
    dev = {}
    for flag in ("--refit", "--no-refit"):
        out = tmp_path / flag
        result = invoke("train", data, "--backbone", tiny_bert, "--strategy", "features", "--max-length", 16,
                        flag, "--out", out)
        assert result.exit_code == 0, result.output
        dev[flag] = json.loads((out / "metrics.json").read_text())["dev"]
        assert json.loads((out / "config.json").read_text())["resolved"]["train"]["refit"] is (flag == "--refit")
    assert dev["--refit"] == dev["--no-refit"]
    dev_texts = _dev_texts(texts, labels)
    dev_labels = dict(zip(texts, labels, strict=True))
    refitted = HeadstartClassifier.load(tmp_path / "--refit" / "model")
    assert refitted.score(dev_texts, [dev_labels[t] for t in dev_texts]) > dev["--refit"]["accuracy"]


# --- the command line ---------------------------------------------------------------------------------------


def _write_csv(path: Path, texts: list[str], labels: list[str] | None = None) -> Path:
    frame = pd.DataFrame({"text": texts} if labels is None else {"text": texts, "label": labels})
    frame.to_csv(path, index=False)
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_bert, toy_data, toy_dev) -> dict[str, Path]:
    """`headstart train` once on a small CSV; the run folder and the data files."""
    root = tmp_path_factory.mktemp("cli")
    files = {"train": _write_csv(root / "train.csv", *toy_data), "test": _write_csv(root / "test.csv", *toy_dev),
             "run": root / "run", "backbone": tiny_bert}
    result = invoke("train", files["train"], "--backbone", tiny_bert, "--strategy", "head", "--epochs", 2,
                    "--batch-size", 8, "--max-length", 16, "--label-smoothing", 0.05, "--out", files["run"])
    assert result.exit_code == 0, result.output
    files["output"] = result.output
    return files


def test_train_writes_a_complete_run(cli_run) -> None:
    run = cli_run["run"]
    for name in ("config.json", "metrics.json", "history.json", "model/headstart.json", "model/head.safetensors",
                 "report.md", "report.html", "learning_curves.png"):
        assert (run / name).is_file(), name
    assert not (run / "checkpoint.pt").exists()  # removed once the run is complete
    assert not (run / "model" / "model.safetensors").exists()  # a frozen backbone is referenced, not copied
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["strategy"] == "head" and metrics["evaluated_on"] == "dev"
    assert set(metrics["baselines"]) == {"majority", "tfidf"}
    assert [row["epoch"] for row in json.loads((run / "history.json").read_text())] == [0, 1, 2]
    config = json.loads((run / "config.json").read_text())
    assert config["estimator"]["backbone"] == str(cli_run["backbone"])
    assert config["data"]["train"] == str(cli_run["train"])
    assert config["resolved"]["train"]["epochs"] == 2 and config["resolved"]["train"]["label_smoothing"] == 0.05
    assert config["resolved"]["train"]["average_epochs"] == 1 and metrics["averaged_epochs"] == []  # full's only
    assert "headstart" in cli_run["output"] and "baseline: majority" in cli_run["output"]


def test_metrics_count_the_training_epochs(cli_run) -> None:
    metrics = json.loads((cli_run["run"] / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2


def test_evaluate(cli_run) -> None:
    result = invoke("evaluate", cli_run["run"], cli_run["test"])
    assert result.exit_code == 0, result.output
    folder = cli_run["run"] / "eval-test"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert 0.0 <= metrics["metrics"]["accuracy"] <= 1.0 and "tfidf" in metrics["baselines"]
    assert (folder / "report.html").is_file()
    assert "report:" in result.output


def test_predict_texts_and_file(cli_run, tmp_path: Path) -> None:
    result = invoke("predict", cli_run["run"], "the movie was great love")
    assert result.exit_code == 0, result.output
    assert re.search(r"\b(pos|neg)\b \(\d\.\d{3}\)\s+the movie was great love", result.output)

    texts = ["so good", "so bad", "the plot was awful"]
    result = invoke("predict", cli_run["run"], "--file", _write_csv(tmp_path / "x.csv", texts), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == texts
    assert all(row["label"] in ("pos", "neg") and set(row["scores"]) == {"pos", "neg"} for row in rows)
    assert all(abs(sum(row["scores"].values()) - 1) < 1e-3 for row in rows)


def test_predict_matches_the_library(cli_run) -> None:
    clf = HeadstartClassifier.load(cli_run["run"])
    result = invoke("predict", cli_run["run"], "so good", "--json")
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    proba = clf.predict_proba(["so good"])[0]
    assert row["label"] == clf.predict(["so good"])[0]
    assert row["scores"] == {label: round(float(p), 4) for label, p in zip(clf.labels_, proba, strict=True)}


def test_recommend_and_models(cli_run) -> None:
    result = invoke("recommend", cli_run["train"], "--compute", "low", "--no-probe")  # (evidence: test_auto.py)
    assert result.exit_code == 0, result.output
    assert "Recommended:" in result.output and "headstart train" in result.output
    assert "compute level 'low' (given" in result.output
    result = invoke("recommend", cli_run["train"], "--no-labels", "--compute", "low")
    assert result.exit_code == 0, result.output
    assert "rule: no-labels)" in result.output and f"headstart zero-shot {cli_run['train']}" in result.output
    result = invoke("recommend", "--api-only", "--compute", "low")
    assert result.exit_code == 0, result.output
    assert "rule: no-labels-api-only" in result.output and "headstart zero-shot-api DATA" in result.output
    result = invoke("models")
    assert result.exit_code == 0, result.output
    assert "minilm" in result.output
    assert all(name in result.output for name in STRATEGIES)


def test_missing_file_is_a_clean_error(cli_run, tmp_path: Path) -> None:
    result = invoke("train", tmp_path / "missing.csv", "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "missing.csv" in flat(result.output) and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
    result = invoke("evaluate", cli_run["run"], tmp_path / "missing.csv")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "missing.csv" in flat(result.output)


def test_train_never_replaces_a_finished_run(cli_run) -> None:
    metrics = cli_run["run"] / "metrics.json"
    before, stamp = metrics.read_bytes(), metrics.stat().st_mtime_ns
    result = invoke("train", cli_run["train"], "--backbone", cli_run["backbone"], "--strategy", "head",
                    "--epochs", 1, "--out", cli_run["run"])
    assert result.exit_code == 1
    assert "already holds a finished run; it was left untouched" in flat(result.output)
    assert "--overwrite" in flat(result.output) and "Traceback" not in result.output
    assert metrics.read_bytes() == before and metrics.stat().st_mtime_ns == stamp


def test_evaluate_names_an_unseen_label_and_its_line(cli_run, tmp_path: Path) -> None:
    data = _write_csv(tmp_path / "odd.csv", ["so good", "so bad", "meh", "great"], ["pos", "neg", "maybe", "pos"])
    result = invoke("evaluate", cli_run["run"], data)
    assert result.exit_code == 1 and "Traceback" not in result.output
    message = flat(result.output)
    assert "never occur in the training data" in message
    assert "'maybe' (first at line 4)" in message


def test_train_an_adapter_from_the_cli(cli_run, tmp_path: Path) -> None:
    run = tmp_path / "lora"
    result = invoke("train", cli_run["train"], "--backbone", cli_run["backbone"], "--strategy", "lora",
                    "--rank", 4, "--alpha", 8, "--epochs", 1, "--batch-size", 8, "--max-length", 16,
                    "--out", run)
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["adapter"] == "peft" and 0 < metrics["trainable_percent"] < 100
    assert metrics["saved_bytes"] == sum(f.stat().st_size for f in (run / "model").iterdir()
                                         if f.name != "headstart.json")
    assert json.loads((run / "model" / "adapter_config.json").read_text())["r"] == 4
    assert "saved" in result.output and "(adapter + head)" in result.output
    predicted = invoke("predict", run, "the movie was great love")
    assert predicted.exit_code == 0, predicted.output


def test_a_lora_target_that_matches_nothing_is_a_clear_cli_error(cli_run, tmp_path: Path) -> None:
    result = invoke("train", cli_run["train"], "--backbone", cli_run["backbone"], "--strategy", "lora",
                    "--target-modules", "q_proj,v_proj", "--epochs", 1, "--out", tmp_path / "bad")
    assert result.exit_code == 1
    assert "q_proj, v_proj" in result.output and "query" in result.output and "Traceback" not in result.output
