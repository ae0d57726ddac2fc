"""The tagging objective (NER): one label per token, scored by entity-level F1 after the windows merge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from headstart.training.objectives import Objective, dev_row, predict_logits

__all__ = ["TokenTagging", "MAX_PROBE_TOKENS"]

MAX_PROBE_TOKENS = 60_000  # tokens the per-token linear probe is fit on (a seeded sample when there are more)


@dataclass
class TokenTagging(Objective):
    """One label per token (NER): cross-entropy over labelled positions (-100 elsewhere).

    `score` turns the dev windows' logits into the task's metrics (entity-level F1 after merging
    windows back into words): {"f1": ..., ...}."""

    score: Callable[[list[np.ndarray]], dict]
    metric: str = "f1"
    class_weights: torch.Tensor | None = None
    label_smoothing: float = 0.0
    seed: int = 0
    token_labels = True
    has_probe = True

    def loss(self, logits, labels):
        weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), weight=weights, ignore_index=-100,
                               label_smoothing=self.label_smoothing)

    def evaluate(self, model, dev, *, pad_id, depth):
        logits = predict_logits(model, dev, pad_id=pad_id, depth=depth)
        flat = torch.as_tensor(np.concatenate(logits))
        labels = torch.as_tensor(np.concatenate([np.asarray(y) for y in dev.labels]))
        dev_loss = F.cross_entropy(flat, labels, ignore_index=-100)
        return dev_row(float(dev_loss), self.score(logits))

    def probe(self, features, labels):
        """Every labelled token's final features; a seeded sample of MAX_PROBE_TOKENS when there are more."""
        X = np.concatenate([f.numpy()[np.asarray(y) != -100] for f, y in zip(features, labels, strict=True)])
        y = np.concatenate([np.asarray(y)[np.asarray(y) != -100] for y in labels])
        if len(y) > MAX_PROBE_TOKENS:
            keep = np.random.default_rng(self.seed).choice(len(y), MAX_PROBE_TOKENS, replace=False)
            X, y = X[keep], y[keep]
        return X, y
