"""Instruction tuning's own options and the strategies that train a generator, declared once and
torch-free."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import option

__all__ = ["GenerationOptions", "GENERATION_STRATEGIES", "OPTIONS"]


GENERATION_STRATEGIES = ("lora", "ia3", "prompt", "prefix", "full", "top-n")


@dataclass
class GenerationOptions:
    """How instruction examples become token sequences."""

    packing: bool = option(False, "generation: concatenate short decoder examples up to max_length")
    chat_template: bool = option(True, "generation: use the tokenizer's chat template when it has one (else the "
                                 "plain ### Instruction template)")


OPTIONS = (GenerationOptions,)
