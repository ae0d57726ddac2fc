"""Checks on the labels of whole splits: enough classes, enough examples per class, no labels unseen in train.

Each raises a DataError that names the file and, where the split knows its lines, the line to look at.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from headstart.data.types import Split
from headstart.errors import DataError

__all__ = ["class_counts", "check_train_labels", "check_min_per_class", "check_known_labels"]

_SHOWN = 10  # classes listed in a message before "... and N more"


def class_counts(labels: Iterable) -> Counter[str]:
    """Rows per class, in order of first occurrence; a multi-label row counts once for each of its labels."""
    counts: Counter[str] = Counter()
    for label in labels:
        counts.update(label if isinstance(label, tuple) else (label,))
    return counts


def check_train_labels(split: Split) -> None:
    """Raise DataError unless the training split has at least two classes.

    Args:
        split: the training split.
    """
    counts = class_counts(split.labels)
    if len(counts) >= 2:
        return
    found = "no labels at all"
    if counts:
        ((name, n),) = counts.items()
        found = f"only {name!r} ({n} rows)"
    raise DataError(
        "the training data has fewer than two classes",
        expected="at least two classes for a classifier to tell apart",
        found=found,
        fix="add examples of the other classes (zero-shot classification, which needs no examples, is planned)",
        file=split.source,
    )


def check_min_per_class(split: Split, minimum: int = 2) -> None:
    """Raise DataError if some class has fewer than `minimum` examples, listing those classes.

    Args:
        split: the training split.
        minimum: the fewest examples a class may have (2: one can go to the dev set, one stays in train).
    """
    small = {name: n for name, n in class_counts(split.labels).items() if n < minimum}
    if not small:
        return
    where = _first_rows(split, small)
    listed = [f"{name!r} ({n}, {_place(split, where[name])})" for name, n in small.items()]
    raise DataError(
        f"{len(small)} class(es) have fewer than {minimum} examples",
        expected=f"at least {minimum} examples of every class",
        found=_clip(listed),
        fix="add examples of these classes, or remove their rows",
        file=split.source,
        line=_line(split, min(where.values())),
    )


def check_known_labels(split: Split, known_labels: Iterable[str]) -> None:
    """Raise DataError if a dev or test split has labels the training data never shows.

    Args:
        split: the dev or test split.
        known_labels: the training labels.
    """
    known = set(known_labels)
    unseen = [name for name in class_counts(split.labels) if name not in known]
    if not unseen:
        return
    where = _first_rows(split, unseen)
    listed = [f"{name!r} (first at {_place(split, where[name])})" for name in unseen]
    raise DataError(
        f"{len(unseen)} label(s) here never occur in the training data",
        expected=f"only training labels: {_clip([repr(k) for k in sorted(known)])}",
        found=_clip(listed),
        fix="fix the spelling of these labels, add training examples of them, or remove those rows",
        file=split.source,
        line=_line(split, min(where.values())),
    )


def _first_rows(split: Split, names: Iterable[str]) -> dict[str, int]:
    """The first row index at which each of `names` occurs."""
    wanted, first = set(names), {}
    for i, label in enumerate(split.labels):
        for name in label if isinstance(label, tuple) else (label,):
            if name in wanted and name not in first:
                first[name] = i
    return first


def _line(split: Split, row: int) -> int | None:
    return split.lines[row] if split.lines is not None else None


def _place(split: Split, row: int) -> str:
    return f"line {split.lines[row]}" if split.lines is not None else f"row {row}"


def _clip(items: list[str]) -> str:
    more = f" ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more
