"""One headstart strategy on one data set, in its own process; prints a JSON result row.

    python benchmarks/run_headstart.py sst2 lora --epochs 5 [--rank 8]
    python benchmarks/run_headstart.py sst2 lora --limit 200 --epochs 1     # smoke test only, never results

Besides the metrics, the row records what the trained model costs: `trainable_params` of `total_params`
(`trainable_percent`), and `adapter_bytes`, the size of the folder `clf.save` writes (an adapter strategy
saves its adapter + head and references the backbone; `full` saves the whole backbone).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import pandas as pd

from common import first_rows, folder_bytes, load_dataset, set_threads
from headstart import HeadstartClassifier
from headstart.evaluation import classification_metrics


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("strategy")
    ap.add_argument("--backbone", default=None, help="default: the packaged MiniLM")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-n", type=int, default=None)
    ap.add_argument("--rank", type=int, default=None, help="LoRA rank (lora only; default: the strategy's)")
    ap.add_argument("--limit", type=int, default=None,
                    help="smoke test: first N training and N test rows (rows so made are not results)")
    return ap.parse_args()


def saved_bytes(clf: HeadstartClassifier) -> int:
    """Size on disk of what `clf.save` writes (the deployable artefact), measured in a throwaway folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return folder_bytes(clf.save(f"{tmp}/model"))


def result_row(args: argparse.Namespace, clf: HeadstartClassifier, train: pd.DataFrame, test: pd.DataFrame,
               train_seconds: float) -> dict:
    proba = clf.predict_proba(test.text.tolist())
    m = classification_metrics(clf.encode_labels(_split(test)), proba, clf.labels_)
    epochs_run = max(1, sum(row["epoch"] >= 1 for row in clf.fit_result_.history))  # row 0: the start
    config = {"max_length": args.max_length, "batch_size": args.batch_size,
              "epochs": clf.train_config_.epochs, "epochs_run": epochs_run,
              "best_epoch": clf.fit_result_.best_epoch, "averaged_epochs": clf.fit_result_.averaged_epochs,
              "lr": clf.train_config_.lr,
              "strategy_options": clf.strategy_.describe()["options"],
              "train_rows": ("all of train (scored on a stratified 10% dev split, then refit on every row)"
                             if clf.refit_on_dev_ else "90% of train (10% stratified dev for early stopping)")}
    if clf.train_config_.label_smoothing:  # recorded since 2026-11-27, when `full` began to smooth by default
        config["label_smoothing"] = clf.train_config_.label_smoothing
    if "rank" in config["strategy_options"]:  # the effective LoRA rank, given or default, beside the peer's
        config["rank"] = config["strategy_options"]["rank"]
    if args.limit is not None:
        config["limit"] = args.limit
    return {
        "method": args.strategy, "by": "headstart", "backbone": clf.backbone_name_,
        "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
        "auc": m["auc"] if len(clf.labels_) == 2 else None,
        "train_seconds": round(train_seconds, 1), "trainable_params": clf.trainable_params_,
        "total_params": clf.total_params_,
        "trainable_percent": round(100 * clf.trainable_params_ / clf.total_params_, 4),
        "adapter_bytes": saved_bytes(clf),
        "examples_per_second": round(len(train) * (1 if clf.refit_on_dev_ else 0.9) * epochs_run / train_seconds, 1),
        "seed": args.seed,
        "config": config,
    }


def main() -> None:
    args = parse_args()
    set_threads()
    train, test = first_rows(*load_dataset(args.dataset), args.limit)
    backbone = {"backbone": args.backbone} if args.backbone else {}
    clf = HeadstartClassifier(**backbone, strategy=args.strategy, epochs=args.epochs, max_length=args.max_length,
                              batch_size=args.batch_size, seed=args.seed, top_n=args.top_n, rank=args.rank)
    t0 = time.perf_counter()
    clf.fit(train)
    train_seconds = time.perf_counter() - t0  # everything: loading, caching, training, early stopping
    print(json.dumps(result_row(args, clf, train, test, train_seconds)))


def _split(df):
    from headstart.data import Split

    return Split(df.text.tolist(), df.label.astype(str).tolist())


if __name__ == "__main__":
    main()
