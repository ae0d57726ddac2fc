"""The instruction-tuning objective: cross-entropy of the response tokens only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from headstart.training.batching import BucketBatchSampler, collate
from headstart.training.objectives import Objective, pad_rows
from headstart.training.shards import my_rows
from headstart.training.shards import total as total_over_processes

__all__ = ["InstructionLM"]


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
            target = pad_rows(labels, -100)  # (b, t)
            start = torch.full((len(labels), 1), self.decoder_start_id, dtype=torch.long)
            shifted = torch.cat([start, target[:, :-1]], 1)
            batch["decoder_input_ids"] = shifted.masked_fill(shifted == -100, pad_id)
            batch["decoder_attention_mask"] = (target != -100).long()  # inputs that predict a label
        else:
            aligned = pad_rows(labels, -100, batch["input_ids"].size(1))  # (b, s), -100 on prompts and padding
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
        lengths = dev.lengths()
        rows = my_rows(lengths)  # all of them, unless the loop splits dev scoring across processes
        for local in BucketBatchSampler([lengths[i] for i in rows], batch_size, shuffle=False):
            batch = self.collate([dev[i] for i in rows[local]], pad_id)
            labels = batch.pop("labels").to(device)
            logits = model(**{k: v.to(device) for k, v in batch.items()})
            total += float(F.cross_entropy(logits, labels[labels != -100], reduction="sum"))
            count += int((labels != -100).sum())
        model.train(was_training)
        total, count = total_over_processes(total, count)
        loss = total / max(count, 1)
        return {"dev_loss": loss, "dev_perplexity": float(np.exp(min(loss, 50.0))), "dev_tokens": int(count)}
