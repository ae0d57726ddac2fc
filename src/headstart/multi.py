"""One backbone in memory, many task adapters: load by name, switch, predict with a named adapter, unload.

    multi = MultiAdapterClassifier("minilm")
    multi.load("runs/spam/model", name="spam").load("runs/intent/model", name="intent")
    multi.predict(["WINNER!! Claim your prize"], adapter="spam")
    multi.unload("spam")

Each adapter brings its own head and labels. Adapters of every kind may share the backbone (LoRA, IA3,
prefix, prompt, bitfit, adapter, compacter): switching turns the others off, so predictions with an adapter
equal those of its own saved classifier (tests/test_adapters.py checks it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from headstart.adapters import bottleneck
from headstart.adapters.store import load_adapter, pretrained_named_parameters
from headstart.backbones import DEFAULT_BACKBONE, load_backbone
from headstart.errors import ConfigError, HeadstartError
from headstart.modeling import TransformerClassifier
from headstart.training import Examples, predict_logits, probabilities, tokenize

__all__ = ["MultiAdapterClassifier"]


@dataclass
class _Entry:
    kind: str
    labels: list[str]
    multilabel: bool
    max_length: int
    head: nn.Linear
    peft_type: str | None = None  # peft adapters: LORA, IA3, PROMPT_TUNING, PREFIX_TUNING
    biases: dict[str, torch.Tensor] | None = None  # bitfit: the adapter's bias vectors


class MultiAdapterClassifier:
    """Serve several adapter runs from one loaded backbone (see module docstring)."""

    def __init__(self, backbone: str = DEFAULT_BACKBONE) -> None:
        self.backbone = load_backbone(backbone)
        self._model = TransformerClassifier(self.backbone.model, self.backbone.anatomy, n_labels=1)
        self._model.eval()
        self._pretrained_biases = {n: p.detach().clone() for n, p in self.backbone.model.named_parameters()
                                   if n.endswith("bias")}
        self._entries: dict[str, _Entry] = {}
        # one PeftModel per peft type (peft cannot mix types in one), attached only while one of its
        # adapters is active; LoRA / IA3 layers sit in the backbone and are switched off otherwise
        self._pefts: dict[str, object] = {}
        self.active: str | None = None

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def load(self, path: str | Path, name: str) -> MultiAdapterClassifier:
        """Add the adapter saved in a model folder (a run's `model/`, or the run folder) under `name`."""
        path = Path(path)
        path = path / "model" if (path / "model" / "headstart.json").exists() else path
        meta = self._read_meta(path)
        if name in self._entries:
            raise ConfigError(f"an adapter named {name!r} is loaded already.", expected="a new name",
                              found=name, fix=f"unload({name!r}) first, or choose another name")
        self._deactivate()
        self.active = None  # until the new adapter is in place (a failed load leaves none active)
        peft_type = json.loads((path / "adapter_config.json").read_text()).get("peft_type")
        self._check_peft_type(peft_type)
        self._model.attach_peft(self._pefts.get(peft_type))  # joins the adapters of its type
        kind = load_adapter(self._model, path, name=name)
        if kind == "peft":
            self._pefts[peft_type] = self._model.peft
        self._model.attach_peft(None)
        entry = _Entry(kind, meta["labels"], meta["multilabel"], meta["max_length"], self._head(path),
                       peft_type if kind == "peft" else None)
        if kind == "bitfit":
            entry.biases = load_file(str(path / "adapter_model.safetensors"))
            self._restore_biases()
        self._entries[name] = entry
        self.use(name)
        return self

    def use(self, name: str) -> MultiAdapterClassifier:
        """Make adapter `name` the one that predicts."""
        entry = self._entry(name)
        self._deactivate()
        if entry.kind == "peft":
            wrapper = self._pefts[entry.peft_type]
            wrapper.set_adapter(name)
            _set_peft_layers(wrapper, enabled=True)
            self._model.attach_peft(wrapper)
        elif entry.kind == "bottleneck":
            bottleneck.set_active_adapter(self._model.backbone, name)
        elif entry.kind == "bitfit":
            self._copy_biases(entry.biases)
        self._model.head = entry.head
        self.active = name
        return self

    def unload(self, name: str) -> None:
        """Remove adapter `name` and free its weights."""
        entry = self._entry(name)
        if self.active == name:
            self._deactivate()
            self.active = None
        if entry.kind == "peft":
            wrapper = self._pefts[entry.peft_type]
            if any(e.peft_type == entry.peft_type for n, e in self._entries.items() if n != name):
                wrapper.delete_adapter(name)
            else:  # the last of its type: take its layers out of the backbone altogether
                if hasattr(wrapper.base_model, "unload"):  # LoRA / IA3 (prompts inject nothing)
                    wrapper.base_model.unload()
                del self._pefts[entry.peft_type]
        elif entry.kind == "bottleneck":
            bottleneck.delete_adapter(self._model.backbone, name)
        del self._entries[name]

    def predict_proba(self, texts: list[str], adapter: str | None = None) -> np.ndarray:
        """(n, n_classes) probabilities from `adapter` (default: the active one)."""
        if adapter is not None and adapter != self.active:
            self.use(adapter)
        if self.active is None:
            raise ConfigError("no adapter is active.", expected="a loaded adapter", found="none",
                              fix="load(path, name) one, or pass adapter=NAME")
        entry = self._entries[self.active]
        ids = tokenize(self.backbone.tokenizer, list(texts), entry.max_length)
        logits = predict_logits(self._model, Examples(ids, None), pad_id=self.backbone.tokenizer.pad_token_id)
        return probabilities(logits, entry.multilabel)

    def predict(self, texts: list[str], adapter: str | None = None) -> np.ndarray:
        proba = self.predict_proba(texts, adapter)
        labels = np.array(self._entries[self.active].labels)
        if self._entries[self.active].multilabel:
            return np.array([tuple(labels[row >= 0.5]) for row in proba] + [None], dtype=object)[:-1]
        return labels[proba.argmax(1)]

    # ---- internals ---------------------------------------------------------------------------
    def _read_meta(self, path: Path) -> dict:
        if not (path / "headstart.json").exists():
            raise HeadstartError(f"{path} is not a headstart model folder.", expected="headstart.json",
                                 found="no such file", fix="pass the --out folder of `headstart train`")
        meta = json.loads((path / "headstart.json").read_text())
        if not meta.get("adapter"):
            raise ConfigError(f"{path} holds a whole fine-tuned model, not an adapter.",
                              expected="a run of an adapter strategy (lora, ia3, prefix, prompt, bitfit, adapter, "
                              "compacter)", found=f"strategy {meta['strategy'].get('strategy')!r}",
                              fix="load it on its own with HeadstartClassifier.load")
        if meta["backbone_name"] != self.backbone.name and meta["backbone_source"] != self.backbone.source:
            raise ConfigError(f"{path} was trained on another backbone.", expected=self.backbone.name,
                              found=meta["backbone_name"], fix="serve it from a MultiAdapterClassifier of that backbone")
        return meta

    def _check_peft_type(self, peft_type: str | None) -> None:
        """LoRA and IA3 both rewrite the backbone's projections: one of the two kinds at a time."""
        injected = {"LORA", "IA3"}
        clash = [t for t in self._pefts if t in injected and peft_type in injected and t != peft_type]
        if clash:
            raise ConfigError(f"a {peft_type} adapter cannot join the loaded {clash[0]} adapters on one backbone.",
                              expected=f"more {clash[0]} adapters, or adapters of another kind (prompt, prefix, "
                              "adapter, compacter, bitfit)", found=peft_type,
                              fix=f"unload the {clash[0]} adapters first, or serve it from a second "
                              "MultiAdapterClassifier")

    def _head(self, path: Path) -> nn.Linear:
        state = load_file(str(path / "head.safetensors"))
        n_labels, hidden = state["weight"].shape
        head = nn.Linear(hidden, n_labels)
        head.load_state_dict(state)
        return head.to(self._model.head.weight.device).eval()

    def _entry(self, name: str) -> _Entry:
        if name not in self._entries:
            raise ConfigError(f"no adapter named {name!r} is loaded.", expected="one of " + (", ".join(self.names)
                              or "(none loaded)"), found=name, fix="load(path, name) it first")
        return self._entries[name]

    def _deactivate(self) -> None:
        """Turn every adapter off: the bare backbone computes."""
        for wrapper in self._pefts.values():
            _set_peft_layers(wrapper, enabled=False)
        self._model.attach_peft(None)  # the forward no longer goes through the wrapper (prompt adapters)
        if bottleneck.adapter_names(self._model.backbone):
            bottleneck.set_active_adapter(self._model.backbone, None)
        self._restore_biases()

    def _restore_biases(self) -> None:
        self._copy_biases(self._pretrained_biases)

    @torch.no_grad()
    def _copy_biases(self, biases: dict[str, torch.Tensor]) -> None:
        params = pretrained_named_parameters(self._model.backbone)
        for key, value in biases.items():
            params[key].copy_(value)


def _set_peft_layers(wrapper, enabled: bool) -> None:
    """Switch LoRA / IA3 layers on or off (prompt-learning adapters act through the wrapper's forward)."""
    tuner = wrapper.base_model
    if hasattr(tuner, "enable_adapter_layers"):
        tuner.enable_adapter_layers() if enabled else tuner.disable_adapter_layers()
