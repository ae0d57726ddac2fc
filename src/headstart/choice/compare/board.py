"""The leaderboard of a comparison and the choice it makes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from headstart.choice.compare.settings import METRIC_NAMES, NEAR_BEST, Constraints, format_settings

__all__ = ["Candidate", "Leaderboard", "choose"]

@dataclass
class Candidate:
    """One row of the leaderboard.

    `status` is "finished", "failed" (`note`: the error's last line), "stopped" (killed at its time limit)
    or "skipped" (the budget was spent before it could start). Metrics are on the shared dev and test rows,
    for the task's primary metric.
    """

    strategy: str
    status: str
    note: str = ""
    dev_metric: float | None = None
    test_metric: float | None = None
    train_seconds: float | None = None
    process_seconds: float | None = None
    peak_memory_mb: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    adapter_bytes: int | None = None
    run_dir: str | None = None
    violations: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # this candidate's own --set values
    epochs_done: int | None = None  # how far successive halving trained it, of
    epochs: int | None = None  # its own schedule

    @property
    def label(self) -> str:
        """The strategy with its own settings, e.g. "lora (rank=16, lr=0.002)"."""
        return f"{self.strategy} ({format_settings(self.options)})" if self.options else self.strategy

    @property
    def outcome(self) -> str:
        """E.g. "finished", "stopped: over budget (limit 60 s)"."""
        return f"{self.status}: {self.note}" if self.note else self.status


def choose(rows: list[Candidate], constraints: Constraints, metric: str,
           tolerance: float = NEAR_BEST) -> tuple[str | None, str]:
    """Pick the recommendation and say why in one sentence.

    Best = the highest dev metric among finished candidates that meet the constraints; among those within
    `tolerance` of it, the fastest to train wins, since a gap that small would not survive another seed.
    Ranking is on dev, never on test, so the test score of the choice stays an honest estimate.

    Returns:
        (the chosen strategy or None, the sentence).
    """
    label = f"dev {METRIC_NAMES.get(metric, metric)}"
    finished = [r for r in rows if r.status == "finished" and r.dev_metric is not None]
    if not finished:
        return None, ("No candidate finished, so there is nothing to recommend: give --budget more time "
                      "or fix the failures listed in the leaderboard.")
    eligible = [r for r in finished if not constraints.violations(r)]
    if not eligible:
        top = max(finished, key=lambda r: r.dev_metric)
        return None, (f"No finished candidate meets the constraints ({constraints.describe()}); without them "
                      f"the best is {top.label} ({label} {top.dev_metric:.4f}, {_secs(top)} of training), "
                      f"so relax a --max-* option.")
    best = max(eligible, key=lambda r: r.dev_metric)
    near = [r for r in eligible if r.dev_metric >= best.dev_metric - tolerance]
    pick = min(near, key=lambda r: (r.train_seconds, -r.dev_metric))
    under = "" if constraints.describe() == "none" else f" under your constraints ({constraints.describe()})"
    if pick is best:
        return pick.strategy, (f"Best choice{under}: {pick.label}, {label} {pick.dev_metric:.4f} with "
                               f"{_secs(pick)} of training and {pick.trainable_params:,} trainable parameters.")
    return pick.strategy, (f"Best choice{under}: {pick.label}, whose {label} of {pick.dev_metric:.4f} is "
                           f"within {100 * tolerance:g} point of the best ({best.label}, "
                           f"{best.dev_metric:.4f}) and which trains in {_secs(pick)} instead of {_secs(best)}.")


def _secs(row: Candidate) -> str:
    return f"{row.train_seconds:,.1f} s"


@dataclass
class Leaderboard:
    """The result of a comparison: the rows in running order, the choice and its sentence, and what every
    candidate shared (split, seed, settings), as written to leaderboard.json."""

    rows: list[Candidate]
    primary_metric: str
    choice: str | None
    recommendation: str
    constraints: Constraints
    budget_seconds: float
    elapsed_seconds: float
    split: dict
    baselines: dict
    settings: dict
    ensemble: dict = field(default_factory=dict)  # what `_ensemble` tried and chose

    def to_dict(self) -> dict:
        rows = [asdict(r) | {"label": r.label, "outcome": r.outcome,
                             "meets_constraints": r.status == "finished" and not r.violations} for r in self.rows]
        return {"primary_metric": self.primary_metric, "choice": self.choice,
                "recommendation": self.recommendation, "near_best": NEAR_BEST,
                "constraints": asdict(self.constraints), "budget_seconds": self.budget_seconds,
                "elapsed_seconds": round(self.elapsed_seconds, 1), "rows": rows, "split": self.split,
                "baselines": self.baselines, "settings": self.settings, "ensemble": self.ensemble}
