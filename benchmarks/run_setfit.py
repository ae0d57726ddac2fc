"""Peer: the SetFit library (1.2.0) on the same k examples per class, same encoder and pair budget, in its
own process; prints a JSON row.

    python benchmarks/run_setfit.py sst2 --shots 8 --seed 0

SetFit is not a headstart dependency (it pins nothing we lack, but imports `evaluate`); install it beside
the environment without touching transformers / sentence-transformers:
    pip install --no-deps --target /work/setfit-site setfit==1.2.0 evaluate==0.4.6
and point SETFIT_SITE at that folder (default /work/setfit-site).

Same budget: `num_iterations = pairs_per_example / 2` gives n * pairs_per_example pairs per epoch (SetFit
draws num_iterations positive and as many negative pairs per example), for `epochs` epochs, batch 16,
lr 2e-5, max length 128, logistic-regression head. SetFit has no dev split or early stopping here (its
documented defaults): it trains on all k-shot rows for every epoch.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from common import set_threads
from fewshot_data import parse_args, row, shots

sys.path.insert(0, os.environ.get("SETFIT_SITE", "/work/setfit-site"))


def main() -> None:
    args = parse_args(__doc__)
    set_threads()
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from headstart.backbones.registry import resolve
    from headstart.evaluation import classification_metrics

    train, test = shots(args.dataset, args.shots, args.seed, args.limit)
    out = tempfile.mkdtemp(prefix="setfit-")  # SetFit's Trainer writes checkpoints; keep them out of the repo
    t0 = time.perf_counter()
    model = SetFitModel.from_pretrained(resolve("minilm")[1])
    model.model_body.float()  # float32 as headstart trains it, whatever dtype the checkpoint stores
    targs = TrainingArguments(batch_size=args.batch_size, num_epochs=args.epochs,
                              num_iterations=args.pairs_per_example // 2, body_learning_rate=2e-5,
                              max_length=args.max_length, seed=args.seed, report_to="none",
                              show_progress_bar=False, output_dir=out, save_strategy="no")
    trainer = Trainer(model=model, args=targs, train_dataset=Dataset.from_pandas(train[["text", "label"]]))
    trainer.train()
    seconds = time.perf_counter() - t0
    proba = np.asarray(model.predict_proba(test.text.tolist()))
    labels = [str(c) for c in model.model_head.classes_]  # the columns of predict_proba
    index = {name: i for i, name in enumerate(labels)}
    metrics = classification_metrics(np.array([index[v] for v in test.label]), proba, labels)
    pairs = args.epochs * len(train) * args.pairs_per_example
    extra = {"num_iterations": args.pairs_per_example // 2, "lr": 2e-5, "setfit": __import__("setfit").__version__,
             "dev": "none (SetFit defaults: all k-shot rows, every epoch)"}
    shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(row(args, "setfit", metrics, seconds, pairs, len(train), extra)))


if __name__ == "__main__":
    main()
