"""What the tasks that read spans out of text share (tagging, extractive QA): a run folder of scores
(entity P/R/F1, or SQuAD EM/F1), example errors and learning curves, and evaluation on a file."""

from __future__ import annotations

import json
import time
from pathlib import Path

from headstart.evaluation.report import write_span_report
from headstart.tasks.task import CONFIG_KEYS, Task, TaskRun, costs

__all__ = ["SpanTask", "SpanRun"]


class SpanRun(TaskRun):
    def fit(self, *, checkpoint: Path, resume: bool, stop_after: int | None = None) -> None:
        self.estimator.fit_task(self.splits["train"], self.splits["dev"], checkpoint=checkpoint, resume=resume,
                                stop_after=stop_after)

    def results(self) -> dict:
        est, test, dev = self.estimator, self.splits["test"], self.splits["dev"]
        metrics = {"task": self.task.name, **costs(est, len(self.splits["train"])), "primary_metric": est.metric_}
        metrics["evaluated_on"] = "test" if test is not None else "dev"
        if test is not None:
            t0 = time.perf_counter()
            metrics["test"] = est.evaluate(test)
            if getattr(est, "distillation_", None) is not None:
                from headstart.distill.report import tagging_side_by_side

                metrics["distillation"] = tagging_side_by_side(est, test, metrics["test"], time.perf_counter() - t0)
        elif dev is not None and not est.refit_on_dev_:  # after a refit, dev rows are training rows
            metrics["dev"] = est.evaluate(dev)
        else:
            result = est.fit_result_
            best = next((row for row in result.history if row["epoch"] == result.best_epoch), {})
            metrics["dev"] = {k.removeprefix("dev_"): v for k, v in best.items() if k.startswith("dev_")}
        return metrics

    def report(self, out: Path, metrics: dict, config: dict) -> None:
        est = self.estimator
        _report(out, f"headstart {self.task.name} run: {est.strategy} on {Path(str(self.data['train'])).name}",
                metrics, metrics[metrics["evaluated_on"]], est.fit_result_.history, est.drift_, config)


class SpanTask(Task):
    """A task whose estimator reads its own files (`read_split`) and scores with `evaluate(split)`."""

    def start(self, train, *, dev=None, test=None, options: dict) -> TaskRun:
        cls = self.estimator_class()
        allowed = set(cls._get_param_names())
        est = cls(**{k: v for k, v in options.items() if k in allowed and v is not None})
        est._strategy_and_config()  # options checked before anything is written
        splits = {"train": cls.read_split(train), "dev": cls.read_split(dev) if dev else None,
                  "test": cls.read_split(test) if test else None}  # read before training: a bad file fails fast
        return SpanRun(self, est, {"train": train, "dev": dev, "test": test}, splits)

    def evaluate(self, run: Path, data, config: dict, out: Path) -> dict:
        est = self.load(run)
        scores = est.evaluate(est.read_split(data))
        result = {"task": self.name, "data": str(data), "strategy": est.strategy, "backbone": est.backbone_name_,
                  "metrics": scores}
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2))
        history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
        _report(out, f"headstart {self.name} evaluation: {est.strategy} on {Path(str(data)).name}", result, scores,
                history, None, config)
        return result


def _report(out: Path, title: str, summary: dict, metrics: dict, history, drift, config) -> None:
    extra = []
    if summary.get("distillation"):
        from headstart.distill.report import report_section

        extra = report_section(summary["distillation"], metric="f1")
    write_span_report(out, title=title, summary={k: summary[k] for k in CONFIG_KEYS if k in summary},
                      metrics=metrics, history=history, drift=drift, config=config, extra=extra)
