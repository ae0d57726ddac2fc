"""Load the sentence encoder of few-shot fine-tuning: a `SentenceTransformer` from the backbone's folder."""

from __future__ import annotations

import logging
from pathlib import Path

from headstart.backbones.registry import load_error, resolve
from headstart.errors import BackboneError

__all__ = ["load_encoder"]

# sentence-transformers imports every module a folder's modules.json names: only its own are let through
_ALLOWED_MODULES = "sentence_transformers."


def _check_modules(folder: Path) -> None:
    """Refuse a modules.json that names a class outside sentence-transformers (it would be imported)."""
    import json

    spec = folder / "modules.json"
    if not spec.is_file():
        return
    try:
        types = [str(m.get("type", "")) for m in json.loads(spec.read_text())]
    except (ValueError, AttributeError, TypeError):
        raise BackboneError(f"cannot read {spec}.", expected="the JSON list sentence-transformers writes",
                            found="something else", fix="save the encoder again") from None
    foreign = [t for t in types if not t.startswith(_ALLOWED_MODULES)]
    if foreign:
        raise BackboneError(f"{spec} names modules outside sentence-transformers: {', '.join(foreign)[:200]}.",
                            expected="sentence_transformers.* module types", found=", ".join(foreign)[:200],
                            fix="headstart does not import code named by a model folder; use a standard "
                            "sentence-transformers folder")


def load_encoder(backbone: str, max_length: int):
    """(display name, SentenceTransformer): on CPU (or the GPU when there is one), in eval mode, truncating at `max_length`.

    A folder with `modules.json` keeps its own pooling and normalisation; a plain Hugging Face folder gets
    mean pooling (sentence-transformers' default, logged by it as a warning that is silenced here).

    Raises:
        BackboneError: the name, folder or id cannot be loaded.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    name, source = resolve(backbone)
    _check_modules(Path(source))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    st_logger = logging.getLogger("sentence_transformers")
    level = st_logger.level
    st_logger.setLevel(logging.ERROR)
    try:
        # float32 whatever the checkpoint stores (as load_backbone): a float16 copy would meet float32 targets
        model = SentenceTransformer(source, device=device, model_kwargs={"dtype": torch.float32})
    except (OSError, ValueError) as exc:
        raise load_error(backbone, source, exc, as_what=" as a sentence encoder", missing="a usable model") from None
    finally:
        st_logger.setLevel(level)
    model.max_seq_length = max_length
    return name, model.eval()
