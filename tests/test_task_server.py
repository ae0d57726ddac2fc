"""`headstart serve RUN ...`: every task over HTTP, adapters per request, micro-batching, limits, errors in one
shape, metrics; and a bounded load test on loopback."""

from __future__ import annotations

import concurrent.futures as cf
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import make_sentiment
from headstart import HeadstartClassifier, HeadstartQA, HeadstartTagger
from headstart.serving.background import BackgroundServer
from headstart.serving.batcher import Busy, MicroBatcher
from headstart.serving.http import Limits
from headstart.serving.task_server import create_task_app
from test_tasks import make_ner, make_qa

OPTIONS = {"epochs": 1, "batch_size": 8, "max_length": 16, "seed": 0, "progress": False, "refit": False}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert):
    """A full classifier, two LoRA classifiers on one backbone (3 and 2 classes), a tagger and a QA run."""
    root = tmp_path_factory.mktemp("served")
    texts, labels = make_sentiment(48)
    texts3, labels3 = make_sentiment(48, classes=3)
    HeadstartClassifier(backbone=str(tiny_bert), strategy="full", **OPTIONS).fit(texts, labels).save(root / "sentiment")
    for name, (x, y) in {"lora2": (texts, labels), "lora3": (texts3, labels3)}.items():
        HeadstartClassifier(backbone=str(tiny_bert), strategy="lora", **OPTIONS).fit(x, y).save(root / name)
    HeadstartTagger(backbone=str(tiny_bert), strategy="full", **OPTIONS).fit(*make_ner(30)).save(root / "ner")
    HeadstartQA(backbone=str(tiny_bert), strategy="full", stride=8, **OPTIONS | {"max_length": 24}).fit(
        make_qa(20)).save(root / "qa")
    return root


@pytest.fixture(scope="module")
def client(runs):
    app = create_task_app([str(runs / n) for n in ("sentiment", "lora2", "lora3", "ner", "qa")],
                          limits=Limits(max_waiting=8))
    with TestClient(app) as c:
        yield c


def test_classify_matches_the_run_and_reports_every_label(client, runs):
    import headstart

    texts, _ = make_sentiment(6, seed=4)
    body = client.post("/v1/classify", json={"model": "sentiment", "inputs": texts}).json()
    want = headstart.load(runs / "sentiment").predict_proba(texts)
    classes = list(headstart.load(runs / "sentiment").classes_)
    for row, probs in zip(body["results"], want, strict=True):
        got = {s["label"]: s["score"] for s in row["scores"]}
        assert got == pytest.approx(dict(zip(classes, probs, strict=True)), abs=1e-5)
        assert row["label"] == classes[int(np.argmax(probs))]
    top = client.post("/v1/classify", json={"model": "sentiment", "inputs": "good film", "top_k": 1}).json()
    assert len(top["results"][0]["scores"]) == 1


def test_adapters_sharing_a_backbone_answer_per_request_as_their_own_runs(client, runs):
    import headstart

    texts, _ = make_sentiment(5, seed=5)
    served = client.app.state.served
    assert served["lora2"].engine is served["lora3"].engine  # one backbone in memory
    for name in ("lora3", "lora2", "lora3"):
        body = client.post("/v1/classify", json={"model": name, "inputs": texts}).json()
        got = np.array([[s["score"] for s in sorted(r["scores"], key=lambda s: s["label"])] for r in body["results"]])
        est = headstart.load(runs / name)
        order = np.argsort(est.classes_)
        np.testing.assert_allclose(got, est.predict_proba(texts)[:, order], atol=1e-5)


def test_ner_qa_and_embeddings(client, runs):
    sentence = " ".join(make_ner(1, seed=3)[0][0])
    ents = client.post("/v1/ner", json={"model": "ner", "inputs": [sentence]}).json()["results"][0]
    for e in ents:
        assert sentence[e["start"]:e["end"]] == e["text"]
    record = make_qa(1, seed=3)[0]
    answer = client.post("/v1/qa", json={"model": "qa", "inputs": [{"question": record["question"],
                                                                    "context": record["context"]}]}).json()
    a = answer["results"][0]
    assert record["context"][a["start"]:a["end"]] == a["answer"]
    emb = client.post("/v1/embeddings", json={"model": "sentiment", "input": ["good", "bad film"]}).json()
    vectors = np.array([d["embedding"] for d in emb["data"]])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/v1/classify", {"model": "nope", "inputs": ["x"]}, 404, "model_not_found"),
    ("/v1/ner", {"model": "sentiment", "inputs": ["x"]}, 400, "wrong_task"),
    ("/v1/embeddings", {"model": "lora2", "input": ["x"]}, 400, "wrong_task"),  # shared backbone: no embeddings
    ("/v1/classify", {"model": "sentiment", "inputs": []}, 400, None),
    ("/v1/classify", {"model": "sentiment", "inputs": ["x"] * 300}, 413, "too_many_inputs"),
    ("/v1/classify", {"model": "sentiment", "inputs": ["x" * 30_000]}, 413, "input_too_long"),
    ("/v1/classify", {"model": "sentiment"}, 400, None),
    ("/v1/classify", {"model": "sentiment", "inputs": [["a", "b"]]}, 400, None),
])
def test_mistakes_get_one_error_shape(client, path, body, status, code):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"] and (code is None or error["code"] == code)
    if status == 404:
        assert "sentiment" in error["message"] and "lora2" in error["message"]  # names the loaded ones


