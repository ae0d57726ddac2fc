"""Benchmark every classification strategy on one data set, beside the peers, in one invocation.

    python benchmarks/bench_classification.py sms_spam            # all methods
    python benchmarks/bench_classification.py banking77 --only top-n,trainer

Each method runs in its own process, one after another (never two trainings at once on 2 cores), with
the same packaged model, data split, max length 64, batch size 32, seed 0 and 2 torch threads. Rows go
to benchmarks/results/<dataset>.json as each finishes; then docs/benchmarks.md is regenerated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import HERE, run_child, save_row
from make_docs import write_docs

# (name, script, extra args). `full` and the Trainer peer run the same number of epochs.
METHODS = {
    "tfidf": ("run_tfidf.py", []),
    "features": ("run_headstart.py", ["features"]),
    "head": ("run_headstart.py", ["head"]),
    "top-n": ("run_headstart.py", ["top-n"]),
    "full": ("run_headstart.py", ["full"]),
    "trainer": ("run_trainer.py", []),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=("sms_spam", "sst2", "banking77"))
    ap.add_argument("--only", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    ap.add_argument("--full-epochs", type=int, default=3, help="epochs of `full` and of the Trainer peer")
    args = ap.parse_args()
    for name in args.only.split(","):
        script, extra = METHODS[name]
        extra = [args.dataset, *extra]
        if name in ("full", "trainer"):
            extra += ["--epochs", str(args.full_epochs)]
        print(f"[{args.dataset}] {name} ...", file=sys.stderr, flush=True)
        row = run_child(script, extra, HERE / "logs" / f"{args.dataset}-{name}.log")
        path = save_row(args.dataset, row, "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]))
        print(f"[{args.dataset}] {name}: accuracy {row['accuracy']:.4f} macro-F1 {row['macro_f1']:.4f} "
              f"train {row['train_seconds']} s peak {row['peak_rss_mb']} MB -> {path.name}", file=sys.stderr,
              flush=True)
    write_docs()


if __name__ == "__main__":
    main()
