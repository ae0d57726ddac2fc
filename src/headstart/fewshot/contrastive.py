"""Phase 1 of few-shot fine-tuning: one epoch of contrastive training of a SentenceTransformer on pairs.

The loss is sentence-transformers' `CosineSimilarityLoss` (what SetFit uses): the squared error between
cos(u, v) and the pair's target (1 same class, 0 different class). The loop itself is written here rather
than run through `SentenceTransformerTrainer` for two reasons: each batch encodes its *unique* texts once
(a few-shot epoch meets every text many times: with 16 rows and 16 pairs per batch, about half the
forward passes are repeats) and the early stopping of `FewShotClassifier` evaluates the whole pipeline
(encoder + logistic-regression head) between epochs, which the trainer's callbacks cannot do cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from headstart.fewshot.pairs import Pairs

__all__ = ["ContrastiveStep", "encode", "train_epoch", "pair_loss"]


@dataclass
class ContrastiveStep:
    """The optimiser state that lives across epochs: AdamW with a linear warmup then linear decay."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR

    @classmethod
    def build(cls, model: torch.nn.Module, lr: float, total_steps: int, warmup_ratio: float) -> ContrastiveStep:
        from transformers import get_linear_schedule_with_warmup

        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        warmup = int(round(warmup_ratio * total_steps))
        return cls(optimizer, get_linear_schedule_with_warmup(optimizer, warmup, max(total_steps, 1)))


def _embed(model, texts: list[str]) -> torch.Tensor:
    """(len(texts), dim) sentence embeddings with gradients (the model's own pooling / normalisation)."""
    features = model.preprocess(texts)
    device = model.device
    features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
    return model(features)["sentence_embedding"]


def pair_loss(model, loss_fn, texts: list[str], pairs: Pairs, rows: np.ndarray) -> torch.Tensor:
    """The loss of the pairs `rows` (indices into `pairs`), encoding each distinct text once."""
    left, right = pairs.left[rows], pairs.right[rows]
    unique, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    emb = _embed(model, [texts[i] for i in unique])  # (n_unique, dim)
    u, v = emb[inverse[: len(rows)]], emb[inverse[len(rows):]]  # (batch, dim) each
    target = torch.as_tensor(pairs.target[rows], device=emb.device)
    return loss_fn.compute_loss_from_embeddings([u, v], target)


def train_epoch(model, loss_fn, texts: list[str], pairs: Pairs, step: ContrastiveStep, batch_size: int) -> float:
    """One pass over `pairs` (already shuffled) in batches; returns the mean training loss."""
    model.train()
    losses = []
    for lo in range(0, len(pairs), batch_size):
        loss = pair_loss(model, loss_fn, texts, pairs, np.arange(lo, min(lo + batch_size, len(pairs))))
        step.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        step.optimizer.step()
        step.scheduler.step()
        losses.append(loss.item())
    model.eval()
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def mean_pair_loss(model, loss_fn, texts: list[str], pairs: Pairs, batch_size: int = 64) -> float:
    """The loss over `pairs` without training (eval mode: no dropout), for tests and diagnostics."""
    model.eval()
    total = 0.0
    for lo in range(0, len(pairs), batch_size):
        rows = np.arange(lo, min(lo + batch_size, len(pairs)))
        total += pair_loss(model, loss_fn, texts, pairs, rows).item() * len(rows)
    return total / max(len(pairs), 1)


def encode(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(n, dim) float32 embeddings in eval mode, for the logistic-regression head."""
    model.eval()
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
