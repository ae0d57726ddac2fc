"""What the strategies and the CLI need to know about adapters without loading torch: the LoRA target
keywords and which parameter names belong to an adapter. `headstart --help` reads these; the modules that
build adapters (`bottleneck`, `peft_methods`) import them from here."""

from __future__ import annotations

__all__ = ["ALL_LINEAR", "ATTENTION", "TARGET_KEYWORDS", "PROMPT_LEARNING", "SLOT", "is_peft_parameter",
           "is_adapter_parameter"]

# LoRA target keywords: every linear projection inside the blocks (peft's own name for it), or the anatomy
# table's attention projections (the LoRA paper's query/value; the default before 2026-11-26)
ALL_LINEAR, ATTENTION = "all-linear", "attention"
TARGET_KEYWORDS = (ALL_LINEAR, ATTENTION)
PROMPT_LEARNING = ("prefix", "prompt")
SLOT = "headstart_adapters"  # the attribute every site keeps its bottleneck adapters under: in every key


def is_peft_parameter(name: str) -> bool:
    """Whether a parameter name belongs to a peft adapter (LoRA, IA3, prompt encoder)."""
    return "lora_" in name or "ia3_" in name or "prompt_encoder" in name


def is_adapter_parameter(param_name: str) -> bool:
    """Whether a (possibly prefixed) parameter name belongs to any bottleneck adapter made here."""
    return f".{SLOT}." in f".{param_name}"
