"""Distillation and self-training: a small student learns from a teacher's probabilities (a bigger run, an
ensemble, an LLM behind an OpenAI-compatible API, a zero-shot scorer) on the labelled texts and on
unlabelled ones, or from its own confident predictions (self-training).

    HeadstartClassifier(strategy="full").fit(texts, labels, teacher="runs/mpnet", unlabeled=more_texts)
    headstart distill train.csv --teacher runs/mpnet --unlabeled more.csv --out runs/student
    headstart train train.csv --self-train --unlabeled more.csv

The package itself imports nothing: `headstart.distill.options` is read by the CLI's help, which must not
load torch (see docs/architecture.md, "Startup"). Import from the submodules.
"""
