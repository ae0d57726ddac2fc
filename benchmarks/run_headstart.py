"""One headstart strategy on one data set, in its own process; prints a JSON result row."""

from __future__ import annotations

import argparse
import json
import time

from common import load_dataset, set_threads
from headstart import HeadstartClassifier
from headstart.evaluation import classification_metrics


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("strategy")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-n", type=int, default=None)
    args = ap.parse_args()
    set_threads()
    train, test = load_dataset(args.dataset)
    clf = HeadstartClassifier(strategy=args.strategy, epochs=args.epochs, max_length=args.max_length,
                              batch_size=args.batch_size, seed=args.seed, top_n=args.top_n)
    t0 = time.perf_counter()
    clf.fit(train)
    train_seconds = time.perf_counter() - t0  # everything: loading, caching, training, early stopping
    proba = clf.predict_proba(test.text.tolist())
    m = classification_metrics(clf.encode_labels(_split(test)), proba, clf.labels_)
    epochs_run = max(1, sum(row["epoch"] >= 1 for row in clf.fit_result_.history))  # row 0: the start
    print(json.dumps({
        "method": args.strategy, "by": "headstart", "backbone": clf.backbone_name_,
        "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "auc": m["auc"] if len(clf.labels_) == 2 else None,
        "train_seconds": round(train_seconds, 1), "trainable_params": clf.trainable_params_,
        "examples_per_second": round(len(train) * 0.9 * epochs_run / train_seconds, 1),
        "seed": args.seed,
        "config": {"max_length": args.max_length, "batch_size": args.batch_size,
                   "epochs": clf.train_config_.epochs, "epochs_run": epochs_run,
                   "best_epoch": clf.fit_result_.best_epoch, "lr": clf.train_config_.lr,
                   "strategy_options": clf.strategy_.describe()["options"],
                   "train_rows": "90% of train (10% stratified dev for early stopping)"},
    }))


def _split(df):
    from headstart.data import Split

    return Split(df.text.tolist(), df.label.astype(str).tolist())


if __name__ == "__main__":
    main()
