"""Few-shot models on disk, and `few_shot_run` (what `headstart few-shot` calls).

A model folder holds `encoder/` (the tuned encoder in the sentence-transformers format, loadable by
sentence-transformers and SetFit as it is), `head.safetensors` (the logistic regression's `coef` and
`intercept`: tensors, not a pickle, so loading a model runs no code) and `fewshot.json` (labels, options,
per-epoch history).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from headstart.errors import DataError, reading_saved

__all__ = ["save_fewshot", "load_fewshot", "few_shot_run", "FORMAT"]

FORMAT = "headstart-few-shot/1"


def save_fewshot(clf, path: str | Path) -> Path:
    """Write `clf` (a fitted FewShotClassifier) to the folder `path`, replacing it atomically."""
    from safetensors.numpy import save_file

    from headstart.persist import atomic_folder

    with atomic_folder(path) as tmp:
        clf.model_.save(str(tmp / "encoder"))
        save_file({"coef": np.ascontiguousarray(clf.head_.coef_, dtype=np.float64),
                   "intercept": np.ascontiguousarray(clf.head_.intercept_, dtype=np.float64)},
                  str(tmp / "head.safetensors"))
        meta = {"format": FORMAT, "labels": [str(c) for c in clf.classes_], "backbone": clf.backbone_name_,
                "config": clf.config_.to_dict(), "best_epoch": clf.best_epoch_, "pairs": clf.n_pairs_,
                "history": clf.history_, "text_column": clf.text_column, "label_column": clf.label_column}
        (tmp / "fewshot.json").write_text(json.dumps(meta, indent=2) + "\n")
    return Path(path)


def load_fewshot(cls, path: str | Path):
    """Rebuild a FewShotClassifier from `save_fewshot`'s folder (or a run folder holding `model/`)."""
    from safetensors.numpy import load_file
    from sklearn.linear_model import LogisticRegression

    from headstart.fewshot.config import FewShotConfig
    from headstart.fewshot.encoder import load_encoder

    path = Path(path)
    if (path / "model" / "fewshot.json").exists():
        path = path / "model"
    if not (path / "fewshot.json").exists():
        raise DataError(f"{path} holds no few-shot model.", expected="a folder written by FewShotClassifier.save "
                        "or `headstart few-shot` (with fewshot.json)", found="no fewshot.json",
                        fix="check the path", file=path)
    with reading_saved(path, "few-shot model"):
        meta = json.loads((path / "fewshot.json").read_text())
        cfg = FewShotConfig.from_dict(meta["config"])
        clf = cls(**cfg.to_dict(), text_column=meta["text_column"], label_column=meta["label_column"])
        _, clf.model_ = load_encoder(str(path / "encoder"), cfg.max_length)
        tensors = load_file(str(path / "head.safetensors"))
        head = LogisticRegression(C=cfg.C)
        head.coef_, head.intercept_ = tensors["coef"], tensors["intercept"]
        head.classes_ = np.arange(len(meta["labels"]))
        head.n_features_in_ = head.coef_.shape[1]
        clf.head_, clf.classes_, clf.config_ = head, np.array(meta["labels"]), cfg
        clf.backbone_name_, clf.best_epoch_, clf.n_pairs_ = meta["backbone"], meta["best_epoch"], meta["pairs"]
        clf.history_ = meta["history"]
        return clf


def few_shot_run(data: str | Path, out: str | Path, *, test: str | Path | None = None,
                 dev: str | Path | None = None, overwrite: bool = False, **options) -> dict:
    """Fit a FewShotClassifier on the file `data`, save it under `out/model`, score `test` if given.

    Writes `out/metrics.json` (test metrics, fit time, chosen epoch, pairs) next to the model.

    Returns:
        That summary as a dict.
    """
    from headstart.fewshot.estimator import FewShotClassifier
    from headstart.runs.folder import claim

    with claim(out, kind="few-shot", overwrite=overwrite, resumable=False) as folder:
        return _few_shot_run(FewShotClassifier(**options), data, folder, test=test, dev=dev)


def _few_shot_run(clf, data, folder, *, test, dev) -> dict:
    out = folder.path
    folder.begin()
    clf = clf.fit(data, dev=dev)
    summary: dict = {"kind": "few-shot", "train": str(data), "backbone": clf.backbone_name_,
                     "best_epoch": clf.best_epoch_, "pairs": clf.n_pairs_,
                     "fit_seconds": round(clf.fit_seconds_, 2), "history": clf.history_}
    out.mkdir(parents=True, exist_ok=True)
    clf.save(out / "model")
    if test is not None:
        t0 = time.perf_counter()
        summary["test"] = clf.evaluate(test)
        summary["evaluate_seconds"] = round(time.perf_counter() - t0, 2)
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    folder.finish()
    return summary
