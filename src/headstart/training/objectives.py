"""What a training run optimises and how its dev set is scored: the protocol, and the helpers objectives share.

The loop (`training/loop.py`) is the same for every task; each task's objective lives in its own folder
(`headstart.tasks.<task>.objective`; masked-LM pretraining's in `training.masking`). An objective tells it
    loss(logits, labels)         the training loss of one batch
    evaluate(model, dev, ...)    the dev row of one epoch: dev_loss and dev_<metric>, plus whatever else
    metric, greater_is_better    what early stopping and model selection read
    token_labels                 labels are one per position (padded with -100) rather than one per example
    has_probe, probe(features, y) whether the head can start from a linear probe, and its (X, y)
    prepare(batch, rng)          a last change to a training batch (masking for the masked LM), seeded
    collate(items, pad_id)       how a training batch is built from examples (default: `batching.collate`)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from headstart.training.batching import BucketBatchSampler, Examples, collate
from headstart.training.shards import gather, my_rows, sharded

__all__ = ["Objective", "predict_logits", "probabilities", "loss_fn", "dev_row", "pad_rows"]


@torch.no_grad()
def predict_logits(model, examples: Examples, *, pad_id: int, depth: int = 0, batch_size: int = 64):
    """Logits in the order of `examples`: an (n, n_labels) array, or for a per-token model a list of
    (seq_i, n_labels) arrays."""
    was_training = model.training
    model.eval()
    per_token = model.per_token
    out = [None] * len(examples) if per_token else np.zeros((len(examples), model.n_outputs), dtype=np.float32)
    device = next(model.parameters()).device
    lengths = examples.lengths()
    rows = my_rows(lengths)  # all of them, unless the loop splits dev scoring across processes
    for local in BucketBatchSampler([lengths[i] for i in rows], batch_size, shuffle=False):
        idx = rows[local]
        batch = collate([examples.item(i) for i in idx], pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(**batch, prefix_depth=depth).float().cpu().numpy()
        if per_token:
            for j, i in enumerate(idx.tolist()):
                out[i] = logits[j, : len(examples.inputs[i])]
        else:
            out[idx] = logits
    model.train(was_training)
    if sharded():  # every process scored its share: put the rows of all of them in place
        for i, row in gather({i: out[i] for i in rows.tolist()}).items():
            out[i] = row
    return out


def probabilities(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    """Softmax over classes, or independent sigmoids for multi-label."""
    t = torch.as_tensor(logits)
    return (torch.sigmoid(t) if multilabel else torch.softmax(t, -1)).numpy()


def loss_fn(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None, multilabel: bool,
            smoothing: float = 0.0):
    """Cross-entropy (BCE for multi-label) with optional class weights and label smoothing: the target puts
    1 - smoothing on the true class and spreads `smoothing` uniformly (each multi-label target moves
    smoothing / 2 toward 0.5)."""
    if multilabel:
        targets = labels * (1 - smoothing) + smoothing / 2 if smoothing else labels
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weights)
    return F.cross_entropy(logits, labels, weight=weights, label_smoothing=smoothing)


class Objective:
    metric: str = "loss"
    greater_is_better: bool = True
    token_labels: bool = False
    multilabel: bool = False  # labels are multi-hot rows (collation and the probe read it)
    has_probe: bool = False

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, model, dev: Examples, *, pad_id: int, depth: int) -> dict:
        raise NotImplementedError

    def probe(self, features, labels) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def prepare(self, batch: dict, rng: torch.Generator) -> dict:
        return batch

    def collate(self, items: list[tuple], pad_id: int) -> dict:
        return collate(items, pad_id, self.multilabel, token_labels=self.token_labels)


def dev_row(loss: float, scores: dict) -> dict:
    """The dev loss and the task's scalar scores as `dev_<name>` (nested tables such as per-type scores
    stay out of the history)."""
    return {"dev_loss": loss, **{f"dev_{k}": v for k, v in scores.items() if isinstance(v, int | float)}}


def pad_rows(rows, value: int, width: int | None = None) -> torch.Tensor:
    width = width or max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out
