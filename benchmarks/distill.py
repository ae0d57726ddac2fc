"""Distillation and self-training, as a user runs them: `headstart train` for the teacher and for the student
alone, `headstart distill` for the student of the teacher and for self-training, each a CLI process of its
own, one after another (never two on 2 cores), on the same labelled rows, unlabelled rows and test file.

    python benchmarks/distill.py sst2 --labelled 2000 --unlabeled 6000
    python benchmarks/distill.py sst2 --labelled 300 --unlabeled 300 --only alone,api   # an LLM teacher

Steps (--only picks some):
    teacher    `headstart train` on --teacher-backbone (default mpnet, the optional 110M encoder), --teacher-strategy
    alone      `headstart train` of the student backbone (the packaged MiniLM) with --student-strategy
    distill    `headstart distill --teacher <teacher run> --unlabeled ...` with --student-strategy
    self-train `headstart distill --self-train --unlabeled ...` with --student-strategy
    api        `headstart distill --teacher zero-shot:api` against `headstart serve smollm2` on loopback (the
               packaged decoder stands in for a hosted LLM); the teacher's zero-shot accuracy and time per
               text come from the same run's metrics

The labelled rows are a seeded sample of the training file; the unlabelled rows are other training rows with
their labels dropped; the test file is the data set's own. Rows go to benchmarks/results/<dataset>.json
(method: the step's strategy for teacher / alone, `distill` or `self-train` otherwise; `subset` names the row
counts; `config` names the teacher). Times: wall seconds of each CLI process (start-up included) and the
run's own train_seconds; seconds per text are from each run's test predictions.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, machine, save_row

WORK = Path(os.environ.get("HEADSTART_DISTILL_WORK", "/tmp/headstart-distill"))
STEPS = ("teacher", "alone", "distill", "self-train", "api")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("--labelled", type=int, default=2000)
    ap.add_argument("--unlabeled", type=int, default=6000)
    ap.add_argument("--only", default=",".join(STEPS[:4]), help="comma-separated subset of " + ",".join(STEPS))
    ap.add_argument("--teacher-backbone", default="mpnet")
    ap.add_argument("--teacher-strategy", default="full")
    ap.add_argument("--student-strategy", default="full")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=2, help="self-training rounds at most")
    ap.add_argument("--teacher-set", action="append", default=[], help="NAME=VALUE options of the teacher's run "
                    "(e.g. refit=false), repeatable")
    ap.add_argument("--student-set", action="append", default=[], help="NAME=VALUE options of every student run "
                    "(alone, distill, self-train), repeatable")
    return ap.parse_args()


def split_files(dataset: str, labelled: int, unlabeled: int, seed: int) -> tuple[Path, Path, Path]:
    """labelled / unlabelled / test files: a seeded sample of the training rows (sentences, for NER sets:
    CoNLL in, CoNLL labelled and JSONL tokens unlabelled out), the next rows with labels dropped, the set's
    own test file."""
    import random

    folder = WORK / dataset / f"l{labelled}-u{unlabeled}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    if (DATA / dataset / "train.txt").exists():  # NER
        from headstart.tasks.tagging.reader import read_token_file

        split = read_token_file(DATA / dataset / "train.txt")
        order = list(range(len(split.sentences)))
        random.Random(seed).shuffle(order)
        keep, rest = order[:labelled], order[labelled : labelled + unlabeled]
        (folder / "labelled.txt").write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(
            split.sentences[i], split.tags[i], strict=True)) for i in keep) + "\n")
        (folder / "unlabeled.jsonl").write_text("\n".join(json.dumps({"tokens": split.sentences[i]}) for i in rest) + "\n")
        return folder / "labelled.txt", folder / "unlabeled.jsonl", DATA / dataset / "test.txt"
    import pandas as pd

    train = pd.read_csv(DATA / dataset / "train.csv")
    shuffled = train.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    shuffled.iloc[:labelled].to_csv(folder / "labelled.csv", index=False)
    shuffled.iloc[labelled : labelled + unlabeled][["text"]].to_csv(folder / "unlabeled.csv", index=False)
    return folder / "labelled.csv", folder / "unlabeled.csv", DATA / dataset / "test.csv"


def cli(args: list[str], log: Path, env: dict | None = None) -> float:
    """Run `headstart ARGS` to completion; its wall seconds."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        code = subprocess.call([sys.executable, "-m", "headstart", *args], stdout=fh, stderr=subprocess.STDOUT,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    if code != 0:
        raise RuntimeError(f"headstart {' '.join(args)} failed ({code}); see {log}")
    return time.perf_counter() - t0


