"""`headstart auto DATA --budget 20m`: recommend, compare, then the final fit, in one command and one budget.

1. evidence (choice/advise.py): the probe, its learning curve and a timed step of each candidate; the pick;
2. a comparison (choice/compare) of the candidates that could beat the pick, the pick protected, within
   what the budget leaves after reserving the final fit;
3. the final fit of the comparison's winner on the whole data (`train_run`: early stopping on dev, then the
   refit on train + dev), when the time left covers it; otherwise the winner as the comparison trained it.

OUT ends as a run folder like any other (predict, evaluate, serve, export read it) with two more entries:
`choice/` (the comparison: leaderboard, report) and `how-chosen.md` / `how-chosen.json` (the evidence, the
expectations, the leaderboard and the final fit, with the time each step took). Running the same command
again after an interruption reuses a finished comparison and resumes an interrupted final fit.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from headstart.backbones import DEFAULT_BACKBONE
from headstart.choice.advise import advise
from headstart.choice.data import read_task
from headstart.choice.recommend import recommend
from headstart.runs.folder import CHECKPOINT, claim, record_files
from headstart.training.progress import duration

__all__ = ["auto", "REFIT_FACTOR"]

REFIT_FACTOR = 2.1  # the final fit trains once with early stopping, then again on train + dev (the refit)
CHOICE, HOW = "choice", "how-chosen"


def auto(train, out: str | Path, budget_seconds: float = 1200.0, *, dev=None, test=None, text_column=None,
         label_column: str = "label", label_sep: str | None = None, backbone: str = DEFAULT_BACKBONE,
         max_length: int = 128, seed: int = 0, overwrite: bool = False,
         on_event: Callable[[str], None] | None = None) -> dict:
    """Choose and train within `budget_seconds`; returns what how-chosen.json holds."""
    from headstart.choice.compare import compare
    from headstart.runs import train_run

    start, say, out = time.perf_counter(), on_event or (lambda line: None), Path(out)
    with claim(out, kind="run", overwrite=overwrite) as folder:  # checks OUT before anything is spent
        task = read_task(train, dev, test, text_column=text_column, label_column=label_column,
                         label_sep=label_sep, seed=seed, command="auto")
        folder.begin()
    steps: dict = {}
    plan = recommend(task.stats, data_path=str(train), held_out=task.dev_from_train)
    say("measuring on the data (a frozen-feature probe, a timed step of each candidate) ...")
    advice = advise(task, plan, budget_seconds=budget_seconds, backbone=backbone, max_length=max_length,
                    data_path=str(train), seed=seed)
    steps["evidence_seconds"] = round(time.perf_counter() - start, 1)
    say(f"evidence: {advice.strategy} expected {advice.expected[advice.strategy][1]:.3f}; "
        + "; ".join(advice.why[:2]))

    pick = advice.strategy
    reserve = REFIT_FACTOR * advice.seconds.get(pick, 0.0)
    left = budget_seconds - (time.perf_counter() - start)
    lo_pick = advice.expected[pick][0]
    rivals = [s for s, (_, _, hi) in advice.expected.items()
              if s != pick and (hi >= lo_pick or s == "features")]
    names = [pick, *rivals]
    compare_budget = left - reserve
    board = _board(out / CHOICE)
    if board is None and compare_budget >= advice.seconds.get(pick, 0.0) and len(names) > 1:
        say(f"comparing {', '.join(names)} within {duration(compare_budget)} "
            f"({duration(reserve)} kept for the final fit)")
        columns = {"text_column": text_column} if text_column else {}
        board = compare(train, out / CHOICE, names, compare_budget, dev=dev, test=test, label_column=label_column,
                        label_sep=label_sep, backbone=backbone, seed=seed, max_length=max_length,
                        protect=[pick], on_event=lambda line: say("  " + line), task=task, **columns).to_dict()
    elif board is None:
        say(f"no comparison: {duration(max(compare_budget, 0))} would be left after the final fit's "
            f"{duration(reserve)}; training {pick}")
    steps["compare_seconds"] = round(time.perf_counter() - start - steps["evidence_seconds"], 1)
    winner, why = _winner(board, pick)
    say(f"final fit: {winner} ({why})")

    left = budget_seconds - (time.perf_counter() - start)
    row = next((r for r in (board or {}).get("rows", []) if r["strategy"] == winner), None)
    cost = (row or {}).get("train_seconds") or advice.seconds.get(winner, 0.0)
    options = {"backbone": backbone, "seed": seed, "max_length": max_length, "strategy": winner,
               **((board or {}).get("settings", {}).get("per_strategy", {}).get(winner, {}))}
    if text_column:
        options["text_column"] = text_column
    if label_sep:
        options["label_sep"] = label_sep
    options["label_column"] = label_column
    resume = (out / CHECKPOINT).exists()
    if REFIT_FACTOR * cost <= left or resume or row is None:
        final = "trained on the whole data: early stopping on dev, then refit on train + dev"
        metrics = train_run(train, out, dev=dev, test=test, resume=resume, **options)
    elif cost * 1.05 <= left:
        final = "trained without the refit on dev rows (the budget left did not cover it)"
        metrics = train_run(train, out, dev=dev, test=test, refit=False, **options)
    else:
        final = "the comparison's own run of it (trained on the train rows; no time left to train again)"
        metrics = _adopt(out / CHOICE / row["run_dir"], out)
    steps["final_seconds"] = round(time.perf_counter() - start - steps["evidence_seconds"] - steps["compare_seconds"], 1)
    result = {"strategy": winner, "why": why, "final_fit": final, "budget_seconds": budget_seconds,
              "seconds": round(time.perf_counter() - start, 1), "steps": steps, "advice": advice.to_dict(),
              "compared": [{k: r.get(k) for k in ("strategy", "status", "dev_metric", "train_seconds", "note")}
                           for r in (board or {}).get("rows", [])],
              "final": {"dev": metrics.get("dev"), "test": metrics.get("test")}}
    (out / f"{HOW}.json").write_text(json.dumps(result, indent=2, default=str))
    (out / f"{HOW}.md").write_text(_markdown(result))
    record_files(out, CHOICE, f"{HOW}.json", f"{HOW}.md")
    return result


def _board(folder: Path) -> dict | None:
    """A comparison already finished in OUT/choice (an earlier run of the same command)."""
    path = folder / "leaderboard.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _winner(board: dict | None, pick: str) -> tuple[str, str]:
    """The strategy to train: the comparison's choice (the best single strategy when an ensemble won),
    else the evidence's pick."""
    if not board or not board.get("choice"):
        return pick, "the evidence's pick" + (" (no candidate of the comparison finished)" if board else "")
    if board["choice"] != "ensemble":
        return board["choice"], board.get("recommendation", "best on dev")
    finished = [r for r in board["rows"] if r["status"] == "finished" and r["strategy"] != "ensemble"
                and r["dev_metric"] is not None]
    best = max(finished, key=lambda r: r["dev_metric"])
    return best["strategy"], "best single strategy on dev (an ensemble scored higher; see choice/ensemble)"


