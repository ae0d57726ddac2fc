"""What a training run optimises and how its dev set is scored: one small class per task.

The loop (`training/loop.py`) is the same for every task. An objective tells it
    loss(logits, labels)         the training loss of one batch
    evaluate(model, dev, ...)    the dev row of one epoch: dev_loss and dev_<metric>, plus whatever else
    metric, greater_is_better    what early stopping and model selection read
    token_labels                 labels are one per position (padded with -100) rather than one per example
    has_probe, probe(features, y) whether the head can start from a linear probe, and its (X, y)
    prepare(batch, rng)          a last change to a training batch (masking for the masked LM), seeded
    collate(items, pad_id)       how a training batch is built from examples (default: `batching.collate`)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from headstart.evaluation.metrics import classification_metrics
from headstart.training.batching import BucketBatchSampler, Examples, collate

__all__ = ["Objective", "Classification", "TokenTagging", "SpanExtraction", "MaskedLM", "InstructionLM", "predict_logits", "probabilities",
           "loss_fn", "MAX_PROBE_TOKENS"]

MAX_PROBE_TOKENS = 60_000  # tokens the per-token linear probe is fit on (a seeded sample when there are more)


@torch.no_grad()
def predict_logits(model, examples: Examples, *, pad_id: int, depth: int = 0, batch_size: int = 64):
    """Logits in the order of `examples`: an (n, n_labels) array, or for a per-token model a list of
    (seq_i, n_labels) arrays."""
    was_training = model.training
    model.eval()
    per_token = model.per_token
    out = [None] * len(examples) if per_token else np.zeros((len(examples), model.n_outputs), dtype=np.float32)
    device = next(model.parameters()).device
    for idx in BucketBatchSampler(examples.lengths(), batch_size, shuffle=False):
        batch = collate([examples.item(i) for i in idx], pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = model(**batch, prefix_depth=depth).float().cpu().numpy()
        if per_token:
            for j, i in enumerate(idx):
                out[i] = logits[j, : len(examples.inputs[i])]
        else:
            out[idx] = logits
    model.train(was_training)
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


def _dev_row(loss: float, scores: dict) -> dict:
    """The dev loss and the task's scalar scores as `dev_<name>` (nested tables such as per-type scores
    stay out of the history)."""
    return {"dev_loss": loss, **{f"dev_{k}": v for k, v in scores.items() if isinstance(v, int | float)}}


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
        return _dev_row(float(dev_loss), self.score(logits))

    def probe(self, features, labels):
        """Every labelled token's final features; a seeded sample of MAX_PROBE_TOKENS when there are more."""
        X = np.concatenate([f.numpy()[np.asarray(y) != -100] for f, y in zip(features, labels, strict=True)])
        y = np.concatenate([np.asarray(y)[np.asarray(y) != -100] for y in labels])
        if len(y) > MAX_PROBE_TOKENS:
            keep = np.random.default_rng(self.seed).choice(len(y), MAX_PROBE_TOKENS, replace=False)
            X, y = X[keep], y[keep]
        return X, y


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
        return _dev_row(float(np.mean([float(v) for v in losses])), self.score(logits))


