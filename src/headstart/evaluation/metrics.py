"""Classification metrics for single-label and multi-label tasks, returned as a JSON-ready dict.

One function serves the trainer (dev metrics each epoch), the baselines and the report, so every number
in a report is computed the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headstart.errors import DataError

__all__ = ["classification_metrics", "primary_metric", "GREATER_IS_BETTER"]

# Direction of every metric headstart selects or early-stops on. The trainer logs dev metrics with a
# "dev_" prefix; strip it before looking a name up here.
GREATER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "macro_f1": True,
    "micro_f1": True,
    "weighted_f1": True,
    "auc": True,
    "loss": False,
    "train_loss": False,
    "dev_loss": False,
}


def primary_metric(n_classes: int, multilabel: bool) -> str:
    """The metric a task is judged and model-selected on.

    ROC-AUC for binary single-label tasks (threshold-free, robust to imbalance); macro-F1 otherwise, so
    that rare classes weigh as much as frequent ones.

    Args:
        n_classes: number of labels in the task.
        multilabel: whether a row may carry several labels.

    Returns:
        "auc" or "macro_f1", a key of `GREATER_IS_BETTER` and of `classification_metrics`' result.

    Example:
        >>> primary_metric(2, multilabel=False)
        'auc'
    """
    return "auc" if n_classes == 2 and not multilabel else "macro_f1"


def classification_metrics(
    y_true: Sequence | np.ndarray,
    proba: Sequence | np.ndarray,
    labels: Sequence[str],
    *,
    multilabel: bool = False,
    threshold: float = 0.5,
) -> dict:
    """Accuracy, F1 averages, ROC-AUC, per-class scores and the confusion matrix of predictions.

    Single-label predictions are the arg-max of `proba`; multi-label predictions are `proba >= threshold`.
    Classes absent from `y_true` get precision/recall/F1 of 0 instead of a warning. `macro_f1` averages
    over the classes that occur in `y_true` or in the predictions (scikit-learn's default label set): a
    class that is neither present nor predicted is neither right nor wrong, so it does not pull the
    average towards 0.

    Args:
        y_true: single-label: class indices, shape (n,); multi-label: a 0/1 matrix, shape (n, C).
        proba: probabilities, shape (n, C), columns in the order of `labels`.
        labels: the C label names, used as keys of "per_class".
        multilabel: whether `y_true` is a 0/1 matrix.
        threshold: decision threshold for multi-label predictions.

    Returns:
        A JSON-serialisable dict with "accuracy" (subset accuracy for multi-label), "macro_f1",
        "micro_f1", "weighted_f1", "auc" (float or None when not computable), "per_class"
        ({label: {"precision", "recall", "f1", "support"}}), "confusion_matrix" (single-label only; rows
        are true labels, columns predicted, in `labels` order) and "n".

    Example:
        >>> m = classification_metrics([0, 1], [[0.9, 0.1], [0.2, 0.8]], ["neg", "pos"])
        >>> m["accuracy"], m["auc"]
        (1.0, 1.0)
    """
    names = _check_labels(labels)
    p = _check_proba(proba, len(names))
    y = check_targets(y_true, len(names), multilabel, n_rows=p.shape[0])
    if not 0.0 <= threshold <= 1.0:
        raise DataError(
            "The multi-label threshold is out of range.",
            expected="a probability between 0 and 1",
            found=repr(threshold),
            fix="use threshold=0.5 unless you have tuned it on the dev split.",
        )
    pred = (p >= threshold).astype(int) if multilabel else p.argmax(axis=1)
    idx = list(range(len(names)))

    from sklearn.metrics import (  # imported where used: the CLI's help and sniffing stay free of sklearn
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=idx, average=None, zero_division=0
    )
    n_predicted = pred.sum(axis=0) if multilabel else np.bincount(pred, minlength=len(names))
    active = (support > 0) | (n_predicted > 0)
    result: dict = {
        "accuracy": float(np.mean(np.all(y == pred, axis=1)) if multilabel else np.mean(y == pred)),
        "macro_f1": float(f1[active].mean()) if active.any() else 0.0,
        "micro_f1": float(f1_score(y, pred, labels=idx, average="micro", zero_division=0)),
        "weighted_f1": float((f1 * support).sum() / support.sum()) if support.sum() > 0 else 0.0,
        "auc": _auc(y, p, multilabel),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
    }
    if not multilabel:
        result["confusion_matrix"] = confusion_matrix(y, pred, labels=idx).astype(int).tolist()
    result["n"] = int(p.shape[0])
    return result


def check_targets(
    y_true: Sequence | np.ndarray, n_classes: int, multilabel: bool, *, n_rows: int | None = None
) -> np.ndarray:
    """Validate targets and return them as an int array: indices (n,) or a 0/1 matrix (n, C).

    Shared with the baselines; raises `DataError` naming the expected shape and values.
    """
    y = np.asarray(y_true)
    expected_shape = f"({n_rows if n_rows is not None else 'n'}, {n_classes})" if multilabel else "(n,)"
    kind = "a 0/1 matrix" if multilabel else "class indices"
    ok_shape = (y.ndim == 2 and y.shape[1] == n_classes) if multilabel else y.ndim == 1
    if not ok_shape or (n_rows is not None and y.shape[0] != n_rows):
        raise DataError(
            "Targets do not match the predictions.",
            expected=f"{kind} of shape {expected_shape}",
            found=f"shape {y.shape}",
            fix="pass one target per predicted row; multi-label targets need one column per label.",
        )
    if y.size and (y.dtype.kind not in "iub" and not _integral(y)):
        raise DataError(
            "Targets must be integers.",
            expected=kind,
            found=f"values of dtype {y.dtype}, e.g. {y.flat[0]!r}",
            fix="map label names to their index in `labels` before evaluating.",
        )
    y = y.astype(int)
    low, high = (0, 1) if multilabel else (0, n_classes - 1)
    if y.size and (y.min() < low or y.max() > high):
        raise DataError(
            "Targets are out of range.",
            expected=f"values between {low} and {high}",
            found=f"values between {y.min()} and {y.max()}",
            fix="check that `labels` lists every class and that targets are 0-based indices.",
        )
    return y


def _integral(y: np.ndarray) -> bool:
    if y.dtype.kind != "f":
        return False
    return bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))


def _check_labels(labels: Sequence[str]) -> list[str]:
    names = [str(label) for label in labels]
    if not names:
        raise DataError("No labels given.", expected="the list of class names", found="an empty list")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(
            "Label names are not unique.",
            expected="each label once",
            found=f"duplicates {dupes[:5]}",
            fix="pass the task's ordered label set, e.g. TaskData.labels.",
        )
    return names


def _check_proba(proba: Sequence | np.ndarray, n_labels: int) -> np.ndarray:
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape[1] != n_labels or p.shape[0] == 0:
        raise DataError(
            "Probabilities have the wrong shape.",
            expected=f"an array of shape (n, {n_labels}) with n >= 1, one column per label",
            found=f"shape {p.shape}",
            fix="pass predict_proba output with its columns in the order of `labels`.",
        )
    if not np.all(np.isfinite(p)):
        raise DataError(
            "Probabilities contain NaN or infinite values.",
            expected="finite probabilities",
            found=f"{int(np.sum(~np.isfinite(p)))} non-finite values",
            fix="the model may have diverged: lower the learning rate or check the training loss.",
        )
    return p


def _auc(y: np.ndarray, p: np.ndarray, multilabel: bool) -> float | None:
    """ROC-AUC, or None when no class has both positive and negative examples."""
    from sklearn.metrics import roc_auc_score

    if multilabel:
        columns = [c for c in range(p.shape[1]) if 0 < y[:, c].sum() < len(y)]
        scores = [roc_auc_score(y[:, c], p[:, c]) for c in columns]
    elif p.shape[1] == 2:
        scores = [roc_auc_score(y, p[:, 1])] if len(np.unique(y)) == 2 else []
    else:
        present = np.unique(y)
        # One-vs-rest per class present in y_true; with one class only there are no negatives.
        scores = [roc_auc_score(y == c, p[:, c]) for c in present] if len(present) > 1 else []
    return float(np.mean(scores)) if scores else None
