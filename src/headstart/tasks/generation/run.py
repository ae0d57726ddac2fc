"""Run folders of instruction tuning, in the layout of the other tasks:

    runs/x/  config.json  model/  metrics.json  history.json  report.md  report.html  learning_curves.png

The held-out set (the test file, else the dev file, else the rows held out for early stopping) is scored
twice, before and after training: loss, perplexity, ROUGE-L of greedy generations, and a few samples side
by side.
"""

from __future__ import annotations

import json
from pathlib import Path

from headstart.adapters.store import adapter_bytes
from headstart.tasks.generation.estimator import HeadstartGenerator, _split_dev, as_instructions
from headstart.tasks.generation.report import write_generation_report

__all__ = ["train_generation_run", "evaluate_generation_run"]

_EVAL_OPTIONS = ("max_new_tokens", "limit", "samples")


def train_generation_run(train: str | Path, folder, *, dev=None, test=None, resume: bool = False,
                         max_new_tokens: int = 64, limit: int | None = 100, samples: int = 5, **options) -> dict:
    """Instruction-tune on files and write the run folder (a claimed `headstart.runs.RunFolder`); returns
    metrics.json's content.

    Args:
        max_new_tokens, limit: greedy generation for ROUGE-L: tokens per answer, and how many held-out
            examples are generated (None: all); the loss covers every held-out example.
        samples: held-out prompts shown side by side in the report.
    """
    from headstart.runs import peak_rss_mb

    out = folder.path
    train_set = as_instructions(train)
    dev_set = as_instructions(dev) if dev else None
    test_set = as_instructions(test) if test else None  # read before training: a bad file fails fast
    est = HeadstartGenerator(**options)
    if dev_set is None:
        train_set, dev_set = _split_dev(train_set, est.dev_fraction, est.seed)
    target, eval_name = (test_set, "test") if test_set is not None else (dev_set, "dev")
    folder.begin()
    est.build()
    scoring = {"max_new_tokens": max_new_tokens, "limit": limit, "samples": samples}
    before = est.evaluate(target, **scoring)
    est.fit_task(train_set, dev_set, checkpoint=folder.checkpoint, resume=resume, built=True)
    after = est.evaluate(target, **scoring)
    result = est.fit_result_
    metrics = {
        "task": "generation", "strategy": est.strategy, "backbone": est.backbone_name_, "primary_metric": "loss",
        "trainable_params": est.trainable_params_, "total_params": est.total_params_,
        "trainable_percent": round(100 * est.trainable_params_ / est.total_params_, 4),
        "adapter": est.strategy_.adapter, "train_seconds": round(est.fit_seconds_, 2),
        "best_epoch": result.best_epoch, "stopped_early": result.stopped_early, "n_train": len(train_set),
        "peak_rss_mb": round(peak_rss_mb(), 1), "evaluated_on": eval_name,
        "before": _scores(before), eval_name: _scores(after), "generation": scoring,
    }
    config = {"task": "generation", "data": {"train": str(train), "dev": str(dev) if dev else None,
                                             "test": str(test) if test else None},
              "estimator": est.get_params(), "resolved": {"strategy": est.strategy_.describe(),
                                                          "train": est.train_config_.to_dict(),
                                                          "chat_template": est.format_.chat_template}}
    est.save(out / "model")
    metrics["saved_bytes"] = adapter_bytes(out / "model")
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "history.json").write_text(json.dumps(result.history, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "samples.json").write_text(json.dumps(_side_by_side(before, after), indent=2))
    write_generation_report(out, title=f"headstart generation run: {est.strategy} on {Path(str(train)).name}",
                            summary=_summary(metrics), before=before, after=after,
                            samples=_side_by_side(before, after), history=result.history, config=config)
    folder.finish()
    return metrics


def evaluate_generation_run(run: str | Path, data: str | Path, config: dict, *, out: str | Path | None = None,
                            max_new_tokens: int = 64, limit: int | None = 100) -> dict:
    """Score a trained run on an instruction file (loss, perplexity, ROUGE-L), with a report."""
    est = HeadstartGenerator.load(run)
    scores = est.evaluate(data, max_new_tokens=max_new_tokens, limit=limit)
    result = {"task": "generation", "data": str(data), "strategy": est.strategy, "backbone": est.backbone_name_,
              "metrics": _scores(scores)}
    dest = Path(out) if out else Path(run) / f"eval-{Path(str(data)).stem}"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "metrics.json").write_text(json.dumps(result, indent=2))
    history_file = Path(run) / "history.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    write_generation_report(dest, title=f"headstart generation evaluation: {est.strategy} on {Path(str(data)).name}",
                            summary={"strategy": est.strategy, "backbone": est.backbone_name_}, before=None,
                            after=scores, samples=[s | {"before": None} for s in scores["samples"]],
                            history=history, config=config)
    result["report"] = str(dest / "report.html")
    return result


def _scores(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "samples"}


def _side_by_side(before: dict, after: dict) -> list[dict]:
    return [{"prompt": b["prompt"], "before": b["output"], "after": a["output"], "reference": a["reference"]}
            for b, a in zip(before["samples"], after["samples"], strict=True)]


def _summary(metrics: dict) -> dict:
    keys = ("strategy", "backbone", "trainable_params", "total_params", "saved_bytes", "peak_rss_mb",
            "train_seconds", "best_epoch", "n_train")
    return {k: metrics[k] for k in keys if k in metrics}
