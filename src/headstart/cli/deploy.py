"""Commands about finished runs: `runs` (list, filter, sort them; `runs show RUN`), `export` (a plain transformers folder, ONNX, int8) and
`push` (to the Hugging Face Hub)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headstart.cli._app import command, console, print_fitted_table, read_secret
from headstart.export.quiet import quiet


class Format(str, Enum):
    transformers = "transformers"
    peft = "peft"
    onnx = "onnx"


class Quantize(str, Enum):
    int8 = "int8"


class SortBy(str, Enum):
    date = "date"
    score = "score"
    size = "size"
    time = "time"
    name = "name"


@command()
def runs(
    target: Annotated[list[str] | None, typer.Argument(
        help="FOLDER holding run folders (default: runs), or `show RUN` for one run in full",
        show_default=False)] = None,
    task: Annotated[str | None, typer.Option(help="only runs of this task (classification, pairs, ner, qa, "
                                                  "generation)")] = None,
    strategy: Annotated[str | None, typer.Option(help="only runs of this strategy")] = None,
    data: Annotated[str | None, typer.Option(help="only runs whose training file path contains this")] = None,
    backbone: Annotated[str | None, typer.Option(help="only runs on this backbone")] = None,
    sort: Annotated[SortBy, typer.Option(help="newest first (date), best score first, smallest, fastest, "
                                              "or by name")] = SortBy.date,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """List the runs under FOLDER (task, data, strategy, backbone, score, size, training time), filtered and
    sorted; `headstart runs show RUN` prints one run in full."""
    from headstart.errors import HeadstartError
    from headstart.runs.listing import list_runs, select_runs, show_run

    target = list(target or [])
    if target[:1] == ["show"]:
        if len(target) != 2:
            raise HeadstartError("runs show takes one run folder.", expected="headstart runs show RUN",
                                 found=f"{len(target) - 1} folders", fix="headstart runs show runs/spam")
        run = Path(target[1])
        if not (run / "headstart-run.json").is_file():
            raise HeadstartError(f"{run} is not a headstart run folder.", expected="a folder written by "
                                 "`headstart train` (it holds headstart-run.json)",
                                 found="no such folder" if not run.exists() else "no headstart-run.json there",
                                 fix="list the runs with `headstart runs FOLDER`")
        shown = show_run(run)
        return console.print_json(json.dumps(shown)) if as_json else _print_run(shown)
    if len(target) > 1:
        raise HeadstartError("runs takes one folder.", expected="headstart runs [FOLDER] or headstart runs show RUN",
                             found=" ".join(target), fix="headstart runs runs")
    folder = Path(target[0]) if target else Path("runs")
    if not folder.is_dir():
        raise HeadstartError(f"{folder} is not a folder.", expected="a folder of runs (the parent of --out folders)",
                             found="no such folder" if not folder.exists() else "a file",
                             fix="pass the folder your runs are in, e.g. `headstart runs runs`")
    rows = select_runs(list_runs(folder), task=task, strategy=strategy, data=data, backbone=backbone, sort=sort.value)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    cells = {  # in order of importance: the last ones are left out first on a narrow terminal
        "run": [escape(r["name"]) for r in rows],
        "score": [f"{r['metric']} {r['score']:.4f} ({r['split']})" if isinstance(r["score"], int | float) else ""
                  for r in rows],
        "strategy": [str(r["strategy"]) for r in rows],
        "task": [str(r["task"]) for r in rows],
        "data": [escape(Path(r["data"]).name if r["data"] else "") for r in rows],
        "backbone": [escape(str(r["backbone"] or "")) for r in rows],
        "training s": ["" if r["train_seconds"] is None else f"{r['train_seconds']:,.1f}" for r in rows],
        "size MB": [f"{r['size_mb']:,.1f}" for r in rows],
        "date": [r["date"] for r in rows],
    }
    print_fitted_table(f"{len(rows)} runs in {escape(str(folder))}", cells, wrap=("run", "data", "backbone"),
                       note="; all with --json")


def _print_run(run: dict) -> None:
    console.print(f"[bold]{escape(run['name'])}[/]  {run['task']}, {run['strategy']} on {escape(str(run['backbone']))}"
                  f"  ({run['date']})", highlight=False)
    for split, path in run["data_files"].items():
        console.print(f"  {split}: {escape(str(path))}", highlight=False)
    if run.get("trained_on"):
        console.print(f"  trained on: {escape(run['trained_on'])}", highlight=False)
    if run.get("strategy_options"):
        console.print(f"  strategy options: {escape(json.dumps(run['strategy_options']))}", highlight=False)
    if run.get("training"):
        shown = {k: run["training"].get(k) for k in ("epochs", "lr", "batch_size", "max_length") if k in run["training"]}
        console.print(f"  training: {escape(json.dumps(shown))}; ran {run['epochs_run']} epochs, kept epoch "
                      f"{run['best_epoch']}", highlight=False)
    for split, scores in run["scores"].items():
        console.print(f"  {split}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if k != "n"),
                      highlight=False)
    for name, scores in (run.get("baselines") or {}).items():
        if isinstance(scores, dict):
            console.print(f"  baseline {escape(name)}: " + ", ".join(
                f"{k} {v:.4f}" for k, v in scores.items() if k in run["scores"].get("dev", run["scores"].get("test", {}))
                and isinstance(v, int | float) and k != "n"), highlight=False)
    params = run.get("trainable_params")
    if params is not None:
        console.print(f"  trainable parameters: {params:,} of {run['total_params']:,}; folder {run['size_mb']:,.1f} MB;"
                      f" training {run['train_seconds'] or 0:,.1f} s", highlight=False)
    console.print(f"  files: {', '.join(run['files'])}", highlight=False)


@command()
def export(
    run: Annotated[Path, typer.Argument(help="a run folder (the --out of `headstart train`)")],
    out: Annotated[Path, typer.Option(help="folder to write (new or empty)")],
    format: Annotated[Format, typer.Option("--format", help="transformers: a folder transformers' pipelines and "
                                           "Auto classes load; peft: a LoRA / IA3 run as an adapter peft's "
                                           "AutoPeftModel classes load; onnx: one ONNX Runtime graph")] = Format.transformers,
    quantize: Annotated[Quantize | None, typer.Option(help="onnx only: int8 weights, kept when accuracy holds")] = None,
    max_drop: Annotated[float, typer.Option(help="onnx int8: largest accuracy loss against fp32 accepted, in "
                                                 "points")] = 0.5,
    eval_file: Annotated[Path | None, typer.Option("--eval", help="labelled file to check the export on "
                                                   "(default: the run's test, else dev file)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier export in OUT")] = False,
) -> None:
    """Write a run in a format the ecosystem loads without headstart, checked against headstart's predictions."""
    from headstart.errors import ConfigError

    if quantize is not None and format is not Format.onnx:
        raise ConfigError("--quantize applies to --format onnx.", expected="--format onnx --quantize int8",
                          found=f"--format {format.value} --quantize int8", fix="add --format onnx")
    if format is Format.peft:
        from headstart.export.peft_format import export_peft

        with quiet():
            done = export_peft(run, out, overwrite=overwrite)
        console.print(f"wrote {escape(str(done.folder))} ({done.size_mb:,.1f} MB adapter; its base in "
                      f"{escape(str(done.folder / 'base'))})\nload it: [bold]{done.auto_class}.from_pretrained("
                      f"\"{escape(str(done.folder))}\", trust_remote_code=True)[/]", soft_wrap=True)
        return
    if format is Format.transformers:
        from headstart.export.transformers_format import export_transformers

        with quiet():
            done = export_transformers(run, out, overwrite=overwrite)
        console.print(f"wrote {escape(str(done.folder))} ({done.size_mb:,.1f} MB): a {done.task} model with its "
                      f"model card\nload it: [bold]pipeline(\"{done.pipeline_tag}\", model=\"{escape(str(done.folder))}\", "
                      "trust_remote_code=True)[/]" if done.task != "qa" else
                      f"wrote {escape(str(done.folder))}\nload it: [bold]{done.auto_class}.from_pretrained("
                      f"\"{escape(str(done.folder))}\", trust_remote_code=True)[/]", soft_wrap=True)
        return
    from headstart.export.onnx_format import export_onnx

    with quiet():
        report = export_onnx(run, out, quantize=quantize.value if quantize else None, overwrite=overwrite,
                             eval_file=eval_file, max_drop=max_drop / 100)
    console.print(f"wrote {escape(str(out))}: parity with headstart {report['parity_max_abs_logit']:.1e} "
                  f"(largest logit difference); predictions use {report['kept']}", soft_wrap=True)
    if "sides" in report:
        table = Table(title=f"on {escape(report['evaluated_on']['file'])} ({report['evaluated_on']['rows']} rows; "
                      "latency: one short text, 1 thread)")
        for name in ("model", "accuracy", "macro-F1", "p50 ms"):
            table.add_column(name)
        for name, row in report["sides"].items():
            table.add_row(name, f"{row['accuracy']:.4f}", f"{row['macro_f1']:.4f}", f"{row['p50_ms']:.2f}")
        console.print(table)
    if "warning" in report:
        console.print(f"[yellow]warning:[/] {escape(report['warning'])}", soft_wrap=True)


