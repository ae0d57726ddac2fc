"""The report of an instruction-tuning run: held-out loss, perplexity and ROUGE-L before and after
training, a side-by-side sample table (prompt, output before, output after, reference), learning curves
and the configuration. Same writer (`report._write`), so Markdown and HTML say the same thing."""

from __future__ import annotations

from pathlib import Path

from headstart.evaluation.report import _config, _curves, _score, _summary, _Table, _write

__all__ = ["write_generation_report"]

_MAX_CELL = 400  # characters of a generated text shown in a table cell


def write_generation_report(run_dir: str | Path, *, title: str, summary: dict, before: dict | None, after: dict,
                            samples: list[dict], history: list[dict], config: dict | None) -> tuple[Path, Path]:
    """Write report.md and report.html into `run_dir`. `before` may be None (an evaluation of a run)."""
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [[name, _score(m["loss"]), f"{m['perplexity']:.2f}", _score(m["rougeL"])]
            for name, m in (("Before training", before), ("After training", after)) if m is not None]
    scores = _Table(["", "Loss", "Perplexity", "ROUGE-L"], rows, frozenset({1, 2, 3}))
    note = (f"Loss: mean cross-entropy per response token on {after['n']} held-out examples (perplexity = "
            f"exp(loss)). ROUGE-L: mean F-measure of greedy generations (at most {after['max_new_tokens']} new "
            f"tokens) against the reference outputs, on {after['n_generated']} of them.")
    heads = ["Prompt", *(["Before training"] if before is not None else []), "After training", "Reference"]
    table = _Table(heads, [[_cut(s["prompt"]), *([_cut(s["before"])] if before is not None else []),
                            _cut(s.get("after", s.get("output", ""))), _cut(s["reference"])] for s in samples])
    sections = [("Summary", _summary(summary, after)), ("Scores", [scores, note]),
                ("Samples", [table] if samples else ["No samples."]),
                ("Learning curves", _curves(history, out)), ("Configuration", _config(config))]
    return _write(out, title, sections)


def _cut(text: str | None) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL] + " ..."
