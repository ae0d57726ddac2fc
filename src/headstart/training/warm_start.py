"""Warm start of the head: fit a linear probe on the frozen pooled features and copy it into the head."""

from __future__ import annotations

import numpy as np
import torch

from headstart.modeling import TransformerClassifier
from headstart.strategies.features import FeaturesOptions, fit_linear_probe

__all__ = ["warm_start_head"]


@torch.no_grad()
def warm_start_head(model: TransformerClassifier, features: np.ndarray, labels: np.ndarray, *,
                    multilabel: bool, balanced: bool, seed: int, C: float = 1.0,
                    classifier: str = "logreg") -> None:
    """Set the head to the linear model (logistic regression or linear SVM) fit on `features` (n, hidden).

    The `features` strategy is exactly this; gradient strategies use it as their starting point."""
    W, b = fit_linear_probe(features, labels, model.head.out_features, FeaturesOptions(classifier=classifier, C=C),
                            multilabel=multilabel, class_weight="balanced" if balanced else None, seed=seed)
    model.head.weight.copy_(torch.as_tensor(W))
    model.head.bias.copy_(torch.as_tensor(b))
