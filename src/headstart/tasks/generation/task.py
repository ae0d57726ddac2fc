"""The generation task (instruction tuning): JSON lines with instruction / input / output, or chat
`messages`. Its run folder scores the held-out set (the test file, else the dev file, else the rows held out
for early stopping) twice, before and after training: loss, perplexity, ROUGE-L of greedy generations, and
a few samples side by side (`samples.json`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from headstart.tasks.generation.options import GENERATION_STRATEGIES, OPTIONS
from headstart.tasks.generation.report import write_generation_report
from headstart.tasks.task import Sniff, Task, TaskRun, costs

__all__ = ["GenerationTask", "GenerationRun"]

# how the run scores generations (greedy, for ROUGE-L): tokens per answer, examples generated, samples shown
SCORING = {"max_new_tokens": 64, "limit": 100, "samples": 5}


class GenerationRun(TaskRun):
    def fit(self, *, checkpoint: Path, resume: bool, stop_after: int | None = None) -> None:
        est = self.estimator
        est.build()
        self.before = est.evaluate(self.splits["target"], **SCORING)
        est.fit_task(self.splits["train"], self.splits["dev"], checkpoint=checkpoint, resume=resume, built=True,
                     stop_after=stop_after)
        self.after = est.evaluate(self.splits["target"], **SCORING)

    def results(self) -> dict:
        est = self.estimator
        metrics = {"task": "generation", **costs(est, len(self.splits["train"])), "primary_metric": "loss",
                   "adapter": est.strategy_.adapter, "evaluated_on": self.splits["target_name"],
                   "before": _scores(self.before), self.splits["target_name"]: _scores(self.after),
                   "generation": SCORING}
        return metrics

    def config(self) -> dict:
        config = super().config()
        config["resolved"]["chat_template"] = self.estimator.format_.chat_template
        return config

    def files(self) -> dict[str, bytes]:
        return {"samples.json": json.dumps(_side_by_side(self.before, self.after), indent=2).encode()}

    def report(self, out: Path, metrics: dict, config: dict) -> None:
        est = self.estimator
        keys = ("strategy", "backbone", "trainable_params", "total_params", "saved_bytes", "peak_rss_mb",
                "train_seconds", "best_epoch", "n_train")
        write_generation_report(out, title=f"headstart generation run: {est.strategy} on "
                                f"{Path(str(self.data['train'])).name}",
                                summary={k: metrics[k] for k in keys if k in metrics}, before=self.before,
                                after=self.after, samples=_side_by_side(self.before, self.after),
                                history=est.fit_result_.history, config=config)


class GenerationTask(Task):
    name = "generation"
    summary = "instruction tuning: JSONL with instruction / input / output, or chat messages"
    estimator_path = "headstart.tasks.generation.estimator:HeadstartGenerator"
    options = OPTIONS
    strategies = GENERATION_STRATEGIES

    def sniff(self, path: Path, head: str) -> Sniff:
        if path.suffix.lower() not in (".json", ".jsonl"):
            return Sniff(0.0, f"reads .jsonl / .json, not {path.suffix or 'this file'}")
        keys = set(re.findall(r'"(\w+)"\s*:', head[:4096]))
        if "instruction" in keys or "messages" in keys:
            return Sniff(0.95, "rows with instruction or messages")
        return Sniff(0.0, "no instruction or messages key in the first rows")

    def start(self, train, *, dev=None, test=None, options: dict) -> TaskRun:
        from headstart.tasks.generation.estimator import _split_dev, as_instructions

        cls = self.estimator_class()
        allowed = set(cls._get_param_names())
        est = cls(**{k: v for k, v in options.items() if k in allowed and v is not None})
        est._strategy_and_config()  # options checked before anything is written
        splits = {"train": as_instructions(train), "dev": as_instructions(dev) if dev else None,
                  "test": as_instructions(test) if test else None}  # read before training: a bad file fails fast
        if splits["dev"] is None:
            splits["train"], splits["dev"] = _split_dev(splits["train"], est.dev_fraction, est.seed)
        splits["target"], splits["target_name"] = ((splits["test"], "test") if splits["test"] is not None
                                                   else (splits["dev"], "dev"))
        return GenerationRun(self, est, {"train": train, "dev": dev, "test": test}, splits)

    def evaluate(self, run: Path, data, config: dict, out: Path) -> dict:
        est = self.load(run)
        scores = est.evaluate(data, max_new_tokens=SCORING["max_new_tokens"], limit=SCORING["limit"])
        result = {"task": "generation", "data": str(data), "strategy": est.strategy, "backbone": est.backbone_name_,
                  "metrics": _scores(scores)}
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2))
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
        write_generation_report(out, title=f"headstart generation evaluation: {est.strategy} on {Path(str(data)).name}",
                                summary={"strategy": est.strategy, "backbone": est.backbone_name_}, before=None,
                                after=scores, samples=[s | {"before": None} for s in scores["samples"]],
                                history=history, config=config)
        return result


def _scores(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "samples"}


def _side_by_side(before: dict, after: dict) -> list[dict]:
    return [{"prompt": b["prompt"], "before": b["output"], "after": a["output"], "reference": a["reference"]}
            for b, a in zip(before["samples"], after["samples"], strict=True)]
