"""Freezing and discriminative learning rates, expressed on the model's ordered layer groups.

fastai's idea (ULMFiT): the head learns fastest, each group below learns `decay` times slower, and the
frozen groups do not train at all.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from headstart.modeling import LayerGroup

__all__ = ["group_lrs", "param_groups", "freeze_except", "set_train_mode", "NEW_GROUPS", "trains"]

# Groups made for the task (not pretrained): they always train whole when they train at all.
NEW_GROUPS = ("head", "prompt")


def trains(group_name: str, param_name: str, keep: Callable[[str], bool] | None) -> bool:
    """Whether a parameter of a trainable group trains: all of a new group; in a backbone group, what
    the strategy's `keep` selects (adapter weights, biases ...), all when there is no `keep`."""
    return keep is None or group_name in NEW_GROUPS or keep(param_name)


def group_lrs(names: list[str], trainable: list[str], lr: float, decay: float, lower_cap: float) -> dict:
    """Learning rate per trainable group.

    The top trainable group (the head) gets `lr`; each group below gets `decay` times less; blocks in the
    bottom half of the model are capped at `lower_cap` (the forgetting guard).

    Example:
        >>> group_lrs(["embeddings", "block_0", "block_1", "head"], ["block_1", "head"], 1e-3, 2.0, 1.0)
        {'head': 0.001, 'block_1': 0.0005}
    """
    blocks = [n for n in names if n.startswith("block_")]
    bottom_half = set(blocks[: len(blocks) // 2]) | {"embeddings"}
    lrs = {}
    for distance, name in enumerate(reversed(trainable)):
        value = lr / decay**distance
        if name in bottom_half:
            value = min(value, lower_cap)
        lrs[name] = value
    return lrs


def param_groups(groups: list[LayerGroup], lrs: dict, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: one or two per layer group. Vectors (biases, norm scales) get no weight
    decay, matrices do: the usual rule, and it needs no per-family parameter names."""
    out, seen = [], set()
    for group in groups:
        if group.name not in lrs:
            continue
        decay, no_decay = [], []
        for p in group.parameters():
            # what freeze_except left trainable (all of it before gradual unfreezing), each parameter in
            # one group only: Compacter's rule matrices are shared by every block and go with the lowest
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                (no_decay if p.ndim < 2 else decay).append(p)
        for params, wd in ((decay, weight_decay), (no_decay, 0.0)):
            if params:
                out.append({"params": params, "lr": lrs[group.name], "weight_decay": wd, "name": group.name})
    return out


def freeze_except(model: nn.Module, groups: list[LayerGroup], trainable: list[str],
                  keep: Callable[[str], bool] | None = None) -> None:
    """requires_grad only for the parameters of the named groups (everything else, unused modules
    included, is frozen). `keep(name)` narrows the backbone groups to some of their parameters (LoRA
    weights, biases ...); the head and a prompt encoder always train whole."""
    for p in model.parameters():
        p.requires_grad_(False)
    for group in groups:
        if group.name in trainable:
            for name, p in group.named_parameters():
                if trains(group.name, name, keep):
                    p.requires_grad_(True)


def set_train_mode(model: nn.Module, groups: list[LayerGroup], trainable: list[str]) -> None:
    """Train mode (dropout on) for trainable groups only: frozen groups run deterministically, which is
    also what makes their cached outputs exact."""
    model.eval()
    for group in groups:
        if group.name in trainable:
            for m in group.modules:
                m.train()
    if "head" in trainable:
        model.dropout.train()
