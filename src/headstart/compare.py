"""`headstart compare`: a bake-off of strategies on the user's own data, within a time budget.

Every candidate trains on the same rows (the split is written once to `out/split/` and handed to each)
with the same seed, in a child process of its own, so that its peak memory is its own and it can be
stopped at its time limit. Cheap strategies run first, so a budget that runs out cuts the costly ones.
The leaderboard then names the best choice under the user's constraints, preferring the cheaper of two
candidates that score about the same.

    runs/compare/
      split/                    train.jsonl, dev.jsonl (, test.jsonl): the rows every candidate used
      candidates/<strategy>/    a normal run directory (see headstart.runs) plus train.log
      leaderboard.json, leaderboard.csv, report.md, report.html, metric_vs_time.png, metric_vs_params.png

Example:
    >>> board = compare("reviews.csv", "runs/compare", ["features", "head"], budget_seconds=600)  # doctest: +SKIP
    >>> board.recommendation  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from headstart._compare_worker import run_child
from headstart.backbones import DEFAULT_BACKBONE
from headstart.data import TaskData, load_task
from headstart.errors import ConfigError, reading_saved
from headstart.evaluation import primary_metric
from headstart.options import convert, training_options
from headstart.runs.folder import claim
from headstart.strategies import OWN_COMMANDS, PLANNED, STRATEGIES, make_strategy

__all__ = ["Candidate", "Constraints", "Leaderboard", "RELATIVE_COST", "NEAR_BEST", "check_strategies",
           "choose", "compare", "format_settings", "order_strategies", "parse_budget", "parse_settings",
           "settable_options", "write_split"]

# Rough cost of each strategy relative to the others, only to set the running order: cheap ones first, so
# that a budget that runs out cuts the costly ones. Names missing here (new strategies) run last.
RELATIVE_COST: dict[str, int] = {"features": 0, "head": 1, "bitfit": 2, "ia3": 2, "prompt": 3, "prefix": 3,
                                 "lora": 3, "adapter": 4, "compacter": 4, "top-n": 5, "full": 9}
NEAR_BEST = 0.005  # 0.5 point of a 0-1 metric: a smaller gap is within the noise of a typical dev set
MB = 2**20  # "MB" as in the rest of headstart (peak_rss_mb): mebibytes
METRIC_NAMES = {"auc": "AUC", "macro_f1": "macro-F1", "accuracy": "accuracy"}
_BUDGET_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
# Training settings that stay shared by every candidate, even under `--set`: they make the comparison fair
# (seed, max_length) or belong to the comparison itself (the metric that ranks; prefix_cache changes speed
# only). Every other training setting of HeadstartClassifier can be set per candidate.
SHARED_TRAINING = ("seed", "max_length", "metric", "prefix_cache")


# 1) inputs: budget, strategies, constraints ------------------------------------------------------------


def parse_budget(text: str) -> float:
    """Seconds in a duration such as "90s", "20m", "1h" or "1h30m".

    A bare number is refused: "20" could mean seconds or minutes, and guessing wrong costs an hour.

    Example:
        >>> parse_budget("1h30m")
        5400.0
    """
    compact = text.strip().lower().replace(" ", "")
    parts = _BUDGET_PART.findall(compact)
    units = [unit for _, unit in parts]
    well_formed = "".join(n + u for n, u in parts) == compact and units == sorted(set(units), key="hms".index)
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts) if parts and well_formed else 0.0
    if seconds <= 0:
        raise ConfigError(f"cannot read the time budget {text!r}.",
                          expected="a positive duration with units: 90s, 20m, 1h or 1h30m",
                          found=repr(text), fix="pass e.g. --budget 20m (h: hours, m: minutes, s: seconds)")
    return seconds


def check_strategies(names: str | Iterable[str]) -> list[str]:
    """The requested strategies (a comma-separated string or a list), duplicates dropped, each checked
    against the registry as it is now, so that a newly registered strategy works without a change here."""
    given = names.split(",") if isinstance(names, str) else list(names)
    wanted = list(dict.fromkeys(name.strip() for name in given if name.strip()))
    unknown = [name for name in wanted if name not in STRATEGIES]
    if wanted and not unknown:
        return wanted
    problems = [f"{name!r} is not built yet ({PLANNED[name]})" if name in PLANNED
                else f"{name!r} has its own command (`{OWN_COMMANDS[name].format(data='DATA')}`)"
                if name in OWN_COMMANDS else f"{name!r} is not a strategy" for name in unknown]
    raise ConfigError("; ".join(problems) + "." if problems else "no strategy to compare.",
                      expected="comma-separated names among " + ", ".join(STRATEGIES),
                      found=repr(names if isinstance(names, str) else ",".join(given)),
                      fix="keep the built ones, e.g. --strategies " + ",".join(STRATEGIES)
                      + " (`headstart models` lists them)")


def order_strategies(names: Iterable[str]) -> list[str]:
    """Cheapest first (RELATIVE_COST); unknown names last, in the order given.

    Example:
        >>> order_strategies(["full", "my-new-one", "head", "features"])
        ['features', 'head', 'full', 'my-new-one']
    """
    return sorted(names, key=lambda name: RELATIVE_COST.get(name, math.inf))


@dataclass(frozen=True)
class Constraints:
    """The user's limits; a candidate over any of them cannot be the recommendation.

    Args:
        max_seconds: training time (the run's `train_seconds`).
        max_memory_mb: peak resident memory of the candidate's process.
        max_params: trainable parameters.
        max_adapter_mb: size on disk of the saved `model/` folder.
    """

    max_seconds: float | None = None
    max_memory_mb: float | None = None
    max_params: int | None = None
    max_adapter_mb: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                flag = "--" + f.name.replace("_", "-")
                raise ConfigError(f"invalid value for {f.name}.", expected="a positive number",
                                  found=repr(value), fix=f"pass {flag} above 0, or leave it out")

    def _checks(self, row: Candidate) -> list[tuple[str, float | None, float | None, str]]:
        adapter_mb = None if row.adapter_bytes is None else row.adapter_bytes / MB
        return [("train time", row.train_seconds, self.max_seconds, " s"),
                ("peak memory", row.peak_memory_mb, self.max_memory_mb, " MB"),
                ("trainable parameters", row.trainable_params, self.max_params, ""),
                ("adapter size", adapter_mb, self.max_adapter_mb, " MB")]

    def violations(self, row: Candidate) -> list[str]:
        """What the row breaks, in words, e.g. ["train time 41.2 s > 30 s"]; an unmeasured value breaks
        a limit, since it cannot be shown to meet it."""
        return [f"{name} {_num(value)}{unit} > {_num(limit)}{unit}" if value is not None else f"{name} unknown"
                for name, value, limit, unit in self._checks(row)
                if limit is not None and (value is None or value > limit)]

    def describe(self) -> str:
        """E.g. "train time <= 30 s, peak memory <= 2,000 MB", or "none"."""
        limits = [f"{name} <= {_num(limit)}{unit}" for name, _, limit, unit in self._checks(Candidate("", ""))
                  if limit is not None]
        return ", ".join(limits) or "none"


def settable_options(strategy: str) -> dict[str, object]:
    """What `--set STRATEGY.OPTION=VALUE` may change for one strategy, with each option's type: the
    strategy's own typed options (rank, top_n, ...) and the training settings not in SHARED_TRAINING
    (both from their one declaration, headstart.options)."""
    from headstart.options import options_of

    own = options_of(STRATEGIES[strategy].options_cls, strategy, none_defaults=True)
    shared = {k: o for k, o in training_options().items() if k not in SHARED_TRAINING}
    return {name: o.type for name, o in sorted(own.items())} | {name: o.type for name, o in shared.items()}


def parse_settings(items: Iterable[str], strategies: Iterable[str]) -> dict[str, dict]:
    """Read `--set STRATEGY.OPTION=VALUE` items into {strategy: {option: typed value}}, checked before any
    candidate runs: the strategy must be a candidate, the option one it has (`settable_options`), and the
    value of the option's type and range.

    Example:
        >>> parse_settings(["lora.rank=16", "lora.lr=2e-3", "top-n.top_n=3"], ["lora", "top-n"])
        {'lora': {'rank': 16, 'lr': 0.002}, 'top-n': {'top_n': 3}}
    """
    from headstart.config import TrainConfig

    names = list(strategies)
    settings: dict[str, dict] = {}
    for item in items:
        head, eq, text = item.partition("=")
        name, dot, option = head.strip().rpartition(".")
        if not eq or not dot or not name or not option:
            raise ConfigError(f"cannot read the setting {item!r}.", expected="STRATEGY.OPTION=VALUE",
                              found=repr(item), fix="write e.g. --set lora.rank=16")
        if name not in names:
            raise ConfigError(f"the setting {item!r} names {name!r}, which is not a candidate here.",
                              expected="one of " + ", ".join(names), found=repr(name),
                              fix=f"add {name} to --strategies, or fix the name")
        allowed = settable_options(name)
        option = option.strip().replace("-", "_")
        if option not in allowed:
            raise ConfigError(f"{name!r} has no setting {option!r}.", expected="one of " + ", ".join(allowed),
                              found=repr(option), fix="use one of those names")
        try:
            value = convert(text.strip(), allowed[option])
        except ValueError as exc:
            raise ConfigError(f"cannot read the value of {item!r}.", expected=f"{option}: {exc}",
                              found=repr(text), fix=f"write e.g. --set {name}.{option}=VALUE") from None
        settings.setdefault(name, {})[option] = value
    for name, chosen in settings.items():  # ranges and choices, checked where the options are defined
        training = [k for k in training_options() if k not in SHARED_TRAINING]
        make_strategy(name, **{k: v for k, v in chosen.items() if k not in training})
        TrainConfig(**{k: v for k, v in chosen.items() if k in training})
    return settings


def format_settings(options: dict) -> str:
    """One candidate's own settings as "rank=16, lr=0.002"."""
    return ", ".join(f"{k}={v}" for k, v in options.items())


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.3g}"


