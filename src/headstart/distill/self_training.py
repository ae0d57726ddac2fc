"""Self-training for "lots of unlabelled text, few labels" (Yarowsky 1995; Xie et al. 2020, noisy student):

    round 0   fit on the labelled rows (from a teacher too, when one is given)
    round r   the best model so far labels the unlabelled texts; those it is confident about (a threshold per
              class, the lowest at which its held-out dev predictions of that class are still
              SELF_TRAIN_PRECISION precise) join the training rows with its probabilities as their targets;
              a fresh student trains on gold + those (the labelled rows follow gold alone, unless
              distill_weight says otherwise)
    stop      when a round's dev score is not better than the best so far (that round is thrown away), or
              after `self_train_rounds` rounds; the estimator keeps the best round's model

Every round keeps dev held out (no refit on train + dev, unless `refit` is set): a model refit on the dev
rows would pass what it learnt from them into the next round's pseudo-labels, and the rounds' dev scores,
which decide when to stop, would no longer be held out. Only the first round resumes from a checkpoint.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from headstart.errors import ConfigError

__all__ = ["self_train", "class_thresholds", "SELF_TRAIN_PRECISION", "MIN_SUPPORT"]

SELF_TRAIN_PRECISION = 0.9
MIN_SUPPORT = 5  # dev predictions of a class needed before its threshold is trusted


def class_thresholds(proba: np.ndarray, gold: np.ndarray, precision: float = SELF_TRAIN_PRECISION) -> np.ndarray:
    """Per class c, the lowest confidence t such that the dev rows predicted c with confidence >= t are
    right at least `precision` of the time (inf where no such t exists, or fewer than MIN_SUPPORT rows)."""
    pred, conf = proba.argmax(1), proba.max(1)
    out = np.full(proba.shape[1], np.inf)
    for c in range(proba.shape[1]):
        rows = np.flatnonzero(pred == c)
        if len(rows) < MIN_SUPPORT:
            continue
        order = rows[np.argsort(-conf[rows], kind="stable")]
        correct = np.cumsum(gold[order] == c) / np.arange(1, len(order) + 1)
        ok = np.flatnonzero(correct >= precision)
        ok = ok[ok >= MIN_SUPPORT - 1]
        if len(ok):
            out[c] = conf[order[ok[-1]]]
    return out


def self_train(est, task, unlabeled: list, *, teacher=None, checkpoint=None, resume: bool = False):
    """Fit `est` by self-training (module docstring); `est.self_training_` holds one row per round."""
    if not unlabeled:
        raise ConfigError("self-training needs unlabelled texts.", expected="--unlabeled FILE (or fit(..., "
                          "unlabeled=[...]))", found="none", fix="pass the texts without labels")
    if task.multilabel:
        raise ConfigError("self-training learns one label per text.", expected="single-label data",
                          found="multi-label data", fix="use --teacher with a multi-label run instead")
    held_out = {"refit": False if est.refit is None else est.refit}  # see the module's docstring
    first = clone(est).set_params(self_train=False, **held_out)
    first.fit_task(task, teacher=teacher, unlabeled=unlabeled if teacher is not None else [], checkpoint=checkpoint,
                   resume=resume)
    best, rounds = first, [{"round": 0, "dev": first.fit_result_.best_metric, "pseudo_rows": 0, "kept": True}]
    gold_dev = task.dev.encode(list(task.labels), False)
    for r in range(1, est.self_train_rounds + 1):
        dev_proba = best.heldout_dev_proba_ if best.heldout_dev_proba_ is not None else best.predict_proba(task.dev.texts)
        thresholds = class_thresholds(dev_proba, gold_dev)
        proba = best.predict_proba(unlabeled)
        keep = proba.max(1) >= thresholds[proba.argmax(1)]
        kept = [t for t, k in zip(unlabeled, keep, strict=True) if k]
        row = {"round": r, "pseudo_rows": len(kept), "thresholds": [None if np.isinf(t) else round(float(t), 4)
                                                                    for t in thresholds]}
        if not kept:
            rounds.append(row | {"dev": None, "kept": False, "stopped": "no confident rows"})
            break
        student = clone(est).set_params(self_train=False, distill_weight=est.distill_weight or 0.0,
                                        temperature=est.temperature or 1.0, **held_out)
        student.fit_task(task, teacher=best, unlabeled=kept)  # the best model so far teaches
        score = student.fit_result_.best_metric
        better = score is not None and score > max(x["dev"] for x in rounds if x.get("kept"))
        rounds.append(row | {"dev": score, "kept": bool(better)})
        if not better:
            break
        if getattr(best, "distillation_", None) is not None:  # the teacher of the new best's teacher: not needed,
            best.distillation_.teacher.model = None           # and holding it would keep every round's model
        best = student
    _adopt(est, best)
    est.self_training_ = rounds
    return est


def _adopt(est, fitted) -> None:
    """Give `est` the fitted state of `fitted` (the best round), keeping est's own parameters."""
    params = est.get_params()
    est.__dict__.update({k: v for k, v in fitted.__dict__.items() if k not in params})
