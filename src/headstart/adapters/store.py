"""Adapters as artifacts: save, load, switch and delete them on one backbone, whatever their kind. Each kind
is a class that answers these for itself (`KINDS`); nothing else asks which kind an adapter is.

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

from headstart.adapters.names import is_adapter_parameter, is_peft_parameter
from headstart.errors import ConfigError, HeadstartError

__all__ = ["AdapterKind", "CannotMerge", "KINDS", "ADAPTER_KINDS", "adapter_kind", "save_adapter", "load_adapter", "adapter_bytes",
           "pretrained_named_parameters"]

CONFIG = "adapter_config.json"
WEIGHTS = "adapter_model.safetensors"


class AdapterKind:
    """What one kind of adapter answers for itself: how it is saved and loaded, and, with several adapters
    on one backbone (headstart.multi), how it joins, is switched on and is removed. Hooks that take
    `multi` read and keep their own state there (`multi.kind_state(self)`) and in the adapter's `entry`."""

    name: str = ""

    def save(self, model, folder: Path, *, strategy, name: str) -> None:
        raise NotImplementedError

    def load(self, model, folder: Path, *, name: str) -> None:
        raise NotImplementedError

    def join(self, multi, folder: Path, name: str) -> dict:
        """Load adapter `name` beside the others; returns what its entry keeps."""
        self.load(multi.model, folder, name=name)
        return {}

    def activate(self, multi, name: str, entry) -> None:
        raise NotImplementedError

    def deactivate_all(self, multi) -> None:
        """Turn every adapter of this kind off."""

    def remove(self, multi, name: str, entry) -> None:
        raise NotImplementedError

    def merged(self, model):
        """The backbone with the adapter folded into its weights (a stock transformers model), or
        CannotMerge saying why not."""
        return model.backbone


class CannotMerge(Exception):
    """An adapter kind whose weights cannot be folded into the stock architecture; the message says why."""


class PeftAdapters(AdapterKind):
    """LoRA, IA3, prefix, prompt: written and read by peft itself. On one backbone: one PeftModel per peft
    type (peft cannot mix types in one), attached only while one of its adapters is active; LoRA / IA3
    layers sit in the backbone and are switched off otherwise."""

    name = "peft"
    INJECTED = {"LORA", "IA3"}  # types that rewrite the backbone's projections: one of them at a time

    def save(self, model, folder, *, strategy, name):
        model.peft.save_pretrained(str(folder), selected_adapters=[name])
        nested = folder / name  # peft puts a non-default adapter in a subfolder: keep one flat layout
        if nested.is_dir():
            for f in nested.iterdir():
                f.replace(folder / f.name)
            nested.rmdir()

    def load(self, model, folder, *, name):
        from peft import PeftModel

        if model.peft is None:
            model.attach_peft(PeftModel.from_pretrained(model.backbone, str(folder), adapter_name=name))
        else:
            model.peft.load_adapter(str(folder), adapter_name=name)
            model.peft.set_adapter(name)
            model.attach_peft(model.peft)

    def join(self, multi, folder, name):
        wrappers = multi.kind_state(self)
        peft_type = _config(folder).get("peft_type")
        clash = [t for t in wrappers if {t, peft_type} <= self.INJECTED and t != peft_type]
        if clash:
            raise ConfigError(f"a {peft_type} adapter cannot join the loaded {clash[0]} adapters on one backbone.",
                              expected=f"more {clash[0]} adapters, or adapters of another kind (prompt, prefix, "
                              "adapter, compacter, bitfit)", found=peft_type,
                              fix=f"unload the {clash[0]} adapters first, or serve it from a second "
                              "MultiAdapterClassifier")
        multi.model.attach_peft(wrappers.get(peft_type))  # joins the adapters of its type
        self.load(multi.model, folder, name=name)
        wrappers[peft_type] = multi.model.peft
        multi.model.attach_peft(None)
        return {"peft_type": peft_type}

    def activate(self, multi, name, entry):
        wrapper = multi.kind_state(self)[entry.state["peft_type"]]
        wrapper.set_adapter(name)
        _set_peft_layers(wrapper, enabled=True)
        multi.model.attach_peft(wrapper)

    def deactivate_all(self, multi):
        for wrapper in multi.kind_state(self).values():
            _set_peft_layers(wrapper, enabled=False)
        multi.model.attach_peft(None)  # the forward no longer goes through the wrapper (prompt adapters)

    def remove(self, multi, name, entry):
        wrappers, peft_type = multi.kind_state(self), entry.state["peft_type"]
        if any(e.state.get("peft_type") == peft_type for n, e in multi.entries.items() if n != name):
            wrappers[peft_type].delete_adapter(name)
        else:  # the last of its type: take its layers out of the backbone altogether
            if hasattr(wrappers[peft_type].base_model, "unload"):  # LoRA / IA3 (prompts inject nothing)
                wrappers[peft_type].base_model.unload()
            del wrappers[peft_type]

    def merged(self, model):
        config = model.peft.peft_config[model.peft.active_adapter]
        if model.prompt_learning or str(getattr(config.peft_type, "value", config.peft_type)) in (
                "PREFIX_TUNING", "P_TUNING"):
            raise CannotMerge("its virtual tokens are not weights of the backbone")
        return model.peft.merge_and_unload()