# 2) the leaderboard and the choice ---------------------------------------------------------------------


@dataclass
class Candidate:
    """One row of the leaderboard.

    `status` is "finished", "failed" (`note`: the error's last line), "stopped" (killed at its time limit)
    or "skipped" (the budget was spent before it could start). Metrics are on the shared dev and test rows,
    for the task's primary metric.
    """

    strategy: str
    status: str
    note: str = ""
    dev_metric: float | None = None
    test_metric: float | None = None
    train_seconds: float | None = None
    process_seconds: float | None = None
    peak_memory_mb: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    adapter_bytes: int | None = None
    run_dir: str | None = None
    violations: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # this candidate's own --set values

    @property
    def label(self) -> str:
        """The strategy with its own settings, e.g. "lora (rank=16, lr=0.002)"."""
        return f"{self.strategy} ({format_settings(self.options)})" if self.options else self.strategy

    @property
    def outcome(self) -> str:
        """E.g. "finished", "stopped: over budget (limit 60 s)"."""
        return f"{self.status}: {self.note}" if self.note else self.status


def choose(rows: list[Candidate], constraints: Constraints, metric: str,
           tolerance: float = NEAR_BEST) -> tuple[str | None, str]:
    """Pick the recommendation and say why in one sentence.

    Best = the highest dev metric among finished candidates that meet the constraints; among those within
    `tolerance` of it, the fastest to train wins, since a gap that small would not survive another seed.
    Ranking is on dev, never on test, so the test score of the choice stays an honest estimate.

    Returns:
        (the chosen strategy or None, the sentence).
    """
    label = f"dev {METRIC_NAMES.get(metric, metric)}"
    finished = [r for r in rows if r.status == "finished" and r.dev_metric is not None]
    if not finished:
        return None, ("No candidate finished, so there is nothing to recommend: give --budget more time "
                      "or fix the failures listed in the leaderboard.")
    eligible = [r for r in finished if not constraints.violations(r)]
    if not eligible:
        top = max(finished, key=lambda r: r.dev_metric)
        return None, (f"No finished candidate meets the constraints ({constraints.describe()}); without them "
                      f"the best is {top.label} ({label} {top.dev_metric:.4f}, {_secs(top)} of training), "
                      f"so relax a --max-* option.")
    best = max(eligible, key=lambda r: r.dev_metric)
    near = [r for r in eligible if r.dev_metric >= best.dev_metric - tolerance]
    pick = min(near, key=lambda r: (r.train_seconds, -r.dev_metric))
    under = "" if constraints.describe() == "none" else f" under your constraints ({constraints.describe()})"
    if pick is best:
        return pick.strategy, (f"Best choice{under}: {pick.label}, {label} {pick.dev_metric:.4f} with "
                               f"{_secs(pick)} of training and {pick.trainable_params:,} trainable parameters.")
    return pick.strategy, (f"Best choice{under}: {pick.label}, whose {label} of {pick.dev_metric:.4f} is "
                           f"within {100 * tolerance:g} point of the best ({best.label}, "
                           f"{best.dev_metric:.4f}) and which trains in {_secs(pick)} instead of {_secs(best)}.")


