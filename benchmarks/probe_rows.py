"""How much the 10% dev hold-out costs a frozen-feature probe: logistic regression on MiniLM's mean-pooled
features (max length 64), raw or L2-normalised, C in {1, 10, 100}, fit on 90% of the training rows (the
split early stopping uses) or on all of them; dev and test accuracy printed, nothing saved.

    python benchmarks/probe_rows.py sst2 [--threads 1]       # about 3 min of features, then seconds a fit
    python benchmarks/probe_rows.py banking77

The features (headstart's own `pooled_features`, what the `features` strategy fits on) are cached in
/tmp/probe_rows/<dataset>.npz. This is a diagnostic for the notes, not a results row: its dev split is
sklearn's stratified 10% (seed 0), not headstart's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from common import load_dataset
from headstart.backbones import load_backbone
from headstart.modeling import TransformerClassifier
from headstart.training import pooled_features, tokenize

CACHE = Path("/tmp/probe_rows")


def features(dataset: str) -> dict:
    """headstart's own `features` input (TransformerClassifier's pooled output of the frozen backbone)."""
    path = CACHE / f"{dataset}.npz"
    if not path.exists():
        bb = load_backbone("minilm")
        model = TransformerClassifier(bb.model, bb.anatomy, 2).eval()
        train, test = load_dataset(dataset)

        def enc(texts):
            ids = tokenize(bb.tokenizer, texts, 64)
            return np.asarray(pooled_features(model, ids, pad_id=bb.tokenizer.pad_token_id))

        t = time.time()
        CACHE.mkdir(exist_ok=True)
        np.savez(path, Xtr=enc(train.text.tolist()), ytr=train.label.astype(str).values,
                 Xte=enc(test.text.tolist()), yte=test.label.astype(str).values)
        print(dataset, "features", round(time.time() - t, 1), "s")
    return dict(np.load(path, allow_pickle=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=("sst2", "banking77", "sms_spam"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = features(args.dataset)
    Xtr, ytr, Xte, yte = d["Xtr"], d["ytr"], d["Xte"], d["yte"]
    tr_idx, dev_idx = train_test_split(np.arange(len(ytr)), test_size=0.1, stratify=ytr, random_state=0)

    def norm(X):
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    for name, f in [("raw", lambda X: X), ("l2", norm)]:
        for C in [1, 10, 100]:
            for rows, idx in [("90%", tr_idx), ("all", np.arange(len(ytr)))]:
                t = time.time()
                m = LogisticRegression(C=C, max_iter=3000).fit(f(Xtr[idx]), ytr[idx])
                dev = (m.predict(f(Xtr[dev_idx])) == ytr[dev_idx]).mean() if rows == "90%" else float("nan")
                print(f"{args.dataset} {name} C={C} {rows}: dev {dev:.4f} test {(m.predict(f(Xte)) == yte).mean():.4f} "
                      f"({time.time() - t:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
