"""The ensemble step of a comparison: the mean of the best finished candidates' held-out probabilities,
kept only when it scores above the best single candidate on dev."""

from __future__ import annotations

import math
from pathlib import Path

from headstart.choice.compare.board import Candidate
from headstart.data import TaskData
from headstart.errors import reading_saved

__all__ = ["combine"]


def combine(out: Path, task: TaskData, rows: list[Candidate], metric: str) -> tuple[Candidate | None, dict]:
    """Average the finished candidates' dev probabilities (their predictions.npz, held out) with
    `select_top_k`; when two or more make the best average on dev, save the ensemble in out/ensemble and
    return its leaderboard row. The dict records what was tried (dev score of each top-k average)."""
    import numpy as np

    from headstart.ensemble import save_ensemble, select_top_k
    from headstart.evaluation import classification_metrics
    from headstart.runs import PREDICTIONS

    labels = list(task.labels)
    done, proba = {}, {}
    for r in rows:
        if r.status == "finished" and (out / r.run_dir / PREDICTIONS).is_file():
            with reading_saved(out / r.run_dir, "candidate run"):  # plain arrays: allow_pickle stays off
                saved = dict(np.load(out / r.run_dir / PREDICTIONS, allow_pickle=False))
            if [str(x) for x in saved["labels"]] == labels:  # columns in the comparison's label order
                done[r.strategy], proba[r.strategy] = r, saved
    if len(done) < 2:
        return None, {"built": False, "why": "fewer than two finished candidates"}
    gold = {split: getattr(task, split).encode(labels, task.multilabel) for split in ("dev", "test")
            if getattr(task, split) is not None}

    def score(split: str, p: np.ndarray) -> float:
        value = classification_metrics(gold[split], p, labels, multilabel=task.multilabel).get(metric)
        return -math.inf if value is None else float(value)

    members, by_k = select_top_k({name: p["dev"] for name, p in proba.items()}, lambda p: score("dev", p))
    tried = {"ranked_by_dev": sorted(done, key=lambda n: -score("dev", proba[n]["dev"])),
             "dev_by_k": [round(v, 4) for v in by_k], "members": members}
    if len(members) < 2:
        return None, tried | {"built": False, "why": "no average scored above the best single candidate on dev"}
    mean = {split: np.mean([proba[name][split] for name in members], axis=0) for split in gold}
    parts = [done[name] for name in members]
    save_ensemble(out / "ensemble", [out / r.run_dir / "model" for r in parts], members, labels, task.multilabel)
    row = Candidate("ensemble", "finished", dev_metric=score("dev", mean["dev"]),
                    test_metric=score("test", mean["test"]) if "test" in mean else None,
                    train_seconds=sum(r.train_seconds for r in parts),
                    process_seconds=sum(r.process_seconds for r in parts),
                    peak_memory_mb=max(r.peak_memory_mb for r in parts),
                    trainable_params=sum(r.trainable_params for r in parts),
                    total_params=sum(r.total_params for r in parts),
                    adapter_bytes=sum(r.adapter_bytes or 0 for r in parts), run_dir="ensemble",
                    options={"members": "+".join(members)})
    return row, tried | {"built": True, "folder": "ensemble"}
