"""The report of `headstart compare`: leaderboard.json / .csv, two plots, report.md and report.html.

It reads the leaderboard as a plain dict (`Leaderboard.to_dict()`, i.e. what leaderboard.json holds), so a
saved comparison can be rendered again. The Markdown and HTML come from the same blocks and renderers as
the run report (evaluation/report.py), so both files say the same thing and escape user text alike.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from matplotlib.figure import Figure

from headstart.choice.compare.settings import MB, METRIC_NAMES, Constraints, format_settings
from headstart.evaluation.plots import _number, _save
from headstart.evaluation.report import (
    _BASELINE_NAMES,
    _Block,
    _duration,
    _fmt,
    _Image,
    _score,
    _Section,
    _Table,
    _to_html,
    _to_markdown,
)

__all__ = ["write_compare_report", "format_bytes"]

_CSV_COLUMNS = ("strategy", "outcome", "dev_metric", "test_metric", "train_seconds", "process_seconds",
                "peak_memory_mb", "trainable_params", "total_params", "adapter_bytes", "meets_constraints",
                "violations", "run_dir")
_PLOTS = (("metric_vs_time.png", "train_seconds", "training time (s)", False),
          ("metric_vs_params.png", "trainable_params", "trainable parameters (log scale)", True))


def write_compare_report(board: dict, out: str | Path) -> tuple[Path, Path]:
    """Write leaderboard.json, leaderboard.csv, the two plots, report.md and report.html into `out`.

    Args:
        board: `Leaderboard.to_dict()`.
        out: the comparison's folder.

    Returns:
        (path of report.md, path of report.html).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.json").write_text(json.dumps(board, indent=2) + "\n")
    _write_csv(board, out / "leaderboard.csv")
    label = METRIC_NAMES.get(board["primary_metric"], board["primary_metric"])
    sections: list[_Section] = [
        ("Recommendation", _recommendation(board)),
        ("Leaderboard", _leaderboard(board, label)),
        ("Metric against cost", _plots(board, label, out)),
        ("Same split for every candidate", _split(board)),
        ("Settings", _settings(board)),
    ]
    train = Path(str(board["settings"]["data"]["train"])).name
    title = f"headstart compare: {sum(r['strategy'] != 'ensemble' for r in board['rows'])} strategies on {train}"
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(_to_markdown(title, sections), encoding="utf-8")
    html_path.write_text(_to_html(title, sections), encoding="utf-8")
    return md_path, html_path


def format_bytes(n: int | None) -> str:
    """E.g. "96.3 KB", "88.1 MB" (powers of 1024, like the memory figures)."""
    if n is None:
        return "n/a"
    for unit, size in (("GB", MB * 1024), ("MB", MB), ("KB", 1024)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} B"


