"""Training throughput and peak memory of `full`, `top-n` and `lora` against their peers at their best
settings, in one run, alternating sides (issue: speed and memory).

    python benchmarks/speed.py [--rounds 2] [--rows 2000] [--only full,top-n,lora]

Each side is a fresh process (benchmarks/run_headstart.py, run_trainer.py, run_peft_trainer.py) on SST-2's
first ROWS training rows, 1 epoch, batch 32, max length 64, the packaged MiniLM, one torch thread, model
loading included on both sides; a round runs headstart then the peer, the next round the peer first. The
peers have length bucketing on (`group_by_length`, the Trainer's own), so the ratio is against the peer at
its best, not at its defaults; `top-n`'s peer freezes the same embeddings and lowest two blocks.

Rows go to results/speed.json (startup rows of benchmarks/startup.py kept): `kind` `train-throughput`
(training examples per second, `ratio` = headstart / peer) and `memory` (peak RSS of the process, `ratio` =
peer / headstart), each with the per-round `spread` of the ratio and both sides' test accuracy (SST-2's
872-row test file), so a speed-up is read beside what it scores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
from pathlib import Path

from common import RESULTS, machine, run_child

COMMON = ["--epochs", "1", "--batch-size", "32", "--max-length", "64"]
# method -> (headstart's runner args, the peer's runner and args, the peer's name)
PAIRS = {
    "full": (["full"], ["run_trainer.py", "--group-by-length"], "Trainer, full fine-tuning, group_by_length"),
    "top-n": (["top-n"], ["run_trainer.py", "--group-by-length", "--freeze-below", "2"],
              "Trainer, embeddings + lowest 2 of 6 blocks frozen, group_by_length"),
    "lora": (["lora"], ["run_peft_trainer.py", "--group-by-length"], "peft LoRA + Trainer, group_by_length"),
}


def _pair(method: str, rows: int, rounds: int, logs: Path) -> list[dict]:
    ours_args, (peer_script, *peer_args), peer_name = PAIRS[method]
    limit = ["--limit", str(rows)]
    sides = {"headstart": ("run_headstart.py", ["sst2", *ours_args, *COMMON, *limit]),
             "peer": (peer_script, ["sst2", *peer_args, *COMMON, *limit])}
    got = {"headstart": [], "peer": []}
    for i in range(rounds):
        for side in ("headstart", "peer") if i % 2 == 0 else ("peer", "headstart"):
            script, args = sides[side]
            row = run_child(script, args, logs / f"{method}-{side}-{i}.log")
            got[side].append(row)
            print(f"  [{method}] round {i} {side}: {row['examples_per_second']} ex/s, {row['peak_rss_mb']} MB, "
                  f"accuracy {row['accuracy']:.4f}", flush=True)
    ours, peer = got["headstart"], got["peer"]
    speed = [a["examples_per_second"] / b["examples_per_second"] for a, b in zip(ours, peer, strict=True)]
    memory = [b["peak_rss_mb"] / a["peak_rss_mb"] for a, b in zip(ours, peer, strict=True)]
    med = lambda rs, key: round(statistics.median(r[key] for r in rs), 4)  # noqa: E731
    base = {"method": method, "by": "headstart", "peer_by": peer[0]["by"], "peer_name": peer_name, "rows": rows, "rounds": rounds,
            "accuracy": med(ours, "accuracy"), "peer_accuracy": med(peer, "accuracy"),
            "headstart_config": ours[0]["config"], "peer_config": peer[0]["config"]}
    return [base | {"kind": "train-throughput", "measure": f"`{method}` vs {peer_name}",
                    "headstart": med(ours, "examples_per_second"), "peer": med(peer, "examples_per_second"),
                    "ratio": round(statistics.median(speed), 3), "spread": [round(min(speed), 3), round(max(speed), 3)]},
            base | {"kind": "memory", "measure": f"peak RSS `{method}` vs {peer_name}",
                    "headstart": med(ours, "peak_rss_mb"), "peer": med(peer, "peak_rss_mb"),
                    "ratio": round(statistics.median(memory), 3),
                    "spread": [round(min(memory), 3), round(max(memory), 3)]}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--only", default=",".join(PAIRS))
    ap.add_argument("--note", default=None, help="what else ran on the machine meanwhile (kept in the rows)")
    args = ap.parse_args()
    os.environ.setdefault("HEADSTART_BENCH_THREADS", "1")
    command = f"python benchmarks/speed.py --rounds {args.rounds} --rows {args.rows} --only {args.only}"
    logs = Path(tempfile.mkdtemp(prefix="headstart-speed-"))
    rows = []
    for method in args.only.split(","):
        rows += _pair(method, args.rows, args.rounds, logs)
    stamp = {"machine": machine(), "date": dt.date.today().isoformat(), "command": command,
             "threads": int(os.environ["HEADSTART_BENCH_THREADS"]), "note": args.note}
    rows = [r | stamp for r in rows]
    path = RESULTS / "speed.json"
    data = json.loads(path.read_text()) if path.exists() else {"dataset": "speed", "runs": []}
    done = {(r["kind"], r["method"]) for r in rows}
    data["runs"] = [r for r in data["runs"] if (r.get("kind"), r.get("method")) not in done] + rows
    path.write_text(json.dumps(data, indent=2) + "\n")
    for r in rows:
        print(f"{r['measure']}: {r['headstart']} vs {r['peer']} -> {r['ratio']}x {r['spread']}")


if __name__ == "__main__":
    main()
