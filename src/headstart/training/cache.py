"""The frozen-prefix cache.

When the embeddings and the bottom k blocks are frozen (head-only, top-N, and later adapters on the top
blocks), their output for a text never changes during training. Compute it once, keep it in memory, and
let every epoch run only the trainable top. Frozen modules run in eval mode in both paths, so the cached
and uncached forwards are the same computation (tests/test_training.py checks they agree).

Memory: one float32 (tokens, hidden) tensor per text, e.g. 10,000 texts x 20 tokens x 384 = 300 MB.
"""

from __future__ import annotations

import torch

from headstart.modeling import TransformerClassifier
from headstart.training.batching import BucketBatchSampler, Examples, collate
from headstart.training.shards import gather, my_rows, sharded

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
                batch_size: int = 64, with_pooled: bool = False, segments: list[list[int]] | None = None):
    """Cached inputs, one per text: at depth == n_blocks what the head reads (the pooled (hidden,)
    vector, or for a per-token model the (seq, hidden) last hidden states), else the (seq, hidden) input
    of block `depth`.

    with_pooled=True also returns, from the same pass, the frozen model's final features (what the head's
    warm start needs): (n, hidden) pooled, or for a per-token model a list of (seq, hidden). Returns the
    list, or (list, final features).
    """
    was_training = model.training
    model.eval()
    examples = Examples(token_ids, None, segments)
    out: list[torch.Tensor | None] = [None] * len(token_ids)
    final = [None] * len(token_ids) if model.per_token else torch.zeros(len(token_ids), model.hidden_size)
    at_top = depth >= model.n_blocks  # the cache is what the head reads: `final` itself
    lengths = [len(t) for t in token_ids]
    rows = my_rows(lengths)  # all of them, unless the loop splits the cache across processes
    device = next(model.parameters()).device
    for local in BucketBatchSampler([lengths[i] for i in rows], batch_size, shuffle=False):
        idx = rows[local].tolist()
        batch = collate([examples.item(i) for i in idx], pad_id)
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        extra = {"token_type_ids": batch["token_type_ids"].to(device)} if "token_type_ids" in batch else {}
        result = model.backbone(input_ids=ids, attention_mask=mask, output_hidden_states=depth < model.n_blocks,
                                **extra)
        head_input = model._reduce(result.last_hidden_state, mask)  # (b, hidden) or (b, seq, hidden)
        for j, i in enumerate(idx):  # the cache lives in CPU memory; batches move to the device
            n = len(token_ids[i])
            if with_pooled or at_top:  # per-token final features cost memory: only kept when asked for
                final[i] = (head_input[j, :n] if model.per_token else head_input[j]).cpu().clone()
            out[i] = final[i] if at_top else result.hidden_states[depth][j, :n].cpu().clone()  # block `depth`'s input
    model.train(was_training)
    if sharded():  # each process computed its share: every process gets every row (each epoch reads them all)
        keep_final = with_pooled or at_top
        share = {i: (None if at_top else out[i], final[i] if keep_final else None) for i in rows.tolist()}
        for i, (cached, pooled) in gather(share).items():
            if keep_final:
                final[i] = pooled
            out[i] = final[i] if at_top else cached
    return (out, final) if with_pooled else out


def pooled_features(model: TransformerClassifier, token_ids: list[list[int]], *, pad_id: int,
                    batch_size: int = 64, segments: list[list[int]] | None = None):
    """The frozen model's final features: (n, hidden) pooled embeddings (the input of the `features`
    strategy), or for a per-token model one (seq, hidden) tensor per text."""
    _, final = build_cache(model, token_ids, model.n_blocks, pad_id=pad_id, batch_size=batch_size,
                           with_pooled=True, segments=segments)
    return final
