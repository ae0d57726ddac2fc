"""Shared pieces of the benchmarks: the data sets and their documented subsets, the machine, running each
method in its own process (so peak memory is its own), and the results files.

See ../../shared/docs/BENCHMARKS.md for the rules these follow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DATA = Path(os.environ.get("HEADSTART_DATA", HERE.parents[1] / "shared" / "data"))

DATASETS = ("sms_spam", "sst2", "banking77")


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) frames. SST-2: the stratified 8,000-row training subset of BENCHMARKS.md, tested on
    the GLUE dev set (`sst2/test.csv`)."""
    read = lambda split: pd.read_csv(DATA / name / f"{split}.csv", keep_default_na=False)  # noqa: E731
    train, test = read("train"), read("test")
    if name == "sst2":
        from sklearn.model_selection import train_test_split

        train = train_test_split(train, train_size=8000, stratify=train.label, random_state=0)[0]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def first_rows(train: pd.DataFrame, test: pd.DataFrame, n: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first n training rows and the first n test rows whose label occurs in them: `--limit` for smoke
    tests of the scripts (seconds, not minutes). Never for results: bench_classification has no --limit."""
    if n is None:
        return train, test
    train = train.head(n).reset_index(drop=True)
    seen = set(train.label.astype(str))
    return train, test[test.label.astype(str).isin(seen)].head(n).reset_index(drop=True)


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """CoNLL `token<TAB>tag` lines, a blank line between sentences -> [(words, tags)] (NER data sets)."""
    sentences, words, tags = [], [], []
    for line in [*Path(path).read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            word, tag = line.rsplit("\t", 1)
            words.append(word)
            tags.append(tag.strip())
        elif words:
            sentences.append((words, tags))
            words, tags = [], []
    return sentences


def read_squad(path: str | Path) -> list[dict]:
    """SQuAD v1.1 JSON -> one dict per question: id, question, context, answers ([{text, answer_start}])."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    return [{"id": qa["id"], "question": qa["question"], "context": para["context"], "answers": qa["answers"]}
            for article in data for para in article["paragraphs"] for qa in para["qas"]]


def folder_bytes(path: str | Path) -> int:
    """Bytes of every file under `path`: what a saved model or adapter costs on disk."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f"GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    threads = os.environ.get("HEADSTART_BENCH_THREADS", "2")  # what set_threads gives the benchmark
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {gpu}, torch threads {threads}"


def run_child(script: str, args: list[str], log: Path) -> dict:
    """Run one method in a fresh process; return its JSON result plus its own peak RSS.

    Each method gets its own process, so RUSAGE_CHILDREN's max RSS after it exits is that method's peak
    (the children's maximum so far: methods run in increasing order of memory would hide later peaks,
    so we read the value per child with `os.wait4`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE,
                                stderr=fh, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1",
                                                           "TOKENIZERS_PARALLELISM": "false"})
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed (status {status}); see {log}")
    row = json.loads(out.strip().splitlines()[-1])
    row["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    row["process_seconds"] = round(wall, 1)
    return row


def save_row(dataset: str, row: dict, command: str | None = None) -> Path:
    """Add or replace (same method, by, backbone, seed and test subset) a row in results/<dataset>.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{dataset}.json"
    data = json.loads(path.read_text()) if path.exists() else {"dataset": dataset, "runs": []}
    key = lambda r: (r["method"], r["by"], r.get("backbone"), r.get("seed"), r.get("subset"))  # noqa: E731
    row.setdefault("machine", machine())  # rows of one file may come from different runs and machines
    row.setdefault("date", dt.date.today().isoformat())
    data["runs"] = [r for r in data["runs"] if key(r) != key(row)] + [row]
    if command:
        row["command"] = command  # the exact invocation that produced this row
        data["command"] = command
    data["machine"] = machine()
    data["date"] = dt.date.today().isoformat()
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def set_threads() -> None:
    """2 torch threads (the machine's cores), or HEADSTART_BENCH_THREADS: 1 for accuracy-only runs in the
    background beside other work (their timings are then not reported)."""
    import torch

    torch.set_num_threads(int(os.environ.get("HEADSTART_BENCH_THREADS", "2")))


def peak_rss_self_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
