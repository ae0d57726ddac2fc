"""An ensemble of trained classifiers: the mean of their class probabilities.

`headstart compare` trains several candidates on the same split anyway; averaging the best of them costs
no training, and models that err differently (a fully fine-tuned backbone, a LoRA adapter, a bottleneck
adapter) correct each other. Which ones: `select_top_k`, ensemble selection (Caruana et al. 2004)
reduced to one choice made on dev: rank the candidates by their own dev score, average the top k, keep
the k whose average scores best on dev (the smaller k on a tie). k = 1 means no ensemble.

The choice is made on the dev rows, so the ensemble's dev score is optimistic; its test score is not.
An ensemble costs at prediction time what its members cost together.

    runs/compare/ensemble/
      ensemble.json   {"members": ["../candidates/full/model", ...], "labels": [...], ...}

Example:
    >>> ens = EnsembleClassifier.load("runs/compare/ensemble")  # doctest: +SKIP
    >>> ens.predict(["my card has not arrived"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from headstart.errors import ConfigError, reading_saved

__all__ = ["EnsembleClassifier", "select_top_k", "save_ensemble", "ENSEMBLE_FILE"]

ENSEMBLE_FILE = "ensemble.json"


def select_top_k(dev_proba: dict[str, np.ndarray], score: Callable[[np.ndarray], float]) -> tuple[list[str], list[float]]:
    """The members of the best top-k average on dev.

    Args:
        dev_proba: candidate name -> its class probabilities on the shared dev rows.
        score: dev score of a probability matrix (higher is better), e.g. the primary metric.

    Returns:
        (the chosen names, best first; the dev score of the top-k average for k = 1, 2, ...).
    """
    ranked = sorted(dev_proba, key=lambda name: -score(dev_proba[name]))
    scores = [score(np.mean([dev_proba[n] for n in ranked[:k]], axis=0)) for k in range(1, len(ranked) + 1)]
    best_k = 1 + int(np.argmax(scores))  # argmax takes the first maximum: the smaller k on a tie
    return ranked[:best_k], scores


def save_ensemble(path: str | Path, member_folders: Sequence[str | Path], names: Sequence[str], labels: list[str],
                  multilabel: bool) -> Path:
    """Write `ensemble.json` into `path`, pointing at the members' saved model folders by relative path (the
    comparison folder can move as a whole); the members are not copied."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    members = [os.path.relpath(Path(f).resolve(), path.resolve()) for f in member_folders]
    spec = {"kind": "headstart-ensemble", "combine": "mean of class probabilities", "members": members,
            "names": list(names), "labels": list(labels), "multilabel": multilabel}
    (path / ENSEMBLE_FILE).write_text(json.dumps(spec, indent=2))
    return path


class EnsembleClassifier:
    """Predicts the mean class probabilities of several classifiers trained for the same labels.

    Args:
        members: fitted classifiers (HeadstartClassifier or anything with `labels_`, `multilabel_` and
            `predict_proba`), all with the same labels in the same order.
        names: a name per member (its strategy, in `compare`).
        folders: the members' saved folders, when loaded from disk (`load`).
    """

    task = "classification"

    def __init__(self, members: Sequence, names: Sequence[str] | None = None,
                 folders: Sequence[Path] = ()) -> None:
        if len(members) < 2:
            raise ConfigError("an ensemble needs at least two members.", expected="two or more classifiers",
                              found=f"{len(members)}", fix="use the single classifier itself")
        labels = [list(m.labels_) for m in members]
        if any(ls != labels[0] for ls in labels):
            raise ConfigError("the ensemble's members were trained for different labels.",
                              expected="members trained on the same data", found=repr(labels)[:300],
                              fix="combine runs of one comparison (they share one split)")
        self.members = list(members)
        self.names = list(names) if names is not None else [getattr(m, "strategy", "member") for m in members]
        self.labels_ = labels[0]
        self.classes_ = np.array(self.labels_)
        self.multilabel_ = bool(members[0].multilabel_)
        self.strategy = "ensemble"
        self.backbone_name_ = "+".join(sorted({getattr(m, "backbone_name_", "?") for m in members}))
        self.folders = list(folders)

    def predict_proba(self, X) -> np.ndarray:  # noqa: N803 (scikit-learn's name)
        """The mean of the members' probabilities, shape (n, n_labels)."""
        texts = self._texts(X)
        return np.mean([m.predict_proba(texts) for m in self.members], axis=0)

    def predict(self, X) -> np.ndarray:  # noqa: N803
        """Class names (n,); for multi-label, label tuples (mean probability >= 0.5), as HeadstartClassifier."""
        proba = self.predict_proba(X)
        if self.multilabel_:  # the trailing None keeps numpy from making a 2-D array of equal-length tuples
            return np.array([tuple(self.classes_[row >= 0.5]) for row in proba] + [None], dtype=object)[:-1]
        return self.classes_[proba.argmax(axis=1)]

    def score(self, X, y) -> float:  # noqa: N803
        """Accuracy of `predict(X)` against `y`."""
        return float(np.mean(self.predict(X) == np.asarray(list(y))))

    def encode_labels(self, split) -> np.ndarray:
        return split.encode(self.labels_, self.multilabel_)

    def _texts(self, X) -> list[str]:
        return self.members[0]._texts(X)

    @classmethod
    def load(cls, path: str | Path) -> EnsembleClassifier:
        """Load a folder written by `save`: every member from its own saved folder."""
        from headstart.tasks.registry import load

        path = Path(path)
        with reading_saved(path, "ensemble"):
            spec = json.loads((path / ENSEMBLE_FILE).read_text())
            members = [str(m) for m in spec["members"]]
        root = path.resolve().parent
        outside = [m for m in members if not (path / m).resolve().is_relative_to(root)]
        if outside:  # members sit in the same comparison folder (../candidates/<name>/model), nowhere else
            raise ConfigError(f"the ensemble in {path} points outside its comparison folder.",
                              expected="members under ../candidates/", found=", ".join(outside)[:300],
                              fix="use the ensemble folder as `headstart compare` wrote it")
        missing = [m for m in members if not (path / m).exists()]
        if missing:
            raise ConfigError(f"the ensemble in {path} points at members that are gone.",
                              expected="the members' folders beside it, as `headstart compare` wrote them",
                              found=", ".join(missing), fix="move the comparison folder as a whole, or rerun it")
        folders = [(path / m).resolve() for m in members]
        return cls([load(f) for f in folders], spec.get("names"), folders)

    @staticmethod
    def is_ensemble(path: str | Path) -> bool:
        return (Path(path) / ENSEMBLE_FILE).is_file()
