"""Every subcommand on a corpus of nasty inputs: a non-zero exit (1: the user's data or options, 2: usage),
no traceback, and a message that says what to do. Nothing is trained: each input fails before that."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from headstart.cli import app

NASTY = {
    "empty.csv": b"",
    "header-only.csv": b"text,label\n",
    "binary.csv": bytes(range(256)) * 4,
    "bom-only.jsonl": b"\xef\xbb\xbf",
    "one-class.csv": b"text,label\na,x\nb,x\nc,x\n",
    "nul.csv": b"text,label\nfine\x00film,pos\nbad,neg\n",
    "broken.json": b'{"data": [',
    "latin1.csv": b"text,label\ncaf\xe9,pos\nbad,neg\n",
    "dup-columns.csv": b"text,label,text\na,pos,b\nc,neg,d\n",
}


def _commands(path: Path, folder: Path, run: Path) -> list[list[str]]:
    p, out = str(path), str(folder / "out")
    return [
        ["train", p, "--out", out],
        ["evaluate", str(run), p],
        ["predict", str(run), "some text"],
        ["recommend", p, "--no-probe"],
        ["compare", p, "--out", out, "--budget", "1m"],
        ["auto", p, "--out", out, "--budget", "1m"],
        ["few-shot", p, "--out", out],
        ["zero-shot", p, "--labels", "pos,neg"],
        ["pretrain", p, "--out", out],
    ]


@pytest.mark.parametrize("name", list(NASTY))
def test_every_command_refuses_a_nasty_file_cleanly(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(NASTY[name])
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    (not_a_run / "model").write_text("nothing here")
    failures = []
    for args in _commands(path, tmp_path, not_a_run):
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "HEADSTART_HOME": str(tmp_path / "home")})
        text = result.output
        if result.exit_code == 0 and args[0] in ("recommend", "zero-shot", "pretrain"):
            continue  # some of these inputs are fine for them (a corpus of any text, labels given)
        ok = result.exit_code in (1, 2) and "Traceback" not in text and (
            "fix" in text.lower() or "try" in text.lower() or "expected" in text.lower() or "--help" in text)
        if not ok:
            failures.append(f"{' '.join(args[:1])}: exit {result.exit_code}: {text[-400:]}")
    assert not failures, "\n".join(failures)
