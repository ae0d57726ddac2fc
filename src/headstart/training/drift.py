"""Forgetting guard, measured: how far each layer group moved from its pretrained weights."""

from __future__ import annotations

import torch

from headstart.modeling import TransformerClassifier

__all__ = ["snapshot", "drift_from"]


def snapshot(model: TransformerClassifier) -> dict[str, list[torch.Tensor]]:
    """A copy of every backbone group's parameters before training (the head is new: not tracked)."""
    return {g.name: [p.detach().clone() for p in g.parameters()] for g in model.layer_groups() if g.name != "head"}


@torch.no_grad()
def drift_from(model: TransformerClassifier, before: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """Relative L2 drift ||w - w0|| / ||w0|| per group; exactly 0.0 for a group that did not change."""
    out = {}
    for group in model.layer_groups():
        if group.name not in before:
            continue
        diff = sum(float((p.cpu() - p0).pow(2).sum()) for p, p0 in zip(group.parameters(), before[group.name],
                                                                 strict=True))
        norm = sum(float(p0.pow(2).sum()) for p0 in before[group.name])
        out[group.name] = (diff / norm) ** 0.5 if norm > 0 else 0.0
    return out
