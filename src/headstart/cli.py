"""The `headstart` command line. Each command calls one library function and prints its result."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from headstart.errors import HeadstartError
from headstart.strategies import STRATEGIES

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Adapt a pretrained language model to your text task, with the best practices built in.")
console = Console()
err = Console(stderr=True)

StrategyName = Enum("StrategyName", {name.replace("-", "_"): name for name in STRATEGIES}, type=str)


class Compute(str, Enum):
    very_low = "very-low"
    low = "low"
    medium = "medium"
    high = "high"


def _fail(exc: Exception) -> None:
    # soft_wrap: paths and values in the message stay on one line, whole, for copying
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="training data: CSV / TSV / JSONL with text and label columns; "
                                               "CoNLL or JSONL tokens + tags (NER); SQuAD JSON (QA)")],
    out: Annotated[Path, typer.Option(help="run directory to write")] = Path("runs/latest"),
    task: Annotated[str | None, typer.Option(help="classification, ner, qa or generation (default: detected from DATA)")] = None,
    stride: Annotated[int | None, typer.Option(help="ner / qa: tokens shared by the windows of a long text "
                                               "(default 32 / 128)")] = None,
    strategy: Annotated[StrategyName, typer.Option(help="how to adapt the model")] = "top-n",
    backbone: Annotated[str | None, typer.Option(help="registered name, local folder or Hugging Face id "
                                                      "(default: minilm; smollm2 for instruction data)")] = None,
    dev: Annotated[Path | None, typer.Option(help="dev data (default: a stratified 10% of DATA)")] = None,
    test: Annotated[Path | None, typer.Option(help="test data, evaluated at the end")] = None,
    top_n: Annotated[int | None, typer.Option(help="top-n: number of top blocks to train")] = None,
    classifier: Annotated[str | None, typer.Option(help="features: logreg or svm")] = None,
    refit: Annotated[bool, typer.Option(help="features: after scoring on dev, fit again on train + dev")] = True,
    train_embeddings: Annotated[bool, typer.Option(help="full: also train the embedding layer")] = False,
    rank: Annotated[int | None, typer.Option(help="lora: rank r (default 8)")] = None,
    alpha: Annotated[float | None, typer.Option(help="lora: scale alpha (default 16)")] = None,
    lora_dropout: Annotated[float | None, typer.Option(help="lora: dropout (default 0.1)")] = None,
    target_modules: Annotated[str | None, typer.Option(
        help="lora: all-linear (default), attention (the anatomy table's query/value ...) or comma-separated "
        "projection names; ia3: projection names (default: keys, values, feed-forward output)")] = None,
    virtual_tokens: Annotated[int | None, typer.Option(help="prompt / prefix: virtual tokens (default 20)")] = None,
    reduction_factor: Annotated[int | None, typer.Option(
        help="adapter / compacter: hidden size / bottleneck size (default 16)")] = None,
    placement: Annotated[str | None, typer.Option(help="adapter: houlsby or pfeiffer (default houlsby)")] = None,
    phm_dim: Annotated[int | None, typer.Option(help="compacter: Kronecker factors n (default 4)")] = None,
    epochs: Annotated[int | None, typer.Option(help="epochs (default: the strategy's)")] = None,
    lr: Annotated[float | None, typer.Option(help="head learning rate; lower layers get less")] = None,
    lr_decay: Annotated[float | None, typer.Option(help="learning-rate factor between layer groups (default 2.6; full: 1.6)")] = None,
    batch_size: Annotated[int, typer.Option()] = 32,
    max_length: Annotated[int | None, typer.Option(help="tokens per text (default: 128; QA 384, instruction "
                                                         "data 256)")] = None,
    gradual_unfreeze: Annotated[bool, typer.Option(help="unfreeze one layer group per epoch, top first")] = False,
    patience: Annotated[int, typer.Option(help="early-stopping patience in epochs (0: off)")] = 2,
    metric: Annotated[str | None, typer.Option(help="dev metric: auc, macro_f1, accuracy ...")] = None,
    schedule: Annotated[str, typer.Option(help="linear or slanted")] = "linear",
    class_weights: Annotated[str, typer.Option(help="auto (balance when imbalance >= 10:1), balanced or none")] = "auto",
    warm_start: Annotated[bool, typer.Option(help="start the head from a linear probe (head-only baseline first)")] = True,
    prefix_cache: Annotated[bool, typer.Option(help="compute the frozen bottom of the model once")] = True,
    average_epochs: Annotated[int | None, typer.Option(
        help="keep the mean of the last N epochs' weights up to the best one (default: full 2, others 1)")] = None,
    label_smoothing: Annotated[float | None, typer.Option(
        help="move this share of the training target off the true class, spread over all classes "
        "(default: full on single-label classification with 3+ classes 0.1, else 0)")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    text_column: Annotated[str, typer.Option()] = "text",
    label_column: Annotated[str, typer.Option()] = "label",
    label_sep: Annotated[str | None, typer.Option(help="multi-label separator inside the label cell, e.g. '|'")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run in --out")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace a finished run in --out")] = False,
) -> None:
    """Train a classifier, tagger (NER) or QA model and write a run directory with the model, metrics and a
    report."""
    from headstart.runs import train_run

    try:
        metrics = train_run(data, out, dev=dev, test=test, resume=resume, overwrite=overwrite,
                            text_column=text_column, label_column=label_column, label_sep=label_sep,
                            backbone=backbone, strategy=strategy.value, top_n=top_n, classifier=classifier,
                            refit=None if refit else False, train_embeddings=train_embeddings or None, rank=rank, alpha=alpha,
                            lora_dropout=lora_dropout,
                            target_modules=target_modules.split(",") if target_modules else None,
                            virtual_tokens=virtual_tokens, reduction_factor=reduction_factor, placement=placement,
                            phm_dim=phm_dim,
                            epochs=epochs, lr=lr, lr_decay=lr_decay, batch_size=batch_size, max_length=max_length,
                            gradual_unfreeze=gradual_unfreeze, patience=patience, metric=metric,
                            schedule=schedule, class_weights=class_weights, warm_start=warm_start,
                            prefix_cache=prefix_cache, average_epochs=average_epochs,
                            label_smoothing=label_smoothing, seed=seed, progress=True, task=task, stride=stride)
    except HeadstartError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print(f"interrupted: the last finished epoch is in {out}/checkpoint.pt; "
                  f"continue with the same command and --resume")
        raise typer.Exit(130) from None
    _print_metrics(metrics, metrics["evaluated_on"])
    console.print(f"run saved in [bold]{out}[/] (report: {out}/report.html)")


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


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="a run directory written by `headstart train`")],
    data: Annotated[Path, typer.Argument(help="labelled data to evaluate on")],
) -> None:
    """Evaluate a trained run on labelled data, beside the baselines; writes a report."""
    from headstart.runs import evaluate_run

    try:
        result = evaluate_run(run, data)
    except HeadstartError as exc:
        _fail(exc)
    _print_metrics({"task": result.get("task", "classification"), "strategy": result["strategy"],
                    "backbone": result["backbone"], "eval": result["metrics"],
                    "baselines": result.get("baselines", {})}, "eval")
    console.print(f"report: {result['report']}")


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="a run directory written by `headstart train`")],
    texts: Annotated[list[str] | None, typer.Argument(help="texts to classify or tag; questions for a QA run")] = None,
    file: Annotated[Path | None, typer.Option(help="a CSV/TSV/JSONL file with a text column")] = None,
    context: Annotated[str | None, typer.Option(help="qa: the passage the answers come from")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
) -> None:
    """Classify texts, print the entities in them (NER), or answer questions about --context (QA)."""
    from headstart.task_runs import load

    try:
        clf = load(run)
        items = list(texts or []) + (clf._texts(file) if file else [])
        if not items:
            raise HeadstartError("nothing to predict.", expected="texts as arguments or --file",
                                 found="neither", fix='headstart predict RUN "some text"')
        if clf.task == "qa":
            return _predict_qa(clf, items, context, as_json)
        if clf.task == "ner":
            return _predict_entities(clf, items, as_json)
        proba = clf.predict_proba(items)
    except HeadstartError as exc:
        _fail(exc)
    for text, p in zip(items, proba, strict=True):
        order = p.argsort()[::-1]
        label = [clf.labels_[i] for i in order if p[i] >= 0.5] if clf.multilabel_ else clf.labels_[order[0]]
        if as_json:
            print(json.dumps({"text": text, "label": label,
                              "scores": {clf.labels_[i]: round(float(p[i]), 4) for i in order[:5]}}))
        else:
            console.print(f"[bold]{label}[/] ({p[order[0]]:.3f})  {text}", highlight=False)


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


@app.command()
def recommend(
    data: Annotated[Path | None, typer.Argument(help="labelled training data (leave out, or --no-labels, when "
                                                     "you have none)")] = None,
    compute: Annotated[Compute | None, typer.Option(help="override the detected compute level")] = None,
    complexity: Annotated[str | None, typer.Option(
        help="simple, standard, fine-grained, domain-specific or sequence (default: inferred)")] = None,
    unlabelled_corpus: Annotated[bool, typer.Option(help="you also have lots of unlabelled in-domain text")] = False,
    api_only: Annotated[bool, typer.Option(help="you want to call a hosted model, not train one")] = False,
    no_labels: Annotated[bool, typer.Option(help="DATA holds texts without labels")] = False,
    text_column: Annotated[str, typer.Option()] = "text",
    label_column: Annotated[str, typer.Option()] = "label",
) -> None:
    """Recommend a strategy from the data's statistics and this machine, with the reasons and the command."""
    from headstart.data import load_task
    from headstart.recommender import recommend as make_plan

    try:
        stats = None
        if data is not None and not no_labels:
            stats = load_task(data, text_column=text_column, label_column=label_column).stats
        plan = make_plan(stats, compute=compute.value if compute else None, complexity=complexity,
                         unlabelled_corpus=unlabelled_corpus, api_only=api_only,
                         data_path=str(data) if data is not None else None)
    except HeadstartError as exc:
        _fail(exc)
    console.print(plan.to_text(), highlight=False, markup=False)


