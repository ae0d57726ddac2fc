"""The long fuzzing profile: every reader of tests/test_fuzz.py with --cases mutated files each (10,000 by
default; the default suite runs 300), then the figures into benchmarks/results/reliability/fuzz.json.

    python benchmarks/fuzz.py --cases 10000
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "benchmarks"))
OUT = HERE.parent / "benchmarks" / "results" / "reliability" / "fuzz.json"


def _fuzz(name, read, seed: bytes, suffix: str, tf, given, HeadstartError) -> dict:
    counts: collections.Counter = collections.Counter()
    failures: list[str] = []
    t0 = time.perf_counter()

    @tf.FUZZ
    @given(tf.mutated(seed))
    def case(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"fuzzed{suffix}"
            path.write_bytes(data)
            try:
                read(path)
                counts["loaded"] += 1
            except HeadstartError as exc:
                counts["refused"] += 1
                if "fuzzed" not in str(exc):
                    failures.append(f"error without the file name: {exc}"[:300])
            except Exception as exc:  # noqa: BLE001 - what the fuzzing is looking for
                counts["crashed"] += 1
                failures.append(f"{type(exc).__name__}: {exc}"[:300])

    case()
    return {"reader": name, "cases": sum(counts.values()), **counts, "failures": len(failures),
            "examples": failures[:5], "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    args = ap.parse_args()
    os.environ["FUZZ_CASES"] = str(args.cases)
    from hypothesis import given

    import test_fuzz as tf
    from common import machine
    from headstart.errors import HeadstartError

    rows = []
    for name, (read, seed, suffix) in tf.READERS.items():
        rows.append(_fuzz(name, read, tf.SEEDS[seed], suffix, tf, given, HeadstartError))
        print(rows[-1], flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"dataset": "reliability", "runs": rows, "machine": machine(), "date": dt.date.today().isoformat(),
                               "command": f"python benchmarks/fuzz.py --cases {args.cases}"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
