"""LoRA, IA3, prefix tuning and soft prompt tuning through peft.

headstart does not re-implement these: it builds the peft config from the anatomy table (target modules
per family, layer count, hidden size, heads), wraps the bare backbone in a `PeftModel` for feature
extraction, and keeps that wrapper as the one handle for forward, save, load, switch, delete and merge.

LoRA and IA3 are injected into the backbone's own modules, so module paths (and with them the anatomy
table, the layer groups and the frozen-prefix cache) stay valid. Prefix and prompt tuning add a prompt
encoder outside the backbone; the classifier then runs the backbone through the wrapper.

Two guards against the peer failure "trained nothing and said nothing": LoRA target names that match no
module are an error naming the modules that exist, and a prefix that does not change the backbone's
output (an architecture whose attention ignores past key/values) is an error too.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from headstart.adapters.names import (
    ALL_LINEAR,
    ATTENTION,
    PROMPT_LEARNING,
    TARGET_KEYWORDS,
    is_peft_parameter,
)
from headstart.backbones import Anatomy, blocks_of, get_module
from headstart.errors import ConfigError

__all__ = ["ALL_LINEAR", "ATTENTION", "TARGET_KEYWORDS", "PEFT_METHODS", "peft_config", "attach", "projection_names", "is_peft_parameter"]

PEFT_METHODS = ("lora", "ia3", "prefix", "prompt")

# IA3 rescales keys, values and the feed-forward output (Liu et al. 2022). The feed-forward output is the
# anatomy table's second adapter site; the key / value names are these, checked against the model.
_IA3_KEY_VALUE = {"bert": ("key", "value"), "distilbert": ("k_lin", "v_lin"), "mpnet": ("k", "v"),
                  "gpt2": ("c_attn",), "t5": ("k", "v")}


def projection_names(backbone: nn.Module, anatomy: Anatomy) -> list[str]:
    """Leaf names of the linear projections inside a block (what LoRA / IA3 can target)."""
    block = blocks_of(backbone, anatomy)[0]
    names = {name.rsplit(".", 1)[-1] for name, m in block.named_modules()
             if isinstance(m, nn.Linear) or type(m).__name__ == "Conv1D"}
    return sorted(names)


def _check_targets(targets: list[str], backbone: nn.Module, anatomy: Anatomy, what: str) -> None:
    existing = projection_names(backbone, anatomy)
    block = blocks_of(backbone, anatomy)[0]
    paths = [name for name, _ in block.named_modules()]
    missing = [t for t in targets if not any(p == t or p.endswith("." + t) for p in paths)]
    if missing:
        raise ConfigError(
            f"{what} target module(s) {', '.join(missing)} match nothing in this {anatomy.family} model.",
            expected="names of linear projections inside a block: " + ", ".join(existing),
            found=", ".join(missing),
            fix="pass --target-modules with names from the expected list (or leave it out for the "
            "strategy's default)",
        )


def _block_paths(backbone: nn.Module, anatomy: Anatomy, targets: list[str], top_n: int | None) -> list[str]:
    """Full module paths of `targets` in the top `top_n` blocks (all blocks when None). Blocks count bottom
    first: an encoder-decoder's decoder blocks (when the model has them) come above its encoder blocks."""
    stacks = [anatomy.blocks] + [p for p in (anatomy.decoder_blocks,) if p and _has(backbone, p)]
    order = [(path, i) for path in stacks for i in range(len(get_module(backbone, path)))]
    kept = set(order if top_n is None else order[max(0, len(order) - top_n):])
    patterns = [(path, re.compile(rf"^{re.escape(path)}\.(\d+)\.(.+)$")) for path in stacks]
    out = []
    for name, _ in backbone.named_modules():
        for path, pattern in patterns:
            match = pattern.match(name)
            if match and (path, int(match.group(1))) in kept and any(
                    match.group(2) == t or match.group(2).endswith("." + t) for t in targets):
                out.append(name)
    return out


def _has(root: nn.Module, path: str) -> bool:
    try:
        get_module(root, path)
    except AttributeError:
        return False
    return True


def _heads(config) -> int:
    for attr in ("num_attention_heads", "n_head", "n_heads", "num_heads"):
        if getattr(config, attr, None):
            return int(getattr(config, attr))
    raise ConfigError("cannot tell the number of attention heads of this model.",
                      expected="a config with num_attention_heads (or n_head / n_heads / num_heads)",
                      found=type(config).__name__, fix="use lora or adapter instead of prefix / prompt tuning")


