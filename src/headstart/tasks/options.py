"""The options table of a task, from declarations alone (no torch, no estimator module): the estimator's
parameters are generated from it, and `headstart train --help` reads it without loading any model code."""

from __future__ import annotations

from dataclasses import dataclass

from headstart.config import option
from headstart.options import Option, options_of, strategy_options, training_options

__all__ = ["EstimatorOptions", "option_table"]


@dataclass
class EstimatorOptions:
    """Options every task's estimator has, beyond training and strategy options."""

    dev_fraction: float = option(0.1, "share of the training rows held out for early stopping when no dev "
                                 "set is given")
    progress: bool = option(False, "show a progress bar while training")


def option_table(task: str, task_options: tuple[type, ...], strategies: tuple[str, ...] | None) -> dict[str, Option]:
    """Every option an estimator of `task` takes, name -> Option: its strategies' options (all of them when
    None), the training options, its own declarations and EstimatorOptions."""
    table = strategy_options(strategies) | training_options()
    for declared in (*task_options, EstimatorOptions):
        table |= options_of(declared, task or "estimator")
    return table