def row_of(run: Path, method: str, backbone: str, subset: str, wall: float, command: str, config: dict) -> dict:
    m = json.loads((run / "metrics.json").read_text())
    test = m["test"]
    scores = {k: test[k] for k in ("accuracy", "macro_f1", "precision", "recall", "f1") if k in test}
    row = {"method": method, "by": "headstart", "backbone": backbone, "subset": subset, "seed": config.get("seed", 0),
           **scores, "train_seconds": m.get("train_seconds"),
           "process_seconds": round(wall, 1), "peak_rss_mb": m.get("peak_rss_mb"), "strategy": m.get("strategy"),
           "config": config, "command": command, "machine": machine()}
    d = m.get("distillation") or {}
    for key in ("teacher_scores", "agreement", "teacher_seconds_per_text", "student_seconds_per_text",
                "teacher_params", "student_params", "temperature", "teacher_train_agreement", "self_training"):
        if key in d:
            row[key] = d[key]
    if "teacher" in d:
        row["teacher"] = {k: d["teacher"].get(k) for k in ("teacher", "kind", "requests", "api_model")}
    return row


def serve_decoder(log: Path):
    """`headstart serve smollm2` on a free loopback port; (process, base URL) once it answers /health."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = open(log, "w")  # noqa: SIM115 (the server's log stays open as long as the server runs)
    proc = subprocess.Popen([sys.executable, "-m", "headstart", "serve", "smollm2", "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url + "/v1"
        except httpx.HTTPError:
            time.sleep(1)
    proc.kill()
    raise RuntimeError(f"the chat server did not start; see {log}")


def main() -> None:
    a = parse_args()
    steps = a.only.split(",")
    labelled, unlabeled, test = split_files(a.dataset, a.labelled, a.unlabeled, a.seed)
    out = labelled.parent
    subset = f"{a.labelled} labelled + {a.unlabeled} unlabelled (seed {a.seed})"
    common = ["--test", str(test), "--seed", str(a.seed), "--overwrite"]
    me = "python benchmarks/distill.py " + " ".join(sys.argv[1:])
    student = ["--strategy", a.student_strategy, *(x for item in a.student_set for x in ("--set", item))]
    teacher_run = out / f"teacher-{a.teacher_backbone}-{a.teacher_strategy}"
    for step in steps:
        print(f"[{time.strftime('%H:%M:%S')}] {step}", flush=True)
        if step == "teacher":
            args = ["train", str(labelled), "--backbone", a.teacher_backbone, "--strategy", a.teacher_strategy,
                    "--out", str(teacher_run), *common, *(x for item in a.teacher_set for x in ("--set", item))]
            wall = cli(args, out / "teacher.log")
            row = row_of(teacher_run, a.teacher_strategy, a.teacher_backbone, subset, wall, me,
                         {"role": "teacher", "labelled": a.labelled, "settings": a.teacher_set})
        elif step == "alone":
            run = out / f"alone-{a.student_strategy}"
            wall = cli(["train", str(labelled), *student, "--out", str(run), *common], out / "alone.log")
            row = row_of(run, a.student_strategy, "minilm", subset, wall, me, {"role": "student alone",
                                                                                "labelled": a.labelled,
                                                                                "settings": a.student_set})
        elif step == "distill":
            run = out / f"distill-{a.student_strategy}"
            args = ["distill", str(labelled), "--teacher", str(teacher_run), "--unlabeled", str(unlabeled), *student,
                    "--out", str(run), *common]
            wall = cli(args, out / "distill.log")
            row = row_of(run, "distill", "minilm", subset, wall, me, {"teacher": f"{a.teacher_strategy} on "
                         f"{a.teacher_backbone}", "student": a.student_strategy, "labelled": a.labelled,
                         "unlabeled": a.unlabeled, "settings": a.student_set})
        elif step == "self-train":
            run = out / f"self-train-{a.student_strategy}"
            args = ["distill", str(labelled), "--self-train", "--unlabeled", str(unlabeled), "--self-train-rounds",
                    str(a.rounds), *student, "--out", str(run), *common]
            wall = cli(args, out / "self-train.log")
            row = row_of(run, "self-train", "minilm", subset, wall, me, {"teacher": "the student itself",
                         "student": a.student_strategy, "rounds": a.rounds, "settings": a.student_set})
        elif step == "api":
            server, base_url = serve_decoder(out / "serve.log")
            try:
                run = out / f"api-{a.student_strategy}"
                args = ["distill", str(labelled), "--teacher", "zero-shot:api", "--unlabeled", str(unlabeled),
                        *student, "--out", str(run), *common]
                env = {"OPENAI_BASE_URL": base_url, "HEADSTART_API_MODEL": "smollm2",
                       "HEADSTART_HOME": str(out / "home")}
                wall = cli(args, out / "api.log", env)
            finally:
                server.terminate()
                server.wait(timeout=60)
            row = row_of(run, "distill", "minilm", subset, wall, me, {"teacher": "zero-shot:api (smollm2 behind "
                         "headstart serve)", "student": a.student_strategy})
        else:
            raise SystemExit(f"unknown step {step!r}: choose from {', '.join(STEPS)}")
        save_row(a.dataset, row)  # the row names its command; the file's own (the main tables') stays
        print(json.dumps({k: row.get(k) for k in ("method", "backbone", "accuracy", "macro_f1", "f1",
                                                  "process_seconds", "agreement")}), flush=True)


if __name__ == "__main__":
    main()
