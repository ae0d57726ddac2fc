"""What `headstart compare` is asked: the time budget, the strategies, each candidate's own settings
(`--set STRATEGY.OPTION=VALUE`, typed from the options' one declaration), and the user's constraints."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import TYPE_CHECKING

from headstart.errors import ConfigError
from headstart.options import convert, training_options
from headstart.strategies import OWN_COMMANDS, PLANNED, STRATEGIES, make_strategy

if TYPE_CHECKING:
    from headstart.choice.compare.board import Candidate

__all__ = ["NEAR_BEST", "MB", "METRIC_NAMES", "SHARED_TRAINING", "Constraints", "parse_budget", "check_strategies",
           "settable_options", "parse_settings", "format_settings", "setting_items"]

NEAR_BEST = 0.005  # 0.5 point of a 0-1 metric: a smaller gap is within the noise of a typical dev set
MB = 2**20  # "MB" as in the rest of headstart (peak_rss_mb): mebibytes
METRIC_NAMES = {"auc": "AUC", "macro_f1": "macro-F1", "accuracy": "accuracy"}
_BUDGET_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
# Training settings that stay shared by every candidate, even under `--set`: they make the comparison fair
# (seed, max_length) or belong to the comparison itself (the metric that ranks; prefix_cache changes speed
# only). Every other training setting of HeadstartClassifier can be set per candidate.
SHARED_TRAINING = ("seed", "max_length", "metric", "prefix_cache")




def parse_budget(text: str) -> float:
    """Seconds in a duration such as "90s", "20m", "1h" or "1h30m".

    A bare number is refused: "20" could mean seconds or minutes, and guessing wrong costs an hour.

    Example:
        >>> parse_budget("1h30m")
        5400.0
    """
    compact = text.strip().lower().replace(" ", "")
    parts = _BUDGET_PART.findall(compact)
    units = [unit for _, unit in parts]
    well_formed = "".join(n + u for n, u in parts) == compact and units == sorted(set(units), key="hms".index)
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts) if parts and well_formed else 0.0
    if seconds <= 0:
        raise ConfigError(f"cannot read the time budget {text!r}.",
                          expected="a positive duration with units: 90s, 20m, 1h or 1h30m",
                          found=repr(text), fix="pass e.g. --budget 20m (h: hours, m: minutes, s: seconds)")
    return seconds


def check_strategies(names: str | Iterable[str]) -> list[str]:
    """The requested strategies (a comma-separated string or a list), duplicates dropped, each checked
    against the registry as it is now, so that a newly registered strategy works without a change here."""
    given = names.split(",") if isinstance(names, str) else list(names)
    wanted = list(dict.fromkeys(name.strip() for name in given if name.strip()))
    unknown = [name for name in wanted if name not in STRATEGIES]
    if wanted and not unknown:
        return wanted
    problems = [f"{name!r} is not built yet ({PLANNED[name]})" if name in PLANNED
                else f"{name!r} has its own command (`{OWN_COMMANDS[name].format(data='DATA')}`)"
                if name in OWN_COMMANDS else f"{name!r} is not a strategy" for name in unknown]
    raise ConfigError("; ".join(problems) + "." if problems else "no strategy to compare.",
                      expected="comma-separated names among " + ", ".join(STRATEGIES),
                      found=repr(names if isinstance(names, str) else ",".join(given)),
                      fix="keep the built ones, e.g. --strategies " + ",".join(STRATEGIES)
                      + " (`headstart models` lists them)")


@dataclass(frozen=True)
class Constraints:
    """The user's limits; a candidate over any of them cannot be the recommendation.

    Args:
        max_seconds: training time (the run's `train_seconds`).
        max_memory_mb: peak resident memory of the candidate's process.
        max_params: trainable parameters.
        max_adapter_mb: size on disk of the saved `model/` folder.
    """

    max_seconds: float | None = None
    max_memory_mb: float | None = None
    max_params: int | None = None
    max_adapter_mb: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                flag = "--" + f.name.replace("_", "-")
                raise ConfigError(f"invalid value for {f.name}.", expected="a positive number",
                                  found=repr(value), fix=f"pass {flag} above 0, or leave it out")

    def _checks(self, row: Candidate) -> list[tuple[str, float | None, float | None, str]]:
        adapter_mb = None if row.adapter_bytes is None else row.adapter_bytes / MB
        return [("train time", row.train_seconds, self.max_seconds, " s"),
                ("peak memory", row.peak_memory_mb, self.max_memory_mb, " MB"),
                ("trainable parameters", row.trainable_params, self.max_params, ""),
                ("adapter size", adapter_mb, self.max_adapter_mb, " MB")]

    def violations(self, row: Candidate) -> list[str]:
        """What the row breaks, in words, e.g. ["train time 41.2 s > 30 s"]; an unmeasured value breaks
        a limit, since it cannot be shown to meet it."""
        return [f"{name} {_num(value)}{unit} > {_num(limit)}{unit}" if value is not None else f"{name} unknown"
                for name, value, limit, unit in self._checks(row)
                if limit is not None and (value is None or value > limit)]

    def describe(self) -> str:
        """E.g. "train time <= 30 s, peak memory <= 2,000 MB", or "none"."""
        blank = SimpleNamespace(adapter_bytes=None, train_seconds=None, peak_memory_mb=None, trainable_params=None)
        limits = [f"{name} <= {_num(limit)}{unit}" for name, _, limit, unit in self._checks(blank)
                  if limit is not None]
        return ", ".join(limits) or "none"


def settable_options(strategy: str) -> dict[str, object]:
    """What `--set STRATEGY.OPTION=VALUE` may change for one strategy, with each option's type: the
    strategy's own typed options (rank, top_n, ...) and the training settings not in SHARED_TRAINING
    (both from their one declaration, headstart.options)."""
    from headstart.options import options_of

    own = options_of(STRATEGIES[strategy].options_cls, strategy, none_defaults=True)
    shared = {k: o for k, o in training_options().items() if k not in SHARED_TRAINING}
    return {name: o.type for name, o in sorted(own.items())} | {name: o.type for name, o in shared.items()}


def parse_settings(items: Iterable[str], strategies: Iterable[str]) -> dict[str, dict]:
    """Read `--set STRATEGY.OPTION=VALUE` items into {strategy: {option: typed value}}, checked before any
    candidate runs: the strategy must be a candidate, the option one it has (`settable_options`), and the
    value of the option's type and range.

    Example:
        >>> parse_settings(["lora.rank=16", "lora.lr=2e-3", "top-n.top_n=3"], ["lora", "top-n"])
        {'lora': {'rank': 16, 'lr': 0.002}, 'top-n': {'top_n': 3}}
    """
    from headstart.config import TrainConfig

    names = list(strategies)
    settings: dict[str, dict] = {}
    for item in items:
        head, eq, text = item.partition("=")
        name, dot, option = head.strip().rpartition(".")
        if not eq or not dot or not name or not option:
            raise ConfigError(f"cannot read the setting {item!r}.", expected="STRATEGY.OPTION=VALUE",
                              found=repr(item), fix="write e.g. --set lora.rank=16")
        if name not in names:
            raise ConfigError(f"the setting {item!r} names {name!r}, which is not a candidate here.",
                              expected="one of " + ", ".join(names), found=repr(name),
                              fix=f"add {name} to --strategies, or fix the name")
        allowed = settable_options(name)
        option = option.strip().replace("-", "_")
        if option not in allowed:
            raise ConfigError(f"{name!r} has no setting {option!r}.", expected="one of " + ", ".join(allowed),
                              found=repr(option), fix="use one of those names")
        try:
            value = convert(text.strip(), allowed[option])
        except ValueError as exc:
            raise ConfigError(f"cannot read the value of {item!r}.", expected=f"{option}: {exc}",
                              found=repr(text), fix=f"write e.g. --set {name}.{option}=VALUE") from None
        settings.setdefault(name, {})[option] = value
    for name, chosen in settings.items():  # ranges and choices, checked where the options are defined
        training = [k for k in training_options() if k not in SHARED_TRAINING]
        make_strategy(name, **{k: v for k, v in chosen.items() if k not in training})
        TrainConfig(**{k: v for k, v in chosen.items() if k in training})
    return settings


def format_settings(options: dict) -> str:
    """One candidate's own settings as "rank=16, lr=0.002"."""
    return ", ".join(f"{k}={v}" for k, v in options.items())


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.3g}"


def setting_items(settings: Iterable[str] | dict[str, dict]) -> list[str]:
    """--set items from either form of `settings`."""
    if isinstance(settings, dict):
        return [f"{name}.{k}={','.join(v) if isinstance(v, list) else v}" for name, chosen in settings.items()
                for k, v in chosen.items()]
    return list(settings)
