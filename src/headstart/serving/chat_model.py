"""A causal language model behind one small chat interface: `chat`, `complete` and `stream`.

`load_chat_model(source)` accepts a backbone name (`smollm2`), a local Hugging Face model folder, a PEFT
adapter folder (its `adapter_config.json` names the base), or a run folder holding either under `model/`.
The OpenAI-compatible server (`serving/openai_server.py`) and anything else that needs answers from a local
decoder go through the returned `ChatModel`.

Generation is transformers' `generate`; written here is only what it lacks for a chat server: OpenAI stop
sequences cut *out* of the answer (transformers keeps them), a stream whose pieces join to exactly the
non-streamed answer, cancellation when the client goes away, and one lock so one model serves one request at
a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from headstart.errors import BackboneError, ConfigError, HeadstartError
from headstart.serving.stopping import QueueStreamer, StopCriteria, cut_at_stop, held_back

__all__ = ["Sampling", "Completion", "ChatModel", "ChatStream", "PromptTooLongError", "load_chat_model",
           "format_messages", "DEFAULT_MAX_TOKENS"]

DEFAULT_MAX_TOKENS = 256  # when a request names no max_tokens; the model's context length caps it further
FALLBACK_TEMPLATE = "role: content"  # one "role: content" line per message, then "assistant:"


class PromptTooLongError(HeadstartError):
    """The prompt leaves no room for an answer in the model's context window."""


@dataclass(frozen=True)
class Sampling:
    """How to pick the next tokens, with the OpenAI chat API's names and defaults.

    Args:
        temperature: 0 means greedy decoding; above 0 samples with that temperature (0 < t <= 2).
        top_p: nucleus sampling mass (0 < p <= 1); used only when sampling.
        max_tokens: most tokens to generate; None means `DEFAULT_MAX_TOKENS`.
        stop: up to 4 strings; the answer ends before the first one generated (which is not returned).
        seed: seeds the sampler so a request can be repeated exactly.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 2:
            raise ConfigError("temperature is out of range.", expected="0 <= temperature <= 2",
                              found=repr(self.temperature), fix="use 0 for greedy decoding, about 0.7-1 to sample")
        if not 0 < self.top_p <= 1:
            raise ConfigError("top_p is out of range.", expected="0 < top_p <= 1", found=repr(self.top_p))
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ConfigError("max_tokens must be at least 1.", expected="an integer >= 1",
                              found=repr(self.max_tokens))
        if len(self.stop) > 4 or any(not isinstance(s, str) or not s for s in self.stop):
            raise ConfigError("stop takes up to 4 non-empty strings.", expected="at most 4 non-empty strings",
                              found=repr(self.stop))

    @classmethod
    def of(cls, stop: str | Sequence[str] | None = None, **options) -> Sampling:
        """Build from keyword options, accepting `stop` as one string or a list, and None for defaults."""
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return cls(stop=stops, **{k: v for k, v in options.items() if v is not None})


@dataclass
class Completion:
    """One answer: its text, why it ended ("stop": end of turn or a stop string; "length": max_tokens),
    and the token counts the OpenAI `usage` field reports."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def format_messages(tokenizer, messages: list[dict]) -> tuple[str, bool]:
    """The prompt text for `messages`, and whether it came from the tokenizer's chat template.

    With a chat template, its own rendering with the assistant turn opened. Without one, the plain
    fallback: one "role: content" line per message, then "assistant:" for the answer to follow.
    """
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), True
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant:"]), False


def _check_messages(messages: list[dict]) -> list[dict]:
    if not messages:
        raise ConfigError("no messages to answer.", expected="a list of {'role', 'content'} messages",
                          found="an empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ConfigError(f"message {i} is not a chat message.",
                              expected="{'role': 'user', 'content': 'some text'}", found=repr(m)[:200])
    return [{"role": m["role"], "content": m["content"]} for m in messages]


