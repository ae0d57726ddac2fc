"""`headstart compare`: a bake-off of strategies on the user's own data, within a time budget.

    settings.py   the budget, strategies, per-candidate settings and constraints
    evidence      (headstart.choice.evidence) what each candidate costs here, measured
    scheduler.py  successive halving: who trains how far, within the budget
    worker.py     one job in a child process that dies with its parent
    board.py      the leaderboard and the choice
    split.py, combine.py, report.py   the shared split, the ensemble step, the report
    bakeoff.py    `compare()`, which runs all of the above
"""

from headstart.choice.compare.bakeoff import DEFAULT_CANDIDATES, compare
from headstart.choice.compare.board import Candidate, Leaderboard, choose
from headstart.choice.compare.settings import (
    MB,
    METRIC_NAMES,
    NEAR_BEST,
    Constraints,
    check_strategies,
    format_settings,
    parse_budget,
    parse_settings,
    settable_options,
)
from headstart.choice.compare.split import write_split

__all__ = ["Candidate", "Constraints", "DEFAULT_CANDIDATES", "Leaderboard", "MB", "METRIC_NAMES", "NEAR_BEST",
           "check_strategies", "choose", "compare", "format_settings", "parse_budget", "parse_settings",
           "settable_options", "write_split"]