@app.command()
def compare(
    data: Annotated[Path, typer.Argument(help="training data: CSV, TSV or JSONL with text and label columns")],
    strategies: Annotated[str | None, typer.Option(
        help="comma-separated strategies, e.g. features,head,top-n (default: every registered one)")] = None,
    budget: Annotated[str, typer.Option(help="time for the whole bake-off: 90s, 20m, 1h, 1h30m")] = "20m",
    out: Annotated[Path, typer.Option(help="folder for the leaderboard, report and candidate runs")] = Path(
        "runs/compare"),
    dev: Annotated[Path | None, typer.Option(help="dev data (default: a stratified 10% of DATA, drawn once)")] = None,
    test: Annotated[Path | None, typer.Option(help="test data, scored for information (ranking uses dev)")] = None,
    text_column: Annotated[str, typer.Option()] = "text",
    label_column: Annotated[str, typer.Option()] = "label",
    label_sep: Annotated[str | None, typer.Option(help="multi-label separator inside the label cell")] = None,
    backbone: Annotated[str, typer.Option(help="registered name, local folder or Hugging Face id")] = "minilm",
    seed: Annotated[int, typer.Option()] = 0,
    max_length: Annotated[int, typer.Option(help="tokens per text")] = 128,
    epochs: Annotated[int | None, typer.Option(help="epochs for every candidate (default: each one's own)")] = None,
    max_seconds: Annotated[float | None, typer.Option(help="constraint: training time in seconds")] = None,
    max_memory_mb: Annotated[float | None, typer.Option(help="constraint: peak memory in MB")] = None,
    max_params: Annotated[int | None, typer.Option(help="constraint: trainable parameters")] = None,
    max_adapter_mb: Annotated[float | None, typer.Option(help="constraint: saved model folder in MB")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=(
        "one candidate's own option, repeatable: STRATEGY.OPTION=VALUE, e.g. --set lora.rank=16 "
        "--set top-n.top_n=3 --set full.lr=5e-5"))] = None,
    ensemble: Annotated[bool, typer.Option(help="also try the mean of the best candidates' probabilities (no "
                                                "extra training); saved in OUT/ensemble when it wins on dev")] = True,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier comparison in --out")] = False,
) -> None:
    """Train several strategies on the same split within a time budget; leaderboard, plots and a choice."""
    from headstart.compare import Constraints, parse_budget
    from headstart.compare import compare as run_compare

    try:
        board = run_compare(data, out, strategies, parse_budget(budget), dev=dev, test=test,
                            text_column=text_column, label_column=label_column, label_sep=label_sep,
                            backbone=backbone, seed=seed, max_length=max_length, epochs=epochs,
                            constraints=Constraints(max_seconds, max_memory_mb, max_params, max_adapter_mb),
                            settings=set_ or (), ensemble=ensemble, overwrite=overwrite, on_event=lambda line: err.print(line, highlight=False, markup=False))
    except HeadstartError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("interrupted: the running candidate was stopped; nothing was recommended")
        raise typer.Exit(130) from None
    _print_leaderboard(board)
    console.print(board.recommendation, highlight=False, markup=False)
    if board.ensemble.get("built"):
        console.print(f"ensemble: predict with `headstart predict {out}/ensemble TEXT` (its members are chosen on "
                      "dev, so its dev score is optimistic; the test score is not)", highlight=False, markup=False)
    console.print(f"report: [bold]{out}/report.html[/]")


