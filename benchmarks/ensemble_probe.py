"""Does averaging the candidates that `compare` trains anyway beat the best single one? (an experiment)

    python benchmarks/ensemble_probe.py sst2
    python benchmarks/ensemble_probe.py banking77

Each member strategy trains as in bench_classification.py (packaged MiniLM, max length 64, seed 0, the same
stratified 10% dev split; `full` 3 epochs on SST-2 and 5 on Banking77, adapters 5). Its dev and test class
probabilities are cached in /tmp/ensemble_probe. The ensemble rule is fixed before looking at test:
members ranked by dev accuracy; k (1..len) chosen by dev accuracy of the equal-weight average of the top k
(ties: the smaller k). Greedy forward selection (Caruana et al. 2004, with replacement, on dev log-loss)
is printed beside it. Test accuracy is read once, for the chosen ensembles. Rows go to
results/sweeps/<dataset>-ensemble.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np

from common import load_dataset, machine, set_threads
from headstart import HeadstartClassifier
from headstart.data import load_task

CACHE = Path("/tmp/ensemble_probe")
MEMBERS = ("features", "top-n", "full", "lora", "adapter")
FULL_EPOCHS = {"sst2": 3, "banking77": 5}


def member(dataset: str, strategy: str, train, test) -> dict:
    path = CACHE / f"{dataset}-{strategy}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=True)
        return {k: z[k] for k in z.files}
    epochs = FULL_EPOCHS[dataset] if strategy == "full" else (None if strategy == "features" else 5)
    clf = HeadstartClassifier(strategy=strategy, epochs=epochs, max_length=64, batch_size=32, seed=0,
                              progress=False)
    t0 = time.perf_counter()
    clf.fit(train)
    seconds = time.perf_counter() - t0
    task = load_task(train, dev_fraction=0.1, seed=0)  # the split fit() held out
    out = {"dev_proba": clf.predict_proba(task.dev.texts), "test_proba": clf.predict_proba(test.text.tolist()),
           "dev_y": np.array([clf.labels_.index(y) for y in task.dev.labels]),
           "test_y": np.array([clf.labels_.index(str(y)) for y in test.label]), "seconds": np.array(seconds)}
    CACHE.mkdir(exist_ok=True)
    np.savez(path, **out)
    return out


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float((p.argmax(1) == y).mean())


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)).mean())


def greedy(members: dict, y: np.ndarray, rounds: int = 10) -> list[str]:
    """Caruana's forward selection with replacement, on dev log-loss."""
    chosen: list[str] = []
    for _ in range(rounds):
        best = min(members, key=lambda m: log_loss(np.mean([members[c] for c in [*chosen, m]], 0), y))
        chosen.append(best)
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=sorted(FULL_EPOCHS))
    args = ap.parse_args()
    set_threads()
    train, test = load_dataset(args.dataset)
    runs = {s: member(args.dataset, s, train, test) for s in MEMBERS}
    dev_y, test_y = runs["full"]["dev_y"], runs["full"]["test_y"]
    ranked = sorted(MEMBERS, key=lambda s: -accuracy(runs[s]["dev_proba"], dev_y))
    rows = []
    for s in ranked:
        rows.append({"ensemble": s, "dev_accuracy": accuracy(runs[s]["dev_proba"], dev_y),
                     "test_accuracy": accuracy(runs[s]["test_proba"], test_y),
                     "train_seconds": round(float(runs[s]["seconds"]), 1)})
    best_k, best_dev = 1, -1.0
    for k in range(1, len(ranked) + 1):
        dev_acc = accuracy(np.mean([runs[s]["dev_proba"] for s in ranked[:k]], 0), dev_y)
        test_acc = accuracy(np.mean([runs[s]["test_proba"] for s in ranked[:k]], 0), test_y)
        rows.append({"ensemble": f"top-{k} by dev: " + "+".join(ranked[:k]), "dev_accuracy": dev_acc,
                     "test_accuracy": test_acc,
                     "train_seconds": round(sum(float(runs[s]["seconds"]) for s in ranked[:k]), 1)})
        if dev_acc > best_dev:
            best_k, best_dev = k, dev_acc
    picks = greedy({s: runs[s]["dev_proba"] for s in MEMBERS}, dev_y)
    rows.append({"ensemble": "greedy (dev log-loss): " + "+".join(picks),
                 "dev_accuracy": accuracy(np.mean([runs[s]["dev_proba"] for s in picks], 0), dev_y),
                 "test_accuracy": accuracy(np.mean([runs[s]["test_proba"] for s in picks], 0), test_y),
                 "train_seconds": round(sum(float(runs[s]["seconds"]) for s in set(picks)), 1)})
    for r in rows:
        print(f"{r['ensemble']:60s} dev {r['dev_accuracy']:.4f}  test {r['test_accuracy']:.4f}  {r['train_seconds']} s")
    print(f"rule's choice: top-{best_k}")
    out = Path(__file__).parent / "results" / "sweeps" / f"{args.dataset}-ensemble.json"
    out.write_text(json.dumps({"dataset": args.dataset, "machine": machine(), "date": dt.date.today().isoformat(),
                               "command": f"python benchmarks/ensemble_probe.py {args.dataset}",
                               "chosen_k": best_k, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
