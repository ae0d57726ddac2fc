"""`headstart export --format onnx [--quantize int8]` and `headstart push`: the graph gives headstart's outputs,
int8 is kept only while accuracy holds, the CLI reports what it measured; push talks to the hub through
huggingface_hub with only the HTTP transport replaced."""

from __future__ import annotations

import json

import httpx
import huggingface_hub
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_sentiment
from headstart import HeadstartClassifier, HeadstartTagger
from headstart.cli import app
from headstart.errors import HeadstartError
from headstart.export.onnx_format import INT8_FILE, ONNX_FILE, OnnxModel, export_onnx
from headstart.export.push import push_run
from test_tasks import make_ner

OPTIONS = {"epochs": 2, "batch_size": 8, "max_length": 16, "seed": 0, "progress": False, "refit": False}


@pytest.fixture(scope="module")
def spam_run(tmp_path_factory, tiny_bert):
    """A classification run trained through the CLI, with a test file recorded in its config."""
    root = tmp_path_factory.mktemp("onnx")
    texts, labels = make_sentiment(120, seed=3)
    pd.DataFrame({"text": texts[:80], "label": labels[:80]}).to_csv(root / "train.csv", index=False)
    pd.DataFrame({"text": texts[80:], "label": labels[80:]}).to_csv(root / "test.csv", index=False)
    result = _cli("train", root / "train.csv", "--test", root / "test.csv", "--backbone", tiny_bert, "--strategy",
                  "full", "--epochs", 2, "--max-length", 16, "--out", root / "run")
    assert result.exit_code == 0, result.output
    return root


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_onnx_export_matches_headstart_and_reports_int8(spam_run, tmp_path):
    result = _cli("export", spam_run / "run", "--format", "onnx", "--quantize", "int8", "--out", tmp_path / "onnx")
    assert result.exit_code == 0, result.output
    assert "parity with headstart" in result.output and "onnx int8" in result.output
    report = json.loads((tmp_path / "onnx" / "export-report.json").read_text())
    assert report["parity_max_abs_logit"] < 1e-4
    assert set(report["sides"]) == {"headstart (eager)", "onnx fp32", "onnx int8"}
    assert report["evaluated_on"]["rows"] == 40
    assert report["sides"]["onnx fp32"]["accuracy"] == report["sides"]["headstart (eager)"]["accuracy"]
    texts = pd.read_csv(spam_run / "test.csv")["text"].tolist()
    import headstart

    np.testing.assert_allclose(OnnxModel(tmp_path / "onnx", file=ONNX_FILE).predict_proba(texts),
                               headstart.load(spam_run / "run").predict_proba(texts), atol=1e-5)
    kept = report["kept"]
    assert kept == (INT8_FILE if report["int8_accuracy_drop"] <= 0.005 else ONNX_FILE)

    import torch

    from headstart.serving.task_models import load_models

    before = torch.get_num_threads()
    try:  # `headstart serve --threads 1`: each model computes with one thread, ONNX Runtime's and torch's
        served = load_models([f"spam={tmp_path / 'onnx'}"], threads=1)
        options = served["spam"].engine.model.session.get_session_options()
        assert (options.intra_op_num_threads, torch.get_num_threads()) == (1, 1)
        served["spam"].engine.batcher.close()
    finally:
        torch.set_num_threads(before)


def test_int8_that_loses_accuracy_is_not_used(spam_run, tmp_path):
    report = export_onnx(spam_run / "run", tmp_path / "onnx", quantize="int8", max_drop=-1.0)  # nothing passes
    assert report["kept"] == ONNX_FILE and "warning" in report
    assert OnnxModel(tmp_path / "onnx").meta.file == ONNX_FILE
    assert (tmp_path / "onnx" / INT8_FILE).exists()


def test_onnx_keeps_what_the_transformers_format_cannot(tiny_bert, tmp_path):
    """A bottleneck adapter is not a stock weight, but it is part of the graph."""
    texts, labels = make_sentiment(40)
    clf = HeadstartClassifier(backbone=str(tiny_bert), strategy="adapter", **OPTIONS).fit(texts, labels)
    clf.save(tmp_path / "run")
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "eval.csv", index=False)
    export_onnx(tmp_path / "run", tmp_path / "onnx", eval_file=tmp_path / "eval.csv")
    np.testing.assert_allclose(OnnxModel(tmp_path / "onnx").predict_proba(texts[:8]), clf.predict_proba(texts[:8]),
                               atol=1e-5)


