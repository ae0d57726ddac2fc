"""The run report: one document, written as Markdown and as self-contained HTML.

Sections are first built as plain blocks (paragraphs, tables, images, code), then rendered twice, so the
two files always say the same thing. All user text (labels, names, config values) is escaped.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path

from headstart.evaluation.metrics import primary_metric
from headstart.evaluation.plots import plot_confusion_matrix, plot_learning_curves

__all__ = ["write_report", "write_span_report", "Table"]

_MAX_CLASS_ROWS = 30
_BASELINE_NAMES = {"majority": "Majority class", "tfidf": "TF-IDF + LR", "tfidf_lr": "TF-IDF + LR"}
_SCORES = (("accuracy", "Accuracy"), ("macro_f1", "Macro-F1"), ("auc", "AUC"))
_SUMMARY_KEYS = ("strategy", "backbone", "trainable_params", "total_params", "train_seconds", "best_epoch",
                 "averaged_epochs")


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: frozenset[int] = frozenset()  # right-aligned columns
    bold: set[tuple[int, int]] = field(default_factory=set)  # (row, column) cells to emphasise


@dataclass
class _Image:
    file: str
    alt: str


@dataclass
class _Code:
    text: str
    lang: str = ""


Table = _Table  # what a caller's `extra` sections build tables with
_Block = str | list | _Table | _Image | _Code  # str: a paragraph; list[str]: a bullet list
_Section = tuple[str, list[_Block]]


def write_report(
    run_dir: str | Path,
    *,
    title: str,
    summary: dict,
    metrics: dict,
    baselines: dict[str, dict],
    history: list[dict],
    drift: dict[str, float] | None,
    data_stats: dict | None,
    config: dict | None,
    extra: list[tuple[str, list]] | None = None,
) -> tuple[Path, Path]:
    """Write `report.md` and `report.html` (plus the two PNGs they show) into `run_dir`.

    Args:
        run_dir: the run's folder; created if missing.
        title: the report's title.
        summary: "strategy", "backbone", "trainable_params", "total_params", "train_seconds",
            "best_epoch" and optionally "primary_metric"; any other key is listed as well.
        metrics: the model's `classification_metrics` dict on the evaluated split.
        baselines: name -> metrics dict, e.g. {"majority": ..., "tfidf": ...}.
        history: the trainer's rows (see `plot_learning_curves`).
        drift: layer group -> relative L2 drift ‖w − w₀‖ / ‖w₀‖ from the pretrained weights, or None.
        data_stats: `DataStats.to_dict()` or any flat dict, or None.
        config: the run's configuration, shown as JSON, or None.
        extra: (title, blocks) sections shown after the baselines (blocks: paragraphs, bullet lists, Tables).

    Returns:
        (path of report.md, path of report.html).

    Example:
        >>> md, page = write_report("runs/demo", title="Demo", summary={}, metrics=m, baselines={},
        ...                         history=[], drift=None, data_stats=None, config=None)
    """
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections: list[_Section] = [
        ("Summary", _summary(summary, metrics)),
        (
            "Model vs baselines",
            _comparison(metrics, baselines, summary.get("primary_metric") or _primary(metrics)),
        ),
        *(extra or []),
        ("Per-class scores", _per_class(metrics.get("per_class") or {})),
        ("Learning curves", _curves(history, out)),
        ("Confusion matrix", _confusion(metrics, out)),
        ("Forgetting guard: drift from pretrained weights", _drift(drift)),
        ("Data statistics", _data(data_stats)),
        ("Configuration", _config(config)),
    ]
    return _write(out, title, sections)


def write_span_report(run_dir: str | Path, *, title: str, summary: dict, metrics: dict, history: list[dict],
                      drift: dict[str, float] | None, config: dict | None,
                      extra: list[tuple[str, list]] | None = None) -> tuple[Path, Path]:
    """The report of a NER or QA run: scores (entity precision / recall / F1 per type, or SQuAD exact
    match and F1), example errors, learning curves, drift and configuration. Same formats as
    `write_report`."""
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = [k for k in ("precision", "recall", "f1", "em", "token_accuracy") if k in metrics]
    scores = _Table(["", *keys], [["Model", *(_score(metrics[k]) for k in keys)]], frozenset(range(1, len(keys) + 1)))
    sections: list[_Section] = [("Summary", _summary(summary, metrics)), ("Scores", [scores, _span_note(metrics)]),
                                *(extra or [])]
    if metrics.get("per_type"):
        sections.append(("Per entity type", _per_class(metrics["per_type"])))
    errors = metrics.get("errors") or []
    rows = [[_fmt(v) if not isinstance(v, list) else "; ".join(map(str, v)) for v in e.values()] for e in errors]
    sections += [
        ("Example errors", [_Table([k.capitalize() for k in errors[0]], rows)] if errors else ["No errors."]),
        ("Learning curves", _curves(history, out)),
        ("Forgetting guard: drift from pretrained weights", _drift(drift)),
        ("Configuration", _config(config)),
    ]
    return _write(out, title, sections)


def _write(out: Path, title: str, sections: list[_Section]) -> tuple[Path, Path]:
    """Render the sections twice, so report.md and report.html always say the same thing."""
    md_path, html_path = out / "report.md", out / "report.html"
    md_path.write_text(_to_markdown(title, sections), encoding="utf-8")
    html_path.write_text(_to_html(title, sections), encoding="utf-8")
    return md_path, html_path


def _span_note(metrics: dict) -> str:
    if "em" in metrics:
        return (f"SQuAD v1.1 exact match and token F1 (official normalisation), best over the reference answers, "
                f"on {metrics.get('n', 'n/a')} questions.")
    return (f"Entity-level scores (seqeval, strict IOB2: an entity counts only with its exact span and type), "
            f"{metrics.get('n_entities', 'n/a')} gold entities.")


def _primary(metrics: dict) -> str:
    # Only single-label metrics carry a confusion matrix, so its absence marks a multi-label task.
    return primary_metric(len(metrics.get("per_class") or {}), multilabel="confusion_matrix" not in metrics)


# 1) sections -------------------------------------------------------------------------------------------


def _summary(summary: dict, metrics: dict) -> list[_Block]:
    trainable, total = summary.get("trainable_params"), summary.get("total_params")
    params = _fmt(trainable)
    if isinstance(trainable, numbers.Integral) and isinstance(total, numbers.Integral) and total > 0:
        params += f" of {int(total):,} ({100 * trainable / total:.2f}%)"
    rows = [
        ["Strategy", _fmt(summary.get("strategy"))],
        ["Backbone", _fmt(summary.get("backbone"))],
        ["Trainable parameters", params],
        ["Training time", _duration(summary.get("train_seconds"))],
        ["Best epoch", _fmt(summary.get("best_epoch")) + (
            f" (weights kept: the mean of epochs {_fmt(summary['averaged_epochs'])})"
            if summary.get("averaged_epochs") else "")],
        ["Evaluated examples", _fmt(metrics.get("n"))],
    ]
    rows += [[key, _fmt(value)] for key, value in summary.items() if key not in _SUMMARY_KEYS]
    return [_Table(["Item", "Value"], rows)]


def _comparison(metrics: dict, baselines: dict[str, dict], primary: str) -> list[_Block]:
    entries = [("Model", metrics)] + [(_BASELINE_NAMES.get(k, k), v) for k, v in baselines.items()]
    table = _Table(["", *(name for _, name in _SCORES)], [], numeric=frozenset({1, 2, 3}))
    table.rows = [[name] + [_score(m.get(key)) for key, _ in _SCORES] for name, m in entries]
    for col, (key, _) in enumerate(_SCORES, start=1):
        values = [m.get(key) for _, m in entries]
        best = max((v for v in values if v is not None), default=None)
        table.bold |= {(row, col) for row, v in enumerate(values) if best is not None and v == best}
    blocks: list[_Block] = [table, "Best value in each column in bold."]
    if not baselines:
        blocks.append("No baseline was run, so these numbers have nothing to be compared with.")
    ours = metrics.get(primary)
    scored = [(name, m[primary]) for name, m in entries[1:] if m.get(primary) is not None]
    if ours is not None and scored:
        name, best = max(scored, key=lambda item: item[1])
        label = dict(_SCORES).get(primary, primary)
        word = "above" if ours >= best else "below"
        blocks.append(
            f"On {label} (the primary metric) the model scores {ours:.4f}, {abs(ours - best):.4f} {word} "
            f"the best baseline ({name}, {best:.4f})."
        )
    return blocks


def _per_class(per_class: dict) -> list[_Block]:
    if not per_class:
        return ["No per-class scores were computed."]
    ranked = sorted(per_class.items(), key=lambda item: -item[1].get("support", 0))[:_MAX_CLASS_ROWS]
    scores = ("precision", "recall", "f1")
    rows = [[label, *(_score(s.get(k)) for k in scores), _fmt(s.get("support"))] for label, s in ranked]
    blocks: list[_Block] = [
        _Table(["Label", "Precision", "Recall", "F1", "Support"], rows, frozenset({1, 2, 3, 4}))
    ]
    if len(per_class) > _MAX_CLASS_ROWS:
        blocks.append(f"Showing the {_MAX_CLASS_ROWS} most frequent of {len(per_class)} classes.")
    return blocks


def _curves(history: list[dict], out: Path) -> list[_Block]:
    if not history:
        return ["No training history was recorded."]
    plot_learning_curves(history, out / "learning_curves.png")
    return [_Image("learning_curves.png", "Train and dev loss, and dev metrics, per epoch")]


def _confusion(metrics: dict, out: Path) -> list[_Block]:
    matrix = metrics.get("confusion_matrix")
    if matrix is None:
        return ["Not shown: multi-label predictions are scored per label (see the per-class table)."]
    labels = list(metrics.get("per_class") or {})
    labels = labels if len(labels) == len(matrix) else [str(i) for i in range(len(matrix))]
    plot_confusion_matrix(matrix, labels, out / "confusion_matrix.png")
    return [_Image("confusion_matrix.png", "Confusion matrix: rows are true labels, columns predicted")]


def _drift(drift: dict[str, float] | None) -> list[_Block]:
    if not drift:
        return ["Drift was not measured for this run."]
    rows = [[group, _percent(value)] for group, value in drift.items()]
    return [
        "Relative L2 distance ‖w − w₀‖ / ‖w₀‖ between the fine-tuned and the pretrained weights of each "
        "layer group. Large drift in the lower layers means the model has moved far from what it learned "
        "in pretraining (a risk of catastrophic forgetting); lower learning rates there reduce it.",
        _Table(["Layer group", "Relative drift"], rows, frozenset({1})),
    ]


def _data(data_stats: dict | None) -> list[_Block]:
    if data_stats is None:
        return ["No data statistics were recorded."]
    stats = data_stats.to_dict() if hasattr(data_stats, "to_dict") else dict(data_stats)
    warnings = stats.pop("warnings", None) or []
    rows = [[key.replace("_", " "), _fmt(value)] for key, value in stats.items()]
    blocks: list[_Block] = [_Table(["Statistic", "Value"], rows)]
    if warnings:
        blocks += ["Warnings:", [str(w) for w in warnings]]
    return blocks


def _config(config: dict | None) -> list[_Block]:
    if config is None:
        return ["No configuration was recorded."]
    return [_Code(json.dumps(config, indent=2, default=str, ensure_ascii=False), "json")]


# 2) formatting ----------------------------------------------------------------------------------------


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):  # numbers.*, so numpy scalars format too
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{float(value):.4g}"
    if isinstance(value, dict):
        items = [f"{k}: {_fmt(v)}" for k, v in list(value.items())[:20]]
        return ", ".join(items + (["…"] if len(value) > 20 else []))
    if isinstance(value, list | tuple):
        return ", ".join([_fmt(v) for v in value[:20]] + (["…"] if len(value) > 20 else []))
    return str(value)


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


# 3) rendering ------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Escape the characters Markdown would read as markup (and raw HTML) so text shows as written."""
    for char in "\\`*[]<>|":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ")


