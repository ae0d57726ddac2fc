"""`recommend` with evidence: the table's pick is the prior and the explanation; what is measured on the
user's data and machine (choice/evidence.py) decides.

For each candidate strategy the expected dev score is read off the frozen-feature probe's score p:

    expected = p + q * (1 - p)

where q is the share of the probe's headroom the strategy closed on the calibration sets (its 10th, 50th and
90th percentiles give the range, its mean the middle). The q table is data (`expectations.json`), fitted by
`benchmarks/choice.py` on the dev rows of every calibration set, with a leave-one-set-out check; it is
not hand-set. The pick is the candidate whose *worst case* (its 10th percentile) is best among those whose
measured training time fits the budget, the cheapest of those within NEAR_TIE of it; `features` when no
fine-tuning is expected, even in its worst case, to close GAIN_MIN of the probe's headroom, or when nothing
else fits. Ties and the gain are shares of the headroom, not points, so a set near its ceiling (spam at 0.99)
is judged on the same scale as one far from it. Why the worst case and not the mean: on one seed the
strategies' means are within noise of each other; the worst case is what separates them (top-n's mean is
lifted by one set, and it fell under the plain Trainer on three; full never did), and the leave-one-set-out
check in benchmarks/choice.py measures the rule, not only the table.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from headstart.choice.compare.scheduler import budget_text
from headstart.choice.evidence import SAMPLE_ROWS, Evidence, gather
from headstart.choice.recommend import Plan
from headstart.data import TaskData
from headstart.training.progress import duration

__all__ = ["Advice", "advise", "expectations", "expected_scores", "pick", "CANDIDATES", "GAIN_MIN"]

EXPECTATIONS = Path(__file__).with_name("expectations.json")
CANDIDATES = ("features", "head", "top-n", "full", "lora", "bitfit")
NEAR_TIE = 0.01  # worst cases within this share of the headroom are a tie (seeds differ by more): the cheaper wins
GAIN_MIN = 0.05  # a strategy must be expected to close this share of the probe's headroom to be worth training
# table rules whose pick evidence on a classifier does not judge (no labels, an API, few-shot pairs, a
# pretraining step first): their plan is kept as it is
KEEP_RULES = ("text-and-image", "no-labels-api-only", "no-labels", "api-only", "unlabelled-texts", "unlabelled-corpus",
              "few-shot")


def expectations(path: Path = EXPECTATIONS) -> dict:
    """{strategy: {"q10", "q50", "q90", "sets"}}, fitted on the calibration sets."""
    return json.loads(Path(path).read_text())["strategies"]


def expected_scores(probe: float, table: dict, greater_is_better: bool = True) -> dict[str, tuple[float, float, float]]:
    """(low, middle, high) expected dev score per strategy, from the probe's score and the fitted q's.
    `features` is the probe itself (it is the same model fitted on every row)."""
    out = {"features": (probe, probe, probe)}
    room = (1 - probe) if greater_is_better else probe
    sign = 1 if greater_is_better else -1
    for name, q in table.items():
        if name == "features":
            continue
        mid = q.get("mean", q["q50"])  # the mean share: what the strategy gains on average, not on a typical set
        out[name] = tuple(min(1.0, max(0.0, probe + sign * v * room)) for v in (q["q10"], mid, q["q90"]))
    return out


def pick(expected: dict[str, tuple[float, float, float]], seconds: dict[str, float], budget: float,
         candidates: list[str], greater_is_better: bool = True) -> tuple[str, list[str]]:
    """(strategy, why): the best expected worst case (the first of each range) among candidates that fit the
    budget."""
    why = []
    fits = [s for s in candidates if s in expected and seconds.get(s, 0.0) <= budget]
    for s in candidates:
        if s in expected and s not in fits:
            why.append(f"{s} would take about {duration(seconds[s])} here, over the {duration(budget)} budget "
                       f"(--budget {budget_text(seconds[s] * 1.2)} would cover it)")
    if not fits:
        return "features", [*why, "nothing else fits the budget: the probe itself is the answer"]
    probe = expected["features"][1]
    sign = 1 if greater_is_better else -1
    room = max(1 - probe if greater_is_better else probe, 1e-6)
    gain = {s: sign * (expected[s][0] - probe) for s in fits}  # worst-case gain over the probe, in points
    top = max(gain.values())
    near = [s for s in fits if top - gain[s] <= NEAR_TIE * room]
    best = min(near, key=lambda s: seconds.get(s, 0.0))  # a gap this small is noise: the cheapest of them
    if len(near) > 1:
        why.append(f"{', '.join(sorted(near))} are expected, at worst, within {100 * NEAR_TIE * room:.2f} point "
                   f"of each other: {best} is the cheapest of them here")
    if best != "features" and gain[best] < GAIN_MIN * room:
        why.append(f"no strategy is expected, at worst, to close {100 * GAIN_MIN:.0f}% of the frozen-feature "
                   f"probe's headroom ({best}: {100 * gain[best] / room:.1f}%): features is as good and cheapest")
        return "features", why
    return best, why


@dataclass
class Advice:
    """What `recommend` says after measuring: the pick, its expected score range and time, why, the command.
    `prior` is the table's plan (kept as it is where evidence does not apply)."""

    strategy: str
    command: str
    why: list[str]
    prior: Plan
    expected: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    evidence: Evidence | None = None
    budget_seconds: float = 0.0

    def to_text(self) -> str:
        if self.evidence is None:
            return self.prior.to_text()
        lo, mid, hi = self.expected[self.strategy]
        ev = self.evidence
        lines = [f"Recommended: {self.strategy}",
                 f"  expected dev {ev.metric}: {mid:.3f} (likely {lo:.3f} to {hi:.3f}); expected training time "
                 f"{duration(self.seconds[self.strategy])} on this machine",
                 "Why:", *(f"  - {r}" for r in self.why),
                 "Measured here (in " + duration(ev.seconds) + "):",
                 *(f"  {s:<8} expected {self.expected[s][1]:.3f} ({self.expected[s][0]:.3f}-{self.expected[s][2]:.3f}), "
                   f"~{duration(self.seconds[s])}" for s in self.expected if s in self.seconds),
                 "Run:", f"  {self.command}",
                 f"The table's view (the prior: {self.prior.strategy}, rule {self.prior.matched_rule}):",
                 *(f"  - {r}" for r in self.prior.reasons)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"strategy": self.strategy, "command": self.command, "why": self.why,
                "expected": {k: list(v) for k, v in self.expected.items()}, "seconds": self.seconds,
                "budget_seconds": self.budget_seconds, "prior": {"strategy": self.prior.strategy,
                                                                 "rule": self.prior.matched_rule},
                "evidence": self.evidence.to_dict() if self.evidence else None}


