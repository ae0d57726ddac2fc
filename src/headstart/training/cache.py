"""The frozen-prefix cache.

When the embeddings and the bottom k blocks are frozen (head-only, top-N, and later adapters on the top
blocks), their output for a text never changes during training. Compute it once, keep it in memory, and
let every epoch run only the trainable top. Frozen modules run in eval mode in both paths, so the cached
and uncached forwards are the same computation (tests/test_training.py checks they agree).

Memory: one float32 (tokens, hidden) tensor per text, e.g. 10,000 texts x 20 tokens x 384 = 300 MB.
"""

from __future__ import annotations

import torch

from headstart.modeling import TransformerClassifier, pool
from headstart.training.batching import BucketBatchSampler, collate

__all__ = ["cache_depth", "build_cache"]


def cache_depth(model: TransformerClassifier, trainable: list[str]) -> int | None:
    """How deep the frozen prefix goes: the number of frozen blocks below the lowest trainable one;
    `n_blocks` when only the head trains (then the pooled output is cached). None: nothing to cache."""
    if "embeddings" in trainable:
        return None
    blocks = [int(name.split("_")[1]) for name in trainable if name.startswith("block_")]
    if not blocks:
        return model.n_blocks
    depth = min(blocks)
    if depth == 0 or not model.anatomy.cacheable:
        return None
    return depth


@torch.no_grad()
def build_cache(model: TransformerClassifier, token_ids: list[list[int]], depth: int, *, pad_id: int,
                batch_size: int = 64) -> list[torch.Tensor]:
    """Cached inputs, one per text: pooled (hidden,) when depth == n_blocks, else the (seq, hidden)
    input of block `depth`."""
    was_training = model.training
    model.eval()
    out: list[torch.Tensor | None] = [None] * len(token_ids)
    sampler = BucketBatchSampler([len(t) for t in token_ids], batch_size, shuffle=False)
    for idx in sampler:
        batch = collate([(token_ids[i], None) for i in idx], pad_id, multilabel=False)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if depth >= model.n_blocks:
            pooled = model.encode(ids, mask)  # (b, hidden)
            for j, i in enumerate(idx):
                out[i] = pooled[j].clone()
            continue
        hidden = model.backbone(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        h = hidden[depth]  # (b, seq, hidden): the input of block `depth`
        for j, i in enumerate(idx):
            out[i] = h[j, : len(token_ids[i])].clone()
    model.train(was_training)
    return out


def pooled_features(model: TransformerClassifier, token_ids: list[list[int]], *, pad_id: int,
                    batch_size: int = 64) -> torch.Tensor:
    """(n, hidden) frozen pooled embeddings: the input of the `features` strategy."""
    return torch.stack(build_cache(model, token_ids, model.n_blocks, pad_id=pad_id, batch_size=batch_size))


__all__ += ["pooled_features", "pool"]
