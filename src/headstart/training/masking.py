"""Whole-word masking and the masked-LM objective of `headstart pretrain` (BERT's later recipe).

Words, not sub-word pieces, are chosen: 15% of the words of each sequence (at least one), and every piece
of a chosen word is predicted. Of the chosen pieces 80% become [MASK], 10% a random token, 10% stay as they
are (so the model cannot learn that only [MASK] positions matter).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from headstart.training.batching import BucketBatchSampler, collate
from headstart.training.objectives import Objective
from headstart.training.shards import my_rows
from headstart.training.shards import total as total_over_processes

__all__ = ["whole_word_mask", "MaskedLM"]


def whole_word_mask(input_ids: torch.Tensor, word_ids: torch.Tensor, *, mask_id: int, vocab_size: int,
                    rng: torch.Generator, probability: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask whole words of a batch.

    Args:
        input_ids: (batch, seq) token ids.
        word_ids: (batch, seq) the word index of each position within its sequence; negative (-100) for
            special tokens and padding, which are never chosen.
        rng: the generator every random choice is drawn from (seeded by the caller: reproducible).

    Returns:
        (inputs, labels): the corrupted ids, and the original ids at the chosen positions, -100 elsewhere.
    """
    chosen = torch.zeros_like(input_ids, dtype=torch.bool)
    for i in range(input_ids.size(0)):
        words = torch.unique(word_ids[i][word_ids[i] >= 0])
        if len(words) == 0:
            continue
        n = max(1, round(probability * len(words)))
        picked = words[torch.randperm(len(words), generator=rng)[:n]]
        chosen[i] = torch.isin(word_ids[i], picked)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    draw = torch.rand(input_ids.shape, generator=rng)
    inputs = input_ids.clone()
    inputs[chosen & (draw < 0.8)] = mask_id
    swap = chosen & (draw >= 0.8) & (draw < 0.9)
    inputs[swap] = torch.randint(vocab_size, (int(swap.sum()),), generator=rng)
    return inputs, labels


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
        lengths = dev.lengths()
        rows = my_rows(lengths)  # all of them, unless the loop splits dev scoring across processes
        for local in BucketBatchSampler([lengths[i] for i in rows], batch_size, shuffle=False):
            batch = self.prepare(collate([dev[i] for i in rows[local]], pad_id, token_labels=True), rng)
            labels = batch.pop("labels").to(device)
            logits = model(**{k: v.to(device) for k, v in batch.items()})  # (n_masked, vocab)
            labels = labels[labels != -100]
            total += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(-1) == labels).sum())
            count += len(labels)
        model.train(was_training)
        total, correct, count = total_over_processes(total, correct, count)
        loss = total / max(count, 1)
        return {"dev_loss": loss, "dev_mlm_loss": loss, "dev_mlm_accuracy": correct / max(count, 1)}
