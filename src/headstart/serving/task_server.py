"""One FastAPI app for every trained task: `headstart serve RUN [RUN ...]`.

Routes (request `model` picks the run; an unknown name is a 404 listing the loaded ones, never a fallback):
    POST /v1/classify    {"model", "inputs": [text] or [[text_a, text_b]], "top_k"}  -> label, scores
    POST /v1/ner         {"model", "inputs": [text]}                                 -> entities with offsets
    POST /v1/qa          {"model", "inputs": [{"question", "context"}]}              -> answer spans
    POST /v1/embeddings  OpenAI's format: {"model", "input": text or [text]}         -> the run's pooled vectors
    GET  /v1/models, /health, /ready, /metrics (Prometheus), / (the web page), /runs
Every error is `{"error": {"message", "type", "param", "code"}}`; limits as the chat server's (`Limits`:
body size 413, waiting requests 503 with Retry-After, time per request 504) plus inputs per request and
characters per input. Requests are micro-batched per model (`batcher.py`); each request is logged as one
JSON line on the `headstart.serving.access` logger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from headstart.serving.batcher import Busy
from headstart.serving.http import (
    AccessLog,
    BodyLimit,
    Limits,
    OpenAIError,
    install_error_handlers,
    key_checker,
)
from headstart.serving.task_models import Served, load_models

__all__ = ["create_task_app", "serve_tasks"]

log = logging.getLogger("headstart.serving")
access = logging.getLogger("headstart.serving.access")
MAX_INPUTS = 256  # inputs in one request
MAX_CHARS = 20_000  # characters in one input (a context for QA included)


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str


class ClassifyRequest(_Base):
    inputs: str | list[str] | list[list[str]]
    top_k: int | None = Field(default=None, ge=1)


class NerRequest(_Base):
    inputs: str | list[str]


class QAInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str
    context: str


class QARequest(_Base):
    inputs: QAInput | list[QAInput]


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI's optional fields (encoding_format, user) are accepted
    model: str
    input: str | list[str]


def create_task_app(models: list[str] | dict[str, Served], *, api_key: str | None = None,
                    limits: Limits | None = None, max_batch: int = 32, max_wait_ms: float = 5.0,
                    runs_dir: str | Path | None = None, threads: int | None = None) -> FastAPI:
    """The app serving `models` (run folders, NAME=PATH, ONNX export folders; or loaded `Served`)."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    limits = limits or Limits()
    registry = CollectorRegistry()
    requests = Counter("headstart_requests", "requests answered", ["route", "status"], registry=registry)
    latency = Histogram("headstart_request_seconds", "time to answer", ["route"], registry=registry)
    batch_sizes = Histogram("headstart_batch_size", "inputs per model call", registry=registry,
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
    served = models if isinstance(models, dict) else load_models(
        models, max_batch=max_batch, max_wait_ms=max_wait_ms, max_waiting=limits.max_waiting,
        on_batch=batch_sizes.observe, threads=threads)
    app = FastAPI(title="headstart task server", version="1")
    app.state.served = served
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    install_error_handlers(app, log)
    check_key = key_checker(api_key)

    def answered(method: str, route: str, status: int, seconds: float) -> None:
        if route.startswith("/v1/"):
            requests.labels(route, str(status)).inc()
            latency.labels(route).observe(seconds)
        if access.isEnabledFor(logging.INFO):
            access.info(json.dumps({"ts": round(time.time(), 3), "method": method, "path": route, "status": status,
                                    "ms": round(seconds * 1000, 2)}))

    app.add_middleware(AccessLog, done=answered)

    async def run(name: str, route: str, inputs: list) -> list:
        model = _model(served, name, route)
        if not inputs:
            raise OpenAIError(400, "inputs is empty: send at least one.", param="inputs")
        if len(inputs) > MAX_INPUTS:
            raise OpenAIError(413, f"{len(inputs)} inputs in one request; the limit is {MAX_INPUTS}: split it.",
                              code="too_many_inputs", param="inputs")
        for i, item in enumerate(inputs):
            size = sum(len(part) for part in (item if isinstance(item, list | tuple) else
                                               item.values() if isinstance(item, dict) else [item]))
            if size > MAX_CHARS:
                raise OpenAIError(413, f"input {i} has {size:,} characters; the limit is {MAX_CHARS:,}.",
                                  code="input_too_long", param=f"inputs.{i}")
        try:
            future = model.engine.batcher.submit([(name, route, item) for item in inputs])
        except Busy as exc:
            raise OpenAIError(503, f"The server is busy: {exc}. Retry after a moment.", type="server_error",
                              code="server_busy", headers={"Retry-After": "1"}) from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=limits.timeout_s)
        except TimeoutError:
            raise OpenAIError(504, f"The model took over {limits.timeout_s:g} s on this request.",
                              type="server_error", code="timeout") from None

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> dict:
        return {"status": "ready", "models": sorted(served)}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", dependencies=[Depends(check_key)])
    def list_models() -> dict:
        return {"object": "list", "data": [s.describe() for s in served.values()]}

    @app.post("/v1/classify", dependencies=[Depends(check_key)])
    async def classify(req: ClassifyRequest) -> dict:
        model = _model(served, req.model, "classify")
        inputs = [req.inputs] if isinstance(req.inputs, str) else list(req.inputs)
        inputs = _pairs(inputs) if model.task == "pairs" else _texts(inputs)
        rows = await run(req.model, "classify", inputs)
        return {"model": req.model, "results": [_classified(row, model, req.top_k) for row in rows]}

    @app.post("/v1/ner", dependencies=[Depends(check_key)])
    async def ner(req: NerRequest) -> dict:
        inputs = [req.inputs] if isinstance(req.inputs, str) else req.inputs
        return {"model": req.model, "results": await run(req.model, "ner", inputs)}

    @app.post("/v1/qa", dependencies=[Depends(check_key)])
    async def qa(req: QARequest) -> dict:
        inputs = [req.inputs] if isinstance(req.inputs, QAInput) else req.inputs
        records = [{"id": str(i), "question": x.question, "context": x.context} for i, x in enumerate(inputs)]
        answers = await run(req.model, "qa", records)
        return {"model": req.model, "results": [{"answer": a["text"], "start": a["start"],
                                                 "end": a["start"] + len(a["text"]), "score": a["score"]}
                                                for a in answers]}

    @app.post("/v1/embeddings", dependencies=[Depends(check_key)])
    async def embeddings(req: EmbeddingsRequest) -> dict:
        inputs = [req.input] if isinstance(req.input, str) else req.input
        vectors = await run(req.model, "embed", inputs)
        tokens = sum(len(text.split()) for text in inputs)
        return {"object": "list", "model": req.model,
                "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    from headstart.serving.web import add_pages

    add_pages(app, served, runs_dir=Path(runs_dir) if runs_dir else None, html=HTMLResponse)
    return app


def _model(served: dict[str, Served], name: str, route: str) -> Served:
    if name not in served:
        raise OpenAIError(404, f"The model '{name}' is not loaded; this server has: {', '.join(sorted(served))} "
                          "(GET /v1/models lists them).", code="model_not_found", param="model")
    model = served[name]
    if route not in model.routes:
        def path(r: str) -> str:
            return "/v1/" + ("embeddings" if r == "embed" else r)

        raise OpenAIError(400, f"'{name}' is a {model.task} model: it answers {', '.join(map(path, model.routes))}, "
                          f"not {path(route)}.", code="wrong_task", param="model")
    return model


def _texts(inputs: list) -> list[str]:
    for i, item in enumerate(inputs):
        if not isinstance(item, str):
            raise OpenAIError(400, f"inputs.{i}: this model takes texts (strings), not {type(item).__name__}s.",
                              param=f"inputs.{i}")
    return inputs


def _pairs(inputs: list) -> list[tuple[str, str]]:
    pairs = []
    for i, item in enumerate(inputs):
        if not (isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(t, str) for t in item)):
            raise OpenAIError(400, f"inputs.{i}: a pair model takes [text_a, text_b] pairs.", param=f"inputs.{i}")
        pairs.append((item[0], item[1]))
    return pairs


def _classified(row, model: Served, top_k: int | None) -> dict[str, Any]:
    scores = sorted(({"label": label, "score": float(p)} for label, p in zip(model.labels, row, strict=True)),
                    key=lambda s: -s["score"])
    out: dict[str, Any] = {"label": scores[0]["label"], "scores": scores[:top_k] if top_k else scores}
    if model.multilabel:
        out["labels"] = [s["label"] for s in scores if s["score"] >= 0.5]
        out["label"] = out["labels"][0] if out["labels"] else None
    return out


def serve_tasks(models: list[str], *, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
                limits: Limits | None = None, max_batch: int = 32, max_wait_ms: float = 5.0,
                runs_dir: str | None = None, log_level: str = "info", threads: int | None = None) -> None:
    """Load the runs and serve them until interrupted (what `headstart serve RUN ...` runs)."""
    import uvicorn

    limits = limits or Limits()
    app = create_task_app(models, api_key=api_key, limits=limits, max_batch=max_batch, max_wait_ms=max_wait_ms,
                          runs_dir=runs_dir, threads=threads)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=5,
                limit_concurrency=limits.max_waiting + 16)
