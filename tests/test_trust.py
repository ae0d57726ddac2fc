"""Trust: nothing a user points headstart at runs code, a run folder is never written over by accident,
and two processes never write one folder (issue 19, defects 1-3)."""

from __future__ import annotations

import ast
import json
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from conftest import make_sentiment
from headstart.cli import app
from headstart.errors import HeadstartError
from headstart.runs import LOCK, MARKER, claim, train_run

pytestmark = pytest.mark.xdist_group("trust")  # the module's runs are built once, on one worker

SRC = Path(__file__).resolve().parents[1] / "src" / "headstart"
FAST = {"epochs": 1, "batch_size": 8, "max_length": 16, "patience": 0}


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def flat(text: str) -> str:
    return " ".join(text.split())


class _Plant:
    """Unpickling this runs `exec`, which writes the marker file: the attack a planted pickle makes."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def plant(path: Path, marker: Path, *, torch_format: bool = False) -> None:
    """A malicious pickle at `path`, as plain pickle bytes or in torch.save's zip layout."""
    path.unlink(missing_ok=True)
    if torch_format:
        torch.save({"weight": _Plant(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Plant(marker)))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("trust-data")
    texts, labels = make_sentiment(40)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(root / "train.csv", index=False)
    return root / "train.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert, data) -> dict[str, Path]:
    """A finished run of each way a model is saved: head only, whole backbone, peft adapter."""
    root = tmp_path_factory.mktemp("trust-runs")
    out = {}
    for strategy in ("head", "full", "lora"):
        out[strategy] = root / strategy
        train_run(data, out[strategy], backbone=str(tiny_bert), strategy=strategy, **FAST)
    return out


def _copy(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest)
    return dest


# --- defect 1: no pickle is ever loaded --------------------------------------------------------------------


def test_no_source_file_loads_a_pickle() -> None:
    """The grep the issue asks for: nothing in src/ unpickles, and torch.load never runs unrestricted."""
    banned = re.compile(r"weights_only\s*=\s*False|pickle\.loads?\(|joblib\.load|np\.load\([^)]*allow_pickle\s*=\s*True")
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if banned.search(line)]
    assert offenders == []
    # no call passes trust_remote_code=True (an exported folder's model card tells *users* to, in text: allowed)
    remote = [f"{p.relative_to(SRC)}:{node.lineno}" for p in SRC.rglob("*.py")
              for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.Call)
              for kw in node.keywords if kw.arg == "trust_remote_code"
              and not (isinstance(kw.value, ast.Constant) and kw.value.value is False)]
    assert remote == []
    loads = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py")
             for i, line in enumerate(p.read_text().splitlines(), 1) if "torch.load(" in line]
    assert loads == []


def test_resume_never_unpickles_a_planted_checkpoint(tmp_path: Path, tiny_bert, data) -> None:
    marker = tmp_path / "pwned"
    for name in ("checkpoint.safetensors", "checkpoint.pt"):
        run = tmp_path / name.replace(".", "-")
        run.mkdir()
        (run / MARKER).write_text(json.dumps({"kind": "run", "files": []}))
        plant(run / name, marker, torch_format=name.endswith(".pt"))
        result = invoke("train", data, "--backbone", tiny_bert, "--strategy", "head", "--epochs", 1,
                        "--out", run, "--resume")
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert not marker.exists()
        text = flat(result.output)
        assert ("not a readable headstart checkpoint" in text) if name.endswith("safetensors") else \
            ("old pickle format" in text and "--overwrite" in text)
        assert (run / name).exists()  # refused, not deleted: the user decides


@pytest.mark.parametrize("strategy, target, torch_format", [
    ("head", "model/head.safetensors", False),            # the trained head
    ("full", "model/model.safetensors", True),            # the saved backbone, as a pytorch_model.bin
    ("lora", "model/adapter_model.safetensors", True),    # the adapter, as an adapter_model.bin
])
@pytest.mark.parametrize("verb", ["predict", "evaluate"])
def test_predict_and_evaluate_never_unpickle_model_files(runs, data, tmp_path, strategy, target, torch_format,
                                                         verb) -> None:
    run = _copy(runs[strategy], tmp_path / "run")
    marker = tmp_path / "pwned"
    path = run / target
    path.unlink()
    name = {"model.safetensors": "pytorch_model.bin", "adapter_model.safetensors": "adapter_model.bin"}.get(
        path.name, path.name)
    plant(path.with_name(name), marker, torch_format=torch_format)
    args = ("predict", run, "good movie") if verb == "predict" else ("evaluate", run, data)
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "cannot read" in flat(result.output)
    assert not marker.exists()


