"""The options of distillation and self-training, declared once: `TeacherOptions` are options of every
estimator that learns from a teacher (classifier, pair classifier, tagger), `DistillOptions` add
self-training (classifier and pair classifier), so `headstart train`, `headstart distill` and the Python
estimators share them."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import check_range, option

__all__ = ["TeacherOptions", "DistillOptions", "check_distill_options"]


@dataclass
class TeacherOptions:
    """Learning from a teacher's probabilities (every task that distils: classification, pairs, NER)."""

    teacher: str | None = option(None, "distil from a teacher: a run folder of the same task (classification: "
                                 "also a compare ensemble, or zero-shot:embedding / zero-shot:lm / "
                                 "zero-shot:api[:MODEL])")
    unlabeled: str | None = option(None, "a file of unlabelled texts (same text column(s); NER: sentences, tags "
                                   "not needed) the teacher labels for the student, or self-training "
                                   "pseudo-labels")
    distill_weight: float | None = option(None, "share of the loss on labelled rows that follows the teacher "
                                          "(the rest follows the gold label); unlabelled rows follow the "
                                          "teacher only [default: 0.5]")
    temperature: float | None = option(None, "soften the teacher's probabilities (p^(1/T), renormalised); "
                                       "default: the T in [1, 4] at which the teacher's dev probabilities "
                                       "fit the gold labels best (temperature scaling)")


@dataclass
class DistillOptions(TeacherOptions):
    """A teacher's probabilities, and the model's own confident predictions (classification and pairs)."""

    labels: list[str] | None = option(None, "the class names, for texts without labels: the teacher (a "
                                      "zero-shot:... one, or a run) labels every row and the student learns "
                                      "from it alone")
    self_train: bool = option(False, "self-training: label the unlabelled texts with the model itself, keep "
                              "the confident ones (a threshold per class, set on dev), retrain; rounds stop "
                              "when dev stops improving")
    self_train_rounds: int = option(3, "self-training: the most rounds after the first fit")


def check_distill_options(opts) -> None:
    """Range checks, before anything slow (opts: anything with the fields above)."""
    if opts.distill_weight is not None:
        check_range("distill_weight", opts.distill_weight, 0.0, 1.0)
    if opts.temperature is not None:
        check_range("temperature", opts.temperature, 0.05, 100.0)
    if hasattr(opts, "self_train_rounds"):
        check_range("self_train_rounds", opts.self_train_rounds, 1, 20, integer=True)
