"""Two data-parallel CPU processes (torchrun, gloo) against one process at the same global batch, and one
process at another seed for scale: the largest per-epoch difference in dev loss. A tiny config-built BERT on
160 synthetic 3-class rows (tests/conftest.py), `full`, `lora` and `top-n`, lr 1e-3, 3 epochs, no refit.

    python benchmarks/data_parallel.py

Writes results/data_parallel.json (machine, date, command); docs/scaling.md quotes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from common import RESULTS, machine  # noqa: E402
from conftest import build_tokenizer, make_sentiment, save_tiny  # noqa: E402


def _losses(tmp: Path, args: list[str], processes: int) -> list[float]:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
                if processes > 1 else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([*launcher, "-m", "headstart", "train", *args, "--quiet"], check=True, env=env, cwd=tmp,
                   capture_output=True)
    out = tmp / args[args.index("--out") + 1]
    return [row["dev_loss"] for row in json.loads((out / "history.json").read_text())]


def main() -> None:
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bert = save_tiny(tmp / "bert", "bert", build_tokenizer())
        texts, labels = make_sentiment(160, classes=3)
        pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp / "train.csv", index=False)
        for strategy in ("full", "lora", "top-n"):
            common = [str(tmp / "train.csv"), "--backbone", str(bert), "--strategy", strategy, "--epochs", "3",
                      "--max-length", "16", "--no-refit", "--lr", "1e-3"]
            two = _losses(tmp, [*common, "--out", f"{strategy}-two", "--batch-size", "8"], 2)
            one = _losses(tmp, [*common, "--out", f"{strategy}-one", "--batch-size", "16"], 1)
            seed1 = _losses(tmp, [*common, "--out", f"{strategy}-seed1", "--batch-size", "16", "--seed", "1"], 1)
            rows.append({"method": strategy, "by": "headstart", "strategy": strategy, "two_processes_vs_one": round(max(abs(a - b) for a, b in zip(two, one, strict=True)), 4),
                         "seed1_vs_seed0": round(max(abs(a - b) for a, b in zip(seed1, one, strict=True)), 4),
                         "dev_loss_two": two, "dev_loss_one": one})
            print(rows[-1])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "data_parallel.json").write_text(json.dumps(
        {"dataset": "data_parallel", "runs": rows, "machine": machine(),
         "date": dt.date.today().isoformat(), "command": "python benchmarks/data_parallel.py"}, indent=2) + "\n")


if __name__ == "__main__":
    main()
