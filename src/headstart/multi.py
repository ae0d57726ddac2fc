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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.torch import load_file
from torch import nn

from headstart.adapters.store import AdapterKind, adapter_kind
from headstart.backbones import DEFAULT_BACKBONE, load_backbone
from headstart.errors import ConfigError, HeadstartError
from headstart.modeling import TransformerClassifier
from headstart.training import Examples, predict_logits, probabilities, tokenize

__all__ = ["MultiAdapterClassifier"]


@dataclass
class _Entry:
    kind: AdapterKind
    labels: list[str]
    multilabel: bool
    max_length: int
    head: nn.Linear
    state: dict = field(default_factory=dict)  # what the kind keeps for this adapter (peft type, biases)


class MultiAdapterClassifier:
    """Serve several adapter runs from one loaded backbone (see module docstring). Each adapter kind
    (headstart.adapters.store.KINDS) joins, switches and removes its own adapters."""

    def __init__(self, backbone: str = DEFAULT_BACKBONE) -> None:
        self.backbone = load_backbone(backbone)
        self.model = TransformerClassifier(self.backbone.model, self.backbone.anatomy, n_labels=1)
        self.model.eval()
        self.entries: dict[str, _Entry] = {}
        self._kind_states: dict[str, dict] = {}
        self.active: str | None = None

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def kind_state(self, kind: AdapterKind) -> dict:
        """What one adapter kind keeps for all its adapters on this backbone (its peft wrappers, say)."""
        return self._kind_states.setdefault(kind.name, {})

    def load(self, path: str | Path, name: str) -> MultiAdapterClassifier:
        """Add the adapter saved in a model folder (a run's `model/`, or the run folder) under `name`."""
        path = Path(path)
        path = path / "model" if (path / "model" / "headstart.json").exists() else path
        meta = self._read_meta(path)
        if name in self.entries:
            raise ConfigError(f"an adapter named {name!r} is loaded already.", expected="a new name",
                              found=name, fix=f"unload({name!r}) first, or choose another name")
        kind = adapter_kind(path)
        self._deactivate()
        self.active = None  # until the new adapter is in place (a failed load leaves none active)
        state = kind.join(self, path, name)
        self.entries[name] = _Entry(kind, meta["labels"], meta["multilabel"], meta["max_length"], self._head(path),
                                    state)
        self.use(name)
        return self

    def use(self, name: str) -> MultiAdapterClassifier:
        """Make adapter `name` the one that predicts."""
        entry = self._entry(name)
        self._deactivate()
        entry.kind.activate(self, name, entry)
        self.model.head = entry.head
        self.active = name
        return self

    def unload(self, name: str) -> None:
        """Remove adapter `name` and free its weights."""
        entry = self._entry(name)
        if self.active == name:
            self._deactivate()
            self.active = None
        entry.kind.remove(self, name, entry)
        del self.entries[name]

    def predict_proba(self, texts: list[str], adapter: str | None = None) -> np.ndarray:
        """(n, n_classes) probabilities from `adapter` (default: the active one)."""
        if adapter is not None and adapter != self.active:
            self.use(adapter)
        if self.active is None:
            raise ConfigError("no adapter is active.", expected="a loaded adapter", found="none",
                              fix="load(path, name) one, or pass adapter=NAME")
        entry = self.entries[self.active]
        ids = tokenize(self.backbone.tokenizer, list(texts), entry.max_length)
        logits = predict_logits(self.model, Examples(ids, None), pad_id=self.backbone.tokenizer.pad_token_id)
        return probabilities(logits, entry.multilabel)

    def predict(self, texts: list[str], adapter: str | None = None) -> np.ndarray:
        proba = self.predict_proba(texts, adapter)
        labels = np.array(self.entries[self.active].labels)
        if self.entries[self.active].multilabel:
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

    def _head(self, path: Path) -> nn.Linear:
        state = load_file(str(path / "head.safetensors"))
        n_labels, hidden = state["weight"].shape
        head = nn.Linear(hidden, n_labels)
        head.load_state_dict(state)
        return head.to(self.model.head.weight.device).eval()

    def _entry(self, name: str) -> _Entry:
        if name not in self.entries:
            raise ConfigError(f"no adapter named {name!r} is loaded.", expected="one of " + (", ".join(self.names)
                              or "(none loaded)"), found=name, fix="load(path, name) it first")
        return self.entries[name]

    def _deactivate(self) -> None:
        """Turn every adapter off: the bare backbone computes."""
        for kind in {e.kind.name: e.kind for e in self.entries.values()}.values():
            kind.deactivate_all(self)
        self.model.attach_peft(None)
