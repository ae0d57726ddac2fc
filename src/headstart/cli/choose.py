"""`headstart recommend`, `compare` and `models`: choosing a strategy and a backbone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headstart.cli._app import EXIT_INTERRUPTED, Compute, command, console, err, print_fitted_table
from headstart.strategies import STRATEGIES


@command()
def recommend(
    data: Annotated[Path | None, typer.Argument(help="labelled training data (leave out, or --no-labels, when "
                                                     "you have none)")] = None,
    budget: Annotated[str, typer.Option(help="training time you accept for the final model: 90s, 20m, 1h")] = "20m",
    probe: Annotated[bool, typer.Option(help="measure on the data before advising (a frozen-feature probe, "
                                             "its learning curve, a timed step of each candidate); "
                                             "--no-probe: the table alone, instantly")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="print the advice as JSON (for scripts)")] = False,
    dev: Annotated[Path | None, typer.Option(help="dev data (default: a stratified 10% of DATA)")] = None,
    backbone: Annotated[str, typer.Option(help="the backbone the advice is for")] = "minilm",
    max_length: Annotated[int, typer.Option(help="tokens per text")] = 128,
    compute: Annotated[Compute | None, typer.Option(help="override the detected compute level")] = None,
    complexity: Annotated[str | None, typer.Option(
        help="simple, standard, fine-grained, domain-specific or sequence (default: inferred)")] = None,
    unlabelled_corpus: Annotated[bool, typer.Option(help="you also have lots of unlabelled in-domain text")] = False,
    api_only: Annotated[bool, typer.Option(help="you want to call a hosted model, not train one")] = False,
    no_labels: Annotated[bool, typer.Option(help="DATA holds texts without labels")] = False,
    text_column: Annotated[str | None, typer.Option(help="text column (two, comma-separated, for pairs)")] = None,
    label_column: Annotated[str, typer.Option()] = "label",
    label_sep: Annotated[str | None, typer.Option(help="multi-label separator inside the label cell")] = None,
) -> None:
    """Recommend a strategy: the "when to use what" table as the prior, then evidence measured on your data
    and machine (about a minute); the expected score and time, why, and the command."""
    import json

    from headstart.choice.compare import parse_budget
    from headstart.choice.recommend import recommend as make_plan

    seconds = parse_budget(budget)
    task = None
    if data is not None and not no_labels:
        from headstart.choice.data import read_task

        task = read_task(data, dev, text_column=text_column, label_column=label_column, label_sep=label_sep,
                         command="recommend")
    plan = make_plan(task.stats if task else None, compute=compute.value if compute else None,
                     complexity=complexity, unlabelled_corpus=unlabelled_corpus, api_only=api_only,
                     data_path=str(data) if data is not None else None,
                     held_out=bool(task and task.dev_from_train))
    if task is None or not probe:
        if json_out:  # plain stdout: rich would wrap long strings
            typer.echo(json.dumps({"strategy": plan.strategy, "command": plan.command, "why": plan.reasons,
                                   "rule": plan.matched_rule}, indent=2))
        else:
            console.print(plan.to_text(), highlight=False, markup=False)
        return
    from headstart.choice.advise import advise

    if not json_out:
        err.print("measuring on your data: a frozen-feature probe and a timed step of each candidate ...",
                  highlight=False, markup=False)
    advice = advise(task, plan, budget_seconds=seconds, backbone=backbone, max_length=max_length,
                    data_path=str(data))
    if json_out:
        typer.echo(json.dumps(advice.to_dict(), indent=2))
    else:
        console.print(advice.to_text(), highlight=False, markup=False)


@command()
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
    json_out: Annotated[bool, typer.Option("--json", help="print leaderboard.json instead of the table")] = False,
    track: Annotated[str | None, typer.Option(help="log every finished candidate to mlflow or tensorboard")] = None,
    track_uri: Annotated[str | None, typer.Option(help="the MLflow tracking URI (default: MLFLOW_TRACKING_URI, "
                                                        "else sqlite:///mlruns.db)")] = None,
) -> None:
    """Train several strategies on the same split within a time budget; leaderboard, plots and a choice."""
    from headstart.choice.compare import Constraints, parse_budget
    from headstart.choice.compare import compare as run_compare
    from headstart.runs.tracking import check_tracker, track_run

    check_tracker(track)

    try:
        board = run_compare(data, out, strategies, parse_budget(budget), dev=dev, test=test,
                            text_column=text_column, label_column=label_column, label_sep=label_sep,
                            backbone=backbone, seed=seed, max_length=max_length, epochs=epochs,
                            constraints=Constraints(max_seconds, max_memory_mb, max_params, max_adapter_mb),
                            settings=set_ or (), ensemble=ensemble, overwrite=overwrite, on_event=lambda line: err.print(line, highlight=False, markup=False))
    except KeyboardInterrupt:
        err.print("interrupted: the running candidate was stopped; nothing was recommended")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    for run in sorted((out / "candidates").glob("*/metrics.json")) if track else ():
        err.print(f"tracked {run.parent.name}: " + track_run(run.parent, track, uri=track_uri, experiment=f"compare {out}",
                                                             tags={"headstart.compare": str(out.resolve())}),
                  highlight=False, markup=False)
    if json_out:
        import json

        typer.echo(json.dumps(board.to_dict(), indent=2, default=str))
        return
    _print_leaderboard(board)
    console.print(board.recommendation, highlight=False, markup=False)
    if board.ensemble.get("built"):
        console.print(f"ensemble: predict with `headstart predict {out}/ensemble TEXT` (its members are chosen on "
                      "dev, so its dev score is optimistic; the test score is not)", highlight=False, markup=False)
    console.print(f"report: [bold]{out}/report.html[/]")


def _print_leaderboard(board) -> None:
    """The leaderboard, fitted to the terminal: numbers are never cut; when the table is too wide, the
    least important columns go first (every column is in leaderboard.json / --json)."""
    from headstart.choice.compare.report import format_bytes

    def fmt(v, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    m = board.primary_metric
    columns = {  # in order of importance
        "strategy": lambda r: f"[bold]{escape(r.label)}[/]" if r.strategy == board.choice else escape(r.label),
        f"dev {m}": lambda r: fmt(r.dev_metric, ".4f"),
        "outcome": lambda r: escape(r.outcome),
        "epochs": lambda r: "-" if r.epochs is None else f"{r.epochs_done or 0}/{r.epochs}",
        "train s": lambda r: fmt(r.train_seconds, ",.0f"),
        f"test {m}": lambda r: fmt(r.test_metric, ".4f"),
        "trainable": lambda r: fmt(r.trainable_params, ","),
        "peak MB": lambda r: fmt(r.peak_memory_mb, ",.0f"),
        "adapter": lambda r: format_bytes(r.adapter_bytes),
        "constraints": lambda r: escape("-" if r.status != "finished" else "; ".join(r.violations) or "met"),
    }
    if all(r.test_metric is None for r in board.rows):
        del columns[f"test {m}"]
    cells = {name: [f(r) for r in board.rows] for name, f in columns.items()}
    print_fitted_table(f"leaderboard (ranked on dev {m})", cells, wrap=("outcome", "constraints", "strategy"),
                       note="; all in leaderboard.json, or --json")


@command()
def auto(
    data: Annotated[Path, typer.Argument(help="training data: CSV, TSV or JSONL with text and label columns")],
    budget: Annotated[str, typer.Option(help="time for everything (evidence, comparison, final fit): 20m, 1h")] = "20m",
    out: Annotated[Path, typer.Option(help="the run folder of the final model")] = Path("runs/auto"),
    dev: Annotated[Path | None, typer.Option(help="dev data (default: a stratified 10% of DATA, drawn once)")] = None,
    test: Annotated[Path | None, typer.Option(help="test data, scored for information (choices use dev)")] = None,
    text_column: Annotated[str | None, typer.Option(help="text column (two, comma-separated, for pairs)")] = None,
    label_column: Annotated[str, typer.Option()] = "label",
    label_sep: Annotated[str | None, typer.Option(help="multi-label separator inside the label cell")] = None,
    backbone: Annotated[str, typer.Option(help="registered name, local folder or Hugging Face id")] = "minilm",
    max_length: Annotated[int, typer.Option(help="tokens per text")] = 128,
    seed: Annotated[int, typer.Option()] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="print how-chosen.json instead of a summary")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier headstart run in --out")] = False,
) -> None:
    """Recommend, compare and train in one budget: evidence on your data, a bake-off of the strategies that
    could win, then the final fit of the winner; OUT is a run folder, OUT/how-chosen.md says how."""
    import json

    from headstart.choice.auto import auto as run_auto
    from headstart.choice.compare import parse_budget

    try:
        result = run_auto(data, out, parse_budget(budget), dev=dev, test=test, text_column=text_column,
                          label_column=label_column, label_sep=label_sep, backbone=backbone, max_length=max_length,
                          seed=seed, overwrite=overwrite,
                          on_event=lambda line: err.print(line, highlight=False, markup=False))
    except KeyboardInterrupt:
        err.print(f"interrupted: run the same command again to continue (a finished comparison in {out}/choice "
                  "is reused, an interrupted final fit resumes)")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    dev_scores = result["final"]["dev"] or {}
    console.print(f"chosen: [bold]{escape(result['strategy'])}[/] ({escape(result['why'])}); {result['final_fit']}")
    console.print("dev: " + ", ".join(f"{k} {v:.4f}" for k, v in dev_scores.items() if isinstance(v, float)),
                  highlight=False)
    console.print(f"run saved: {out}   how it was chosen: {out}/how-chosen.md   predict: headstart predict {out} TEXT",
                  highlight=False)


@command()
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


