"""`ZeroShotClassifier`: classes from their names (or descriptions), no training, scikit-learn shaped."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headstart.errors import ConfigError, DataError
from headstart.zeroshot.base import SCORERS, ScorerSpec

__all__ = ["ZeroShotClassifier"]


class ZeroShotClassifier:
    """Classify texts into `labels` with a pretrained model and no training.

    Methods are the entries of `headstart.zeroshot.SCORERS`: "embedding" (cosine similarity of sentence
    embeddings, calibrated; default backbone "minilm") and "lm" (each label's likelihood as the answer of
    an instruct decoder, optionally with k in-context examples per class; default "smollm2").

    Args:
        labels: the class names; `predict_proba`'s columns follow this order.
        method: a key of `SCORERS`.
        backbone: registered name, local folder or hub id; None: the method's default.
        descriptions: label -> what it means (optional, any subset of the labels).
        template: embedding: the label sentence with "{}" (e.g. "This text is about {}."); lm: the
            instruction with "{labels}" for the options.
        examples: labelled (text, label) pairs, or {label: [texts]}, for in-context few-shot (lm).
        k: in-context examples per class (0: zero-shot).
        seed: which examples are drawn, and in which order.
        calibrate: None: calibrate on the unlabelled texts given to `fit`, when there are some (both
            methods); False: off; True with lm: content-free inputs when `fit` saw no texts.
        batch_size: texts per forward pass (embedding).

    Example:
        >>> clf = ZeroShotClassifier(["positive", "negative"])  # doctest: +SKIP
        >>> clf.predict(["What a wonderful film!"])  # doctest: +SKIP
        array(['positive'], dtype='<U8')
    """

    def __init__(self, labels: Sequence[str], method: str = "embedding", backbone: str | None = None,
                 descriptions: dict[str, str] | None = None, template: str | None = None,
                 examples: Sequence[tuple[str, str]] | dict | None = None, k: int = 0, seed: int = 0,
                 calibrate: bool | None = None, batch_size: int = 32) -> None:
        self.labels = labels
        self.method = method
        self.backbone = backbone
        self.descriptions = descriptions
        self.template = template
        self.examples = examples
        self.k = k
        self.seed = seed
        self.calibrate = calibrate
        self.batch_size = batch_size

    def fit(self, X: Sequence[str] | None = None, y: Sequence[str] | None = None) -> ZeroShotClassifier:
        """Load the model. Nothing is trained.

        Args:
            X: unlabelled texts of the task (optional): the embedding method centres each label's
                similarities on them (see `zeroshot.embedding`); with `y`, they are the in-context example
                pool instead of `examples`.
            y: labels of X, only for in-context few-shot (`k` > 0).

        Returns:
            self.
        """
        if self.method not in SCORERS:
            raise ConfigError(f"unknown zero-shot method {self.method!r}.", expected=", ".join(sorted(SCORERS)),
                              found=repr(self.method), fix="choose one of the methods listed")
        examples = self.examples or []
        if y is not None:
            if X is None or len(X) != len(y):
                raise DataError("X and y have different lengths.", expected="one label per text",
                                found=f"{0 if X is None else len(X)} texts, {len(y)} labels",
                                fix="pass the labels of X, in order")
            examples = list(zip(map(str, X), map(str, y), strict=True))
        spec = ScorerSpec(labels=list(self.labels), backbone=self.backbone, descriptions=dict(self.descriptions or {}),
                          template=self.template, examples=examples, k=self.k, seed=self.seed,
                          calibrate=self.calibrate, batch_size=self.batch_size)
        self.classes_ = np.array(spec.labels)
        self.scorer_ = SCORERS[self.method](spec).fit(None if y is not None else X)
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (n, n_labels), rows summing to 1, columns in `classes_` order."""
        if not hasattr(self, "scorer_"):
            self.fit()
        texts = _texts(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self.scorer_.predict_proba(texts)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        proba = self.predict_proba(X)  # fits on first use, which sets classes_
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X: Sequence[str], y: Sequence[str]) -> float:
        """Accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray([str(v) for v in y])))

    def describe(self) -> dict:
        """What was used: method, backbone, prompt or template, calibration."""
        return self.scorer_.describe()


def _texts(X) -> list[str]:
    if isinstance(X, str):
        raise DataError("X is one string, not a list of texts.", expected="a list of texts", found=repr(X[:60]),
                        fix='wrap it in a list: predict(["..."])')
    return [str(t) for t in X]
