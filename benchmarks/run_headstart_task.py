"""One headstart strategy on a NER or QA data set, in its own process; prints a JSON result row.

    python benchmarks/run_headstart_task.py ncbi_disease full --epochs 3
    python benchmarks/run_headstart_task.py squad_v1_dev_subset full --epochs 2 --max-length 256
    python benchmarks/run_headstart_task.py wnut17 lora --limit 200 --epochs 1     # smoke test only

NER: trained on train.txt, the epoch chosen on dev.txt (entity F1), scored on test.txt (seqeval strict
IOB2). QA: trained on train.json less the questions of 10% of its contexts (held out for the epoch choice),
scored on test.json (official SQuAD v1.1 EM / F1). --backbone takes a folder, e.g. a `headstart pretrain`
output (the DAPT benchmark).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from common import DATA, folder_bytes, set_threads
from headstart import HeadstartQA, HeadstartTagger
from headstart.tasks.extractive_qa.reader import QASplit, read_squad
from headstart.tasks.tagging.reader import TokenSplit, read_token_file


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["wnut17", "ncbi_disease", "squad_v1_dev_subset"])
    ap.add_argument("strategy")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-length", type=int, default=None, help="default 128 (NER), 384 (QA)")
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backbone", default="minilm")
    ap.add_argument("--method", default=None, help="the row's method name (default: the strategy)")
    ap.add_argument("--limit", type=int, default=None, help="smoke test: first N training/test items")
    return ap.parse_args()


def _head(split, n):
    if n is None:
        return split
    if isinstance(split, QASplit):
        return QASplit(split.examples[:n], split.source)
    return TokenSplit(split.sentences[:n], split.tags[:n], split.source, split.lines[:n], split.scheme, split.format)


def main() -> None:
    args = parse_args()
    set_threads()
    qa = args.dataset.startswith("squad")
    options = {"strategy": args.strategy, "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
               "backbone": args.backbone, "stride": args.stride}
    if args.max_length:
        options["max_length"] = args.max_length
    folder = DATA / args.dataset
    if qa:
        train, dev, test = read_squad(folder / "train.json"), None, read_squad(folder / "test.json")
        est = HeadstartQA(**options)
    else:
        train, dev, test = (read_token_file(folder / f"{s}.txt") for s in ("train", "dev", "test"))
        est = HeadstartTagger(**options)
    train, test = _head(train, args.limit), _head(test, args.limit)
    dev = _head(dev, args.limit) if dev is not None else None
    t0 = time.perf_counter()
    est.fit_task(train, dev)
    seconds = time.perf_counter() - t0
    scores = est.evaluate(test)
    epochs_run = max(1, sum(row["epoch"] >= 1 for row in est.fit_result_.history))
    with tempfile.TemporaryDirectory() as tmp:
        size = folder_bytes(est.save(f"{tmp}/model"))
    n_train = len(train) if not qa else len(train) * 0.9
    row = {"method": args.method or args.strategy, "by": "headstart", "backbone": est.backbone_name_,
           **({"em": scores["em"], "f1": scores["f1"]} if qa else
              {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
               "per_type": {k: round(v["f1"], 4) for k, v in scores["per_type"].items()}}),
           "train_seconds": round(seconds, 1), "trainable_params": est.trainable_params_,
           "total_params": est.total_params_,
           "trainable_percent": round(100 * est.trainable_params_ / est.total_params_, 4), "adapter_bytes": size,
           "examples_per_second": round(n_train * epochs_run / seconds, 1), "seed": args.seed,
           "config": {"max_length": est.train_config_.max_length, "stride": est.stride, "batch_size": args.batch_size,
                      "epochs": est.train_config_.epochs, "epochs_run": epochs_run,
                      "best_epoch": est.fit_result_.best_epoch, "lr": est.train_config_.lr,
                      "strategy_options": est.strategy_.describe()["options"],
                      "train_rows": "90% of train.json's contexts (10% held out)" if qa else
                      "train.txt (dev.txt for the epoch choice)", **({"limit": args.limit} if args.limit else {})}}
    print(json.dumps(row))


if __name__ == "__main__":
    main()
