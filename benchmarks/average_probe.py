"""Does averaging the weights of the last epochs (TrainConfig.average_epochs) beat the best epoch's? (an experiment)

    python benchmarks/average_probe.py sst2 --seed 0         # full, 3 epochs, average_epochs 2
    python benchmarks/average_probe.py banking77 --seed 0    # full, 5 epochs

One training run per seed gives both sides, paired: the run keeps the mean of the weights at the ends of the
best epoch and the one before it (what `average_epochs=2` does), and the probe copies the raw weights at each
epoch's end, so it also scores the best epoch's own weights: what `average_epochs=1` keeps (averaging changes
no training step and no choice of epoch). It checks that the kept weights are that mean, and scores the means
of the last k epochs' weights, k = 2 .. epochs, for comparison. Settings as bench_classification.py's `full`
rows (packaged MiniLM, max length 64, batch 32, stratified 10% dev split drawn with the seed; 3 epochs on
SST-2, 5 on Banking77). Rows go to results/sweeps/<dataset>-averaging.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import sys
import time
from pathlib import Path

import torch

import headstart.tasks.classification.estimator
from common import load_dataset, machine, set_threads
from headstart import HeadstartClassifier
from headstart.data import Split, load_task
from headstart.evaluation import classification_metrics

# the recorded lora runs used query/value (LoRA's default until 2026-11-26); kept so they reproduce
LORA_TARGETS = "attention"
EPOCHS = {"sst2": 3, "banking77": 5, "sms_spam": 3}


def mean(states: list[dict]) -> dict:
    return {k: torch.stack([s[k] for s in states]).mean(0) for k in states[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=sorted(EPOCHS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--average-epochs", type=int, default=2)
    ap.add_argument("--strategy", default="full")
    args = ap.parse_args()
    set_threads()
    train, test = load_dataset(args.dataset)
    epochs = EPOCHS[args.dataset] if args.strategy == "full" else 5
    clf = HeadstartClassifier(target_modules=LORA_TARGETS if args.strategy == "lora" else None,
                              strategy=args.strategy, epochs=epochs, max_length=64, batch_size=32, seed=args.seed,
                              average_epochs=args.average_epochs, progress=False)
    raw: dict[int, dict] = {}  # epoch (1-based) -> the trained weights at its end

    def keep_raw(epoch: int, row: dict) -> None:
        raw[epoch + 1] = {k: v.detach().clone() for k, v in clf.model_.named_parameters() if v.requires_grad}

    # the probe's only hook into training: fit() with an on_epoch_end callback that copies the weights
    headstart.tasks.classification.estimator.fit = functools.partial(headstart.tasks.classification.estimator.fit, on_epoch_end=keep_raw)
    t0 = time.perf_counter()
    clf.fit(train)
    seconds = time.perf_counter() - t0
    result, metric = clf.fit_result_, clf.metric_
    kept = {k: v.detach().clone() for k, v in clf.model_.named_parameters() if k in raw[1]}
    if result.averaged_epochs:  # the kept weights are the mean of those epochs' weights
        want = mean([raw[e] for e in result.averaged_epochs])
        assert all(torch.allclose(kept[k], want[k], atol=1e-6) for k in kept), "kept weights are not the mean"
    texts = test.text.tolist()
    y = clf.encode_labels(Split(texts, test.label.astype(str).tolist()))
    dev = load_task(train, dev_fraction=0.1, seed=args.seed).dev  # the split fit() held out
    dev_y = clf.encode_labels(dev)

    def scores(state: dict) -> dict:
        clf.model_.load_state_dict(state, strict=False)
        p = clf.predict_proba(dev.texts)
        return {f"dev_{metric}": classification_metrics(dev_y, p, list(range(p.shape[1])))[metric],
                "dev_accuracy": float((p.argmax(1) == dev_y).mean()),
                "test_accuracy": float((clf.predict_proba(texts).argmax(1) == y).mean())}

    best = result.best_epoch
    rows = [{"weights": f"best epoch ({best})", "epochs": [best], **scores(raw[best] if best else kept)},
            {"weights": f"kept (average_epochs {args.average_epochs})", "epochs": result.averaged_epochs or [best],
             **scores(kept)}]
    for k in range(2, len(raw) + 1):  # means of the last k epochs' weights, for comparison
        last = sorted(raw)[-k:]
        rows.append({"weights": "mean of epochs " + "+".join(map(str, last)), "epochs": last,
                     **scores(mean([raw[e] for e in last]))})
    for r in rows:
        print(f"{r['weights']:28s} dev {metric} {r[f'dev_{metric}']:.4f}  dev acc {r['dev_accuracy']:.4f}  "
              f"test acc {r['test_accuracy']:.4f}")
    out = Path(__file__).parent / "results" / "sweeps" / f"{args.dataset}-averaging.json"
    saved = json.loads(out.read_text()) if out.exists() else {}
    key = (args.strategy, args.seed, args.average_epochs)
    others = [r for r in saved.get("runs", []) if (r["strategy"], r["seed"], r["average_epochs"]) != key]
    record = {"strategy": args.strategy, "seed": args.seed, "average_epochs": args.average_epochs, "epochs": epochs,
              "metric": metric, "best_epoch": best, "averaged_epochs": result.averaged_epochs,
              "machine": machine(), "date": dt.date.today().isoformat(), "train_seconds": round(seconds, 1),
              "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "history": result.history, "rows": rows}
    runs = sorted([*others, record], key=lambda r: (r["strategy"], r["average_epochs"], r["seed"]))
    out.write_text(json.dumps({"dataset": args.dataset, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
