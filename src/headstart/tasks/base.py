"""What every task's estimator shares: its parameters (generated from the one declaration of each option,
`headstart.options`), and build / train / merge / save / load of the transformer with its head, once.

    TaskEstimator                  parameters; _strategy_and_config; _check_fitted
      HeadEstimator                build (backbone + head + strategy modules), train (the one loop, or the
        HeadstartClassifier        features strategy's closed form), merge, save / load (headstart.persist)
        HeadstartPairClassifier
        HeadstartTagger, HeadstartQA
      HeadstartGenerator           the whole LM as the backbone: builds and saves its own way

A task's estimator declares `task` (the name saved runs dispatch on), `task_options` (dataclasses of its
own options, declared with `config.option`), `default_overrides` (task-specific defaults of shared
options) and `strategies` (the registry names it trains with; None: all of them).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator

from headstart.backbones import DEFAULT_BACKBONE, load_backbone
from headstart.config import REFIT_MAX_ROWS, TrainConfig
from headstart.data import read_split
from headstart.errors import ConfigError, DataError
from headstart.modeling import TransformerClassifier
from headstart.options import OptionBag, estimator_signature, strategy_options, training_options
from headstart.persist import SavedMeta, load_model, save_model
from headstart.strategies import make_strategy, saved_strategy
from headstart.strategies.features import choose_C
from headstart.tasks.options import option_table
from headstart.training import Examples, fit, pooled_features, predict_logits, probabilities
from headstart.training.checkpoint import REFIT_CHECKPOINT
from headstart.training.drift import drift_from, snapshot
from headstart.training.groups import trains
from headstart.training.warm_start import warm_start_head

__all__ = ["TaskEstimator", "HeadEstimator", "concat_labels"]


class TaskEstimator(OptionBag, BaseEstimator):
    """The parameters of a task's estimator: `backbone`, `strategy`, then every option (keyword-only)."""

    task: ClassVar[str] = ""
    task_options: ClassVar[tuple[type, ...]] = ()
    default_overrides: ClassVar[dict] = {}
    strategies: ClassVar[tuple[str, ...] | None] = None
    default_backbone: ClassVar[str] = DEFAULT_BACKBONE
    default_strategy: ClassVar[str] = "top-n"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # a subclass that writes its own __init__ keeps it
            return
        signature = cls.signature()

        def __init__(self, *args, **kw) -> None:
            OptionBag.__init__(self, *args, **kw)

        __init__.__signature__ = signature  # what scikit-learn's get_params and typer's help read
        __init__.__doc__ = f"{cls.__name__}(backbone, strategy, **options): see `headstart.options`."
        cls.__init__ = __init__

    @classmethod
    def option_table(cls) -> dict:
        """Every option this estimator takes, name -> headstart.options.Option."""
        return option_table(cls.task, cls.task_options, cls.strategies)

    @classmethod
    def signature(cls):
        import inspect

        leading = [inspect.Parameter("backbone", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=cls.default_backbone,
                                     annotation=str),
                   inspect.Parameter("strategy", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=cls.default_strategy,
                                     annotation=str)]
        return estimator_signature(leading, cls.option_table(), cls.default_overrides)

    def _strategy_and_config(self, **fixed):
        """The strategy with its own options and the TrainConfig of the training options, both validated
        (before any slow load); `fixed` sets training options this task does not leave to the user."""
        if self.strategies is not None and self.strategy not in self.strategies:
            raise ConfigError(f"strategy {self.strategy!r} does not train {self.task} models.",
                              expected="one of " + ", ".join(self.strategies), found=repr(self.strategy),
                              fix="pick one of those (`headstart models` lists what each does)")
        given = {k: getattr(self, k) for k in strategy_options(self.strategies) if getattr(self, k) is not None}
        strategy = make_strategy(self.strategy, **given)  # an option of another strategy is a clear error
        cfg = TrainConfig(**({k: getattr(self, k) for k in training_options()} | fixed))
        return strategy, cfg

    def _texts(self, X) -> list[str]:
        """Texts to predict on: a list / array / pandas Series of strings, or a DataFrame / Dataset / file with a
        text column."""
        import pandas as pd

        self._check_fitted()
        if isinstance(X, str):
            raise DataError("predict takes a list of texts.", expected="a list of strings", found="one string",
                            fix="wrap it in a list: predict([text])")
        if isinstance(X, list | tuple | np.ndarray | pd.Series):
            return [str(t) for t in X]
        return read_split(X, text_column=getattr(self, "text_column", "text"),
                          label_column=getattr(self, "label_column", "label"), require_labels=False).texts

    @property
    def paused_(self) -> bool:
        """The last fit stopped at `stop_after` with epochs of its schedule to go."""
        return bool(getattr(getattr(self, "fit_result_", None), "paused", False))

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(...) or load(...) first.")