@command()
def push(
    run: Annotated[Path, typer.Argument(help="a run folder")],
    repo: Annotated[str, typer.Argument(help="hub repository, OWNER/NAME (created if missing)")],
    private: Annotated[bool, typer.Option(help="create the repository private")] = False,
    token_file: Annotated[Path | None, typer.Option(help="read the hub token from this file; default $HF_TOKEN or "
                                                    "your `hf auth login`")] = None,
    message: Annotated[str | None, typer.Option(help="commit message")] = None,
) -> None:
    """Export a run as a transformers folder with its model card and upload it to the Hugging Face Hub."""
    from headstart.export.push import push_run

    token = read_secret(token_file, "a hub token", "HF_TOKEN") if token_file else None
    with quiet():
        done = push_run(run, repo, private=private, token=token, message=message)
    console.print(f"pushed {len(done.files)} files to {escape(done.url)}", soft_wrap=True)


@command()
def track(
    runs: Annotated[list[Path], typer.Argument(help="finished run folders (train, distill, compare candidates)")],
    to: Annotated[str, typer.Option(help="mlflow or tensorboard")] = "mlflow",
    uri: Annotated[str | None, typer.Option(help="the MLflow tracking URI (default: MLFLOW_TRACKING_URI, else "
                                                  "sqlite:///mlruns.db)")] = None,
    experiment: Annotated[str, typer.Option(help="the MLflow experiment")] = "headstart",
) -> None:
    """Log finished runs to MLflow or TensorBoard: options, per-epoch metrics, scores, report and model."""
    from headstart.runs.tracking import track_run

    for run in runs:
        console.print(f"{run}: {escape(track_run(run, to, uri=uri, experiment=experiment))}", highlight=False)