def _secs(row: Candidate) -> str:
    return f"{row.train_seconds:,.1f} s"


@dataclass
class Leaderboard:
    """The result of a comparison: the rows in running order, the choice and its sentence, and what every
    candidate shared (split, seed, settings), as written to leaderboard.json."""

    rows: list[Candidate]
    primary_metric: str
    choice: str | None
    recommendation: str
    constraints: Constraints
    budget_seconds: float
    elapsed_seconds: float
    split: dict
    baselines: dict
    settings: dict
    ensemble: dict = field(default_factory=dict)  # what `_ensemble` tried and chose

    def to_dict(self) -> dict:
        rows = [asdict(r) | {"label": r.label, "outcome": r.outcome,
                             "meets_constraints": r.status == "finished" and not r.violations} for r in self.rows]
        return {"primary_metric": self.primary_metric, "choice": self.choice,
                "recommendation": self.recommendation, "near_best": NEAR_BEST,
                "constraints": asdict(self.constraints), "budget_seconds": self.budget_seconds,
                "elapsed_seconds": round(self.elapsed_seconds, 1), "rows": rows, "split": self.split,
                "baselines": self.baselines, "settings": self.settings, "ensemble": self.ensemble}


# 3) the shared split ------------------------------------------------------------------------------------


def write_split(task: TaskData, folder: Path) -> dict[str, Path]:
    """Write the rows every candidate trains and is scored on, as JSON lines {"text", "label"} (a list of
    labels for multi-label data), so no candidate draws a dev split of its own. Returns split -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, split in (("train", task.train), ("dev", task.dev), ("test", task.test)):
        if split is None:
            continue
        files[name] = folder / f"{name}.jsonl"
        with files[name].open("w", encoding="utf-8") as fh:
            for text, label in zip(split.texts, split.labels, strict=True):
                # ASCII escapes: a raw U+2028 inside a text would read as a line break to some readers
                fh.write(json.dumps({"text": text, "label": list(label) if isinstance(label, tuple) else label})
                         + "\n")
    return files


def _split_record(task: TaskData, files: dict[str, Path], out: Path, seed: int) -> dict:
    rows = {"train": task.train, "dev": task.dev, "test": task.test}
    record = {name: {"file": path.relative_to(out).as_posix(), "rows": len(rows[name]),
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for name, path in files.items()}
    n_all = len(task.train) + len(task.dev)
    how = (f"held out from the training data: {len(task.dev):,} of {n_all:,} rows, stratified, seed {seed}"
           if task.dev_from_train else "given by --dev")
    return {"files": record, "dev": how, "labels": task.labels, "multilabel": task.multilabel}


# 4) one candidate, in a child process (headstart._compare_worker) --------------------------------------


def _run_candidate(name: str, out: Path, files: dict[str, Path], options: dict, metric: str,
                   limit: float) -> Candidate:
    folder = out / "candidates" / name
    folder.mkdir(parents=True)
    spec = {"train": str(files["train"].resolve()), "out": str(folder.resolve()),
            "dev": str(files["dev"].resolve()), "test": str(files["test"].resolve()) if "test" in files else None,
            "strategy": name, **options}
    child = run_child(spec, folder / "train.log", limit)
    measured = {"process_seconds": round(child.seconds, 1), "peak_memory_mb": child.peak_memory_mb,
                "run_dir": folder.relative_to(out).as_posix()}
    if child.stopped:
        return Candidate(name, "stopped", f"over budget (limit {limit:,.0f} s)", **measured)
    if child.exit_code != 0 or not (folder / "metrics.json").exists():
        return Candidate(name, "failed", _last_line(folder / "train.log") or f"exit code {child.exit_code}",
                         **measured)
    metrics = json.loads((folder / "metrics.json").read_text())
    return Candidate(name, "finished", dev_metric=metrics["dev"].get(metric),
                     test_metric=(metrics.get("test") or {}).get(metric), train_seconds=metrics["train_seconds"],
                     trainable_params=metrics["trainable_params"], total_params=metrics["total_params"],
                     adapter_bytes=_folder_bytes(folder / "model"), **measured)


def _ensemble(out: Path, task: TaskData, rows: list[Candidate], metric: str) -> tuple[Candidate | None, dict]:
    """Average the finished candidates' dev probabilities (their predictions.npz, held out) with
    `select_top_k`; when two or more make the best average on dev, save the ensemble in out/ensemble and
    return its leaderboard row. The dict records what was tried (dev score of each top-k average)."""
    import numpy as np

    from headstart.ensemble import save_ensemble, select_top_k
    from headstart.evaluation import classification_metrics
    from headstart.runs import PREDICTIONS

    labels = list(task.labels)
    done, proba = {}, {}
    for r in rows:
        if r.status == "finished" and (out / r.run_dir / PREDICTIONS).is_file():
            with reading_saved(out / r.run_dir, "candidate run"):  # plain arrays: allow_pickle stays off
                saved = dict(np.load(out / r.run_dir / PREDICTIONS, allow_pickle=False))
            if [str(x) for x in saved["labels"]] == labels:  # columns in the comparison's label order
                done[r.strategy], proba[r.strategy] = r, saved
    if len(done) < 2:
        return None, {"built": False, "why": "fewer than two finished candidates"}
    gold = {split: getattr(task, split).encode(labels, task.multilabel) for split in ("dev", "test")
            if getattr(task, split) is not None}

    def score(split: str, p: np.ndarray) -> float:
        value = classification_metrics(gold[split], p, labels, multilabel=task.multilabel).get(metric)
        return -math.inf if value is None else float(value)

    members, by_k = select_top_k({name: p["dev"] for name, p in proba.items()}, lambda p: score("dev", p))
    tried = {"ranked_by_dev": sorted(done, key=lambda n: -score("dev", proba[n]["dev"])),
             "dev_by_k": [round(v, 4) for v in by_k], "members": members}
    if len(members) < 2:
        return None, tried | {"built": False, "why": "no average scored above the best single candidate on dev"}
    mean = {split: np.mean([proba[name][split] for name in members], axis=0) for split in gold}
    parts = [done[name] for name in members]
    save_ensemble(out / "ensemble", [out / r.run_dir / "model" for r in parts], members, labels, task.multilabel)
    row = Candidate("ensemble", "finished", dev_metric=score("dev", mean["dev"]),
                    test_metric=score("test", mean["test"]) if "test" in mean else None,
                    train_seconds=sum(r.train_seconds for r in parts),
                    process_seconds=sum(r.process_seconds for r in parts),
                    peak_memory_mb=max(r.peak_memory_mb for r in parts),
                    trainable_params=sum(r.trainable_params for r in parts),
                    total_params=sum(r.total_params for r in parts),
                    adapter_bytes=sum(r.adapter_bytes or 0 for r in parts), run_dir="ensemble",
                    options={"members": "+".join(members)})
    return row, tried | {"built": True, "folder": "ensemble"}


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _folder_bytes(folder: Path) -> int | None:
    """Bytes on disk of a saved model folder (a frozen backbone is referenced there, not copied)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else None


