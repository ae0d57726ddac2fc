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

__all__ = ["STRATEGIES", "DEFAULT_STRATEGY", "PLANNED", "OWN_COMMANDS", "Strategy", "make_strategy", "saved_strategy", "fit_linear_probe",
           "FeaturesOptions"]

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Features, HeadOnly, TopN, Full, Lora, BitFit, IA3, Prefix, Prompt, Adapter,
                                   Compacter)
}

# What `headstart train` uses when no strategy is named; `headstart compare` never drops it early.
DEFAULT_STRATEGY = "top-n"

# Named so that users and the recommender hear "not built yet" instead of a silent fallback.
PLANNED: dict[str, str] = {}

# Ways to classify that are built but do not train through `headstart train`: name -> the command to run.
# Zero-shot trains nothing; few-shot trains a sentence encoder on pairs, then a linear head (its own loop).
OWN_COMMANDS: dict[str, str] = {
    "zero-shot": "headstart zero-shot {data} --labels LABEL1,LABEL2 --method embedding",
    "few-shot": "headstart few-shot {data} --out runs/few-shot",
    # distillation trains through `headstart distill`, after a teacher run on a larger backbone
    "distill": "headstart train {data} --backbone mpnet --strategy full --out runs/teacher && "
               "headstart distill {data} --teacher runs/teacher --unlabeled UNLABELLED.csv --out runs/student",
}


def make_strategy(name: str, **options) -> Strategy:
    """Build a registered strategy with its typed options.

    Example:
        >>> make_strategy("top-n", top_n=3).trainable_groups(["embeddings", "block_0", "block_1", "head"])
        ['block_0', 'block_1', 'head']
    """
    if name not in STRATEGIES:
        if name in OWN_COMMANDS:
            raise ConfigError(f"{name!r} is not trained by `headstart train`: it has a command of its own.",
                              expected="one of " + ", ".join(STRATEGIES), found=repr(name),
                              fix="run `" + OWN_COMMANDS[name].format(data="DATA") + "`")
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


def saved_strategy(described: dict) -> Strategy:
    """Rebuild a strategy from what a saved run recorded (`Strategy.describe()`). Runs saved before LoRA's
    default became "all-linear" (2026-11-26) recorded target_modules None, which then meant the anatomy
    table's attention projections: they are read as such, as their adapter weights were trained."""
    options = dict(described.get("options", {}))
    options.pop("refit", None)  # a features option until 2026-12-03, now a training one (TrainConfig.refit)
    if described["strategy"] == "lora" and "target_modules" in options and options["target_modules"] is None:
        options["target_modules"] = ["attention"]
    return make_strategy(described["strategy"], **options)
