"""A client for any OpenAI-compatible chat API (`POST {base_url}/chat/completions`), built on httpx.

What it adds to a bare HTTP call, and why it is written here rather than taken from the `openai` package
(not a headstart dependency, and its retry policy and cache are not ours to set):

- settings from arguments or the environment. Precedence, for each of the three: the argument, then the
  environment variable (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `HEADSTART_API_MODEL`), then the default
  (base URL `https://api.openai.com/v1`, no key; the model has no default and must be given);
- retries with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx, honouring
  `Retry-After` (seconds or an HTTP date) and `retry-after-ms`; no retry on any other 4xx. A refused
  connection is retried only `connect_retries` times, so a wrong port fails in about a second;
- several requests at once (`chat_many`) with bounded concurrency, answers in the order asked;
- an on-disk cache of answers, so a rerun of the same requests sends nothing (`AnswerCache`);
- `ApiError` (a `HeadstartError`) saying which base URL, what happened and what to do.

Example:
    >>> client = ApiClient(base_url="http://127.0.0.1:8000/v1", model="smollm2")  # doctest: +SKIP
    >>> client.chat([{"role": "user", "content": "Say hi"}], max_tokens=8)  # doctest: +SKIP
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from headstart.errors import ConfigError, HeadstartError

__all__ = ["ApiClient", "ApiError", "AnswerCache", "ClientStats", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0  # seconds: a longer Retry-After is capped, not obeyed for hours


class ApiError(HeadstartError):
    """The chat API could not be used: unreachable, key rejected, model unknown, or a request refused."""


@dataclass
class ClientStats:
    """What a client has done: HTTP requests sent (retries included), retries, answers from the cache."""

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0


class AnswerCache:
    """Answers on disk as JSON lines `{"key", "answer"}` in `<folder>/answers.jsonl`, keyed by request hash.

    Append-only: each answer is one `write` of one line to a file opened for appending, so several
    processes may share a folder; a line cut short by a crash is skipped on reading.
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder).expanduser() / "answers.jsonl"
        self._lock = threading.Lock()
        self._answers: dict[str, str] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self._answers[row["key"]] = row["answer"]
                except (ValueError, KeyError, TypeError):
                    continue

    @staticmethod
    def key(request: dict) -> str:
        """sha256 of the request's canonical JSON (base URL, model, messages and every sampling option)."""
        return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        return self._answers.get(key)

    def put(self, key: str, answer: str) -> None:
        with self._lock:
            self._answers[key] = answer
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"key": key, "answer": answer}, ensure_ascii=False) + "\n")

    def __len__(self) -> int:
        return len(self._answers)


def default_cache_dir() -> Path:
    return Path(os.environ.get("HEADSTART_HOME", Path.home() / ".headstart")) / "cache" / "api"


