"""Distillation and self-training: a small student learns from a teacher's probabilities (a bigger run, an
ensemble, an LLM behind an OpenAI-compatible API, a zero-shot scorer) on the labelled texts and on
unlabelled ones, or from its own confident predictions (self-training).

    HeadstartClassifier(strategy="full").fit(texts, labels, teacher="runs/mpnet", unlabeled=more_texts)
    headstart distill train.csv --teacher runs/mpnet --unlabeled more.csv --out runs/student
    headstart train train.csv --self-train --unlabeled more.csv
"""

from headstart.distill.objective import Distillation, choose_temperature, soften
from headstart.distill.options import DistillOptions
from headstart.distill.self_training import class_thresholds
from headstart.distill.teacher import Teacher, load_teacher

__all__ = ["Distillation", "DistillOptions", "Teacher", "load_teacher", "choose_temperature", "soften",
           "class_thresholds"]
