"""What every strategy declares: its typed options, its training defaults, and which layer groups train."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

__all__ = ["Strategy", "NoOptions", "ADAPTER_DEFAULTS", "REFERENCE_WIDTH", "width_scaled"]

# Training defaults shared by the adapter strategies: new weights trained from scratch want a higher rate
# than fine-tuning, the same for every block (lr_decay 1), and no forgetting guard (lower_lr_cap 1.0): the
# pretrained weights are frozen, and capping the lower half would leave its adapters all but untrained.
ADAPTER_DEFAULTS = {"epochs": 5, "lr": 1e-3, "lr_decay": 1.0, "lower_lr_cap": 1.0}

# The hidden width the fine-tuning rates were chosen on (the packaged MiniLM: 384). Adam's step moves every
# weight by about the rate, so the change a step makes to a layer's output grows with its width: a wider
# backbone needs a proportionally smaller rate (muP, Yang et al. 2021; BERT-base is tuned at 2e-5 to 5e-5).
REFERENCE_WIDTH = 384


def width_scaled(lr: float, hidden_size: int) -> float:
    """`lr` chosen at REFERENCE_WIDTH, for a backbone `hidden_size` wide: scaled down for a wider one, kept
    as it is for a narrower one (a tiny test model must not get a huge rate)."""
    return lr * min(1.0, REFERENCE_WIDTH / hidden_size)


@dataclass
class NoOptions:
    """A strategy without options of its own."""


class Strategy:
    """One way to adapt a pretrained model. Subclasses set the class attributes and `trainable_groups`.

    Attributes:
        name: the registered name (CLI `--strategy`).
        summary: one line for `headstart models` / recommend / docs.
        options_cls: typed dataclass of the strategy's own options (validated when built).
        defaults: training defaults (epochs, lr) for options the user left unset.
        uses_gradients: False for strategies fit in closed form / by scikit-learn (features).
        adapter: what a trained model saves instead of a whole backbone: "peft" (PEFT folder layout),
            "bottleneck" / "bitfit" (the same layout, headstart's own config types), or None.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options_cls: ClassVar[type] = NoOptions
    defaults: ClassVar[dict] = {}
    uses_gradients: ClassVar[bool] = True
    adapter: ClassVar[str | None] = None
    # strategies that fine-tune pretrained weights: their default rate shrinks on a wider backbone
    width_scaled_lr: ClassVar[bool] = False
    # strategies that change only part of the backbone by design (top-n): a run saves the changed tensors
    # and references the rest (headstart.persist); the others save a whole backbone plain transformers loads
    saves_delta: ClassVar[bool] = False

    def __init__(self, options=None) -> None:
        self.options = options if options is not None else self.options_cls()

    def defaults_for(self, hidden_size: int) -> dict:
        """The training defaults for a backbone `hidden_size` wide: `defaults`, with the rate scaled by
        `width_scaled` when the strategy fine-tunes pretrained weights (`width_scaled_lr`)."""
        defaults = dict(self.defaults)
        if self.width_scaled_lr and "lr" in defaults:
            defaults["lr"] = width_scaled(defaults["lr"], hidden_size)
        return defaults

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        """Names of the layer groups that train, bottom first. `group_names` is the model's full list
        ("embeddings", "block_0", ..., "head")."""
        raise NotImplementedError

    def prepare(self, model) -> None:
        """Add the strategy's modules (adapters, prompt encoders) to a fresh TransformerClassifier, before
        training or before loading saved adapter weights. Most strategies add nothing."""

    def keep(self, name: str) -> bool:
        """Which parameters of the trainable backbone groups train (name relative to the group's module):
        all of them, unless the strategy trains only its adapters or biases."""
        return True

    def modifies_backbone(self, group_names: list[str]) -> bool:
        """Whether the pretrained backbone weights change (then a trained model saves the whole backbone,
        unless the strategy saves an adapter)."""
        return self.adapter is None and any(name != "head" for name in self.trainable_groups(group_names))

    def describe(self) -> dict:
        return {"strategy": self.name, "options": asdict(self.options)}
