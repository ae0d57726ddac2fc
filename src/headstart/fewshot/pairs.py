"""Contrastive pairs for SetFit-style fine-tuning, sampled in time and memory linear in the data size.

SetFit builds every (i, j) combination first (`np.triu_indices(n)` and a list of pair dicts), then cycles
through them: n(n+1)/2 pairs, so 12 million for Banking77 with 64 examples per class, before one step is
taken. Here each example is an anchor of a fixed number of pairs per epoch, half with a random example of
its own class (label 1) and half with a random example of another class (label 0): n * k pairs, drawn with
a few vectorised numpy calls and never more than O(n * k) integers in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headstart.errors import ConfigError, DataError

__all__ = ["Pairs", "sample_pairs", "epoch_rng"]


@dataclass(frozen=True)
class Pairs:
    """Index pairs into the training rows: `left[p]`, `right[p]` and `target[p]` (1.0 same class, 0.0 not)."""

    left: np.ndarray  # (n_pairs,) int64
    right: np.ndarray  # (n_pairs,) int64
    target: np.ndarray  # (n_pairs,) float32

    def __len__(self) -> int:
        return len(self.left)


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The generator of one epoch's pairs and order: a pure function of (seed, epoch), so runs repeat."""
    return np.random.default_rng([seed, epoch])


def sample_pairs(labels: np.ndarray, pairs_per_example: int, rng: np.random.Generator) -> Pairs:
    """Draw `pairs_per_example` pairs per example: half positive, half negative, in a shuffled order.

    Rows are sorted by class once, so class c occupies a contiguous block [start_c, end_c) of `order`.
    A positive partner is a uniform draw from the block minus the anchor itself; a negative one is a uniform
    draw from everything outside the block (so larger classes are met more often as negatives, as in
    uniform sampling over all pairs).

    Args:
        labels: class index per training row, shape (n,).
        pairs_per_example: k, an even number >= 2: k / 2 positive and k / 2 negative pairs per anchor.
        rng: the random generator (see `epoch_rng`).

    Returns:
        Pairs with exactly n * k entries, n * k / 2 of each kind.

    Raises:
        ConfigError: k is odd or below 2.
        DataError: fewer than two classes, or a class with a single row (it has no positive partner).

    Example:
        >>> p = sample_pairs(np.array([0, 0, 1, 1]), 2, epoch_rng(0, 0))
        >>> len(p), int(p.target.sum())
        (8, 4)
    """
    _check(labels, pairs_per_example)
    labels = np.asarray(labels, dtype=np.int64)
    n, half = len(labels), pairs_per_example // 2
    order = np.argsort(labels, kind="stable")  # rows grouped by class
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)  # position of each row inside `order`
    sizes = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    anchors = np.repeat(np.arange(n, dtype=np.int64), half)  # (n * half,)
    cls = labels[anchors]
    size, start = sizes[cls], starts[cls]
    # positives: a slot among the class's other size - 1 rows, stepping over the anchor's own slot
    r = (rng.random(len(anchors)) * (size - 1)).astype(np.int64)
    pos = start + r
    pos += pos >= rank[anchors]
    # negatives: a slot among the n - size rows outside the class block, stepping over the block
    r = (rng.random(len(anchors)) * (n - size)).astype(np.int64)
    neg = r + np.where(r >= start, size, 0)

    left = np.concatenate([anchors, anchors])
    right = np.concatenate([order[pos], order[neg]])
    target = np.concatenate([np.ones(len(anchors), np.float32), np.zeros(len(anchors), np.float32)])
    shuffle = rng.permutation(len(left))
    return Pairs(left[shuffle], right[shuffle], target[shuffle])


def _check(labels: np.ndarray, k: int) -> None:
    if not isinstance(k, int | np.integer) or k < 2 or k % 2:
        raise ConfigError("pairs_per_example must be an even number of at least 2.",
                          expected="an even integer >= 2 (half positive, half negative pairs per example)",
                          found=repr(k), fix="use e.g. pairs_per_example=10")
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    present = counts[counts > 0]
    if len(present) < 2:
        raise DataError("contrastive pairs need at least two classes.", expected="two classes or more",
                        found=f"{len(present)} class(es)", fix="add examples of another class")
    if present.min() < 2 or len(present) != len(counts):
        raise DataError("every class needs two rows to form a positive pair.",
                        expected="at least 2 rows per class (and class indices 0..C-1 without gaps)",
                        found=f"class sizes {counts.tolist()}", fix="add a second example of each class")