def _write_csv(board: dict, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        metric = board["primary_metric"]
        writer.writerow([c.replace("metric", metric) for c in _CSV_COLUMNS])  # dev_auc, test_auc
        for row in board["rows"]:
            cells = {**row, "violations": "; ".join(row["violations"])}
            writer.writerow(["" if cells[c] is None else cells[c] for c in _CSV_COLUMNS])


# 1) sections -------------------------------------------------------------------------------------------


def _recommendation(board: dict) -> list[_Block]:
    constraints = Constraints(**board["constraints"]).describe()
    return [board["recommendation"],
            f"Constraints: {constraints}. Among candidates within {100 * board['near_best']:g} point of the "
            "best dev score, the fastest to train is preferred.", *_ensemble_note(board)]


def _ensemble_note(board: dict) -> list[_Block]:
    """What the ensemble step tried: the dev score of the mean of the top k candidates, k = 1, 2, ..."""
    tried = board.get("ensemble") or {}
    if not tried.get("dev_by_k"):
        return []
    ranked, scores = tried["ranked_by_dev"], tried["dev_by_k"]
    steps = "; ".join(f"{' + '.join(ranked[:k + 1])}: {v:.4f}" for k, v in enumerate(scores))
    verdict = (f"The ensemble of {' + '.join(tried['members'])} is saved in `ensemble/` (its dev score is "
               "optimistic: its members were chosen on dev; its test score is not)." if tried.get("built")
               else "No average beat the best single candidate on dev, so no ensemble was saved.")
    return [f"Ensemble (mean of the probabilities of the top k candidates, ranked on dev): dev scores {steps}. "
            + verdict]


def _leaderboard(board: dict, label: str) -> list[_Block]:
    has_test = "test" in board["split"]["files"]
    headers = ["Strategy", "Outcome", f"Dev {label}", *([f"Test {label}"] if has_test else []), "Train time",
               "Wall time", "Peak memory", "Trainable params", "Adapter size", "Constraints"]
    table = _Table(headers, [], numeric=frozenset(range(2, len(headers) - 1)))
    for i, row in enumerate(board["rows"]):
        scores = [_score(row["dev_metric"]), *([_score(row["test_metric"])] if has_test else [])]
        table.rows.append([row.get("label", row["strategy"]), row["outcome"], *scores, _duration(row["train_seconds"]),
                           _duration(row["process_seconds"]),
                           "n/a" if row["peak_memory_mb"] is None else f"{row['peak_memory_mb']:,.0f} MB",
                           _fmt(row["trainable_params"]), format_bytes(row["adapter_bytes"]), _verdict(row)])
        if row["strategy"] == board["choice"]:
            table.bold |= {(i, j) for j in range(len(headers))}
    table.rows += _baseline_rows(board, has_test, len(headers))
    return [table, f"The recommendation is in bold. Ranked on the dev {label} (the primary metric); test scores "
            "are shown for information and were not used to choose. Train time is the fit alone; wall time "
            "is the candidate's whole process (loading, training, evaluation, saving), which is what the "
            "budget counts. Adapter size is the saved model folder: a frozen backbone is referenced there, "
            "not copied."]


def _verdict(row: dict) -> str:
    if row["status"] != "finished":
        return "n/a"
    return "met" if not row["violations"] else "; ".join(row["violations"])


def _baseline_rows(board: dict, has_test: bool, width: int) -> list[list[str]]:
    """Baselines beside the candidates, in the column of the rows they were scored on."""
    baselines = board["baselines"]
    column = 3 if baselines.get("split") == "test" and has_test else 2
    rows = []
    for name, value in baselines.get("values", {}).items():
        cells = ["n/a"] * width
        cells[:2] = [_BASELINE_NAMES.get(name, name), "baseline"]
        cells[column] = _score(value)
        rows.append(cells)
    return rows


def _plots(board: dict, label: str, out: Path) -> list[_Block]:
    blocks: list[_Block] = []
    for file, key, x_label, log_x in _PLOTS:
        _plot(board, key, x_label, log_x, f"dev {label}", out / file)
        blocks.append(_Image(file, f"Dev {label} against {x_label}"))
    blocks.append("The recommendation is the orange star; dashed lines are the baselines (on dev rows only).")
    return blocks


def _split(board: dict) -> list[_Block]:
    split = board["split"]
    rows = [[name, info["file"], _fmt(info["rows"]), info["sha256"][:16]] for name, info in split["files"].items()]
    return [_Table(["Split", "File", "Rows", "SHA-256 (first 16)"], rows, frozenset({2})),
            f"Every candidate read exactly these files (its config.json names them), with seed "
            f"{board['settings']['seed']}. Dev rows: {split['dev']}.",
            f"{len(split['labels'])} labels{' (multi-label)' if split['multilabel'] else ''}: "
            + ", ".join(split["labels"][:30]) + (", …" if len(split["labels"]) > 30 else "")]


def _settings(board: dict) -> list[_Block]:
    s = board["settings"]
    rows = [["Backbone", str(s["backbone"])], ["Seed", _fmt(s["seed"])], ["Max length", _fmt(s["max_length"])],
            ["Epochs", "each strategy's default" if s["epochs"] is None else _fmt(s["epochs"])],
            ["Budget", _duration(board["budget_seconds"])], ["Elapsed", _duration(board["elapsed_seconds"])]]
    rows += [[f"{name} settings", format_settings(chosen)] for name, chosen in (s.get("per_strategy") or {}).items()]
    rows += [[f"{name} data", path] for name, path in s["data"].items() if path is not None]
    return [_Table(["Setting", "Value"], rows)]


# 2) plots ------------------------------------------------------------------------------------------------


def _plot(board: dict, key: str, x_label: str, log_x: bool, y_label: str, path: Path) -> Path:
    """Dev metric against one cost, one labelled point per finished candidate, the choice starred."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    points = [(x, row["dev_metric"], row["strategy"]) for row in board["rows"]
              if row["status"] == "finished" and row["dev_metric"] is not None
              and (x := _number(row[key])) is not None and (x > 0 or not log_x)]
    names: dict[tuple[float, float], list[str]] = {}
    for x, y, name in points:  # candidates on the same spot share one label instead of overprinting
        names.setdefault((x, y), []).append(name)
    for (x, y), here in names.items():
        ax.scatter([x], [y], marker="o", s=60, zorder=3, color="tab:blue")
        ax.annotate(", ".join(here), (x, y), textcoords="offset points", xytext=(7, 5), fontsize=9)
        if board["choice"] in here:
            ax.scatter([x], [y], marker="*", s=260, zorder=4, color="tab:orange")
    if board["baselines"].get("split") == "dev":
        for name, value in board["baselines"]["values"].items():
            if _number(value) is not None:
                ax.axhline(value, linestyle="--", linewidth=1, color="grey")
                ax.annotate(f"baseline: {_BASELINE_NAMES.get(name, name)}", (0.01, value),
                            xycoords=("axes fraction", "data"), xytext=(0, 3), textcoords="offset points",
                            fontsize=8, color="grey")
    if not points:
        ax.text(0.5, 0.5, "no finished candidate", ha="center", va="center", transform=ax.transAxes)
    if log_x and points:
        ax.set_xscale("log")
    ax.margins(x=0.15, y=0.1)  # room for the labels right of the points
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(alpha=0.3)
    ax.set_title(f"{y_label} against {x_label.split(' (')[0]}")
    return _save(fig, path)