def _print_leaderboard(board) -> None:
    from rich.markup import escape

    from headstart.evaluation.compare_report import format_bytes

    table = Table(title=f"leaderboard (ranked on dev {board.primary_metric})")
    for col in ("strategy", "outcome", f"dev {board.primary_metric}", f"test {board.primary_metric}",
                "train s", "peak MB", "trainable", "adapter", "constraints"):
        table.add_column(col)

    def fmt(v, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    for r in board.rows:
        verdict = "-" if r.status != "finished" else "; ".join(r.violations) or "met"
        name = f"[bold]{escape(r.label)}[/]" if r.strategy == board.choice else escape(r.label)
        table.add_row(name, escape(r.outcome), fmt(r.dev_metric, ".4f"), fmt(r.test_metric, ".4f"),
                      fmt(r.train_seconds, ",.1f"), fmt(r.peak_memory_mb, ",.0f"), fmt(r.trainable_params, ","),
                      format_bytes(r.adapter_bytes), escape(verdict))
    console.print(table)


@app.command()
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
) -> None:
    """Continue masked-LM pretraining on domain text (DAPT) or the task's own texts (TAPT); the result is
    registered as a backbone every command accepts."""
    from headstart.pretrain import pretrain as run_pretrain

    try:
        summary = run_pretrain(corpus, out, backbone=backbone, tapt=tapt, name=name, epochs=epochs, lr=lr,
                               batch_size=batch_size, max_length=max_length, patience=patience, seed=seed,
                               log=lambda text: console.print(escape(text), highlight=False))
    except HeadstartError as exc:
        _fail(exc)
    b, a = summary["dev_before"], summary["dev_after"]
    console.print(f"held-out masked-LM loss {b['mlm_loss']:.3f} -> {a['mlm_loss']:.3f}, masked-token accuracy "
                  f"{b['mlm_accuracy']:.3f} -> {a['mlm_accuracy']:.3f} ({summary['train_chunks']} chunks, "
                  f"{summary['seconds']:.0f} s)")
    console.print(f"saved in [bold]{out}[/]; use it as --backbone {summary['registered_as']}")


