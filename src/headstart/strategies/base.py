"""What every strategy declares: its typed options, its training defaults, and which layer groups train."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

__all__ = ["Strategy", "NoOptions"]


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
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    options_cls: ClassVar[type] = NoOptions
    defaults: ClassVar[dict] = {}
    uses_gradients: ClassVar[bool] = True

    def __init__(self, options=None) -> None:
        self.options = options if options is not None else self.options_cls()

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        """Names of the layer groups that train, bottom first. `group_names` is the model's full list
        ("embeddings", "block_0", ..., "head")."""
        raise NotImplementedError

    def modifies_backbone(self, group_names: list[str]) -> bool:
        return any(name != "head" for name in self.trainable_groups(group_names))

    def describe(self) -> dict:
        return {"strategy": self.name, "options": asdict(self.options)}
