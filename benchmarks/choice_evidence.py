"""The evidence `headstart recommend` measures, measured on every calibration set: the frozen-feature probe's
dev score and learning curve, the TF-IDF and majority baselines, and each candidate's timed cost, exactly as
`headstart.choice.evidence.gather` computes them for a user (same sample sizes, same probe).

    python benchmarks/choice_evidence.py [--sets trec6,sst2] [--redo]   # rows in results/choice/evidence.jsonl

benchmarks/choice.py fits the recommender's expectations on these rows and the dev scores of
benchmarks/defaults.py. The probe's score here is on the calibration set's dev rows, like the strategies'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os

from calibration import SETS, files
from common import RESULTS, machine, set_threads

OUT = RESULTS / "choice" / "evidence.jsonl"
CANDIDATES = ("features", "head", "top-n", "full", "lora", "bitfit")


def read_task(name: str):
    """The calibration set as headstart reads it (its own dev rows, never test)."""
    from headstart.choice.data import read_task as read

    spec, paths = SETS[name], files(name)
    return read(paths["train"], paths["dev"], text_column="text_a,text_b" if spec.pair else "text",
                label_column=spec.label_column, label_sep=spec.label_sep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--backbone", default="minilm")
    ap.add_argument("--redo", action="store_true", help="measure the sets again, replacing their rows")
    args = ap.parse_args()
    set_threads()
    from headstart.choice.evidence import gather

    rows = [json.loads(line) for line in OUT.read_text().splitlines() if line.strip()] if OUT.exists() else []
    if args.redo:
        rows = [r for r in rows if r["dataset"] not in args.sets.split(",")]
        OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = {r["dataset"] for r in rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for name in args.sets.split(","):
        if name in done:
            print(f"[{name}] already measured")
            continue
        task = read_task(name)
        ev = gather(task, list(CANDIDATES), backbone=args.backbone, max_length=128)
        row = {"dataset": name, **ev.to_dict(), "backbone": args.backbone, "machine": machine(),
               "threads": int(os.environ.get("HEADSTART_BENCH_THREADS", "2")), "date": dt.date.today().isoformat(),
               "command": f"python benchmarks/choice_evidence.py --sets {name}"}
        with OUT.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"[{name}] probe {ev.probe:.3f}, slope {ev.slope:.2f} pts/doubling, tfidf {ev.tfidf:.3f}, "
              f"{ev.seconds:.0f} s")


if __name__ == "__main__":
    main()
