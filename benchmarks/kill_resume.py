"""kill -9 and resume, in a loop: `headstart train` on a tiny BERT is killed with SIGKILL at a random moment
(during an epoch, a checkpoint write, the refit or the final save), then resumed with `--resume` (or
restarted when it died before its first checkpoint), until it finishes; its final weights must equal an
uninterrupted run's bit for bit, and the folder must load whenever the run says it finished.

    python benchmarks/kill_resume.py --loops 20                # classification and NER, 20 loops each
    python benchmarks/kill_resume.py --loops 20 --tasks qa,generation   # extractive QA, instruction tuning
    python benchmarks/kill_resume.py --loops 3 --tasks ner     # a quick look

Writes benchmarks/results/reliability/kill_resume.json (loops, kills, identical, machine, date). The default
test suite has the reduced version: tests/test_training.py and tests/test_refit.py resume after an
interrupt and compare the weights.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "benchmarks" / "results" / "reliability" / "kill_resume.json"


def _data(folder: Path, task: str) -> Path:
    from conftest import make_sentiment

    texts, labels = make_sentiment(160, classes=3)
    if task == "classification":
        path = folder / "train.csv"
        import pandas as pd

        pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
        return path
    if task == "qa":
        from test_tasks import make_qa

        path = folder / "train.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in make_qa(60)))
        return path
    if task == "generation":  # instruction tuning: echo the sentiment word's label
        path = folder / "train.jsonl"
        path.write_text("".join(json.dumps({"instruction": f"label: {t}", "input": "", "output": label}) + "\n"
                                for t, label in zip(texts[:80], labels[:80], strict=True)))
        return path
    path = folder / "train.txt"  # NER: the sentiment word is the entity
    with path.open("w") as fh:
        for text, label in zip(texts, labels, strict=True):
            words = text.split()
            for i, w in enumerate(words):
                tag = f"B-{label.upper()}" if i == 3 else "O"
                fh.write(f"{w}\t{tag}\n")
            fh.write("\n")
    return path


def _command(data: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "headstart", "train", str(data), "--out", str(out), "--backbone", str(model),
            "--strategy", "full", "--epochs", "4", "--max-length", "16", "--batch-size", "8", "--seed", "0", *extra]


def _weights(out: Path) -> dict:
    from safetensors.numpy import load_file

    return {p.relative_to(out).as_posix(): load_file(p) for p in sorted((out / "model").rglob("*.safetensors"))}


def _same(a: dict, b: dict) -> bool:
    import numpy as np

    return a.keys() == b.keys() and all(
        x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a.values(), b.values(), strict=True))


def loop(task: str, loops: int, seed: int) -> dict:
    from conftest import build_tokenizer, save_tiny

    rng = random.Random(seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = save_tiny(tmp / "tiny", "gpt2" if task == "generation" else "bert", build_tokenizer())
        data = _data(tmp, task)
        t0 = time.perf_counter()
        subprocess.run(_command(data, tmp / "ref", model), env=env, check=True, capture_output=True)
        full_seconds = time.perf_counter() - t0
        ref = _weights(tmp / "ref")
        kills = identical = 0
        for i in range(loops):
            out = tmp / f"run{i}"
            extra: list[str] = []
            killed_this = 0
            span = full_seconds  # the kill comes at a random moment within this; shrunk when a run outpaces it
            while True:
                proc = subprocess.Popen(_command(data, out, model, *extra), env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
                delay = rng.uniform(0.2, 0.9) * span if killed_this < 3 else None
                started = time.perf_counter()
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    killed_this += 1
                    extra = ["--resume"] if (out / "checkpoint.safetensors").exists() else ["--overwrite"]
                    continue
                if proc.returncode == 0 and killed_this == 0:  # it finished before its kill: again, sooner
                    span = min(span, time.perf_counter() - started) * 0.8
                    extra = ["--overwrite"]
                    continue
                if proc.returncode != 0:
                    err = proc.stderr.read().decode(errors="replace")
                    if "nothing to resume" in err or "already holds" in err:
                        extra = ["--overwrite"]
                        continue
                    raise SystemExit(f"{task} loop {i} failed: {err[-2000:]}")
                break
            identical += _same(_weights(out), ref)
            print(f"[{task}] loop {i + 1}/{loops}: {killed_this} kill(s), identical={_same(_weights(out), ref)}",
                  flush=True)
    return {"task": task, "loops": loops, "kills": kills, "identical": identical, "uninterrupted_seconds":
            round(full_seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loops", type=int, default=20)
    ap.add_argument("--tasks", default="classification,ner")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from common import machine

    command = f"python benchmarks/kill_resume.py --loops {args.loops} --tasks {args.tasks}"
    rows = [loop(task, args.loops, args.seed) | {"command": command, "machine": machine(),
                                                  "date": dt.date.today().isoformat()} for task in args.tasks.split(",")]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(OUT.read_text())["runs"] if OUT.exists() else []  # the other tasks' rows stay
    runs = [r for r in kept if r["task"] not in {row["task"] for row in rows}] + rows
    OUT.write_text(json.dumps({"dataset": "reliability", "runs": runs, "machine": machine(),
                               "date": dt.date.today().isoformat(), "command": command}, indent=2) + "\n")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
