"""Does keeping a moving average of the weights (TrainConfig.ema) beat the weights as trained? (an experiment)

    python benchmarks/ema_probe.py sst2 --seed 0            # full, 3 epochs, ema 0.99
    python benchmarks/ema_probe.py banking77 --seed 0        # full, 5 epochs
    python benchmarks/ema_probe.py sst2 --seed 1 --ema 0.995

One training run per seed gives both sides, paired: the run keeps the average (what `ema` does: the dev
evaluation, early stopping and the weights kept are the average's), and the probe also copies the raw weights
at each epoch's end. Raw side: the epoch whose raw weights score best on the dev metric (`dev_<metric>_raw`
in the history, the same rule as without `ema`; the moving average changes no training step, so these are the
weights a run without it would have had, unless early stopping, which reads the average, ended the run at
another epoch). Also scored: the uniform averages of the last k epochs' raw weights, k = 2 .. epochs (SWA over epoch ends).
Settings as bench_classification.py's `full` rows (packaged MiniLM, max length 64, batch 32, stratified 10%
dev split drawn with the seed; 3 epochs on SST-2, 5 on Banking77). Rows go to results/sweeps/<dataset>-ema.json.
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

import headstart.api
from common import load_dataset, machine, set_threads
from headstart import HeadstartClassifier
from headstart.data import Split, load_task
from headstart.evaluation import classification_metrics

EPOCHS = {"sst2": 3, "banking77": 5, "sms_spam": 3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=sorted(EPOCHS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ema", type=float, default=0.99, help="decay per step")
    ap.add_argument("--strategy", default="full")
    args = ap.parse_args()
    set_threads()
    train, test = load_dataset(args.dataset)
    epochs = EPOCHS[args.dataset] if args.strategy == "full" else 5
    clf = HeadstartClassifier(strategy=args.strategy, epochs=epochs, max_length=64, batch_size=32, seed=args.seed,
                              ema=args.ema, progress=False)
    raw: dict[int, dict] = {}  # epoch (1-based) -> the raw trained weights at its end

    def keep_raw(epoch: int, row: dict) -> None:
        raw[epoch + 1] = {k: v.detach().clone() for k, v in clf.model_.named_parameters() if v.requires_grad}

    # the probe's only hook into training: fit() with an on_epoch_end callback that copies the raw weights
    headstart.api.fit = functools.partial(headstart.api.fit, on_epoch_end=keep_raw)
    t0 = time.perf_counter()
    clf.fit(train)
    seconds = time.perf_counter() - t0
    metric, history = clf.metric_, clf.fit_result_.history
    texts = test.text.tolist()
    y = clf.encode_labels(Split(texts, test.label.astype(str).tolist()))
    dev = load_task(train, dev_fraction=0.1, seed=args.seed).dev  # the split fit() held out
    dev_y = clf.encode_labels(dev)

    def scores(state: dict | None) -> dict:
        if state is not None:
            clf.model_.load_state_dict(state, strict=False)
        p = clf.predict_proba(dev.texts)
        return {f"dev_{metric}": classification_metrics(dev_y, p, list(range(p.shape[1])))[metric],
                "dev_accuracy": float((p.argmax(1) == dev_y).mean()),
                "test_accuracy": float((clf.predict_proba(texts).argmax(1) == y).mean())}

    ema_row = {"weights": f"ema {args.ema}", "epoch": clf.fit_result_.best_epoch, **scores(None)}
    trained = [r for r in history if f"dev_{metric}_raw" in r]
    best = max(trained, key=lambda r: r[f"dev_{metric}_raw"])  # max() keeps the first of equals, as early stopping
    raw_row = {"weights": "raw", "epoch": best["epoch"], **scores(raw[best["epoch"]])}
    tails = []
    for k in range(2, len(raw) + 1):  # uniform averages of the last k epochs' raw weights (SWA over epoch ends)
        last = sorted(raw)[-k:]
        swa = {name: torch.stack([raw[e][name] for e in last]).mean(0) for name in raw[last[0]]}
        tails.append({"weights": "mean of epochs " + "+".join(map(str, last)), "epoch": None, **scores(swa)})
    rows = [raw_row, ema_row, *tails]
    for r in rows:
        print(f"{r['weights']:28s} epoch {r['epoch']}  dev {metric} {r[f'dev_{metric}']:.4f}  "
              f"dev acc {r['dev_accuracy']:.4f}  test acc {r['test_accuracy']:.4f}")
    out = Path(__file__).parent / "results" / "sweeps" / f"{args.dataset}-ema.json"
    saved = json.loads(out.read_text()) if out.exists() else {}
    key = (args.strategy, args.seed, args.ema)
    kept = [r for r in saved.get("runs", []) if (r["strategy"], r["seed"], r["ema"]) != key]
    record = {"strategy": args.strategy, "seed": args.seed, "ema": args.ema, "epochs": epochs, "metric": metric,
              "machine": machine(), "date": dt.date.today().isoformat(), "train_seconds": round(seconds, 1),
              "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "history": history, "rows": rows}
    runs = sorted([*kept, record], key=lambda r: (r["strategy"], r["ema"], r["seed"]))
    out.write_text(json.dumps({"dataset": args.dataset, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
