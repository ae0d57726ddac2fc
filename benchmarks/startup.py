"""How long the CLI takes to answer before it does any work: `headstart --help`, `headstart train --help`,
`python -c "import headstart"`, beside the ecosystem's own CLI on the same machine (`accelerate --help`,
Hugging Face Accelerate's launcher, which imports torch), alternating sides, in one run.

    python benchmarks/startup.py [--repeats 7]

Rows go to results/speed.json (`kind: startup`): the median wall and CPU seconds of each command over the
repeats (each a fresh process), and the ratio to the peer measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import RESULTS, machine

COMMANDS = {
    "headstart --help": ["headstart", "--help"],
    "headstart train --help": ["headstart", "train", "--help"],
    "import headstart": [sys.executable, "-c", "import headstart"],
}
PEER = ("accelerate --help", ["accelerate", "--help"])


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one fresh run."""
    t0 = time.perf_counter()
    before = os.times()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={**os.environ, "COLUMNS": "100"})
    after = os.times()
    return time.perf_counter() - t0, (after.children_user - before.children_user
                                      + after.children_system - before.children_system)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--note", default=None, help="what else ran on the machine meanwhile (kept in the rows)")
    args = ap.parse_args()
    sides = dict(COMMANDS)
    if shutil.which(PEER[1][0]):
        sides[PEER[0]] = PEER[1]
    for argv in sides.values():  # warm the file cache once per command: every side is then measured warm
        timed(argv)
    samples = {name: [] for name in sides}
    for _ in range(args.repeats):  # alternating: each round runs every command once
        for name, argv in sides.items():
            samples[name].append(timed(argv))
    peer = samples.get(PEER[0])
    peer_wall = statistics.median(w for w, _ in peer) if peer else None
    rows = []
    for name, got in samples.items():
        wall, cpu = statistics.median(w for w, _ in got), statistics.median(c for _, c in got)
        rows.append({"kind": "startup", "method": name, "by": "accelerate" if name == PEER[0] else "headstart",
                     "wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "repeats": args.repeats,
                     "ratio_to_peer": round(wall / peer_wall, 3) if peer_wall else None,
                     "peer": PEER[0] if peer_wall else None, "note": args.note})
        print(f"{name:>24}: {wall:.3f} s wall, {cpu:.3f} s CPU" +
              (f", {wall / peer_wall:.2f}x {PEER[0]}" if peer_wall else ""))
    path = RESULTS / "speed.json"
    data = json.loads(path.read_text()) if path.exists() else {"dataset": "speed", "runs": []}
    data["runs"] = [r for r in data["runs"] if r.get("kind") != "startup"] + rows
    data.update(machine=machine(), date=dt.date.today().isoformat(), command="python benchmarks/startup.py")
    for r in rows:
        r.update(machine=machine(), date=dt.date.today().isoformat(), command="python benchmarks/startup.py")
    path.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
