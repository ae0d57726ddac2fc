"""Prompts for scoring labels with a decoder: the instruction, the few-shot examples, and the token ids.

A prompt is cut in three at the text: a `prefix` shared by every text (chat header, instruction, the
in-context examples), the text, and a `suffix` (end of the user turn and the start of the answer). Each
label's answer is its words; when one label's answer is a prefix of another's ("card" and "card
arrival"), every answer also gets the end-of-answer token, so that they are complete, different answers.
Otherwise the end token is left out: on Banking77 it makes the answer tree 228 tokens instead of 151
per text, for no clear gain with SmolLM2-135M (77 test rows, one per class, accuracy with / without it:
input-calibrated 0.234 / 0.221, one text apart; content-free-calibrated 0.091 / 0.195). The scorer encodes
the prefix once and each text once on top of it (see `lm_scoring`).

In-context examples are written as "Text: ...\\nAnswer: ..." blocks: inside the single user turn when the
tokenizer has a chat template, as plain text otherwise. Giving them as earlier user/assistant turns was
worse with SmolLM2-135M-Instruct (SST-2 dev, 100 rows, 1 example per class, calibrated: 0.63 as turns,
0.74 inside the turn; uncalibrated 0.52 and 0.58).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from headstart.errors import ConfigError

__all__ = ["DEFAULT_INSTRUCTION", "PromptIds", "select_examples", "build_prompt"]

DEFAULT_INSTRUCTION = "Classify the text into one of these categories:\n{labels}\nAnswer with the category only."
_MARK = "\u2063TEXT\u2063"  # invisible separator: never in a user's text or a chat template
_ANSWER_MARK = "\u2063ANSWER\u2063"


@dataclass
class PromptIds:
    """Token ids of a prompt with the text left out, and of each label's answer (with the end token when
    one answer is a prefix of another)."""

    prefix: list[int]
    suffix: list[int]
    answers: list[list[int]]
    text_lead: str  # prepended to every text (the space that the prefix's "Text: " would have carried)
    chat: bool
    prefix_text: str
    suffix_text: str


def select_examples(examples: Sequence[tuple[str, str]], labels: Sequence[str], k: int,
                    seed: int = 0) -> list[tuple[str, str]]:
    """k examples per class (fewer when a class has fewer), drawn and ordered by `seed`.

    Classes are interleaved in a seeded shuffle, so no class always sits last (recency bias).

    Example:
        >>> select_examples([("a", "x"), ("b", "x"), ("c", "y")], ["x", "y"], k=1, seed=0)  # doctest: +SKIP
    """
    rng = random.Random(seed)
    chosen = []
    for label in labels:
        pool = [ex for ex in examples if ex[1] == label]
        chosen += rng.sample(pool, min(k, len(pool)))
    rng.shuffle(chosen)
    return chosen


def _options(words: Sequence[str], descriptions: Sequence[str | None]) -> str:
    if any(descriptions):
        return "\n".join(f"- {w}: {d}" if d else f"- {w}" for w, d in zip(words, descriptions, strict=True))
    return ", ".join(words)


def build_prompt(tokenizer, words: Sequence[str], descriptions: Sequence[str | None], instruction: str | None,
                 shots: Sequence[tuple[str, str]]) -> PromptIds:
    """Render the prompt around the text and tokenise its parts.

    Args:
        tokenizer: the decoder's tokenizer (its chat template is used when it has one).
        words: each label's answer, in label order (the label as words).
        descriptions: each label's description or None, shown beside its words in the options.
        instruction: the task, with "{labels}" standing for the options; None: `DEFAULT_INSTRUCTION`.
        shots: (text, answer words) in-context examples, in prompt order.

    Returns:
        PromptIds.
    """
    if len(set(words)) != len(words):
        dupes = sorted({w for w in words if list(words).count(w) > 1})
        raise ConfigError("two labels read as the same words, so their answers cannot be told apart.",
                          expected="labels that differ once '_' and '-' become spaces", found=", ".join(dupes),
                          fix="rename one of them, or give descriptions")
    task = (instruction or DEFAULT_INSTRUCTION).replace("{labels}", _options(words, descriptions))
    chat = bool(getattr(tokenizer, "chat_template", None))
    prefix_text, suffix_text, lead, end = (_chat(tokenizer, task, shots) if chat else _plain(task, shots))
    encode = lambda s: tokenizer(s, add_special_tokens=False).input_ids  # noqa: E731
    prefix = encode(prefix_text)
    if not chat and tokenizer.bos_token_id is not None:
        prefix = [tokenizer.bos_token_id, *prefix]
    end_ids = encode(end)[:1] if end else []
    if not end_ids and tokenizer.eos_token_id is not None:
        end_ids = [tokenizer.eos_token_id]
    answers = [encode(("" if chat else " ") + w) for w in words]
    if _some_prefix(answers):
        answers = [a + end_ids for a in answers]
    return PromptIds(prefix, encode(suffix_text), answers, lead, chat, prefix_text, suffix_text)


def _some_prefix(answers: list[list[int]]) -> bool:
    """Whether some answer's tokens begin another answer's."""
    return any(a is not b and b[: len(a)] == a for a in answers for b in answers)


def _split_at_mark(rendered: str) -> tuple[str, str, str]:
    """(prefix, suffix, lead): trailing spaces of the prefix move onto the text (BPE words carry their
    leading space, so "Text: " + "great" must tokenise as "Text:" + " great")."""
    prefix, suffix = rendered.split(_MARK)
    stripped = prefix.rstrip(" ")
    return stripped, suffix, prefix[len(stripped):]


def _chat(tokenizer, task: str, shots: Sequence[tuple[str, str]]) -> tuple[str, str, str, str]:
    body = task + "\n\n"
    if shots:  # inside the one user turn (see the module docstring)
        body += "Examples:\n\n" + "".join(f"Text: {t}\nAnswer: {a}\n\n" for t, a in shots) + "Now classify this one.\n\n"
    messages = [{"role": "user", "content": body + f"Text: {_MARK}"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prefix, suffix, lead = _split_at_mark(rendered)
    # what the template writes right after an answer (e.g. "<|im_end|>"): the end-of-answer token
    closed = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}, {"role": "assistant", "content": _ANSWER_MARK}], tokenize=False)
    end = closed.split(_ANSWER_MARK, 1)[1] if _ANSWER_MARK in closed else ""
    return prefix, suffix, lead, end


def _plain(task: str, shots: Sequence[tuple[str, str]]) -> tuple[str, str, str, str]:
    body = task + "\n\n" + "".join(f"Text: {text}\nAnswer: {answer}\n\n" for text, answer in shots)
    prefix, suffix, lead = _split_at_mark(body + f"Text: {_MARK}\nAnswer:")
    return prefix, suffix, lead, "\n"
