"""`HeadstartClassifier`: the scikit-learn-shaped front of headstart.

    clf = HeadstartClassifier(strategy="top-n").fit(texts, labels)   # or a DataFrame / datasets.Dataset
    clf.predict(["WINNER!! Claim your prize"]); clf.predict_proba(...); clf.score(X, y)
    clf.save("models/spam"); HeadstartClassifier.load("models/spam")
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from headstart.backbones import DEFAULT_BACKBONE, load_backbone
from headstart.config import TrainConfig
from headstart.data import Split, TaskData, load_task, read_split
from headstart.errors import ConfigError, DataError
from headstart.evaluation.metrics import primary_metric
from headstart.modeling import TransformerClassifier
from headstart.persist import SavedMeta, load_model, save_model
from headstart.strategies import make_strategy, saved_strategy
from headstart.tasks.classification.objective import Classification
from headstart.training import Examples, fit, pooled_features, predict_logits, probabilities, tokenize
from headstart.training.drift import drift_from, snapshot
from headstart.training.groups import trains
from headstart.training.warm_start import warm_start_head

__all__ = ["HeadstartClassifier", "AUTO_BALANCE_RATIO"]

AUTO_BALANCE_RATIO = 10.0

_STRATEGY_OPTIONS = ("top_n", "classifier", "C", "refit", "train_embeddings", "rank", "alpha", "lora_dropout",
                     "target_modules", "virtual_tokens", "reduction_factor", "placement", "phm_dim")
_TRAIN_OPTIONS = ("epochs", "lr", "batch_size", "max_length", "lr_decay", "lower_lr_cap", "schedule",
                  "warmup_ratio", "gradual_unfreeze", "patience", "metric", "class_weights", "warm_start",
                  "prefix_cache", "average_epochs", "label_smoothing", "seed")


class HeadstartClassifier(ClassifierMixin, BaseEstimator):
    """Adapt a pretrained language model to a text-classification task.

    Args:
        backbone: registered name (default: the packaged MiniLM), local folder or Hugging Face id.
        strategy: "features", "head", "top-n" or "full" (see `headstart.strategies.STRATEGIES`).
        top_n: blocks trained by "top-n" (and by "lora" when given). classifier, C: the linear model of
            "features"; refit: "features" fits it again on train + dev after scoring it on dev (default on;
            the reported dev score stays the held-out one). train_embeddings: "full" also trains the
            embedding layer (off by default).
        rank, alpha, lora_dropout, target_modules: "lora" options. virtual_tokens: "prompt" / "prefix".
        reduction_factor, placement ("houlsby" | "pfeiffer"), phm_dim: "adapter" / "compacter" options.
        epochs, lr, ...: training options (see TrainConfig); None takes the strategy's default.
        text_column, label_column, label_sep: how to read DataFrames / Datasets / files.
        dev_fraction: share of the training rows held out for early stopping when no dev set is given.
        progress: show a progress bar.

    Example:
        >>> clf = HeadstartClassifier(strategy="features").fit(["good", "bad", ...], ["pos", "neg", ...])
    """

    def __init__(self, backbone: str = DEFAULT_BACKBONE, strategy: str = "top-n", *, top_n: int | None = None,
                 classifier: str | None = None, C: float | None = None, refit: bool | None = None,
                 train_embeddings: bool | None = None,
                 rank: int | None = None, alpha: float | None = None, lora_dropout: float | None = None,
                 target_modules: list[str] | None = None, virtual_tokens: int | None = None,
                 reduction_factor: int | None = None, placement: str | None = None, phm_dim: int | None = None,
                 epochs: int | None = None,
                 lr: float | None = None, batch_size: int = 32, max_length: int = 128, lr_decay: float | None = None,
                 lower_lr_cap: float | None = None, schedule: str = "linear", warmup_ratio: float = 0.1,
                 gradual_unfreeze: bool = False, patience: int = 2, metric: str | None = None,
                 class_weights: str = "auto", warm_start: bool = True, prefix_cache: bool = True,
                 average_epochs: int | None = None, label_smoothing: float | None = None, seed: int = 0,
                 text_column: str = "text", label_column: str = "label", label_sep: str | None = None,
                 dev_fraction: float = 0.1, progress: bool = False) -> None:
        self.backbone = backbone
        self.strategy = strategy
        self.top_n = top_n
        self.classifier = classifier
        self.C = C
        self.refit = refit
        self.train_embeddings = train_embeddings
        self.rank = rank
        self.alpha = alpha
        self.lora_dropout = lora_dropout
        self.target_modules = target_modules
        self.virtual_tokens = virtual_tokens
        self.reduction_factor = reduction_factor
        self.placement = placement
        self.phm_dim = phm_dim
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.lr_decay = lr_decay
        self.lower_lr_cap = lower_lr_cap
        self.schedule = schedule
        self.warmup_ratio = warmup_ratio
        self.gradual_unfreeze = gradual_unfreeze
        self.patience = patience
        self.metric = metric
        self.class_weights = class_weights
        self.warm_start = warm_start
        self.prefix_cache = prefix_cache
        self.average_epochs = average_epochs
        self.label_smoothing = label_smoothing
        self.seed = seed
        self.text_column = text_column
        self.label_column = label_column
        self.label_sep = label_sep
        self.dev_fraction = dev_fraction
        self.progress = progress

    # ---- fitting ----------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None) -> HeadstartClassifier:
        """Fit on texts + labels, a DataFrame / Dataset with text and label columns, or a file path.

        Args:
            X: list of texts (then y is required), DataFrame, datasets.Dataset, or a CSV/TSV/JSONL path.
            y: labels for a list of texts (class names; tuples of names for multi-label).
            dev: optional dev data in the same forms (a DataFrame, Dataset or path); else a stratified
                `dev_fraction` of the training rows.
        """
        task = load_task(self._as_table(X, y), dev=dev, text_column=self.text_column,
                         label_column=self.label_column, label_sep=self.label_sep,
                         dev_fraction=self.dev_fraction, seed=self.seed)
        return self.fit_task(task)

    def fit_task(self, task: TaskData, *, checkpoint: str | Path | None = None,
                 resume: bool = False) -> HeadstartClassifier:
        """Fit on an already loaded TaskData (what the CLI does); see `fit`."""
        model, cfg = self._build(len(task.labels), multilabel=task.multilabel)
        self.labels_, self.multilabel_ = list(task.labels), task.multilabel
        self.classes_ = np.array(self.labels_)
        self.metric_ = cfg.metric or primary_metric(len(task.labels), task.multilabel)
        train = Examples(tokenize(self.tokenizer_, task.train.texts, cfg.max_length), self.encode_labels(task.train))
        dev = Examples(tokenize(self.tokenizer_, task.dev.texts, cfg.max_length), self.encode_labels(task.dev))
        weights = self._class_weights(train.labels, cfg)
        objective = Classification(metric=self.metric_, multilabel=task.multilabel, class_weights=weights,
                                   label_smoothing=cfg.label_smoothing)
        return self._train(train, dev, objective, balanced_probe=weights is not None, checkpoint=checkpoint,
                           resume=resume)

    # ---- the steps every task shares (HeadstartTagger and HeadstartQA call them too) -------------
    def _build(self, n_outputs: int, *, per_token: bool = False,
               multilabel: bool = False) -> tuple[TransformerClassifier, TrainConfig]:
        """Strategy, training config, backbone and a fresh model with its head (and adapters)."""
        strategy = make_strategy(self.strategy, **{k: getattr(self, k) for k in _STRATEGY_OPTIONS})
        cfg = TrainConfig(**{k: getattr(self, k) for k in _TRAIN_OPTIONS})  # checked before the slow load
        bb = load_backbone(self.backbone)
        defaults = strategy.defaults_for(bb.hidden_size)
        if per_token or multilabel or n_outputs < 3:  # label smoothing's default: measured on multi-class only
            defaults.pop("label_smoothing", None)
        cfg = cfg.with_defaults(defaults)
        torch.manual_seed(cfg.seed)  # the head's (and any adapter's) initialisation
        model = TransformerClassifier(bb.model, bb.anatomy, n_outputs, dropout=cfg.dropout, per_token=per_token)
        strategy.prepare(model)  # adapters / prompt encoders, before the groups are read
        self.tokenizer_, self.model_ = bb.tokenizer, model
        self.backbone_name_, self.backbone_source_ = bb.name, bb.source
        self.strategy_, self.train_config_ = strategy, cfg
        return model, cfg

    def _train(self, train: Examples, dev: Examples, objective, *, balanced_probe: bool = False,
               checkpoint: str | Path | None = None, resume: bool = False):
        """Train `self.model_` on token-id examples under `objective`, then record what it cost."""
        model, strategy, cfg = self.model_, self.strategy_, self.train_config_
        names = [g.name for g in model.layer_groups()]
        trainable = strategy.trainable_groups(names)
        pad_id = self.tokenizer_.pad_token_id
        before = snapshot(model)
        t0 = time.perf_counter()
        self.refit_on_dev_, self.heldout_dev_proba_ = False, None  # features' refit sets them
        if strategy.uses_gradients:
            self.fit_result_ = fit(model, train, dev, trainable=trainable, keep=strategy.keep, cfg=cfg, pad_id=pad_id,
                                   objective=objective, balanced_probe=balanced_probe,
                                   checkpoint=checkpoint, resume=resume, progress=self.progress)
        else:
            self.fit_result_ = self._fit_features(model, train, dev, objective, pad_id, cfg, balanced_probe)
        self.fit_seconds_ = time.perf_counter() - t0
        self.drift_ = drift_from(model, before)
        trained = {id(p): p for g in model.layer_groups() if g.name in trainable  # a shared weight once
                   for n, p in g.named_parameters() if trains(g.name, n, strategy.keep)}
        self.trainable_params_ = sum(p.numel() for p in trained.values())
        self.total_params_ = sum(p.numel() for p in model.parameters())
        self.backbone_modified_ = strategy.modifies_backbone(names)
        self.adapter_ = strategy.adapter
        return self

    def merge(self) -> HeadstartClassifier:
        """Fold a LoRA / IA3 adapter into the backbone weights (for deployment: no adapter arithmetic at
        prediction time). Predictions stay equal up to float rounding (tests check 1e-5). The model then
        saves as a whole backbone."""
        self._check_fitted()
        if self.model_.peft is None or self.model_.prompt_learning:
            raise ConfigError("only LoRA and IA3 adapters can be merged into the backbone.",
                              expected="a model trained with strategy lora or ia3",
                              found=f"strategy {self.strategy_.name!r}",
                              fix="use the adapter as it is; prompt, prefix and bottleneck adapters add computation "
                              "that cannot be folded into existing weights")
        backbone = self.model_.peft.merge_and_unload()
        self.model_.backbone = backbone
        self.model_.attach_peft(None)
        self.adapter_, self.backbone_modified_ = None, True
        return self

    def _fit_features(self, model, train: Examples, dev: Examples, objective, pad_id: int, cfg: TrainConfig,
                      balanced: bool):
        """Fit the linear model on the frozen features of train; score it on dev (the history's one row);
        with `refit`, fit it again on train + dev. Dev features are computed once, for both."""
        from headstart.training.loop import FitResult

        if not objective.has_probe:
            raise ConfigError("the features strategy cannot learn this task.", expected="a task with a label per "
                              "text or per token (classification, NER)", found=f"{type(objective).__name__}",
                              fix="use strategy head (or top-n, full, lora) instead")
        o = self.strategy_.options

        def fit_head(features: list, labels) -> None:
            X, y = objective.probe(features, labels)
            warm_start_head(model, np.asarray(X), np.asarray(y), multilabel=objective.multilabel,
                            balanced=balanced, seed=cfg.seed, C=o.C, classifier=o.classifier)

        pooled = list(pooled_features(model, train.inputs, pad_id=pad_id, segments=train.segments))
        fit_head(pooled, train.labels)
        model.eval()
        result = FitResult(metric=objective.metric, best_epoch=1, cache_depth=model.n_blocks)
        if len(dev):
            dev_pooled = list(pooled_features(model, dev.inputs, pad_id=pad_id, segments=dev.segments))
            row = {"epoch": 1, "train_loss": None} | objective.evaluate(
                model, Examples(dev_pooled, dev.labels), pad_id=pad_id, depth=model.n_blocks)
            result.history.append(row)
            result.best_metric = row[f"dev_{objective.metric}"]
            if o.refit:
                if not model.per_token:  # what runs.py scores the held-out dev rows with
                    logits = predict_logits(model, Examples(dev_pooled, None), pad_id=pad_id, depth=model.n_blocks)
                    self.heldout_dev_proba_ = probabilities(logits, objective.multilabel)
                fit_head(pooled + dev_pooled, _concat_labels(train.labels, dev.labels))
                self.refit_on_dev_ = True
        return result

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
        texts = self._texts(X)
        ids = tokenize(self.tokenizer_, texts, self.train_config_.max_length)
        logits = predict_logits(self.model_, Examples(ids, None), pad_id=self.tokenizer_.pad_token_id)
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

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to a folder (Hugging Face formats; see headstart.persist)."""
        self._check_fitted()
        meta = SavedMeta(labels=self.labels_, multilabel=self.multilabel_,
                         max_length=self.train_config_.max_length, backbone_name=self.backbone_name_,
                         backbone_source=self.backbone_source_, backbone_saved=self.backbone_modified_,
                         strategy=self.strategy_.describe() | {"train": self.train_config_.to_dict()},
                         adapter=self.adapter_, task=self.task, task_options=self._task_options())
        return save_model(path, self.model_, self.tokenizer_, meta, strategy=self.strategy_)

    task = "classification"  # what `headstart.load` and the run folders dispatch on

    def _task_options(self) -> dict | None:
        return None

    def _restore_task(self, meta: SavedMeta) -> None:
        """Set what a loaded model of this task needs beyond the common fields (subclasses)."""

    @classmethod
    def load(cls, path: str | Path) -> HeadstartClassifier:
        """Load a folder written by `save` (or a run folder of `headstart train`)."""
        path = Path(path)
        if (path / "model" / "headstart.json").exists():
            path = path / "model"
        model, tokenizer, meta = load_model(path)
        if meta.task != cls.task:
            raise ConfigError(f"{path} holds a {meta.task} model, not a {cls.task} one.",
                              expected=f"a model trained for {cls.task}", found=f"task {meta.task!r}",
                              fix="load it with headstart.load(path), which picks the right class")
        train = TrainConfig.from_dict(meta.strategy.get("train", {}))
        clf = cls(backbone=meta.backbone_name, strategy=meta.strategy["strategy"], max_length=meta.max_length)
        clf.model_, clf.tokenizer_, clf.labels_, clf.multilabel_ = model, tokenizer, meta.labels, meta.multilabel
        clf.classes_ = np.array(meta.labels)
        clf.strategy_ = saved_strategy(meta.strategy)
        clf.train_config_, clf.backbone_name_, clf.backbone_source_ = train, meta.backbone_name, meta.backbone_source
        clf.backbone_modified_, clf.adapter_ = meta.backbone_saved, meta.adapter
        clf._restore_task(meta)
        return clf

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
        return pd.DataFrame({self.text_column: split.texts, self.label_column: labels})

    def _as_split(self, X, y) -> Split:
        if y is not None:
            texts = list(X)
            if len(texts) != len(y):
                raise DataError("texts and labels differ in length.", expected="one label per text",
                                found=f"{len(texts)} texts, {len(y)} labels", fix="pass matching lists")
            labels = [tuple(v) if isinstance(v, list | tuple | set) else str(v) for v in y]
            return Split([str(t) for t in texts], labels, "<memory>")
        if isinstance(X, list | tuple | np.ndarray) and (len(X) == 0 or isinstance(X[0], str)):
            raise DataError("labels are missing.", expected="fit(texts, labels) or fit(DataFrame)",
                            found="a list of texts and no labels", fix="pass the labels as y")
        return read_split(X, text_column=self.text_column, label_column=self.label_column,
                          label_sep=self.label_sep)

    def _texts(self, X) -> list[str]:
        self._check_fitted()
        if isinstance(X, str):
            raise DataError("predict takes a list of texts.", expected="a list of strings", found="one string",
                            fix="wrap it in a list: predict([text])")
        if isinstance(X, list | tuple | np.ndarray):
            return [str(t) for t in X]
        return read_split(X, text_column=self.text_column, label_column=self.label_column,
                          require_labels=False).texts

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This HeadstartClassifier is not fitted yet: call fit(...) or load(...) first.")


def _concat_labels(a, b):
    """Train labels followed by dev labels: arrays (one label or multi-hot row per text) or lists (per token)."""
    return np.concatenate([a, b]) if isinstance(a, np.ndarray) else [*a, *b]