def test_an_ensemble_and_a_compare_candidate_never_unpickle(runs, tmp_path) -> None:
    from headstart.choice.compare import Candidate
    from headstart.choice.compare.combine import combine
    from headstart.data import load_task
    from headstart.ensemble import ENSEMBLE_FILE

    marker = tmp_path / "pwned"
    cmp = tmp_path / "cmp"
    for name in ("head", "full"):
        _copy(runs[name], cmp / "candidates" / name)
    plant(cmp / "candidates" / "full" / "model" / "head.safetensors", marker)
    (cmp / "ensemble").mkdir()
    (cmp / "ensemble" / ENSEMBLE_FILE).write_text(json.dumps({
        "members": ["../candidates/head/model", "../candidates/full/model"], "names": ["head", "full"],
        "labels": ["neg", "pos"], "multilabel": False}))
    result = invoke("predict", cmp / "ensemble", "good movie")
    assert result.exit_code == 1 and "Traceback" not in result.output and not marker.exists(), result.output
    # predictions.npz holding an object array (a pickle inside the zip): refused with allow_pickle off
    np.savez(cmp / "candidates" / "head" / "predictions.npz", labels=np.array(["neg", "pos"]),
             dev=np.array([_Plant(marker)], dtype=object))
    texts, labels = make_sentiment(20)
    task = load_task(pd.DataFrame({"text": texts, "label": labels}))
    rows = [Candidate("head", "finished", run_dir="candidates/head"), Candidate("full", "finished",
                                                                               run_dir="candidates/full")]
    with pytest.raises(HeadstartError, match="cannot read the candidate run"):
        combine(cmp, task, rows, "auc")
    assert not marker.exists()


def test_a_few_shot_encoder_naming_foreign_modules_is_refused(tmp_path) -> None:
    from headstart.fewshot.encoder import load_encoder

    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type": "os.system"}]))
    with pytest.raises(HeadstartError, match="names modules outside sentence-transformers: os.system"):
        load_encoder(str(folder), 16)


# --- defect 2: --out never destroys what headstart did not write ------------------------------------------


@pytest.mark.parametrize("overwrite", [False, True])
def test_train_refuses_a_folder_holding_other_files(tmp_path, tiny_bert, data, overwrite) -> None:
    folder = tmp_path / "project"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.bin").write_bytes(b"mine")
    (folder / "config.json").write_text('{"mine": true}')
    (folder / "notes.txt").write_text("mine")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    args = ["train", data, "--backbone", tiny_bert, "--strategy", "head", "--epochs", 1, "--out", folder]
    result = invoke(*args, *(["--overwrite"] if overwrite else []))
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = flat(result.output)
    assert "holds files headstart did not write: config.json, model/, notes.txt" in text and "nothing was changed" in text
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not (folder / MARKER).exists()


def test_overwrite_replaces_only_the_runs_own_files(tmp_path, tiny_bert, data) -> None:
    run = tmp_path / "run"
    train_run(data, run, backbone=str(tiny_bert), strategy="head", **FAST)
    marker = json.loads((run / MARKER).read_text())
    assert marker["kind"] == "run" and {"config.json", "metrics.json", "model", "report.html"} <= set(marker["files"])
    (run / "my-notes.txt").write_text("keep me")  # a user's file added to the run folder afterwards
    old = (run / "metrics.json").stat().st_mtime_ns
    time.sleep(0.01)
    train_run(data, run, backbone=str(tiny_bert), strategy="head", overwrite=True, **FAST)
    assert (run / "my-notes.txt").read_text() == "keep me"
    assert (run / "metrics.json").stat().st_mtime_ns != old
    assert "my-notes.txt" not in json.loads((run / MARKER).read_text())["files"]


def test_a_bad_data_file_never_costs_the_run_it_would_overwrite(tmp_path, tiny_bert, data) -> None:
    run = tmp_path / "run"
    train_run(data, run, backbone=str(tiny_bert), strategy="head", **FAST)
    saved = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".headstart.pid"}
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nonly one row,pos\n")
    result = invoke("train", bad, "--backbone", tiny_bert, "--out", run, "--overwrite")
    assert result.exit_code == 1
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".headstart.pid"} == saved