def _to_markdown(title: str, sections: list[_Section]) -> str:
    lines = [f"# {_md(title)}", ""]
    for heading, blocks in sections:
        lines += [f"## {_md(heading)}", ""]
        for block in blocks:
            if isinstance(block, _Table):
                lines += _md_table(block)
            elif isinstance(block, _Image):
                lines.append(f"![{_md(block.alt)}]({block.file})")
            elif isinstance(block, _Code):
                # A fence longer than any backtick run inside, so config values cannot close it.
                longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
                fence = "`" * max(3, longest + 1)
                lines += [fence + block.lang, block.text, fence]
            elif isinstance(block, list):
                lines += [f"- {_md(item)}" for item in block]
            else:
                lines.append(_md(block))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md_table(table: _Table) -> list[str]:
    rule = ["---:" if j in table.numeric else "---" for j in range(len(table.headers))]
    rows = [[_md(h) for h in table.headers], rule]
    for r, row in enumerate(table.rows):
        rows.append([f"**{_md(c)}**" if (r, j) in table.bold else _md(c) for j, c in enumerate(row)])
    return ["| " + " | ".join(row) + " |" for row in rows]


_CSS = """
body { font-family: system-ui, sans-serif; color: #1f2328; max-width: 980px; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; }
h1 { border-bottom: 2px solid #d0d7de; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .95rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .75rem; text-align: left; } th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } tr:nth-child(even) td { background: #fafbfc; }
img { max-width: 100%; border: 1px solid #d0d7de; border-radius: 4px; }
pre { background: #f6f8fa; padding: 1rem; overflow-x: auto; border-radius: 6px; font-size: .85rem; }
"""


def _to_html(title: str, sections: list[_Section]) -> str:
    esc = html.escape
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for heading, blocks in sections:
        parts.append(f"<h2>{esc(heading)}</h2>")
        for block in blocks:
            if isinstance(block, _Table):
                parts.append(_html_table(block))
            elif isinstance(block, _Image):
                parts.append(f'<p><img src="{esc(block.file)}" alt="{esc(block.alt)}"></p>')
            elif isinstance(block, _Code):
                parts.append(f"<pre><code>{esc(block.text)}</code></pre>")
            elif isinstance(block, list):
                parts.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block) + "</ul>")
            else:
                parts.append(f"<p>{esc(block)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(table: _Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = []
    for r, row in enumerate(table.rows):
        cells = []
        for j, cell in enumerate(row):
            text = f"<strong>{html.escape(cell)}</strong>" if (r, j) in table.bold else html.escape(cell)
            cells.append(f'<td class="num">{text}</td>' if j in table.numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>"