def advise(task: TaskData, plan: Plan, *, budget_seconds: float = 1200.0, backbone: str = "minilm",
           max_length: int = 128, data_path: str | None = None, candidates: tuple[str, ...] = CANDIDATES,
           evidence: Evidence | None = None, table: dict | None = None, seed: int = 0) -> Advice:
    """Measure (unless `evidence` is given), then pick. Plans whose rule evidence does not judge are kept."""
    if plan.matched_rule in KEEP_RULES:
        return Advice(plan.strategy, plan.command, plan.reasons, plan)
    from headstart.evaluation import GREATER_IS_BETTER

    ev = evidence or gather(task, list(candidates), backbone=backbone, max_length=max_length, seed=seed)
    table = expectations() if table is None else table
    up = GREATER_IS_BETTER[ev.metric]
    expected = {k: v for k, v in expected_scores(ev.probe, table, up).items() if k in candidates}
    seconds = {name: cost.total for name, cost in ev.costs.items()}
    strategy, why = pick(expected, seconds, budget_seconds, [c for c in candidates if c in expected], up)
    why = [_probe_line(ev), *why]
    if ev.tfidf is not None and ev.probe is not None and ev.tfidf > ev.probe:
        why.append(f"TF-IDF + logistic regression scores {ev.tfidf:.3f}, above the probe: the labels hinge on "
                   "words the frozen embedding blurs, so adapting the encoder should pay")
    if strategy != plan.strategy and plan.strategy in expected:
        why.append(f"the table alone would say {plan.strategy} (rule {plan.matched_rule}); the measured "
                   f"expectation of {strategy} is {expected[strategy][1] - expected[plan.strategy][1]:+.3f} "
                   f"against it, at a cost that fits the budget")
    elif strategy != plan.strategy:
        why.append(f"the table alone would say {plan.strategy} (rule {plan.matched_rule}), which has no fitted "
                   f"expectation; {strategy} is the best measured one that fits the budget")
    data = shlex.quote(data_path) if data_path else "DATA"
    return Advice(strategy, f"headstart train {data} --strategy {strategy} --out runs/{strategy}", why, plan,
                  expected, seconds, ev, budget_seconds)


def _probe_line(ev: Evidence) -> str:
    curve = ", ".join(f"{n:,} rows {s:.3f}" for n, s in ev.curve)
    slope = ev.slope
    more = ("" if slope is None else f"; {slope:+.1f} points per doubling of the rows, so more labelled data "
            + ("would still help" if slope >= 1 else "would help little"))
    carried = ("" if ev.probe_measured in (None, ev.probe) else
               f"; {ev.probe:.3f} carried up its curve to the {SAMPLE_ROWS:,} rows the expectations assume (its time budget cut "
               "the sample)")
    return f"frozen-feature probe: dev {ev.metric} {ev.probe_measured or ev.probe:.3f} ({curve}){more}{carried}"
