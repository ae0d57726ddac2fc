"""Baselines every report shows beside the model: the majority class and TF-IDF + logistic regression.

A fine-tuned transformer that does not beat TF-IDF + LR on a task is not worth its cost; these two numbers
make that visible.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np

from headstart.errors import DataError
from headstart.evaluation.metrics import check_targets, classification_metrics

__all__ = ["majority_baseline", "tfidf_baseline"]


def majority_baseline(
    train_y: Sequence | np.ndarray,
    test_y: Sequence | np.ndarray,
    n_classes: int,
    multilabel: bool = False,
    *,
    labels: Sequence[str] | None = None,
) -> dict:
    """Predict the training class prior for every test row.

    Single-label: the arg-max is the most frequent training class (ties go to the lower index); the AUC of
    a constant score is 0.5. Multi-label: each label is predicted when it is on in at least half of the
    training rows.

    Args:
        train_y: training targets: class indices (n,) or a 0/1 matrix (n, C) for multi-label.
        test_y: test targets, in the same form.
        n_classes: number of labels C.
        multilabel: whether targets are 0/1 matrices.
        labels: label names for "per_class"; defaults to "0", "1", ...

    Returns:
        The dict of `classification_metrics` plus "train_seconds".

    Example:
        >>> majority_baseline([0, 0, 1], [0, 1], n_classes=2)["accuracy"]
        0.5
    """
    names = _label_names(labels, n_classes)
    start = time.perf_counter()
    train = check_targets(train_y, n_classes, multilabel)
    test = check_targets(test_y, n_classes, multilabel)
    _require_rows(len(train), "train_y")
    _require_rows(len(test), "test_y")
    prior = train.mean(axis=0) if multilabel else np.bincount(train, minlength=n_classes) / len(train)
    seconds = time.perf_counter() - start

    proba = np.tile(prior, (len(test), 1))  # (n_test, C), one identical row per test example
    result = classification_metrics(test, proba, names, multilabel=multilabel)
    result["train_seconds"] = round(seconds, 4)
    return result


def tfidf_baseline(
    train_texts: Sequence[str],
    train_y: Sequence | np.ndarray,
    test_texts: Sequence[str],
    test_y: Sequence | np.ndarray,
    labels: Sequence[str],
    multilabel: bool = False,
    seed: int = 0,
) -> dict:
    """TF-IDF word 1-2 grams + logistic regression (one-vs-rest for multi-label). Deterministic.

    Args:
        train_texts: training texts.
        train_y: training targets: class indices (n,) or a 0/1 matrix (n, C) for multi-label.
        test_texts: test texts.
        test_y: test targets, in the same form.
        labels: the C label names, in index order.
        multilabel: whether targets are 0/1 matrices.
        seed: random state handed to the classifier.

    Returns:
        The dict of `classification_metrics` plus "train_seconds" (vectorising and fitting).

    Example:
        >>> texts = ["good film", "great film", "bad film", "awful film"]
        >>> tfidf_baseline(texts, [1, 1, 0, 0], texts, [1, 1, 0, 0], ["neg", "pos"])["accuracy"]
        1.0
    """
    names = [str(label) for label in labels]
    n_classes = len(names)
    train = check_targets(train_y, n_classes, multilabel)
    test = check_targets(test_y, n_classes, multilabel)
    _check_texts(train_texts, train, "train")
    _check_texts(test_texts, test, "test")

    start = time.perf_counter()
    from sklearn.feature_extraction.text import (
        TfidfVectorizer,  # imported where used: the CLI's help stays free of sklearn
    )

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    try:
        x_train = vectorizer.fit_transform(list(train_texts))
    except ValueError as exc:  # "empty vocabulary": no token of two or more word characters
        raise DataError(
            "TF-IDF found no words in the training texts.",
            expected="texts containing words of at least two letters or digits",
            found=f"{len(train_texts)} texts such as {str(train_texts[0])[:60]!r}",
            fix="check that the text column was read correctly (not the label or an id column).",
        ) from exc
    model = _fit(x_train, train, n_classes, multilabel, seed)
    seconds = time.perf_counter() - start

    proba = _predict_proba(model, vectorizer.transform(list(test_texts)), n_classes, multilabel)
    result = classification_metrics(test, proba, names, multilabel=multilabel)
    result["train_seconds"] = round(seconds, 4)
    return result


def _fit(x, y: np.ndarray, n_classes: int, multilabel: bool, seed: int) -> object:
    """The fitted classifier, or the index of the only training class when there is just one."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    classifier = LogisticRegression(max_iter=2000, C=10, random_state=seed)
    if multilabel:
        with warnings.catch_warnings():
            # A label that is always on (or off) in training gets a constant predictor; that is fine here.
            warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
            return OneVsRestClassifier(classifier).fit(x, y)
    present = np.unique(y)
    if len(present) < 2:
        # Logistic regression needs two classes; a single-class training set predicts that class.
        return int(present[0])
    return classifier.fit(x, y)


def _predict_proba(model: object, x, n_classes: int, multilabel: bool) -> np.ndarray:
    n = x.shape[0]
    if isinstance(model, int):
        proba = np.zeros((n, n_classes))
        proba[:, model] = 1.0
        return proba
    if multilabel:
        return np.asarray(model.predict_proba(x), dtype=float)  # (n, C)
    # Classes missing from the training split have no column; give them probability 0.
    proba = np.zeros((n, n_classes))
    proba[:, model.classes_] = model.predict_proba(x)
    return proba


def _label_names(labels: Sequence[str] | None, n_classes: int) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n_classes)]
    names = [str(label) for label in labels]
    if len(names) != n_classes:
        raise DataError(
            "The number of label names does not match n_classes.",
            expected=f"{n_classes} names",
            found=f"{len(names)} names",
            fix="pass the task's ordered label set, e.g. TaskData.labels.",
        )
    return names


def _require_rows(n: int, name: str) -> None:
    if n == 0:
        raise DataError(
            f"`{name}` is empty.",
            expected="at least one example",
            found="0 rows",
            fix="check the split sizes; a baseline needs training and test rows.",
        )


def _check_texts(texts: Sequence[str], y: np.ndarray, split: str) -> None:
    _require_rows(len(texts), f"{split}_texts")
    if len(texts) != len(y):
        raise DataError(
            f"The {split} texts and targets have different lengths.",
            expected=f"one target per text ({len(texts)})",
            found=f"{len(y)} targets",
            fix=f"pass {split}_texts and {split}_y from the same split.",
        )