@dataclass
class ChatModel:
    """A loaded causal LM and its tokenizer, answering chat messages one request at a time.

    Example:
        >>> model = load_chat_model("smollm2")  # doctest: +SKIP
        >>> model.chat([{"role": "user", "content": "Say hi"}], temperature=0, max_tokens=8)  # doctest: +SKIP
    """

    model: object  # transformers.PreTrainedModel (causal LM)
    tokenizer: object
    name: str
    source: str
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    max_seconds: float | None = None  # a generation's wall time at most (the server's Limits.timeout_s)

    @property
    def context_length(self) -> int | None:
        cfg = self.model.config
        return getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        """Token ids of the prompt for `messages` (chat template, or the plain fallback)."""
        text, templated = format_messages(self.tokenizer, _check_messages(messages))
        # a chat template writes its own special tokens; the plain fallback takes the tokenizer's usual ones
        return self.tokenizer(text, add_special_tokens=not templated)["input_ids"]

    def chat(self, messages: list[dict], **sampling) -> str:
        """The answer's text. `sampling`: temperature, top_p, max_tokens, stop, seed (see `Sampling`)."""
        return self.complete(messages, **sampling).text

    def complete(self, messages: list[dict], **sampling) -> Completion:
        """The answer with its finish reason and token counts."""
        prompt, options, budget = self._prepare(messages, sampling)
        generated, hit = self._generate(prompt, options, budget)
        return self._completion(prompt, generated, hit, options, budget)

    def stream(self, messages: list[dict], **sampling) -> ChatStream:
        """An iterator of text pieces that join to exactly what `complete` returns for the same request.

        The request is checked now (errors raise here); generation starts on the first `next()`.
        """
        prompt, options, budget = self._prepare(messages, sampling)
        return ChatStream(self, prompt, options, budget)

    # -- internals -------------------------------------------------------------------------------------

    def _prepare(self, messages: list[dict], sampling: dict) -> tuple[list[int], Sampling, int]:
        options = sampling if isinstance(sampling, Sampling) else Sampling.of(**sampling)
        prompt = self.prompt_ids(messages)
        budget = options.max_tokens or DEFAULT_MAX_TOKENS
        limit = self.context_length
        if limit is not None:
            if len(prompt) >= limit:
                raise PromptTooLongError(
                    "the prompt is longer than the model's context window.",
                    expected=f"fewer than {limit} prompt tokens", found=f"{len(prompt)} tokens",
                    fix="shorten the messages")
            budget = min(budget, limit - len(prompt))
        return prompt, options, budget

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _generate(self, prompt: list[int], options: Sampling, budget: int, streamer=None,
                  cancel: threading.Event | None = None) -> tuple[list[int], bool]:
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        tok, gen_defaults = self.tokenizer, self.model.generation_config
        eos = gen_defaults.eos_token_id if gen_defaults.eos_token_id is not None else tok.eos_token_id
        sample = options.temperature > 0
        # a fresh config: a checkpoint's own sampling defaults must not change what a request asked for
        config = GenerationConfig(max_new_tokens=budget, do_sample=sample, eos_token_id=eos, max_time=self.max_seconds,
                                  pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else eos,
                                  **({"temperature": options.temperature, "top_p": options.top_p} if sample else {}))
        criteria = StopCriteria(self._decode, len(prompt), options.stop, cancel)
        ids = torch.tensor([prompt], device=self.model.device)
        with self.lock, torch.inference_mode():
            if options.seed is not None:
                torch.manual_seed(options.seed)  # under the lock: no other request draws from the generator
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config,
                                      stopping_criteria=StoppingCriteriaList([criteria]), streamer=streamer)
        return out[0, len(prompt):].tolist(), criteria.hit

    def _completion(self, prompt: list[int], generated: list[int], hit: bool, options: Sampling,
                    budget: int) -> Completion:
        text, cut = cut_at_stop(self._decode(generated), options.stop)
        ended = hit or cut or (bool(generated) and generated[-1] in self._eos_ids()) or len(generated) < budget
        return Completion(text, "stop" if ended else "length", len(prompt), len(generated))

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        eos = eos if eos is not None else self.tokenizer.eos_token_id
        return set(eos) if isinstance(eos, list) else ({eos} if eos is not None else set())


class ChatStream:
    """Text pieces of one answer as they are generated; `.completion` is set once the stream is exhausted.

    Generation runs in a worker thread (holding the model's lock); this side decodes the tokens so far and
    yields only text that cannot change any more: text that might begin a stop string, or ends in an
    incomplete character, is held back until the next token decides it. Closing the stream early cancels
    the generation.
    """

    def __init__(self, chat_model: ChatModel, prompt: list[int], options: Sampling, budget: int) -> None:
        self._model, self._prompt, self._options, self._budget = chat_model, prompt, options, budget
        self._cancel = threading.Event()
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        streamer, result = QueueStreamer(), {}

        def work() -> None:
            try:
                result["out"] = self._model._generate(self._prompt, self._options, self._budget, streamer,
                                                      self._cancel)
            except BaseException as exc:  # handed to the consumer, raised there
                result["error"] = exc
                streamer.end()

        worker = threading.Thread(target=work, daemon=True, name="headstart-generate")
        worker.start()
        generated: list[int] = []
        emitted, finished = "", False
        try:
            while (token := streamer.queue.get()) is not None:
                generated.append(token)
                piece = self._safe_text(generated)
                if piece.startswith(emitted) and len(piece) > len(emitted):
                    yield piece[len(emitted):]
                    emitted = piece
            finished = True
        finally:
            if not finished:  # the consumer stopped early: stop generating for nobody
                self._cancel.set()
            worker.join()
            if not finished and "out" in result:  # what was generated before the cancel took effect
                self.completion = self._model._completion(self._prompt, *result["out"], self._options,
                                                          self._budget)
        if "error" in result:
            raise result["error"]
        ids, hit = result["out"]
        self.completion = self._model._completion(self._prompt, ids, hit, self._options, self._budget)
        if self.completion.text.startswith(emitted) and len(self.completion.text) > len(emitted):
            yield self.completion.text[len(emitted):]

    def close(self) -> None:
        """Stop generating (the client went away)."""
        self._cancel.set()

    def _safe_text(self, generated: list[int]) -> str:
        text, hit = cut_at_stop(self._model._decode(generated), self._options.stop)
        if not hit:
            text = text[: len(text) - held_back(text, self._options.stop)]
        return text.rstrip("\ufffd")  # half of a multi-byte character: wait for the rest


