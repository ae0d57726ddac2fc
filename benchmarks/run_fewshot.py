"""headstart's FewShotClassifier on k examples per class of one data set, in its own process; prints a JSON row.

    python benchmarks/run_fewshot.py sst2 --shots 8 --seed 0
    python benchmarks/run_fewshot.py sst2 --shots 8 --epochs 1 --limit 50     # smoke test only, never results
"""

from __future__ import annotations

import json
import time

from common import set_threads
from fewshot_data import parse_args, row, shots
from headstart.fewshot import FewShotClassifier


def main() -> None:
    args = parse_args(__doc__)
    set_threads()
    train, test = shots(args.dataset, args.shots, args.seed, args.limit)
    t0 = time.perf_counter()
    clf = FewShotClassifier("minilm", epochs=args.epochs, pairs_per_example=args.pairs_per_example,
                            batch_size=args.batch_size, max_length=args.max_length, seed=args.seed).fit(train)
    seconds = time.perf_counter() - t0
    metrics = clf.evaluate(test)
    from headstart.evaluation import classification_metrics

    if len(clf.classes_) == 2:  # AUC as in the other tables
        proba = clf.predict_proba(test.text.tolist())
        metrics["auc"] = classification_metrics(clf._encode(test.label.tolist()), proba, list(clf.classes_))["auc"]
    extra = {"best_epoch": clf.best_epoch_, "epochs_run": len(clf.history_) - 1, "lr": clf.lr,
             "dev": "20% of the k-shot rows, stratified (early stopping), then every row for the head"}
    print(json.dumps(row(args, "headstart", metrics, seconds, clf.n_pairs_, len(train), extra)))


if __name__ == "__main__":
    main()
