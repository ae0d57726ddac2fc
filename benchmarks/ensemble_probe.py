"""Does averaging the candidates that `compare` trains anyway beat the best single one? (an experiment)

    python benchmarks/ensemble_probe.py sst2
    python benchmarks/ensemble_probe.py banking77
    python benchmarks/ensemble_probe.py sst2 --seed 1 --only full,lora,adapter   # another seed, 3 members

Each member strategy trains as in bench_classification.py (packaged MiniLM, max length 64, --seed (default
0) for initialisation, data order and the stratified 10% dev split, which every member shares; `full` 3 epochs on SST-2 and 5 on Banking77, adapters 5). Its dev and test class
probabilities are cached in /tmp/ensemble_probe. The ensemble is chosen by `headstart compare`'s own
rule (headstart.ensemble.select_top_k on the task's primary dev metric: ROC-AUC for SST-2, macro-F1 for
Banking77): members ranked on dev, the top-k average that scores best on dev kept (ties: the smaller k).
Every top-k average is printed with its test accuracy. Rows go to results/sweeps/<dataset>-ensemble.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from common import load_dataset, machine, set_threads
from headstart import HeadstartClassifier
from headstart.data import Split, load_task
from headstart.ensemble import select_top_k
from headstart.evaluation import classification_metrics, primary_metric

# the recorded lora runs used query/value (LoRA's default until 2026-11-26); kept so they reproduce
LORA_TARGETS = "attention"
CACHE = Path("/tmp/ensemble_probe")
MEMBERS = ("features", "top-n", "full", "lora", "adapter")
FULL_EPOCHS = {"sst2": 3, "banking77": 5}


def member(dataset: str, strategy: str, train, test, seed: int) -> dict:
    path = CACHE / f"{dataset}-{strategy}{'' if seed == 0 else f'-seed{seed}'}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=True)
        return {k: z[k] for k in z.files}
    epochs = FULL_EPOCHS[dataset] if strategy == "full" else (None if strategy == "features" else 5)
    clf = HeadstartClassifier(target_modules=LORA_TARGETS if strategy == "lora" else None,
                              strategy=strategy, epochs=epochs, max_length=64, batch_size=32, seed=seed,
                              progress=False)
    t0 = time.perf_counter()
    clf.fit(train)
    seconds = time.perf_counter() - t0
    task = load_task(train, dev_fraction=0.1, seed=seed)  # the split fit() held out
    held_out = clf.heldout_dev_proba_  # features refits on dev: its dev scores come from before that
    out = {"dev_proba": clf.predict_proba(task.dev.texts) if held_out is None else held_out,
           "test_proba": clf.predict_proba(test.text.tolist()), "dev_y": clf.encode_labels(task.dev),
           "test_y": clf.encode_labels(Split(test.text.tolist(), test.label.astype(str).tolist())),
           "seconds": np.array(seconds)}
    CACHE.mkdir(exist_ok=True)
    np.savez(path, **out)
    return out


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float((p.argmax(1) == y).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=sorted(FULL_EPOCHS))
    ap.add_argument("--seed", type=int, default=0, help="seeds the dev split, initialisation and data order")
    ap.add_argument("--only", default=",".join(MEMBERS), help="members to train (default: all five)")
    args = ap.parse_args()
    set_threads()
    train, test = load_dataset(args.dataset)
    names = args.only.split(",")
    runs = {s: member(args.dataset, s, train, test, args.seed) for s in names}
    dev_y, test_y = runs[names[0]]["dev_y"], runs[names[0]]["test_y"]
    n_labels = runs[names[0]]["dev_proba"].shape[1]
    metric = primary_metric(n_labels, False)  # what compare ranks on: ROC-AUC for two classes, else macro-F1
    labels = [str(i) for i in range(n_labels)]
    score = lambda p: classification_metrics(dev_y, p, labels)[metric]  # noqa: E731
    members, by_k = select_top_k({s: runs[s]["dev_proba"] for s in names}, score)  # compare's own rule
    ranked = sorted(names, key=lambda s: -score(runs[s]["dev_proba"]))

    def row(names: list[str], what: str) -> dict:
        p = {split: np.mean([runs[s][f"{split}_proba"] for s in names], 0) for split in ("dev", "test")}
        return {"ensemble": what, f"dev_{metric}": score(p["dev"]), "dev_accuracy": accuracy(p["dev"], dev_y),
                "test_accuracy": accuracy(p["test"], test_y),
                "train_seconds": round(sum(float(runs[s]["seconds"]) for s in names), 1)}

    rows = [row([s], s) for s in ranked]
    rows += [row(ranked[:k], f"top-{k} by dev: " + "+".join(ranked[:k])) for k in range(2, len(ranked) + 1)]
    for r in rows:
        print(f"{r['ensemble']:50s} dev {metric} {r[f'dev_{metric}']:.4f} dev acc {r['dev_accuracy']:.4f} "
              f"test acc {r['test_accuracy']:.4f}  {r['train_seconds']} s")
    print(f"compare's choice: {'+'.join(members)} (k = {len(members)})")
    out = Path(__file__).parent / "results" / "sweeps" / f"{args.dataset}-ensemble.json"
    saved = json.loads(out.read_text()) if out.exists() else {}
    kept = [r for r in saved.get("runs", []) if r.get("seed") != args.seed]
    record = {"seed": args.seed, "machine": machine(), "date": dt.date.today().isoformat(),
              "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "metric": metric,
              "chosen": members, "dev_by_k": by_k, "rows": rows}
    out.write_text(json.dumps({"dataset": args.dataset, "runs": sorted([*kept, record], key=lambda r: r["seed"])},
                              indent=1) + "\n")


if __name__ == "__main__":
    main()
