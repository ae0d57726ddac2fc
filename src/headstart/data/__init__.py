"""Load a classification task: read the splits, check them, hold out a dev set, describe the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.data.readers import read_split
from headstart.data.split import stratified_split
from headstart.data.stats import compute_stats
from headstart.data.types import DataStats, Split, TaskData
from headstart.data.validate import check_known_labels, check_min_per_class, check_train_labels, class_counts

__all__ = ["load_task", "read_split", "stratified_split", "Split", "TaskData", "DataStats"]

DataSource = str | Path | Any  # a file path, a pandas DataFrame or a datasets.Dataset


def load_task(
    train: DataSource,
    dev: DataSource | None = None,
    test: DataSource | None = None,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_sep: str | None = None,
    dev_fraction: float = 0.1,
    seed: int = 0,
    reader=read_split,
) -> TaskData:
    """Read and check a task's splits; without a dev split, hold out a stratified one from train.

    Args:
        train: the training data (path, DataFrame or datasets.Dataset).
        dev: the dev data; None holds out `dev_fraction` of train.
        test: the test data, if any.
        text_column: the column holding the texts, in every split.
        label_column: the column holding the labels, in every split.
        label_sep: splits a label cell into several labels (multi-label), e.g. "|".
        dev_fraction: the share of train held out when no dev split is given.
        seed: the seed for that split.
        reader: reads one split (`read_split`'s signature); a task with texts of another shape (sentence
            pairs) passes its own.

    Returns:
        TaskData with the sorted label names and the statistics of the data.

    Example:
        >>> task = load_task("train.csv", test="test.csv")  # doctest: +SKIP
        >>> task.labels, task.stats.warnings  # doctest: +SKIP
    """
    columns = {"text_column": text_column, "label_column": label_column, "label_sep": label_sep}
    train_split = reader(train, **columns)
    multilabel = any(isinstance(label, tuple) for label in train_split.labels)
    check_train_labels(train_split)
    check_min_per_class(train_split)
    labels = sorted(class_counts(train_split.labels))

    dev_split = test_split = None
    if dev is not None:
        dev_split = reader(dev, **columns, multilabel=multilabel)
        check_known_labels(dev_split, labels)
    if test is not None:
        test_split = reader(test, **columns, multilabel=multilabel)
        check_known_labels(test_split, labels)
    if dev_split is None:
        train_split, dev_split = stratified_split(train_split, fraction=dev_fraction, seed=seed)

    stats = compute_stats(train_split, dev_split, test_split, labels, multilabel)
    return TaskData(train_split, dev_split, test_split, labels, multilabel, stats, dev_from_train=dev is None)
