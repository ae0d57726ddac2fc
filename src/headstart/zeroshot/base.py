"""What every zero-shot scorer shares: its typed spec, the scorer registry, and label names as words.

A scorer turns texts into class probabilities without training. Each method ("embedding", "lm", later
"api") is one class registered in `SCORERS`; `ZeroShotClassifier` and the CLI read only this table, so a
new method is one module plus one `register_scorer` call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from headstart.errors import ConfigError, DataError

__all__ = ["ScorerSpec", "Scorer", "SCORERS", "register_scorer", "label_words", "softmax", "check_examples"]


@dataclass
class ScorerSpec:
    """What the user asked for, common to every method (each scorer reads the fields it uses).

    Args:
        labels: the class names, in the order of `predict_proba`'s columns.
        backbone: registered name, local folder or hub id; None: the method's default.
        descriptions: label -> a sentence saying what the label means; labels left out use their name.
        template: embedding: the label-side sentence with "{}" for the description; lm: the instruction,
            where "{labels}" stands for the list of options. None: the method's default.
        examples: (text, label) pairs for in-context few-shot (lm only).
        k: examples per class put in the prompt (None or 0: zero-shot).
        seed: which examples are drawn, and their order.
        calibrate: None: the method's default; True / False to force it.
        batch_size: texts per forward pass.
    """

    labels: list[str]
    backbone: str | None = None
    descriptions: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    examples: list[tuple[str, str]] = field(default_factory=list)
    k: int | None = None
    seed: int = 0
    calibrate: bool | None = None
    batch_size: int = 32

    def __post_init__(self) -> None:
        self.labels = [str(label) for label in self.labels]
        if len(self.labels) < 2:
            raise ConfigError("zero-shot classification needs at least two labels.", expected=">= 2 labels",
                              found=repr(self.labels), fix='give the classes, e.g. labels=["positive", "negative"]')
        dupes = sorted({label for label in self.labels if self.labels.count(label) > 1})
        if dupes:
            raise ConfigError("a label is listed twice.", expected="distinct labels", found=", ".join(dupes),
                              fix="remove the repeated names")
        unknown = sorted(set(self.descriptions) - set(self.labels))
        if unknown:
            raise ConfigError("a description names a label that is not among the labels.",
                              expected="descriptions keyed by the labels: " + ", ".join(self.labels[:10]),
                              found=", ".join(map(repr, unknown)), fix="fix the spelling, or add the label")
        if self.k is not None and self.k < 0:
            raise ConfigError("k must be >= 0.", expected="examples per class, >= 0", found=str(self.k),
                              fix="use k=0 (zero-shot) or a positive number")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be >= 1.", expected=">= 1", found=str(self.batch_size),
                              fix="use the default, 32")
        self.examples = check_examples(self.examples, self.labels)

    def text_of(self, label: str) -> str:
        """The words that stand for `label`: its description when given, else its name as words."""
        return self.descriptions.get(label) or label_words(label)


class Scorer(Protocol):
    """A zero-shot method: built from a spec, gives (n, C) probabilities whose rows sum to 1."""

    name: str

    def __init__(self, spec: ScorerSpec) -> None: ...

    def fit(self, texts: Sequence[str] | None = None) -> Scorer:
        """Load the model; unlabelled `texts` may be used for calibration (no labels are read)."""
        ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def describe(self) -> dict: ...


SCORERS: dict[str, type] = {}


def register_scorer(name: str, cls: type) -> type:
    """Make `ZeroShotClassifier(method=name)` and `headstart zero-shot --method name` use `cls`."""
    SCORERS[name] = cls
    return cls


def label_words(label: str) -> str:
    """A label name as words: "card_arrival" -> "card arrival", "getSpareCard" -> "get spare card".

    Example:
        >>> label_words("Refund_not_showing_up")
        'Refund not showing up'
    """
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(label))  # camelCase -> camel Case
    text = re.sub(r"[_\-./]+", " ", text)
    words = text.split()
    # keep acronyms (ATM, PIN) and a leading capital; lower the camelCase joins
    return " ".join(w if w.isupper() or i == 0 else w.lower() for i, w in enumerate(words))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def check_examples(examples, labels: Sequence[str]) -> list[tuple[str, str]]:
    """(text, label) pairs, or a dict label -> [texts]; every label must be one of `labels`."""
    if isinstance(examples, dict):
        examples = [(text, label) for label, texts in examples.items() for text in texts]
    pairs = []
    known = set(labels)
    for i, item in enumerate(examples or []):
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise DataError(f"few-shot example {i} is not a (text, label) pair.", expected="(text, label)",
                            found=repr(item)[:80], fix="pass examples=[(text, label), ...] or {label: [texts]}")
        text, label = str(item[0]), str(item[1])
        if label not in known:
            raise DataError(f"few-shot example {i} has a label that is not among the labels.",
                            expected=", ".join(list(labels)[:10]), found=repr(label),
                            fix="fix the label, or add it to the labels")
        pairs.append((text, label))
    return pairs
