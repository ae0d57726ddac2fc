"""Batch inference over a file: streamed in chunks, in input order, resumable after a kill, and sharded
across processes under a launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_sentiment
from headstart import HeadstartClassifier
from headstart.batch_predict import predict_file
from headstart.cli import app


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_bert):
    folder = tmp_path_factory.mktemp("batch")
    texts, labels = make_sentiment(60, classes=3)
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="head", epochs=2, max_length=16).fit(texts, labels)
    clf.save(folder / "model")
    rows, _ = make_sentiment(53, classes=3, seed=5)
    pd.DataFrame({"text": rows}).to_csv(folder / "rows.csv", index=False)
    return folder, clf, rows


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_streams_every_row_in_order(saved, tmp_path) -> None:
    folder, clf, rows = saved
    done = predict_file(clf, folder / "rows.csv", tmp_path / "new" / "p.jsonl", chunk_rows=8)  # folder made
    got = _lines(tmp_path / "new" / "p.jsonl")
    assert done == {"rows": 53, "resumed_after": 0}
    assert [g["row"] for g in got] == list(range(53)) and [g["text"] for g in got] == rows
    assert [g["label"] for g in got] == list(clf.predict(rows))


def test_resumes_after_the_last_complete_line(saved, tmp_path) -> None:
    folder, clf, rows = saved
    predict_file(clf, folder / "rows.csv", tmp_path / "full.jsonl", chunk_rows=8)
    full = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
    killed = tmp_path / "p.jsonl"
    killed.write_text("".join(full[:19]) + full[19][:10])  # a kill in the middle of line 20
    done = predict_file(clf, folder / "rows.csv", killed, chunk_rows=8)
    assert done == {"rows": 53, "resumed_after": 19}
    assert killed.read_text() == "".join(full)


@pytest.mark.xdist_group("compare")  # a launcher of its own: with the other multi-process tests, one at a time
def test_cli_output_and_two_processes_give_the_same_file(saved, tmp_path) -> None:
    folder, clf, rows = saved
    result = CliRunner().invoke(app, ["predict", str(folder / "model"), "--file", str(folder / "rows.csv"),
                                      "--output", str(tmp_path / "one.jsonl"), "--chunk-rows", "8"])
    assert result.exit_code == 0 and "53 rows predicted" in result.output, result.output
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           str(29600 + os.getpid() % 1000), "-m", "headstart", "predict", str(folder / "model"),
                           "--file", str(folder / "rows.csv"), "--output", str(tmp_path / "two.jsonl"),
                           "--chunk-rows", "8"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    one, two = _lines(tmp_path / "one.jsonl"), _lines(tmp_path / "two.jsonl")
    assert [r["row"] for r in two] == list(range(53))
    assert [(r["text"], r["label"]) for r in two] == [(r["text"], r["label"]) for r in one]


def test_output_needs_a_file(saved) -> None:
    folder, _, _ = saved
    result = CliRunner().invoke(app, ["predict", str(folder / "model"), "a text", "--output", "x.jsonl"])
    assert result.exit_code == 1 and "--file FILE --output OUT" in " ".join(result.output.split())


def test_a_broken_row_keeps_what_was_predicted(saved, tmp_path) -> None:
    folder, clf, rows = saved
    bad = tmp_path / "bad.csv"
    bad.write_text("text\n" + "".join(f"{t}\n" for t in rows[:20]) + 'a,"b,c\n')
    from headstart.errors import DataError

    with pytest.raises(DataError, match="cannot read"):
        predict_file(clf, bad, tmp_path / "p.jsonl", chunk_rows=8)
    assert len(_lines(tmp_path / "p.jsonl")) == 16  # the two complete chunks before the broken one


def test_a_qa_run_answers_every_question_of_a_file_in_order(tiny_bert, tmp_path) -> None:
    from headstart import HeadstartQA
    from headstart.errors import DataError
    from test_tasks import make_qa

    qa = HeadstartQA(backbone=str(tiny_bert), strategy="full", stride=8, epochs=1, batch_size=8, max_length=24,
                     refit=False, progress=False).fit(make_qa(20))
    questions = make_qa(11, seed=3)
    pd.DataFrame([{"id": q["id"], "question": q["question"], "context": q["context"]} for q in questions]).to_csv(
        tmp_path / "questions.csv", index=False)
    done = predict_file(qa, tmp_path / "questions.csv", tmp_path / "answers.jsonl", chunk_rows=4)
    got = _lines(tmp_path / "answers.jsonl")
    expected = qa.predict([{"question": q["question"], "context": q["context"]} for q in questions])
    assert done == {"rows": 11, "resumed_after": 0} and [g["row"] for g in got] == list(range(11))
    assert [g["id"] for g in got] == [q["id"] for q in questions]
    assert [g["answer"] for g in got] == [a["text"] for a in expected]
    for g, q in zip(got, questions, strict=True):  # offsets point into the row's own context
        assert q["context"][g["start"]:g["end"]] == g["answer"]

    qa.save(tmp_path / "qa")  # the CLI without --output prints the same rows
    printed = CliRunner().invoke(app, ["predict", str(tmp_path / "qa"), "--file", str(tmp_path / "questions.csv"),
                                       "--json"])
    assert printed.exit_code == 0, printed.output
    assert [json.loads(line) for line in printed.stdout.splitlines()] == got

    pd.DataFrame({"question": ["who?"], "passage": ["Ann ran."]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="no context column") as info:
        predict_file(qa, tmp_path / "bad.csv", tmp_path / "bad.jsonl")
    assert "passage" in str(info.value) and "bad.csv" in str(info.value)