def test_a_planted_marker_cannot_make_overwrite_delete_outside_the_folder(tmp_path, tiny_bert, data) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    (run / MARKER).write_text(json.dumps({"kind": "run", "files": ["../precious.txt", str(outside)]}))
    (run / "metrics.json").write_text("{}")
    train_run(data, run, backbone=str(tiny_bert), strategy="head", overwrite=True, **FAST)
    assert outside.read_text() == "keep"


def test_a_failed_start_in_a_new_folder_leaves_nothing_behind(tmp_path, tiny_bert) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n")
    result = invoke("train", bad, "--backbone", tiny_bert, "--out", tmp_path / "new")
    assert result.exit_code == 1 and not (tmp_path / "new").exists()


# --- defect 3: one writer per folder ---------------------------------------------------------------------


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path) -> None:
    busy = rf"is in use: process {os.getpid()} is writing into it"
    with claim(tmp_path / "run"), pytest.raises(HeadstartError, match=busy), claim(tmp_path / "run"):
        pass
    with claim(tmp_path / "run"):  # released on exit: the next writer gets it
        pass


_HOLD = """
import sys, time
from headstart.runs import claim
with claim(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_lock_held_by_another_process_blocks_and_dies_with_it(tmp_path) -> None:
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(HeadstartError, match=rf"process {holder.pid} is writing"), claim(run):
            pass
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs in the holder
        holder.wait(timeout=30)
    assert (run / LOCK).exists()  # the stale lock file is still there ...
    with claim(run):  # ... and recovered: the OS released the lock with the process
        pass


def test_two_trainings_into_one_folder_one_is_refused(tmp_path, tiny_bert, data) -> None:
    """Both used to print "run saved"; now the second names the first's process."""
    script = ("import sys; from headstart.runs import train_run; "
              f"train_run({str(data)!r}, {str(tmp_path / 'run')!r}, backbone={str(tiny_bert)!r}, "
              "strategy='full', epochs=8, batch_size=4, max_length=16, patience=0)")  # overlaps the second
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "run" / ".headstart.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    first.wait(timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert second.returncode != 0 and f"process {first.pid} is writing into it" in second.stderr


# --- exit codes ----------------------------------------------------------------------------------------------


def test_an_internal_error_exits_3_with_a_log_and_no_traceback(tmp_path, monkeypatch, data) -> None:
    import headstart.runs.writer as writer_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(writer_module, "write_run", broken)
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path / "home"))
    result = invoke("train", data, "--out", tmp_path / "run")
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "internal error: ZeroDivisionError: a bug" in flat(result.output) and "please report" in result.output
    logs = list((tmp_path / "home" / "logs").glob("crash-train-*.log"))
    assert len(logs) == 1 and "ZeroDivisionError" in logs[0].read_text()


def test_usage_errors_exit_2() -> None:
    assert invoke("train", "--no-such-option").exit_code == 2


# --- defects 5-8: readers ---------------------------------------------------------------------------------


def test_csv_fields_longer_than_the_csv_modules_limit_are_read(tmp_path) -> None:
    from headstart.data import read_split

    path = tmp_path / "long.csv"
    path.write_text('text,label\n"' + "word " * 40_000 + '",a\nshort,b\n')  # 200,000 characters
    assert len(read_split(path).texts[0]) == 200_000


def test_a_broken_quote_is_a_clear_error_with_its_line(tmp_path) -> None:
    from headstart.data import read_split

    path = tmp_path / "q.tsv"
    path.write_text('text\tlabel\nfine\ta\n"never closed\tb\nmore\tc\n')
    with pytest.raises(HeadstartError, match=r"q.tsv, line 3"):
        read_split(path)


@pytest.mark.parametrize("name, body, line, column", [
    ("dup.csv", "text,label,text\na,b,c\n", 1, 3),
    ("dup.jsonl", '{"text": "a", "label": "x"}\n{"text": "a", "label": "x", "text": "b"}\n', 2, None),
])
def test_duplicate_column_names_and_json_keys_are_refused(tmp_path, name, body, line, column) -> None:
    from headstart.data import read_split

    (tmp_path / name).write_text(body)
    where = f"{name}, line {line}" + (f", column {column}" if column else "")
    with pytest.raises(HeadstartError, match=re.escape(where) + ".*'text' (twice|.*twice)"):
        read_split(tmp_path / name)


