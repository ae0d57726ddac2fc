"""Commands about finished runs: `runs` (list them), `export` (a plain transformers folder, ONNX, int8) and
`push` (to the Hugging Face Hub)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headstart.cli._app import command, console, read_secret
from headstart.export.quiet import quiet


class Format(str, Enum):
    transformers = "transformers"
    peft = "peft"
    onnx = "onnx"


class Quantize(str, Enum):
    int8 = "int8"


@command()
def runs(
    folder: Annotated[Path, typer.Argument(help="the folder holding run folders")] = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """List the runs under FOLDER, newest first: task, strategy, score, size, training time."""
    import json

    from headstart.errors import HeadstartError
    from headstart.runs.listing import list_runs

    if not folder.is_dir():
        raise HeadstartError(f"{folder} is not a folder.", expected="a folder of runs (the parent of --out folders)",
                             found="no such folder" if not folder.exists() else "a file",
                             fix="pass the folder your runs are in, e.g. `headstart runs runs`")
    rows = list_runs(folder)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{len(rows)} runs in {escape(str(folder))}")
    for name in ("run", "task", "strategy", "score", "size MB", "training s", "report"):
        table.add_column(name)
    for r in rows:
        score = f"{r['metric']} {r['score']:.4f} ({r['split']})" if isinstance(r["score"], int | float) else ""
        table.add_row(escape(r["name"]), str(r["task"]), str(r["strategy"]), score, f"{r['size_mb']:,.1f}",
                      "" if r["train_seconds"] is None else f"{r['train_seconds']:,.1f}",
                      "report.html" if r["report"] else "")
    console.print(table)


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
