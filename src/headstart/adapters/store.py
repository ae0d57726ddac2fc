"""Adapters as artifacts: save, load, switch and delete them on one backbone, whatever their kind.

Every kind is saved in the PEFT folder layout (`adapter_config.json` + `adapter_model.safetensors`):

    peft        LoRA, IA3, prefix, prompt: written and read by peft itself, so `PeftModel.from_pretrained`
                (outside headstart) loads it too
    bottleneck  headstart's Houlsby / Pfeiffer adapters and Compacter: config {"headstart_type": "bottleneck", ...}
    bitfit      the trained bias vectors, under their backbone names: config {"headstart_type": "bitfit"}

The task head is saved next to them by headstart.persist (head.safetensors), so a reloaded adapter
predicts exactly as before saving.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from headstart.errors import HeadstartError

__all__ = ["ADAPTER_KINDS", "save_adapter", "load_adapter", "adapter_bytes", "read_adapter_kind",
           "pretrained_named_parameters"]

ADAPTER_KINDS = ("peft", "bottleneck", "bitfit")
CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"


def save_adapter(model, kind: str, folder: Path, *, strategy=None, name: str = "default") -> None:
    """Write adapter `name` of `model` (a TransformerClassifier) into `folder`."""
    folder = Path(folder)
    if kind == "peft":
        model.peft.save_pretrained(str(folder), selected_adapters=[name])
        nested = folder / name  # peft puts a non-default adapter in a subfolder: keep one flat layout
        if nested.is_dir():
            for f in nested.iterdir():
                f.replace(folder / f.name)
            nested.rmdir()
        return
    base = getattr(model.backbone.config, "_name_or_path", "")
    if kind == "bitfit":
        state = {n: p.detach().cpu().contiguous() for n, p in pretrained_named_parameters(model.backbone).items()
                 if n.endswith("bias")}
        config = {"headstart_type": "bitfit"}
    elif kind == "bottleneck":
        from headstart.adapters.bottleneck import adapter_state_dict

        # keys without the adapter's name (as peft saves them): it is chosen again when loading
        marker = f".headstart_adapters.{name}."
        state = {k.replace(marker, ".headstart_adapters."): v for k, v in adapter_state_dict(model.backbone, name).items()}
        config = {"headstart_type": "bottleneck", **asdict(strategy.bottleneck_config())}
    else:
        raise ValueError(f"unknown adapter kind {kind!r}")
    save_file(state, str(folder / WEIGHTS))
    (folder / CONFIG).write_text(json.dumps({**config, "base_model_name_or_path": base}, indent=2))


def pretrained_named_parameters(backbone) -> dict:
    """Parameters under their pretrained names: peft renames an adapted `query.weight` to
    `query.base_layer.weight`, and a bias saved by BitFit must find its tensor either way."""
    return {n.replace(".base_layer", ""): p for n, p in backbone.named_parameters()}


def read_adapter_kind(folder: Path) -> str:
    config = json.loads((Path(folder) / CONFIG).read_text())
    return config.get("headstart_type", "peft")


def load_adapter(model, folder: Path, *, name: str = "default") -> str:
    """Load the adapter saved in `folder` into `model` under `name` and make it active; returns its kind.
    The backbone must be the one the adapter was trained on (same family and sizes)."""
    folder = Path(folder)
    if not (folder / CONFIG).exists():
        raise HeadstartError(f"{folder} holds no adapter.", expected=f"{CONFIG} and {WEIGHTS}",
                             found="no " + CONFIG, fix="pass the model folder of an adapter run (lora, bitfit, ...)")
    config = json.loads((folder / CONFIG).read_text())
    kind = config.get("headstart_type", "peft")
    if kind == "peft":
        from peft import PeftModel

        if model.peft is None:
            model.attach_peft(PeftModel.from_pretrained(model.backbone, str(folder), adapter_name=name))
        else:
            model.peft.load_adapter(str(folder), adapter_name=name)
            model.peft.set_adapter(name)
            model.attach_peft(model.peft)
    elif kind == "bitfit":
        state = load_file(str(folder / WEIGHTS))
        params = pretrained_named_parameters(model.backbone)
        with torch.no_grad():
            for key, value in state.items():
                params[key].copy_(value)
    elif kind == "bottleneck":
        from headstart.adapters.bottleneck import BottleneckConfig, load_adapter_state_dict

        fields = {k: v for k, v in config.items() if k not in ("headstart_type", "base_model_name_or_path")}
        state = {k.replace(".headstart_adapters.", f".headstart_adapters.{name}."): v
                 for k, v in load_file(str(folder / WEIGHTS)).items()}
        load_adapter_state_dict(model.backbone, model.anatomy, BottleneckConfig(**fields), state, name)
    else:
        raise HeadstartError(f"unknown adapter type in {folder / CONFIG}.", expected=", ".join(ADAPTER_KINDS),
                             found=repr(kind), fix="re-save the adapter with this version of headstart")
    return kind


def adapter_bytes(folder: Path) -> int:
    """Size on disk of the adapter files (config + weights + head) in a model folder."""
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file() and f.name != "headstart.json")
