"""Generative models: instruction tuning of decoders and encoder-decoders, and text generation
(the estimator is `headstart.generator.HeadstartGenerator`)."""

from __future__ import annotations

from headstart.generation.format import PromptFormat, encode_decoder, encode_seq2seq, pack, plain_prompt
from headstart.generation.model import GenerativeLM

__all__ = ["GenerativeLM", "PromptFormat", "encode_decoder", "encode_seq2seq", "pack", "plain_prompt"]
