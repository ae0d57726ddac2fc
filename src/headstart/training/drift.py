"""Forgetting guard, measured: how far each layer group moved from its pretrained weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from headstart.modeling import TransformerClassifier, is_adapter_parameter
from headstart.training.groups import trains

__all__ = ["Snapshot", "snapshot", "drift_from"]


@dataclass
class Snapshot:
    """One backbone group before training: the squared norm of its pretrained weights, and a copy of those
    that will train (by name). A weight that does not train is not copied: its drift is 0 by construction,
    so a LoRA run copies nothing and a `top-n` run only its top blocks."""

    norm_sq: float
    trained: dict[str, torch.Tensor] = field(default_factory=dict)


def _pretrained(group) -> list[tuple[str, torch.Tensor]]:
    """The group's pretrained weights: added adapter weights start near zero and are not "drift"."""
    return [(name, p) for name, p in group.named_parameters() if not is_adapter_parameter(name)]


@torch.no_grad()
def snapshot(model: TransformerClassifier, trainable: list[str] | None = None,
             keep: Callable[[str], bool] | None = None) -> dict[str, Snapshot]:
    """Every backbone group's pretrained state before training (the head and a prompt encoder are new: not
    tracked). `trainable` / `keep`: what the strategy trains (groups; parameters within them); None: all."""
    out = {}
    for group in model.layer_groups():
        if group.name in ("head", "prompt"):
            continue
        weights = _pretrained(group)
        trained = trainable is None or group.name in trainable
        out[group.name] = Snapshot(sum(float(p.pow(2).sum()) for _, p in weights),
                                   {name: p.detach().cpu().clone() for name, p in weights
                                    if trained and trains(group.name, name, keep)})
    return out


@torch.no_grad()
def drift_from(model: TransformerClassifier, before: dict[str, Snapshot]) -> dict[str, float]:
    """Relative L2 drift ||w - w0|| / ||w0|| per group; exactly 0.0 for a group that did not change."""
    out = {}
    for group in model.layer_groups():
        if group.name not in before:
            continue
        snap, now = before[group.name], dict(_pretrained(group))
        diff = sum(float((now[name].cpu() - p0).pow(2).sum()) for name, p0 in snap.trained.items())
        out[group.name] = (diff / snap.norm_sq) ** 0.5 if snap.norm_sq > 0 else 0.0
    return out
