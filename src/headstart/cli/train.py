"""`headstart train`, `evaluate`, `predict` and `pretrain`: training a model and using it."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headstart.cli._app import EXIT_INTERRUPTED, StrategyName, command, console, err
from headstart.cli.options import all_estimator_options, chosen_options, option_parameters
from headstart.errors import HeadstartError

_OPTIONS = all_estimator_options()
_OWN = {"backbone", "strategy", "progress"}  # flags of their own below; progress: on unless --quiet


def train(
    data: Annotated[Path | None, typer.Argument(help="training data: CSV / TSV / JSONL with text and label columns "
                                                      "(two text columns for sentence pairs); CoNLL or JSONL tokens + "
                                                      "tags (NER); SQuAD JSON (QA); instruction JSONL (generation); "
                                                      "may come from --config or --from instead")] = None,
    out: Annotated[Path, typer.Option(help="run directory to write")] = Path("runs/latest"),
    task: Annotated[str | None, typer.Option(help="classification, pairs, ner, qa or generation (default: "
                                                  "detected from DATA)")] = None,
    strategy: Annotated[StrategyName | None, typer.Option(help="how to adapt the model (default: top-n; lora for "
                                                                "instruction data)")] = None,
    backbone: Annotated[str | None, typer.Option(help="registered name, local folder or Hugging Face id "
                                                      "(default: minilm; smollm2 for instruction data)")] = None,
    dev: Annotated[Path | None, typer.Option(help="dev data (default: a stratified 10% of DATA)")] = None,
    test: Annotated[Path | None, typer.Option(help="test data, evaluated at the end")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="any option below as NAME=VALUE, repeatable "
                                                   "(e.g. --set rank=16)")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run in --out")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier headstart run in --out (never a folder of "
                                                 "other files)")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="a YAML / JSON file of options (data: FILE, "
                                                "strategy: lora, rank: 16 ...); flags win over it")] = None,
    from_: Annotated[Path | None, typer.Option("--from", help="train again what this run trained: its data, "
                                               "task and options (flags win over them)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print metrics.json to stdout instead of the tables "
                                          "(progress stays on stderr)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress and no tables: errors only")] = False,
    track: Annotated[str | None, typer.Option(help="log the finished run to mlflow (default store ./mlruns.db) "
                                                    "or tensorboard (RUN/tensorboard)")] = None,
    track_uri: Annotated[str | None, typer.Option(help="the MLflow tracking URI (default: MLFLOW_TRACKING_URI, "
                                                        "else sqlite:///mlruns.db)")] = None,
    **options,
) -> None:
    """Train a classifier, pair classifier, tagger (NER), QA model or instruction-tuned generator and write a
    run directory with the model, metrics and a report. Every option has a flag and a --set form."""
    from headstart.runs import train_run
    from headstart.runs.tracking import check_tracker, track_run

    check_tracker(track)
    given = {"data": data, "dev": dev, "test": test, "task": task, "backbone": backbone,
             "strategy": strategy.value if strategy else None, **chosen_options(_OPTIONS, options, set_)}
    entries = _config_entries(config, from_, {k for k, v in given.items() if v is not None})
    entries.update({k: v for k, v in given.items() if v is not None})
    data, dev, test, task = (entries.pop(k, None) for k in ("data", "dev", "test", "task"))
    if data is None:
        raise HeadstartError("no training data given.", expected="DATA, or `data:` in --config, or --from RUN",
                             found="none", fix="headstart train train.csv (or --config run.yaml)")
    import contextlib

    from headstart.export.quiet import quiet as hushed

    try:
        with hushed() if quiet else contextlib.nullcontext():  # transformers' loading bars and warnings too
            metrics = train_run(data, out, dev=dev, test=test, resume=resume, overwrite=overwrite, task=task,
                                progress=not quiet, **entries)
    except KeyboardInterrupt:
        err.print(f"interrupted: the last finished epoch is in {out}/checkpoint.safetensors; "
                  f"continue with the same command and --resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if metrics is None:  # a data-parallel process other than the main one: the main one reports
        return
    if (metrics.get("distillation") or {}).get("warning"):
        err.print(f"warning: {escape(metrics['distillation']['warning'])}")
    if track:
        where = track_run(out, track, uri=track_uri)
        if not quiet:
            err.print(f"tracked: {escape(where)}")
    if as_json:
        typer.echo(json.dumps(metrics))
    elif not quiet:
        _print_metrics(metrics, metrics["evaluated_on"])
        console.print(f"run saved in [bold]{out}[/] (report: {out}/report.html)")


def _config_entries(config: Path | None, run: Path | None, given: set[str]) -> dict:
    """The entries of --config and of --from RUN (the file wins over the run), before the flags."""
    from headstart.runs.replay import read_config_file, replay

    entries = replay(run, given) if run is not None else {}
    if config is not None:
        entries.update(read_config_file(config, _OPTIONS))
    return entries


_signature = inspect.signature(train, eval_str=True)
train.__signature__ = _signature.replace(parameters=[p for p in _signature.parameters.values()
                                                     if p.kind is not p.VAR_KEYWORD]
                                         + option_parameters(_OPTIONS, _OWN | set(_signature.parameters)))
command()(train)


def distill(*args, **kwargs) -> None:
    """Train a small student from a teacher's probabilities (a bigger run, a compare ensemble, an LLM
    through an OpenAI-compatible API, a zero-shot scorer) on DATA and on --unlabeled texts, or by
    self-training (--self-train --unlabeled FILE). The run folder is a classification run like any other;
    its report and metrics.json put teacher and student side by side."""
    chosen = chosen_options(_OPTIONS, {k: v for k, v in kwargs.items() if k in _OPTIONS}, kwargs.get("set_"))
    if chosen.get("teacher") is None and not chosen.get("self_train"):
        raise HeadstartError("distill needs a teacher, or self-training.",
                             expected="--teacher RUN (or zero-shot:embedding, zero-shot:lm, zero-shot:api[:MODEL]), "
                             "or --self-train --unlabeled FILE", found="neither",
                             fix="headstart distill train.csv --teacher runs/big --unlabeled more.csv")
    return train(*args, **kwargs)


distill.__signature__ = train.__signature__.replace(parameters=[
    p.replace(default=Path("runs/distilled")) if p.name == "out" else p for p in train.__signature__.parameters.values()])
command()(distill)


def _print_span_metrics(metrics: dict, split: str) -> None:
    scores = metrics[split]
    keys = [k for k in ("precision", "recall", "f1", "em") if k in scores]
    table = Table(title=f"{metrics['task']}: {metrics['strategy']} on {metrics['backbone']} ({split} set)")
    for key in ["", *keys]:
        table.add_column(key.upper() if key == "em" else key)
    table.add_row("headstart", *(f"{scores[k]:.4f}" for k in keys))
    console.print(table)
    for kind, s in (scores.get("per_type") or {}).items():
        console.print(f"  {escape(kind)}: F1 {s['f1']:.4f} (support {s['support']})", highlight=False)


def _print_generation_metrics(metrics: dict, split: str) -> None:
    table = Table(title=f"{metrics['strategy']} on {metrics['backbone']} ({split} set)")
    for col in ("", "loss", "perplexity", "ROUGE-L"):
        table.add_column(col)
    for name, m in (("before training", metrics.get("before")), ("after training", metrics[split])):
        if m:
            rouge = "-" if m.get("rougeL") is None else f"{m['rougeL']:.4f}"
            table.add_row(name, f"{m['loss']:.4f}", f"{m['perplexity']:.2f}", rouge)
    console.print(table)


def _print_metrics(metrics: dict, split: str) -> None:
    if metrics.get("task") == "generation":
        _print_generation_metrics(metrics, split)
        return _print_costs(metrics)
    if metrics.get("task", "classification") != "classification":
        _print_span_metrics(metrics, split)
        return _print_costs(metrics)
    table = Table(title=f"{metrics['strategy']} on {metrics['backbone']} ({split} set)")
    for col in ("model", "accuracy", "macro-F1", "AUC"):
        table.add_column(col)

    def fmt(v):
        return "-" if v is None else f"{v:.4f}"

    rows = [("headstart", metrics[split])] + [(f"baseline: {k}", v) for k, v in metrics["baselines"].items()]
    for name, m in rows:
        table.add_row(name, fmt(m["accuracy"]), fmt(m["macro_f1"]), fmt(m.get("auc")))
    console.print(table)
    _print_costs(metrics)


def _print_costs(metrics: dict) -> None:
    if "train_seconds" in metrics:
        saved = metrics.get("saved_bytes")
        what = "" if not metrics.get("adapter") else " (adapter)" if metrics.get("task") == "generation" \
            else " (adapter + head)"
        console.print(f"trainable parameters {metrics['trainable_params']:,} of {metrics['total_params']:,} "
                      f"({metrics.get('trainable_percent', 0):.2f}%); training {metrics['train_seconds']:.1f} s; "
                      f"best epoch {metrics['best_epoch']}; peak memory {metrics['peak_rss_mb']:.0f} MB"
                      + (f"; saved {saved / 1e6:.2f} MB{what}" if saved is not None else ""))


@command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="a run directory written by `headstart train`")],
    data: Annotated[Path, typer.Argument(help="labelled data to evaluate on")],
    as_json: Annotated[bool, typer.Option("--json", help="print the evaluation's metrics.json instead")] = False,
) -> None:
    """Evaluate a trained run on labelled data, beside the baselines; writes a report."""
    from headstart.runs import evaluate_run

    result = evaluate_run(run, data)
    if as_json:
        return typer.echo(json.dumps(result, default=str))
    _print_metrics({"task": result.get("task", "classification"), "strategy": result["strategy"],
                    "backbone": result["backbone"], "eval": result["metrics"],
                    "baselines": result.get("baselines", {})}, "eval")
    console.print(f"report: {result['report']}")


@command()
def predict(
    run: Annotated[Path, typer.Argument(help="a run directory written by `headstart train`")],
    texts: Annotated[list[str] | None, typer.Argument(help="texts to classify or tag; questions for a QA run")] = None,
    file: Annotated[Path | None, typer.Option(help="a CSV/TSV/JSONL file with a text column (QA: question and "
                                                   "context columns)")] = None,
    context: Annotated[str | None, typer.Option(help="qa: the passage the answers come from")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
    output: Annotated[Path | None, typer.Option(help="with --file: write JSON lines here, streaming the file in "
                                                     "chunks; the same command again resumes after the last row")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="with --output: rows read and predicted at a time")] = 2048,
) -> None:
    """Classify texts, print the entities in them (NER), or answer questions about --context (QA)."""
    from headstart.tasks.registry import load

    clf = load(run)
    if output is not None:
        if file is None or texts:
            raise HeadstartError("--output writes the predictions of a file.", expected="--file FILE --output OUT",
                                 found="texts as arguments" if texts else "no --file",
                                 fix=f"headstart predict {run} --file rows.csv --output preds.jsonl")
        from headstart.batch_predict import predict_file

        done = predict_file(clf, file, output, chunk_rows=chunk_rows)
        resumed = f" (resumed after {done['resumed_after']:,})" if done["resumed_after"] else ""
        return err.print(f"{done['rows']:,} rows predicted into {output}{resumed}", highlight=False)
    if clf.task == "qa" and file is not None:
        return _predict_qa_file(clf, file, texts, as_json)
    items = list(texts or []) + (clf._texts(file) if file else [])
    if not items:
        raise HeadstartError("nothing to predict.", expected="texts as arguments or --file",
                             found="neither", fix='headstart predict RUN "some text"')
    if clf.task == "qa":
        return _predict_qa(clf, items, context, as_json)
    if clf.task == "ner":
        return _predict_entities(clf, items, as_json)
    from headstart.batch_predict import prediction_rows

    for text, row in zip(items, prediction_rows(clf, items), strict=True):
        if as_json:
            print(json.dumps(row))
        else:
            console.print(f"[bold]{row['label']}[/] ({max(row['scores'].values()):.3f})  {text}", highlight=False)


def _predict_entities(tagger, texts: list[str], as_json: bool) -> None:
    for text, entities in zip(texts, tagger.predict(texts), strict=True):
        if as_json:
            print(json.dumps({"text": text, "entities": entities}))
            continue
        console.print(escape(text), highlight=False)
        for e in entities or []:
            console.print(f"  [bold]{escape(e['type'])}[/] {escape(e['text'])!r} [{e['start']}:{e['end']}]",
                          highlight=False)
        if not entities:
            console.print("  (no entities)")


def _predict_qa_file(qa, file: Path, texts: list[str] | None, as_json: bool) -> None:
    """A file of questions, each with its own context (columns question and context)."""
    if texts:
        raise HeadstartError("a QA run reads its questions from --file or from the arguments, not both.",
                             expected="--file FILE, or QUESTION... --context TEXT", found="both",
                             fix=f"headstart predict RUN --file {file}")
    from headstart.batch_predict import predictions

    for row in predictions(qa, file):
        if as_json:
            print(json.dumps(row))
        else:
            console.print(f"{escape(row['question'])}\n  [bold]{escape(row['answer'])}[/] ({row['score']:.3f})",
                          highlight=False)


def _predict_qa(qa, questions: list[str], context: str | None, as_json: bool) -> None:
    if not context:
        raise HeadstartError("a QA run answers from a passage.", expected="--context TEXT", found="no --context",
                             fix='headstart predict RUN "Who wrote Hamlet?" --context "Hamlet is a play by ..."')
    answers = qa.predict([{"id": str(i), "question": q, "context": context} for i, q in enumerate(questions)])
    for question, answer in zip(questions, answers, strict=True):
        if as_json:
            print(json.dumps({"question": question, "answer": answer["text"], "start": answer["start"],
                              "score": answer["score"]}))
        else:
            console.print(f"[bold]{escape(answer['text']) or '(no answer)'}[/]  <- {escape(question)}", highlight=False)



@command()
def pretrain(
    corpus: Annotated[Path, typer.Argument(help="unlabelled text, one document per line (with --tapt: a task's "
                                                "training file)")],
    out: Annotated[Path, typer.Option(help="folder for the adapted backbone")] = Path("backbones/adapted"),
    backbone: Annotated[str, typer.Option(help="the encoder to continue training")] = "minilm",
    tapt: Annotated[bool, typer.Option(help="task-adaptive: CORPUS is a task's training file; its texts are "
                                            "the corpus")] = False,
    name: Annotated[str | None, typer.Option(help="register the result under this name (default: the --out "
                                                  "folder's name)")] = None,
    epochs: Annotated[int, typer.Option()] = 3,
    lr: Annotated[float, typer.Option(help="one learning rate for all layers")] = 1e-4,
    batch_size: Annotated[int, typer.Option()] = 32,
    max_length: Annotated[int, typer.Option(help="tokens per chunk")] = 128,
    patience: Annotated[int, typer.Option(help="early stopping on the held-out masked-LM loss (0: off)")] = 2,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier pretrained backbone in --out")] = False,
) -> None:
    """Continue masked-LM pretraining on domain text (DAPT) or the task's own texts (TAPT); the result is
    registered as a backbone every command accepts."""
    from headstart.pretrain import pretrain as run_pretrain

    summary = run_pretrain(corpus, out, backbone=backbone, tapt=tapt, name=name, epochs=epochs, lr=lr,
                           batch_size=batch_size, max_length=max_length, patience=patience, seed=seed,
                           log=lambda text: console.print(escape(text), highlight=False), overwrite=overwrite)
    if summary is None:  # a data-parallel process other than the main one
        return
    b, a = summary["dev_before"], summary["dev_after"]
    console.print(f"held-out masked-LM loss {b['mlm_loss']:.3f} -> {a['mlm_loss']:.3f}, masked-token accuracy "
                  f"{b['mlm_accuracy']:.3f} -> {a['mlm_accuracy']:.3f} ({summary['train_chunks']} chunks, "
                  f"{summary['seconds']:.0f} s)")
    console.print(f"saved in [bold]{out}[/]; use it as --backbone {summary['registered_as']}")


