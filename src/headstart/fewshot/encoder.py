"""Load the sentence encoder of few-shot fine-tuning: a `SentenceTransformer` from the backbone's folder."""

from __future__ import annotations

import logging
from pathlib import Path

from headstart.backbones.registry import resolve
from headstart.errors import BackboneError

__all__ = ["load_encoder"]


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
    device = "cuda" if torch.cuda.is_available() else "cpu"
    st_logger = logging.getLogger("sentence_transformers")
    level = st_logger.level
    st_logger.setLevel(logging.ERROR)
    try:
        # float32 whatever the checkpoint stores (as load_backbone): a float16 copy would meet float32 targets
        model = SentenceTransformer(source, device=device, model_kwargs={"dtype": torch.float32})
    except (OSError, ValueError) as exc:
        local = Path(source).exists()
        raise BackboneError(
            f"cannot load backbone {backbone!r} as a sentence encoder.",
            expected="a registered name (see `headstart models`), a local model folder with config.json, "
            "or a Hugging Face model id",
            found=("a folder without a usable model" if local else "no such folder, and the hub was not "
                   f"reachable or has no such model ({type(exc).__name__})"),
            fix="run `headstart models` for the offline backbones, or check the id / path and your connection",
        ) from None
    finally:
        st_logger.setLevel(level)
    model.max_seq_length = max_length
    return name, model.eval()