def test_onnx_ner_graph_gives_the_token_logits(tiny_bert, tmp_path):
    sentences, tags = make_ner(30)
    HeadstartTagger(backbone=str(tiny_bert), strategy="full", **OPTIONS).fit(sentences, tags).save(tmp_path / "run")
    report = export_onnx(tmp_path / "run", tmp_path / "onnx", quantize="int8")
    assert report["parity_max_abs_logit"] < 1e-4 and report["kept"] == INT8_FILE


def test_export_mistakes_are_clear(spam_run, tiny_bert, tmp_path):
    result = _cli("export", spam_run / "run", "--quantize", "int8", "--out", tmp_path / "x")
    assert result.exit_code == 1 and "--quantize applies to --format onnx" in result.output
    texts, labels = make_sentiment(20)
    HeadstartClassifier(backbone=str(tiny_bert), strategy="head", **OPTIONS).fit(texts, labels).save(tmp_path / "bare")
    result = _cli("export", tmp_path / "bare", "--format", "onnx", "--out", tmp_path / "onnx")
    assert result.exit_code == 1 and "no held-out file" in result.output and "--eval FILE" in result.output
    assert not (tmp_path / "onnx").exists()  # nothing half-written is left
    export_onnx(spam_run / "run", tmp_path / "keep")
    before = (tmp_path / "keep" / "export-report.json").read_text()
    failed = _cli("export", tmp_path / "bare", "--format", "onnx", "--out", tmp_path / "keep", "--overwrite")
    assert failed.exit_code == 1  # the failed overwrite leaves the earlier export as it was
    assert (tmp_path / "keep" / "export-report.json").read_text() == before
    assert (tmp_path / "keep" / ONNX_FILE).exists() and not (tmp_path / "keep.tmp").exists()


def test_push_uploads_the_export_in_one_commit(spam_run, monkeypatch):
    calls = []

    def hub(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        path = request.url.path
        if path.endswith("/repos/create"):
            return httpx.Response(200, json={"url": "https://huggingface.co/alice/spam"})
        if path.endswith("/validate-yaml"):
            return httpx.Response(200, json={"errors": [], "warnings": []})
        if "/preupload/" in path:
            files = json.loads(request.content)["files"]
            return httpx.Response(200, json={"files": [{"path": f["path"], "uploadMode": "regular",
                                                        "shouldIgnore": False} for f in files]})
        if "/commit/" in path:
            lines = [json.loads(line) for line in request.content.decode().splitlines()]
            calls.append(("files", sorted(x["value"]["path"] for x in lines if x["key"] == "file")))
            return httpx.Response(200, json={"commitUrl": "https://huggingface.co/alice/spam/commit/1",
                                             "commitOid": "1" * 40})
        return httpx.Response(404, json={"error": "not here"})

    huggingface_hub.set_client_factory(lambda: httpx.Client(transport=httpx.MockTransport(hub)))
    try:
        done = push_run(spam_run / "run", "alice/spam", token="hf_test")
        files = next(c[1] for c in calls if c[0] == "files")
        assert {"README.md", "config.json", "model.safetensors", "modeling_headstart.py"} <= set(files)
        assert done.url == "https://huggingface.co/alice/spam"
        with pytest.raises(HeadstartError, match="not a hub repository id"):
            push_run(spam_run / "run", "no-owner", token="hf_test")

        def refuse(request):
            return httpx.Response(403, json={"error": "You don't have the rights"})

        huggingface_hub.set_client_factory(lambda: httpx.Client(transport=httpx.MockTransport(refuse)))
        with pytest.raises(HeadstartError, match="the hub refused the upload"):
            push_run(spam_run / "run", "alice/spam", token="hf_test")
    finally:
        huggingface_hub.set_client_factory(lambda: httpx.Client())


def test_runs_lists_runs_and_version_prints(spam_run):
    result = _cli("runs", spam_run, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["name"] for r in rows] == ["run"] and rows[0]["strategy"] == "full" and rows[0]["split"] == "test"
    missing = _cli("runs", spam_run / "nope")
    assert missing.exit_code == 1 and "is not a folder" in missing.output
    from headstart import __version__

    assert _cli("--version").output.strip() == f"headstart {__version__}"
