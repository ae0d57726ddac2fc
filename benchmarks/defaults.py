"""Defaults fitted across data sets, not on one: every gradient strategy at its default beside the plain
`Trainer` at its default and at its best learning rate, on every calibration set, three seeds, scored on
the sets' dev rows (benchmarks/calibration.py), never on a test split.

    python benchmarks/defaults.py run --plan peers                 # the Trainer rows (lr 5e-5, 1e-4, 2e-4)
    python benchmarks/defaults.py run --plan defaults              # full, top-n, lora at their defaults
    python benchmarks/defaults.py run --only "full lr2e-4" --seeds 0  # one candidate setting
    python benchmarks/defaults.py report                           # results/defaults.json + the gaps

Each run is a child process (run_trainer.py / run_headstart.py with `--split dev`) whose JSON row is
appended to results/defaults/runs.jsonl with its data set, setting, seed, machine and date; a rerun skips
the (set, setting, seed) triples already there, so an interrupted sweep resumes where it stopped. Runs
made with HEADSTART_BENCH_THREADS=1 beside other work are valid for scores only: no timing of them is
reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from calibration import SETS
from common import HERE, RESULTS, machine, run_child

RUNS = Path(os.environ.get("HEADSTART_DEFAULTS_RUNS", RESULTS / "defaults" / "runs.jsonl"))
MAX_LENGTH = 128  # headstart's default: what a new user runs (and the peer gets the same)

# setting label -> (script, arguments after the data set). Peers first: they do not depend on headstart.
PEERS = {f"trainer lr{lr}": ("run_trainer.py", ["--lr", lr]) for lr in ("5e-5", "1e-4", "2e-4", "5e-4")}
TRAINER_DEFAULT = "trainer lr5e-5"
DEFAULTS = {name: ("run_headstart.py", [name]) for name in ("full", "top-n", "lora")}
# candidate defaults, tried on dev across the sets; labels name what differs from the defaults


def _variant(strategy: str, **sets) -> tuple[str, list[str]]:
    return "run_headstart.py", [strategy, *[a for k, v in sets.items() for a in ("--set", f"{k}={json.dumps(v)}")]]


CANDIDATES: dict[str, tuple[str, list[str]]] = {
    **{f"{s} norefit": _variant(s, refit=False) for s in ("full", "lora")},
    "full e3 decay1.6 cap": _variant("full", epochs=3, lr_decay=1.6, lower_lr_cap=1e-4),  # the defaults before 727253d
    "full e5": _variant("full", epochs=5),
    # "full e5 nocap" (epochs 5, lower_lr_cap 1.0, lr_decay 1.3) became the full defaults in 727253d: its rows
    # are labelled "full" (each with a note saying so)
    "full e5 emb": _variant("full", epochs=5, train_embeddings=True),
    "full e5 flat": _variant("full", epochs=5, lr=2e-4, lr_decay=1.0, lower_lr_cap=1.0),  # the Trainer's rates
    "full lr3e-4": _variant("full", lr=3e-4),
    "full e8": _variant("full", epochs=8),
    # top-n's defaults before 2026-12-04, and with full's recipe (flatter rates, no cap, averaging) and more
    # blocks; "top-n n4 decay1.3 avg2" became the defaults then (its rows are labelled "top-n", with a note)
    "top-n n2 e8 decay2.6 cap": _variant("top-n", top_n=2, epochs=8, lr_decay=2.6, lower_lr_cap=1e-4, average_epochs=1),
    "top-n n2 e8 decay2.6 cap norefit": _variant("top-n", top_n=2, epochs=8, lr_decay=2.6, lower_lr_cap=1e-4,
                                                 average_epochs=1, refit=False),
    "top-n n2 decay1.3": _variant("top-n", top_n=2, epochs=8, lr_decay=1.3, lower_lr_cap=1.0),
    "top-n n3 decay1.3 avg2": _variant("top-n", top_n=3, epochs=5, lr_decay=1.3, lower_lr_cap=1.0, average_epochs=2),
    "top-n n4 decay1.3 avg2": _variant("top-n", top_n=4, epochs=5, lr_decay=1.3, lower_lr_cap=1.0, average_epochs=2),
    "top-n norefit": _variant("top-n", refit=False),
    "lora e10": _variant("lora", epochs=10),
    "lora e10 avg2": _variant("lora", epochs=10, average_epochs=2),
    "lora r16 lr1e-3 e10": _variant("lora", rank=16, lr=1e-3, epochs=10),
    # the defaults before 2026-12-08: early stopping after 2 epochs without a better dev score (patience 0, every
    # epoch runs, became the default of all three then; where a patience-2 fit ran its whole schedule its row is
    # a labelled copy of the default's: the same computation)
    **{f"{s} patience2": _variant(s, patience=2) for s in ("full", "top-n", "lora")},
}
SETTINGS = {**PEERS, **DEFAULTS, **CANDIDATES}
PLANS = {"peers": list(PEERS), "defaults": list(DEFAULTS), "all": list(SETTINGS)}


def done() -> set[tuple[str, str, int]]:
    if not RUNS.exists():
        return set()
    rows = [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()]
    return {(r["dataset"], r["setting"], r["seed"]) for r in rows}


def run(sets: list[str], settings: list[str], seeds: list[int], jobs: int = 1, stop_after: float | None = None) -> None:
    """Seed-major order (every set at seed 0 first), so a sweep cut short still covers every set.

    jobs > 1 runs that many children at once (a machine with cores and a GPU to spare: scores only, no
    timing is reported from such runs); stop_after: no child starts after that many seconds."""
    finished = done()
    RUNS.parent.mkdir(parents=True, exist_ok=True)
    todo = [(name, setting, seed) for seed in seeds for setting in settings for name in sets
            if (name, setting, seed) not in finished
            and not (SETTINGS[setting][0] == "run_headstart.py" and SETS[name].pair and not _pairs_supported())]
    deadline = None if stop_after is None else time.monotonic() + stop_after
    lock = threading.Lock()

    def one(job: tuple[str, str, int]) -> None:
        name, setting, seed = job
        if deadline is not None and time.monotonic() > deadline:
            return
        script, extra = SETTINGS[setting]
        args = [name, *extra, "--split", "dev", "--seed", str(seed), "--max-length", str(MAX_LENGTH)]
        log = HERE / "logs" / "defaults" / f"{name}-{setting.replace(' ', '_')}-s{seed}.log"
        print(f"[{name}] {setting} seed {seed} ...", file=sys.stderr, flush=True)
        try:
            row = run_child(script, args, log)
        except RuntimeError as exc:
            print(f"  failed: {exc}", file=sys.stderr, flush=True)
            return
        spec = SETS[name]
        row.update(dataset=name, setting=setting, seed=seed, metric=spec.metric, score=row[spec.metric],
                   machine=machine(), date=dt.date.today().isoformat(),
                   threads=int(os.environ.get("HEADSTART_BENCH_THREADS", "2")), jobs=jobs,
                   command=f"python benchmarks/{script} {' '.join(args)}")
        with lock, RUNS.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"  [{name}] {setting} seed {seed}: {spec.metric} {row['score']:.4f}", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, todo))


def _pairs_supported() -> bool:
    try:
        from headstart.tasks.registry import TASKS  # noqa: F401  (the pairs task lives there once built)
    except ImportError:
        return False
    return "pairs" in TASKS


def rows() -> list[dict]:
    return [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()] if RUNS.exists() else []


def seed_scores(all_rows: list[dict]) -> dict[tuple[str, str], dict[int, dict]]:
    """(set, setting) -> {seed: its row} (a rerun of a seed replaces it)."""
    out: dict[tuple[str, str], dict[int, dict]] = {}
    for r in all_rows:
        out.setdefault((r["dataset"], r["setting"]), {})[r["seed"]] = r
    return out


def _mean(runs: dict[int, dict], seeds: set[int]) -> float | None:
    """The mean score over the given seeds of a setting (None when it has none of them)."""
    shared = [runs[s]["score"] for s in sorted(seeds) if s in runs]
    return statistics.mean(shared) if shared else None


def report() -> list[dict]:
    """One row per (set, headstart setting): its mean score beside the Trainer's, at its default and at its best
    rate, each averaged over the same seeds as the setting (where the Trainer has them), so that a gap never
    compares three seeds with one."""
    by = seed_scores(rows())
    out = []
    for name in SETS:
        for setting in [*DEFAULTS, *CANDIDATES]:
            mine = by.get((name, setting))
            if not mine:
                continue
            seeds = set(mine)
            peer = _mean(by.get((name, TRAINER_DEFAULT), {}), seeds)
            rates = [(m, p) for p in PEERS if (m := _mean(by.get((name, p), {}), seeds)) is not None]
            best = max(rates) if rates else None
            out.append({"dataset": name, "method": setting, "by": "headstart", "strategy": setting,
                        "score": round(statistics.mean(r["score"] for r in mine.values()), 4),
                        "trainer_score": round(peer, 4) if peer is not None else None,
                        "trainer_best_score": round(best[0], 4) if best else None,
                        "trainer_best_lr": best[1].split("lr")[-1] if best else None,
                        "metric": SETS[name].metric, "seeds": len(seeds), "seed_list": sorted(seeds),
                        "trainer_seeds": sorted(seeds & set(by.get((name, TRAINER_DEFAULT), {}))),
                        "machine": "; ".join(sorted({r["machine"] for r in mine.values()})),
                        "date": max(r["date"] for r in mine.values())})
    (RESULTS / "defaults.json").write_text(json.dumps(
        {"dataset": "calibration sets", "kind": "cross-set", "runs": out, "leave_one_out": leave_one_out(out),
         "command": "python benchmarks/defaults.py report", "machine": "; ".join(sorted({r["machine"] for r in rows()})),
         "date": dt.date.today().isoformat()}, indent=2) + "\n")
    return out


def leave_one_out(report_rows: list[dict]) -> list[dict]:
    """Per strategy and held-out set: the setting of that strategy with the best worst-case gap to the default
    Trainer on the other sets (among the settings measured on every set), and how it does on the one left
    out. A rule that only fits the sets it was chosen on shows here."""
    gaps: dict[str, dict[str, tuple[float, float | None]]] = {}
    for r in report_rows:
        if r["trainer_score"] is not None:
            best = None if r["trainer_best_score"] is None else r["score"] - r["trainer_best_score"]
            gaps.setdefault(r["strategy"], {})[r["dataset"]] = (r["score"] - r["trainer_score"], best)
    sets = sorted({r["dataset"] for r in report_rows if r["trainer_score"] is not None})
    out = []
    for family in DEFAULTS:
        pool = {k: v for k, v in gaps.items() if k.split(" ")[0] == family and set(v) == set(sets)}
        for held in sets if pool else ():
            chosen = max(pool, key=lambda k: min(g for name, (g, _) in pool[k].items() if name != held))
            gap, best_gap = pool[chosen][held]
            out.append({"strategy": family, "held_out": held, "chosen": chosen, "gap": round(gap, 4),
                        "gap_to_best_rate": None if best_gap is None else round(best_gap, 4),
                        "candidates": sorted(pool)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--sets", default=",".join(SETS))
    r.add_argument("--plan", default="all", choices=sorted(PLANS))
    r.add_argument("--only", default=None, help="comma-separated setting labels (instead of --plan)")
    r.add_argument("--seeds", default="0,1,2")
    r.add_argument("--jobs", type=int, default=1, help="children at once (scores only: no timing is reported)")
    r.add_argument("--stop-after", type=float, default=None, help="start no child after this many seconds")
    sub.add_parser("report")
    args = ap.parse_args()
    if args.command == "run":
        settings = args.only.split(",") if args.only else PLANS[args.plan]
        unknown = [s for s in settings if s not in SETTINGS]
        if unknown:
            ap.error(f"unknown setting(s) {unknown}; known: {list(SETTINGS)}")
        run(args.sets.split(","), settings, [int(s) for s in args.seeds.split(",")], args.jobs, args.stop_after)
    else:
        for row in report():
            gap = None if row["trainer_score"] is None else 100 * (row["score"] - row["trainer_score"])
            print(f"{row['dataset']:>14} {row['strategy']:>16} {row['score']:.4f}  trainer "
                  f"{row['trainer_score']}  best {row['trainer_best_score']} ({row['trainer_best_lr']})  "
                  f"gap {gap:+.1f}" if gap is not None else "")


if __name__ == "__main__":
    main()
