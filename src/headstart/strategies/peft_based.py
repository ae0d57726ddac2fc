"""`lora`, `ia3`, `prefix`, `prompt`: parameter-efficient strategies through peft.

The backbone stays frozen bit for bit; only the peft parameters and the task head train, and a trained
model saves them in the PEFT folder layout with the head beside them (headstart.persist). LoRA on the top
N blocks only also gets the frozen-prefix cache: the blocks below run once per text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from headstart.adapters.names import ALL_LINEAR, ATTENTION, TARGET_KEYWORDS, is_peft_parameter
from headstart.config import check_range, option
from headstart.errors import ConfigError
from headstart.strategies.base import ADAPTER_DEFAULTS, Strategy

__all__ = ["Lora", "LoraOptions", "IA3", "IA3Options", "Prefix", "PrefixOptions", "Prompt", "PromptOptions"]


_TARGETS = ("lora: all-linear (every linear projection in the blocks), attention (the anatomy table's "
            "query/value ...) or projection names; ia3: projection names (default: keys, values, "
            "feed-forward output)")


@dataclass
class LoraOptions:
    """All-linear is the default target because query/value alone under-fit on the packaged MiniLM: SST-2,
    3 seeds, test accuracy 0.853 -> 0.862 (docs/benchmarks.md#lora-targets)."""

    rank: int = option(8, "lora: rank r of the update B @ A")
    alpha: float = option(16.0, "lora: scale alpha (the update is multiplied by alpha / r)")
    lora_dropout: float = option(0.1, "lora: dropout on the LoRA input")
    target_modules: list[str] = option(None, _TARGETS, factory=lambda: [ALL_LINEAR])
    top_n: int | None = option(None, "top-n: how many of the highest blocks train; lora: adapt only the top N "
                               "blocks")

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str):  # "all-linear", "attention", or one name
            self.target_modules = [self.target_modules]
        keywords = [t for t in self.target_modules if t in TARGET_KEYWORDS]
        if not self.target_modules or (keywords and len(self.target_modules) > 1):
            raise ConfigError("target_modules: name projections, or give one of the keywords alone.",
                              expected=" or ".join(map(repr, TARGET_KEYWORDS)) + ", or projection names",
                              found=", ".join(self.target_modules) or "nothing",
                              fix=f"pass {ALL_LINEAR}, {ATTENTION}, or a list of names")
        check_range("rank", self.rank, 1, 4096, integer=True)
        check_range("alpha", self.alpha, 1e-6, 1e6)
        check_range("lora_dropout", self.lora_dropout, 0.0, 0.9)
        if self.top_n is not None:
            check_range("top_n", self.top_n, 1, integer=True)


@dataclass
class IA3Options:
    """None takes keys, values and the feed-forward output."""

    target_modules: list[str] | None = option(None, _TARGETS)


_VIRTUAL = "prompt / prefix: virtual tokens (prompt: before the input; prefix: key/value pairs per layer)"


@dataclass
class PromptOptions:
    """The learned soft prompt's length."""

    virtual_tokens: int = option(20, _VIRTUAL)

    def __post_init__(self) -> None:
        check_range("virtual_tokens", self.virtual_tokens, 1, 512, integer=True)


@dataclass
class PrefixOptions:
    """Li & Liang 2021 reparameterise the prefix through an MLP: more parameters while training, steadier."""

    virtual_tokens: int = option(20, _VIRTUAL)
    projection: bool = option(False, "prefix: reparameterise the prefix through an MLP")

    def __post_init__(self) -> None:
        check_range("virtual_tokens", self.virtual_tokens, 1, 512, integer=True)


class _PeftStrategy(Strategy):
    method: ClassVar[str]
    adapter = "peft"
    defaults = ADAPTER_DEFAULTS

    def prepare(self, model) -> None:
        from headstart.adapters.peft_methods import attach, peft_config  # torch and peft: only when building

        config = peft_config(self.method, self.options, model.backbone, model.anatomy, model.head.in_features)
        # generative models (headstart.generation) ask for the causal-LM / seq2seq wrapper
        model.attach_peft(attach(model.backbone, config, task_type=getattr(model, "peft_task_type", None)))

    def keep(self, name: str) -> bool:
        return is_peft_parameter(name)

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        blocks = [g for g in group_names if g.startswith("block_")]
        n = getattr(self.options, "top_n", None) or len(blocks)
        return blocks[len(blocks) - n:] + ["head"]


class Lora(_PeftStrategy):
    name = "lora"
    method = "lora"
    summary = "LoRA: low-rank updates of the blocks' linear projections + head (backbone frozen; peft)"
    options_cls = LoraOptions
    # 2e-3 beat 5e-4 and 1e-3 on held-out training rows of SST-2 and Banking77 (benchmarks/sweep.py); patience 0
    # (every epoch runs, the best kept), as full's: see Full.defaults (LoRA gained most: sick +3.6 / +5.7,
    # goemotions +5.5 macro-F1 where patience 2 had stopped it)
    defaults = {**ADAPTER_DEFAULTS, "lr": 2e-3, "patience": 0}


class IA3(_PeftStrategy):
    name = "ia3"
    method = "ia3"
    summary = "IA3: learned rescaling of keys, values and feed-forward outputs + head (fewest parameters; peft)"
    options_cls = IA3Options
    defaults = {**ADAPTER_DEFAULTS, "lr": 5e-3}  # scaling vectors start at 1 and need larger steps


class Prompt(_PeftStrategy):
    name = "prompt"
    method = "prompt"
    summary = "soft prompt tuning: learned virtual tokens before the input + head (backbone frozen; peft)"
    options_cls = PromptOptions
    defaults = {**ADAPTER_DEFAULTS, "lr": 5e-3}

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        return ["prompt", "head"]


class Prefix(Prompt):
    name = "prefix"
    method = "prefix"
    summary = "prefix tuning: learned key/value prefixes in every layer + head (backbone frozen; peft)"
    options_cls = PrefixOptions

    def prepare(self, model) -> None:
        from headstart.adapters.peft_methods import check_prefix_effect

        super().prepare(model)
        check_prefix_effect(model.peft, model.backbone, model.anatomy.family)
