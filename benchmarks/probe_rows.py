"""How much the 10% dev hold-out costs a frozen-feature probe: logistic regression on MiniLM's mean-pooled
features (max length 64), raw or L2-normalised, C in {1, 10, 100}, fit on 90% of the training rows (the
split early stopping uses) or on all of them; dev and test accuracy printed, nothing saved.

    python benchmarks/probe_rows.py sst2 [--threads 1]       # about 3 min of features, then seconds a fit
    python benchmarks/probe_rows.py banking77

The features are cached in /tmp/probe_rows/<dataset>.npz. This is a diagnostic for the notes, not a
results row: it encodes with transformers directly (the same pooling as `features`), and its dev split is
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
from transformers import AutoModel, AutoTokenizer

from common import load_dataset
from headstart.backbones.registry import resolve

CACHE = Path("/tmp/probe_rows")


def features(dataset: str) -> dict:
    path = CACHE / f"{dataset}.npz"
    if not path.exists():
        src = resolve("minilm")[1]
        tok, model = AutoTokenizer.from_pretrained(src), AutoModel.from_pretrained(src).eval()
        train, test = load_dataset(dataset)

        def enc(texts):
            out = []
            with torch.no_grad():
                for i in range(0, len(texts), 64):
                    b = tok(texts[i:i + 64], padding=True, truncation=True, max_length=64, return_tensors="pt")
                    h = model(**b).last_hidden_state
                    m = b["attention_mask"].unsqueeze(-1).float()
                    out.append(((h * m).sum(1) / m.sum(1)).numpy())
            return np.vstack(out)

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