# -- loading -----------------------------------------------------------------------------------------------

def _model_folder(source: str) -> str:
    """Where the weights are: the source itself, or the `model/` folder of a run folder holding one."""
    path = Path(source).expanduser()
    if path.is_dir() and not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        inner = path / "model"
        if (inner / "config.json").exists() or (inner / "adapter_config.json").exists():
            return str(inner)
    return source


def load_chat_model(source: str | Path, *, name: str | None = None) -> ChatModel:
    """Load a causal LM to chat with.

    Args:
        source: a backbone name (e.g. "smollm2", resolved by `headstart.backbones.registry.resolve`), a local
            model folder, a PEFT adapter folder (its `adapter_config.json` names the base model, which is
            resolved the same way and the adapter merged into it), or a run folder with one of those in
            `model/`.
        name: the model id the server reports; default: the backbone's name or the folder's name.

    Returns:
        A ChatModel in eval mode.

    Raises:
        BackboneError: nothing loadable at `source`, or a model that is not a causal (decoder) LM.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from headstart.backbones.registry import resolve

    trained = _generation_run(Path(str(source)).expanduser())
    if trained is not None:
        return _from_generator(trained, source, name)
    display, resolved = resolve(str(source))
    where = _model_folder(resolved)
    adapter = Path(where) / "adapter_config.json"
    base = _adapter_base(adapter) if adapter.exists() else where
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise _load_error(str(source), base, exc) from None
    if adapter.exists():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, where).merge_and_unload()  # merged: plain generate speed
    tokenizer_from = where if (Path(where) / "tokenizer_config.json").exists() else base
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model.eval()
    if display != resolved:  # a registered name such as "smollm2"
        default_name = display
    elif Path(resolved).exists():  # a folder: its own name
        default_name = Path(resolved).resolve().name
    else:  # a hub id, whole
        default_name = resolved
    return ChatModel(model=model, tokenizer=tokenizer, name=name or default_name, source=str(source))


def _generation_run(path: Path) -> Path | None:
    """The model folder of a headstart instruction-tuning run (or of `HeadstartGenerator.save`), if `path`
    is one: its `headstart.json` says task "generation"."""
    import json

    for folder in (path, path / "model"):
        meta = folder / "headstart.json"
        if meta.is_file() and json.loads(meta.read_text()).get("task") == "generation":
            return folder
    return None


def _from_generator(folder: Path, source: str | Path, name: str | None) -> ChatModel:
    """Serve a trained generator as it was trained: LoRA / IA3 / prompt / prefix through its peft wrapper
    (soft prompts and prefixes cannot be merged into the weights), full / top-n as the saved LM."""
    from headstart.tasks.generation.estimator import HeadstartGenerator

    gen = HeadstartGenerator.load(folder)
    if gen.model_.seq2seq:
        raise BackboneError(f"{source} is an encoder-decoder (T5-style) run.",
                            expected="a causal (decoder) LM: the chat API continues a prompt",
                            found="a sequence-to-sequence model", fix="use `headstart generate` for T5 runs")
    run = folder.parent if folder.name == "model" else folder
    return ChatModel(model=gen.model_.generator(), tokenizer=gen.tokenizer_, name=name or run.resolve().name,
                     source=str(source))


def _adapter_base(adapter: Path) -> str:
    import json

    from headstart.backbones.registry import resolve

    base = json.loads(adapter.read_text()).get("base_model_name_or_path")
    if not base:
        raise BackboneError("the adapter does not name its base model.", file=adapter,
                            expected="adapter_config.json with base_model_name_or_path",
                            found="no base_model_name_or_path", fix="add the base model's name or folder to it")
    return _model_folder(resolve(base)[1])


def _load_error(source: str, where: str, exc: Exception) -> BackboneError:
    local = Path(where).exists()
    if local and (Path(where) / "config.json").exists():
        found = f"a model that is not a causal language model ({exc.__class__.__name__}: {str(exc)[:160]})"
        fix = "serve a decoder such as smollm2, GPT-2 or a Llama-style model"
    elif local:
        found = "a folder without config.json or adapter_config.json"
        fix = "point at the folder save_pretrained wrote, or at a run folder holding model/"
    else:
        found = "no such folder, and no such model on the hub (or the hub is offline)"
        fix = "run `headstart models` for the offline models, or check the path"
    return BackboneError(f"cannot load {source!r} as a chat model.", expected="a causal LM folder, a PEFT "
                         "adapter folder, or a backbone name", found=found, fix=fix)
