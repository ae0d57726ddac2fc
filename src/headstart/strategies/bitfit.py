"""`bitfit`: train only the bias terms of the backbone (and the head); Ben Zaken et al. 2022.

Changes about 0.1% of the weights. A trained model saves just those biases (adapter layout, headstart's
own config type) and references the backbone by name.
"""

from __future__ import annotations

from headstart.errors import ConfigError
from headstart.strategies.base import Strategy

__all__ = ["BitFit"]


class BitFit(Strategy):
    name = "bitfit"
    summary = "BitFit: train the bias terms of every block + head (about 0.1% of the weights)"
    adapter = "bitfit"
    # uniform rates and no cap, as in the paper: every bias must move for BitFit to adapt at all
    defaults = {"epochs": 5, "lr": 1e-3, "lr_decay": 1.0, "lower_lr_cap": 1.0}

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        return [g for g in group_names if g.startswith("block_")] + ["head"]

    def prepare(self, model) -> None:
        """Refuse a backbone without bias terms (Llama, T5): BitFit would silently train the head alone."""
        if not any(name.endswith("bias") for name, _ in model.backbone.named_parameters()):
            raise ConfigError(
                f"BitFit needs bias terms, and this {model.anatomy.family} model has none.",
                expected="a backbone with biases in its blocks (BERT, RoBERTa, DistilBERT, GPT-2 ...)",
                found="no parameter named *.bias",
                fix="use lora or ia3 for this backbone",
            )

    def keep(self, name: str) -> bool:
        return name.endswith("bias")
