"""Render docs/deploy.md from benchmarks/templates/deploy.md and the figures benchmarks/deploy.py wrote
(benchmarks/results/deploy/{export,process,serve,sizes}.json).

    python benchmarks/deploy_docs.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "deploy"
DOC = HERE.parent / "docs" / "deploy.md"


def _load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {"runs": [], "command": f"python benchmarks/deploy.py "
                                                                                       f"{name}", "machine": "-",
                                                                       "date": "not run yet"}


def export_part(data: dict) -> dict:
    lines = ["| set (test rows) | side | accuracy | macro-F1 | p50 ms | p50 / eager |", "|---|---|---|---|---|---|"]
    notes = []
    for row in data["runs"]:
        eager = row["sides"]["headstart (eager)"]["p50_ms"]
        for side, s in row["sides"].items():
            lines.append(f"| {row['dataset']} ({row['evaluated_on']['rows']}) | {side} | {s['accuracy']:.4f} | "
                         f"{s['macro_f1']:.4f} | {s['p50_ms']:.2f} | {s['p50_ms'] / eager:.2f} |")
        notes.append(f"{row['dataset']}: int8 at {row['int8_p50_ratio']:.2f}x eager's p50, "
                     f"{100 * row['int8_accuracy_drop']:+.1f} points of accuracy lost against fp32 "
                     f"(predictions use {row['kept']})")
    return {"export_table": "\n".join(lines), "export_summary": "; ".join(notes) + "." if notes else "",
            "export_command": data["command"], "export_machine": data["machine"], "export_date": data["date"]}


def process_part(data: dict) -> dict:
    runs = data["runs"]
    lines = ["| process | wall s | CPU s |", "|---|---|---|"]
    lines += [f"| `{r['method']}` | {r['wall_s']:.2f} | {r['cpu_s']:.2f} |" for r in runs]
    ratio = next((r["cpu_ratio_vs_plain"] for r in runs if "cpu_ratio_vs_plain" in r), None)
    if ratio is not None:
        lines.append(f"\n`headstart predict` uses {ratio:.2f}x the CPU of the plain script.")
    return {"process_table": "\n".join(lines), "process_command": data["command"], "process_machine": data["machine"],
            "process_date": data["date"], "process_rounds": runs[0]["rounds"] if runs else "-"}


def serve_part(data: dict) -> dict:
    lines = ["| backend | batching | requests | concurrency | req/s | p50 ms | p99 ms | 5xx | RSS first -> last MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for r in data["runs"]:
        if r.get("kind") == "ceiling":  # the model alone, no HTTP: what batching can give at most
            notes.append(f"{r['backend']} model alone (no HTTP, 1 thread): one text {r['one_text_ms']:.1f} ms, "
                         f"{r['batch32_ms_per_text']:.1f} ms a text in a batch of 32, so batching can give at most "
                         f"{r['ceiling']:.2f}x")
            continue
        lines.append(f"| {r['backend']} | {r['batching']}{' (soak)' if r.get('soak') else ''} | {r['requests']:,} | "
                     f"{r['concurrency']} | {r['req_per_s']:,.1f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['errors_5xx']} | {r['rss_first_mb']} -> {r['rss_last_mb']} |")
        if "one_at_a_time_req_per_s" in r:
            notes.append(f"{r['backend']}, one request at a time: {r['one_at_a_time_req_per_s']:,.1f} req/s "
                         f"(p50 {r['one_at_a_time_p50_ms']:.1f} ms)")
        if "speedup_vs_one_at_a_time" in r:
            notes.append(f"{r['backend']} batched at concurrency 32: {r['speedup_vs_one_at_a_time']:.2f}x one at a "
                         f"time, {r['speedup_vs_unbatched_at_32']:.2f}x unbatched at the same concurrency")
    return {"serve_table": "\n".join(lines), "serve_summary": "; ".join(notes) + "." if notes else "",
            "serve_command": data["command"], "serve_machine": data["machine"], "serve_date": data["date"]}


def _bytes(n: int) -> str:
    return f"{n / 2**10:,.1f} KB" if n < 2**20 else f"{n / 2**20:,.2f} MB"


def sizes_part(data: dict) -> dict:
    lines = ["| strategy | run folder (`RUN/model`) | holds | plain transformers export | peft adapter |",
             "|---|---|---|---|---|"]
    for r in data["runs"]:
        holds = ", ".join(f"`{f}`" for f in r["files"] if f.endswith(".safetensors"))
        peft = _bytes(r["peft_adapter_bytes"]) if "peft_adapter_bytes" in r else "-"
        lines.append(f"| `{r['method']}` | {_bytes(r['run_model_bytes'])} | {holds} | "
                     f"{_bytes(r['transformers_export_bytes'])} | {peft} |")
    return {"sizes_table": "\n".join(lines), "sizes_command": data["command"], "sizes_machine": data["machine"],
            "sizes_date": data["date"]}


def main() -> None:
    parts = {**export_part(_load("export")), **process_part(_load("process")), **serve_part(_load("serve")),
             **sizes_part(_load("sizes"))}
    DOC.write_text((HERE / "templates" / "deploy.md").read_text().format(**parts))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
