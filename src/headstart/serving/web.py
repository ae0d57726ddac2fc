"""The task server's pages: `/` (try a model: type or paste text, or upload a CSV and download predictions;
labels with probabilities, entities highlighted in the text, the answer marked in its context) and `/runs`
(every run under --runs with its task, strategy, score, size and time, linking to its report).

One HTML file with its script inline (`web/index.html`): no build step, nothing fetched from elsewhere, so it
works on an offline machine. The page talks to the same /v1/ routes a program does.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi.responses import FileResponse

from headstart.runs.listing import list_runs
from headstart.serving.http import OpenAIError

__all__ = ["add_pages"]

PAGE = Path(__file__).with_name("web") / "index.html"
REPORT_FILES = {"report.html", "learning_curves.png", "confusion_matrix.png", "leaderboard.png",
                "cost_vs_score.png"}


def add_pages(app, served: dict, *, runs_dir: Path | None, html) -> None:
    @app.get("/", include_in_schema=False)
    def index():
        return html(PAGE.read_text())

    @app.get("/runs", include_in_schema=False)
    def runs_page():
        return html(_runs_html(runs_dir))

    @app.get("/runs.json", include_in_schema=False)
    def runs_json() -> dict:
        return {"runs": list_runs(runs_dir) if runs_dir else []}

    @app.get("/runs/{name:path}/{file}", include_in_schema=False)
    def run_file(name: str, file: str):
        if runs_dir is None or file not in REPORT_FILES:
            raise OpenAIError(404, "No such page.", code="not_found")
        root = runs_dir.resolve()
        path = (root / name / file).resolve()
        if root not in path.parents or not path.is_file():  # nothing outside --runs is ever served
            raise OpenAIError(404, f"No {file} for run {name!r}.", code="not_found")
        return FileResponse(path)


def _runs_html(runs_dir: Path | None) -> str:
    if runs_dir is None:
        body = "<p>Start the server with <code>--runs FOLDER</code> to list the runs in it.</p>"
    else:
        rows = list_runs(runs_dir)
        cells = "".join(
            "<tr><td>{name}</td><td>{task}</td><td>{strategy}</td><td>{score}</td><td>{size} MB</td>"
            "<td>{time}</td><td>{report}</td></tr>".format(
                name=html.escape(r["name"]), task=html.escape(str(r["task"])), strategy=html.escape(str(r["strategy"])),
                score=f"{r['metric']} {r['score']:.4f} ({r['split']})" if isinstance(r["score"], int | float) else "",
                size=r["size_mb"], time=f"{r['train_seconds']} s" if r["train_seconds"] is not None else "",
                report=f'<a href="/runs/{html.escape(r["name"])}/report.html">report</a>' if r["report"] else "")
            for r in rows)
        body = ("<table><thead><tr><th>run</th><th>task</th><th>strategy</th><th>score</th><th>size</th>"
                f"<th>training</th><th></th></tr></thead><tbody>{cells}</tbody></table>"
                if rows else f"<p>No runs in {html.escape(str(runs_dir))}.</p>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>headstart runs</title><style>"
            "body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse}"
            "td,th{border-bottom:1px solid #ddd;padding:.4rem .8rem;text-align:left}</style></head><body>"
            f"<h1>Runs</h1><p><a href='/'>try a model</a></p>{body}</body></html>")