def test_models_health_ready_metrics_and_page(client, caplog):
    models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
    assert models["ner"]["routes"] == ["ner"] and models["lora3"]["strategy"] == "lora"
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["status"] == "ready"
    with caplog.at_level("INFO", logger="headstart.serving.access"):
        client.post("/v1/classify", json={"model": "sentiment", "inputs": ["x"]})
        client.post("/v1/classify", json={"model": "nobody", "inputs": ["x"]})
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "headstart.serving.access"]
    assert [(e["method"], e["path"], e["status"]) for e in logged] == [("POST", "/v1/classify", 200),
                                                                       ("POST", "/v1/classify", 404)]
    metrics = client.get("/metrics").text
    assert 'headstart_requests_total{route="/v1/classify",status="200"}' in metrics
    assert 'headstart_requests_total{route="/v1/classify",status="404"}' in metrics
    assert "headstart_batch_size_bucket" in metrics
    assert "<select id=\"model\">" in client.get("/").text


def test_api_key_is_required_when_set(runs):
    app = create_task_app([str(runs / "sentiment")], api_key="s3cret")
    with TestClient(app) as c:
        assert c.post("/v1/classify", json={"model": "sentiment", "inputs": ["x"]}).status_code == 401
        ok = c.post("/v1/classify", json={"model": "sentiment", "inputs": ["x"]},
                    headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and c.get("/health").status_code == 200


def test_batcher_batches_concurrent_requests_and_refuses_when_full():
    sizes = []

    def slow(items):
        time.sleep(0.05)
        return [x * 2 for x in items]

    batcher = MicroBatcher(slow, max_batch=64, max_wait_ms=20, max_waiting=100, on_batch=sizes.append)
    futures = [batcher.submit([i]) for i in range(40)]
    assert [f.result(timeout=10) for f in futures] == [[i * 2] for i in range(40)]
    assert len(sizes) < 10 and sum(sizes) == 40  # 40 requests in a handful of calls
    small = MicroBatcher(slow, max_batch=1, max_wait_ms=0, max_waiting=2)
    with pytest.raises(Busy):
        for _ in range(10):
            small.submit([1])
    batcher.close()
    small.close()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_load_on_loopback_has_no_server_errors_and_flat_memory(runs):
    """Bounded: 2,000 requests at concurrency 32 on a tiny model, a tenth of them malformed; the full 10,000 on
    the packaged model is `python benchmarks/deploy.py serve` (docs/deploy.md)."""
    app = create_task_app([str(runs / "sentiment")], limits=Limits(max_waiting=64))
    n, rss = 2000, {}
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        def one(i: int) -> int:
            if i in (n // 10, n - 1):
                rss[i] = _rss_mb()
            body = {"model": "sentiment", "inputs": [f"text {i} good film"]} if i % 10 else {"model": "x"}
            return http.post("/v1/classify", content=json.dumps(body),
                             headers={"content-type": "application/json"}).status_code

        with cf.ThreadPoolExecutor(32) as pool:
            statuses = list(pool.map(one, range(n)))
    assert not [s for s in statuses if s >= 500]
    assert statuses.count(200) == n - n // 10
    assert rss[n - 1] < rss[n // 10] * 1.10  # no growth past the first tenth beyond noise


def test_serve_sends_task_runs_to_the_task_server_and_decoders_to_chat(runs):
    from headstart.cli.other import _is_task_run

    assert _is_task_run(str(runs / "sentiment")) and _is_task_run(f"s={runs / 'ner'}")
    assert not _is_task_run("smollm2") and not _is_task_run(str(runs / "missing"))
