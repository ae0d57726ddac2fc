"""The runs under a folder, for `headstart runs` and the server's /runs page: each run or comparison folder
(the ones carrying headstart's marker) with its task, data, strategy, backbone, primary score, size and
training time; filtered and sorted for the command; and one run in full for `headstart runs show RUN`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

__all__ = ["list_runs", "select_runs", "show_run", "SORT_KEYS"]

MARKER = "headstart-run.json"
# --sort: the key, and whether larger comes first
SORT_KEYS = {"date": ("modified", True), "score": ("score", True), "size": ("size_mb", False),
             "time": ("train_seconds", False), "name": ("name", False)}


def list_runs(root: Path) -> list[dict]:
    """Run and comparison folders under `root` (one level and their children), newest first."""
    rows = [_row(marker.parent, root) for marker in sorted(root.glob(f"*/{MARKER}")) + sorted(root.glob(f"*/*/{MARKER}"))]
    return sorted(rows, key=lambda r: -r["modified"])


def select_runs(rows: list[dict], *, task: str | None = None, strategy: str | None = None, data: str | None = None,
                backbone: str | None = None, sort: str = "date") -> list[dict]:
    """The rows whose task / strategy / backbone are the ones named (exactly) and whose training data path
    contains `data`, sorted by SORT_KEYS[sort] (rows without that value last)."""
    keep = [r for r in rows if (task is None or r["task"] == task) and (strategy is None or r["strategy"] == strategy)
            and (backbone is None or r["backbone"] == backbone) and (data is None or data in (r["data"] or ""))]
    key, descending = SORT_KEYS[sort]
    known = [r for r in keep if r[key] is not None]
    known.sort(key=lambda r: r[key], reverse=descending)
    return known + [r for r in keep if r[key] is None]


def show_run(folder: Path) -> dict:
    """One run in full: what it was trained on and how, every score beside its baselines, its files."""
    metrics, config = _read(folder / "metrics.json"), _read(folder / "config.json")
    row = _row(folder, folder.parent)
    resolved = config.get("resolved") or {}
    scores = {split: {k: v for k, v in (metrics.get(split) or {}).items() if isinstance(v, int | float)}
              for split in ("dev", "test") if metrics.get(split)}
    return {**row, "path": str(folder), "data_files": {k: v for k, v in (config.get("data") or {}).items()
                                                        if k in ("train", "dev", "test") and v},
            "sources": config.get("sources"), "strategy_options": (resolved.get("strategy") or {}).get("options"),
            "training": resolved.get("train"), "scores": scores, "baselines": metrics.get("baselines"),
            "trained_on": metrics.get("trained_on"), "labels": metrics.get("labels"),
            "epochs_run": metrics.get("epochs_run"), "best_epoch": metrics.get("best_epoch"),
            "trainable_params": metrics.get("trainable_params"), "total_params": metrics.get("total_params"),
            "files": sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))}


def _row(folder: Path, root: Path) -> dict:
    metrics, config = _read(folder / "metrics.json"), _read(folder / "config.json")
    scores = metrics.get("test") or metrics.get("dev") or {}
    metric = metrics.get("primary_metric") or next((k for k in ("f1", "accuracy") if k in scores), None)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    modified = (folder / MARKER).stat().st_mtime
    train = (config.get("data") or {}).get("train")
    return {"name": str(folder.relative_to(root)), "task": metrics.get("task", "?"),
            "strategy": metrics.get("strategy", "comparison" if (folder / "leaderboard.json").exists() else "?"),
            "backbone": metrics.get("backbone"), "data": str(train) if train else None,
            "metric": metric, "score": scores.get(metric) if metric else None,
            "split": "test" if metrics.get("test") else "dev", "size_mb": round(size / 2**20, 1),
            "train_seconds": metrics.get("train_seconds"), "modified": modified,
            "date": dt.datetime.fromtimestamp(modified).strftime("%Y-%m-%d %H:%M"),
            "report": (folder / "report.html").exists()}


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
