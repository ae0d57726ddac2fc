"""Load the sentence encoder of few-shot fine-tuning: a `SentenceTransformer` from the backbone's folder."""

from __future__ import annotations

import logging

from headstart.backbones.registry import load_error, resolve

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
        raise load_error(backbone, source, exc, as_what=" as a sentence encoder", missing="a usable model") from None
    finally:
        st_logger.setLevel(level)
    model.max_seq_length = max_length
    return name, model.eval()
