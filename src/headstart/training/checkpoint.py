"""Checkpoints that hold only tensors and plain data, written atomically.

A checkpoint is one safetensors file: the tensors (weights, optimizer moments, the RNG state) as
safetensors entries, and everything else (step counts, history, learning rates, early-stopping state) as
JSON in the file's metadata, with each tensor replaced by a reference to its entry. Loading it parses
JSON and reads raw tensor bytes, so a checkpoint planted in a run folder cannot run code, unlike a
pickle, which headstart never loads.

A crash while saving never leaves a half-written file in place: the file is written to a temporary
sibling, flushed to disk, then renamed over the target; the temporary file is removed on failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from headstart.errors import HeadstartError

__all__ = ["CHECKPOINT", "REFIT_CHECKPOINT", "save_atomic", "load_checkpoint", "encode_tree", "decode_tree"]

CHECKPOINT = "checkpoint.safetensors"  # the file name inside a run folder
REFIT_CHECKPOINT = "checkpoint-refit.safetensors"  # the refit on train + dev, beside it
_TREE = "headstart_tree"  # the metadata key holding the JSON structure
_FORMAT = "headstart-checkpoint-1"


def encode_tree(tree, tensors: dict[str, torch.Tensor]):
    """`tree` as JSON-ready data; each tensor is moved into `tensors` under a fresh key and replaced by
    {"$tensor": key}. The same tensor object met twice is stored once. Tuples and dicts with non-string
    keys (an optimizer's state is keyed by int) are tagged so that `decode_tree` gives them back as they were."""
    seen: dict[int, str] = {}

    def walk(node):
        if isinstance(node, torch.Tensor):
            if id(node) not in seen:
                seen[id(node)] = key = f"t{len(tensors)}"
                tensors[key] = node.detach().cpu().contiguous().clone()  # own storage: no shared memory
            return {"$tensor": seen[id(node)]}
        if isinstance(node, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in node):
                return {k: walk(v) for k, v in node.items()}
            return {"$items": [[walk(k), walk(v)] for k, v in node.items()]}
        if isinstance(node, tuple):
            return {"$tuple": [walk(v) for v in node]}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if node is None or isinstance(node, bool | int | float | str):
            return node
        raise TypeError(f"a checkpoint holds tensors and plain data only, not {type(node).__name__}")

    return walk(tree)


def decode_tree(data, tensors: dict[str, torch.Tensor]):
    """The inverse of `encode_tree`."""
    if isinstance(data, list):
        return [decode_tree(v, tensors) for v in data]
    if isinstance(data, dict):
        if "$tensor" in data:
            return tensors[data["$tensor"]]
        if "$tuple" in data:
            return tuple(decode_tree(v, tensors) for v in data["$tuple"])
        if "$items" in data:
            return {decode_tree(k, tensors): decode_tree(v, tensors) for k, v in data["$items"]}
        return {k: decode_tree(v, tensors) for k, v in data.items()}
    return data


def save_atomic(state: dict, path: str | Path) -> None:
    """Write `state` (tensors and plain data) to `path` through a temporary file renamed into place.

    A full or read-only disk raises a HeadstartError naming the folder; the temporary file is removed and
    the previous checkpoint, if any, stays as it was."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tensors: dict[str, torch.Tensor] = {}
    metadata = {_TREE: json.dumps(encode_tree(state, tensors)), "format": _FORMAT}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(tmp), metadata=metadata)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise disk_error(path, exc, sum(t.numel() * t.element_size() for t in tensors.values())) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict | None:
    """The state saved at `path`, or None when there is no checkpoint. A file that is not a headstart
    checkpoint (damaged, or of another format, a pickle included) is refused without being executed."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is no mapping)
        if metadata.get("format") != _FORMAT:
            raise ValueError("no headstart checkpoint metadata")
        return decode_tree(json.loads(metadata[_TREE]), tensors)
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise HeadstartError(f"{path} is not a readable headstart checkpoint.",
                             expected="a checkpoint.safetensors written by headstart",
                             found=f"{type(exc).__name__}: {exc}"[:300],
                             fix="start the run again without --resume (pass --overwrite to replace the "
                             "folder); a damaged checkpoint is never loaded") from None


def disk_error(path: Path, exc: OSError, needed: int) -> HeadstartError:
    """A clear error for a write that failed on a full or read-only disk (or a missing permission)."""
    import shutil

    try:
        free = shutil.disk_usage(path.parent if path.parent.exists() else Path.cwd()).free
        room = f"; {free / 2**20:,.0f} MB free there, about {needed / 2**20:,.0f} MB needed"
    except OSError:
        room = ""
    return HeadstartError(f"cannot write {path}: {exc.strerror or exc}{room}.",
                          expected="a writable folder with room for the file",
                          found=f"{type(exc).__name__} (errno {exc.errno})",
                          fix="free disk space or choose a writable --out folder; what was saved before is "
                          "unchanged")
