"""Soak the chat server on 127.0.0.1: N requests at concurrency C (bounded in count and time), a share of
them malformed or abusive; every answer must be a 2xx or a 4xx in the OpenAI error format (no 5xx), and the
server's resident memory may grow by less than 5% between the first and the last tenth of the run.

    python benchmarks/soak.py --requests 10000 --concurrency 32     # writes benchmarks/results/reliability/soak.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "benchmarks"))
OUT = HERE.parent / "benchmarks" / "results" / "reliability" / "soak.json"
HELLO = [{"role": "user", "content": "hello there"}]


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bodies(rng: random.Random):
    good = {"model": "tiny-llama", "messages": HELLO, "max_tokens": 2, "temperature": 0}
    bad = [{"model": "tiny-llama", "messages": HELLO, "seed": 2**70}, {"model": "../x", "messages": HELLO},
           {"model": "tiny-llama", "messages": []}, {"model": "tiny-llama", "messages": HELLO, "max_tokens": -5},
           {"model": "tiny-llama", "messages": "nope"}, {"messages": HELLO}]
    return good if rng.random() < 0.8 else rng.choice(bad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=1800)
    args = ap.parse_args()
    import httpx
    from transformers import AutoModelForCausalLM

    from common import machine
    from conftest import build_tokenizer, tiny_config
    from headstart.serving.background import BackgroundServer
    from headstart.serving.chat_model import load_chat_model
    from headstart.serving.openai_server import create_app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny-llama"
        tok = build_tokenizer()
        config = tiny_config("llama", len(tok), tok.pad_token_id, n_layers=2)
        AutoModelForCausalLM.from_config(config).save_pretrained(folder)
        tok.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                             "{% if add_generation_prompt %}assistant:{% endif %}")
        tok.save_pretrained(folder)
        statuses: dict[int, int] = {}
        rss = []
        start = time.monotonic()
        with BackgroundServer(create_app(load_chat_model(folder))) as srv, httpx.Client(timeout=60) as client:
            url = srv.base_url + "/chat/completions"

            def one(i: int) -> int:
                if time.monotonic() - start > args.max_seconds:
                    return -1
                r = client.post(url, json=_bodies(random.Random(i)))
                if r.status_code >= 400:
                    assert "error" in r.json(), r.text
                return r.status_code

            with ThreadPoolExecutor(args.concurrency) as pool:
                for k, status in enumerate(pool.map(one, range(args.requests))):
                    statuses[status] = statuses.get(status, 0) + 1
                    if k % max(args.requests // 20, 1) == 0:
                        rss.append(_rss_mb())
        seconds = time.monotonic() - start
    tenth = max(len(rss) // 10, 1)
    growth = (sum(rss[-tenth:]) / tenth) / (sum(rss[:tenth]) / tenth) - 1 if len(rss) >= 2 else 0.0
    row = {"requests": args.requests, "concurrency": args.concurrency, "statuses": statuses,
           "server_errors": sum(v for k, v in statuses.items() if k >= 500), "not_run": statuses.get(-1, 0),
           "rss_growth": round(growth, 4), "seconds": round(seconds, 1), "machine": machine(),
           "date": dt.date.today().isoformat(),
           "command": f"python benchmarks/soak.py --requests {args.requests} --concurrency {args.concurrency}"}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"dataset": "reliability", "runs": [row], "command": row["command"],
                               "machine": row["machine"], "date": row["date"]}, indent=2) + "\n")
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
