"""Peer: TF-IDF + logistic regression (scikit-learn), in its own process."""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from common import load_dataset
from headstart.evaluation import tfidf_baseline


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    args = ap.parse_args()
    train, test = load_dataset(args.dataset)
    labels = sorted(train.label.astype(str).unique())
    index = {name: i for i, name in enumerate(labels)}
    y_tr = np.array([index[v] for v in train.label.astype(str)])
    y_te = np.array([index[v] for v in test.label.astype(str)])
    t0 = time.perf_counter()
    m = tfidf_baseline(train.text.tolist(), y_tr, test.text.tolist(), y_te, labels)
    seconds = time.perf_counter() - t0
    print(json.dumps({"method": "tfidf-logreg", "by": "sklearn-tfidf", "backbone": None,
                      "accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                      "auc": m["auc"] if len(labels) == 2 else None, "train_seconds": round(seconds, 1),
                      "trainable_params": None, "examples_per_second": round(len(train) / seconds, 1),
                      "seed": 0, "config": {"ngrams": "1-2", "C": 10}}))


if __name__ == "__main__":
    main()
