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
    lines = ["| setting | seeds | dev accuracy | test accuracy (mean ± sd) | min | max |", "|---|---|---|---|---|---|"]
    for label, rows in runs.items():
        test = [r["test_accuracy"] for r in rows]
        dev = statistics.mean(r["dev_accuracy"] for r in rows)
        sd = statistics.stdev(test) if len(test) > 1 else 0.0
        lines.append(f"| {label} | {len(rows)} | {dev:.4f} | {statistics.mean(test):.4f} ± {sd:.4f} "
                     f"| {min(test):.4f} | {max(test):.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(f"{p}\n\n{table(p)}\n")