def test_duplicate_dataframe_columns_are_refused() -> None:
    from headstart.data import read_split

    frame = pd.DataFrame([["a", "x", "b"]], columns=["text", "label", "text"])
    with pytest.raises(HeadstartError, match="'text' twice"):
        read_split(frame)


@pytest.mark.parametrize("label", ["nan", "NaN", "None", "null", "<NA>"])
def test_a_missing_value_written_as_text_is_not_a_class(tmp_path, label) -> None:
    from headstart.data import read_split

    path = tmp_path / "l.csv"
    path.write_text(f"text,label\nfirst,pos\nsecond,{label}\nthird,neg\n")
    with pytest.raises(HeadstartError, match=rf"l.csv, line 3, column label: the label '{re.escape(label)}' is a "
                                             "missing value written as text"):
        read_split(path)


def test_an_empty_ner_token_is_refused_with_its_line(tmp_path) -> None:
    from headstart.tasks.tagging.reader import read_token_file

    path = tmp_path / "e.jsonl"
    path.write_text('{"tokens": ["EU"], "tags": ["B-ORG"]}\n{"tokens": ["EU", "", "x"], "tags": ["B-ORG", "O", "O"]}\n')
    with pytest.raises(HeadstartError, match=r"e.jsonl, line 2: item 1 of the 'tokens' list is empty"):
        read_token_file(path)


# --- defect 6: task detection on slightly broken files ------------------------------------------------------


def test_detection_tolerates_broken_lines_and_boms_and_the_right_reader_reports(tmp_path, tiny_bert) -> None:
    from headstart.tasks.registry import detect_task

    conll = tmp_path / "ner.txt"
    conll.write_text("EU\tB-ORG\nrejects\tO\nthis line is broken\nPeter\tB-PER\n\nBonn\tB-LOC\n")
    squad = tmp_path / "qa.json"
    squad.write_text('{"version": "1.1", "paragraphs": [{"context": "x", "qas": []}]}')
    chat = tmp_path / "i.jsonl"
    chat.write_bytes(b"\xef\xbb\xbf" + json.dumps({"instruction": "Say hi", "output": "hi"}).encode() + b"\n")
    assert (detect_task(conll), detect_task(squad), detect_task(chat)) == ("ner", "qa", "generation")
    for path, message in ((conll, "ner.txt, line 3, column 4: malformed tag 'broken'"),
                          (squad, "qa.json: the document has no 'data' key")):
        result = invoke("train", path, "--backbone", tiny_bert, "--out", tmp_path / f"run-{path.stem}")
        assert result.exit_code == 1 and message in flat(result.output), result.output


def test_a_file_no_task_reads_says_why_each_was_ruled_out(tmp_path) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    result = invoke("train", path, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = flat(result.output)
    assert "cannot tell which task data.parquet is for" in text
    for task in ("classification:", "pairs:", "ner:", "qa:", "generation:"):
        assert task in text


# --- defect 10: a full or read-only disk ------------------------------------------------------------------


def test_a_full_disk_is_a_clear_error_and_leaves_no_temporary_files(tmp_path, tiny_bert, data, monkeypatch) -> None:
    import errno as errno_module

    import headstart.persist as persist

    def full(*args, **kwargs):
        raise OSError(errno_module.ENOSPC, "No space left on device", str(tmp_path / "run" / "model.tmp"))

    monkeypatch.setattr(persist, "save_file", full)
    result = invoke("train", data, "--backbone", tiny_bert, "--strategy", "head", "--epochs", 1, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = flat(result.output)
    assert "No space left on device" in text and "MB free" in text
    assert not list((tmp_path / "run").glob("*.tmp"))  # the half-written model folder was removed


# --- defect 11: generation within the model's context -------------------------------------------------------


def test_generation_keeps_prompt_and_answer_inside_a_short_context(tiny_folders) -> None:
    from headstart.tasks.generation.estimator import HeadstartGenerator

    gen = HeadstartGenerator(backbone=str(tiny_folders["gpt2"]), strategy="lora", max_length=32).build()
    assert gen.model_.lm.config.n_positions == 64
    long = " ".join(["good movie"] * 200)  # far past 64 positions
    assert isinstance(gen.generate_batch([long, "short"], max_new_tokens=100)[0], str)
    assert isinstance(gen.generate(long, max_new_tokens=100, do_sample=False), str)
