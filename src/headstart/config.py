"""Typed, validated training configuration. Round-trips through JSON so every run can be reproduced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from headstart.errors import ConfigError

__all__ = ["TrainConfig", "DEFAULT_LR_DECAY", "DEFAULT_LOWER_LR_CAP", "check_choice", "check_range"]

DEFAULT_LR_DECAY = 2.6  # ULMFiT's factor between adjacent layer groups
# the forgetting guard for strategies that train pretrained weights; adapter strategies lift it (1.0): their
# new weights cannot overwrite the pretrained ones, and a capped lower half would barely train them
DEFAULT_LOWER_LR_CAP = 1e-4


def check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(
            f"invalid value for {name}.",
            expected="one of " + ", ".join(repr(a) for a in allowed),
            found=repr(value),
            fix=f"set {name} to one of the allowed values",
        )


def check_range(name: str, value, low=None, high=None, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    ok = ok and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(
            f"invalid value for {name}.",
            expected=f"{'an integer' if integer else 'a number'} {bounds}",
            found=repr(value),
            fix=f"pass a valid {name}",
        )


@dataclass
class TrainConfig:
    """How the gradient-based strategies train. `None` means "the strategy's default".

    Attributes:
        epochs: passes over the training data (early stopping may end sooner).
        batch_size: examples per step.
        lr: learning rate of the head; lower groups get lr / lr_decay**distance (discriminative LRs).
        lr_decay: geometric factor between adjacent layer groups (ULMFiT's 2.6 unless the strategy
            sets its own: `full` uses 1.6, since 2.6 over six or more blocks all but freezes the bottom).
        lower_lr_cap: forgetting guard: the bottom half of the blocks never exceed this learning rate.
        schedule: "linear" (warmup then linear decay) or "slanted" (slanted triangular, ULMFiT).
        warmup_ratio: fraction of steps spent warming up (linear schedule) / rising (slanted).
        weight_decay: AdamW weight decay (not applied to biases and norms).
        max_length: tokens per text; longer texts are truncated.
        gradual_unfreeze: train the top group first, unfreeze one more group each epoch.
        patience: epochs without improvement of the dev metric before stopping; 0 disables.
        metric: dev metric for early stopping and model selection (None: ROC-AUC for binary, macro-F1 else).
        class_weights: "balanced" weighs the loss by inverse class frequency, "none" does not, "auto"
            (default) balances only when the largest class is at least 10x the smallest: reweighting buys
            minority recall with majority precision, worth it only under strong imbalance.
        warm_start: start the head from a logistic-regression probe on the frozen features (LP-FT);
            the probe is also "epoch 0" of the history, so training never ends worse than it on dev.
        prefix_cache: compute the frozen bottom of the model once and reuse it every epoch.
        average_epochs: keep the mean of the weights at the ends of the best epoch and the epochs just
            before it, this many in all (checkpoint averaging, SWA over epoch ends), unless that mean scores
            below the starting point on dev; 1 keeps the best epoch's weights as they are. `full` averages 2
            (benchmarks/average_probe.py).
        label_smoothing: the training target puts 1 - label_smoothing on the true class and spreads the rest
            over all classes (Szegedy et al. 2016); 0 is plain cross-entropy. Classification, tagging and
            extractive QA read it; the dev loss is always the plain one. Default: `full` on single-label
            classification with three or more classes 0.1 (benchmarks/sweep.py --grid smoothing), else 0.
        dropout: dropout before the head.
        seed: seeds data order, initialisation and dropout.
    """

    epochs: int | None = None
    batch_size: int = 32
    lr: float | None = None
    lr_decay: float | None = None  # None: the strategy's default, else DEFAULT_LR_DECAY
    lower_lr_cap: float | None = None  # None: the strategy's default, else DEFAULT_LOWER_LR_CAP
    schedule: str = "linear"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 128
    gradual_unfreeze: bool = False
    patience: int = 2
    metric: str | None = None
    class_weights: str = "auto"
    warm_start: bool = True
    prefix_cache: bool = True
    average_epochs: int | None = None  # None: the strategy's default, else 1 (off)
    label_smoothing: float | None = None  # None: the strategy's default where it applies (see above), else 0
    dropout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs is not None:
            check_range("epochs", self.epochs, 1, integer=True)
        check_range("batch_size", self.batch_size, 1, integer=True)
        if self.lr is not None:
            check_range("lr", self.lr, 1e-8, 1.0)
        if self.lr_decay is not None:
            check_range("lr_decay", self.lr_decay, 1.0, 100.0)
        if self.lower_lr_cap is not None:
            check_range("lower_lr_cap", self.lower_lr_cap, 0.0, 1.0)
        check_choice("schedule", self.schedule, ("linear", "slanted"))
        check_range("warmup_ratio", self.warmup_ratio, 0.0, 0.9)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_range("max_length", self.max_length, 4, 100_000, integer=True)
        check_range("patience", self.patience, 0, integer=True)
        if self.metric is not None:
            check_choice("metric", self.metric, ("auc", "macro_f1", "accuracy", "micro_f1", "weighted_f1"))
        check_choice("class_weights", self.class_weights, ("auto", "balanced", "none"))
        if self.average_epochs is not None:
            check_range("average_epochs", self.average_epochs, 1, integer=True)
        if self.label_smoothing is not None:
            check_range("label_smoothing", self.label_smoothing, 0.0, 0.5)
        check_range("dropout", self.dropout, 0.0, 0.9)
        check_range("seed", self.seed, 0, integer=True)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                "unknown training option(s): " + ", ".join(unknown),
                expected="options among " + ", ".join(sorted(known)),
                found=", ".join(unknown),
                fix="remove or rename them",
            )
        return cls(**data)

    def with_defaults(self, defaults: dict) -> TrainConfig:
        """A copy where options left as None take the strategy's defaults."""
        values = self.to_dict()
        for key, value in defaults.items():
            if values.get(key) is None:
                values[key] = value
        if values["lr_decay"] is None:
            values["lr_decay"] = DEFAULT_LR_DECAY
        if values["lower_lr_cap"] is None:
            values["lower_lr_cap"] = DEFAULT_LOWER_LR_CAP
        if values["average_epochs"] is None:
            values["average_epochs"] = 1
        if values["label_smoothing"] is None:
            values["label_smoothing"] = 0.0
        return TrainConfig(**values)
