"""From instruction examples to token ids: the prompt template, label masking, truncation and packing.

Prompt: the tokenizer's own chat template when it has one (SmolLM2, most instruct models), so training
sees exactly the format the model was tuned on; otherwise the plain Alpaca-style template

    ### Instruction:
    {instruction}

    ### Input:            (only when the row has an input)
    {input}

    ### Response:
    {output}<eos>

(chat rows without a template: one "### System:" / "### Instruction:" / "### Response:" section per message).

Labels. Decoders: one sequence `prompt + response + EOS`, labels -100 on every prompt token, so the loss
counts the response tokens and the EOS only. Encoder-decoders (T5): the encoder reads the prompt, the
labels are `response + EOS`.

Truncation keeps the response: a decoder example longer than `max_length` first loses prompt tokens from
the *start* (the instruction's end and the response header stay next to the answer); the response is cut
at its end only when it alone would leave the prompt less than half of `max_length`. T5 truncates the
prompt and the response to `max_length` each, at their ends.

Packing (decoders, off by default): consecutive short examples are concatenated, in order, into sequences
of at most `max_length` tokens (first fit). Attention is causal over the whole packed sequence, so an
example can see the examples before it (the "naive packing" of TRL's ConstantLengthDataset); every
example ends in EOS, and the labels stay -100 on every prompt, so the loss is still over the responses
only. Fewer pad tokens per batch; worth it when examples are much shorter than `max_length`.
"""

from __future__ import annotations

from dataclasses import dataclass

from headstart.tasks.generation.reader import Instruction

__all__ = ["PromptFormat", "plain_prompt", "encode_decoder", "encode_seq2seq", "pack", "eos_id"]

_HEADERS = {"system": "### System:", "user": "### Instruction:", "assistant": "### Response:"}


def plain_prompt(example: Instruction) -> str:
    """The plain template's prompt (ends with the response header)."""
    if example.instruction is not None:
        parts = [f"### Instruction:\n{example.instruction}"]
        if example.input:
            parts.append(f"### Input:\n{example.input}")
    else:
        parts = [f"{_HEADERS[m['role']]}\n{m['content']}" for m in example.messages]
    return "\n\n".join([*parts, "### Response:\n"])


def eos_id(tokenizer, config) -> int:
    """The id that ends an answer: the tokenizer's EOS, else the model config's."""
    value = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else config.eos_token_id
    return int(value[0] if isinstance(value, list) else value)


@dataclass
class PromptFormat:
    """How prompts are written for one tokenizer.

    Attributes:
        chat_template: use the tokenizer's chat template (True when it has one and the model is a decoder).
    """

    chat_template: bool

    @classmethod
    def for_tokenizer(cls, tokenizer, *, seq2seq: bool = False) -> PromptFormat:
        return cls(chat_template=bool(getattr(tokenizer, "chat_template", None)) and not seq2seq)

    def prompt(self, tokenizer, example: Instruction) -> str:
        if self.chat_template:
            return tokenizer.apply_chat_template(list(example.messages), add_generation_prompt=True, tokenize=False)
        return plain_prompt(example)

    def prompt_ids(self, tokenizer, example: Instruction, *, seq2seq: bool = False) -> list[int]:
        """Token ids of the prompt. Chat templates write their own special tokens; the plain template gets
        the tokenizer's BOS (decoders) or its usual special tokens (encoder input of T5)."""
        text = self.prompt(tokenizer, example)
        if seq2seq:
            return tokenizer(text, add_special_tokens=True)["input_ids"]
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        bos = tokenizer.bos_token_id
        return ids if self.chat_template or bos is None else [bos, *ids]


def _response_ids(tokenizer, text: str, eos: int) -> list[int]:
    return [*tokenizer(text, add_special_tokens=False)["input_ids"], eos]


def encode_decoder(prompt: list[int], response: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) of one decoder example; labels -100 on the prompt. See the module docstring
    for how an example longer than `max_length` is cut."""
    if len(prompt) + len(response) > max_length:
        keep_response = min(len(response), max(max_length - len(prompt), max_length - max_length // 2))
        response = response[:keep_response]
        prompt = prompt[len(prompt) - (max_length - keep_response):] if max_length > keep_response else []
    return [*prompt, *response], [-100] * len(prompt) + list(response)


def encode_seq2seq(prompt: list[int], response: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """(encoder input ids, labels) of one encoder-decoder example, each at most `max_length` tokens."""
    return prompt[:max_length], response[:max_length]


def encode_examples(tokenizer, examples: list[Instruction], fmt: PromptFormat, *, eos: int, max_length: int,
                    seq2seq: bool) -> tuple[list[list[int]], list[list[int]]]:
    """Input ids and labels of every example (see `encode_decoder` / `encode_seq2seq`)."""
    inputs, labels = [], []
    encode = encode_seq2seq if seq2seq else encode_decoder
    for ex in examples:
        ids, y = encode(fmt.prompt_ids(tokenizer, ex, seq2seq=seq2seq), _response_ids(tokenizer, ex.output, eos),
                        max_length)
        inputs.append(ids)
        labels.append(y)
    return inputs, labels


def pack(inputs: list[list[int]], labels: list[list[int]], max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """Concatenate consecutive decoder examples into sequences of at most `max_length` tokens (an example is
    never split; one already at `max_length` stays alone)."""
    packed_ids: list[list[int]] = []
    packed_labels: list[list[int]] = []
    for ids, y in zip(inputs, labels, strict=True):
        if packed_ids and len(packed_ids[-1]) + len(ids) <= max_length:
            packed_ids[-1] += ids
            packed_labels[-1] += y
        else:
            packed_ids.append(list(ids))
            packed_labels.append(list(y))
    return packed_ids, packed_labels
