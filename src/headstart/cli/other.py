"""Commands beyond training a classifier: serving, generation, zero-shot and few-shot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from headstart.cli._app import command, console, err, read_secret
from headstart.errors import HeadstartError

# -- serving and API zero-shot (OpenAI-compatible chat API) -------------------------------------------------


@command()
def serve(
    models: Annotated[list[str], typer.Argument(help="runs to serve (classification, pairs, NER, QA; NAME=PATH to "
                                                "name one; ONNX export folders), or one decoder to chat with: a "
                                                "backbone name (smollm2), model folder, PEFT adapter or generation run")],
    host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0: every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    api_key: Annotated[str | None, typer.Option(envvar="HEADSTART_API_KEY", help=(
        "require 'Authorization: Bearer KEY' on /v1/ requests; prefer $HEADSTART_API_KEY or --api-key-file: "
        "a key on the command line shows in `ps`"))] = None,
    api_key_file: Annotated[Path | None, typer.Option(help="read the API key from this file (first line)")] = None,
    max_body_kb: Annotated[int, typer.Option(help="largest request body accepted (413 beyond)")] = 1024,
    max_waiting: Annotated[int, typer.Option(help="requests queued for the model at most (503 beyond)")] = 64,
    timeout: Annotated[float, typer.Option(help="seconds one request may take (a generation then ends with "
                                                "finish_reason 'length'; a task request gets 504)")] = 120.0,
    max_batch: Annotated[int, typer.Option(help="task runs: inputs per model call when requests are batched "
                                           "together (1: no batching)")] = 32,
    max_wait_ms: Annotated[float, typer.Option(help="task runs: how long the first request of a batch waits "
                                               "for others")] = 5.0,
    runs: Annotated[Path | None, typer.Option(help="a folder of runs to list on the /runs page")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="task runs: threads each model computes with "
                                                "(torch and ONNX Runtime; default: the machine's cores)")] = None,
) -> None:
    """Serve trained runs over HTTP: /v1/classify, /v1/ner, /v1/qa, /v1/embeddings and a web page at /; or
    a decoder over the OpenAI-compatible chat API (/v1/chat/completions)."""
    from headstart.serving.http import Limits

    if api_key_file is not None:
        api_key = read_secret(api_key_file, "an API key", "HEADSTART_API_KEY")
    limits = Limits(max_body_bytes=max_body_kb * 1024, max_waiting=max_waiting, timeout_s=timeout)
    if any(_is_task_run(m) for m in models):
        from headstart.serving.task_server import serve_tasks

        serve_tasks(models, host=host, port=port, api_key=api_key or None, limits=limits, max_batch=max_batch,
                    max_wait_ms=max_wait_ms, runs_dir=str(runs) if runs else None, threads=threads)
        return
    if len(models) > 1:
        raise HeadstartError("one decoder at a time is served over the chat API.", expected="one model to chat "
                             "with, or task runs", found=f"{len(models)} models: {', '.join(models)}",
                             fix="start one server per decoder (each on its own --port)")
    from headstart.serving.openai_server import serve as run_server

    run_server(models[0], host=host, port=port, api_key=api_key or None, limits=limits)


def _is_task_run(spec: str) -> bool:
    """A run (or ONNX export) the task server answers for, rather than a decoder to chat with."""
    import json

    from headstart.serving.task_models import TASK_ROUTES

    name, sep, rest = spec.partition("=")
    path = Path(rest) if sep and not Path(spec).exists() else Path(spec)
    from headstart.persist import model_dir

    if (path / "headstart-onnx.json").exists():
        return True
    if (folder := model_dir(path)) is None:
        return False
    try:
        return json.loads((folder / "headstart.json").read_text()).get("task", "classification") in TASK_ROUTES
    except (OSError, ValueError, AttributeError):
        return True  # the task server's loader reports the damaged file


@command("zero-shot-api")
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
    with ApiClient(base_url, model, api_key, concurrency=concurrency, cache=not no_cache,
                   cache_dir=cache_dir) as client:
        result = evaluate_api_zero_shot(data, names, client, text_column=text_column, label_column=label_column)
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


@command()
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
    from headstart.tasks.generation.estimator import HeadstartGenerator

    path = Path(run)
    gen = HeadstartGenerator.load(path) if path.exists() else HeadstartGenerator.pretrained(run)
    gen.generate(prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                 do_sample=not no_sample, seed=seed, stream=lambda text: print(text, end="", flush=True))
    print()


# ---- few-shot (SetFit-style) ------------------------------------------------------------------------
@command("few-shot")
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

    summary = few_shot_run(data, out, test=test, dev=dev, overwrite=overwrite, backbone=backbone,
                           epochs=epochs, pairs_per_example=pairs_per_example, batch_size=batch_size,
                           lr=lr, patience=patience, seed=seed)
    console.print(f"trained on {summary['pairs']} pairs in {summary['fit_seconds']:.0f} s; "
                  f"kept epoch {summary['best_epoch']}")
    if "test" in summary:
        t = summary["test"]
        console.print(f"test: accuracy {t['accuracy']:.4f}, macro-F1 {t['macro_f1']:.4f} ({t['n']} rows)")
    console.print(f"saved in [bold]{escape(str(out))}[/]")


# -- zero-shot ------------------------------------------------------------------------------------------
@command("zero-shot")
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

    if method not in SCORERS:
        raise HeadstartError(f"unknown method {method!r}.", expected=", ".join(sorted(SCORERS)),
                             found=method, fix="use --method embedding, lm or api")
    names = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    result = zero_shot_run(data, labels=names, labels_file=labels_file, method=method, backbone=backbone,
                           shots=shots, examples=examples, out=out, calibrate=calibrate,
                           text_column=text_column, label_column=label_column, seed=seed)
    info = result["describe"]
    console.print(f"{len(result['labels'])} labels from {escape(result['labels_from'])}; {info['method']} on "
                  f"{info['backbone']}; {result['n']} texts in {result['seconds']:.1f} s", highlight=False)
    if result["metrics"] is not None:
        m = result["metrics"]
        console.print(f"accuracy {m['accuracy']:.4f}  macro-F1 {m['macro_f1']:.4f}", highlight=False)
    if result["out"]:
        console.print(f"predictions written to [bold]{escape(result['out'])}[/]")


