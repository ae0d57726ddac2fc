"""Statistics of a task's data, and the warnings a user should read before training."""

from __future__ import annotations

import numpy as np

from headstart.data.types import DataStats, Split
from headstart.data.validate import class_counts

__all__ = ["compute_stats"]

IMBALANCE_WARN = 5.0  # largest / smallest class count above which the report warns
SHORT_MEDIAN_WORDS = 3  # median text length at or below which texts count as very short
LONG_P95_WORDS = 200  # ~260 tokens: past the max_length most fine-tuning recipes use
FEW_ROWS = 50
FEW_PER_CLASS = 10
WORDS_TO_TOKENS = 1.3  # sub-word tokenizers give about 1.3 tokens per English word


def compute_stats(
    train: Split, dev: Split, test: Split | None, labels: list[str], multilabel: bool
) -> DataStats:
    """Count classes, measure text lengths and collect warnings.

    Args:
        train: the training split.
        dev: the dev split.
        test: the test split, if any.
        labels: the ordered label set.
        multilabel: whether labels are tuples of class names.

    Returns:
        DataStats over the training split (lengths, counts) with the sizes of all splits.
    """
    counted = class_counts(train.labels)
    counts = {name: counted.get(name, 0) for name in labels}
    present = [n for n in counts.values() if n > 0]
    imbalance = max(present) / min(present) if present else 1.0
    words = np.array([len(t.split()) for t in train.texts] or [0])
    length = {
        "mean": float(words.mean()),
        "median": float(np.median(words)),
        "p95": float(np.percentile(words, 95)),
        "max": float(words.max()),
    }
    per_row = float(np.mean([len(x) for x in train.labels])) if multilabel and len(train) else 1.0
    stats = DataStats(
        n_train=len(train),
        n_dev=len(dev),
        n_test=len(test) if test is not None else 0,
        n_classes=len(labels),
        multilabel=multilabel,
        class_counts=counts,
        imbalance_ratio=float(imbalance),
        length_words=length,
        labels_per_row=per_row,
    )
    stats.warnings = _warnings(stats) + _leaks(train, {"dev": dev, "test": test})
    return stats


def _warnings(stats: DataStats) -> list[str]:
    out = []
    counts = {k: v for k, v in stats.class_counts.items() if v > 0}
    if stats.imbalance_ratio > IMBALANCE_WARN:
        big, small = max(counts, key=counts.__getitem__), min(counts, key=counts.__getitem__)
        out.append(
            f"imbalanced: largest/smallest class = {stats.imbalance_ratio:.1f} ({big!r}: {counts[big]}, "
            f"{small!r}: {counts[small]}); read macro-F1 rather than accuracy, consider class weights"
        )
    rare = [name for name, n in counts.items() if n < FEW_PER_CLASS]
    if rare:
        shown = ", ".join(map(repr, rare[:10])) + (" ..." if len(rare) > 10 else "")
        out.append(
            f"few examples: {len(rare)} class(es) have fewer than {FEW_PER_CLASS} training rows ({shown})"
        )
    if stats.n_train < FEW_ROWS:
        out.append(f"small training set: {stats.n_train} rows; scores will vary from seed to seed")
    if stats.length_words["median"] <= SHORT_MEDIAN_WORDS:
        out.append(f"very short texts: median {stats.length_words['median']:.0f} words")
    p95 = stats.length_words["p95"]
    if p95 > LONG_P95_WORDS:
        tokens = p95 * WORDS_TO_TOKENS
        suggest = min(512, 1 << int(np.ceil(np.log2(tokens))))
        out.append(
            f"long texts: p95 {p95:.0f} words (~{tokens:.0f} tokens), consider max_length={suggest}; "
            "longer texts are truncated"
        )
    return out


def _leaks(train: Split, others: dict[str, Split | None]) -> list[str]:
    """Texts that also occur in train inflate dev and test scores."""
    seen = {t.strip() for t in train.texts}
    out = []
    for name, split in others.items():
        if split is None or not len(split):
            continue
        shared = sum(t.strip() in seen for t in split.texts)
        if shared:
            out.append(
                f"overlap: {shared} of {len(split)} {name} texts also occur in train; their scores are inflated"
            )
    return out
