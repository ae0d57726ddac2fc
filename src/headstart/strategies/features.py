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

__all__ = ["Features", "FeaturesOptions", "fit_linear_probe", "choose_C", "C_GRID"]

C_GRID = (0.1, 1.0, 10.0, 100.0)  # 0.01 never won on a calibration set (benchmarks/features_probe.py)
CV_FOLDS = 3


@dataclass
class FeaturesOptions:
    """The linear model on the frozen features (refit on train + dev: TrainConfig.refit)."""

    classifier: str = option("logreg", "features: logreg (probabilities) or svm (linear SVM; probabilities are "
                             "a softmax of margins, not calibrated)")
    C: float | None = option(None, "features: inverse regularisation strength of the linear model (default: "
                             "chosen by 3-fold cross-validation on the training rows among 0.1, 1, 10, 100)")

    def __post_init__(self) -> None:
        check_choice("classifier", self.classifier, ("logreg", "svm"))
        if self.C is not None:
            check_range("C", self.C, 1e-6, 1e6)


class Features(Strategy):
    name = "features"
    summary = "frozen mean-pooled embeddings + logistic regression / linear SVM (fastest, no backprop)"
    options_cls = FeaturesOptions
    uses_gradients = False

    def trainable_groups(self, group_names: list[str]) -> list[str]:
        return ["head"]


def choose_C(X: np.ndarray, y: np.ndarray, options: FeaturesOptions, *, multilabel: bool, class_weight: str | None,
             seed: int) -> float:
    """The C of C_GRID with the best mean CV_FOLDS-fold score on (X, y): accuracy, or for multi-label rows
    macro-F1 (stratified folds where there is one label per row). 1.0 when a class has fewer rows than folds.
    On the calibration sets choosing C this way raised the probe's dev accuracy by up to 1.4 points
    (benchmarks/results/sweeps/features-probe.jsonl) and never lowered it by more than noise."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    if multilabel:
        if len(X) < 2 * CV_FOLDS:
            return 1.0
        folds, scoring = KFold(CV_FOLDS, shuffle=True, random_state=seed), "f1_macro"
    else:
        if np.bincount(np.asarray(y, dtype=int)).astype(float)[np.unique(y)].min() < CV_FOLDS:
            return 1.0
        folds, scoring = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed), "accuracy"

    def score(C: float) -> float:
        model = _estimator(FeaturesOptions(options.classifier, C), multilabel, class_weight, seed)
        return float(np.mean(cross_val_score(model, X, y, cv=folds, scoring=scoring)))

    return max(C_GRID, key=score)


def _estimator(options: FeaturesOptions, multilabel: bool, class_weight: str | None, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    C = 1.0 if options.C is None else options.C
    if options.classifier == "logreg":
        base = LogisticRegression(C=C, max_iter=3000, class_weight=class_weight, random_state=seed)
    else:
        base = LinearSVC(C=C, class_weight=class_weight, random_state=seed, max_iter=10000)
    return OneVsRestClassifier(base) if multilabel else base


def fit_linear_probe(
    X: np.ndarray, y: np.ndarray, n_labels: int, options: FeaturesOptions, *, multilabel: bool,
    class_weight: str | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fit the scikit-learn model on features X (n, d) and return an equivalent head (W (C, d), b (C,)).

    Softmax of the returned logits equals LogisticRegression.predict_proba (multinomial); for binary
    data the single sklearn logit z becomes the pair (-z/2, z/2), whose softmax is sigmoid(z).
    """
    # Raw pooled embeddings, neither standardised nor L2-normalised: over the nine calibration sets, with C
    # chosen by CV, raw and L2-normalised features scored the same on average (0.766 dev accuracy each;
    # benchmarks/features_probe.py), and raw features keep the head a plain linear layer on the pooled output,
    # which every export path (transformers, ONNX) carries unchanged. C None here means 1.0.
    model = _estimator(options, multilabel, class_weight, seed)
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
