"""Teacher beside student on the split a run is scored on: accuracy, macro-F1, how often they agree, time
per text and size (what the run's metrics.json and report show under "distillation")."""

from __future__ import annotations

import time

import numpy as np

from headstart.evaluation.metrics import classification_metrics

__all__ = ["side_by_side", "tagging_side_by_side", "report_section"]


def side_by_side(est, split, student_proba: np.ndarray, student_seconds: float | None = None) -> dict:
    """The distillation summary of a fitted student, with the teacher scored on `split` (cached teacher
    probabilities are reused; the teacher's model is released afterwards)."""
    plan = getattr(est, "distillation_", None)
    out: dict = {}
    if getattr(est, "self_training_", None):
        out["self_training"] = est.self_training_
    if plan is None:
        return out
    labels, multilabel = plan.labels, plan.multilabel
    gold = split.encode(labels, multilabel)
    teacher_proba = plan.teacher.proba(split.texts, labels)
    if student_seconds is None:
        t0 = time.perf_counter()
        est.predict_proba(split.texts)
        student_seconds = time.perf_counter() - t0
    t_scores = classification_metrics(gold, teacher_proba, labels, multilabel=multilabel)
    s_scores = classification_metrics(gold, student_proba, labels, multilabel=multilabel)
    if multilabel:
        agree = np.all((teacher_proba >= 0.5) == (student_proba >= 0.5), axis=1).mean()
    else:
        agree = (teacher_proba.argmax(1) == student_proba.argmax(1)).mean()
    about = plan.teacher.describe()
    student_params = int(sum(p.numel() for p in est.model_.parameters()))
    out |= plan.summary | {
        "teacher": about,
        "split_rows": len(split.texts),
        "teacher_scores": {k: t_scores[k] for k in ("accuracy", "macro_f1", "auc")},
        "student_scores": {k: s_scores[k] for k in ("accuracy", "macro_f1", "auc")},
        "agreement": round(float(agree), 4),
        "teacher_seconds_per_text": about["seconds_per_text"],
        "student_seconds_per_text": round(student_seconds / max(1, len(split.texts)), 6),
        "teacher_params": about["params"],
        "student_params": student_params,
    }
    plan.teacher.model = None  # the run is written; the teacher's weights are not needed any more
    return out


def tagging_side_by_side(est, split, student_scores: dict, student_seconds: float) -> dict:
    """The NER run's distillation summary: teacher and student entity scores on `split`, word-level tag
    agreement, time per sentence and size."""
    from headstart.tasks.tagging.metrics import entity_metrics

    plan = est.distillation_
    teacher_probs = plan.teacher.proba(split.sentences, list(est.labels_))
    teacher_tags = [[est.labels_[i] for i in p.argmax(1)] for p in teacher_probs]
    student_tags = est.predict_tags(split.sentences)
    words = [(a == b) for t, s in zip(teacher_tags, student_tags, strict=True) for a, b in zip(t, s, strict=True)]
    t_scores = entity_metrics(split.tags, teacher_tags)
    about = plan.teacher.describe()
    out = plan.summary | {
        "teacher": about, "split_rows": len(split.sentences),
        "teacher_scores": {k: t_scores[k] for k in ("precision", "recall", "f1")},
        "student_scores": {k: student_scores[k] for k in ("precision", "recall", "f1")},
        "agreement": round(float(np.mean(words)), 4) if words else None,
        "teacher_seconds_per_text": about["seconds_per_text"],
        "student_seconds_per_text": round(student_seconds / max(1, len(split.sentences)), 6),
        "teacher_params": about["params"], "student_params": int(sum(p.numel() for p in est.model_.parameters())),
        "teacher_train_agreement": {"agreement": None, "rows": 0},
    }
    plan.teacher.model = None
    return out


def report_section(summary: dict, metric: str = "accuracy") -> list[tuple[str, list]]:
    """The report's "Teacher vs student" (and "Self-training rounds") sections of a run's distillation dict."""
    from headstart.evaluation.report import Table

    sections = []
    if "teacher_scores" in summary:
        t, s = summary["teacher_scores"], summary["student_scores"]

        def cell(v, fmt="{:.4f}"):
            return "n/a" if v is None else fmt.format(v)

        keys = ("precision", "recall", "f1") if metric == "f1" else ("accuracy", "macro_f1", "auc")
        rows = [[name, *(cell(x[k]) for k in keys), cell(sec, "{:.2e} s"), cell(params, "{:,}")]
                for name, x, sec, params in (
                    (f"teacher: {summary['teacher']['teacher']}", t, summary["teacher_seconds_per_text"],
                     summary["teacher_params"]),
                    ("student (this run)", s, summary["student_seconds_per_text"], summary["student_params"]))]
        agreement = summary["teacher_train_agreement"]
        unit = "sentences' words" if metric == "f1" else "rows"
        notes = [f"Student and teacher agree on {summary['agreement']:.1%} of the {summary['split_rows']} {unit} scored.",
                 f"Teacher temperature {summary['temperature']:g} ({summary['temperature_chosen_on']}); "
                 f"weight on the teacher for labelled rows {summary['weight']:g}; "
                 f"{summary['unlabeled_rows']:,} unlabelled rows labelled by the teacher."]
        if summary.get("warning"):
            notes.append(f"Warning: {summary['warning']}.")
        if summary.get("teacher_saw_dev"):
            notes.append("The teacher trained on the student's dev rows (the same training file), so its dev scores "
                         "in metrics.json are optimistic; the test rows above are held out from both.")
        if str(summary.get("gold", "")).startswith("none"):
            notes.append(f"No gold labels in the training data: {summary['gold'].removeprefix('none: ')}.")
        elif agreement["rows"]:
            notes.append(f"Teacher agreement with gold on the labelled training rows: {agreement['agreement']:.3f} "
                         f"on {agreement['rows']:,} rows.")
        if summary["teacher"].get("requests") is not None:
            notes.append(f"API teacher {summary['teacher']['api_model']}: {summary['teacher']['requests']:,} requests.")
        names = {"accuracy": "Accuracy", "macro_f1": "Macro-F1", "auc": "AUC", "precision": "Precision",
                 "recall": "Recall", "f1": "Entity F1"}
        sections.append(("Teacher vs student", [Table(["", *(names[k] for k in keys), "Time per text", "Parameters"],
                                                      rows, frozenset(range(1, 6))), notes]))
    if summary.get("self_training"):
        rows = [[str(r["round"]), str(r["pseudo_rows"]), "n/a" if r.get("dev") is None else f"{r['dev']:.4f}",
                 "yes" if r.get("kept") else "no"] for r in summary["self_training"]]
        sections.append(("Self-training rounds", [Table(["Round", "Pseudo-labelled rows", "Dev score", "Kept"], rows,
                                                        frozenset({0, 1, 2}))]))
    return sections
