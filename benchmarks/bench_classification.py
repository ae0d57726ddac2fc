"""Benchmark every classification strategy on one data set, beside the peers, in one invocation.

    python benchmarks/bench_classification.py sms_spam            # all methods
    python benchmarks/bench_classification.py banking77 --only top-n,trainer
    python benchmarks/bench_classification.py sst2 --only full,lora,bitfit,peft-trainer --full-epochs 3

Each method runs in its own process, one after another (never two trainings at once on 2 cores), with
the same packaged model, data split, max length 64, batch size 32, seed 0 and 2 torch threads. Rows go
to benchmarks/results/<dataset>.json as each finishes; then docs/benchmarks.md is regenerated.

Epochs: `full` and the Trainer full fine-tuning peer run --full-epochs; the adapter strategies (lora,
bitfit, ia3, prefix, prompt, adapter, compacter), the peft LoRA + Trainer peer and the BitFit + Trainer peer
(`bitfit-trainer`) run --adapter-epochs (default 5, headstart's adapter default), so each adapter and its
peer see the same data the same number of times; LoRA and its peer also get the same rank (--rank, default 8).
The other methods take their own defaults. There is deliberately no --limit here: smoke-test the run_*.py
scripts directly, so that no shortened run can reach the results files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from common import HERE, run_child, save_row
from make_docs import write_docs

ADAPTERS = ("lora", "bitfit", "ia3", "prefix", "prompt", "adapter", "compacter")

# name -> (script, extra args)
METHODS = {
    "tfidf": ("run_tfidf.py", []),
    "features": ("run_headstart.py", ["features"]),
    "head": ("run_headstart.py", ["head"]),
    "top-n": ("run_headstart.py", ["top-n"]),
    "full": ("run_headstart.py", ["full"]),
    "trainer": ("run_trainer.py", []),
    **{name: ("run_headstart.py", [name]) for name in ADAPTERS},
    "peft-trainer": ("run_peft_trainer.py", []),
    "bitfit-trainer": ("run_peft_trainer.py", ["--method", "bitfit"]),
}
FULL_EPOCHS = ("full", "trainer")  # methods that take --full-epochs
ADAPTER_EPOCHS = (*ADAPTERS, "peft-trainer", "bitfit-trainer")  # methods that take --adapter-epochs
RANKED = ("lora", "peft-trainer")  # methods that take --rank


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=("sms_spam", "sst2", "banking77"))
    ap.add_argument("--only", default=",".join(METHODS),
                    help="comma-separated subset of " + ",".join(METHODS))
    ap.add_argument("--full-epochs", type=int, default=3, help="epochs of `full` and of the Trainer peer")
    ap.add_argument("--adapter-epochs", type=int, default=5,
                    help="epochs of the adapter strategies (" + ", ".join(ADAPTERS) + ") and of the peft "
                    "LoRA + Trainer peer (default 5)")
    ap.add_argument("--rank", type=int, default=8,
                    help="LoRA rank of `lora` and of the peft peer (default 8)")
    ap.add_argument("--backbone", default=None,
                    help="headstart's backbone (default: the packaged MiniLM), e.g. smollm2 for a decoder; rows "
                    "are kept apart by backbone. The peers always use the MiniLM, so they are refused with it")
    args = ap.parse_args()
    unknown = [name for name in args.only.split(",") if name not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    peers = [name for name in args.only.split(",") if METHODS[name][0] != "run_headstart.py"]
    if args.backbone and peers:
        ap.error(f"--backbone applies to headstart's strategies only, not to {', '.join(peers)}")
    return args


def child_args(name: str, args: argparse.Namespace) -> list[str]:
    """Command-line arguments of one method's script: data set, strategy, its epochs if it has a budget, and
    the LoRA rank for LoRA and its peer."""
    extra = [args.dataset, *METHODS[name][1]]
    if name in FULL_EPOCHS:
        extra += ["--epochs", str(args.full_epochs)]
    elif name in ADAPTER_EPOCHS:
        extra += ["--epochs", str(args.adapter_epochs)]
    if name in RANKED:
        extra += ["--rank", str(args.rank)]
    if args.backbone:
        extra += ["--backbone", args.backbone]
    return extra


def summary(dataset: str, name: str, row: dict, path: Path) -> str:
    """One progress line for the log: the metrics, the time, and what the method trains."""
    trainable = row.get("trainable_params")
    share = f" ({row['trainable_percent']:.3g}%)" if row.get("trainable_percent") is not None else ""
    params = f" trainable {trainable:,}{share}" if trainable is not None else ""
    return (f"[{dataset}] {name}: accuracy {row['accuracy']:.4f} macro-F1 {row['macro_f1']:.4f} "
            f"train {row['train_seconds']} s peak {row['peak_rss_mb']} MB{params} -> {path.name}")


def main() -> None:
    args = parse_args()
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    started = dt.datetime.now().isoformat(timespec="seconds")  # marks rows timed side by side (make_docs)
    for name in args.only.split(","):
        print(f"[{args.dataset}] {name} ...", file=sys.stderr, flush=True)
        log = HERE / "logs" / f"{args.dataset}-{name}{'-' + args.backbone if args.backbone else ''}.log"
        row = run_child(METHODS[name][0], child_args(name, args), log)
        row["invocation"] = started
        path = save_row(args.dataset, row, command)
        print(summary(args.dataset, name, row, path), file=sys.stderr, flush=True)
    write_docs()


if __name__ == "__main__":
    main()
