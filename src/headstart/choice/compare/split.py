"""The rows every candidate of a comparison trains and is scored on, written once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from headstart.data import TaskData

__all__ = ["write_split", "split_record"]


def write_split(task: TaskData, folder: Path) -> dict[str, Path]:
    """Write the rows every candidate trains and is scored on, as JSON lines {"text", "label"} (a list of
    labels for multi-label data; {"text_a", "text_b", "label"} for sentence pairs), so no candidate draws a
    dev split of its own. Returns split -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, split in (("train", task.train), ("dev", task.dev), ("test", task.test)):
        if split is None:
            continue
        files[name] = folder / f"{name}.jsonl"
        with files[name].open("w", encoding="utf-8") as fh:
            for text, label in zip(split.texts, split.labels, strict=True):
                # ASCII escapes: a raw U+2028 inside a text would read as a line break to some readers
                texts = {"text_a": text.a, "text_b": text.b} if hasattr(text, "b") else {"text": text}  # a pair
                fh.write(json.dumps({**texts, "label": list(label) if isinstance(label, tuple) else label}) + "\n")
    return files


def split_record(task: TaskData, files: dict[str, Path], out: Path, seed: int) -> dict:
    rows = {"train": task.train, "dev": task.dev, "test": task.test}
    record = {name: {"file": path.relative_to(out).as_posix(), "rows": len(rows[name]),
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for name, path in files.items()}
    n_all = len(task.train) + len(task.dev)
    how = (f"held out from the training data: {len(task.dev):,} of {n_all:,} rows, stratified, seed {seed}"
           if task.dev_from_train else "given by --dev")
    return {"files": record, "dev": how, "labels": task.labels, "multilabel": task.multilabel}
