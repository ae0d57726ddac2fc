"""The OpenAI-compatible server and the API zero-shot client, over real HTTP on loopback.

The server is headstart's own app on a tiny Llama-style model (built from a config here) run by uvicorn in
a background thread; retry and answer-mapping behaviour is checked against small real FastAPI apps that
answer 429 / 500 / fixed texts on purpose. Nothing mocks httpx.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from typer.testing import CliRunner

from conftest import save_tiny, tiny_config
from headstart.cli import app as cli_app
from headstart.errors import BackboneError, ConfigError
from headstart.serving.background import BackgroundServer
from headstart.serving.chat_model import ChatModel, Sampling, format_messages, load_chat_model
from headstart.serving.openai_server import create_app
from headstart.zeroshot.api import ApiClient, ApiError, ApiZeroShot, build_messages, map_answer
from headstart.zeroshot.api_client import AnswerCache

pytestmark = pytest.mark.xdist_group("api-server")

TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}assistant:{% endif %}")
HELLO = [{"role": "user", "content": "the movie was great"}]


@pytest.fixture(autouse=True)
def _no_api_env(monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HEADSTART_API_MODEL", "HEADSTART_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _save_causal_lm(folder: Path, tokenizer, family: str = "llama", template: str | None = TEMPLATE) -> Path:
    torch.manual_seed(0)
    config = tiny_config(family, len(tokenizer), tokenizer.pad_token_id, n_layers=2)
    if family == "llama":
        config.max_position_embeddings = 512  # room for the zero-shot prompt (RoPE: no learned positions)
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = template
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_chat_folder(tmp_path_factory, tiny_tokenizer) -> Path:
    return _save_causal_lm(tmp_path_factory.mktemp("tiny-chat") / "tiny-llama", tiny_tokenizer)


@pytest.fixture(scope="module")
def chat_model(tiny_chat_folder) -> ChatModel:
    return load_chat_model(tiny_chat_folder)


@pytest.fixture(scope="module")
def server(chat_model):
    with BackgroundServer(create_app(chat_model)) as running:
        yield running


def _post(server, **body) -> httpx.Response:
    return httpx.post(server.base_url + "/chat/completions", json={"model": "tiny-llama", **body}, timeout=30)


def _stream(server, **body) -> list[dict]:
    chunks = []
    with httpx.stream("POST", server.base_url + "/chat/completions", timeout=30,
                      json={"model": "tiny-llama", "stream": True, **body}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        assert line.startswith("data: ")
        chunks.append(json.loads(line[len("data: "):]))
    return chunks


# -- the server ------------------------------------------------------------------------------------------

def test_models_and_health(server):
    models = httpx.get(server.base_url + "/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == ["tiny-llama"]
    assert httpx.get(server.url + "/health").json() == {"status": "ok", "model": "tiny-llama"}


def test_chat_completion_shape(server):
    body = _post(server, messages=HELLO, temperature=0, max_tokens=5).json()
    assert body["object"] == "chat.completion" and body["model"] == "tiny-llama"
    assert body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str) and choice["message"]["content"]
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    if usage["completion_tokens"] == 5:
        assert choice["finish_reason"] == "length"


@pytest.mark.parametrize("sampling", [{"temperature": 0}, {"temperature": 1.0, "top_p": 0.9, "seed": 7}])
def test_stream_joins_to_the_completion(server, sampling):
    whole = _post(server, messages=HELLO, max_tokens=16, **sampling).json()
    chunks = _stream(server, messages=HELLO, max_tokens=16, stream_options={"include_usage": True}, **sampling)
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({c["id"] for c in chunks}) == 1
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert len([p for p in pieces if p]) > 1  # streamed in pieces, not one block at the end
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == whole["choices"][0]["finish_reason"] and set(finish[:-1]) == {None}
    assert chunks[-1]["usage"] == whole["usage"]


def test_seed_repeats_a_sampled_answer(server):
    first, second, other = (_post(server, messages=HELLO, temperature=1.0, seed=s, max_tokens=12).json()
                            for s in (3, 3, 4))
    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"]
    assert first["choices"][0]["message"]["content"] != other["choices"][0]["message"]["content"]


def test_stop_string_is_cut_out_in_both_modes(server):
    full = _post(server, messages=HELLO, temperature=0, max_tokens=16).json()["choices"][0]["message"]["content"]
    stop = full.strip()[4:7]  # a piece from the middle of the greedy answer
    assert len(stop) == 3
    cut = _post(server, messages=HELLO, temperature=0, max_tokens=16, stop=[stop, "zzzz"]).json()
    assert cut["choices"][0]["message"]["content"] == full[: full.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"
    chunks = _stream(server, messages=HELLO, temperature=0, max_tokens=16, stop=stop)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == full[: full.index(stop)]


@pytest.mark.parametrize(("body", "status", "code", "words"), [
    ({"model": "gpt-9"}, 404, "model_not_found", "serves 'tiny-llama'"),
    ({"n": 2}, 400, None, "n=2 is not supported"),
    ({"temperature": 5}, 400, None, "temperature"),
    ({"messages": []}, 400, None, "messages"),
    ({"logprobs": True}, 400, None, "logprobs"),
    ({"messages": [{"role": "user", "content": "word " * 600}]}, 400, "context_length_exceeded", "context window"),
])
def test_bad_requests_get_openai_errors(server, body, status, code, words):
    response = httpx.post(server.base_url + "/chat/completions", timeout=30,
                          json={"model": "tiny-llama", "messages": HELLO} | body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "invalid_request_error"
    assert words in error["message"]


def test_api_key_is_required_when_set(chat_model):
    with BackgroundServer(create_app(chat_model, api_key="sesame")) as srv:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sesame"}):
            response = httpx.get(srv.base_url + "/models", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(srv.base_url + "/models", headers={"Authorization": "Bearer sesame"}).status_code == 200
        assert httpx.get(srv.url + "/health").status_code == 200
        with pytest.raises(ApiError, match="rejected the API key(?s:.*)--api-key or OPENAI_API_KEY"):
            ApiClient(srv.base_url, "tiny-llama", "wrong", cache=False).chat(HELLO)
        good = ApiClient(srv.base_url, "tiny-llama", "sesame", cache=False).chat(HELLO, max_tokens=4)
        assert isinstance(good, str)


# -- the model behind it ---------------------------------------------------------------------------------

def test_closing_a_stream_early_cancels_generation(chat_model):
    assert chat_model.complete(HELLO, temperature=0, max_tokens=300).completion_tokens == 300
    stream = chat_model.stream(HELLO, temperature=0, max_tokens=300)
    pieces = iter(stream)
    next(pieces)
    pieces.close()  # what the server does when the client goes away
    assert stream.completion.completion_tokens < 50  # generation stopped soon after, not at 300
    assert chat_model.lock.acquire(blocking=False)  # and let go of the model
    chat_model.lock.release()


def test_fallback_template_and_gpt2(tmp_path, tiny_tokenizer):
    folder = _save_causal_lm(tmp_path / "gpt2", tiny_tokenizer, family="gpt2", template=None)
    model = load_chat_model(folder)
    text, templated = format_messages(model.tokenizer, [{"role": "system", "content": "be brief"}, *HELLO])
    assert (text, templated) == ("system: be brief\nuser: the movie was great\nassistant:", False)
    completion = model.complete(HELLO, temperature=0, max_tokens=200)
    # GPT-2's 64 learned positions cap the answer at what is left after the prompt
    assert completion.prompt_tokens + completion.completion_tokens <= 64


def test_peft_adapter_folder_is_merged_into_its_base(tmp_path, tiny_chat_folder, chat_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_chat_folder)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    run = tmp_path / "run"
    lora.save_pretrained(run / "model")  # a run folder; adapter_config.json names the base folder
    adapted = load_chat_model(run)
    ids = torch.tensor([chat_model.prompt_ids(HELLO)])
    with torch.no_grad():
        expected = lora(input_ids=ids).logits
        got = adapted.model(input_ids=ids).logits
        plain = chat_model.model(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-5) and not torch.allclose(got, plain, atol=1e-3)


def test_load_errors(tmp_path, tiny_tokenizer):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackboneError, match="without config.json or adapter_config.json"):
        load_chat_model(tmp_path / "empty")
    with pytest.raises(BackboneError, match="not a causal language model"):
        load_chat_model(save_tiny(tmp_path / "t5", "t5", tiny_tokenizer))
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(BackboneError, match="does not name its base model"):
        load_chat_model(tmp_path / "adapter")
    with pytest.raises(ConfigError, match="temperature is out of range"):
        Sampling.of(temperature=3)
    with pytest.raises(ConfigError, match="up to 4 non-empty strings"):
        Sampling.of(stop=["a", "b", "c", "d", "e"])


# -- the client ------------------------------------------------------------------------------------------

def test_client_settings_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env.example/v1/")
    monkeypatch.setenv("HEADSTART_API_MODEL", "env-model")
    client = ApiClient(cache_dir=tmp_path)
    assert (client.base_url, client.model) == ("http://env.example/v1", "env-model")
    client = ApiClient("http://arg.example/v1", "arg-model", cache_dir=tmp_path)
    assert (client.base_url, client.model) == ("http://arg.example/v1", "arg-model")
    monkeypatch.delenv("HEADSTART_API_MODEL")
    with pytest.raises(ConfigError, match="no model named(?s:.*)HEADSTART_API_MODEL"):
        ApiClient("http://arg.example/v1")
    with pytest.raises(ConfigError, match="out of range"):
        ApiClient("http://arg.example/v1", "m", concurrency=0)


def test_client_answers_and_caches_them(chat_model, tmp_path):
    with BackgroundServer(create_app(chat_model)) as srv:
        client = ApiClient(srv.base_url, "tiny-llama", cache_dir=tmp_path)
        first = client.chat(HELLO, max_tokens=6)
        assert first == chat_model.chat(HELLO, temperature=0, max_tokens=6)
        assert client.stats.requests == 1 and client.stats.cache_hits == 0
        base_url = srv.base_url
    # the server is gone: a new client on the same cache folder answers from disk and sends nothing
    again = ApiClient(base_url, "tiny-llama", cache_dir=tmp_path, connect_retries=0)
    assert again.chat(HELLO, max_tokens=6) == first
    assert (again.stats.requests, again.stats.cache_hits) == (0, 1)
    with pytest.raises(ApiError, match="cannot reach"):  # a request it has not cached does go out
        again.chat(HELLO, max_tokens=7)
    assert len(AnswerCache(tmp_path)) == 1


def _echo_app() -> FastAPI:
    """Answers "echo: <last message>", the early requests slowest, so they finish in reverse order."""
    app = FastAPI()
    app.state.in_flight = app.state.most = 0
    lock = threading.Lock()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        text = body["messages"][-1]["content"]
        with lock:
            app.state.in_flight += 1
            app.state.most = max(app.state.most, app.state.in_flight)
        time.sleep(0.05 * (6 - int(text.split()[-1])))
        with lock:
            app.state.in_flight -= 1
        return {"choices": [{"message": {"role": "assistant", "content": "echo: " + text}}]}

    return app


def test_chat_many_keeps_order_with_bounded_concurrency():
    app = _echo_app()
    with BackgroundServer(app) as srv:
        client = ApiClient(srv.base_url, "echo", concurrency=3, cache=False)
        conversations = [[{"role": "user", "content": f"message {i}"}] for i in range(6)]
        assert client.chat_many(conversations) == [f"echo: message {i}" for i in range(6)]
    assert app.state.most == 3


def _flaky_app(plan: list[tuple[int, dict]]) -> FastAPI:
    """Answers each planned (status, headers) in turn, then 200; counts calls and their times."""
    app = FastAPI()
    app.state.times = []

    @app.post("/v1/chat/completions")
    def chat(body: dict):
        app.state.times.append(time.monotonic())
        if len(app.state.times) <= len(plan):
            status, headers = plan[len(app.state.times) - 1]
            return JSONResponse({"error": {"message": f"planned {status}", "code": None}}, status, headers)
        return {"choices": [{"message": {"role": "assistant", "content": "ok"}}]}

    return app


def test_retries_429_and_5xx_and_honours_retry_after():
    app = _flaky_app([(429, {"Retry-After": "1"}), (500, {}), (503, {})])
    with BackgroundServer(app) as srv:
        client = ApiClient(srv.base_url, "m", backoff=0.01, cache=False)
        assert client.chat(HELLO) == "ok"
    times = app.state.times
    assert len(times) == 4 and client.stats.retries == 3
    assert times[1] - times[0] >= 0.95  # waited as Retry-After asked
    assert times[3] - times[1] < 0.5  # the 5xx retries used the (short) backoff


def test_a_timeout_is_retried():
    app = FastAPI()
    app.state.calls = 0

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        app.state.calls += 1
        if app.state.calls == 1:
            time.sleep(1.0)  # longer than the client waits
        return {"choices": [{"message": {"role": "assistant", "content": "late but fine"}}]}

    with BackgroundServer(app) as srv:
        client = ApiClient(srv.base_url, "m", timeout=0.3, backoff=0.01, cache=False)
        assert client.chat(HELLO) == "late but fine"
    assert app.state.calls == 2 and client.stats.retries == 1


@pytest.mark.parametrize(("status", "words"), [(400, "refused the request"), (401, "rejected the API key"),
                                               (404, "usually ends in /v1"), (422, "refused the request")])
def test_no_retry_on_other_4xx(status, words):
    app = _flaky_app([(status, {})] * 3)
    with BackgroundServer(app) as srv, pytest.raises(ApiError, match=re.escape(words)) as caught:
        ApiClient(srv.base_url, "m", backoff=0.01, cache=False).chat(HELLO)
    assert f"HTTP {status}: planned {status}" in str(caught.value) and srv.base_url in str(caught.value)
    assert len(app.state.times) == 1


def test_gives_up_after_max_retries():
    app = _flaky_app([(502, {})] * 10)
    with BackgroundServer(app) as srv, pytest.raises(ApiError, match="kept failing: 3 tries, the last answered HTTP 502"):
        ApiClient(srv.base_url, "m", max_retries=2, backoff=0.01, cache=False).chat(HELLO)
    assert len(app.state.times) == 3


def test_unreachable_server_fails_fast_and_clearly():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    start = time.monotonic()
    with pytest.raises(ApiError, match=f"cannot reach the chat API at http://127.0.0.1:{port}/v1(?s:.*)"
                                       "fix: +start the server"):
        ApiClient(f"http://127.0.0.1:{port}/v1", "m", cache=False, backoff=0.05).chat(HELLO)
    assert time.monotonic() - start < 3


def test_unknown_model_and_missing_v1_are_explained(server):
    with pytest.raises(ApiError, match="does not know the model 'gpt-9'(?s:.*)one of: tiny-llama"):
        ApiClient(server.base_url, "gpt-9", cache=False).chat(HELLO)
    with pytest.raises(ApiError, match="usually ends in /v1"):
        ApiClient(server.url, "tiny-llama", cache=False).chat(HELLO)


# -- zero-shot through the API ---------------------------------------------------------------------------

@pytest.mark.parametrize(("answer", "label"), [
    ("positive", "positive"), (" Positive.\n", "positive"), ('"NEGATIVE"', "negative"),
    ("Label: negative, because the plot is boring", "negative"), ("It is positive, not negative", "positive"),
    ("very positive", "very positive"), ("Positively great", None), ("", None), ("neutral", None),
])
def test_map_answer(answer, label):
    assert map_answer(answer, ["positive", "negative", "very positive"]) == label


def _fixed_answer_app(answers: dict[str, str]) -> FastAPI:
    """A chat server that answers the text in the zero-shot prompt with a fixed reply."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        assert body["temperature"] == 0
        text = re.search(r"Text: (.*)\n\nWhich", body["messages"][-1]["content"], re.S).group(1)
        return {"choices": [{"message": {"role": "assistant", "content": answers[text]}}]}

    return app


