"""Benchmark NER (WNUT-17, NCBI-disease) and extractive QA (the SQuAD v1.1 dev subset) strategies beside
Hugging Face `Trainer` on the same packaged model, one method after another in its own process.

    python benchmarks/bench_tasks.py ncbi_disease --only trainer,full,top-n,lora,head
    python benchmarks/bench_tasks.py squad_v1_dev_subset --only trainer,full --epochs 2 --max-length 256

`full` and the Trainer peer run --epochs (default 3) at the same --max-length; the other strategies take
their own defaults (adapters 5 epochs). Rows go to benchmarks/results/<dataset>.json; docs/benchmarks.md is
regenerated. No --limit here: smoke-test the run_*.py scripts directly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from common import HERE, run_child, save_row
from make_docs import write_docs

STRATEGIES = ("features", "head", "top-n", "full", "lora", "bitfit", "adapter")
SAME_EPOCHS = ("full", "trainer")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=("wnut17", "ncbi_disease", "squad_v1_dev_subset"))
    ap.add_argument("--only", default=",".join(("trainer", *STRATEGIES)))
    ap.add_argument("--epochs", type=int, default=3, help="epochs of `full` and of the Trainer peer")
    ap.add_argument("--max-length", type=int, default=None, help="default 128 (NER), 384 (QA), for all methods")
    ap.add_argument("--stride", type=int, default=None, help="QA: the document stride of every method (default: "
                    "each method's own: Trainer 128, headstart max_length // 3)")
    args = ap.parse_args()
    qa = args.dataset.startswith("squad")
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    started = dt.datetime.now().isoformat(timespec="seconds")
    max_length = args.max_length or (384 if qa else 128)
    for name in args.only.split(","):
        if name == "trainer":
            script, extra = ("run_trainer_qa.py", []) if qa else ("run_trainer_ner.py", [args.dataset])
        elif name in STRATEGIES:
            script, extra = "run_headstart_task.py", [args.dataset, name]
        else:
            ap.error(f"unknown method {name!r}")
        extra += ["--max-length", str(max_length)]
        if qa and args.stride is not None:
            extra += ["--stride", str(args.stride)]
        if name in SAME_EPOCHS:
            extra += ["--epochs", str(args.epochs)]
        print(f"[{args.dataset}] {name} ...", file=sys.stderr, flush=True)
        row = run_child(script, extra, HERE / "logs" / f"{args.dataset}-{name}.log")
        row["invocation"] = started
        save_row(args.dataset, row, command)
        scores = " ".join(f"{k} {row[k]:.4f}" for k in ("em", "f1", "precision", "recall") if k in row)
        print(f"[{args.dataset}] {name}: {scores} train {row['train_seconds']} s", file=sys.stderr, flush=True)
    write_docs()


if __name__ == "__main__":
    main()
