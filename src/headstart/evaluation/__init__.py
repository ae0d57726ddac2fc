"""Evaluation: metrics, baselines, plots and the run report.

Example:
    >>> from headstart.evaluation import classification_metrics, tfidf_baseline, write_report
"""

from __future__ import annotations

from headstart.evaluation.baselines import majority_baseline, tfidf_baseline
from headstart.evaluation.metrics import GREATER_IS_BETTER, classification_metrics, primary_metric
from headstart.evaluation.plots import plot_confusion_matrix, plot_learning_curves
from headstart.evaluation.report import write_report

__all__ = [
    "GREATER_IS_BETTER",
    "classification_metrics",
    "primary_metric",
    "majority_baseline",
    "tfidf_baseline",
    "plot_learning_curves",
    "plot_confusion_matrix",
    "write_report",
]
