"""`top-n`: fine-tune the top N transformer blocks and the head; everything below stays frozen.

The frozen bottom is computed once (prefix cache), so each epoch runs only N blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import check_range, option
from headstart.strategies.base import Strategy

__all__ = ["TopN", "TopNOptions"]


@dataclass
class TopNOptions:
    """How many of the highest transformer blocks train."""

    top_n: int = option(2, "top-n: how many of the highest blocks train; lora: adapt only the top N blocks")

    def __post_init__(self) -> None:
        check_range("top_n", self.top_n, 1, integer=True)


class TopN(Strategy):
    name = "top-n"
    summary = "fine-tune the top N blocks + head with discriminative learning rates (bottom frozen, cached)"
    options_cls = TopNOptions
    defaults = {"epochs": 8, "lr": 5e-4}

    # the rate was chosen on the 384-wide MiniLM; a wider backbone gets a proportionally smaller one
    # (mpnet, 768 wide: 2.5e-4; benchmarks/sweep.py --grid full-lr --backbone mpnet)
    width_scaled_lr = True

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        blocks = [g for g in group_names if g.startswith("block_")]
        n = min(self.options.top_n, len(blocks))
        return blocks[len(blocks) - n :] + ["head"]
