"""Tests of headstart.evaluation: metrics against hand-computed cases, baselines, plots and the report."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from headstart.errors import DataError
from headstart.evaluation import (
    GREATER_IS_BETTER,
    classification_metrics,
    majority_baseline,
    plot_confusion_matrix,
    plot_learning_curves,
    primary_metric,
    tfidf_baseline,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _one_hot(pred: list[int], n_classes: int) -> np.ndarray:
    """Probabilities whose arg-max is `pred`."""
    proba = np.full((len(pred), n_classes), 0.1)
    proba[np.arange(len(pred)), pred] = 0.8
    return proba


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])  # IHDR width, height


# 1) metrics ---------------------------------------------------------------------------------------------


def test_binary_auc_on_four_examples():
    # Positive scores 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of the 4 pairs are ordered -> 0.75.
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    proba = np.column_stack([1 - scores, scores])
    m = classification_metrics([0, 0, 1, 1], proba, ["neg", "pos"])
    assert m["auc"] == pytest.approx(0.75)
    # Predictions (arg-max, threshold 0.5): 0, 0, 0, 1 -> 3 of 4 right.
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["confusion_matrix"] == [[2, 0], [1, 1]]
    assert m["per_class"]["pos"] == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": pytest.approx(2 / 3),
        "support": 2,
    }
    assert m["n"] == 4


def test_three_class_macro_f1_by_hand():
    y = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(y, _one_hot(pred, 3), ["a", "b", "c"])
    # a: P 1/2 R 1/2 F 1/2; b: P 2/3 R 1 F 0.8; c: P 1 R 1/2 F 2/3.
    f1 = [0.5, 0.8, 2 / 3]
    assert m["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert m["weighted_f1"] == pytest.approx(sum(f1) / 3)  # equal supports
    assert m["micro_f1"] == pytest.approx(4 / 6)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["c"]["recall"] == pytest.approx(0.5)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # One-vs-rest AUC with scores 0.8 (predicted) / 0.1: a 5/8, b 7/8, c 6/8 (ties count one half).
    assert m["auc"] == pytest.approx(0.75)


def test_class_absent_from_y_true_gets_zeros_and_does_not_drag_macro_f1():
    m = classification_metrics([0, 1, 0, 1], _one_hot([0, 1, 0, 1], 3), ["a", "b", "never"])
    assert m["per_class"]["never"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx(1.0)
    assert m["confusion_matrix"][2] == [0, 0, 0]
    # One-vs-rest AUC over the two present classes only.
    assert m["auc"] == pytest.approx(1.0)


def test_multiclass_auc_is_macro_one_vs_rest():
    y = [0, 1, 2, 2]
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    # class 0: score 0.6 above all negatives -> 1; class 1: 0.5 vs negatives 0.3, 0.6, 0.2 -> 2/3;
    # class 2: positives 0.3, 0.6 vs negatives 0.1, 0.3 -> (1 + 0.5 + 1 + 1) / 4 = 0.875.
    m = classification_metrics(y, proba, ["a", "b", "c"])
    assert m["auc"] == pytest.approx((1 + 2 / 3 + 0.875) / 3)


def test_auc_is_none_when_only_one_class_present():
    m = classification_metrics([1, 1], [[0.2, 0.8], [0.4, 0.6]], ["neg", "pos"])
    assert m["auc"] is None
    assert m["accuracy"] == 1.0


def test_multilabel_metrics_by_hand():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    proba = np.array([[0.9, 0.2, 0.7], [0.3, 0.6, 0.4], [0.8, 0.4, 0.1], [0.1, 0.3, 0.2]])
    m = classification_metrics(y, proba, ["x", "y", "z"], multilabel=True)
    # Predicted at 0.5: [1,0,1], [0,1,0], [1,0,0], [0,0,0] -> rows 0, 1 and 3 exactly right.
    assert m["accuracy"] == pytest.approx(3 / 4)
    # x: P 1 R 1 F 1; y: tp 1, fn 1 -> F 2/3; z: F 1. Micro: tp 4, fp 0, fn 1 -> 8/9.
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert m["micro_f1"] == pytest.approx(8 / 9)
    assert m["per_class"]["y"]["support"] == 2
    assert "confusion_matrix" not in m
    # Column AUCs: x 1.0; y positives 0.6, 0.4 vs negatives 0.2, 0.3 -> 1.0; z 1.0.
    assert m["auc"] == pytest.approx(1.0)
    json.dumps(m)  # JSON-serialisable


def test_multilabel_threshold_changes_predictions():
    y = np.array([[1, 0], [0, 1]])
    proba = np.array([[0.4, 0.1], [0.1, 0.45]])
    assert classification_metrics(y, proba, ["a", "b"], multilabel=True)["accuracy"] == 0.0
    assert classification_metrics(y, proba, ["a", "b"], multilabel=True, threshold=0.3)["accuracy"] == 1.0


def test_metrics_result_is_json_serialisable():
    m = classification_metrics(np.array([0, 1, 2]), _one_hot([0, 2, 2], 3), ["a", "b", "c"])
    assert json.loads(json.dumps(m)) == m


@pytest.mark.parametrize(
    ("y", "proba", "labels", "kwargs", "match"),
    [
        ([0, 1], [[0.5, 0.5]], ["a", "b"], {}, "Targets do not match"),
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "b", "c"], {}, "wrong shape"),
        ([0, 3], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], {}, "out of range"),
        (["a", "b"], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], {}, "must be integers"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], ["a", "b"], {}, "NaN"),
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "a"], {}, "not unique"),
        ([[0, 2], [1, 0]], [[0.5, 0.5], [0.5, 0.5]], ["a", "b"], {"multilabel": True}, "out of range"),
        (
            [[0, 1], [1, 0]],
            [[0.5, 0.5], [0.5, 0.5]],
            ["a", "b"],
            {"multilabel": True, "threshold": 2},
            "threshold",
        ),
    ],
)
def test_metrics_validation_errors(y, proba, labels, kwargs, match):
    with pytest.raises(DataError, match=match):
        classification_metrics(y, proba, labels, **kwargs)


def test_primary_metric_and_direction():
    assert primary_metric(2, multilabel=False) == "auc"
    assert primary_metric(3, multilabel=False) == "macro_f1"
    assert primary_metric(2, multilabel=True) == "macro_f1"
    assert GREATER_IS_BETTER["auc"] and GREATER_IS_BETTER["macro_f1"]
    assert not GREATER_IS_BETTER["dev_loss"]


# 2) baselines -------------------------------------------------------------------------------------------

POSITIVE = ["great film loved it", "wonderful acting great story", "loved the wonderful music", "great fun"]
NEGATIVE = ["terrible film hated it", "awful acting boring story", "hated the awful music", "boring mess"]


def test_majority_baseline_predicts_most_frequent_training_class():
    m = majority_baseline([0, 0, 0, 1, 2], [0, 1, 2, 0], n_classes=3, labels=["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["confusion_matrix"] == [[2, 0, 0], [1, 0, 0], [1, 0, 0]]
    assert m["auc"] == pytest.approx(0.5)  # a constant score ranks nothing
    assert m["train_seconds"] >= 0
    assert list(m["per_class"]) == ["a", "b", "c"]


def test_majority_baseline_multilabel_predicts_each_labels_majority():
    train = np.array([[1, 0], [1, 0], [1, 1]])
    test = np.array([[1, 0], [1, 1]])
    m = majority_baseline(train, test, n_classes=2, multilabel=True)
    assert m["accuracy"] == pytest.approx(0.5)
    assert list(m["per_class"]) == ["0", "1"]


def test_majority_baseline_errors():
    with pytest.raises(DataError, match="empty"):
        majority_baseline([], [0], n_classes=2)
    with pytest.raises(DataError, match="does not match n_classes"):
        majority_baseline([0], [0], n_classes=2, labels=["a"])


def test_tfidf_beats_majority_on_separable_data():
    train_texts = POSITIVE + NEGATIVE
    train_y = [1] * 4 + [0] * 4
    test_texts = ["loved it great", "awful boring film", "wonderful story", "hated the mess"]
    test_y = [1, 0, 1, 0]
    tfidf = tfidf_baseline(train_texts, train_y, test_texts, test_y, ["neg", "pos"])
    majority = majority_baseline(train_y, test_y, n_classes=2, labels=["neg", "pos"])
    assert tfidf["accuracy"] == 1.0
    assert tfidf["auc"] == 1.0
    assert tfidf["macro_f1"] > majority["macro_f1"]
    assert tfidf["train_seconds"] >= 0
    again = tfidf_baseline(train_texts, train_y, test_texts, test_y, ["neg", "pos"])
    assert {k: v for k, v in again.items() if k != "train_seconds"} == {
        k: v for k, v in tfidf.items() if k != "train_seconds"
    }


def test_tfidf_handles_class_missing_from_training():
    texts = POSITIVE + NEGATIVE
    y = [1] * 4 + [0] * 4
    m = tfidf_baseline(texts, y, ["great fun", "boring mess"], [1, 2], ["neg", "pos", "unseen"])
    assert m["per_class"]["unseen"]["recall"] == 0.0
    assert len(m["confusion_matrix"]) == 3


def test_tfidf_multilabel():
    texts = ["great film", "great music", "awful film", "awful music", "great story", "awful story"]
    # columns: positive, about music
    y = np.array([[1, 0], [1, 1], [0, 0], [0, 1], [1, 0], [0, 0]])
    m = tfidf_baseline(texts, y, texts, y, ["positive", "music"], multilabel=True)
    assert m["accuracy"] == 1.0
    assert "confusion_matrix" not in m


def test_tfidf_errors_name_the_problem():
    with pytest.raises(DataError, match="different lengths"):
        tfidf_baseline(["a b", "c d"], [0], ["a b"], [0], ["x", "y"])
    with pytest.raises(DataError, match="no words"):
        tfidf_baseline(["1", "2"], [0, 1], ["3"], [0], ["x", "y"])


# 3) plots -----------------------------------------------------------------------------------------------

HISTORY = [
    {
        "epoch": 1,
        "step": 10,
        "train_loss": 0.7,
        "dev_loss": 0.6,
        "dev_macro_f1": 0.6,
        "dev_accuracy": 0.7,
        "lr": 2e-5,
    },
    {
        "epoch": 2,
        "step": 20,
        "train_loss": 0.4,
        "dev_loss": 0.5,
        "dev_macro_f1": 0.8,
        "dev_accuracy": 0.85,
        "lr": 1e-5,
    },
    {
        "epoch": 3,
        "step": 30,
        "train_loss": 0.2,
        "dev_loss": None,
        "dev_macro_f1": 0.0,
        "dev_accuracy": 0.9,
        "lr": 0.0,
    },
]


def test_plot_learning_curves_writes_png(tmp_path):
    path = plot_learning_curves(HISTORY, tmp_path / "sub" / "curves.png")
    width, height = _png_size(path)
    assert width > 500 and height > 200


def test_plot_learning_curves_with_empty_history(tmp_path):
    path = plot_learning_curves([], tmp_path / "curves.png")
    assert path.stat().st_size > 0


@pytest.mark.parametrize("k", [3, 20, 40])
def test_plot_confusion_matrix_sizes(tmp_path, k):
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 10, size=(k, k))
    path = plot_confusion_matrix(matrix, [f"label ${i}$" for i in range(k)], tmp_path / f"cm{k}.png")
    assert _png_size(path)[0] > 300


def test_plot_confusion_matrix_shape_mismatch(tmp_path):
    with pytest.raises(DataError, match="does not match the labels"):
        plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b", "c"], tmp_path / "cm.png")


# 4) report ----------------------------------------------------------------------------------------------

EVIL = "<script>alert(1)</script>"


def _report(tmp_path, labels, history=HISTORY, drift=None):
    y = [0, 0, 1, 1, 2, 2]
    metrics = classification_metrics(y, _one_hot([0, 1, 1, 1, 2, 0], 3), labels)
    baselines = {
        "majority": majority_baseline([0, 0, 1], y, n_classes=3, labels=labels),
        "tfidf": classification_metrics(y, _one_hot([0, 0, 1, 2, 2, 2], 3), labels),
    }
    return write_report(
        tmp_path / "run",
        title="Sentiment | run 1",
        summary={
            "strategy": "lora",
            "backbone": "tiny-bert",
            "trainable_params": 1234,
            "total_params": 100000,
            "train_seconds": 75.0,
            "best_epoch": 2,
            "averaged_epochs": [1, 2],
        },
        metrics=metrics,
        baselines=baselines,
        history=history,
        drift=drift,
        data_stats={"n_train": 3, "class_counts": {"a": 2, "b": 1}, "warnings": ["tiny data set"]},
        config={"strategy": "lora", "lr": 2e-4, "note": "```"},
    )


def test_report_files_contain_all_sections(tmp_path):
    drift = {"embeddings": 0.0012, "layer.0": 0.015, "head": 1.5}
    md_path, html_path = _report(tmp_path, ["neg", "neutral", "pos"], drift=drift)
    md, page = md_path.read_text(), html_path.read_text()
    run = tmp_path / "run"
    assert (run / "learning_curves.png").read_bytes()[:8] == PNG_MAGIC
    assert (run / "confusion_matrix.png").read_bytes()[:8] == PNG_MAGIC
    for heading in (
        "Summary",
        "Model vs baselines",
        "Per-class scores",
        "Learning curves",
        "Confusion matrix",
        "Forgetting guard: drift from pretrained weights",
        "Data statistics",
        "Configuration",
    ):
        assert f"## {heading}" in md
        assert f"<h2>{heading}</h2>" in page
    assert "| Majority class |" in md and "| TF-IDF + LR |" in md
    assert "| Model | 0.6667 | 0.6556 |" in md  # accuracy 4/6, macro-F1 by hand above
    assert "<td>Majority class</td>" in page
    assert "| neutral | 0.6667 | 1.0000 | 0.8000 | 2 |" in md
    assert "| layer.0 | 1.50% |" in md and "| head | 150.00% |" in md
    assert "1,234 of 100,000 (1.23%)" in md and "1 min 15 s" in md
    assert "| Best epoch | 2 (weights kept: the mean of epochs 1, 2) |" in md
    assert "![" in md and "(learning_curves.png)" in md and 'src="confusion_matrix.png"' in page
    assert "- tiny data set" in md
    assert "````json" in md  # the fence outgrows the backticks in the config
    assert "Sentiment \\| run 1" in md
    assert "<script" not in page.lower() and "http" not in page  # self-contained: no JS, no links


def test_report_escapes_user_text(tmp_path):
    md_path, html_path = _report(tmp_path, ["ok", EVIL, "fine & dandy"])
    page = html_path.read_text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "fine &amp; dandy" in page
    assert "\\<script\\>" in md_path.read_text()


def test_report_without_optional_parts(tmp_path):
    y = np.array([[1, 0], [0, 1]])
    metrics = classification_metrics(y, [[0.9, 0.1], [0.2, 0.7]], ["a", "b"], multilabel=True)
    md_path, html_path = write_report(
        tmp_path,
        title="ML",
        summary={},
        metrics=metrics,
        baselines={},
        history=[],
        drift=None,
        data_stats=None,
        config=None,
    )
    md = md_path.read_text()
    assert "No training history was recorded." in md
    assert "multi-label" in md
    assert "Drift was not measured" in md
    assert "No baseline was run" in md
    assert not (tmp_path / "confusion_matrix.png").exists()
    assert html_path.read_text().startswith("<!DOCTYPE html>")


def test_report_keeps_top_30_classes_by_support(tmp_path):
    k = 40
    labels = [f"c{i}" for i in range(k)]
    y = np.repeat(np.arange(k), np.arange(1, k + 1))  # class i has i + 1 rows
    metrics = classification_metrics(y, _one_hot(list(y), k), labels)
    md_path, _ = write_report(
        tmp_path,
        title="many",
        summary={},
        metrics=metrics,
        baselines={},
        history=[],
        drift=None,
        data_stats=None,
        config=None,
    )
    md = md_path.read_text()
    assert "| c39 |" in md and "| c10 |" in md and "| c9 |" not in md
    assert "Showing the 30 most frequent of 40 classes." in md
