"""`head`: train the new classification head only; the whole backbone stays frozen.

With the prefix cache the backbone runs once per text, so epochs cost almost nothing.
"""

from __future__ import annotations

from headstart.strategies.base import Strategy

__all__ = ["HeadOnly"]


class HeadOnly(Strategy):
    name = "head"
    summary = "train the classification head only (backbone frozen; one backbone pass per text)"
    defaults = {"epochs": 40, "lr": 5e-3}

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        return ["head"]