@dataclass
class MaskedLM(Objective):
    """Masked-language-model pretraining: the labels of an example are its word ids (-100 on special
    tokens); each training batch gets fresh whole-word masks (`prepare`), the dev set the same masks every
    epoch (seeded), so dev loss is comparable across epochs. Early stopping on the dev masked-LM loss."""

    mask_id: int
    vocab_size: int
    probability: float = 0.15
    seed: int = 0
    metric: str = "mlm_loss"
    greater_is_better = False
    token_labels = True

    def prepare(self, batch, rng):
        from headstart.training.masking import whole_word_mask

        batch["input_ids"], batch["labels"] = whole_word_mask(
            batch["input_ids"], batch["labels"], mask_id=self.mask_id, vocab_size=self.vocab_size, rng=rng,
            probability=self.probability)
        batch["select"] = batch["labels"] != -100  # the model runs its head on the masked positions only
        return batch

    def loss(self, logits, labels):
        """logits: (n_masked, vocab), from a forward with `select`; labels: (batch, seq), -100 unmasked."""
        return F.cross_entropy(logits, labels[labels != -100])

    @torch.no_grad()
    def evaluate(self, model, dev, *, pad_id, depth, batch_size: int = 32):
        """Mean cross-entropy and accuracy over the masked dev tokens, batch by batch (the logits of a
        whole dev set over the vocabulary would not fit in memory)."""
        was_training = model.training
        model.eval()
        rng = torch.Generator().manual_seed(self.seed)
        device = next(model.parameters()).device
        total, correct, count = 0.0, 0, 0
        for idx in BucketBatchSampler(dev.lengths(), batch_size, shuffle=False):
            batch = self.prepare(collate([dev[i] for i in idx], pad_id, token_labels=True), rng)
            labels = batch.pop("labels").to(device)
            logits = model(**{k: v.to(device) for k, v in batch.items()})  # (n_masked, vocab)
            labels = labels[labels != -100]
            total += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(-1) == labels).sum())
            count += len(labels)
        model.train(was_training)
        loss = total / max(count, 1)
        return {"dev_loss": loss, "dev_mlm_loss": loss, "dev_mlm_accuracy": correct / max(count, 1)}


@dataclass
class InstructionLM(Objective):
    """Instruction tuning: cross-entropy of the response tokens (and EOS) only; early stopping on the
    held-out loss.

    Decoders: an example is `prompt + response` token ids with labels -100 on the prompt; the batch's
    labels are shifted left (position t predicts token t+1) and `select` marks the positions with a
    label, so the model projects only those onto the vocabulary. Encoder-decoders (`seq2seq`): the input
    is the prompt, the labels the response; the decoder reads the labels shifted right after
    `decoder_start_id`.
    """

    seq2seq: bool = False
    decoder_start_id: int = 0
    metric: str = "loss"
    greater_is_better = False
    token_labels = True

    def collate(self, items, pad_id):
        inputs, labels = zip(*[(x, y) for x, y, *_ in items], strict=True)
        batch = collate([(x, None) for x in inputs], pad_id)
        if self.seq2seq:
            target = _pad(labels, -100)  # (b, t)
            start = torch.full((len(labels), 1), self.decoder_start_id, dtype=torch.long)
            shifted = torch.cat([start, target[:, :-1]], 1)
            batch["decoder_input_ids"] = shifted.masked_fill(shifted == -100, pad_id)
            batch["decoder_attention_mask"] = (target != -100).long()  # inputs that predict a label
        else:
            aligned = _pad(labels, -100, batch["input_ids"].size(1))  # (b, s), -100 on prompts and padding
            target = torch.cat([aligned[:, 1:], torch.full_like(aligned[:, :1], -100)], 1)  # next token at t
        batch["labels"] = target
        batch["select"] = target != -100
        return batch

    def loss(self, logits, labels):
        """logits: (n_selected, vocab), from a forward with `select`; labels: (batch, seq), -100 elsewhere."""
        return F.cross_entropy(logits, labels[labels != -100])

    @torch.no_grad()
    def evaluate(self, model, dev, *, pad_id, depth, batch_size: int = 16):
        """Mean cross-entropy per response token over the dev set, and its perplexity."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for idx in BucketBatchSampler(dev.lengths(), batch_size, shuffle=False):
            batch = self.collate([dev[i] for i in idx], pad_id)
            labels = batch.pop("labels").to(device)
            logits = model(**{k: v.to(device) for k, v in batch.items()})
            total += float(F.cross_entropy(logits, labels[labels != -100], reduction="sum"))
            count += int((labels != -100).sum())
        model.train(was_training)
        loss = total / max(count, 1)
        return {"dev_loss": loss, "dev_perplexity": float(np.exp(min(loss, 50.0))), "dev_tokens": count}


def _pad(rows, value: int, width: int | None = None) -> torch.Tensor:
    width = width or max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r, dtype=torch.long)
    return out
