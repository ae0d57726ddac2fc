"""Fit the evidence-based recommender's expectations on the calibration sets, and check them leave-one-out.

    python benchmarks/choice.py          # writes src/headstart/choice/expectations.json and
                                             # benchmarks/results/choice.json

Inputs (both measured on the calibration sets' dev rows, never test):
- results/choice/evidence.jsonl (benchmarks/choice_evidence.py): each set's frozen-feature probe score and
  measured costs, as `headstart recommend` measures them;
- results/defaults/runs.jsonl (benchmarks/defaults.py): each strategy's dev score at its default.

For a strategy s on a set, q = (score_s - probe) / (1 - probe): the share of the probe's headroom it closed,
in headstart's primary metric for that set. expectations.json holds, per strategy, the mean and the 10th /
50th / 90th percentiles of q over the sets. Leave-one-out: for each set, fit on the others, pick for it as `recommend`
would (with its own probe and measured costs, a 20-minute budget) and compare the pick's real dev score with
the best strategy's and with the plain Trainer's.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

from common import HERE, RESULTS, machine

sys.path.insert(0, str(HERE.parent / "src"))
from headstart.choice.advise import expected_scores, pick  # noqa: E402

EVIDENCE = RESULTS / "choice" / "evidence.jsonl"
RUNS = RESULTS / "defaults" / "runs.jsonl"
OUT = HERE.parent / "src" / "headstart" / "choice" / "expectations.json"
LOO = RESULTS / "choice.json"
# the setting whose rows stand for each strategy's default (the first one present on a set is used)
SETTINGS = {"full": ("full e5 nocap", "full"), "lora": ("lora", "lora norefit"), "top-n": ("top-n", "top-n norefit")}
TRAINER = "trainer lr5e-5"
BASIS = ("recommended: the pick of `recommend` for the set with the expectations fitted on the other sets "
         "(leave-one-set-out), from the set's own measured probe and costs; scores: dev rows of the calibration "
         "split at each strategy's default, the mean over the seeds measured (benchmarks/defaults.py: 3 on every set but "
         "20newsgroups, 1 there; the Trainer at each rate likewise); best: the best of those strategies "
         "(what `compare` finds given time for every full schedule); seconds: the evidence plus the pick's "
         "measured training time, one thread")
BUDGET = 1200.0


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _means(runs: list[dict], name: str, metric: str) -> dict[str, float]:
    """{setting: its mean `metric` on set `name` over the seeds it was run with} (a rerun of a seed replaces it)."""
    by: dict[str, dict[int, float]] = {}
    for r in runs:
        if r["dataset"] == name and r.get(metric) is not None:
            by.setdefault(r["setting"], {})[r["seed"]] = r[metric]
    return {setting: float(np.mean(list(seeds.values()))) for setting, seeds in by.items()}


def scores() -> dict[str, dict]:
    """{set: {"probe", "metric", "seconds": {strategy: s}, "score": {strategy: dev score}, "trainer", "trainer_best"}}:
    each score the mean over the seeds measured (3 on most sets; the probe and the costs are seed 0's)."""
    evidence = {r["dataset"]: r for r in _rows(EVIDENCE)}
    runs = _rows(RUNS)
    out = {}
    for name, ev in evidence.items():
        metric = ev["metric"]
        mine = _means(runs, name, metric)
        score = {"features": ev["probe"]}
        for strategy, labels in SETTINGS.items():
            label = next((x for x in labels if x in mine), None)
            if label is not None:
                score[strategy] = mine[label]
        trainers = [v for k, v in mine.items() if k.startswith("trainer")]
        out[name] = {"probe": ev["probe"], "metric": metric, "score": score, "evidence_seconds": ev["seconds"],
                     "seconds": {k: v["overhead"] + v["epochs"] * v["seconds_per_epoch"] for k, v in ev["costs"].items()},
                     "trainer": mine.get(TRAINER), "trainer_best": max(trainers) if trainers else None}
    return out


def fit(sets: dict[str, dict]) -> dict:
    table = {}
    for strategy in SETTINGS:
        qs = [(s["score"][strategy] - s["probe"]) / max(1 - s["probe"], 1e-6) for s in sets.values()
              if strategy in s["score"]]
        if qs:
            table[strategy] = {"q10": float(np.percentile(qs, 10)), "q50": float(np.percentile(qs, 50)),
                               "q90": float(np.percentile(qs, 90)), "mean": float(np.mean(qs)),
                               "sets": len(qs)}
    return table


def _loo_row(held: str, sets: dict[str, dict], statistic: str = "q10") -> dict:
    """The pick for `held` with q fitted on the other sets, scored on `held`. `statistic` is the share the pick
    judges a strategy by (q10: its worst case, as `recommend` does; mean: the rule before)."""
    s = sets[held]
    table = fit({k: v for k, v in sets.items() if k != held})
    if statistic != "q10":
        table = {k: {**q, "q10": q[statistic]} for k, q in table.items()}
    expected = expected_scores(s["probe"], table)
    chosen, _ = pick(expected, s["seconds"], BUDGET, [c for c in expected if c in s["score"]])
    best = max(s["score"], key=s["score"].get)
    return {"dataset": held, "method": "recommend (q fitted on the other sets)", "by": "headstart",
            "metric": s["metric"], "recommended": chosen,
            "recommended_score": s["score"][chosen], "best_strategy": best, "best_score": s["score"][best],
            "gap": s["score"][best] - s["score"][chosen], "trainer_score": s["trainer"],
            "trainer_best_score": s["trainer_best"], "within_1_point": s["score"][best] - s["score"][chosen] <= 0.01,
            "at_or_above_trainer": s["trainer"] is None or s["score"][chosen] >= s["trainer"],
            "budget_s": BUDGET, "seconds": round(s["evidence_seconds"] + s["seconds"].get(chosen, 0.0), 1),
            "machine": machine(), "date": dt.date.today().isoformat()}


def main() -> None:
    sets = scores()
    table = fit(sets)
    OUT.write_text(json.dumps({"strategies": table, "fitted_on": sorted(sets), "metric": "primary",
                               "command": "python benchmarks/choice.py", "machine": machine(),
                               "date": dt.date.today().isoformat()}, indent=2) + "\n")
    loo = [_loo_row(held, sets) for held in sets]
    # the same leave-one-out with the rule the pick used before (the mean share of headroom, not the worst case)
    alt = [_loo_row(held, sets, statistic="mean") for held in sets]
    alternative = {"rule": "the best mean share of headroom instead of the best worst case (ties and gain as now)",
                   "picks": {r["dataset"]: r["recommended"] for r in alt},
                   "within_1_point": sum(r["within_1_point"] for r in alt),
                   "at_or_above_trainer": sum(r["at_or_above_trainer"] for r in alt), "sets": len(alt)}
    LOO.write_text(json.dumps({"dataset": "calibration sets (leave one out)", "kind": "cross-set", "runs": loo,
                               "alternative": alternative, "budget_s": BUDGET, "command": "python benchmarks/choice.py", "basis": BASIS,
                               "machine": machine(), "date": dt.date.today().isoformat()}, indent=2) + "\n")
    print(json.dumps(table, indent=1))
    print("alternative rule:", json.dumps(alternative))
    for r in loo:
        print(f"{r['dataset']:<13} pick {r['recommended']:<8} {r['recommended_score']:.3f}  best {r['best_strategy']:<8} "
              f"{r['best_score']:.3f}  trainer {r['trainer_score'] or float('nan'):.3f}  "
              f"{'ok' if r['within_1_point'] else 'MISS'} {'>=T' if r['at_or_above_trainer'] else '<T'}")


if __name__ == "__main__":
    main()
