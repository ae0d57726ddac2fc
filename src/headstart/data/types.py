"""The data headstart trains on: a labelled split, a task's splits, and their statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Split", "DataStats", "TaskData"]


@dataclass
class Split:
    """Texts and their labels. A label is a class name (str) or, for multi-label data, a tuple of names.

    `source` names where the rows came from (a path or "DataFrame"), for error messages. `lines[i]`, when
    known, is the 1-based physical line of row i in that file, so later checks can point at it.
    """

    texts: list[str]
    labels: list
    source: str = "<memory>"
    lines: list[int] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def encode(self, labels: list[str], multilabel: bool) -> np.ndarray:
        """Class indices (n,) in `labels` order, or a multi-hot (n, len(labels)) matrix for multi-label."""
        index = {name: i for i, name in enumerate(labels)}
        if multilabel:
            y = np.zeros((len(self), len(labels)), dtype=np.float32)
            for row, names in enumerate(self.labels):
                y[row, [index[name] for name in names]] = 1.0
            return y
        return np.array([index[name] for name in self.labels], dtype=np.int64)


@dataclass
class DataStats:
    """What the report and the recommender need to know about a task's data."""

    n_train: int
    n_dev: int
    n_test: int
    n_classes: int
    multilabel: bool
    class_counts: dict[str, int]
    imbalance_ratio: float  # largest class count / smallest class count (train)
    length_words: dict[str, float]  # mean, median, p95, max over train texts, whitespace words
    labels_per_row: float = 1.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TaskData:
    """A classification task ready to train: splits, the ordered label set, statistics."""

    train: Split
    dev: Split
    test: Split | None
    labels: list[str]
    multilabel: bool
    stats: DataStats
    dev_from_train: bool = True
    labelled_by: str | None = None  # None: the data's own labels; else the teacher that labelled every row
