"""`HeadstartGenerator`: instruction tuning of decoders (GPT-2, Llama-style, the packaged SmolLM2) and
T5-style encoder-decoders, and text generation.

    gen = HeadstartGenerator(backbone="smollm2", strategy="lora").fit("self_instruct/train.jsonl")
    gen.evaluate("self_instruct/test.jsonl")       # {"loss", "perplexity", "rougeL", "n", "samples"}
    gen.generate("Name three primary colours.", max_new_tokens=40, stream=print)
    gen.save("models/smol-instruct"); HeadstartGenerator.load("models/smol-instruct")

Training is headstart's one loop (`training.fit`) with the `InstructionLM` objective (loss on the
response tokens only, early stopping on the held-out loss) and the strategies of the registry: lora,
ia3, prompt, prefix (peft, saved in the PEFT layout), full and top-n (saved as a Hugging Face model
folder). The pretrained LM head is kept as it is (it is tied to the input embeddings in GPT-2, SmolLM2
and T5): it trains only with `full --train-embeddings`, or under full / top-n when it is not tied.
Prompt formatting, label masking, truncation and packing: `headstart.tasks.generation.format`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from headstart.backbones import anatomy_for, resolve
from headstart.config import TrainConfig
from headstart.errors import ConfigError, HeadstartError, reading_saved
from headstart.strategies import saved_strategy
from headstart.tasks.base import TaskEstimator
from headstart.tasks.generation.format import PromptFormat, encode_examples, eos_id, pack
from headstart.tasks.generation.model import GenerativeLM, load_lm
from headstart.tasks.generation.objective import InstructionLM
from headstart.tasks.generation.options import GENERATION_STRATEGIES
from headstart.tasks.generation.options import OPTIONS as TASK_OPTIONS
from headstart.tasks.generation.reader import (
    Instruction,
    InstructionSet,
    instructions_from_records,
    read_instructions,
)
from headstart.training import Examples, fit
from headstart.training.groups import trains

__all__ = ["HeadstartGenerator", "GENERATION_STRATEGIES", "as_instructions", "rouge_l"]

FORMAT = "headstart-generation/1"


def as_instructions(data) -> InstructionSet:
    """An InstructionSet from a JSONL path, an InstructionSet, or a list of row dicts."""
    if isinstance(data, InstructionSet):
        return data
    if isinstance(data, str | Path):
        return read_instructions(data)
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas DataFrame
        data = data.to_dict("records")
    return instructions_from_records(list(data))


def rouge_l(predictions: list[str], references: list[str]) -> float:
    """Mean ROUGE-L F-measure (rouge-score, Porter stemming) of predictions against references."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    scores = [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references, strict=True)]
    return float(np.mean(scores)) if scores else 0.0


