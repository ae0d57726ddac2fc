"""The runs under a folder, for `headstart runs` and the server's /runs page: each run or comparison folder
(the ones carrying headstart's marker) with its task, strategy, primary score, size and training time."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["list_runs"]


def list_runs(root: Path) -> list[dict]:
    """Run and comparison folders under `root` (one level and their children), newest first."""
    rows = []
    for marker in sorted(root.glob("*/headstart-run.json")) + sorted(root.glob("*/*/headstart-run.json")):
        folder = marker.parent
        metrics = _read(folder / "metrics.json")
        scores = metrics.get("test") or metrics.get("dev") or {}
        metric = metrics.get("primary_metric") or next((k for k in ("f1", "accuracy") if k in scores), None)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rows.append({"name": str(folder.relative_to(root)), "task": metrics.get("task", "?"),
                     "strategy": metrics.get("strategy", "comparison" if (folder / "leaderboard.json").exists()
                                             else "?"),
                     "metric": metric, "score": scores.get(metric) if metric else None,
                     "split": "test" if metrics.get("test") else "dev", "size_mb": round(size / 2**20, 1),
                     "train_seconds": metrics.get("train_seconds"), "modified": marker.stat().st_mtime,
                     "report": (folder / "report.html").exists()})
    return sorted(rows, key=lambda r: -r["modified"])


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
