"""`headstart auto` as a new user runs it, on the calibration sets: the training cut and a budget, nothing
else; scored on the set's dev rows (passed as the test file, which auto never trains or chooses on) beside
the plain `Trainer` at its default on the same rows (benchmarks/defaults.py, the mean over its seeds).

    python benchmarks/auto_check.py --sets trec6,sick --budget 20m

One row per set in results/choice_auto.json: dataset, metric, strategy auto trained, its dev score, the
Trainer's, the gap, the budget and the wall seconds, machine and date. Wall time is the whole command
(evidence, comparison, final fit) on this machine's cores, alone on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from calibration import SETS, files
from common import HERE, RESULTS, machine

OUT = RESULTS / "choice_auto.json"
TRAINER = "trainer lr5e-5"


def _trainer(name: str, metric: str) -> float | None:
    runs = [json.loads(line) for line in (RESULTS / "defaults" / "runs.jsonl").read_text().splitlines() if line.strip()]
    scores = [r[metric] for r in runs if r["dataset"] == name and r["setting"] == TRAINER and r.get(metric) is not None]
    return statistics.mean(scores) if scores else None


def check(name: str, budget: str) -> dict:
    spec, paths = SETS[name], files(name)
    columns = ["--label-column", spec.label_column] + (["--label-sep", spec.label_sep] if spec.label_sep else [])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "auto"
        log = HERE / "logs" / "auto" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(log, "w") as fh:
            subprocess.run(["headstart", "auto", str(paths["train"]), "--test", str(paths["dev"]), "--budget", budget,
                            "--out", str(out), *columns], check=True, stdout=fh, stderr=subprocess.STDOUT,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
        seconds = time.perf_counter() - start
        how = json.loads((out / "how-chosen.json").read_text())
    metric = spec.metric
    score = how["final"]["test"][metric]
    trainer = _trainer(name, metric)
    return {"dataset": name, "method": "auto", "by": "headstart", "metric": metric, "strategy": how["strategy"],
            "score": round(score, 4), "trainer_score": None if trainer is None else round(trainer, 4),
            "gap": None if trainer is None else round(score - trainer, 4), "final_fit": how["final_fit"],
            "compared": [c["strategy"] for c in how["compared"]], "budget": budget, "seconds": round(seconds, 1),
            "command": f"headstart auto train.csv --test dev.csv --budget {budget}",
            "machine": machine(), "date": dt.date.today().isoformat()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--budget", default="20m")
    args = ap.parse_args()
    kept = json.loads(OUT.read_text())["runs"] if OUT.exists() else []
    for name in args.sets.split(","):
        row = check(name, args.budget)
        print(json.dumps(row), flush=True)
        kept = [r for r in kept if r["dataset"] != name] + [row]
        OUT.write_text(json.dumps({"dataset": "calibration sets", "kind": "cross-set", "runs": kept,
                                   "command": f"python benchmarks/auto_check.py --budget {args.budget}",
                                   "machine": machine(), "date": dt.date.today().isoformat()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
