"""`features`: frozen, mean-pooled embeddings + a scikit-learn linear model (logistic regression or
linear SVM).

The fitted linear model becomes the classifier's linear head, so a
features run saves, loads and predicts exactly like every other strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headstart.config import check_choice, check_range, option
from headstart.strategies.base import Strategy

__all__ = ["Features", "FeaturesOptions", "fit_linear_probe"]


@dataclass
class FeaturesOptions:
    """The linear model on the frozen features (refit on train + dev: TrainConfig.refit)."""

    classifier: str = option("logreg", "features: logreg (probabilities) or svm (linear SVM; probabilities are "
                             "a softmax of margins, not calibrated)")
    C: float = option(1.0, "features: inverse regularisation strength of the linear model")

    def __post_init__(self) -> None:
        check_choice("classifier", self.classifier, ("logreg", "svm"))
        check_range("C", self.C, 1e-6, 1e6)


class Features(Strategy):
    name = "features"
    summary = "frozen mean-pooled embeddings + logistic regression / linear SVM (fastest, no backprop)"
    options_cls = FeaturesOptions
    uses_gradients = False

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        return ["head"]


def fit_linear_probe(
    X: np.ndarray, y: np.ndarray, n_labels: int, options: FeaturesOptions, *, multilabel: bool,
    class_weight: str | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the scikit-learn model on features X (n, d) and return an equivalent head (W (C, d), b (C,)).

    Softmax of the returned logits equals LogisticRegression.predict_proba (multinomial); for binary
    data the single sklearn logit z becomes the pair (-z/2, z/2), whose softmax is sigmoid(z).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    # Raw pooled embeddings, no standardisation: in our trials on SMS spam and Banking77 standardising did
    # not raise accuracy and made lbfgs take more iterations.
    if options.classifier == "logreg":
        base = LogisticRegression(C=options.C, max_iter=3000, class_weight=class_weight, random_state=seed)
    else:
        base = LinearSVC(C=options.C, class_weight=class_weight, random_state=seed, max_iter=10000)
    model = OneVsRestClassifier(base) if multilabel else base
    model.fit(X, y)
    if multilabel:
        coef = np.vstack([est.coef_ for est in model.estimators_])  # (C, d)
        intercept = np.concatenate([est.intercept_ for est in model.estimators_])
    else:
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1 and n_labels == 2:
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        present = list(model.classes_)
        if len(present) != n_labels:  # a class absent from training rows gets a very low logit
            full_c = np.zeros((n_labels, coef.shape[1]))
            full_b = np.full(n_labels, -1e4)
            full_c[present], full_b[present] = coef, intercept
            coef, intercept = full_c, full_b
    return coef.astype(np.float32), intercept.astype(np.float32)
