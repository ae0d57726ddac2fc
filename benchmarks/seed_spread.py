"""Mean and spread over seeds of a multi-seed sweep (`benchmarks/gpu_seeds.sh`), as a Markdown table.

    python benchmarks/seed_spread.py benchmarks/results/sweeps/sst2-seeds.jsonl

Settings are compared on dev accuracy (the 10% of training rows early stopping sees); test accuracy is
beside it to show where the floors of issue 2 stand against the seed-to-seed spread.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


def table(path: str) -> str:
    runs = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            runs[row["label"]].append(row)
    # rows written since sweep.py records it: the dev metric of the weights kept (after checkpoint averaging),
    # the number the settings are chosen on
    every = [r for rows in runs.values() for r in rows]
    metric = every[0]["dev_metric"] if every else ""
    kept = f"kept_dev_{metric}" if every and all(f"kept_dev_{metric}" in r for r in every) else ""
    head = "| setting | seeds | dev accuracy | " + (f"dev {metric}, kept weights (per seed) | " if kept else "")
    lines = [head + "test accuracy (mean ± sd) | min | max |", "|---" * (6 + bool(kept)) + "|"]
    for label, rows in runs.items():
        test = [r["test_accuracy"] for r in rows]
        dev = statistics.mean(r["dev_accuracy"] for r in rows)
        sd = statistics.stdev(test) if len(test) > 1 else 0.0
        per_seed = ""
        if kept:
            values = [r[kept] for r in sorted(rows, key=lambda r: r["seed"])]
            per_seed = f"{statistics.mean(values):.4f} ({', '.join(f'{v:.4f}' for v in values)}) | "
        lines.append(f"| {label} | {len(rows)} | {dev:.4f} | {per_seed}{statistics.mean(test):.4f} ± {sd:.4f} "
                     f"| {min(test):.4f} | {max(test):.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(f"{p}\n\n{table(p)}\n")
