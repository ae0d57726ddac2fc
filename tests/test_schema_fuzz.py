"""A schema-driven fuzz of the task server's OpenAPI spec (schemathesis): every operation, requests
generated from the spec (valid and not), and not one answer is a server error (5xx)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from conftest import make_sentiment
from headstart import HeadstartClassifier, HeadstartTagger
from test_tasks import make_ner

schemathesis = pytest.importorskip("schemathesis")

OPTIONS = {"epochs": 1, "batch_size": 8, "max_length": 16, "seed": 0, "progress": False, "refit": False}
EXAMPLES = 40  # per operation, in the default suite; benchmarks/soak.py is the long profile


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, tiny_bert):
    from headstart.serving.http import Limits
    from headstart.serving.task_server import create_task_app

    root = tmp_path_factory.mktemp("fuzzed")
    texts, labels = make_sentiment(32)
    HeadstartClassifier(backbone=str(tiny_bert), strategy="head", **OPTIONS).fit(texts, labels).save(root / "clf")
    HeadstartTagger(backbone=str(tiny_bert), strategy="head", **OPTIONS).fit(*make_ner(20)).save(root / "ner")
    app = create_task_app([str(root / "clf"), str(root / "ner")], limits=Limits(max_waiting=8))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, case.body, response.status_code, response.text[:300])
