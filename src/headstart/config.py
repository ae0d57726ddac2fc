"""Typed, validated training configuration. Round-trips through JSON so every run can be reproduced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from headstart.errors import ConfigError

__all__ = ["TrainConfig", "DEFAULT_LR_DECAY", "DEFAULT_LOWER_LR_CAP", "REFIT_MAX_ROWS", "check_choice", "check_range",
           "option"]

DEFAULT_LR_DECAY = 2.6  # ULMFiT's factor between adjacent layer groups
# the forgetting guard for strategies that train pretrained weights; adapter strategies lift it (1.0): their
# new weights cannot overwrite the pretrained ones, and a capped lower half would barely train them
DEFAULT_LOWER_LR_CAP = 1e-4
DEFAULT_PATIENCE = 2  # strategies whose schedules were measured without early stopping declare 0 (their defaults)
# refit on train + dev by default up to this many labelled rows: the rows held out for early stopping are
# worth most where data is scarce, and a refit doubles the training time (benchmarks/defaults.py)
REFIT_MAX_ROWS = 10_000


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


def option(default, help: str, *, factory=None):
    """A dataclass field with its help text: every user-facing option (training settings here, each
    strategy's own in its options class, each task's in its estimator) is declared once this way, and the
    estimators' parameters, the CLI flags, `--set` and the docs' option table are generated from it
    (headstart.options)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """How the gradient-based strategies train. `None` means "the strategy's default" (each field's help
    says what it is). Validated when built; round-trips through JSON (`to_dict` / `from_dict`)."""

    epochs: int | None = option(None, "passes over the training data (early stopping may end sooner; default: "
                                "the strategy's)")
    batch_size: int = option(32, "examples per step")
    lr: float | None = option(None, "learning rate of the head; lower layer groups get lr / lr_decay per group "
                              "below (discriminative rates; default: the strategy's)")
    lr_decay: float | None = option(None, "factor between adjacent layer groups' rates (default 2.6, ULMFiT's; "
                                    "full 1.6: 2.6 over six or more blocks all but freezes the bottom; "
                                    "adapters 1)")
    lower_lr_cap: float | None = option(None, "forgetting guard: the bottom half of the blocks never exceed this "
                                        "rate (default 1e-4; adapters 1.0, no cap)")
    schedule: str = option("linear", "linear (warmup then linear decay) or slanted (slanted triangular, "
                           "ULMFiT)")
    warmup_ratio: float = option(0.1, "share of the steps spent warming up (linear) / rising (slanted)")
    weight_decay: float = option(0.01, "AdamW weight decay (not on biases and norms)")
    max_length: int = option(128, "tokens per text; longer texts are truncated")
    gradual_unfreeze: bool = option(False, "train the top layer group first, unfreeze one more group each epoch")
    patience: int | None = option(None, "epochs without a better dev metric before stopping early (0: off, every "
                                  "epoch runs and the best is kept; default: full, top-n and lora 0, others 2)")
    metric: str | None = option(None, "dev metric for early stopping and model selection: auc, macro_f1, "
                                "accuracy, micro_f1, weighted_f1 (default: ROC-AUC for binary, macro-F1 else)")
    class_weights: str = option("auto", "auto (weigh the loss by inverse class frequency only when the largest "
                                "class is >= 10x the smallest), balanced or none")
    warm_start: bool = option(True, "start the head from a logistic-regression probe on the frozen features "
                              "(LP-FT; the probe is epoch 0, so training never ends worse than it on dev)")
    prefix_cache: bool = option(True, "compute the frozen bottom of the model once and reuse it every epoch")
    average_epochs: int | None = option(None, "keep the mean of the weights at the ends of the best epoch and the "
                                        "epochs just before it, this many in all (checkpoint averaging; default: "
                                        "full 2, others 1 = off)")
    label_smoothing: float | None = option(None, "move this share of the training target off the true class, "
                                           "spread over all classes (Szegedy et al. 2016; training loss only; "
                                           "default: full on single-label tasks with 3+ classes 0.1, else 0)")
    refit: bool | None = option(None, "after early stopping chose the epochs (and averaging its weights), train "
                                "again on train + dev for that schedule, so the model learns from every "
                                "labelled row; dev scores stay those of the first fit (default: on up to "
                                f"{REFIT_MAX_ROWS:,} rows, and always for features)")
    grad_accum: int = option(1, "gradient accumulation: add up the gradients of this many batches before each "
                             "optimizer step (the effective batch grows, the memory does not)")
    mixed_precision: str = option("no", "no, fp16 or bf16: Accelerate's autocast (on a GPU; bf16 also on CPU)")
    dropout: float = option(0.1, "dropout before the head")
    seed: int = option(0, "seeds data order, initialisation and dropout")

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
        check_range("grad_accum", self.grad_accum, 1, integer=True)
        check_choice("mixed_precision", self.mixed_precision, ("no", "fp16", "bf16"))
        check_range("warmup_ratio", self.warmup_ratio, 0.0, 0.9)
        check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        check_range("max_length", self.max_length, 4, 100_000, integer=True)
        if self.patience is not None:
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
        if values["patience"] is None:
            values["patience"] = DEFAULT_PATIENCE
        if values["label_smoothing"] is None:
            values["label_smoothing"] = 0.0
        return TrainConfig(**values)