ANSWERS = {"great film": "Positive.", "dull film": "negative", "odd film": "I cannot tell.",
           "fine film": "The answer is: positive"}


def test_api_zero_shot_maps_answers_and_counts_fallbacks(tmp_path):
    with BackgroundServer(_fixed_answer_app(ANSWERS)) as srv:
        client = ApiClient(srv.base_url, "fixed", cache=False)
        clf = ApiZeroShot(["negative", "positive"], client=client, fallback="positive").fit()
        texts = list(ANSWERS)
        proba = clf.predict_proba(texts)
        assert proba.tolist() == [[0, 1], [1, 0], [0, 1], [0, 1]]
        assert clf.n_unparsed_ == 1 and clf.unparsed_ == [2] and clf.answers_[2] == "I cannot tell."
        assert list(clf.predict(texts)) == ["positive", "negative", "positive", "positive"]
        assert clf.score(texts, ["positive", "negative", "negative", "positive"]) == 0.75
        assert list(ApiZeroShot(["negative", "positive"], client=client).predict(["odd film"])) == ["negative"]


def test_api_is_a_zero_shot_method_like_the_others(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from headstart.cli import app
    from headstart.errors import ConfigError
    from headstart.zeroshot import SCORERS, ZeroShotClassifier

    assert "api" in SCORERS
    monkeypatch.setenv("HEADSTART_HOME", str(tmp_path))  # the answer cache
    with BackgroundServer(_fixed_answer_app(ANSWERS)) as srv:
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        clf = ZeroShotClassifier(["negative", "positive"], method="api", backbone="fixed").fit()
        assert list(clf.predict(["great film", "dull film"])) == ["positive", "negative"]
        data = tmp_path / "d.csv"
        data.write_text("text,label\ngreat film,positive\ndull film,negative\nfine film,negative\n")
        result = CliRunner().invoke(app, ["zero-shot", str(data), "--method", "api", "--backbone", "fixed"])
        assert result.exit_code == 0, result.output
        assert "accuracy 0.6667" in result.output
    with pytest.raises(ConfigError, match="the api method does not take k"):
        ZeroShotClassifier(["negative", "positive"], method="api", backbone="fixed", k=1,
                           examples=[("great film", "positive"), ("dull film", "negative")]).fit()


def test_api_zero_shot_on_the_tiny_model(server, tmp_path):
    client = ApiClient(server.base_url, "tiny-llama", cache_dir=tmp_path, concurrency=2)
    clf = ApiZeroShot(["pos", "neg"], {"pos": "a happy review"}, client)
    texts = ["the movie was great", "the film was awful", "a boring plot"]
    proba = clf.predict_proba(texts)
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(texts)) <= {"pos", "neg"} and 0 <= clf.n_unparsed_ <= 3
    assert client.stats.cache_hits == 3  # predict asked the same questions again: all from the cache