@app.command()
def models() -> None:
    """List the registered backbones and whether they are installed (work offline)."""
    from headstart.backbones import list_backbones

    table = Table(title="backbones (any Hugging Face id or local folder also works)")
    for col in ("name", "installed", "hub id", "description"):
        table.add_column(col)
    for row in list_backbones():
        installed = "yes" if row["installed"] else f"no: {row['install']}"
        table.add_row(row["name"], installed, row["hub_id"] or row["path"], row["description"])
    console.print(table)
    strategies = Table(title="strategies (--strategy)")
    for col in ("name", "saves", "what trains"):
        strategies.add_column(col)
    for name, cls in STRATEGIES.items():
        strategies.add_row(name, f"adapter ({cls.adapter}) + head" if cls.adapter else "head (+ backbone if trained)", cls.summary)
    console.print(strategies)


# -- serving and API zero-shot (OpenAI-compatible chat API) -------------------------------------------------


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="a decoder: backbone name (smollm2), model folder, PEFT adapter "
                                         "folder or run folder")],
    host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    api_key: Annotated[str | None, typer.Option(envvar="HEADSTART_API_KEY",
                                                help="require 'Authorization: Bearer KEY' on /v1/ requests")] = None,
) -> None:
    """Serve a causal LM over the OpenAI-compatible chat API (/v1/chat/completions, /v1/models, /health)."""
    from headstart.serving.openai_server import serve as run_server

    try:
        run_server(model, host=host, port=port, api_key=api_key)
    except HeadstartError as exc:
        _fail(exc)