def peft_config(method: str, options, backbone: nn.Module, anatomy: Anatomy, hidden: int):
    """The peft config for `method` with this model's targets and sizes filled in from the anatomy."""
    import peft

    n_blocks = len(blocks_of(backbone, anatomy))
    if method == "lora":
        targets = list(options.target_modules)
        if targets == [ALL_LINEAR]:
            targets = projection_names(backbone, anatomy)
        elif targets == [ATTENTION]:
            targets = list(anatomy.attention_targets)
        _check_targets(targets, backbone, anatomy, "LoRA")
        return peft.LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=options.lora_dropout,
                               target_modules=_block_paths(backbone, anatomy, targets, options.top_n),
                               bias="none")
    if method == "ia3":
        family = "bert" if anatomy.family in ("roberta", "xlm-roberta", "camembert", "electra") else anatomy.family
        family = "llama" if family in ("mistral", "qwen2") else family
        kv = _IA3_KEY_VALUE.get(family, ("k_proj", "v_proj"))
        ffn = anatomy.adapter_sites[1] if len(anatomy.adapter_sites) > 1 else None
        targets = list(options.target_modules or (*kv, *([ffn] if ffn else [])))
        _check_targets(targets, backbone, anatomy, "IA3")
        paths = _block_paths(backbone, anatomy, targets, None)
        ffn_paths = [p for p in paths if ffn and (p.endswith("." + ffn))]
        return peft.IA3Config(target_modules=paths, feedforward_modules=ffn_paths)
    if method in PROMPT_LEARNING:
        common = dict(task_type=peft.TaskType.FEATURE_EXTRACTION, num_virtual_tokens=options.virtual_tokens,
                      token_dim=hidden, num_layers=n_blocks, num_attention_heads=_heads(backbone.config))
        if method == "prompt":  # virtual tokens live in the input-embedding space (ELECTRA's is narrower)
            common["token_dim"] = backbone.get_input_embeddings().embedding_dim
            return peft.PromptTuningConfig(**common)
        return peft.PrefixTuningConfig(**common, prefix_projection=options.projection)
    raise ValueError(f"not a peft method: {method}")


def attach(backbone: nn.Module, config, name: str = "default", task_type: str | None = None):
    """Wrap `backbone` in a PeftModel with adapter `name` (feature extraction, unless `task_type` says
    otherwise: "CAUSAL_LM" / "SEQ_2_SEQ_LM" for generative models, whose wrappers put the soft prompt or
    prefix into `generate` too); LoRA / IA3 layers are injected into the backbone itself. Returns the
    PeftModel."""
    import peft

    if task_type is not None:
        config.task_type = peft.TaskType(task_type)
    elif getattr(config, "task_type", None) is None:
        config.task_type = peft.TaskType.FEATURE_EXTRACTION
    return peft.get_peft_model(backbone, config, adapter_name=name)


@torch.no_grad()
def check_prefix_effect(wrapper, backbone: nn.Module, family: str) -> None:
    """Prefix tuning feeds past key/values; an architecture that ignores them would train nothing."""
    ids = torch.ones((1, 3), dtype=torch.long, device=next(backbone.parameters()).device)
    mask = torch.ones_like(ids)
    encoder = wrapper.prompt_encoder[wrapper.active_adapter]
    saved = [p.detach().clone() for p in encoder.parameters()]
    for p in encoder.parameters():
        p.add_(torch.randn_like(p))  # a clearly non-zero prefix
    try:
        with_prefix = _output(wrapper, backbone, ids, mask)
    except Exception as exc:  # noqa: BLE001 - any failure here means the family does not support it
        raise _no_prefix(family, f"{type(exc).__name__}: {exc}") from None
    finally:
        for p, s in zip(encoder.parameters(), saved, strict=True):
            p.copy_(s)
    without = _output(backbone, backbone, ids, mask)  # the bare backbone: no prefix
    if torch.allclose(with_prefix, without):
        raise _no_prefix(family, "the backbone's output did not change with a prefix")


def _output(model, backbone: nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The last hidden states (a bare backbone) or the logits (a whole LM; an encoder-decoder decodes `ids`)."""
    extra = {"decoder_input_ids": ids} if "decoder" in dict(backbone.named_children()) else {}
    out = model(input_ids=ids, attention_mask=mask, **extra)
    hidden = out.get("last_hidden_state")
    return hidden if hidden is not None else out["logits"]


def _no_prefix(family: str, found: str) -> ConfigError:
    return ConfigError(f"prefix tuning does not reach the attention of {family} models.",
                       expected="a family whose attention takes past key/values (BERT, RoBERTa, GPT-2, Llama ...)",
                       found=found, fix="use `prompt` (soft prompt tuning) or `lora` for this backbone")


__all__ += ["PROMPT_LEARNING", "check_prefix_effect"]
