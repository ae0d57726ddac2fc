"""Render docs/distillation.md from benchmarks/templates/distillation.md and the rows benchmarks/distill.py
wrote into benchmarks/results/<dataset>.json (rows whose `subset` names labelled + unlabelled counts).

    python benchmarks/distill_docs.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "distillation.md"


def _rows() -> list[dict]:
    out = []
    for path in sorted((HERE / "results").glob("*.json")):
        runs = json.loads(path.read_text()).get("runs")
        if isinstance(runs, list):
            out += [r | {"dataset": path.stem} for r in runs
                    if "labelled +" in str(r.get("subset", "")) and "distill.py" in str(r.get("command", ""))]
    return out


def _role(r: dict) -> str:
    if r["method"] == "distill":
        return f"student of {r['config']['teacher']}"
    if r["method"] == "self-train":
        return "self-training"
    return r["config"].get("role", r["method"])


def score(r: dict) -> float:
    """Test accuracy (classification) or entity F1 (NER)."""
    return r["accuracy"] if "accuracy" in r else r["f1"]


def _ms(seconds) -> str:
    return "-" if seconds is None else f"{1000 * seconds:.2f}"


def table(rows: list[dict]) -> str:
    lines = ["| set | rows | model | backbone | strategy | test score | macro-F1 | teacher's test score | "
             "agreement | ms / text (student) | ms / text (teacher) | CLI wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = (r.get("teacher_scores") or {}).get("accuracy", (r.get("teacher_scores") or {}).get("f1"))
        macro = "-" if r.get("macro_f1") is None else f"{r['macro_f1']:.4f}"
        lines.append(f"| {r['dataset']} | {r['subset']} | {_role(r)} | {r['backbone']} | {r.get('strategy')} | "
                     f"{score(r):.4f} | {macro} | {'-' if t is None else f'{t:.4f}'} | "
                     f"{r.get('agreement', '-')} | {_ms(r.get('student_seconds_per_text'))} | "
                     f"{_ms(r.get('teacher_seconds_per_text'))} | {r['process_seconds']:,.0f} |")
    return "\n".join(lines)


def rounds(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        for x in r.get("self_training") or []:
            dev = "-" if x.get("dev") is None else f"{x['dev']:.4f}"
            lines.append(f"| {r['dataset']} | {x['round']} | {x['pseudo_rows']:,} | {dev} | "
                         f"{'yes' if x.get('kept') else 'no'} |")
    head = ["| set | round | pseudo-labelled rows | dev score | kept |", "|---|---|---|---|---|"]
    return "\n".join(head + lines) if lines else "(no self-training rows yet)"


def when(rows: list[dict]) -> str:
    """One line per (set, rows): what distillation and self-training bought over the student alone, and how
    much of the teacher's lead it closed."""
    lines = []
    for key in sorted({(r["dataset"], r["subset"]) for r in rows}):
        group = {r["config"].get("role") or r["method"]: r for r in rows if (r["dataset"], r["subset"]) == key}
        alone, teacher = group.get("student alone"), group.get("teacher")
        if alone is None:
            continue
        for name in ("distill", "self-train"):
            r = group.get(name)
            if r is None:
                continue
            what = "accuracy" if "accuracy" in r else "entity F1"
            gain = 100 * (score(r) - score(alone))
            text = f"- {key[0]}, {key[1]}: {name} {gain:+.1f} points of test {what} over the student alone"
            if teacher is not None and name == "distill" and score(r) > score(alone) and score(teacher) > score(alone):
                closed = (score(r) - score(alone)) / (score(teacher) - score(alone))
                text += f", {closed:.0%} of the way to the teacher ({score(teacher):.4f})"
            own = (r.get("teacher_scores") or {}).get("accuracy", (r.get("teacher_scores") or {}).get("f1"))
            if name == "distill" and own is not None:
                text += f"; {100 * (score(r) - own):+.1f} points against the teacher's own ({own:.4f}, {r['config']['teacher']})"
            speed = (r.get("teacher_seconds_per_text"), r.get("student_seconds_per_text"))
            if name == "distill" and all(speed):
                text += f"; the student predicts {speed[0] / speed[1]:.1f}x faster per text than the teacher"
            lines.append(text + f"; {r['process_seconds'] / alone['process_seconds']:.1f}x the student alone's wall time.")
    return "\n".join(lines) or "(not run yet)"


def main() -> None:
    rows = _rows()
    commands = sorted({r["command"] for r in rows}) or ["python benchmarks/distill.py sst2"]
    parts = {"table": table(rows) if rows else "(not run yet)", "rounds": rounds(rows),
             "commands": "\n".join(commands), "machine": rows[-1]["machine"] if rows else "-",
             "dates": ", ".join(sorted({r["date"] for r in rows})) or "not run yet", "when": when(rows)}
    DOC.write_text((HERE / "templates" / "distillation.md").read_text().format(**parts))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
