"""Whole-word masking for masked-LM pretraining (BERT's later recipe, as in `headstart pretrain`).

Words, not sub-word pieces, are chosen: 15% of the words of each sequence (at least one), and every piece
of a chosen word is predicted. Of the chosen pieces 80% become [MASK], 10% a random token, 10% stay as they
are (so the model cannot learn that only [MASK] positions matter).
"""

from __future__ import annotations

import torch

__all__ = ["whole_word_mask"]


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