@app.command("zero-shot-api")
def zero_shot_api(
    data: Annotated[Path, typer.Argument(help="CSV/TSV/JSONL with a text column (and a label column to score)")],
    labels: Annotated[str, typer.Option(help="the labels, comma-separated: positive,negative")],
    base_url: Annotated[str | None, typer.Option(help="API root ending in /v1; default $OPENAI_BASE_URL")] = None,
    model: Annotated[str | None, typer.Option(help="model id; default $HEADSTART_API_MODEL")] = None,
    api_key: Annotated[str | None, typer.Option(help="default $OPENAI_API_KEY")] = None,
    concurrency: Annotated[int, typer.Option(help="requests in flight at once")] = 4,
    text_column: Annotated[str, typer.Option(help="column holding the texts")] = "text",
    label_column: Annotated[str, typer.Option(help="column holding the gold labels, if any")] = "label",
    cache_dir: Annotated[Path | None, typer.Option(help="answer cache; default $HEADSTART_HOME/cache/api")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="ask again even for answers in the cache")] = False,
) -> None:
    """Zero-shot classification by a chat model over any OpenAI-compatible API; scores it when DATA has labels."""
    from headstart.zeroshot.api import ApiClient, evaluate_api_zero_shot

    names = [name.strip() for name in labels.split(",") if name.strip()]
    try:
        with ApiClient(base_url, model, api_key, concurrency=concurrency, cache=not no_cache,
                       cache_dir=cache_dir) as client:
            result = evaluate_api_zero_shot(data, names, client, text_column=text_column, label_column=label_column)
    except HeadstartError as exc:
        _fail(exc)
    metrics = result["metrics"]
    if metrics is None:
        for label in result["predictions"]:
            print(label)
    else:
        console.print(f"accuracy {metrics['accuracy']:.3f}  macro-F1 {metrics['macro_f1']:.3f}  (n={result['n']})")
    if result["n_unparsed"]:
        err.print(f"{result['n_unparsed']} of {result['n']} answers named no label; they got {names[0]!r}",
                  highlight=False)


# ---- generation -------------------------------------------------------------------------------------


@app.command()
def generate(
    run: Annotated[str, typer.Argument(help="a run folder of instruction tuning, a saved generator, or a "
                                            "backbone name (e.g. smollm2) for the untrained model")],
    prompt: Annotated[str, typer.Argument(help="the instruction to answer")],
    max_new_tokens: Annotated[int, typer.Option(help="most tokens to generate")] = 128,
    temperature: Annotated[float, typer.Option(help="sampling temperature")] = 0.7,
    top_p: Annotated[float, typer.Option(help="nucleus sampling: keep the top tokens of this mass")] = 0.9,
    top_k: Annotated[int, typer.Option(help="sample among the k most likely tokens")] = 50,
    seed: Annotated[int | None, typer.Option(help="seed the sampling (same seed, same text)")] = None,
    no_sample: Annotated[bool, typer.Option("--no-sample", help="greedy decoding")] = False,
) -> None:
    """Answer PROMPT with a generative model, streaming the tokens as they are produced."""
    from headstart.generator import HeadstartGenerator

    try:
        path = Path(run)
        gen = HeadstartGenerator.load(path) if path.exists() else HeadstartGenerator.pretrained(run)
        gen.generate(prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                     do_sample=not no_sample, seed=seed, stream=lambda text: print(text, end="", flush=True))
    except HeadstartError as exc:
        _fail(exc)
    print()


