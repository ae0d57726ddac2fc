"""`headstart compare`: a bake-off of strategies on the user's own data, within a time budget, by successive
halving (choice/compare/scheduler.py) on costs measured on this machine (choice/evidence.py).

Every candidate trains on the same rows (the split is written once to `out/split/`) with the same seed, in a
child process of its own (its own peak memory; stopped at the budget; dies with the parent). A rung trains a
candidate to a number of epochs and pauses it at its checkpoint; survivors resume from there. Candidates
train without the refit on dev rows: they are ranked on dev, which must stay held out (`headstart auto`
refits the winner). A comparison killed half-way is resumed by running the same command again: finished
candidates are reused, the others resume from their checkpoints (`state.json` records the split's hashes
and the settings, and a mismatch is refused).

    runs/compare/
      split/                    train.jsonl, dev.jsonl (, test.jsonl): the rows every candidate used
      candidates/<strategy>/    a run directory (see headstart.runs) plus train.log
      state.json                the scheduler's record, written after every job
      leaderboard.json, leaderboard.csv, report.md, report.html, metric_vs_time.png, metric_vs_params.png
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

from headstart.backbones import DEFAULT_BACKBONE
from headstart.choice.compare.board import Candidate, Leaderboard, choose
from headstart.choice.compare.combine import combine
from headstart.choice.compare.report import write_compare_report
from headstart.choice.compare.scheduler import Arm, Scheduler
from headstart.choice.compare.settings import Constraints, check_strategies, parse_settings, setting_items
from headstart.choice.compare.split import split_record, write_split
from headstart.choice.compare.worker import PAUSE, run_child
from headstart.choice.data import read_task
from headstart.data import TaskData
from headstart.errors import ConfigError, HeadstartError
from headstart.evaluation import GREATER_IS_BETTER, primary_metric
from headstart.runs.folder import LOCK, claim
from headstart.strategies import DEFAULT_STRATEGY, STRATEGIES
from headstart.training.progress import duration

__all__ = ["compare", "DEFAULT_CANDIDATES"]

DEFAULT_CANDIDATES = ("features", "head", "top-n", "full", "lora", "bitfit")
STATE = "state.json"


def compare(train, out: str | Path, strategies: str | Iterable[str] | None = None, budget_seconds: float = 1200.0,
            *, dev=None, test=None, text_column: str | None = None, label_column: str = "label",
            label_sep: str | None = None, backbone: str = DEFAULT_BACKBONE, seed: int = 0, max_length: int = 128,
            epochs: int | None = None, constraints: Constraints | None = None,
            settings: Iterable[str] | dict[str, dict] = (), ensemble: bool = True, overwrite: bool = False,
            on_event: Callable[[str], None] | None = None, protect: Iterable[str] = (),
            task: TaskData | None = None) -> Leaderboard:
    """Compare strategies on one split within `budget_seconds`; write the leaderboard and its report.

    Args:
        train, dev, test: data files (dev defaults to a stratified 10% of train, drawn once for all).
        strategies: registered names (list or "a,b,c"); None: DEFAULT_CANDIDATES.
        budget_seconds: wall time for everything; no job starts that its measured cost cannot fit.
        backbone, seed, max_length, epochs: shared by every candidate (epochs None: each strategy's own).
        constraints: limits the recommendation must meet.
        settings: one candidate's own options, "STRATEGY.OPTION=VALUE" items or {strategy: {option: value}}.
        ensemble: also try the mean of the best candidates' probabilities (no extra training).
        overwrite: replace an earlier comparison in `out` (refused while one of its workers still runs).
        on_event: called with each line of progress.
        protect: strategies halving never drops (besides headstart's default strategy), e.g. the pick of
            `recommend`.
        task: the data already loaded (what `headstart auto` passes); else read from `train`.
    """
    start = time.perf_counter()
    names = check_strategies(DEFAULT_CANDIDATES if strategies is None else strategies)
    if not budget_seconds > 0:
        raise ConfigError("the time budget must be positive.", expected="seconds > 0", found=repr(budget_seconds),
                          fix="pass budget_seconds=1200 (20 minutes)")
    constraints = constraints or Constraints()
    own = parse_settings(setting_items(settings), names)
    shared = {"backbone": backbone, "seed": seed, "max_length": max_length, "epochs": epochs}
    say = on_event or (lambda line: None)
    with claim(out, kind="compare", overwrite=overwrite, resumable=False) as folder:
        out = folder.path
        task = task or read_task(train, dev, test, text_column=text_column, label_column=label_column,
                                 label_sep=label_sep, seed=seed)
        if overwrite:
            _no_worker_running(out)
        folder.begin()
        files = write_split(task, out / "split")
        record = split_record(task, files, out, seed)
        arms = _arms(out, names, task, record, shared, own, protect, say)
        metric = primary_metric(len(task.labels), task.multilabel)
        sched = Scheduler(arms, budget_seconds, greater_is_better=GREATER_IS_BETTER[metric])
        pairs = bool(task.train.texts) and hasattr(task.train.texts[0], "b")  # PairText (tasks/pairs)
        options = shared | {"text_column": "text_a,text_b" if pairs else "text", "refit": False, "progress": True}
        _run(sched, out, files, options, own, metric, start, say, record)
        rows = [_row(arm, out, metric, own.get(arm.name, {})) for arm in arms]
        for row in rows:
            row.violations = constraints.violations(row) if row.status == "finished" else []
        combined, tried = combine(out, task, rows, metric) if ensemble else (None, {"built": False, "why": "off"})
        if combined is not None:
            combined.violations = constraints.violations(combined)
            rows.append(combined)
            say(f"ensemble: {' + '.join(tried['members'])}, dev {combined.dev_metric:.4f}")
        choice, sentence = choose(rows, constraints, metric)
        board = Leaderboard(rows, metric, choice, sentence, constraints, budget_seconds, time.perf_counter() - start,
                            record, _baselines(out, rows, metric),
                            shared | {"per_strategy": own, "data": {"train": str(train), "dev": _opt(dev),
                                                                   "test": _opt(test)},
                                      "schedule": [asdict(a) for a in arms]}, tried)
        write_compare_report(board.to_dict(), out)
        folder.finish()
        return board


def _no_worker_running(out: Path) -> None:
    """--overwrite deletes the candidates: refused while a worker of an earlier comparison still writes."""
    from filelock import FileLock, Timeout

    for lock in (out / "candidates").glob(f"*/{LOCK}"):
        held = FileLock(str(lock))
        try:
            held.acquire(timeout=0)
            held.release()
        except Timeout:
            raise HeadstartError(f"a worker still writes into {lock.parent}; nothing was deleted.",
                                 expected="no comparison running in --out", found=f"the lock {lock} is held",
                                 fix="wait for it, or stop that comparison first") from None


def _arms(out: Path, names: list[str], task: TaskData, record: dict, shared: dict, own: dict, protect, say) -> list:
    """One arm per candidate: from state.json when an earlier run of the same comparison left it, else with
    costs measured here."""
    saved = _saved_state(out, record, shared, own)
    todo = [n for n in names if n not in saved]
    costs = {}
    if todo:
        from headstart.choice.evidence import measure_costs

        epochs = {n: own.get(n, {}).get("epochs") or shared["epochs"] for n in todo}
        costs = measure_costs(task, todo, backbone=shared["backbone"], max_length=shared["max_length"],
                              epochs={k: v for k, v in epochs.items() if v}, seed=shared["seed"])
        say("measured costs here: " + ", ".join(f"{n} ~{duration(costs[n].total)}" for n in todo))
    protected = {DEFAULT_STRATEGY, *protect}
    arms = []
    for name in names:
        if name in saved:
            arms.append(Arm(**saved[name]))
            continue
        c = costs[name]
        arms.append(Arm(name, c.epochs, c.seconds_per_epoch, c.overhead, protected=name in protected))
    return arms


def _saved_state(out: Path, record: dict, shared: dict, own: dict) -> dict[str, dict]:
    path = out / STATE
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    now = {"split": {k: v["sha256"] for k, v in record["files"].items()}, "shared": shared, "own": own}
    if {k: state.get(k) for k in now} != now:
        raise HeadstartError(f"{out} holds an unfinished comparison of other data or settings.",
                             expected="the same data, split and settings to resume it",
                             found="a different split or other settings in state.json",
                             fix="run it with the same options, or pass --overwrite to start over")
    reused = {a["name"]: a for a in state["arms"] if a["state"] in ("finished", "paused", "failed", "dropped")}
    for arm in reused.values():
        arm["history"] = [tuple(h) for h in arm.get("history", [])]
    return reused


def _save_state(out: Path, sched: Scheduler, record: dict, options: dict, own: dict) -> None:
    shared = {k: options[k] for k in ("backbone", "seed", "max_length", "epochs")}
    state = {"split": {k: v["sha256"] for k, v in record["files"].items()}, "shared": shared, "own": own,
             "arms": [asdict(a) for a in sched.arms]}
    tmp = out / (STATE + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(out / STATE)


def _run(sched: Scheduler, out: Path, files: dict, options: dict, own: dict, metric: str, start: float, say,
         record: dict) -> None:
    """Run the scheduler's jobs until it has none; a line of progress after each, with the time left."""
    while (job := sched.next_job(time.perf_counter() - start)) is not None:
        arm, target = job
        left = sched.budget - (time.perf_counter() - start)
        say(f"{arm.name}: training to epoch {target} of {arm.epochs} (about {duration(arm.cost(target))}; "
            f"{duration(left)} of the budget left)")
        folder = out / "candidates" / arm.name
        resume = (folder / "checkpoint.safetensors").exists()
        folder.mkdir(parents=True, exist_ok=True)
        spec = {"train": str(files["train"].resolve()), "out": str(folder.resolve()),
                "dev": str(files["dev"].resolve()), "test": str(files["test"].resolve()) if "test" in files else None,
                "strategy": arm.name, "resume": resume, "pause_after": None if target >= arm.epochs else target,
                **options, **own.get(arm.name, {})}
        child = run_child(spec, folder / "train.log", left, on_line=lambda line, n=arm.name: say(f"  {n}: {line}"))
        _report(sched, arm, folder, child, metric, left)
        _save_state(out, sched, record, options, own)
        if arm.state == "paused":
            say(f"{arm.name}: epoch {arm.done} of {arm.epochs}, best dev {metric} {arm.score:.4f} "
                f"({child.seconds:,.0f} s)")
        elif arm.score is not None:
            say(f"{arm.name}: {arm.state}, dev {metric} {arm.score:.4f} ({child.seconds:,.0f} s)")
        else:
            say(f"{arm.name}: {arm.state} {arm.note}".rstrip())
    for arm in sched.arms:
        if arm.state in ("dropped", "skipped", "stopped") and arm.note:
            say(f"{arm.name}: {arm.note}")


def _report(sched: Scheduler, arm: Arm, folder: Path, child, metric: str, limit: float) -> None:
    if child.stopped:
        sched.report(arm, state="stopped", done=arm.done, score=arm.score, seconds=child.seconds,
                     note=f"stopped at the end of the budget ({limit:,.0f} s were left when it started)")
    elif (folder / PAUSE).exists() and child.exit_code == 0:
        paused = json.loads((folder / PAUSE).read_text())
        sched.report(arm, state="paused", done=paused["epochs_done"], score=paused["best_metric"],
                     seconds=child.seconds)
    elif child.exit_code == 0 and (folder / "metrics.json").exists():
        metrics = json.loads((folder / "metrics.json").read_text())
        sched.report(arm, state="finished", done=max(arm.done, metrics.get("epochs_run", arm.epochs)),
                     score=metrics["dev"].get(metric), seconds=child.seconds)
    else:
        sched.report(arm, state="failed", done=arm.done, score=None, seconds=child.seconds,
                     note=_last_line(folder / "train.log") or f"exit code {child.exit_code}")


def _row(arm: Arm, out: Path, metric: str, options: dict) -> Candidate:
    folder = out / "candidates" / arm.name
    status = {"paused": "stopped", "waiting": "skipped"}.get(arm.state, arm.state)
    note = arm.note or ("the budget ended before its schedule did" if arm.state == "paused" else "")
    base = {"process_seconds": round(arm.spent, 1), "run_dir": folder.relative_to(out).as_posix(),
            "options": options, "epochs_done": arm.done, "epochs": arm.epochs}
    if status != "finished":
        return Candidate(arm.name, status, note, dev_metric=arm.score, **base)
    metrics = json.loads((folder / "metrics.json").read_text())
    return Candidate(arm.name, "finished", note, dev_metric=metrics["dev"].get(metric),
                     test_metric=(metrics.get("test") or {}).get(metric), train_seconds=metrics["train_seconds"],
                     peak_memory_mb=metrics.get("peak_rss_mb"), trainable_params=metrics["trainable_params"],
                     total_params=metrics["total_params"], adapter_bytes=_folder_bytes(folder / "model"), **base)


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
    return lines[-1][:300] if lines else ""


def _folder_bytes(folder: Path) -> int | None:
    """Bytes on disk of a saved model folder (a frozen backbone is referenced there, not copied)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else None


def _baselines(out: Path, rows: list[Candidate], metric: str) -> dict:
    """The baselines' primary metric, from the first finished run (every run scores them on the same rows)."""
    first = next((r for r in rows if r.status == "finished" and r.strategy in STRATEGIES), None)
    if first is None:
        return {}
    metrics = json.loads((out / first.run_dir / "metrics.json").read_text())
    return {"split": metrics["evaluated_on"],
            "values": {name: m.get(metric) for name, m in metrics.get("baselines", {}).items()}}


def _opt(path) -> str | None:
    return None if path is None else str(path)
