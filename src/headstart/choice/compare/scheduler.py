"""Where a comparison spends its budget: successive halving over epochs (Jamieson & Talwalkar 2016; the
rung idea of Hyperband and ASHA), on measured costs, with the candidates most likely to win protected.

Every candidate ("arm") gets a first rung (its first epoch, or its whole fit when it has no epochs, like
`features`); after each rung the worse half of the arms still training is dropped, and the rest resume
from their checkpoints (never restart) to twice as many epochs, until each has run its own schedule. The
strategy the table would recommend and headstart's default are never dropped or starved while budget
remains: each rung runs them first. A job whose measured cost does not fit the budget left is not started;
the arm is marked with what it needed and the budget that would have covered it.

The scheduler decides and records; running a job is the caller's (`next_job` -> run -> `report`), so it is
unit-tested with fake candidates of known costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Arm", "Scheduler", "rung_targets", "budget_text", "ETA"]

ETA = 2  # keep 1 / ETA of the arms at each rung, and give the rest ETA times the epochs


def rung_targets(epochs: int, eta: int = ETA) -> list[int]:
    """The epoch counts an arm of `epochs` is trained to, rung by rung: 1, 2, 4 ... up to `epochs`."""
    targets, t = [], 1
    while t < epochs:
        targets.append(t)
        t *= eta
    return [*targets, epochs]


@dataclass
class Arm:
    """One candidate as the scheduler sees it.

    Attributes:
        epochs: its whole schedule (1 for a closed-form fit).
        seconds_per_epoch, overhead: cost estimates (measured before the comparison, then from its own jobs):
            a job to epoch t from d costs overhead + (t - d) * seconds_per_epoch.
        protected: never dropped by halving (the table's pick, the default strategy).
        done: epochs trained so far; score: its best dev metric so far (None before its first job).
        state: waiting, paused (more epochs to go), finished, dropped, failed, stopped (killed at the budget's
            end) or skipped (a job that could not fit the budget); note: why, in words.
    """

    name: str
    epochs: int
    seconds_per_epoch: float
    overhead: float = 0.0
    protected: bool = False
    done: int = 0
    score: float | None = None
    state: str = "waiting"
    note: str = ""
    spent: float = 0.0
    history: list[tuple[int, float]] = field(default_factory=list)  # (epochs done, score) after each job

    def cost(self, target: int) -> float:
        return self.overhead + max(0, target - self.done) * self.seconds_per_epoch

    @property
    def alive(self) -> bool:
        return self.state in ("waiting", "paused")


class Scheduler:
    """Successive halving over `arms` within `budget` seconds; `greater_is_better` for the dev metric."""

    def __init__(self, arms: list[Arm], budget: float, *, greater_is_better: bool = True, eta: int = ETA) -> None:
        self.arms, self.budget, self.eta, self.sign = arms, budget, eta, 1 if greater_is_better else -1
        self.rung = 0

    def target(self, arm: Arm) -> int:
        """The epochs this rung trains `arm` to."""
        return min(self.eta ** self.rung, arm.epochs)

    def next_job(self, elapsed: float) -> tuple[Arm, int] | None:
        """The next (arm, epochs to train it to), or None when the comparison is over. Protected arms come
        first in a rung, then the cheapest; a job over the budget left is skipped with a note."""
        while True:
            pending = [a for a in self.arms if a.alive and a.done < self.target(a)]
            if not pending:
                if not self._halve():
                    return None
                continue
            left = self.budget - elapsed
            pending.sort(key=lambda a: (not a.protected, a.cost(self.target(a))))
            for arm in pending:
                target = self.target(arm)
                need = arm.cost(target)
                if need <= left:
                    return arm, target
                arm.state = "skipped" if arm.done == 0 else "stopped"
                arm.note = (f"needs about {need:,.0f} s for epoch {target} of {arm.epochs}, {max(left, 0):,.0f} s "
                            f"of the budget were left; --budget {budget_text(elapsed + need + 1)} would cover it")

    def report(self, arm: Arm, *, state: str, done: int, score: float | None, seconds: float, note: str = "",
               epochs_run: int | None = None) -> None:
        """What a job did: the arm's state afterwards (paused, finished, failed, stopped), its epochs,
        its best dev score, and what it took (which updates the cost estimate of its next job)."""
        ran = (epochs_run if epochs_run is not None else done - arm.done)
        if ran > 0 and seconds > arm.overhead:
            arm.seconds_per_epoch = max((seconds - arm.overhead) / ran, 1e-3)
        arm.state, arm.done, arm.spent, arm.note = state, done, arm.spent + seconds, note
        if score is not None:
            arm.score = score
            arm.history.append((done, score))

    def _halve(self) -> bool:
        """End the rung: keep the better half of the arms that still have epochs to go (protected ones
        always); True when another rung follows."""
        going = [a for a in self.arms if a.state == "paused"]
        if not going:
            return False
        ranked = sorted(going, key=lambda a: -self.sign * (a.score if a.score is not None else -math.inf * self.sign))
        keep = max(1, math.ceil(len(ranked) / self.eta))
        for i, arm in enumerate(ranked):
            if i >= keep and not arm.protected:
                arm.state = "dropped"
                arm.note = (f"dropped after epoch {arm.done} of {arm.epochs} (rung {self.rung + 1}): dev "
                            f"{arm.score:.4f}, in the worse half" if arm.score is not None else "dropped")
        self.rung += 1
        return True


def budget_text(seconds: float) -> str:
    """A --budget value covering `seconds`, in whole minutes: 90 -> "2m", 3700 -> "1h02m"."""
    minutes = math.ceil(seconds / 60)
    return f"{minutes}m" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
