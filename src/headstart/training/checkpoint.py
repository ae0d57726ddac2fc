"""Checkpoints written atomically: a crash while saving never leaves a half-written file behind."""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["save_atomic", "load_checkpoint"]


def save_atomic(state: dict, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict | None:
    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