class HeadEstimator(TaskEstimator):
    """Tasks whose model is a backbone with a new head (headstart.modeling.TransformerClassifier)."""

    # ---- building and training (every task of this family calls these) --------------------------------
    def _build(self, n_outputs: int, *, per_token: bool = False,
               multilabel: bool = False) -> tuple[TransformerClassifier, TrainConfig]:
        """Strategy, training config, backbone and a fresh model with its head (and adapters)."""
        strategy, cfg = self._strategy_and_config()  # checked before the slow load
        bb = load_backbone(self.backbone)
        defaults = strategy.defaults_for(bb.hidden_size)
        if per_token or multilabel or n_outputs < 3:  # label smoothing's default: measured on multi-class only
            defaults.pop("label_smoothing", None)
        cfg = cfg.with_defaults(defaults)
        torch.manual_seed(cfg.seed)  # the head's (and any adapter's) initialisation
        model = TransformerClassifier(bb.model, bb.anatomy, n_outputs, dropout=cfg.dropout, per_token=per_token)
        strategy.prepare(model)  # adapters / prompt encoders, before the groups are read
        self.tokenizer_, self.model_ = bb.tokenizer, model
        self._shape = (n_outputs, per_token, multilabel)  # what a refit builds again
        self.backbone_name_, self.backbone_source_ = bb.name, bb.source
        self.strategy_, self.train_config_ = strategy, cfg
        return model, cfg

    def _train(self, train: Examples, dev: Examples, objective, *, balanced_probe: bool = False,
               checkpoint: str | Path | None = None, resume: bool = False, stop_after: int | None = None):
        """Train `self.model_` on token-id examples under `objective` (then, when `_refits`, once more on
        train + dev for the schedule early stopping chose), and record what it cost. `stop_after`: pause
        after that many epochs (a rung of `headstart compare`: the checkpoint stays, no refit)."""
        model, strategy, cfg = self.model_, self.strategy_, self.train_config_
        names = [g.name for g in model.layer_groups()]
        trainable = strategy.trainable_groups(names)
        pad_id = self.tokenizer_.pad_token_id
        before = snapshot(model, trainable, strategy.keep)  # copies only what will train
        t0 = time.perf_counter()
        self.refit_on_dev_, self.heldout_dev_proba_, self.refit_result_ = False, None, None
        if strategy.uses_gradients:
            self.fit_result_ = fit(model, train, dev, trainable=trainable, keep=strategy.keep, cfg=cfg, pad_id=pad_id,
                                   objective=objective, balanced_probe=balanced_probe,
                                   checkpoint=checkpoint, resume=resume, progress=self.progress,
                                   stop_after=stop_after)
            if not self.paused_ and self._refits(len(train) + len(dev)):
                model = self._refit(train, dev, objective, trainable, balanced_probe, checkpoint, resume)
        else:
            self.fit_result_ = self._fit_features(model, train, dev, objective, pad_id, cfg, balanced_probe)
        self.fit_seconds_ = time.perf_counter() - t0
        self.drift_ = drift_from(model, before)  # the refit starts from the same pretrained weights
        trained = {id(p): p for g in model.layer_groups() if g.name in trainable  # a shared weight once
                   for n, p in g.named_parameters() if trains(g.name, n, strategy.keep)}
        self.trainable_params_ = sum(p.numel() for p in trained.values())
        self.total_params_ = sum(p.numel() for p in model.parameters())
        self.backbone_modified_ = strategy.modifies_backbone(names)
        self.adapter_ = strategy.adapter
        return self

    def _refits(self, rows: int) -> bool:
        """Whether the rows held out for early stopping are given back (TrainConfig.refit; None: up to
        REFIT_MAX_ROWS labelled rows, and always for the features strategy, whose refit is a second solve)."""
        refit = self.train_config_.refit
        if refit is None:
            return not self.strategy_.uses_gradients or rows <= REFIT_MAX_ROWS
        return refit

    def _refit(self, train: Examples, dev: Examples, objective, trainable, balanced_probe, checkpoint, resume):
        """A fresh model (the same seed, so the same head and adapter initialisation) trained on train + dev
        for the epochs the first fit kept, with its averaging window; the first fit's dev predictions are
        kept as the held-out ones (what the run reports and `compare` ranks on)."""
        first, pad_id = self.fit_result_, self.tokenizer_.pad_token_id
        if not self.model_.per_token:
            logits = predict_logits(self.model_, dev, pad_id=pad_id)
            self.heldout_dev_proba_ = probabilities(logits, objective.multilabel)
        model, cfg = self._build(*self._shape[:1], per_token=self._shape[1], multilabel=self._shape[2])
        both = Examples(list(train.inputs) + list(dev.inputs), concat_labels(train.labels, dev.labels),
                        None if train.segments is None else list(train.segments) + list(dev.segments or []))
        path = None if checkpoint is None else Path(checkpoint).with_name(REFIT_CHECKPOINT)
        self.refit_result_ = fit(model, both, None, trainable=trainable, keep=self.strategy_.keep, cfg=cfg,
                                 pad_id=pad_id, objective=objective, balanced_probe=balanced_probe, checkpoint=path,
                                 resume=resume and path is not None and path.exists(), progress=self.progress,
                                 stop_after=first.best_epoch, average_last=max(1, len(first.averaged_epochs)))
        self.refit_on_dev_ = True
        return model

    def _fit_features(self, model, train: Examples, dev: Examples, objective, pad_id: int, cfg: TrainConfig,
                      balanced: bool):
        """Fit the linear model on the frozen features of train; score it on dev (the history's one row);
        with `refit`, fit it again on train + dev. Dev features are computed once, for both."""
        from headstart.training.loop import FitResult

        if not objective.has_probe:
            raise ConfigError("the features strategy cannot learn this task.", expected="a task with a label per "
                              "text or per token (classification, NER)",
                              found=f"the {self.task or 'classification'} task ({type(objective).__name__}: a "
                                    "linear model on frozen features cannot predict it)",
                              fix="use strategy head (or top-n, full, lora) instead")
        o = self.strategy_.options

        def fit_head(features: list, labels) -> None:
            X, y = objective.probe(features, labels)
            if self.features_C_ is None:  # chosen once, on the training rows; the refit keeps it
                self.features_C_ = o.C if o.C is not None else choose_C(
                    np.asarray(X), np.asarray(y), o, multilabel=objective.multilabel,
                    class_weight="balanced" if balanced else None, seed=cfg.seed)
            warm_start_head(model, np.asarray(X), np.asarray(y), multilabel=objective.multilabel,
                            balanced=balanced, seed=cfg.seed, C=self.features_C_, classifier=o.classifier)

        self.features_C_ = None

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
            if self._refits(len(train) + len(dev)):
                if not model.per_token:  # what the run writer scores the held-out dev rows with
                    logits = predict_logits(model, Examples(dev_pooled, None), pad_id=pad_id, depth=model.n_blocks)
                    self.heldout_dev_proba_ = probabilities(logits, objective.multilabel)
                fit_head(pooled + dev_pooled, concat_labels(train.labels, dev.labels))
                self.refit_on_dev_ = True
        return result

    def merge(self):
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

    # ---- persistence -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to a folder (Hugging Face formats; see headstart.persist)."""
        self._check_fitted()
        meta = SavedMeta(labels=self.labels_, multilabel=self.multilabel_,
                         max_length=self.train_config_.max_length, backbone_name=self.backbone_name_,
                         backbone_source=self.backbone_source_, backbone_saved=self.backbone_modified_,
                         strategy=self.strategy_.describe() | {"train": self.train_config_.to_dict()},
                         adapter=self.adapter_, task=self.task, task_options=self._task_options(),
                         token_outputs=self.model_.per_token)
        return save_model(path, self.model_, self.tokenizer_, meta, strategy=self.strategy_)

    def _task_options(self) -> dict | None:
        """The task's own options (columns, windows ...): a loaded model reads and predicts as trained."""
        names = [f for cls in self.task_options for f in cls.__dataclass_fields__]
        return {name: getattr(self, name) for name in names} or None

    def _restore_task(self, meta: SavedMeta) -> None:
        """Set what `_task_options` saved on a loaded model (what older folders lack keeps its default);
        subclasses add what else their loaded model needs."""
        for name, value in (meta.task_options or {}).items():
            if hasattr(self, name):
                setattr(self, name, value)

    @classmethod
    def load(cls, path: str | Path):
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
        est = cls(backbone=meta.backbone_name, strategy=meta.strategy["strategy"], max_length=meta.max_length)
        est.model_, est.tokenizer_, est.labels_, est.multilabel_ = model, tokenizer, meta.labels, meta.multilabel
        est.classes_ = np.array(meta.labels)
        est.strategy_ = saved_strategy(meta.strategy)
        est.train_config_, est.backbone_name_, est.backbone_source_ = train, meta.backbone_name, meta.backbone_source
        est.backbone_modified_, est.adapter_ = meta.backbone_saved or bool(meta.backbone_delta), meta.adapter
        est._restore_task(meta)
        return est


def concat_labels(a, b):
    """Train labels followed by dev labels: arrays (one label or multi-hot row per text) or lists (per token)."""
    return np.concatenate([a, b]) if isinstance(a, np.ndarray) else [*a, *b]
