"""The classification objective: one label per text (or a multi-hot row)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from headstart.evaluation.metrics import classification_metrics
from headstart.training.objectives import Objective, loss_fn, predict_logits, probabilities

__all__ = ["Classification"]


@dataclass
class Classification(Objective):
    """One label per text (or a multi-hot row): cross-entropy (BCE for multi-label), optional class weights
    and label smoothing (training loss only: the dev loss stays the plain one, comparable across runs)."""

    metric: str = "macro_f1"
    multilabel: bool = False
    class_weights: torch.Tensor | None = None
    label_smoothing: float = 0.0
    has_probe = True

    def loss(self, logits, labels):
        weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        return loss_fn(logits, labels, weights, self.multilabel, self.label_smoothing)

    def evaluate(self, model, dev, *, pad_id, depth):
        logits = predict_logits(model, dev, pad_id=pad_id, depth=depth)
        labels = torch.as_tensor(dev.labels, dtype=torch.float32 if self.multilabel else torch.long)
        dev_loss = loss_fn(torch.as_tensor(logits), labels, self.class_weights, self.multilabel)
        proba = probabilities(logits, self.multilabel)
        m = classification_metrics(dev.labels, proba, list(range(proba.shape[1])), multilabel=self.multilabel)
        return {"dev_loss": float(dev_loss), "dev_accuracy": m["accuracy"], "dev_macro_f1": m["macro_f1"],
                "dev_auc": m["auc"], f"dev_{self.metric}": m[self.metric] if m[self.metric] is not None
                else m["macro_f1"]}

    def probe(self, features, labels):
        return np.asarray(features), np.asarray(labels)
