"""`full`: fine-tune every transformer block and the head. Embeddings stay frozen unless asked.

Lower blocks learn slowest (discriminative LRs) and the bottom half is capped by `lower_lr_cap`: the
forgetting guard.
"""

from __future__ import annotations

from dataclasses import dataclass

from headstart.strategies.base import Strategy

__all__ = ["Full", "FullOptions"]


@dataclass
class FullOptions:
    """Args: train_embeddings: also train the embedding layer (off by default: it is the layer most
    prone to forgetting, and small data rarely covers the vocabulary)."""

    train_embeddings: bool = False


class Full(Strategy):
    name = "full"
    summary = "fine-tune all blocks + head (embeddings frozen by default), discriminative LRs"
    options_cls = FullOptions
    defaults = {"epochs": 3, "lr": 5e-4}

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        if self.options.train_embeddings:
            return list(group_names)
        return [g for g in group_names if g != "embeddings"]
