"""`HeadstartClassifier`: the scikit-learn-shaped front of headstart.

    clf = HeadstartClassifier(strategy="top-n").fit(texts, labels)   # or a DataFrame / datasets.Dataset
    clf.predict(["WINNER!! Claim your prize"]); clf.predict_proba(...); clf.score(X, y)
    clf.save("models/spam"); HeadstartClassifier.load("models/spam")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.base import ClassifierMixin

from headstart.config import TrainConfig
from headstart.data import Split, TaskData, load_task, read_split
from headstart.distill.options import check_distill_options
from headstart.errors import ConfigError, DataError
from headstart.evaluation.metrics import primary_metric
from headstart.tasks.base import HeadEstimator
from headstart.tasks.classification.objective import Classification
from headstart.tasks.classification.options import OPTIONS as TASK_OPTIONS
from headstart.training import Examples, predict_logits, probabilities, tokenize

__all__ = ["HeadstartClassifier", "AUTO_BALANCE_RATIO"]

AUTO_BALANCE_RATIO = 10.0


class HeadstartClassifier(ClassifierMixin, HeadEstimator):
    """Adapt a pretrained language model to a text-classification task.

    Args:
        backbone: registered name (default: the packaged MiniLM), local folder or Hugging Face id.
        strategy: a name of `headstart.strategies.STRATEGIES` (default "top-n").
        **options: keyword-only, each declared once (its help: `headstart train --help`, or
            `HeadstartClassifier.option_table()`): the strategies' own options (rank, top_n, C, ...; None
            takes the strategy's default), the training options of TrainConfig (epochs, lr, batch_size,
            max_length, ...), text_column / label_column / label_sep, dev_fraction and progress.

    Example:
        >>> clf = HeadstartClassifier(strategy="features").fit(["good", "bad", ...], ["pos", "neg", ...])
    """

    task = "classification"  # what `headstart.load` and the run folders dispatch on
    task_options = TASK_OPTIONS

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None, teacher=None, unlabeled=None) -> HeadstartClassifier:
        """Fit on texts + labels, a DataFrame / Dataset with text and label columns, or a file path.

        Args:
            X: list of texts (then y is required), DataFrame, datasets.Dataset, or a CSV/TSV/JSONL path.
            y: labels for a list of texts (class names; tuples of names for multi-label).
            dev: optional dev data in the same forms (a DataFrame, Dataset or path); else a stratified
                `dev_fraction` of the training rows.
            teacher: distil from it (headstart.distill): a fitted classifier, a run folder or a zero-shot
                name; overrides the `teacher` option.
            unlabeled: texts with no labels (a list, or a file / DataFrame with the text column) for the
                teacher to label, or for self-training; overrides the `unlabeled` option.
        """
        teacher = self.teacher if teacher is None else teacher
        by = None
        if y is None and self.labels and teacher is not None and isinstance(X, list | tuple | np.ndarray):
            from headstart.distill.student import teacher_labels

            X = self._memory_texts(list(X))
            y, by = teacher_labels(X, teacher, self.labels), str(getattr(teacher, "name", teacher))
        task = load_task(self._as_table(X, y), dev=dev, text_column=self.text_column,
                         label_column=self.label_column, label_sep=self.label_sep,
                         dev_fraction=self.dev_fraction, seed=self.seed, reader=self.reader)
        task.labelled_by = by
        return self.fit_task(task, teacher=teacher, unlabeled=unlabeled)

    reader = staticmethod(read_split)  # reads one split of this task's files (sentence pairs: their own)

    def fit_task(self, task: TaskData, *, checkpoint: str | Path | None = None, resume: bool = False,
                 stop_after: int | None = None, teacher=None, unlabeled=None) -> HeadstartClassifier:
        """Fit on an already loaded TaskData (what the CLI does); see `fit`."""
        check_distill_options(self)
        teacher = self.teacher if teacher is None else teacher
        extra = self._unlabeled_texts(self.unlabeled if unlabeled is None else unlabeled)
        if self.self_train:
            from headstart.distill.self_training import self_train

            return self_train(self, task, extra, teacher=teacher, checkpoint=checkpoint, resume=resume)
        distill = self._teacher_plan(task, teacher, extra)
        self.distillation_ = distill
        model, cfg = self._build(len(task.labels), multilabel=task.multilabel)
        self.labels_, self.multilabel_ = list(task.labels), task.multilabel
        self.classes_ = np.array(self.labels_)
        self.metric_ = cfg.metric or primary_metric(len(task.labels), task.multilabel)
        y_train, y_dev = self.encode_labels(task.train), self.encode_labels(task.dev)
        weights = self._class_weights(y_train, cfg)
        objective = Classification(metric=self.metric_, multilabel=task.multilabel, class_weights=weights,
                                   label_smoothing=cfg.label_smoothing)
        texts = task.train.texts
        if distill is not None:
            texts, y_train, y_dev, objective = distill.apply(texts, y_train, y_dev, objective)
        train, dev = self._examples(texts, y_train), self._examples(task.dev.texts, y_dev)
        return self._train(train, dev, objective, balanced_probe=weights is not None, checkpoint=checkpoint,
                           resume=resume, stop_after=stop_after)

    def _teacher_plan(self, task: TaskData, teacher, extra: list):
        """The teacher's probabilities for the student (headstart.distill.student), or None without a teacher;
        options that need a teacher are refused without one."""
        if teacher is not None:
            from headstart.distill.student import plan

            self._strategy_and_config()  # the student's options checked before the teacher is asked
            return plan(task, teacher, extra, temperature=self.temperature, weight=self.distill_weight)
        if self.labels:
            raise ConfigError("--labels names the classes a teacher labels texts with.", expected="--teacher RUN "
                              "or zero-shot:... beside --labels", found="--labels without a teacher",
                              fix="add --teacher, or drop --labels (labelled data brings its own classes)")
        if extra:
            raise ConfigError("unlabelled texts need a teacher or self-training to label them.",
                              expected="--teacher RUN (or zero-shot:...) or --self-train with --unlabeled",
                              found="--unlabeled alone", fix="add --teacher or --self-train, or drop --unlabeled")
        return None

    def _unlabeled_texts(self, source) -> list:
        """Texts without labels: a list as given, or read from a file / DataFrame by the text column."""
        if source is None:
            return []
        if isinstance(source, list | tuple | np.ndarray):
            return self._memory_texts(list(source))
        return self.reader(source, text_column=self.text_column, label_column=self.label_column,
                           label_sep=self.label_sep, require_labels=False).texts

    def _examples(self, texts: list, labels) -> Examples:
        """Token ids (truncated to max_length, special tokens added, no padding) and labels."""
        return Examples(tokenize(self.tokenizer_, texts, self.train_config_.max_length), labels)

    def _balanced(self, y: np.ndarray, cfg: TrainConfig) -> bool:
        """Whether to weigh classes ("auto": only when the largest class is >= AUTO_BALANCE_RATIO x the smallest)."""
        if cfg.class_weights != "auto":
            return cfg.class_weights == "balanced"
        counts = y.sum(0) if self.multilabel_ else np.bincount(y, minlength=len(self.labels_))
        counts = counts[counts > 0]
        return bool(len(counts) and counts.max() / counts.min() >= AUTO_BALANCE_RATIO)

    def encode_labels(self, split: Split) -> np.ndarray:
        """Class indices (n,), or a multi-hot (n, n_classes) matrix for multi-label, in `classes_` order."""
        return split.encode(self.labels_, self.multilabel_)

    def _class_weights(self, y: np.ndarray, cfg: TrainConfig) -> torch.Tensor | None:
        if not self._balanced(y, cfg):
            return None
        if self.multilabel_:  # BCE pos_weight: negatives / positives per class, kept within [1, 10]
            pos = y.sum(0).clip(min=1)
            return torch.as_tensor(((len(y) - pos) / pos).clip(1, 10), dtype=torch.float32)
        counts = np.bincount(y, minlength=len(self.labels_)).clip(min=1)
        return torch.as_tensor(len(y) / (len(counts) * counts), dtype=torch.float32)

    # ---- prediction ---------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """(n, n_classes) probabilities; columns in the order of `classes_`."""
        texts = self._texts(X)  # checks the model is fitted
        logits = predict_logits(self.model_, self._examples(texts, None), pad_id=self.tokenizer_.pad_token_id)
        return probabilities(logits, self.multilabel_)

    def predict(self, X) -> np.ndarray:
        """Class names (n,); for multi-label, a list of label tuples (probability >= 0.5)."""
        proba = self.predict_proba(X)
        if self.multilabel_:
            return np.array([tuple(self.classes_[row >= 0.5]) for row in proba] + [None], dtype=object)[:-1]
        return self.classes_[proba.argmax(1)]

    def score(self, X, y=None, sample_weight=None) -> float:
        """Accuracy (subset accuracy for multi-label)."""
        split = self._as_split(X, y)
        pred = self.predict(split.texts)
        truth = split.labels
        return float(np.mean([tuple(p) == tuple(t) if self.multilabel_ else p == t
                              for p, t in zip(pred, truth, strict=True)]))

    # ---- input handling ----------------------------------------------------------------------------
    def _as_table(self, X, y):
        """X itself, or (texts, labels) as a DataFrame with the configured column names."""
        if y is None:
            if isinstance(X, list | tuple | np.ndarray):
                self._as_split(X, None)  # raises the "labels are missing" error for a bare list of texts
            return X
        import pandas as pd

        split = self._as_split(X, y)
        labels = [list(v) if isinstance(v, tuple) else v for v in split.labels]
        return pd.DataFrame({**self._text_frame(split.texts), self.label_column: labels})

    def _text_frame(self, texts: list) -> dict:
        """Texts as the columns of a DataFrame the reader reads back."""
        return {self.text_column: texts}

    def _as_split(self, X, y) -> Split:
        if y is not None:
            texts = list(X)
            if len(texts) != len(y):
                raise DataError("texts and labels differ in length.", expected="one label per text",
                                found=f"{len(texts)} texts, {len(y)} labels", fix="pass matching lists")
            labels = [tuple(v) if isinstance(v, list | tuple | set) else str(v) for v in y]
            return Split(self._memory_texts(texts), labels, "<memory>")
        if isinstance(X, list | tuple | np.ndarray) and (len(X) == 0 or isinstance(X[0], str)):
            raise DataError("labels are missing.", expected="fit(texts, labels) or fit(DataFrame)",
                            found="a list of texts and no labels", fix="pass the labels as y")
        return self.reader(X, text_column=self.text_column, label_column=self.label_column,
                           label_sep=self.label_sep)

    def _memory_texts(self, texts: list) -> list:
        """Texts given in memory, as the model reads them."""
        return [str(t) for t in texts]

