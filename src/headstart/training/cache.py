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

__all__ = ["cache_depth", "build_cache", "pooled_features"]


def cache_depth(model: TransformerClassifier, trainable: list[str]) -> int | None:
    """How deep the frozen prefix goes: the number of frozen blocks below the lowest trainable one;
    `n_blocks` when only the head trains (then the pooled output is cached). None: nothing to cache."""
    if "embeddings" in trainable or "prompt" in trainable:  # a prompt encoder reaches every block
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
                batch_size: int = 64, with_pooled: bool = False):
    """Cached inputs, one per text: pooled (hidden,) when depth == n_blocks, else the (seq, hidden)
    input of block `depth`.

    with_pooled=True also returns the (n, hidden) pooled output of the frozen model, from the same pass
    (what the head's warm start needs). Returns the list, or (list, pooled).
    """
    was_training = model.training
    model.eval()
    out: list[torch.Tensor | None] = [None] * len(token_ids)
    pooled_all = torch.zeros(len(token_ids), model.head.in_features)
    sampler = BucketBatchSampler([len(t) for t in token_ids], batch_size, shuffle=False)
    for idx in sampler:
        batch = collate([(token_ids[i], None) for i in idx], pad_id, multilabel=False)
        device = model.head.weight.device
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        result = model.backbone(input_ids=ids, attention_mask=mask, output_hidden_states=depth < model.n_blocks)
        pooled = pool(result.last_hidden_state, mask, model.anatomy.pooling)  # (b, hidden)
        pooled_all[idx] = pooled.cpu()
        for j, i in enumerate(idx):  # the cache lives in CPU memory; batches move to the device
            out[i] = pooled[j].cpu().clone() if depth >= model.n_blocks else \
                result.hidden_states[depth][j, : len(token_ids[i])].cpu().clone()  # input of block `depth`
    model.train(was_training)
    return (out, pooled_all) if with_pooled else out


def pooled_features(model: TransformerClassifier, token_ids: list[list[int]], *, pad_id: int,
                    batch_size: int = 64) -> torch.Tensor:
    """(n, hidden) frozen pooled embeddings: the input of the `features` strategy."""
    _, pooled = build_cache(model, token_ids, model.n_blocks, pad_id=pad_id, batch_size=batch_size,
                            with_pooled=True)
    return pooled

