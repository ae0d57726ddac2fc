"""docs/reliability.md from benchmarks/templates/reliability.md and the figures the reliability scripts
wrote (benchmarks/results/reliability/*.json)."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "reliability"


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _stamp(data: dict) -> str:
    return f"Command: `{data['command']}` · machine: {data['machine']} · date: {data['date']}"


def fuzz() -> str:
    data = _load("fuzz")
    if not data:
        return "Not run yet: `python benchmarks/fuzz.py --cases 10000`."
    lines = ["| reader | cases | loaded | refused with headstart's error | other exceptions or unnamed files |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['reader']} | {r['cases']:,} | {r.get('loaded', 0):,} | {r.get('refused', 0):,} | {r['failures']} |"
              for r in data["runs"]]
    return _stamp(data) + "\n\n" + "\n".join(lines)


def kill() -> str:
    data = _load("kill_resume")
    if not data:
        return "Not run yet: `python benchmarks/kill_resume.py --loops 20`."
    lines = ["| task | loops | kills (SIGKILL) | final weights identical to the uninterrupted run | command · machine · "
             "date |", "|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['loops']} | {r['kills']} | {r['identical']}/{r['loops']} | "
              f"`{r.get('command', data['command'])}` · {r.get('machine', data['machine'])} · {r.get('date', data['date'])} |"
              for r in data["runs"]]  # rows of earlier runs carry the file's stamp of their day
    return "\n".join(lines)


def soak() -> str:
    data = _load("soak")
    r = data["runs"][0] if data else None
    if not r:
        return "Not run yet: `python benchmarks/soak.py --requests 10000 --concurrency 32`."
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["statuses"].items()))
    return (f"{_stamp(r)}\n\n{r['requests']:,} requests at concurrency {r['concurrency']} (a fifth of them "
            f"malformed or abusive) in {r['seconds']:,.0f} s: statuses {statuses}; **{r['server_errors']} server "
            f"errors**; resident memory {100 * r['rss_growth']:+.1f}% from the first tenth of the run to the last.")


def main() -> None:
    text = (ROOT / "benchmarks" / "templates" / "reliability.md").read_text()
    (ROOT / "docs" / "reliability.md").write_text(text.format(fuzz=fuzz(), kill=kill(), soak=soak()))


if __name__ == "__main__":
    main()