class HeadstartGenerator(TaskEstimator):
    """Instruction-tune a decoder or an encoder-decoder; generate text.

    Takes `backbone` (default the packaged "smollm2"), `strategy` (one of GENERATION_STRATEGIES; default
    lora), the strategies' and training options (TrainConfig; None takes the strategy's default; batches
    of 8 and 256 tokens by default here), packing, chat_template, dev_fraction and progress.
    """

    task = "generation"
    task_options = TASK_OPTIONS
    strategies = GENERATION_STRATEGIES
    default_backbone = "smollm2"
    default_strategy = "lora"
    default_overrides = {"batch_size": 8, "max_length": 256, "patience": 1}

    # ---- building ------------------------------------------------------------------------------------
    def build(self) -> HeadstartGenerator:
        """Load the backbone and attach the strategy's modules (untrained); `fit` calls it."""
        strategy, cfg = self._strategy_and_config(warm_start=False, prefix_cache=False, dropout=0.0)
        cfg = cfg.with_defaults(strategy.defaults)
        self._load_backbone(self.backbone)
        torch.manual_seed(cfg.seed)  # adapter initialisation
        strategy.prepare(self.model_)
        self.strategy_, self.train_config_ = strategy, cfg
        self.format_ = PromptFormat(chat_template=self.chat_template and
                                    PromptFormat.for_tokenizer(self.tokenizer_, seq2seq=self.model_.seq2seq).chat_template)
        return self

    def _load_backbone(self, name: str, weights: str | None = None) -> None:
        from transformers import AutoConfig, AutoTokenizer

        display, source = resolve(name)
        try:
            config = AutoConfig.from_pretrained(weights or source)
        except (OSError, ValueError):
            raise HeadstartError(f"cannot load backbone {name!r}.", expected="a registered name (smollm2), a "
                                 "local model folder with config.json, or a Hugging Face model id",
                                 found="no usable config.json there", fix="run `headstart models`") from None
        anatomy = anatomy_for(config.model_type)
        if anatomy.kind == "encoder":
            raise ConfigError(f"{display!r} is an encoder ({config.model_type}); it cannot generate text.",
                              expected="a decoder (GPT-2, Llama, SmolLM2 ...) or an encoder-decoder (T5)",
                              found=config.model_type, fix="pass --backbone smollm2")
        lm = load_lm(weights or source, anatomy.kind)
        tokenizer = AutoTokenizer.from_pretrained(weights or source)
        if tokenizer.pad_token is None:  # decoders ship without one; padding is masked out
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        self.model_ = GenerativeLM(lm, anatomy).eval()
        self.tokenizer_ = tokenizer
        self.backbone_name_, self.backbone_source_ = display, source
        self.eos_id_ = eos_id(tokenizer, lm.config)

    # ---- fitting -------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None) -> HeadstartGenerator:
        """Fit on a JSONL path, an InstructionSet or a list of rows ({"instruction", "input", "output"} or
        {"messages"}); `dev` in the same forms, else a random `dev_fraction` of X is held out."""
        return self.fit_task(as_instructions(X), None if dev is None else as_instructions(dev))

    def fit_task(self, train: InstructionSet, dev: InstructionSet | None = None, *,
                 checkpoint: str | Path | None = None, resume: bool = False, built: bool = False,
                 stop_after: int | None = None) -> HeadstartGenerator:
        """Train on loaded instruction sets (what the run folder does); `built`: `build()` was called."""
        if not built:
            self.build()
        if dev is None:
            train, dev = _split_dev(train, self.dev_fraction, self.seed)
        model, strategy, cfg = self.model_, self.strategy_, self.train_config_
        names = [g.name for g in model.layer_groups()]
        trainable = self._trainable(names)
        objective = InstructionLM(seq2seq=model.seq2seq, decoder_start_id=self._decoder_start())
        t0 = time.perf_counter()
        self.fit_result_ = fit(model, self.examples(train, packing=self.packing), self.examples(dev), trainable=trainable,
                               keep=strategy.keep, cfg=cfg, pad_id=self.tokenizer_.pad_token_id, objective=objective,
                               checkpoint=checkpoint, resume=resume, progress=self.progress, stop_after=stop_after)
        self.fit_seconds_ = time.perf_counter() - t0
        trained = {id(p): p for g in model.layer_groups() if g.name in trainable
                   for n, p in g.named_parameters() if trains(g.name, n, strategy.keep)}
        self.trainable_params_ = sum(p.numel() for p in trained.values())
        self.total_params_ = sum(p.numel() for p in model.parameters())
        self.n_train_ = len(train)
        return self

    def _trainable(self, names: list[str]) -> list[str]:
        """The strategy's groups, without the pretrained LM head unless it may change (see the module doc)."""
        groups = self.strategy_.trainable_groups(names)
        head_trains = self.strategy_.adapter is None and ("embeddings" in groups or not self.model_.head_tied)
        return [g for g in groups if g != "head" or head_trains]

    def _decoder_start(self) -> int:
        start = getattr(self.model_.lm.config, "decoder_start_token_id", None)
        return int(start if start is not None else self.tokenizer_.pad_token_id)

    def examples(self, data: InstructionSet, *, packing: bool = False) -> Examples:
        """Token ids and labels of `data` in the loop's form (see generation.format)."""
        inputs, labels = encode_examples(self.tokenizer_, data.examples, self.format_, eos=self.eos_id_,
                                         max_length=self.train_config_.max_length, seq2seq=self.model_.seq2seq)
        if packing and not self.model_.seq2seq:
            inputs, labels = pack(inputs, labels, self.train_config_.max_length)
        return Examples(inputs, labels)

    # ---- evaluation ----------------------------------------------------------------------------------
    def loss(self, data) -> dict:
        """Held-out loss per response token and its perplexity."""
        self._check_ready()
        objective = InstructionLM(seq2seq=self.model_.seq2seq, decoder_start_id=self._decoder_start())
        row = objective.evaluate(self.model_, self.examples(as_instructions(data)), pad_id=self.tokenizer_.pad_token_id,
                                 depth=0)
        return {"loss": row["dev_loss"], "perplexity": row["dev_perplexity"], "tokens": row["dev_tokens"]}

    def evaluate(self, data, *, max_new_tokens: int = 64, limit: int | None = None, samples: int = 5) -> dict:
        """Held-out loss / perplexity, and ROUGE-L (F) of greedy generations against the reference outputs.

        Args:
            limit: score ROUGE-L on the first `limit` examples only (generation is the slow part); the loss
                always covers all of them.
            samples: how many (prompt, output, reference) rows to return for a report.
        """
        data = as_instructions(data)
        scores = self.loss(data)
        subset = data.examples[:limit] if limit else data.examples
        outputs = self.generate_batch(subset, max_new_tokens=max_new_tokens)
        refs = [ex.output for ex in subset]
        return {**scores, "rougeL": rouge_l(outputs, refs), "n": len(data), "n_generated": len(subset),
                "max_new_tokens": max_new_tokens,
                "samples": [{"prompt": _show(ex), "output": out, "reference": ex.output}
                            for ex, out in zip(subset[:samples], outputs, strict=False)]}

    def score(self, X, y=None) -> float:
        """Negative held-out loss (greater is better, as scikit-learn expects)."""
        return -self.loss(X)["loss"]

    # ---- generation ----------------------------------------------------------------------------------
    def _prompt_ids(self, prompt) -> list[int]:
        if isinstance(prompt, str):
            prompt = Instruction(({"role": "user", "content": prompt},), "", prompt, "")
        elif isinstance(prompt, list):  # chat messages
            prompt = Instruction(tuple(prompt), "")
        return self.format_.prompt_ids(self.tokenizer_, prompt, seq2seq=self.model_.seq2seq)

    @torch.no_grad()
    def generate(self, prompt: str | list[dict] | Instruction, *, max_new_tokens: int = 128,
                 temperature: float = 0.7, top_p: float = 0.9, top_k: int = 50, do_sample: bool = True,
                 seed: int | None = None, stream: Callable[[str], None] | None = None) -> str:
        """The model's answer to `prompt` (an instruction, chat messages, or an Instruction).

        Args:
            do_sample: sample with temperature / top-p / top-k; False: greedy decoding.
            seed: seeds the sampling (the same seed gives the same text).
            stream: called with each new piece of text as it is produced.
        """
        self._check_ready()
        prompt_ids, max_new_tokens = self._fit_context([self._prompt_ids(prompt)], max_new_tokens)
        ids = torch.tensor(prompt_ids, device=self._device())
        streamer = None
        if stream is not None:
            streamer = _CallbackStreamer(self.tokenizer_, stream)
        if seed is not None:
            torch.manual_seed(seed)
        sampling = {"temperature": temperature, "top_p": top_p, "top_k": top_k} if do_sample else {}
        out = self.model_.generator().generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=do_sample,
            streamer=streamer, **sampling, **self._ids_for_generate())
        return self._decode(out[0], ids.size(1))

    @torch.no_grad()
    def generate_batch(self, prompts: list, *, max_new_tokens: int = 64, batch_size: int = 8) -> list[str]:
        """Greedy answers to several prompts (decoders are left-padded so every answer starts at the end)."""
        self._check_ready()
        pad = self.tokenizer_.pad_token_id
        encoded, max_new_tokens = self._fit_context([self._prompt_ids(p) for p in prompts], max_new_tokens)
        outputs: list[str] = []
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start:start + batch_size]
            width = max(len(x) for x in chunk)
            left = not self.model_.seq2seq
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, x in enumerate(chunk):
                cols = slice(width - len(x), width) if left else slice(0, len(x))
                ids[i, cols], mask[i, cols] = torch.as_tensor(x), 1
            out = self.model_.generator().generate(
                input_ids=ids.to(self._device()), attention_mask=mask.to(self._device()),
                max_new_tokens=max_new_tokens, do_sample=False, **self._ids_for_generate())
            outputs += [self._decode(row, width) for row in out]
        return outputs

    def _fit_context(self, prompts: list[list[int]], max_new_tokens: int) -> tuple[list[list[int]], int]:
        """Prompts and a token budget that fit the model's context window: a decoder's prompt and answer share
        it, so an over-long prompt keeps its end (the question nearest the answer) and the answer what is left.
        Encoder-decoders (T5, relative positions) are left as they are."""
        cfg = self.model_.lm.config
        window = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        if self.model_.seq2seq or not window:
            return prompts, max_new_tokens
        max_new_tokens = max(1, min(max_new_tokens, window // 2))
        keep = window - max_new_tokens
        return [p[-keep:] for p in prompts], max_new_tokens

    def _ids_for_generate(self) -> dict:
        return {"pad_token_id": self.tokenizer_.pad_token_id, "eos_token_id": self.eos_id_}

    def _decode(self, row: torch.Tensor, prompt_len: int) -> str:
        new = row if self.model_.seq2seq else row[prompt_len:]  # T5 returns the decoder's tokens only
        return self.tokenizer_.decode(new, skip_special_tokens=True).strip()

    def _device(self) -> torch.device:
        return next(self.model_.parameters()).device

    def _check_ready(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This HeadstartGenerator has no model yet: call fit(...), build() or load(...).")

    # ---- persistence ---------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model folder: adapters in the PEFT layout (the backbone referenced), full / top-n runs
        as a Hugging Face model folder; the tokenizer (chat template included) and headstart.json always."""
        from headstart.persist import atomic_folder

        self._check_ready()
        adapter = self.strategy_.adapter
        with atomic_folder(path) as tmp:
            if adapter:
                self.model_.peft.save_pretrained(str(tmp))
            else:
                self.model_.lm.save_pretrained(tmp)
            self.tokenizer_.save_pretrained(tmp)
            meta = {"format": FORMAT, "task": self.task, "backbone_name": self.backbone_name_,
                    "backbone_source": self.backbone_source_, "adapter": adapter, "backbone_saved": not adapter,
                    "strategy": {**self.strategy_.describe(), "train": self.train_config_.to_dict()},
                    "chat_template": self.format_.chat_template, "eos_id": self.eos_id_,
                    "estimator": {k: v for k, v in self.get_params().items() if k != "progress"}}
            (tmp / "headstart.json").write_text(json.dumps(meta, indent=2))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> HeadstartGenerator:
        """Load a folder written by `save` (or a run folder of `headstart train`)."""
        path = Path(path)
        if (path / "model" / "headstart.json").exists():
            path = path / "model"
        meta_file = path / "headstart.json"
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        if meta.get("task") != cls.task:
            raise HeadstartError(f"{path} holds no generation model.", expected="a folder written by "
                                 "HeadstartGenerator.save or `headstart train` on instruction data",
                                 found=f"task {meta.get('task')!r}" if meta else "no headstart.json",
                                 fix="pass the --out folder of an instruction-tuning run, or a backbone name")
        with reading_saved(path):
            est = cls(**meta["estimator"])
            source = meta["backbone_source"] if Path(meta["backbone_source"]).exists() else meta["backbone_name"]
            est._load_backbone(source, weights=None if meta["adapter"] else str(path))
            if meta["adapter"]:
                from peft import PeftModel

                est.model_.attach_peft(PeftModel.from_pretrained(est.model_.lm, str(path)))
                est.model_.eval()
            from transformers import AutoTokenizer

            est.tokenizer_ = AutoTokenizer.from_pretrained(path)
            if est.tokenizer_.pad_token is None:
                est.tokenizer_.pad_token = est.tokenizer_.eos_token or est.tokenizer_.unk_token
            est.backbone_name_ = meta["backbone_name"]
            est.strategy_ = saved_strategy(meta["strategy"])
            est.train_config_ = TrainConfig.from_dict(meta["strategy"]["train"])
            est.format_ = PromptFormat(chat_template=meta["chat_template"])
            est.eos_id_ = meta["eos_id"]
            return est

    @classmethod
    def pretrained(cls, backbone: str = "smollm2", **options) -> HeadstartGenerator:
        """The untrained backbone, ready to generate (what `headstart generate smollm2 "..."` uses)."""
        return cls(backbone=backbone, strategy="full", **options).build()


class _CallbackStreamer:
    """A transformers TextStreamer that hands each finished piece of text to a callback."""

    def __new__(cls, tokenizer, callback):
        from transformers import TextStreamer

        class Streamer(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    callback(text)

        return Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _show(ex: Instruction) -> str:
    if ex.instruction is not None:
        return ex.instruction + (f"\n{ex.input}" if ex.input else "")
    return "\n".join(f"{m['role']}: {m['content']}" for m in ex.messages)


def _split_dev(data: InstructionSet, fraction: float, seed: int) -> tuple[InstructionSet, InstructionSet]:
    from headstart.data.split import random_holdout

    kept, held = random_holdout(len(data), fraction, seed, what="examples", source=data.source)
    return data.subset(kept), data.subset(held)
