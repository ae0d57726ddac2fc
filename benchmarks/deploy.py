"""Deployment figures (issue: deploy what was trained), on the packaged MiniLM, 1 model thread:

    python benchmarks/deploy.py export    # headstart eager vs ONNX fp32 vs ONNX int8: accuracy and p50 latency
                                          # on SMS spam (shipped example) and SST-2 (2,000 train rows, its test file)
    python benchmarks/deploy.py process   # `headstart predict RUN TEXT` as a process vs a plain transformers
                                          # script on the exported folder: wall and CPU seconds, alternating sides
    python benchmarks/deploy.py sizes     # what a run folder holds per strategy (top-n: only the blocks it changed)
                                          # beside its plain transformers export, on SMS spam, 1 epoch each
    python benchmarks/deploy.py serve     # the task server at concurrency 32: batching on / off, eager / ONNX int8,
                                          # against one request at a time; then 10,000 requests for errors and RSS

Each writes benchmarks/results/deploy/<name>.json ({command, machine, date, runs}); make_docs.py renders them.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
OUT = HERE / "results" / "deploy"
WORK = Path(os.environ.get("HEADSTART_DEPLOY_WORK", "/tmp/headstart-deploy"))
TEXT = "WINNER!! Claim your free prize now, call 0800 123 456"
sys.path.insert(0, str(HERE))


def _write(name: str, runs, command: str) -> None:
    from common import machine

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps({"dataset": name, "kind": "deploy", "command": command,
                                                  "machine": machine(), "date": dt.date.today().isoformat(),
                                                  "runs": runs}, indent=2))
    print(f"wrote {OUT / name}.json")


def _train(name: str) -> Path:
    """A top-n run on the packaged MiniLM (what the README's first command trains), once."""
    run = WORK / name
    if (run / "metrics.json").exists():
        return run
    WORK.mkdir(parents=True, exist_ok=True)
    if name == "sms_spam":
        train, test = ROOT / "examples" / "sms_spam_500.csv", ROOT / "examples" / "sms_spam_test_200.csv"
    else:
        import pandas as pd

        train, test = WORK / "sst2_train_2000.csv", DATA / "sst2" / "test.csv"
        pd.read_csv(DATA / "sst2" / "train.csv").head(2000).to_csv(train, index=False)
    subprocess.run(["headstart", "train", str(train), "--test", str(test), "--strategy", "top-n", "--out", str(run),
                    "--overwrite"], check=True)
    return run


def export() -> None:
    rows = []
    for name in ("sms_spam", "sst2"):
        run = _train(name)
        out = WORK / f"{name}-onnx"
        subprocess.run(["headstart", "export", str(run), "--format", "onnx", "--quantize", "int8", "--out", str(out),
                        "--overwrite"], check=True)
        report = json.loads((out / "export-report.json").read_text())
        eager = report["sides"]["headstart (eager)"]
        rows.append({"dataset": name, "method": "export --format onnx --quantize int8", "by": "headstart", **report,
                     "int8_p50_ratio": round(
            report["sides"]["onnx int8"]["p50_ms"] / eager["p50_ms"], 3), "fp32_p50_ratio": round(
            report["sides"]["onnx fp32"]["p50_ms"] / eager["p50_ms"], 3)})
    _write("export", rows, "python benchmarks/deploy.py export")


SIZE_STRATEGIES = ("head", "top-n", "lora", "full")


def sizes() -> None:
    from common import folder_bytes

    rows = []
    train = ROOT / "examples" / "sms_spam_500.csv"
    for strategy in SIZE_STRATEGIES:
        run = WORK / f"size-{strategy}"
        subprocess.run(["headstart", "train", str(train), "--strategy", strategy, "--epochs", "1", "--out", str(run),
                        "--overwrite"], check=True, capture_output=True)
        row = {"dataset": "sms_spam", "method": strategy, "by": "headstart",
               "files": sorted(f.name for f in (run / "model").iterdir()),
               "run_model_bytes": folder_bytes(run / "model")}
        for fmt in ("transformers", "peft") if strategy == "lora" else ("transformers",):
            out = WORK / f"size-{strategy}-{fmt}"
            subprocess.run(["headstart", "export", str(run), "--format", fmt, "--out", str(out), "--overwrite"],
                           check=True, capture_output=True)
            row[f"{fmt}_export_bytes"] = folder_bytes(out)
        if strategy == "lora":  # the adapter's own files, without the base folder beside them
            row["peft_adapter_bytes"] = row["peft_export_bytes"] - folder_bytes(WORK / "size-lora-peft" / "base")
        rows.append(row)
        print(row)
    _write("sizes", rows, "python benchmarks/deploy.py sizes")


PLAIN = """import sys
from transformers import pipeline
p = pipeline("text-classification", model=sys.argv[1], trust_remote_code=True)
print(p(sys.argv[2]))
"""


def _child_cpu(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def process(rounds: int) -> None:
    run = _train("sms_spam")
    folder = WORK / "sms_spam-hf"
    subprocess.run(["headstart", "export", str(run), "--out", str(folder), "--overwrite"], check=True)
    script = WORK / "plain_predict.py"
    script.write_text(PLAIN)
    sides = {"headstart predict": ["headstart", "predict", str(run), TEXT],
             "plain transformers script": [sys.executable, str(script), str(folder), TEXT],
             "headstart --help": ["headstart", "--help"]}
    by = {"headstart predict": "headstart", "plain transformers script": "transformers", "headstart --help": "headstart"}
    times: dict[str, list] = {k: [] for k in sides}
    for _ in range(rounds):  # alternating sides, so drift on the machine hits both
        for name, cmd in sides.items():
            times[name].append(_child_cpu(cmd))
    runs = [{"method": name, "by": by[name], "wall_s": round(statistics.median(w for w, _ in t), 2),
             "cpu_s": round(statistics.median(c for _, c in t), 2), "rounds": rounds} for name, t in times.items()]
    cpu = {r["method"]: r["cpu_s"] for r in runs}
    runs[0]["cpu_ratio_vs_plain"] = round(cpu["headstart predict"] / cpu["plain transformers script"], 2)
    _write("process", runs, f"python benchmarks/deploy.py process --rounds {rounds}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _load(url: str, model: str, n: int, concurrency: int, pid: int) -> dict:
    import httpx

    lat, statuses, rss = [], [], []
    with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=concurrency)) as http:
        def one(i: int):
            start = time.perf_counter()
            r = http.post("/v1/classify", json={"model": model, "inputs": [f"{TEXT} {i}"]})
            lat.append(time.perf_counter() - start)
            statuses.append(r.status_code)
            if i % max(1, n // 10) == 0:
                rss.append(_rss_mb(pid))

        start = time.perf_counter()
        with cf.ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(n)))
        wall = time.perf_counter() - start
    lat.sort()
    return {"requests": n, "concurrency": concurrency, "req_per_s": round(n / wall, 1),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1), "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1),
            "errors_5xx": sum(s >= 500 for s in statuses), "non_200": sum(s != 200 for s in statuses),
            "rss_first_mb": round(rss[1] if len(rss) > 1 else rss[0], 1) if rss else None,
            "rss_last_mb": round(rss[-1], 1) if rss else None}


