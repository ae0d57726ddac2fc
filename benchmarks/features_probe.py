"""How the `features` strategy should treat the frozen embeddings: raw mean-pooled, L2-normalised (what the
packaged MiniLM was trained for: sentence-transformers' Normalize module), or standardised; C fixed at 1
or chosen by 5-fold cross-validation on the training rows. Scored on the calibration sets' dev rows
(benchmarks/calibration.py), never on test. One JSON line per (set, variant).

    python benchmarks/features_probe.py > benchmarks/results/sweeps/features-probe.jsonl

The embeddings of each set are computed once (the packaged MiniLM, max length 128), so the whole sweep
costs about as much as one `features` run per set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

import numpy as np

from calibration import SETS, calibration_split
from common import machine, set_threads

CS = [0.01, 0.1, 1.0, 10.0, 100.0]


def embed(texts: list, tokenizer, model, max_length: int = 128) -> np.ndarray:
    import torch

    from headstart.modeling import pool

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            chunk = texts[i:i + 64]
            if isinstance(chunk[0], tuple):
                enc = tokenizer([a for a, _ in chunk], [b for _, b in chunk], truncation=True,
                                max_length=max_length, padding=True, return_tensors="pt")
            else:
                enc = tokenizer(chunk, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            out.append(pool(hidden, enc["attention_mask"], "mean").numpy())
    return np.concatenate(out)


def rows(name: str):
    spec = SETS[name]
    train, dev, _ = calibration_split(name)

    def texts(df):
        return list(zip(df.text_a, df.text_b, strict=True)) if spec.pair else df.text.tolist()

    if spec.multilabel:
        names = sorted({x for v in train[spec.label_column] for x in str(v).split(spec.label_sep) if x})

        def y(df):
            return np.array([[float(n in str(v).split(spec.label_sep)) for n in names] for v in df[spec.label_column]])
    else:
        names = sorted(set(train[spec.label_column].astype(str)))

        def y(df):
            return np.array([names.index(str(v)) for v in df[spec.label_column]])

    return texts(train), y(train), texts(dev), y(dev), spec


def score(spec, y_true, pred) -> float:
    from sklearn.metrics import accuracy_score, f1_score

    if spec.multilabel:
        return float(f1_score(y_true, pred, average="macro", zero_division=0))
    return float(accuracy_score(y_true, pred))


def fit_predict(X, y, Xd, C, multilabel):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    base = LogisticRegression(C=C, max_iter=3000)
    model = OneVsRestClassifier(base) if multilabel else base
    return model.fit(X, y).predict(Xd)


def cv_choice(X, y, multilabel) -> float:
    """C by 5-fold cross-validation on the training rows (stratified where single-label)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    folds = (KFold(5, shuffle=True, random_state=0) if multilabel
             else StratifiedKFold(5, shuffle=True, random_state=0))
    split = folds.split(X, None if multilabel else y) if multilabel else folds.split(X, y)
    split = list(split)
    best = max(CS, key=lambda C: np.mean([_fold(X, y, tr, va, C, multilabel) for tr, va in split]))
    return best


def _fold(X, y, tr, va, C, multilabel):
    from sklearn.metrics import accuracy_score, f1_score

    pred = fit_predict(X[tr], y[tr], X[va], C, multilabel)
    return f1_score(y[va], pred, average="macro", zero_division=0) if multilabel else accuracy_score(y[va], pred)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    args = ap.parse_args()
    set_threads()
    from headstart.backbones import load_backbone

    bb = load_backbone("minilm")
    for name in args.sets.split(","):
        t0 = time.perf_counter()
        tr_texts, y, dv_texts, yd, spec = rows(name)
        X, Xd = embed(tr_texts, bb.tokenizer, bb.model), embed(dv_texts, bb.tokenizer, bb.model)
        seconds = time.perf_counter() - t0
        mean, sd = X.mean(0), X.std(0) + 1e-6
        variants = {"raw": (X, Xd), "l2": (X / np.linalg.norm(X, axis=1, keepdims=True),
                                           Xd / np.linalg.norm(Xd, axis=1, keepdims=True)),
                    "standard": ((X - mean) / sd, (Xd - mean) / sd)}
        for kind, (A, B) in variants.items():
            for how in ("C=1", "cv"):
                C = 1.0 if how == "C=1" else cv_choice(A, y, spec.multilabel)
                value = score(spec, yd, fit_predict(A, y, B, C, spec.multilabel))
                print(json.dumps({"dataset": name, "variant": f"{kind} {how}", "C": C, "metric": spec.metric,
                                  "dev_score": round(value, 4), "embed_seconds": round(seconds, 1),
                                  "machine": machine(), "date": dt.date.today().isoformat()}), flush=True)
        print(name, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
