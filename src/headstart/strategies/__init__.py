"""The one registry of adaptation strategies. The CLI choices, the recommender, compare and the tests
all read it. Adding a strategy = one module + one line here + one row in tests/test_conformance.py."""

from __future__ import annotations

from dataclasses import fields

from headstart.errors import ConfigError
from headstart.strategies.base import Strategy
from headstart.strategies.bitfit import BitFit
from headstart.strategies.bottleneck import Adapter, Compacter
from headstart.strategies.features import Features, FeaturesOptions, fit_linear_probe
from headstart.strategies.full import Full
from headstart.strategies.head import HeadOnly
from headstart.strategies.peft_based import IA3, Lora, Prefix, Prompt
from headstart.strategies.top_n import TopN

__all__ = ["STRATEGIES", "PLANNED", "Strategy", "make_strategy", "fit_linear_probe", "FeaturesOptions"]

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Features, HeadOnly, TopN, Full, Lora, BitFit, IA3, Prefix, Prompt, Adapter,
                                   Compacter)
}

# Named so that users and the recommender hear "not built yet" instead of a silent fallback.
PLANNED: dict[str, str] = {
    "zero-shot": "zero-shot classification (issue 5)",
    "few-shot": "SetFit-style few-shot (issue 5)",
}


def make_strategy(name: str, **options) -> Strategy:
    """Build a registered strategy with its typed options.

    Example:
        >>> make_strategy("top-n", top_n=3).trainable_groups(["embeddings", "block_0", "block_1", "head"])
        ['block_0', 'block_1', 'head']
    """
    if name not in STRATEGIES:
        planned = f" ({PLANNED[name]} is not built yet)" if name in PLANNED else ""
        raise ConfigError(
            f"unknown strategy {name!r}{planned}.",
            expected="one of " + ", ".join(STRATEGIES),
            found=repr(name),
            fix="pick a built strategy; `headstart recommend DATA` suggests one",
        )
    cls = STRATEGIES[name]
    allowed = {f.name for f in fields(cls.options_cls)}
    unknown = sorted(k for k, v in options.items() if k not in allowed and v is not None)
    if unknown:
        raise ConfigError(
            f"strategy {name!r} has no option(s) " + ", ".join(unknown) + ".",
            expected="options among " + (", ".join(sorted(allowed)) or "(none)"),
            found=", ".join(unknown),
            fix="remove them, or choose the strategy they belong to",
        )
    kept = {k: v for k, v in options.items() if k in allowed and v is not None}
    return cls(cls.options_cls(**kept))
