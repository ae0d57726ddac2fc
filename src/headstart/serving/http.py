"""What every headstart server shares: the limits a client is held to (`Limits`), the body-size middleware
(413 before the app reads a byte too many), the access-log middleware, the one error shape (the OpenAI error body, for every route and
every status, an unexpected exception included) and the bearer-key check."""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from headstart.errors import HeadstartError

__all__ = ["Limits", "AccessLog", "BodyLimit", "OpenAIError", "install_error_handlers", "key_checker"]


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server. Safe defaults for one small model on one machine."""

    max_body_bytes: int = 1 << 20  # 1 MiB: a long chat is a few hundred KB
    max_waiting: int = 64  # requests queued behind the one generating; more get 503
    timeout_s: float = 120.0  # a generation's wall time at most (then finish_reason "length")

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1024 or self.max_waiting < 0 or not self.timeout_s > 0:
            raise HeadstartError("invalid server limits.", expected="max_body_bytes >= 1024, max_waiting >= 0, "
                                 "timeout_s > 0", found=repr(self), fix="pass positive limits")


class AccessLog:
    """ASGI middleware: `done(method, path, status, seconds)` once each HTTP request is answered. A plain ASGI
    class rather than FastAPI's `@app.middleware("http")`, whose per-request stream wrapping costs more than
    the rest of a small request's handling."""

    def __init__(self, app, done) -> None:
        self.app, self.done = app, done

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]  # an app that raises before answering: counted as 500

        async def watch(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.done(scope["method"], scope["path"], status[0], time.perf_counter() - start)


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes (declared or streamed) is answered 413 before the app
    reads it."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(self.limit)(scope, receive, send)
        if declared is not None:  # within the limit: the server reads at most that many bytes
            return await self.app(scope, receive, send)
        body, more = [], True  # no length given (chunked): read it here, up to the limit, then replay it
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)
            body.append(message.get("body", b""))
            more = message.get("more_body", False)
            if sum(map(len, body)) > self.limit:
                return await _too_large(self.limit)(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def _too_large(limit: int) -> JSONResponse:
    return OpenAIError(413, f"The request body is over the server's limit of {limit:,} bytes.",
                       code="request_too_large").response()


class OpenAIError(Exception):
    """An error answered in the OpenAI format."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        return JSONResponse(body, status_code=self.status, headers={**headers, **(self.headers or {})})


def install_error_handlers(app: FastAPI, log: logging.Logger) -> None:
    """Every error in the one JSON shape: ours as raised, validation errors as 400 naming the field, anything
    else as a logged 500."""

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s", request.url.path)
        return OpenAIError(500, f"The server failed on this request ({type(exc).__name__}); it is logged.",
                           type="server_error", code="internal_error").response()

    @app.exception_handler(OpenAIError)
    async def _openai_error(request: Request, exc: OpenAIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return OpenAIError(400, f"{where or 'request'}: {first.get('msg', 'invalid request')}",
                           param=where).response()


def key_checker(api_key: str | None):
    """A FastAPI dependency: with a key set, the request must send `Authorization: Bearer KEY` (401 otherwise)."""

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        token = given[7:] if given.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), api_key.encode()):
            raise OpenAIError(401, "Incorrect or missing API key: send the header 'Authorization: Bearer KEY' "
                              "with the key the server was started with.", code="invalid_api_key")

    return check_key
