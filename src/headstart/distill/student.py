"""Distillation as the classifier runs it: the teacher labels the training, dev and unlabelled texts once
(cached), the temperature is set on dev, and the student trains on label rows that carry the teacher's
distribution beside the gold label (distill.objective). The estimator calls `plan` before it builds the
student (the teacher's probabilities come first, so both models need not be held at once where the teacher
is cached) and `DistillPlan.apply` when it builds the training examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from headstart.distill.objective import Distillation, soft_rows, soften
from headstart.distill.teacher import Teacher, load_teacher
from headstart.evaluation.metrics import classification_metrics

__all__ = ["DistillPlan", "plan", "teacher_labels", "teacher_labelled", "DEFAULT_WEIGHT"]

DEFAULT_WEIGHT = 0.5


@dataclass
class DistillPlan:
    """The teacher's softened probabilities for every text the student sees, and what was chosen."""

    teacher: Teacher
    labels: list[str]
    multilabel: bool
    train: np.ndarray
    dev: np.ndarray
    extra_texts: list
    extra: np.ndarray
    temperature: float
    weight: float
    summary: dict = field(default_factory=dict)

    def apply(self, train_texts: list, y_train, y_dev, objective) -> tuple[list, np.ndarray, np.ndarray, Distillation]:
        """(texts, train label rows, dev label rows, objective): the gold rows, then the unlabelled ones."""
        rows = soft_rows(y_train, self.train, self.multilabel)
        if len(self.extra_texts):
            rows = np.concatenate([rows, soft_rows(None, self.extra, self.multilabel)])
        distill = Distillation(metric=objective.metric, multilabel=self.multilabel, class_weights=objective.class_weights,
                               label_smoothing=objective.label_smoothing, weight=self.weight, n_labels=len(self.labels))
        return [*train_texts, *self.extra_texts], rows, soft_rows(y_dev, self.dev, self.multilabel), distill


def plan(task, teacher_spec, extra_texts: list, *, temperature: float | None, weight: float | None) -> DistillPlan:
    """Ask the teacher (cache first) about train, dev and the unlabelled texts; set T on dev unless given."""
    labels, multilabel = [str(x) for x in task.labels], task.multilabel
    teacher = load_teacher(teacher_spec, labels)
    raw_train = teacher.proba(task.train.texts, labels)
    raw_dev = teacher.proba(task.dev.texts, labels)
    raw_extra = teacher.proba(extra_texts, labels)
    gold_train, gold_dev = task.train.encode(labels, multilabel), task.dev.encode(labels, multilabel)
    chosen, how = teacher.temperature(temperature, raw_dev, gold_dev, task.train.source, multilabel)
    weight = DEFAULT_WEIGHT if weight is None else float(weight)
    summary = {"gold": "the data's labels" if task.labelled_by is None else f"none: {task.labelled_by}'s labels "
               "stand in for gold on train and dev", "temperature": chosen, "temperature_chosen_on": how,
               "weight": weight, "unlabeled_rows": len(extra_texts),
               "teacher_dev": _scores(gold_dev, raw_dev, labels, multilabel),
               "teacher_saw_dev": teacher.saw(task.train.source),
               "teacher_train_agreement": _agreement(gold_train, raw_train, multilabel),
               "labelled_rows": len(task.train)}
    summary["warning"] = _weak_teacher(summary["teacher_dev"], gold_train, gold_dev, multilabel)
    return DistillPlan(teacher, labels, multilabel, soften(raw_train, chosen, multilabel),
                       soften(raw_dev, chosen, multilabel), list(extra_texts),
                       soften(raw_extra, chosen, multilabel) if len(extra_texts) else raw_extra, chosen, weight, summary)


def _weak_teacher(teacher_dev: dict | None, gold_train, gold_dev, multilabel: bool) -> str | None:
    """A warning when the teacher is no better on dev than always answering the most frequent training class:
    following it can only pull the student below what the gold labels teach (measured: docs/distillation.md)."""
    if multilabel or not teacher_dev or not len(gold_dev) or not len(gold_train):
        return None
    majority = float(np.mean(gold_dev == np.bincount(gold_train).argmax()))
    if teacher_dev["accuracy"] > majority + 0.02:
        return None
    return (f"the teacher's dev accuracy {teacher_dev['accuracy']:.3f} is no better than always answering the most "
            f"frequent class ({majority:.3f}): it is likely to pull the student below what the gold labels teach; "
            "consider --distill-weight 0 (gold alone on labelled rows) or a stronger teacher")


def _scores(gold, proba, labels, multilabel) -> dict | None:
    if not len(gold):
        return None
    m = classification_metrics(gold, proba, labels, multilabel=multilabel)
    return {k: m[k] for k in ("accuracy", "macro_f1", "auc") if k in m}


def _agreement(gold, proba, multilabel) -> dict:
    """How often the teacher's choice is the gold label on the labelled training rows ("agreement 0.93 on
    200 labelled rows")."""
    if not len(gold):
        return {"agreement": None, "rows": 0}
    hit = np.all((proba >= 0.5) == (gold > 0.5), axis=1) if multilabel else proba.argmax(1) == gold
    return {"agreement": round(float(hit.mean()), 4), "rows": int(len(gold))}


def teacher_labels(texts: list, teacher_spec, labels: list[str]) -> list[str]:
    """The teacher's choice for each text (what texts without labels are trained on; cached, so the
    distillation that follows asks the teacher nothing new)."""
    names = [str(x) for x in labels]
    if len(names) < 2:
        from headstart.errors import ConfigError

        raise ConfigError("texts without labels need the class names.", expected="--labels A,B[,...] (two or more)",
                          found=repr(labels), fix="e.g. --labels positive,negative")
    proba = load_teacher(teacher_spec, names).proba(texts, names)
    return [names[i] for i in proba.argmax(1)]


def teacher_labelled(train, estimator_class, columns: dict, teacher_spec, labels: list[str]):
    """(table, who labelled it): a training file without labels as a table the teacher labelled (its text
    column(s) as the estimator reads them); a file with labels as it is, with None."""
    import pandas as pd

    est = estimator_class(**columns)
    split = est.reader(train, **columns, require_labels=False)
    if split.labels:
        return train, None
    table = {**est._text_frame(split.texts), est.label_column: teacher_labels(split.texts, teacher_spec, labels)}
    return pd.DataFrame(table), str(teacher_spec)