class BottleneckAdapters(AdapterKind):
    """headstart's Houlsby / Pfeiffer adapters and Compacter, config {"headstart_type": "bottleneck", ...};
    several live in the backbone's sites by name and one runs."""

    name = "bottleneck"

    def save(self, model, folder, *, strategy, name):
        from headstart.adapters.bottleneck import adapter_state_dict

        # keys without the adapter's name (as peft saves them): it is chosen again when loading
        marker = f".headstart_adapters.{name}."
        state = {k.replace(marker, ".headstart_adapters."): v for k, v in adapter_state_dict(model.backbone, name).items()}
        _write(model, folder, state, {"headstart_type": self.name, **asdict(strategy.bottleneck_config())})

    def load(self, model, folder, *, name):
        from headstart.adapters.bottleneck import BottleneckConfig, load_adapter_state_dict

        fields = {k: v for k, v in _config(folder).items() if k not in ("headstart_type", "base_model_name_or_path")}
        state = {k.replace(".headstart_adapters.", f".headstart_adapters.{name}."): v
                 for k, v in load_file(str(folder / WEIGHTS)).items()}
        load_adapter_state_dict(model.backbone, model.anatomy, BottleneckConfig(**fields), state, name)

    def activate(self, multi, name, entry):
        from headstart.adapters.bottleneck import set_active_adapter

        set_active_adapter(multi.model.backbone, name)

    def deactivate_all(self, multi):
        from headstart.adapters.bottleneck import adapter_names, set_active_adapter

        if adapter_names(multi.model.backbone):
            set_active_adapter(multi.model.backbone, None)

    def remove(self, multi, name, entry):
        from headstart.adapters.bottleneck import delete_adapter

        delete_adapter(multi.model.backbone, name)

    def merged(self, model):
        raise CannotMerge("its adapter modules are not part of the stock architecture")