def _baselines(out: Path, rows: list[Candidate], metric: str) -> dict:
    """The baselines' primary metric, from the first finished run (every run scores them on the same
    rows): on the test rows when there are some, else on dev."""
    first = next((r for r in rows if r.status == "finished"), None)
    if first is None:
        return {}
    metrics = json.loads((out / first.run_dir / "metrics.json").read_text())
    return {"split": metrics["evaluated_on"],
            "values": {name: m.get(metric) for name, m in metrics.get("baselines", {}).items()}}


# 5) the bake-off -----------------------------------------------------------------------------------------


def compare(
    train: str | Path,
    out: str | Path,
    strategies: str | Iterable[str] | None = None,
    budget_seconds: float = 1200.0,
    *,
    dev: str | Path | None = None,
    test: str | Path | None = None,
    text_column: str = "text",
    label_column: str = "label",
    label_sep: str | None = None,
    backbone: str = DEFAULT_BACKBONE,
    seed: int = 0,
    max_length: int = 128,
    epochs: int | None = None,
    constraints: Constraints | None = None,
    settings: Iterable[str] | dict[str, dict] = (),
    ensemble: bool = True,
    overwrite: bool = False,
    on_event: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Train each strategy on the same split with the same seed, cheapest first, within a time budget;
    write the leaderboard and its report into `out`.

    Args:
        train, dev, test: data files (dev defaults to a stratified 10% of train, drawn once for all).
        out: the comparison's folder.
        strategies: registered names (list or "a,b,c"); None runs every registered strategy.
        budget_seconds: wall time for all candidates; each may use what is left when it starts, is
            stopped past it, and those not started when it is spent are skipped.
        backbone, seed, max_length, epochs: shared by every candidate (epochs None: each strategy's own).
        constraints: limits the recommendation must meet.
        settings: one candidate's own options, as "STRATEGY.OPTION=VALUE" items (`parse_settings`) or
            {strategy: {option: value}}, e.g. ["lora.rank=16", "top-n.top_n=3", "full.epochs=2"].
        ensemble: also try the mean of the best candidates' probabilities (no extra training); when an
            average of two or more scores best on dev, it joins the leaderboard as "ensemble" and is saved
            in out/ensemble (see headstart.ensemble).
        overwrite: replace an earlier comparison in `out`.
        on_event: called with a line of progress ("head: finished in 12 s").

    Returns:
        the Leaderboard, also written to out/leaderboard.json (+ .csv, report.md, report.html, plots).
    """

    start = time.perf_counter()
    names = order_strategies(check_strategies(list(STRATEGIES) if strategies is None else strategies))
    if not budget_seconds > 0:
        raise ConfigError("the time budget must be positive.", expected="seconds > 0", found=repr(budget_seconds),
                          fix="pass budget_seconds=1200 (20 minutes)")
    constraints = constraints or Constraints()
    own = parse_settings(_setting_items(settings), names)
    with claim(out, kind="compare", overwrite=overwrite, resumable=False) as folder:
        out = folder.path
        task = load_task(train, dev=dev, test=test, text_column=text_column, label_column=label_column,
                         label_sep=label_sep, seed=seed)
        folder.begin()
        board = _bake_off(task, out, names, start, budget_seconds, constraints, own, {
            "backbone": backbone, "seed": seed, "max_length": max_length, "epochs": epochs},
            {"train": str(train), "dev": _opt(dev), "test": _opt(test)}, ensemble, on_event)
        folder.finish()
        return board


def _bake_off(task: TaskData, out: Path, names: list[str], start: float, budget_seconds: float,
              constraints: Constraints, own: dict, options: dict, data: dict, ensemble: bool,
              on_event) -> Leaderboard:
    from headstart.evaluation.compare_report import write_compare_report

    backbone, seed, max_length, epochs = (options[k] for k in ("backbone", "seed", "max_length", "epochs"))
    files = write_split(task, out / "split")
    metric = primary_metric(len(task.labels), task.multilabel)
    rows = []
    for name in names:
        left = budget_seconds - (time.perf_counter() - start)
        _say(on_event, f"{name}: running (at most {left:,.0f} s)" if left > 0 else f"{name}: skipped")
        row = (_run_candidate(name, out, files, options | own.get(name, {}), metric, left) if left > 0
               else Candidate(name, "skipped", "budget spent"))
        row.options = own.get(name, {})
        row.violations = constraints.violations(row) if row.status == "finished" else []
        rows.append(row)
        took = "" if row.process_seconds is None else f" after {row.process_seconds:,.1f} s"
        _say(on_event, f"{name}: {row.outcome}{took}")
    combined, tried = _ensemble(out, task, rows, metric) if ensemble else (None, {"built": False, "why": "off"})
    if combined is not None:
        combined.violations = constraints.violations(combined)
        rows.append(combined)
        _say(on_event, f"ensemble: {' + '.join(tried['members'])}, dev {combined.dev_metric:.4f}")
    choice, sentence = choose(rows, constraints, metric)
    board = Leaderboard(rows, metric, choice, sentence, constraints, budget_seconds, time.perf_counter() - start,
                        _split_record(task, files, out, seed), _baselines(out, rows, metric),
                        {"backbone": backbone, "seed": seed, "max_length": max_length, "epochs": epochs,
                         "per_strategy": own, "data": data}, tried)
    write_compare_report(board.to_dict(), out)
    return board


def _setting_items(settings: Iterable[str] | dict[str, dict]) -> list[str]:
    """--set items from either form of `settings`."""
    if isinstance(settings, dict):
        return [f"{name}.{k}={','.join(v) if isinstance(v, list) else v}" for name, chosen in settings.items()
                for k, v in chosen.items()]
    return list(settings)


def _say(on_event: Callable[[str], None] | None, line: str) -> None:
    if on_event is not None:
        on_event(line)


def _opt(path: str | Path | None) -> str | None:
    return None if path is None else str(path)