def test_prompt_lists_labels_and_descriptions():
    user = build_messages("some text", ["a", "b"], {"b": "the second"})[1]["content"]
    assert "- a\n- b: the second" in user and "Text: some text" in user


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"labels": ["a"]}, "at least two distinct"), ({"labels": ["a", "A."]}, "at least two distinct"),
    ({"labels": ["a", "b"], "descriptions": {"c": "x"}}, "not in the label list"),
    ({"labels": ["a", "b"], "descriptions": ["x"]}, "do not line up"),
    ({"labels": ["a", "b"], "fallback": "c"}, "fallback label is not one of"),
])
def test_api_zero_shot_setting_errors(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        ApiZeroShot(**kwargs, client=ApiClient("http://127.0.0.1:9/v1", "m", cache=False)).fit()


def test_cli_zero_shot_api(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("text,label\ngreat film,positive\ndull film,negative\nodd film,negative\n")
    runner = CliRunner()
    with BackgroundServer(_fixed_answer_app(ANSWERS)) as srv:
        args = ["zero-shot-api", str(data), "--labels", "negative,positive", "--base-url", srv.base_url,
                "--model", "fixed", "--cache-dir", str(tmp_path / "cache")]
        result = runner.invoke(cli_app, args)
        assert result.exit_code == 0, result.output
        assert "accuracy 1.000" in result.output and "macro-F1 1.000" in result.output
        assert "1 of 3 answers named no label" in result.output
        bad = runner.invoke(cli_app, [*args[:3], "negative,neutral", *args[4:]])
    assert bad.exit_code == 1 and "not among --labels" in bad.output


def test_cli_serve_reports_a_bad_model(tmp_path):
    result = CliRunner().invoke(cli_app, ["serve", str(tmp_path)])
    assert result.exit_code == 1 and "cannot load" in result.output


@pytest.mark.slow
def test_smollm2_served_and_classifying_sentiment(tmp_path):
    model = load_chat_model("smollm2")
    with BackgroundServer(create_app(model)) as srv:
        assert httpx.get(srv.base_url + "/models").json()["data"][0]["id"] == "smollm2"
        clf = ApiZeroShot(["positive", "negative"], client=ApiClient(srv.base_url, "smollm2", cache_dir=tmp_path))
        texts = ["I loved this movie, it was wonderful!", "This was terrible, I hated every minute.",
                 "What a fantastic, delightful experience."]
        assert list(clf.predict(texts)) == ["positive", "negative", "positive"]
        assert clf.n_unparsed_ == 0


# -- limits: what a client cannot make the server do (issue: trust, defect 9) ------------------------------

def test_abusive_requests_get_4xx_in_the_openai_format(chat_model):
    from headstart.serving.openai_server import Limits

    with BackgroundServer(create_app(chat_model, limits=Limits(max_body_bytes=4096))) as srv:
        url = srv.base_url + "/chat/completions"
        cases = {
            "seed above 2**63": dict(json={"model": "tiny-llama", "messages": HELLO, "seed": 2**64}),
            "negative seed": dict(json={"model": "tiny-llama", "messages": HELLO, "seed": -1}),
            "huge max_tokens type": dict(json={"model": "tiny-llama", "messages": HELLO, "max_tokens": "many"}),
            "not json": dict(content=b"{nope", headers={"content-type": "application/json"}),
            "path-like model": dict(json={"model": "../../etc/passwd", "messages": HELLO}),
            "oversize body": dict(json={"model": "tiny-llama", "messages": [{"role": "user", "content": "x" * 10_000}]}),
        }
        for name, kwargs in cases.items():
            r = httpx.post(url, timeout=30, **kwargs)
            assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
            error = r.json()["error"]
            assert error["message"] and "type" in error, name
        oversize = httpx.post(url, timeout=30, **cases["oversize body"])
        assert oversize.status_code == 413 and "4,096 bytes" in oversize.json()["error"]["message"]

        def chunks():  # no content-length: the limit counts what arrives
            for _ in range(10):
                yield b"x" * 1000

        streamed = httpx.post(url, content=chunks(), headers={"content-type": "application/json"}, timeout=30)
        assert streamed.status_code == 413
        assert _post(srv, messages=HELLO, max_tokens=2).status_code == 200  # and it still serves


def test_a_full_queue_is_told_to_retry_and_a_generation_is_time_bounded(chat_model):
    import threading
    import time as clock

    from headstart.serving.openai_server import Limits

    app = create_app(chat_model, limits=Limits(max_waiting=0, timeout_s=0.5))
    with BackgroundServer(app) as srv:
        chat_model.lock.acquire()  # the model is busy: one request gets in line, the next is refused
        try:
            first: dict = {}
            waiter = threading.Thread(target=lambda: first.update(r=_post(srv, messages=HELLO, max_tokens=2)))
            waiter.start()
            deadline = clock.monotonic() + 10
            while app.state.busy["n"] < 1 and clock.monotonic() < deadline:
                clock.sleep(0.02)
            refused = _post(srv, messages=HELLO, max_tokens=2)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "server_busy"
        finally:
            chat_model.lock.release()
        waiter.join(30)
        assert first["r"].status_code == 200
        t0 = clock.monotonic()
        long = _post(srv, messages=HELLO, max_tokens=100_000, temperature=1.0, seed=1)
        assert long.status_code in (200, 400), long.text  # 400: over the context; 200: cut by the time limit
        assert clock.monotonic() - t0 < 20


def test_unexpected_errors_are_500_in_the_openai_format(chat_model, monkeypatch):
    with BackgroundServer(create_app(chat_model)) as srv:
        monkeypatch.setattr(chat_model, "complete", lambda *a, **k: 1 / 0)
        r = _post(srv, messages=HELLO, max_tokens=2)
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        assert "ZeroDivisionError" in r.json()["error"]["message"]


def test_serve_reads_the_key_from_a_file_and_refuses_a_missing_one(tmp_path):
    from typer.testing import CliRunner

    from headstart.cli import app

    result = CliRunner().invoke(app, ["serve", "smollm2", "--api-key-file", str(tmp_path / "none.txt")])
    assert result.exit_code == 1 and "cannot read an API key" in result.output and "Traceback" not in result.output
    bad = CliRunner().invoke(app, ["serve", "smollm2", "--max-waiting", "-1"])
    assert bad.exit_code == 1 and "invalid server limits" in bad.output
