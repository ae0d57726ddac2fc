"""Forgetting guard, measured: how far each layer group moved from its pretrained weights."""

from __future__ import annotations

import torch

from headstart.modeling import TransformerClassifier, is_adapter_parameter

__all__ = ["snapshot", "drift_from"]


def _pretrained(group) -> list[torch.Tensor]:
    """The group's pretrained weights: added adapter weights start near zero and are not "drift"."""
    return [p for name, p in group.named_parameters() if not is_adapter_parameter(name)]


def snapshot(model: TransformerClassifier) -> dict[str, list[torch.Tensor]]:
    """A copy of every backbone group's pretrained parameters before training (the head and a prompt
    encoder are new: not tracked)."""
    return {g.name: [p.detach().cpu().clone() for p in _pretrained(g)] for g in model.layer_groups()
            if g.name not in ("head", "prompt")}


@torch.no_grad()
def drift_from(model: TransformerClassifier, before: dict[str, list[torch.Tensor]]) -> dict[str, float]:
    """Relative L2 drift ||w - w0|| / ||w0|| per group; exactly 0.0 for a group that did not change."""
    out = {}
    for group in model.layer_groups():
        if group.name not in before:
            continue
        diff = sum(float((p.cpu() - p0).pow(2).sum()) for p, p0 in zip(_pretrained(group), before[group.name],
                                                                       strict=True))
        norm = sum(float(p0.pow(2).sum()) for p0 in before[group.name])
        out[group.name] = (diff / norm) ** 0.5 if norm > 0 else 0.0
    return out
