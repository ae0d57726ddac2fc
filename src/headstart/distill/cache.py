"""Teacher probabilities on disk, one row per text, so a teacher labels each text once: a second student, a
self-training round or a rerun with more unlabelled rows reads what was computed (the frozen-prefix idea,
for teachers).

    $HEADSTART_HOME/cache/teachers/<teacher identity>/probs.npz
        keys (sha256 of each text), lengths (rows per text: 1, or a sentence's words for NER), probs (sum, k)

Written beside and renamed into place (a crash leaves the earlier file); read with `allow_pickle=False`
(nothing in it can run code). A file that does not read back is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["TeacherCache", "text_key", "teacher_cache_dir"]


def teacher_cache_dir() -> Path:
    return Path(os.environ.get("HEADSTART_HOME", Path.home() / ".headstart")) / "cache" / "teachers"


def text_key(text) -> str:
    """sha256 of a text, of a pair's two texts (PairText: .a and .b), or of a sentence's words (NER)."""
    if isinstance(text, list | tuple):
        raw = "\x1e".join(map(str, text))
    else:
        raw = f"{text.a}\x1f{text.b}" if hasattr(text, "b") else str(text)
    return hashlib.sha256(raw.encode("utf-8", errors="surrogatepass")).hexdigest()


class TeacherCache:
    """The probabilities one teacher gave, by text, each an (m, k) array (m = 1 for a text's class
    probabilities, the words of a sentence for a tagger's); `identity` names the teacher (its files and
    settings)."""

    def __init__(self, identity: str, folder: str | Path | None = None) -> None:
        self.path = Path(folder or teacher_cache_dir()) / identity / "probs.npz"
        self.rows: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as saved:
                parts = np.split(saved["probs"], np.cumsum(saved["lengths"])[:-1])
                self.rows = dict(zip(saved["keys"].tolist(), parts, strict=True))
        except (OSError, ValueError, KeyError):
            self.rows = {}

    def missing(self, keys: list[str]) -> list[int]:
        """Positions of the keys with no cached row."""
        return [i for i, k in enumerate(keys) if k not in self.rows]

    def put(self, keys: list[str], probs: np.ndarray) -> None:
        """Add rows and write the file (atomically)."""
        for k, p in zip(keys, probs, strict=True):
            self.rows[k] = np.atleast_2d(np.asarray(p, dtype=np.float32))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".probs-{os.getpid()}.npz")
        keys_all = list(self.rows)
        np.savez(tmp, keys=np.array(keys_all), lengths=np.array([len(self.rows[k]) for k in keys_all]),
                 probs=np.concatenate([self.rows[k] for k in keys_all]))
        os.replace(tmp, self.path)

    def __len__(self) -> int:
        return len(self.rows)
