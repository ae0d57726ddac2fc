"""Pair generation alone, headstart vs SetFit 1.2.0: time and peak memory against the number of rows.

    python benchmarks/bench_pairs.py --rows 500,1000,2000,4000 --classes 77

Banking77-shaped labels (n rows over 77 classes), the budget of bench_fewshot (10 pairs per example and
epoch; SetFit: num_iterations 5). Each measurement runs in its own process (peak RSS is then its own).
SetFit's `ContrastiveDataset` enumerates every combination (`np.triu_indices(n)`, then one dict per
pair) whatever `num_iterations` says, before training starts; headstart's `sample_pairs` draws n * k pairs.
Seconds exclude the imports. Prints one JSON line per (method, rows); nothing is written to results/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def child(method: str, n: int, classes: int) -> None:
    import numpy as np

    labels = np.arange(n) % classes
    if method == "headstart":
        from headstart.fewshot import epoch_rng, sample_pairs
    else:
        sys.path.insert(0, os.environ.get("SETFIT_SITE", "/work/setfit-site"))
        from setfit.sampler import ContrastiveDataset
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the imports' share
    t0 = time.perf_counter()
    if method == "headstart":
        count = len(sample_pairs(labels, 10, epoch_rng(0, 1)))
    else:
        data = ContrastiveDataset([f"text {i}" for i in range(n)], labels.tolist(), multilabel=False,
                                  num_iterations=5)
        count = len(list(iter(data)))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"method": method, "rows": n, "pairs": count, "seconds": round(seconds, 3),
                      "peak_rss_mb": round(peak, 1),
                      "peak_above_imports_mb": round(peak - before, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="500,1000,2000,4000")
    ap.add_argument("--classes", type=int, default=77)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]), args.classes)
    for n in (int(v) for v in args.rows.split(",")):
        for method in ("headstart", "setfit"):
            out = subprocess.run([sys.executable, __file__, "--classes", str(args.classes), "--child", method,
                                  str(n)], capture_output=True, text=True, check=True).stdout
            print(out.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