class BitFitAdapters(AdapterKind):
    """The trained bias vectors under their backbone names, config {"headstart_type": "bitfit"}. On one
    backbone they are copied in while active; the pretrained biases (kept at the first join) otherwise."""

    name = "bitfit"

    def save(self, model, folder, *, strategy, name):
        state = {n: p.detach().cpu().contiguous() for n, p in pretrained_named_parameters(model.backbone).items()
                 if n.endswith("bias")}
        _write(model, folder, state, {"headstart_type": self.name})

    def load(self, model, folder, *, name):
        _copy_biases(model.backbone, load_file(str(folder / WEIGHTS)))

    def join(self, multi, folder, name):
        state = multi.kind_state(self)
        if "pretrained" not in state:  # the backbone's own biases, not those of other kinds' adapters
            state["pretrained"] = {n: p.detach().clone() for n, p in pretrained_named_parameters(multi.model.backbone).items()
                                   if n.endswith("bias") and not is_adapter_parameter(n) and not is_peft_parameter(n)}
        return {"biases": load_file(str(folder / WEIGHTS))}  # copied in only while active

    def activate(self, multi, name, entry):
        _copy_biases(multi.model.backbone, entry.state["biases"])

    def deactivate_all(self, multi):
        if "pretrained" in multi.kind_state(self):
            _copy_biases(multi.model.backbone, multi.kind_state(self)["pretrained"])

    def remove(self, multi, name, entry):
        """Its biases go with its entry."""

    # merged: the trained biases are weights of the backbone already


KINDS: dict[str, AdapterKind] = {k.name: k for k in (PeftAdapters(), BottleneckAdapters(), BitFitAdapters())}
ADAPTER_KINDS = tuple(KINDS)


def adapter_kind(folder: Path) -> AdapterKind:
    """The kind of the adapter saved in `folder` (a clear error where there is none, or an unknown one)."""
    folder = Path(folder)
    if not (folder / CONFIG).exists():
        raise HeadstartError(f"{folder} holds no adapter.", expected=f"{CONFIG} and {WEIGHTS}",
                             found="no " + CONFIG, fix="pass the model folder of an adapter run (lora, bitfit, ...)")
    kind = _config(folder).get("headstart_type", "peft")
    if kind not in KINDS:
        raise HeadstartError(f"unknown adapter type in {folder / CONFIG}.", expected=", ".join(ADAPTER_KINDS),
                             found=repr(kind), fix="re-save the adapter with this version of headstart")
    return KINDS[kind]


def save_adapter(model, kind: str, folder: Path, *, strategy=None, name: str = "default") -> None:
    """Write adapter `name` of `model` (a TransformerClassifier) into `folder`."""
    if kind not in KINDS:
        raise ValueError(f"unknown adapter kind {kind!r}")
    KINDS[kind].save(model, Path(folder), strategy=strategy, name=name)


def load_adapter(model, folder: Path, *, name: str = "default") -> str:
    """Load the adapter saved in `folder` into `model` under `name` and make it active; returns its kind.
    The backbone must be the one the adapter was trained on (same family and sizes)."""
    kind = adapter_kind(folder)
    kind.load(model, Path(folder), name=name)
    return kind.name


def pretrained_named_parameters(backbone) -> dict:
    """Parameters under their pretrained names: peft renames an adapted `query.weight` to
    `query.base_layer.weight`, and a bias saved by BitFit must find its tensor either way."""
    return {n.replace(".base_layer", ""): p for n, p in backbone.named_parameters()}


def _config(folder: Path) -> dict:
    return json.loads((Path(folder) / CONFIG).read_text())


def _write(model, folder: Path, state: dict, config: dict) -> None:
    save_file(state, str(folder / WEIGHTS))
    base = getattr(model.backbone.config, "_name_or_path", "")
    (folder / CONFIG).write_text(json.dumps({**config, "base_model_name_or_path": base}, indent=2))


@torch.no_grad()
def _copy_biases(backbone, biases: dict) -> None:
    params = pretrained_named_parameters(backbone)
    for key, value in biases.items():
        params[key].copy_(value)


def _set_peft_layers(wrapper, enabled: bool) -> None:
    """Switch LoRA / IA3 layers on or off (prompt-learning adapters act through the wrapper's forward)."""
    tuner = wrapper.base_model
    if hasattr(tuner, "enable_adapter_layers"):
        tuner.enable_adapter_layers() if enabled else tuner.disable_adapter_layers()


def adapter_bytes(folder: Path) -> int:
    """Size on disk of the adapter files (config + weights + head) in a model folder."""
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file() and f.name != "headstart.json")
