"""The few-shot training sets of bench_fewshot.py: k examples per class drawn from a data set's training
split by seed (the same draw for headstart and SetFit), and the row both runners print."""

from __future__ import annotations

import argparse

import pandas as pd

from common import load_dataset


def shots(dataset: str, k: int, seed: int, test_limit: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(k rows of every class drawn with `seed`, or all of a class's rows when it has fewer; test set) for `dataset` (SST-2: from the 8,000-row subset;
    tested on the GLUE dev set). `test_limit`: the first N test rows, for smoke runs only."""
    train, test = load_dataset(dataset)
    train["label"], test["label"] = train.label.astype(str), test.label.astype(str)
    if train.label.value_counts().min() >= k:  # the draw every saved row was made with
        few = train.groupby("label", group_keys=False).sample(n=k, random_state=seed)
    else:  # a class with fewer than k rows gives all it has (Banking77 at 64: four classes of 35 to 61 rows)
        few = pd.concat([g.sample(n=min(k, len(g)), random_state=seed) for _, g in train.groupby("label")])
    few = few.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # classes interleaved
    if test_limit is not None:
        test = test.head(test_limit)
    return few, test.reset_index(drop=True)


def parse_args(doc: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--shots", type=int, default=8, help="examples per class")
    ap.add_argument("--seed", type=int, default=0, help="draws the examples and seeds the training")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--pairs-per-example", type=int, default=10, help="pairs per example and epoch")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--limit", type=int, default=None, help="smoke test: the first N test rows (not results)")
    return ap.parse_args()


def row(args: argparse.Namespace, by: str, metrics: dict, seconds: float, pairs: int, n_train: int,
        extra: dict) -> dict:
    """The result row of one run, in benchmarks/results' format."""
    config = {"shots": args.shots, "train_rows": n_train, "epochs": args.epochs,
              "pairs_per_example": args.pairs_per_example, "batch_size": args.batch_size,
              "max_length": args.max_length, "pairs_trained": pairs, **extra}
    if args.limit is not None:
        config["limit"] = args.limit
    return {"method": f"few-shot-{args.shots}", "by": by, "backbone": "minilm", "seed": args.seed,
            "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "auc": metrics.get("auc"),
            "train_seconds": round(seconds, 1), "test_rows": metrics["n"], "config": config}
