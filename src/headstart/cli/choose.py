"""`headstart recommend`, `compare` and `models`: choosing a strategy and a backbone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from headstart.cli._app import EXIT_INTERRUPTED, Compute, command, console, err
from headstart.strategies import STRATEGIES


@command()
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
    from headstart.choice.recommend import recommend as make_plan
    from headstart.data import load_task

    stats = None
    if data is not None and not no_labels:
        stats = load_task(data, text_column=text_column, label_column=label_column).stats
    plan = make_plan(stats, compute=compute.value if compute else None, complexity=complexity,
                     unlabelled_corpus=unlabelled_corpus, api_only=api_only,
                     data_path=str(data) if data is not None else None)
    console.print(plan.to_text(), highlight=False, markup=False)


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
) -> None:
    """Train several strategies on the same split within a time budget; leaderboard, plots and a choice."""
    from headstart.choice.compare import Constraints, parse_budget
    from headstart.choice.compare import compare as run_compare

    try:
        board = run_compare(data, out, strategies, parse_budget(budget), dev=dev, test=test,
                            text_column=text_column, label_column=label_column, label_sep=label_sep,
                            backbone=backbone, seed=seed, max_length=max_length, epochs=epochs,
                            constraints=Constraints(max_seconds, max_memory_mb, max_params, max_adapter_mb),
                            settings=set_ or (), ensemble=ensemble, overwrite=overwrite, on_event=lambda line: err.print(line, highlight=False, markup=False))
    except KeyboardInterrupt:
        err.print("interrupted: the running candidate was stopped; nothing was recommended")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _print_leaderboard(board)
    console.print(board.recommendation, highlight=False, markup=False)
    if board.ensemble.get("built"):
        console.print(f"ensemble: predict with `headstart predict {out}/ensemble TEXT` (its members are chosen on "
                      "dev, so its dev score is optimistic; the test score is not)", highlight=False, markup=False)
    console.print(f"report: [bold]{out}/report.html[/]")


def _print_leaderboard(board) -> None:

    from headstart.choice.compare.report import format_bytes

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


