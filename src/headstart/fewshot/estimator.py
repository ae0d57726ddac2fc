"""`FewShotClassifier`: SetFit-style few-shot classification, shaped like a scikit-learn estimator.

    clf = FewShotClassifier(epochs=4, pairs_per_example=10).fit(texts, labels)   # or a DataFrame / path
    clf.predict(["the plot drags"]); clf.predict_proba(...); clf.score(X, y)
    clf.save("models/fs"); FewShotClassifier.load("models/fs")

Two phases: (1) the sentence encoder is fine-tuned contrastively on pairs (same class -> cosine 1,
different class -> 0; `pairs.py`, `contrastive.py`); (2) a logistic regression is fit on its embeddings.
Early stopping covers both: after every contrastive epoch (and before the first, epoch 0 = the untuned
encoder) the head is fit on the training part and the whole pipeline is scored on the dev part; the best
encoder state is kept, and the final head is fit on every training row, the held-out ones included.

Dev part: the `dev` argument, else a stratified `dev_fraction` of the rows when every class has at least
`MIN_PER_CLASS_FOR_DEV` (16) rows. With fewer (8 examples per class, say) nothing is held out, there is
no early stopping, and the encoder after the last epoch is kept (`history_` says so): a dev part of two or
three rows per class chooses epochs by noise.

The encoder is a `sentence_transformers.SentenceTransformer` loaded from the backbone's folder: it brings
the model's own pooling and normalisation (the packaged MiniLM: mean pooling + L2 norm), a plain
Hugging Face folder gets mean pooling, and the saved encoder is a standard folder that SetFit and
sentence-transformers load as it is.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from headstart.data import Split, read_split, stratified_split
from headstart.data.validate import check_known_labels, check_min_per_class, check_train_labels
from headstart.errors import DataError
from headstart.evaluation.metrics import classification_metrics, primary_metric
from headstart.fewshot.config import MIN_PER_CLASS_FOR_DEV, FewShotConfig
from headstart.fewshot.contrastive import ContrastiveStep, encode, train_epoch
from headstart.fewshot.encoder import load_encoder
from headstart.fewshot.pairs import epoch_rng, sample_pairs

__all__ = ["FewShotClassifier"]

_OPTIONS = ("backbone", "epochs", "pairs_per_example", "batch_size", "lr", "warmup_ratio", "max_length",
            "patience", "dev_fraction", "C", "seed")


class FewShotClassifier(ClassifierMixin, BaseEstimator):
    """Contrastive fine-tuning of a sentence encoder on pairs, then a logistic-regression head.

    Args:
        backbone: registered name (default: the packaged MiniLM), local folder or Hugging Face id.
        epochs: most contrastive epochs (0: the untuned encoder + head).
        pairs_per_example: pairs per training row and epoch, half positive, half negative (even, >= 2).
        batch_size: pairs per optimiser step.
        lr: AdamW learning rate of the encoder (linear warmup over `warmup_ratio`, then linear decay).
        max_length: tokens per text.
        patience: epochs without a better dev score before stopping (0: run every epoch, keep the best).
        dev_fraction: share of the rows held out to choose the epoch when no dev data is given.
        C: inverse regularisation strength of the logistic-regression head.
        seed: seeds the dev split, the pairs, their order, dropout and the head.
        text_column, label_column: how to read DataFrames, Datasets and files.

    Example:
        >>> clf = FewShotClassifier(epochs=2).fit(texts, labels)  # doctest: +SKIP
        >>> clf.predict(["what a fine film"])  # doctest: +SKIP
    """

    def __init__(self, backbone: str = "minilm", *, epochs: int = 4, pairs_per_example: int = 10,
                 batch_size: int = 16, lr: float = 2e-5, warmup_ratio: float = 0.1, max_length: int = 128,
                 patience: int = 2, dev_fraction: float = 0.2, C: float = 1.0, seed: int = 0,
                 text_column: str = "text", label_column: str = "label") -> None:
        self.backbone = backbone
        self.epochs = epochs
        self.pairs_per_example = pairs_per_example
        self.batch_size = batch_size
        self.lr = lr
        self.warmup_ratio = warmup_ratio
        self.max_length = max_length
        self.patience = patience
        self.dev_fraction = dev_fraction
        self.C = C
        self.seed = seed
        self.text_column = text_column
        self.label_column = label_column

    # ---- fitting --------------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None) -> FewShotClassifier:
        """Fit on texts + labels, a DataFrame / Dataset with text and label columns, or a file path.

        Args:
            X: list of texts (then y is required), DataFrame, datasets.Dataset, or a CSV/TSV/JSONL path.
            y: the class name of each text.
            dev: optional dev data (DataFrame, Dataset, path, or a (texts, labels) pair) for early stopping.
        """
        cfg = FewShotConfig(**{k: getattr(self, k) for k in _OPTIONS})
        t0 = time.perf_counter()
        data = self._split(X, y)
        self.classes_ = np.array(sorted(set(data.labels)))
        train, held_out, dev_split = self._dev(data, dev, cfg)
        torch.manual_seed(cfg.seed)
        self.backbone_name_, self.model_ = load_encoder(cfg.backbone, cfg.max_length)
        self.config_ = cfg
        self._contrastive(train, dev_split, cfg)
        # phase 2 on every training row: the held-out dev part joins once the encoder is chosen
        rows = Split(train.texts + held_out.texts, train.labels + held_out.labels)
        self.head_ = self._fit_head(encode(self.model_, rows.texts), self._encode(rows.labels), cfg)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _contrastive(self, train: Split, dev: Split | None, cfg: FewShotConfig) -> None:
        """Phase 1 with early stopping on the dev score of encoder + head; sets history_ and best_epoch_."""
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

        y = self._encode(train.labels)
        loss_fn = CosineSimilarityLoss(self.model_)
        steps_per_epoch = -(-len(train) * cfg.pairs_per_example // cfg.batch_size)
        step = ContrastiveStep.build(self.model_, cfg.lr, cfg.epochs * steps_per_epoch, cfg.warmup_ratio)
        self.history_: list[dict] = []
        best, best_state, waited = None, None, 0
        for epoch in range(cfg.epochs + 1):
            row: dict = {"epoch": epoch, "pairs": 0, "train_loss": None}
            if epoch > 0:
                pairs = sample_pairs(y, cfg.pairs_per_example, epoch_rng(cfg.seed, epoch))
                torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout masks of this epoch
                row |= {"pairs": len(pairs), "train_loss": train_epoch(self.model_, loss_fn, train.texts, pairs,
                                                                       step, cfg.batch_size)}
            if dev is not None:
                row |= self._dev_score(train, dev, cfg)
                if best is None or row["key"] > best["key"]:
                    best, best_state, waited = row, copy.deepcopy(self.model_.state_dict()), 0
                else:
                    waited += 1
            self.history_.append(row)
            if dev is not None and cfg.patience and waited >= cfg.patience:
                break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.best_epoch_ = best["epoch"] if best is not None else cfg.epochs
        self.n_pairs_ = sum(r["pairs"] for r in self.history_)
        for r in self.history_:
            r.pop("key", None)

    def _dev_score(self, train: Split, dev: Split, cfg: FewShotConfig) -> dict:
        """Fit the head on the training part and score the pipeline on dev: the primary metric, ties
        broken by the lower log-loss (a dev part of a few rows ties often on accuracy or AUC)."""
        head = self._fit_head(encode(self.model_, train.texts), self._encode(train.labels), cfg)
        proba = head.predict_proba(encode(self.model_, dev.texts))
        truth = self._encode(dev.labels)
        metric = primary_metric(len(self.classes_), False)
        scores = classification_metrics(truth, proba, list(self.classes_))
        loss = float(log_loss(truth, proba, labels=np.arange(len(self.classes_))))
        value = scores[metric] if scores[metric] is not None else scores["accuracy"]
        return {"dev_metric": metric, "dev_score": float(value), "dev_accuracy": scores["accuracy"],
                "dev_log_loss": loss, "key": (float(value), -loss)}

    @staticmethod
    def _fit_head(X: np.ndarray, y: np.ndarray, cfg: FewShotConfig) -> LogisticRegression:
        return LogisticRegression(C=cfg.C, max_iter=1000, random_state=cfg.seed).fit(X, y)

    # ---- data -----------------------------------------------------------------------------------
    def _split(self, X, y) -> Split:
        """Training rows, checked: single-label, two classes or more, two rows per class at least."""
        split = self._read(X, y)
        check_train_labels(split)
        check_min_per_class(split)  # two per class: a class needs a positive pair
        return split

    def _read(self, X, y) -> Split:
        if y is not None:
            texts = list(X)
            if len(texts) != len(y):
                raise DataError("texts and labels differ in length.", expected="one label per text",
                                found=f"{len(texts)} texts, {len(y)} labels", fix="pass matching lists")
            split = Split([str(t) for t in texts], [str(v) for v in y])
        elif isinstance(X, list | tuple | np.ndarray):
            raise DataError("labels are missing.", expected="fit(texts, labels) or fit(DataFrame)",
                            found="a list of texts and no labels", fix="pass the labels as y")
        else:
            split = read_split(X, text_column=self.text_column, label_column=self.label_column)
        if any(isinstance(label, tuple) for label in split.labels):
            raise DataError("few-shot classification takes one label per text.", expected="single-label data",
                            found="multi-label rows", fix="use HeadstartClassifier for multi-label data",
                            file=split.source)
        return split

    def _dev(self, data: Split, dev, cfg: FewShotConfig) -> tuple[Split, Split, Split | None]:
        """(contrastive training rows, rows held out of them, dev split or None)."""
        empty = Split([], [])
        if dev is not None:
            dev_split = self._read(*dev) if isinstance(dev, tuple) else self._read(dev, None)
            check_known_labels(dev_split, self.classes_)
            return data, empty, dev_split
        counts = np.unique(data.labels, return_counts=True)[1]
        if counts.min() < MIN_PER_CLASS_FOR_DEV or cfg.epochs == 0:
            return data, empty, None
        train, held = stratified_split(data, fraction=cfg.dev_fraction, seed=cfg.seed)
        return train, held, held

    def _encode(self, labels: list[str]) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.classes_)}
        return np.array([index[name] for name in labels], dtype=np.int64)

    # ---- prediction -----------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """(n, n_classes) probabilities, columns in the order of `classes_`."""
        embeddings = self.transform(X)  # first: an unfitted model raises NotFittedError
        return self.head_.predict_proba(embeddings)

    def predict(self, X) -> np.ndarray:
        """Class names, shape (n,)."""
        best = self.predict_proba(X).argmax(1)  # first: an unfitted model raises NotFittedError
        return self.classes_[best]

    def transform(self, X) -> np.ndarray:
        """(n, dim) embeddings of the tuned encoder."""
        texts = self._texts(X)  # checks that the model is fitted
        return encode(self.model_, texts)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Accuracy on texts + labels, a DataFrame or a path."""
        split = self._read(X, y)
        return float(np.mean(self.predict(split.texts) == np.array(split.labels)))

    def evaluate(self, X, y=None) -> dict:
        """Accuracy, macro-F1 and the row count on labelled data (texts + labels, a DataFrame or a path)."""
        split = self._read(X, y)
        check_known_labels(split, self.classes_)
        scores = classification_metrics(self._encode(split.labels), self.predict_proba(split.texts),
                                        list(self.classes_))
        return {k: scores[k] for k in ("accuracy", "macro_f1", "n")}

    def _texts(self, X) -> list[str]:
        if not hasattr(self, "head_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This FewShotClassifier is not fitted yet: call fit(...) or load(...) first.")
        if isinstance(X, str):
            raise DataError("predict takes a list of texts.", expected="a list of strings", found="one string",
                            fix="wrap it in a list: predict([text])")
        if isinstance(X, list | tuple | np.ndarray):
            return [str(t) for t in X]
        return read_split(X, text_column=self.text_column, label_column=self.label_column,
                          require_labels=False).texts

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path):
        """Save to a folder: `encoder/` (sentence-transformers format), `head.safetensors`, `fewshot.json`."""
        from headstart.fewshot.store import save_fewshot

        self._texts([])  # raises NotFittedError when unfitted
        return save_fewshot(self, path)

    @classmethod
    def load(cls, path) -> FewShotClassifier:
        """Load a folder written by `save` (or a run folder of `headstart few-shot`)."""
        from headstart.fewshot.store import load_fewshot

        return load_fewshot(cls, path)
