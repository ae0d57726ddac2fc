"""Saving and loading a trained classifier in Hugging Face formats.

    model/
      headstart.json        labels, task (classification / ner / qa), max length, strategy, backbone reference
      head.safetensors      the linear head (weight (C, hidden), bias (C,))
      config.json, model.safetensors, tokenizer files
                            the backbone in Hugging Face format, only when training changed it; a
                            frozen backbone is referenced by name instead (a head-only run is ~100 KB)
      adapter_config.json, adapter_model.safetensors
                            adapter strategies (lora, ia3, prefix, prompt, bitfit, adapter, compacter):
                            the adapter in the PEFT layout (headstart.adapters.store); the backbone is
                            referenced, the head is head.safetensors as always
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from headstart.adapters.store import load_adapter, save_adapter
from headstart.backbones import load_backbone
from headstart.errors import HeadstartError, reading_saved
from headstart.modeling import TransformerClassifier

__all__ = ["SavedMeta", "save_model", "load_model", "model_dir"]

FORMAT_VERSION = 1


@dataclass
class SavedMeta:
    labels: list[str]
    multilabel: bool
    max_length: int
    backbone_name: str
    backbone_source: str
    backbone_saved: bool
    strategy: dict
    adapter: str | None = None  # the adapter kind saved beside the head (see headstart.adapters.store)
    task: str = "classification"  # "classification", "ner" (a tag per token) or "qa" (start/end per token)
    task_options: dict | None = None  # what the task needs to predict again (NER / QA: the window stride)
    format_version: int = FORMAT_VERSION
    token_outputs: bool | None = None  # the head reads every position (tagging, QA); None: older folders

    @property
    def per_token(self) -> bool:
        return self.token_outputs if self.token_outputs is not None else self.task in ("ner", "qa")


def model_dir(path: str | Path) -> Path | None:
    """The model folder of a run (RUN/model) or the model folder itself; None when neither holds headstart.json."""
    path = Path(path)
    return next((folder for folder in (path / "model", path) if (folder / "headstart.json").exists()), None)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of `path` to write a model folder into; when the block ends without
    an error it is renamed into place, so an existing folder is only ever replaced by a complete one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old)
    else:
        os.replace(tmp, path)


def save_model(path: str | Path, model: TransformerClassifier, tokenizer, meta: SavedMeta,
               strategy=None) -> Path:
    """Write the model folder atomically: into a temporary sibling, then renamed into place, so an
    existing folder is only replaced by a complete one. `strategy` is needed for headstart's own
    adapter kinds (their config)."""
    with atomic_folder(path) as tmp:
        save_file({"weight": model.head.weight.detach().contiguous().cpu(),
                   "bias": model.head.bias.detach().contiguous().cpu()}, tmp / "head.safetensors")
        if meta.backbone_saved:
            model.backbone.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        if meta.adapter:
            save_adapter(model, meta.adapter, tmp, strategy=strategy)
        (tmp / "headstart.json").write_text(json.dumps(meta.__dict__, indent=2))
    return Path(path)


def load_model(path: str | Path) -> tuple[TransformerClassifier, object, SavedMeta]:
    """Load what save_model wrote. Returns (model in eval mode, tokenizer, meta)."""
    path = Path(path)
    meta_file = path / "headstart.json"
    if not meta_file.exists():
        raise HeadstartError(
            f"{path} is not a headstart model folder.",
            expected="a folder with headstart.json (a run's `model/` folder or the run folder itself)",
            found="no headstart.json" if path.exists() else "no such folder",
            fix="pass the --out folder of `headstart train`",
        )
    with reading_saved(path):
        return _load_model(path, SavedMeta(**json.loads(meta_file.read_text())))


def _load_model(path: Path, meta: SavedMeta) -> tuple[TransformerClassifier, object, SavedMeta]:
    if meta.backbone_saved:  # the folder itself is a Hugging Face model folder: the registry loads it
        backbone = load_backbone(str(path))
        backbone.name = meta.backbone_name
    else:
        backbone = load_backbone(meta.backbone_source if Path(meta.backbone_source).exists()
                                 else meta.backbone_name)
    model = TransformerClassifier(backbone.model, backbone.anatomy, len(meta.labels), per_token=meta.per_token)
    if meta.adapter:
        load_adapter(model, path)
    head = load_file(path / "head.safetensors")
    with torch.no_grad():
        model.head.weight.copy_(head["weight"])
        model.head.bias.copy_(head["bias"])
    model.eval()
    return model, backbone.tokenizer, meta
