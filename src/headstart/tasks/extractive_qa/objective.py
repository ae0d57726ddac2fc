"""The extractive-QA objective: a start and an end logit per token, scored by SQuAD F1 after decoding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from headstart.training.objectives import Objective, dev_row, predict_logits

__all__ = ["SpanExtraction"]


@dataclass
class SpanExtraction(Objective):
    """Extractive QA: the head gives a start and an end logit per token; the loss is the mean of the two
    cross-entropies over positions (labels: (start, end) per window, 0 = the [CLS] position when the answer
    is not in the window). `score` decodes the dev windows' logits into answers: {"em", "f1"}."""

    score: Callable[[list[np.ndarray]], dict]
    metric: str = "f1"
    label_smoothing: float = 0.0

    def loss(self, logits, labels):
        ce = partial(F.cross_entropy, label_smoothing=self.label_smoothing)
        return (ce(logits[..., 0], labels[:, 0]) + ce(logits[..., 1], labels[:, 1])) / 2

    def evaluate(self, model, dev, *, pad_id, depth):
        logits = predict_logits(model, dev, pad_id=pad_id, depth=depth)
        losses = [(F.cross_entropy(torch.as_tensor(x[:, 0])[None], torch.tensor([y[0]]))
                   + F.cross_entropy(torch.as_tensor(x[:, 1])[None], torch.tensor([y[1]]))) / 2
                  for x, y in zip(logits, dev.labels, strict=True)]
        return dev_row(float(np.mean([float(v) for v in losses])), self.score(logits))
