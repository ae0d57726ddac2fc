"""Saving and loading a trained classifier in Hugging Face formats.

    model/
      headstart.json        labels, task (classification / ner / qa), max length, strategy, backbone reference
      head.safetensors      the linear head (weight (C, hidden), bias (C,))
      config.json, model.safetensors, tokenizer files
                            the backbone in Hugging Face format, only when training changed it (top-n: the changed part); a
                            frozen backbone is referenced by name instead (a head-only run is ~100 KB)
      backbone_delta.safetensors
                            top-n runs (Strategy.saves_delta), when training changed under half of the
                            backbone: only the tensors that differ from the referenced backbone, with a
                            digest of the rest, checked on load
      adapter_config.json, adapter_model.safetensors
                            adapter strategies (lora, ia3, prefix, prompt, bitfit, adapter, compacter):
                            the adapter in the PEFT layout (headstart.adapters.store); the backbone is
                            referenced, the head is head.safetensors as always
"""

from __future__ import annotations

import hashlib
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
DELTA_FILE = "backbone_delta.safetensors"
DELTA_MAX_SHARE = 0.5  # a delta over this share of the backbone's bytes: the whole backbone is saved instead
DELTA_MAX_BYTES = 2 * 1024**3  # finding the delta loads the reference a second time: not for larger backbones


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
    backbone_delta: str | None = None  # the referenced backbone's unchanged tensors' digest, when DELTA_FILE
    # holds the changed ones (then backbone_saved is False: the backbone is the reference plus the delta)

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
    delta = _backbone_delta(model, meta) if meta.backbone_saved and getattr(strategy, "saves_delta", False) else None
    if delta is not None:
        meta = SavedMeta(**(meta.__dict__ | {"backbone_saved": False, "backbone_delta": delta[1]}))
    with atomic_folder(path) as tmp:
        save_file({"weight": model.head.weight.detach().contiguous().cpu(),
                   "bias": model.head.bias.detach().contiguous().cpu()}, tmp / "head.safetensors")
        if meta.backbone_saved:
            model.backbone.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        if delta is not None:
            save_file(delta[0], tmp / DELTA_FILE)
        if meta.adapter:
            save_adapter(model, meta.adapter, tmp, strategy=strategy)
        (tmp / "headstart.json").write_text(json.dumps(meta.__dict__, indent=2))
    return Path(path)


def _reference(meta: SavedMeta):
    return load_backbone(meta.backbone_source if Path(meta.backbone_source).exists() else meta.backbone_name)


def _digest(state: dict[str, torch.Tensor], keys) -> str:
    h = hashlib.sha256()
    for key in sorted(keys):
        h.update(key.encode())
        h.update(state[key].detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def _backbone_delta(model: TransformerClassifier, meta: SavedMeta) -> tuple[dict, str] | None:
    """(the backbone tensors that differ from the referenced pretrained backbone, the digest of the rest),
    or None when the whole backbone should be saved: most of it changed, or the reference cannot be loaded
    here (a hub id without the network): a run is never saved in a form that needs what is missing."""
    state = model.backbone.state_dict()
    size = sum(v.numel() * v.element_size() for v in state.values())
    if size > DELTA_MAX_BYTES:
        return None
    try:
        reference = _reference(meta).model.state_dict()
    except Exception:  # noqa: BLE001 - any failure to load the reference means: save the whole backbone
        return None
    changed = {k: v.detach().contiguous().cpu() for k, v in state.items()
               if k not in reference or v.shape != reference[k].shape or not torch.equal(v.cpu(), reference[k])}
    if sum(v.numel() * v.element_size() for v in changed.values()) > DELTA_MAX_SHARE * size:
        return None
    return changed, _digest(reference, [k for k in state if k not in changed])


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
        backbone = _reference(meta)
    if meta.backbone_delta:
        _apply_delta(backbone.model, path, meta)
    model = TransformerClassifier(backbone.model, backbone.anatomy, len(meta.labels), per_token=meta.per_token)
    if meta.adapter:
        load_adapter(model, path)
    head = load_file(path / "head.safetensors")
    with torch.no_grad():
        model.head.weight.copy_(head["weight"])
        model.head.bias.copy_(head["bias"])
    model.eval()
    return model, backbone.tokenizer, meta


def _apply_delta(backbone, path: Path, meta: SavedMeta) -> None:
    """Put the saved changed tensors into the referenced backbone, after checking that the reference is the
    one the run was trained from (a different model under the same name or path would predict nonsense)."""
    delta = load_file(path / DELTA_FILE)
    state = backbone.state_dict()
    unknown = sorted(set(delta) - set(state))
    if unknown or _digest(state, [k for k in state if k not in delta]) != meta.backbone_delta:
        raise HeadstartError(f"the backbone {path} was trained from is not the one found now.",
                             expected=f"the weights of {meta.backbone_name} ({meta.backbone_source}) as they were "
                                      "when the run was trained",
                             found=f"tensors the run does not know: {unknown[:3]}" if unknown
                                   else "a backbone whose frozen weights differ",
                             fix="point the run at the original backbone (install the same model version), or "
                                 "train the run again", file=path)
    backbone.load_state_dict(delta, strict=False)