# ---- few-shot (SetFit-style) ------------------------------------------------------------------------
@app.command("few-shot")
def few_shot(
    data: Annotated[Path, typer.Argument(help="training data: CSV / TSV / JSONL with text and label columns "
                                               "(a handful of examples per class)")],
    out: Annotated[Path, typer.Option(help="run directory to write")] = Path("runs/few-shot"),
    backbone: Annotated[str, typer.Option(help="sentence encoder: registered name, local folder or hub id")] = "minilm",
    epochs: Annotated[int, typer.Option(help="most contrastive epochs (early stopping picks the best)")] = 4,
    pairs_per_example: Annotated[int, typer.Option(help="pairs per example and epoch, half positive (even)")] = 10,
    batch_size: Annotated[int, typer.Option(help="pairs per step")] = 16,
    lr: Annotated[float, typer.Option(help="encoder learning rate")] = 2e-5,
    patience: Annotated[int, typer.Option(help="epochs without a better dev score before stopping (0: off)")] = 2,
    seed: Annotated[int, typer.Option()] = 0,
    dev: Annotated[Path | None, typer.Option(help="dev data (default: a stratified 20% of DATA when every "
                                                  "class has 4 rows or more)")] = None,
    test: Annotated[Path | None, typer.Option(help="test data: prints accuracy and macro-F1")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a finished run in --out")] = False,
) -> None:
    """Few-shot classification: contrastive fine-tuning of a sentence encoder on pairs, then a
    logistic-regression head (SetFit-style)."""
    from headstart.fewshot import few_shot_run

    try:
        summary = few_shot_run(data, out, test=test, dev=dev, overwrite=overwrite, backbone=backbone,
                               epochs=epochs, pairs_per_example=pairs_per_example, batch_size=batch_size,
                               lr=lr, patience=patience, seed=seed)
    except HeadstartError as exc:
        _fail(exc)
    console.print(f"trained on {summary['pairs']} pairs in {summary['fit_seconds']:.0f} s; "
                  f"kept epoch {summary['best_epoch']}")
    if "test" in summary:
        t = summary["test"]
        console.print(f"test: accuracy {t['accuracy']:.4f}, macro-F1 {t['macro_f1']:.4f} ({t['n']} rows)")
    console.print(f"saved in [bold]{escape(str(out))}[/]")


# -- zero-shot ------------------------------------------------------------------------------------------
@app.command("zero-shot")
def zero_shot(
    data: Annotated[Path, typer.Argument(help="CSV / TSV / JSONL with a text column; a label column, if any, "
                                              "is used to score the predictions")],
    labels: Annotated[str | None, typer.Option(help='comma-separated class names, e.g. "positive,negative" '
                                                     "(default: the labels file's, else the data's label column)")] = None,
    labels_file: Annotated[Path | None, typer.Option(help="JSON label -> description (or a list of labels)")] = None,
    method: Annotated[str, typer.Option(help="embedding (sentence encoder), lm (instruct decoder) or api (a chat model "
                                                "over the OpenAI-compatible API: OPENAI_BASE_URL, OPENAI_API_KEY, "
                                                "--backbone = the model; zero-shot-api has every option)")] = "embedding",
    backbone: Annotated[str | None, typer.Option(help="default: minilm (embedding), smollm2 (lm)")] = None,
    shots: Annotated[int, typer.Option(help="lm: in-context examples per class, drawn from --examples")] = 0,
    examples: Annotated[Path | None, typer.Option(help="labelled file to draw the in-context examples from")] = None,
    out: Annotated[Path | None, typer.Option(help="CSV of predictions (default: DATA.predictions.csv when DATA "
                                                   "has no labels)")] = None,
    calibrate: Annotated[bool | None, typer.Option(help="centre each label's scores on DATA's texts (default on)")] = None,
    text_column: Annotated[str, typer.Option()] = "text",
    label_column: Annotated[str, typer.Option()] = "label",
    seed: Annotated[int, typer.Option(help="which in-context examples are drawn")] = 0,
) -> None:
    """Classify texts without training, from the label names (or descriptions); scored if DATA has labels."""
    from headstart.zeroshot import SCORERS
    from headstart.zeroshot.run import zero_shot_run

    try:
        if method not in SCORERS:
            raise HeadstartError(f"unknown method {method!r}.", expected=", ".join(sorted(SCORERS)),
                                 found=method, fix="use --method embedding, lm or api")
        names = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
        result = zero_shot_run(data, labels=names, labels_file=labels_file, method=method, backbone=backbone,
                               shots=shots, examples=examples, out=out, calibrate=calibrate,
                               text_column=text_column, label_column=label_column, seed=seed)
    except HeadstartError as exc:
        _fail(exc)
    info = result["describe"]
    console.print(f"{len(result['labels'])} labels from {escape(result['labels_from'])}; {info['method']} on "
                  f"{info['backbone']}; {result['n']} texts in {result['seconds']:.1f} s", highlight=False)
    if result["metrics"] is not None:
        m = result["metrics"]
        console.print(f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}", highlight=False)
    if result["out"]:
        console.print(f"predictions written to [bold]{escape(result['out'])}[/]")


def main() -> None:  # pragma: no cover
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()