class _Server:
    """`headstart serve` as its own process on loopback (one model thread), so the load generator does not
    share its interpreter."""

    def __init__(self, spec: str, max_batch: int, wait_ms: float, port: int = 8799) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(["headstart", "serve", spec, "--port", str(port), "--max-batch", str(max_batch),
                                      "--max-wait-ms", str(wait_ms), "--max-waiting", "256", "--threads", "1"],
                                     env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def __enter__(self):
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.5)
        raise RuntimeError("the server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _ceiling(backend: str, path: Path, rounds: int = 40) -> dict:
    """The most batching can give on this CPU: the model alone (no HTTP) on one text against 32 texts at once,
    one thread (the server's), alternating; ceiling = time per text alone / time per text in the batch."""
    import torch

    torch.set_num_threads(1)
    if backend == "eager":
        import headstart

        predict = headstart.load(path).predict_proba
    else:
        from headstart.export.onnx_format import OnnxModel

        predict = OnnxModel(path, threads=1).predict_proba
    one, many = [f"{TEXT} 0"], [f"{TEXT} {i}" for i in range(32)]
    predict(one), predict(many)  # warm-up
    alone, batched = [], []
    for _ in range(rounds):
        for texts, times in ((one, alone), (many, batched)):
            start = time.perf_counter()
            predict(texts)
            times.append((time.perf_counter() - start) / len(texts))
    per_alone, per_batched = statistics.median(alone), statistics.median(batched)
    return {"method": f"model alone, {backend}", "by": "headstart", "backend": backend, "kind": "ceiling",
            "one_text_ms": round(per_alone * 1000, 2), "batch32_ms_per_text": round(per_batched * 1000, 2),
            "ceiling": round(per_alone / per_batched, 2), "rounds": rounds}


def serve(requests: int, soak: int) -> None:
    run = _train("sms_spam")
    onnx = WORK / "sms_spam-onnx"
    if not (onnx / "model.onnx").exists():
        subprocess.run(["headstart", "export", str(run), "--format", "onnx", "--quantize", "int8", "--out",
                        str(onnx), "--overwrite"], check=True)
    ceilings = {backend: _ceiling(backend, path) for backend, path in (("eager", run), ("onnx int8", onnx))}
    print(ceilings, flush=True)
    rows = []
    for backend, spec in (("eager", f"spam={run}"), ("onnx int8", f"spam={onnx}")):
        for batching, (max_batch, wait) in (("off", (1, 0.0)), ("on", (32, 5.0))):
            with _Server(spec, max_batch, wait) as server:
                pid = server.proc.pid
                _load(server.url, "spam", 64, 8, pid)  # warm-up
                one_at_a_time = _load(server.url, "spam", requests // 4, 1, pid) if batching == "off" else None
                row = {"method": f"serve, {backend}, batching {batching}", "by": "headstart", "backend": backend,
                       "batching": batching, **_load(server.url, "spam", requests, 32, pid)}
                if one_at_a_time:
                    row["one_at_a_time_req_per_s"] = one_at_a_time["req_per_s"]
                    row["one_at_a_time_p50_ms"] = one_at_a_time["p50_ms"]
                rows.append(row)
                print(row, flush=True)
    for backend in ("eager", "onnx int8"):
        base = next(r for r in rows if r["backend"] == backend and r["batching"] == "off")
        on = next(r for r in rows if r["backend"] == backend and r["batching"] == "on")
        on["speedup_vs_one_at_a_time"] = round(on["req_per_s"] / base["one_at_a_time_req_per_s"], 2)
        on["speedup_vs_unbatched_at_32"] = round(on["req_per_s"] / base["req_per_s"], 2)
        on["model_alone_ceiling"] = ceilings[backend]["ceiling"]
    with _Server(f"spam={run}", 32, 5.0) as server:
        _load(server.url, "spam", 64, 8, server.proc.pid)
        soak_row = {"method": "serve, eager, batching on (soak)", "by": "headstart", "backend": "eager",
                    "batching": "on", "soak": True,
                    **_load(server.url, "spam", soak, 32, server.proc.pid)}
    rows.append(soak_row)
    rows.extend(ceilings.values())
    print(soak_row)
    _write("serve", rows, f"python benchmarks/deploy.py serve --requests {requests} --soak {soak}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["export", "process", "serve", "sizes"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--soak", type=int, default=10_000)
    args = ap.parse_args()
    if args.what == "export":
        export()
    elif args.what == "process":
        process(args.rounds)
    elif args.what == "sizes":
        sizes()
    else:
        serve(args.requests, args.soak)


if __name__ == "__main__":
    main()
