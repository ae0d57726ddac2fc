"""`FewShotConfig`: the options of SetFit-style few-shot fine-tuning, validated when built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from headstart.errors import ConfigError

__all__ = ["FewShotConfig", "MIN_PER_CLASS_FOR_DEV"]

# A dev part is held out of the training rows only when every class has at least this many rows. Below
# it the dev part (20%: three rows per class at 16) is too small to choose an epoch: with 8 examples per
# class of SST-2, a 20% dev part picked the untuned encoder in 2 of 5 seeds and training on every row for
# the fixed epochs scored 0.640 against 0.621 (mean test accuracy over seeds 0-4, 2026-11-26, the
# FewShotClassifier defaults; `python benchmarks/bench_fewshot.py --datasets sst2 --shots 8` reruns it).
MIN_PER_CLASS_FOR_DEV = 16


@dataclass(frozen=True)
class FewShotConfig:
    """Options of `FewShotClassifier` (see there for their meaning); defaults follow SetFit's where one exists.

    The default budget, 4 epochs x 10 pairs per example, is SetFit's default of 20 iterations (40 pairs
    per example, one epoch), cut in four so that early stopping has epochs to choose from.
    """

    backbone: str = "minilm"
    epochs: int = 4
    pairs_per_example: int = 10
    batch_size: int = 16
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    max_length: int = 128
    patience: int = 2
    dev_fraction: float = 0.2
    C: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        _at_least("epochs", self.epochs, 0)
        _at_least("batch_size", self.batch_size, 1)
        _at_least("max_length", self.max_length, 8)
        _at_least("patience", self.patience, 0)
        if self.pairs_per_example < 2 or self.pairs_per_example % 2:
            raise ConfigError("pairs_per_example must be an even number of at least 2.",
                              expected="an even integer >= 2 (half positive, half negative pairs per example)",
                              found=repr(self.pairs_per_example), fix="use e.g. pairs_per_example=10")
        for name, lo, hi in (("lr", 0.0, 1.0), ("dev_fraction", 0.0, 1.0)):
            value = getattr(self, name)
            if not lo < value < hi:
                raise ConfigError(f"{name} is out of range.", expected=f"a number strictly between {lo} and {hi}",
                                  found=repr(value), fix=f"use the default, {name}={_default(name)}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError("warmup_ratio is out of range.", expected="0 <= warmup_ratio < 1",
                              found=repr(self.warmup_ratio), fix="use the default, warmup_ratio=0.1")
        if not self.C > 0:
            raise ConfigError("C (the head's inverse regularisation) must be positive.", expected="C > 0",
                              found=repr(self.C), fix="use the default, C=1.0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FewShotConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _default(name: str):
    return next(f.default for f in fields(FewShotConfig) if f.name == name)


def _at_least(name: str, value, lo: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ConfigError(f"{name} must be an integer of at least {lo}.", expected=f"an integer >= {lo}",
                          found=repr(value), fix=f"use the default, {name}={_default(name)}")
