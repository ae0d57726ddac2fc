"""Tokenised examples, length-bucketed batches and dynamic padding.

Batches are formed from texts of similar length (so little compute is spent on padding), in an order
that depends only on (seed, epoch): a resumed run sees exactly the batches the original would have.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = ["tokenize", "Examples", "BucketBatchSampler", "collate"]


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated to max_length, special tokens added, no padding."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


class Examples(Dataset):
    """Inputs + labels. An input is a token-id list, a cached (seq, hidden) tensor or a pooled (hidden,)
    tensor; all inputs of one Examples are of one kind. `segments`: optional segment (token type) ids per
    token-id input, for models that tell two texts apart that way (BERT's question / context)."""

    def __init__(self, inputs: list, labels: np.ndarray | None, segments: list[list[int]] | None = None) -> None:
        self.inputs = inputs
        self.labels = labels
        self.segments = segments

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple:
        item = self.inputs[i], (None if self.labels is None else self.labels[i])
        return item if self.segments is None else (*item, self.segments[i])

    def item(self, i: int) -> tuple:
        """(input, None[, segments]): what prediction batches are made of."""
        return (self.inputs[i], None) if self.segments is None else (self.inputs[i], None, self.segments[i])

    def lengths(self) -> list[int]:
        first = self.inputs[0]
        if isinstance(first, torch.Tensor) and first.dim() == 1:
            return [1] * len(self.inputs)
        return [len(x) for x in self.inputs]


class BucketBatchSampler(Sampler[list[int]]):
    """Shuffled batches of similar-length examples.

    Each epoch: shuffle all indices with a generator seeded by (seed, epoch), cut them into pools of
    `pool` batches, sort each pool by length, slice it into batches, then shuffle the batch order.
    With shuffle=False, batches follow length order (for fast, deterministic evaluation).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 pool: int = 50) -> None:
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool = pool
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            yield from (order[i : i + bs].tolist() for i in range(0, n, bs))
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        batches = []
        step = bs * self.pool
        for start in range(0, n, step):
            chunk = order[start : start + step]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + bs].tolist() for i in range(0, len(chunk), bs)]
        for j in rng.permutation(len(batches)):
            yield batches[j]

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def collate(items: list[tuple], pad_id: int, multilabel: bool = False, *, token_labels: bool = False) -> dict:
    """Pad a batch to its own longest member (dynamic padding) and build the attention mask.

    Labels: class indices (n,), multi-hot rows (multilabel), pairs such as (start, end) token positions
    (stacked as given), or with token_labels one label per position, padded with -100 (ignored)."""
    inputs, labels, *segments = zip(*items, strict=True)
    batch: dict = {}
    first = inputs[0]
    if isinstance(first, torch.Tensor) and first.dim() == 1:  # pooled cache
        batch["pooled"] = torch.stack(inputs)
    else:
        longest = max(len(x) for x in inputs)
        mask = torch.zeros(len(inputs), longest, dtype=torch.long)
        for i, x in enumerate(inputs):
            mask[i, : len(x)] = 1
        batch["attention_mask"] = mask
        if isinstance(first, torch.Tensor):  # prefix cache: (seq, hidden) each
            hidden = torch.zeros(len(inputs), longest, first.size(-1), dtype=first.dtype)
            for i, x in enumerate(inputs):
                hidden[i, : len(x)] = x
            batch["prefix_hidden"] = hidden
        else:
            ids = torch.full((len(inputs), longest), pad_id, dtype=torch.long)
            for i, x in enumerate(inputs):
                ids[i, : len(x)] = torch.as_tensor(x)
            batch["input_ids"] = ids
            if segments:  # token type ids, padded with 0
                types = torch.zeros(len(inputs), longest, dtype=torch.long)
                for i, x in enumerate(segments[0]):
                    types[i, : len(x)] = torch.as_tensor(x)
                batch["token_type_ids"] = types
    if labels[0] is not None and token_labels:
        longest = batch["attention_mask"].size(1)
        padded = torch.full((len(labels), longest), -100, dtype=torch.long)
        for i, y in enumerate(labels):
            padded[i, : len(y)] = torch.as_tensor(y)
        batch["labels"] = padded
    elif labels[0] is not None:
        dtype = torch.float32 if multilabel else torch.long
        batch["labels"] = torch.as_tensor(np.stack(labels) if multilabel else np.asarray(labels), dtype=dtype)
    return batch
