"""The generative model the training loop sees: a causal LM (GPT-2, Llama-style) or a T5-style
encoder-decoder, shaped like `TransformerClassifier` so that `training.fit`, the layer groups and every
strategy of the registry work on it unchanged.

    backbone   the whole Hugging Face *ForCausalLM / *ForConditionalGeneration model (strategies attach
               peft to it, with the task type that makes `generate` handle prompts and prefixes)
    anatomy    the family's row with its paths rebased onto that model (`model.layers`, `transformer.h`);
               T5 adds its decoder blocks above the encoder's
    head       the model's own (pretrained) LM head, usually tied to the input embeddings

The forward runs the model with its LM head swapped for the identity, so it returns the last hidden
states (whatever peft prepends or prefixes), and projects only the selected positions, the response
tokens, onto the vocabulary: with a 49k vocabulary the projection of every prompt token would cost more
than the blocks themselves. (transformers' `logits_to_keep` keeps one slice of positions for the whole
batch, not a mask per row.)
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
from torch import nn

from headstart.backbones import Anatomy, get_module
from headstart.modeling import LayerGroup, TransformerClassifier

__all__ = ["GenerativeLM", "generative_anatomy", "load_lm"]


def load_lm(source: str, family_kind: str):
    """The pretrained LM in float32 (causal LM, or seq2seq for an encoder-decoder)."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    cls = AutoModelForSeq2SeqLM if family_kind == "encoder-decoder" else AutoModelForCausalLM
    return cls.from_pretrained(source, dtype=torch.float32)


def generative_anatomy(anatomy: Anatomy, lm: nn.Module) -> Anatomy:
    """The anatomy row with paths relative to the whole LM instead of the bare backbone."""
    if anatomy.kind == "encoder-decoder":  # T5's seq2seq model holds `shared` and `encoder` at the top too
        return anatomy
    prefix = lm.base_model_prefix + "."
    return dataclasses.replace(anatomy, embeddings=tuple(prefix + p for p in anatomy.embeddings),
                               blocks=prefix + anatomy.blocks, final=tuple(prefix + p for p in anatomy.final),
                               prefix_substitutes={})


class GenerativeLM(TransformerClassifier):
    """An LM for instruction tuning. `forward(...)` returns vocabulary logits of the `select`ed positions,
    (n_selected, vocab), or of every position when `select` is None (batch, seq, vocab)."""

    def __init__(self, lm: nn.Module, anatomy: Anatomy) -> None:
        anatomy = generative_anatomy(anatomy, lm)
        super().__init__(lm, anatomy, lm.config.vocab_size, dropout=0.0, per_token=True)
        self.head = lm.get_output_embeddings()  # pretrained; the fresh head of the base class is dropped
        self.seq2seq = anatomy.kind == "encoder-decoder"
        object.__setattr__(self, "peft_task_type", "SEQ_2_SEQ_LM" if self.seq2seq else "CAUSAL_LM")

    @property
    def lm(self) -> nn.Module:
        return self.backbone

    @property
    def n_outputs(self) -> int:
        return self._n_outputs

    @property
    def head_tied(self) -> bool:
        """Whether the LM head shares its weight with the input embeddings (GPT-2, SmolLM2, T5 v1.0)."""
        return self.head.weight is self.lm.get_input_embeddings().weight

    def _stacks(self) -> list[tuple[nn.ModuleList, tuple[str, ...]]]:
        stacks = [(get_module(self.lm, self.anatomy.blocks), self.anatomy.final[:1] if self.seq2seq
                   else self.anatomy.final)]
        if self.seq2seq:
            stacks.append((get_module(self.lm, self.anatomy.decoder_blocks), ("decoder.final_layer_norm",)))
        return stacks

    @property
    def n_blocks(self) -> int:
        return sum(len(blocks) for blocks, _ in self._stacks())

    def layer_groups(self) -> list[LayerGroup]:
        """prompt?, embeddings, block_0 .. (T5: the encoder's blocks, then the decoder's), head."""
        groups = [LayerGroup("prompt", [self.prompt_encoder])] if self.prompt_learning else []
        groups.append(LayerGroup("embeddings", [get_module(self.lm, p) for p in self.anatomy.embeddings]))
        n = 0
        for blocks, final in self._stacks():
            for i, block in enumerate(blocks):
                last = i == len(blocks) - 1
                modules = [block, *([get_module(self.lm, p) for p in final] if last else [])]
                groups.append(LayerGroup(f"block_{n}", modules))
                n += 1
        groups.append(LayerGroup("head", [self.head]))
        return groups

    @contextlib.contextmanager
    def _hidden_out(self):
        """The LM returns its last hidden states (the input of its head) in place of logits."""
        head = self.lm.get_output_embeddings()
        self.lm.set_output_embeddings(nn.Identity())
        try:
            yield
        finally:
            self.lm.set_output_embeddings(head)

    def hidden(self, input_ids, attention_mask, decoder_input_ids=None, decoder_attention_mask=None):
        """(batch, seq, hidden) states the head reads: of the input (decoder) or of the decoder input (T5)."""
        runner = self.peft if self.prompt_learning else self.lm
        extra = ({"decoder_input_ids": decoder_input_ids, "decoder_attention_mask": decoder_attention_mask}
                 if self.seq2seq else {})
        if not self.prompt_learning:  # prefix tuning passes its prefix as the cache
            extra["use_cache"] = False
        with self._hidden_out():
            out = runner(input_ids=input_ids, attention_mask=attention_mask, **extra).logits
        if not self.seq2seq:
            out = out[:, -input_ids.size(1):]  # prompt tuning prepends virtual tokens
        return out

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                select=None, prefix_depth: int = 0, **_) -> torch.Tensor:
        """Vocabulary logits; `select` (bool, shaped like the output positions) limits the projection to
        the positions that have a label. `prefix_depth` is accepted for the loop and must be 0 (no cache)."""
        if prefix_depth:
            raise ValueError("generative models take no frozen-prefix cache")
        hidden = self.hidden(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask)
        if select is not None:
            hidden = hidden[select]
        return self.head(hidden)

    def generator(self):
        """What to call `.generate` on: the peft wrapper (it adds the soft prompt / prefix) or the LM."""
        return self.peft if self.peft is not None else self.lm