class ApiClient:
    """Chat completions from an OpenAI-compatible server.

    Args:
        base_url: the API root, usually ending in `/v1`; default `$OPENAI_BASE_URL`, then OpenAI's.
        model: the model id; default `$HEADSTART_API_MODEL`. Required one way or the other.
        api_key: sent as `Authorization: Bearer`; default `$OPENAI_API_KEY`; None sends no header.
        timeout: seconds for each request (connecting: at most 10 s of it).
        max_retries: retries after a 429, a 5xx or a timeout / dropped connection.
        connect_retries: retries after a refused connection or unknown host (usually a wrong URL).
        backoff: the first retry's delay in seconds; each later one doubles, up to `max_backoff`, and a
            random half of it is jittered away so that parallel clients do not retry in step.
        max_backoff: the longest delay between tries, Retry-After aside.
        concurrency: the most requests `chat_many` has in flight at once.
        cache: keep answers on disk and answer repeated requests from there.
        cache_dir: the cache folder; default `$HEADSTART_HOME/cache/api` (HEADSTART_HOME: ~/.headstart).

    Raises:
        ConfigError: no model given, or a setting out of range.
    """

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 timeout: float = 60.0, max_retries: int = 5, connect_retries: int = 2, backoff: float = 0.5,
                 max_backoff: float = 30.0, concurrency: int = 4, cache: bool = True,
                 cache_dir: str | Path | None = None) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.model = model or os.environ.get("HEADSTART_API_MODEL")
        api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not self.model:
            raise ConfigError("no model named for the chat API.", expected="a model id",
                              found="neither a model argument nor HEADSTART_API_MODEL",
                              fix="pass --model (e.g. gpt-4o-mini, or the id `headstart serve` lists at /v1/models)")
        if concurrency < 1 or max_retries < 0 or connect_retries < 0 or timeout <= 0:
            raise ConfigError("a client setting is out of range.",
                              expected="concurrency >= 1, retries >= 0, timeout > 0",
                              found=f"concurrency={concurrency}, max_retries={max_retries}, "
                              f"connect_retries={connect_retries}, timeout={timeout}")
        self.max_retries, self.connect_retries = max_retries, connect_retries
        self.backoff, self.max_backoff, self.concurrency = backoff, max_backoff, concurrency
        self.cache = AnswerCache(cache_dir or default_cache_dir()) if cache else None
        self.stats = ClientStats()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), headers=headers,
                                  limits=httpx.Limits(max_connections=concurrency))
        self._stats_lock = threading.Lock()

    # -- public ----------------------------------------------------------------------------------------

    def chat(self, messages: list[dict], *, temperature: float = 0.0, max_tokens: int | None = None,
             top_p: float | None = None, seed: int | None = None, stop: str | list[str] | None = None) -> str:
        """The assistant's answer to `messages` (from the cache when this exact request was answered before)."""
        body = {"model": self.model, "messages": messages, "temperature": temperature}
        body |= {k: v for k, v in {"max_tokens": max_tokens, "top_p": top_p, "seed": seed, "stop": stop}.items()
                 if v is not None}
        key = AnswerCache.key({"base_url": self.base_url, **body})
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self._count(cache_hits=1)
            return hit
        answer = self._answer(self._post(body))
        if self.cache is not None:
            self.cache.put(key, answer)
        return answer

    def chat_many(self, conversations: list[list[dict]], **options) -> list[str]:
        """Answers to several conversations, up to `concurrency` at a time, in the order given."""
        if self.concurrency == 1 or len(conversations) <= 1:
            return [self.chat(c, **options) for c in conversations]
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="headstart-api") as pool:
            return list(pool.map(lambda c: self.chat(c, **options), conversations))

    def list_models(self) -> list[str]:
        """The model ids the server lists at GET /models."""
        response = self._send("GET", "/models")
        return [m.get("id") for m in response.json().get("data", [])]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- HTTP with retries -----------------------------------------------------------------------------

    def _count(self, **deltas: int) -> None:
        with self._stats_lock:
            for name, d in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + d)

    def _post(self, body: dict) -> dict:
        response = self._send("POST", "/chat/completions", json=body)
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.base_url} answered with something that is not JSON.",
                           expected="an OpenAI chat completion", found=response.text[:200],
                           fix="check that the base URL points at an OpenAI-compatible API") from None

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = self.base_url + path
        retries = connect_failures = 0
        while True:
            self._count(requests=1)
            try:
                response = self._http.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
                if isinstance(exc, httpx.UnsupportedProtocol) or connect_failures >= self.connect_retries:
                    raise self._unreachable(exc) from None
                connect_failures += 1
                delay = self._delay(connect_failures - 1)
            except httpx.TransportError as exc:  # timeouts, dropped connections: the server may recover
                if retries >= self.max_retries:
                    raise ApiError(f"no answer from {self.base_url} after {retries + 1} tries.",
                                   found=f"{type(exc).__name__}: {exc}",
                                   fix="the server may be overloaded: retry later, raise the timeout, or "
                                   "lower --concurrency") from None
                retries += 1
                delay = self._delay(retries - 1)
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or retries >= self.max_retries:
                    raise self._http_error(response, retries + 1)
                retries += 1
                delay = _retry_after(response)
                delay = min(delay, MAX_RETRY_AFTER) if delay is not None else self._delay(retries - 1)
            self._count(retries=1)
            time.sleep(delay)

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of backoff * 2**attempt (capped)."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _answer(self, data: dict) -> str:
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ApiError(f"{self.base_url} answered without a message.",
                           expected="{'choices': [{'message': {'content': ...}}]}", found=str(data)[:200],
                           fix="check that the base URL points at an OpenAI-compatible chat API") from None
        return content or ""

    # -- errors ----------------------------------------------------------------------------------------

    def _unreachable(self, exc: Exception) -> ApiError:
        return ApiError(f"cannot reach the chat API at {self.base_url}.", found=f"{type(exc).__name__}: {exc}",
                        fix="start the server (e.g. `headstart serve smollm2`), or check --base-url / "
                        "OPENAI_BASE_URL (scheme, host, port, and the /v1 at the end)")

    def _http_error(self, response: httpx.Response, tries: int) -> ApiError:
        status, message, code = response.status_code, *_error_detail(response)
        found = f"HTTP {status}: {message}"
        if status in (401, 403):
            return ApiError(f"{self.base_url} rejected the API key.", found=found,
                            fix="pass the right key with --api-key or OPENAI_API_KEY")
        if status == 404 and (code == "model_not_found" or "model" in message.lower()):
            return ApiError(f"{self.base_url} does not know the model {self.model!r}.", found=found,
                            expected=self._known_models(), fix="pass one of the listed ids with --model")
        if status == 404:
            return ApiError(f"no chat completions endpoint at {self.base_url}/chat/completions.", found=found,
                            fix="the base URL of an OpenAI-compatible API usually ends in /v1")
        if status in RETRY_STATUSES:
            return ApiError(f"{self.base_url} kept failing: {tries} tries, the last answered HTTP {status}.",
                            found=found, fix="retry later, or lower --concurrency if the server is rate-limiting")
        return ApiError(f"{self.base_url} refused the request.", found=found,
                        fix="check the request options (model, max_tokens, temperature) against the server's")

    def _known_models(self) -> str | None:
        try:
            ids = self.list_models()
        except (ApiError, httpx.HTTPError, ValueError, AttributeError):
            return None
        return "one of: " + ", ".join(map(str, ids)) if ids else None


def _error_detail(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from an OpenAI error body, or the raw text."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase, None
    if isinstance(error, dict):
        return str(error.get("message", ""))[:300], error.get("code")
    return str(error or response.text)[:300], None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait as the server asks: `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date."""
    ms = response.headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
