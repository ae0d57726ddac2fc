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
from headstart.data import Split
from headstart.evaluation import classification_metrics
from headstart.tasks.pairs.estimator import HeadstartPairClassifier


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
    ap.add_argument("--split", default="test", choices=("test", "dev"),
                    help="dev: the calibration cut of benchmarks/calibration.py, scored on its dev rows")
    ap.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                    help="any other HeadstartClassifier option, e.g. --set lr=1e-4 (JSON values)")
    return ap.parse_args()


def options(args: argparse.Namespace) -> dict:
    """`--set OPTION=VALUE` pairs, values read as JSON where they parse (1e-4, true, null), else as text."""
    out = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def frames(args: argparse.Namespace):
    """(train, eval) frames and the HeadstartClassifier column options for them."""
    if args.split == "test" and args.dataset in ("sms_spam", "sst2", "banking77"):
        return (*first_rows(*load_dataset(args.dataset), args.limit), {})
    from calibration import SETS, calibration_split

    spec = SETS[args.dataset]
    train, dev, test = calibration_split(args.dataset)
    columns = {"label_column": spec.label_column, "label_sep": spec.label_sep}
    if spec.pair:
        columns["text_column"] = "text_a,text_b"
    return train, dev if args.split == "dev" else test, columns


def saved_bytes(clf: HeadstartClassifier) -> int:
    """Size on disk of what `clf.save` writes (the deployable artefact), measured in a throwaway folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return folder_bytes(clf.save(f"{tmp}/model"))


def result_row(args: argparse.Namespace, clf: HeadstartClassifier, train: pd.DataFrame, test: pd.DataFrame,
               train_seconds: float) -> dict:
    split = clf._as_split(test, None)
    if not clf.multilabel_:  # a label the training rows never showed cannot be predicted: score the rest
        keep = [i for i, v in enumerate(split.labels) if v in set(clf.labels_)]
        split = Split([split.texts[i] for i in keep], [split.labels[i] for i in keep])
    if "," in clf.text_column:  # pairs: predict_proba takes the (first, second) tuples
        split.texts = [(t.a, t.b) for t in split.texts]
    proba = clf.predict_proba(split.texts)
    m = classification_metrics(clf.encode_labels(split), proba, clf.labels_, multilabel=clf.multilabel_)
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
    if args.split == "dev":
        config["split"] = "dev"
    if args.set:
        config["set"] = options(args)
    return {
        "method": args.strategy, "by": "headstart", "backbone": clf.backbone_name_,
        "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
        "auc": m["auc"] if len(clf.labels_) == 2 and not clf.multilabel_ else None,
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
    train, test, columns = frames(args)
    backbone = {"backbone": args.backbone} if args.backbone else {}
    cls = HeadstartPairClassifier if "," in columns.get("text_column", "") else HeadstartClassifier
    settings = {"strategy": args.strategy, "epochs": args.epochs, "max_length": args.max_length,
                "batch_size": args.batch_size, "seed": args.seed, "top_n": args.top_n, "rank": args.rank,
                **columns, **options(args)}  # a --set value wins over the flag's default
    clf = cls(**backbone, **settings)
    t0 = time.perf_counter()
    clf.fit(train)
    train_seconds = time.perf_counter() - t0  # everything: loading, caching, training, early stopping
    print(json.dumps(result_row(args, clf, train, test, train_seconds)))


if __name__ == "__main__":
    main()
