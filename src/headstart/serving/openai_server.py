"""An OpenAI-compatible chat server for one local causal LM (FastAPI + uvicorn).

Routes: `GET /v1/models`, `POST /v1/chat/completions` (messages, temperature, top_p, max_tokens or
max_completion_tokens, n=1, stop, seed, stream as server-sent events in the OpenAI chunk format) and
`GET /health`. Errors use the OpenAI error body, `{"error": {"message", "type", "param", "code"}}`, so
OpenAI client libraries report them as they would the real service. With an API key set, every `/v1/`
request needs `Authorization: Bearer KEY` (401 otherwise); `/health` stays open for load balancers.

One model answers one request at a time (`ChatModel.lock`): FastAPI runs the sync handlers in its thread
pool, and a second request waits for the first. `Limits` bounds what a client can make the server do: the
request body's size (413), the requests waiting for the model (503 beyond it, so a flood cannot pile up
threads and memory), and each generation's wall time (it ends with finish_reason "length"). Every error,
an unexpected one included, is answered in the OpenAI error format with its status.

Example:
    >>> app = create_app("smollm2")  # doctest: +SKIP
    >>> serve("smollm2", port=8000)  # doctest: +SKIP  (blocks; `headstart serve smollm2`)
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from headstart.errors import HeadstartError
from headstart.serving.chat_model import ChatModel, Completion, PromptTooLongError, load_chat_model
from headstart.serving.http import BodyLimit, Limits, OpenAIError, install_error_handlers, key_checker

__all__ = ["create_app", "serve", "ChatRequest", "Limits"]

MAX_SEED = 2**63 - 1  # torch.manual_seed's range
log = logging.getLogger("headstart.serving")


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = "text"
    text: str = ""


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[_Part] | None = None

    def as_dict(self) -> dict:
        content = self.content if isinstance(self.content, str) else "".join(
            p.text for p in self.content or [] if p.type == "text")
        return {"role": self.role, "content": content}


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat completion request this server uses; others are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[_Message] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int | None = 1
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    stream: bool = False
    stream_options: dict | None = None
    logprobs: bool | None = None

    def sampling(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed, "stop": self.stop,
                "max_tokens": self.max_completion_tokens or self.max_tokens}


def create_app(model_source: str | Path | ChatModel, *, api_key: str | None = None,
               limits: Limits | None = None) -> FastAPI:
    """The FastAPI app serving one chat model.

    Args:
        model_source: a loaded `ChatModel`, or anything `load_chat_model` accepts (backbone name, model
            folder, PEFT adapter folder, run folder).
        api_key: when given, `/v1/` requests must send `Authorization: Bearer <api_key>`.
        limits: body size, queue and time limits (`Limits()` by default).

    Returns:
        The app; run it with uvicorn (`serve`) or `headstart.serving.background.BackgroundServer`.
    """
    chat_model = model_source if isinstance(model_source, ChatModel) else load_chat_model(model_source)
    limits = limits or Limits()
    chat_model.max_seconds = limits.timeout_s
    app = FastAPI(title="headstart OpenAI-compatible server", version="1")
    app.state.chat_model = chat_model
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    created = int(time.time())
    busy = app.state.busy = {"n": 0}  # requests generating or waiting for the model
    busy_lock = threading.Lock()

    def enter() -> None:
        with busy_lock:
            if busy["n"] > limits.max_waiting:  # one generating + max_waiting queued
                raise OpenAIError(503, f"The server is busy: {busy['n']} requests are ahead of this one (the limit "
                                  f"is {limits.max_waiting} waiting). Retry after a moment.", type="server_error",
                                  code="server_busy")
            busy["n"] += 1

    def leave() -> None:
        with busy_lock:
            busy["n"] -= 1

    install_error_handlers(app, log)
    check_key = key_checker(api_key)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "model": chat_model.name}

    @app.get("/v1/models", dependencies=[Depends(check_key)])
    def models() -> dict:
        return {"object": "list", "data": [{"id": chat_model.name, "object": "model", "created": created,
                                            "owned_by": "headstart"}]}

    @app.post("/v1/chat/completions", dependencies=[Depends(check_key)], response_model=None)
    def chat_completions(req: ChatRequest) -> dict | StreamingResponse:
        _check_request(req, chat_model)
        messages = [m.as_dict() for m in req.messages]
        enter()
        streaming = False
        try:
            if req.stream:
                stream = chat_model.stream(messages, **req.sampling())
                usage = bool((req.stream_options or {}).get("include_usage"))
                streaming = True  # the stream leaves when it ends
                return StreamingResponse(_events(stream, chat_model.name, usage, on_end=leave),
                                         media_type="text/event-stream")
            return _response(chat_model.complete(messages, **req.sampling()), chat_model.name)
        except PromptTooLongError as exc:
            raise OpenAIError(400, str(exc), code="context_length_exceeded", param="messages") from None
        except HeadstartError as exc:
            raise OpenAIError(400, str(exc)) from None
        finally:
            if not streaming:
                leave()

    return app


def _check_request(req: ChatRequest, chat_model: ChatModel) -> None:
    if req.model not in (chat_model.name, chat_model.source):
        raise OpenAIError(404, f"The model '{req.model}' does not exist: this server serves "
                          f"'{chat_model.name}' (GET /v1/models lists it).", code="model_not_found",
                          param="model")
    if req.n not in (None, 1):
        raise OpenAIError(400, f"n={req.n} is not supported: this server returns one choice (n=1).", param="n")
    if req.logprobs:
        raise OpenAIError(400, "logprobs are not supported by this server.", param="logprobs")


def _usage(c: Completion) -> dict:
    return {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
            "total_tokens": c.prompt_tokens + c.completion_tokens}


def _response(c: Completion, model: str) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text}, "logprobs": None,
                         "finish_reason": c.finish_reason}],
            "usage": _usage(c)}


def _events(stream, model: str, include_usage: bool, on_end=None) -> Iterator[str]:
    """Server-sent events in the OpenAI chunk format: the role, the content pieces, the finish reason,
    optionally the usage, then `[DONE]`."""
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": None}

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return f"data: {json.dumps(head | {'choices': choices} | extra)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        for piece in stream:
            yield chunk({"content": piece})
        yield chunk({}, stream.completion.finish_reason)
        if include_usage:
            yield f"data: {json.dumps(head | {'choices': [], 'usage': _usage(stream.completion)})}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        stream.close()
        if on_end is not None:
            on_end()


def serve(model_source: str | Path, *, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None,
          limits: Limits | None = None, log_level: str = "info") -> None:
    """Load the model and serve it until interrupted (what `headstart serve` runs)."""
    import uvicorn

    limits = limits or Limits()
    uvicorn.run(create_app(model_source, api_key=api_key, limits=limits), host=host, port=port,
                log_level=log_level, timeout_keep_alive=5, limit_concurrency=limits.max_waiting + 16)