def _adopt(run: Path, out: Path) -> dict:
    """Copy a finished candidate run into OUT (its files, not its marker, lock or log)."""
    items = [p for p in run.iterdir() if not p.name.startswith((".headstart", "headstart-run")) and p.name != "train.log"]
    for item in items:
        if item.is_dir():
            shutil.copytree(item, out / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, out / item.name)
    record_files(out, *(p.name for p in items))
    return json.loads((out / "metrics.json").read_text())


def _markdown(r: dict) -> str:
    adv = r["advice"]
    ev = adv.get("evidence") or {}
    lines = [f"# How {r['strategy']} was chosen", "",
             f"Budget {duration(r['budget_seconds'])}; took {duration(r['seconds'])} (evidence "
             f"{duration(r['steps']['evidence_seconds'])}, comparison {duration(r['steps']['compare_seconds'])}, "
             f"final fit {duration(r['steps']['final_seconds'])}).", "",
             "## 1. Evidence", "", f"Table's pick: {adv['prior']['strategy']} (rule {adv['prior']['rule']}); "
             f"measured pick: **{adv['strategy']}**.", ""]
    lines += [f"- {w}" for w in adv["why"]]
    if ev:
        lines += ["", f"| strategy | expected dev {ev.get('metric')} | range | expected time |", "|---|---|---|---|"]
        for s, (lo, mid, hi) in adv["expected"].items():
            lines.append(f"| {s} | {mid:.3f} | {lo:.3f}-{hi:.3f} | {duration(adv['seconds'].get(s, 0))} |")
    lines += ["", "## 2. Comparison (choice/report.html)", ""]
    if r["compared"]:
        lines += ["| strategy | status | dev | train s | note |", "|---|---|---|---|---|"]
        lines += [f"| {c['strategy']} | {c['status']} | {'-' if c['dev_metric'] is None else format(c['dev_metric'], '.4f')} "
                  f"| {'-' if c['train_seconds'] is None else format(c['train_seconds'], ',.0f')} | {c['note'] or ''} |"
                  for c in r["compared"]]
    else:
        lines.append("No comparison ran (the budget covered only the final fit).")
    lines += ["", "## 3. Final fit", "", f"{r['strategy']}: {r['final_fit']}; {r['why']}.", ""]
    for split in ("dev", "test"):
        if r["final"].get(split):
            shown = ", ".join(f"{k} {v:.4f}" for k, v in r["final"][split].items() if isinstance(v, float))
            lines.append(f"- {split}: {shown}")
    return "\n".join(lines) + "\n"
