"""Few-shot classification: headstart's FewShotClassifier against the SetFit library, same encoder (the
packaged MiniLM), same k-shot draws, same pair budget and epochs, in one invocation.

    python benchmarks/bench_fewshot.py                                  # the full plan (see below)
    python benchmarks/bench_fewshot.py --datasets sst2 --shots 8,64 --seeds 5
    python benchmarks/bench_fewshot.py --datasets banking77 --shots 8 --seeds 3 --pairs-per-example 4
    python benchmarks/bench_fewshot.py --datasets sst2 --shots 8 --seeds 1 --epochs 1 --limit 50  # smoke
    python benchmarks/bench_fewshot.py --datasets banking77 --shots 64 --epochs 1 --parallel 10   # on a GPU

For every data set, k (examples per class) and seed, k rows per class are drawn from the training split
with that seed; headstart (`few-shot-<k>`, "by": "headstart") and SetFit ("by": "setfit") then each train
in their own process, one after the other (never two trainings at once on 2 cores), and are scored on the
whole test set (SST-2: the GLUE dev set). Rows go to benchmarks/results/<dataset>.json as each finishes;
the mean and spread per (method, by) go under its `few_shot` key, then docs/benchmarks.md is regenerated.
`--limit N` (first N test rows) is for smoke tests: such runs are printed, never saved.
`--parallel N` (for a GPU machine with many cores, where one small-batch training leaves the GPU mostly
idle) runs N trainings at once, every seed of both tools side by side; each row then records `concurrent: N`
in its config, since its seconds were measured with N jobs sharing the machine. Only this process writes
the results file.

Budget: `--epochs` x `--pairs-per-example` pairs per example (default 4 x 10 = 40, SetFit's default of 20
iterations); headstart trains on 80% of the rows (20% choose the epoch), SetFit on all of them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from common import HERE, RESULTS, run_child, save_row

RUNNERS = {"headstart": "run_fewshot.py", "setfit": "run_setfit.py"}


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="sst2,banking77", help="comma-separated: sst2, banking77")
    ap.add_argument("--shots", default="8,64", help="comma-separated examples per class")
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1")
    ap.add_argument("--only", default="headstart,setfit", help="comma-separated: headstart, setfit")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--pairs-per-example", type=int, default=10, help="pairs per example and epoch (even)")
    ap.add_argument("--limit", type=int, default=None, help="smoke test: first N test rows; nothing is saved")
    ap.add_argument("--parallel", type=int, default=1, help="trainings at once (a GPU machine); default 1")
    args = ap.parse_args()
    args.datasets, args.only = args.datasets.split(","), args.only.split(",")
    args.shots = [int(k) for k in args.shots.split(",")]
    bad = [d for d in args.datasets if d not in ("sst2", "banking77")] + [m for m in args.only if m not in RUNNERS]
    if bad:
        ap.error(f"unknown data set(s) or method(s): {', '.join(bad)}")
    return args


def summarise(dataset: str) -> dict:
    """Mean, standard deviation, min and max over seeds of every few-shot (method, by) in the results file."""
    path = RESULTS / f"{dataset}.json"
    data = json.loads(path.read_text())
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in data["runs"]:
        if r["method"].startswith("few-shot-") and not r["method"].startswith("few-shot-lm"):  # not in-context
            groups.setdefault((r["method"], r["by"]), []).append(r)
    summary = {}
    for (method, by), rows in sorted(groups.items()):
        stats = {"seeds": sorted(r["seed"] for r in rows),
                 "machine": "; ".join(sorted({r.get("machine", data["machine"]) for r in rows}))}
        for key in ("accuracy", "macro_f1", "train_seconds"):
            values = [r[key] for r in rows]
            stats[key] = {"mean": round(statistics.fmean(values), 4),
                          "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
                          "min": min(values), "max": max(values)}
        summary[f"{method} {by}"] = stats
    data["few_shot"] = summary
    path.write_text(json.dumps(data, indent=2) + "\n")
    return summary


def run_one(dataset: str, k: int, seed: int, by: str, args: argparse.Namespace) -> dict:
    """One training of one tool in its own process (run_child); its row, marked when it shared the machine."""
    child = [dataset, "--shots", str(k), "--seed", str(seed), "--epochs", str(args.epochs),
             "--pairs-per-example", str(args.pairs_per_example)]
    if args.limit is not None:
        child += ["--limit", str(args.limit)]
    log = HERE / "logs" / f"{dataset}-few-shot-{k}-{by}-{seed}.log"
    row = run_child(RUNNERS[by], child, log)
    if args.parallel > 1:
        row["config"]["concurrent"] = args.parallel
    return row


def main() -> None:
    args = parse_args()
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    started = dt.datetime.now().isoformat(timespec="seconds")
    for dataset in args.datasets:
        jobs = [(k, seed, by) for k in args.shots for seed in range(args.seeds) for by in args.only]
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:  # threads only wait on child processes
            futures = {pool.submit(run_one, dataset, k, seed, by, args): (k, seed, by) for k, seed, by in jobs}
            for future in as_completed(futures):  # saved as each ends, by this thread alone
                k, seed, by = futures[future]
                try:
                    row = future.result()
                except RuntimeError as err:  # one failed training: say so, keep the others' rows
                    print(f"[{dataset}] few-shot-{k} {by} seed {seed}: {err}", file=sys.stderr, flush=True)
                    continue
                row["invocation"] = started
                print(f"[{dataset}] few-shot-{k} {by} seed {seed}: accuracy {row['accuracy']:.4f} macro-F1 "
                      f"{row['macro_f1']:.4f} train {row['train_seconds']} s peak {row['peak_rss_mb']} MB",
                      file=sys.stderr, flush=True)
                if args.limit is None:
                    save_row(dataset, row, command)
        if args.limit is None:
            print(json.dumps(summarise(dataset), indent=2), file=sys.stderr)
    if args.limit is None:
        from make_docs import write_docs

        write_docs()

if __name__ == "__main__":
    main()
