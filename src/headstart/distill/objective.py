"""The distillation objective: the student follows the teacher's (temperature-softened) distribution, mixed
with the gold label where a row has one (Hinton et al. 2015, "Distilling the knowledge in a neural network").

A training row's label is one float row: `[gold, q_1 .. q_k]` for single-label data (gold: the class index,
or -1 for an unlabelled row; q: the teacher's softened probabilities), `[has_gold, y_1 .. y_k, q_1 .. q_k]`
for multi-label (y: the multi-hot gold). The loss of a row is

    labelled:    (1 - w) * CE(student, gold) + w * CE(student, q)
    unlabelled:  CE(student, q)

(cross-entropy against q is KL(q || student) plus a constant; BCE per label for multi-label). Dev rows carry
the same form, and are scored on their gold labels as the plain classifier's are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from headstart.tasks.classification.objective import Classification

__all__ = ["Distillation", "soft_rows", "soften", "choose_temperature", "gold_of", "TEMPERATURES"]

TEMPERATURES = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
_FLOOR = 1e-4  # a hard (one-hot) teacher's zeros, lifted so that softening has something to soften


def soften(proba: np.ndarray, temperature: float, multilabel: bool) -> np.ndarray:
    """p^(1/T) renormalised (softmax of log p / T); multi-label: each label's sigmoid logit / T."""
    p = np.clip(np.asarray(proba, dtype=np.float64), _FLOOR, 1 - _FLOOR if multilabel else 1.0)
    if multilabel:
        logit = np.log(p) - np.log1p(-p)
        return (1 / (1 + np.exp(-logit / temperature))).astype(np.float32)
    z = np.log(p) / temperature
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def choose_temperature(proba: np.ndarray, gold: np.ndarray, multilabel: bool) -> float:
    """The T of TEMPERATURES at which the softened teacher has the lowest log-loss on gold rows
    (temperature scaling, Guo et al. 2017; never sharper than the teacher itself, T >= 1)."""
    if not len(gold):
        return 2.0  # no gold to calibrate on: Hinton's usual softening
    losses = []
    for t in TEMPERATURES:
        q = np.clip(soften(proba, t, multilabel), 1e-7, 1 - 1e-7)
        if multilabel:
            nll = -(gold * np.log(q) + (1 - gold) * np.log(1 - q)).mean()
        else:
            nll = -np.log(q[np.arange(len(gold)), gold]).mean()
        losses.append(nll)
    return float(TEMPERATURES[int(np.argmin(losses))])


def soft_rows(gold: np.ndarray | None, soft: np.ndarray, multilabel: bool) -> np.ndarray:
    """The label rows described above; `gold` None: every row unlabelled."""
    n, k = soft.shape
    if multilabel:
        flag = np.zeros((n, 1), np.float32) if gold is None else np.ones((n, 1), np.float32)
        hot = np.zeros((n, k), np.float32) if gold is None else np.asarray(gold, np.float32)
        return np.concatenate([flag, hot, soft], axis=1)
    index = np.full((n, 1), -1.0, np.float32) if gold is None else np.asarray(gold, np.float32).reshape(n, 1)
    return np.concatenate([index, soft], axis=1).astype(np.float32)


def gold_of(rows: np.ndarray, multilabel: bool, k: int):
    """(labelled mask, gold) of label rows: class indices, or multi-hot rows."""
    rows = np.asarray(rows)
    if multilabel:
        return rows[:, 0] > 0.5, rows[:, 1 : 1 + k]
    return rows[:, 0] >= 0, rows[:, 0].astype(np.int64)


@dataclass
class Distillation(Classification):
    """Classification that learns from teacher rows (see the module's docstring). `weight`: w above."""

    weight: float = 0.5
    n_labels: int = 2

    def loss(self, logits, labels):
        k = self.n_labels
        soft = labels[:, -k:]
        weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        if self.multilabel:
            labelled, gold = labels[:, 0] > 0.5, labels[:, 1 : 1 + k]
            follow = F.binary_cross_entropy_with_logits(logits, soft, reduction="none").mean(1)
            truth = F.binary_cross_entropy_with_logits(logits, gold, pos_weight=weights, reduction="none").mean(1)
        else:
            labelled = labels[:, 0] >= 0
            gold = labels[:, 0].clamp(min=0).long()
            follow = -(soft * F.log_softmax(logits, -1)).sum(-1)
            truth = F.cross_entropy(logits, gold, weight=weights, reduction="none",
                                    label_smoothing=self.label_smoothing)
        mixed = torch.where(labelled, (1 - self.weight) * truth + self.weight * follow, follow)
        return mixed.mean()

    def evaluate(self, model, dev, *, pad_id, depth):
        from headstart.training import Examples

        _, gold = gold_of(dev.labels, self.multilabel, self.n_labels)
        plain = Examples(dev.inputs, gold, dev.segments)
        return super().evaluate(model, plain, pad_id=pad_id, depth=depth)

    def probe(self, features, labels):
        """The warm start's targets: the class the row's training target puts most weight on (the mix of
        gold and teacher above), so the probe starts where the loss points."""
        labelled, gold = gold_of(labels, self.multilabel, self.n_labels)
        soft = np.asarray(labels)[:, -self.n_labels:]
        if self.multilabel:
            target = np.where(labelled[:, None], (1 - self.weight) * gold + self.weight * soft, soft)
            return np.asarray(features), (target >= 0.5).astype(np.float32)
        hot = np.eye(self.n_labels, dtype=np.float32)[np.where(labelled, gold, 0)]
        target = np.where(labelled[:, None], (1 - self.weight) * hot + self.weight * soft, soft)
        return np.asarray(features), target.argmax(1)

    def collate(self, items, pad_id):
        from headstart.training.batching import collate

        return collate(items, pad_id, True)  # label rows are float rows, stacked as multi-hot rows are
