"""`full`: fine-tune every transformer block and the head. Embeddings stay frozen unless asked.

Lower blocks learn slowest (discriminative LRs) and the bottom half is capped by `lower_lr_cap`: the
forgetting guard.
"""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import option
from headstart.strategies.base import Strategy

__all__ = ["Full", "FullOptions"]


@dataclass
class FullOptions:
    """Off by default: the embeddings are the layer most prone to forgetting, and small data rarely covers
    the vocabulary."""

    train_embeddings: bool = option(False, "full: also train the embedding layer")


class Full(Strategy):
    name = "full"
    summary = "fine-tune all blocks + head (embeddings frozen by default), discriminative LRs"
    options_cls = FullOptions
    # lr_decay 1.6, not ULMFiT's 2.6: over six blocks 2.6 leaves the bottom block 300x slower than the head
    # (frozen in effect). Chosen on held-out training rows of SST-2 and Banking77: benchmarks/sweep.py.
    # average_epochs 2: the weights kept are the mean of the best epoch's and the previous epoch's (checkpoint
    # averaging; benchmarks/average_probe.py measured it against the best epoch's own weights)
    # label_smoothing 0.1, on single-label classification with three or more classes only (HeadstartClassifier
    # drops it elsewhere): ahead on dev in 3 of 3 Banking77 seeds, behind in 3 of 3 on binary SST-2
    # (benchmarks/sweep.py --grid smoothing)
    defaults = {"epochs": 3, "lr": 5e-4, "lr_decay": 1.6, "average_epochs": 2, "label_smoothing": 0.1}

    # the rate was chosen on the 384-wide MiniLM; a wider backbone gets a proportionally smaller one
    # (mpnet, 768 wide: 2.5e-4; benchmarks/sweep.py --grid full-lr --backbone mpnet)
    width_scaled_lr = True

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        if self.options.train_embeddings:
            return list(group_names)
        return [g for g in group_names if g != "embeddings"]
