"""Hold out a stratified dev set from the training data, deterministically for a given seed."""

from __future__ import annotations

from collections import Counter

from headstart.data.types import Split
from headstart.errors import ConfigError, DataError

__all__ = ["stratified_split", "random_holdout"]


def random_holdout(n: int, fraction: float, seed: int, *, what: str, source: str) -> tuple[list[int], list[int]]:
    """(kept rows, held-out rows), sorted: a random `fraction` of `n` examples (at least one) held out for
    early stopping, for data without class labels to stratify on (sentences, instructions).

    Raises:
        DataError: fewer than two examples.
    """
    if n < 2:
        raise DataError(f"too few {what} to hold out a dev set.", expected=f"at least 2 {what}",
                        found=f"{n} in {source}", fix=f"add {what} or pass a dev file")
    import numpy as np

    order = np.random.default_rng(seed).permutation(n)
    n_dev = max(1, round(fraction * n))
    return sorted(order[n_dev:].tolist()), sorted(order[:n_dev].tolist())


def stratified_split(split: Split, fraction: float = 0.1, seed: int = 0) -> tuple[Split, Split]:
    """Split off a dev set that keeps the class proportions, with at least one row per class where possible.

    Multi-label rows are stratified on their first label when every such key has two rows or more, and
    split at random otherwise. Rows keep their file order and their line numbers.

    Args:
        split: the labelled training data.
        fraction: the share of rows to hold out, between 0 and 1.
        seed: the random seed; the same seed gives the same split.

    Returns:
        (train, dev).

    Example:
        >>> train, dev = stratified_split(split, fraction=0.2, seed=0)  # doctest: +SKIP
    """
    if not 0 < fraction < 1:
        raise ConfigError(
            "the dev fraction is out of range",
            expected="a number strictly between 0 and 1, e.g. 0.1",
            found=repr(fraction),
            fix="pass dev_fraction=0.1, or give a dev file",
        )
    n = len(split)
    if n < 2:
        raise DataError(
            "too few rows to hold out a dev set",
            expected="at least 2 rows",
            found=f"{n} row(s)",
            fix="add rows, or give a dev file",
            file=split.source,
        )
    # The first label stands for a multi-label row; an empty row (no class) gets its own key.
    keys = [(label[0] if label else "") if isinstance(label, tuple) else label for label in split.labels]
    counts = Counter(keys)
    n_dev = min(max(1, round(fraction * n)), n - 1)
    stratify = None
    # sklearn needs two rows per class and room for every class on both sides.
    if min(counts.values()) >= 2 and n - len(counts) >= len(counts):
        n_dev = min(max(n_dev, len(counts)), n - len(counts))
        stratify = keys
    from sklearn.model_selection import (
        train_test_split,  # imported where used: the CLI's help stays free of sklearn
    )

    train_idx, dev_idx = train_test_split(
        list(range(n)), test_size=n_dev, random_state=seed, stratify=stratify
    )
    _cover(keys, counts, dev_idx, train_idx)  # every class in train first, then in dev where possible
    _cover(keys, counts, train_idx, dev_idx)
    return _subset(split, sorted(train_idx)), _subset(split, sorted(dev_idx))


def _cover(keys: list, counts: Counter, source: list[int], target: list[int]) -> None:
    """Move one row of each class `target` lacks out of `source`, when that class has two rows or more.

    With two or more rows in all, a class still keeps a row in `source` after the move.
    """
    have = {keys[i] for i in target}
    for i in list(source):
        if keys[i] not in have and counts[keys[i]] >= 2:
            source.remove(i)
            target.append(i)
            have.add(keys[i])


def _subset(split: Split, rows: list[int]) -> Split:
    lines = [split.lines[i] for i in rows] if split.lines is not None else None
    return Split([split.texts[i] for i in rows], [split.labels[i] for i in rows], split.source, lines)
