"""Turn QA examples into model windows, and model logits back into answer texts.

As in the Hugging Face `run_qa` example: the question comes first, the context second and only the context
is truncated; a long context is split into overlapping windows (`stride` tokens shared by neighbours). An
answer is labelled by its token positions in the windows that hold all of it, and by the CLS position (0)
in the others. Decoding searches the n best start and end positions of every window of a question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from headstart.errors import BackboneError, ConfigError, DataError
from headstart.tasks.extractive_qa.reader import QAExample, QASplit

__all__ = ["QAFeature", "prepare_features", "decode_spans"]

CLS_INDEX = 0  # where a window points when the answer is not inside it


@dataclass
class QAFeature:
    """One window of one example.

    `offsets[i]` is the (start, end) character span in the example's context of token i, or None for
    question and special tokens. `start`/`end` are the answer's token positions: both CLS_INDEX when the
    answer is not wholly inside this window, None when the example has no answer (prediction).
    `token_type_ids`: segment ids (question 0, context 1), for models that use them (BERT).
    """

    input_ids: list[int]
    example: int  # index into the examples the feature was made from
    offsets: list[tuple[int, int] | None]
    start: int | None
    end: int | None
    token_type_ids: list[int] | None = None


def prepare_features(
    tokenizer: Any, examples: QASplit | Sequence[QAExample], *, max_length: int = 384, stride: int = 128
) -> list[QAFeature]:
    """Tokenize question + context into windows of at most `max_length` tokens, labelled with the answer.

    Args:
        tokenizer: a fast (Rust-backed) Hugging Face tokenizer: offsets are needed.
        examples: the questions (a QASplit or a list of QAExample); the first answer is the label.
        max_length: tokens per window, question and special tokens included.
        stride: tokens shared by neighbouring windows of a long context.

    Returns:
        The windows of all examples, in example order, unpadded.

    Example:
        >>> features = prepare_features(tokenizer, read_squad("train.json"))  # doctest: +SKIP
    """
    examples = _as_examples(examples)
    _check_settings(tokenizer, max_length, stride)
    questions = [ex.question.lstrip() for ex in examples]  # leading spaces only waste window room
    _check_room(tokenizer, examples, questions, max_length, stride)
    enc = tokenizer(
        questions,
        [ex.context for ex in examples],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    return [_feature(enc, i, examples) for i in range(len(enc["input_ids"]))]


def _feature(enc: Any, i: int, examples: list[QAExample]) -> QAFeature:
    ex_index = enc["overflow_to_sample_mapping"][i]
    sequence_ids = enc.sequence_ids(i)
    offsets = [
        tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][i], sequence_ids, strict=True)
    ]
    answers = examples[ex_index].answers
    start, end = _label(offsets, answers[0]) if answers else (None, None)
    if "token_type_ids" in enc:
        types = list(enc["token_type_ids"][i])
    else:  # the BERT convention, from the sequence ids: question part 0, context and its [SEP] 1
        first = sequence_ids.index(1) if 1 in sequence_ids else len(sequence_ids)
        types = [0] * first + [1] * (len(sequence_ids) - first)
    return QAFeature(list(enc["input_ids"][i]), ex_index, offsets, start, end, types)


def _label(offsets: list[tuple[int, int] | None], answer: dict) -> tuple[int, int]:
    """The answer's first and last token in this window, or (CLS, CLS) when it is not all inside."""
    start_char = answer["answer_start"]
    end_char = start_char + len(answer["text"])
    context = [i for i, o in enumerate(offsets) if o is not None]
    if not context or offsets[context[0]][0] > start_char or offsets[context[-1]][1] < end_char:
        return CLS_INDEX, CLS_INDEX
    # the last token starting at or before the answer, and the first ending at or after it
    start = max(i for i in context if offsets[i][0] <= start_char)
    end = min(i for i in context if offsets[i][1] >= end_char)
    return start, end


def decode_spans(
    features: Sequence[QAFeature],
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    examples: QASplit | Sequence[QAExample],
    *,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[str, dict]:
    """Pick each example's best answer span over all of its windows.

    The `n_best` highest start and end logits of a window are paired; a pair counts when both tokens are
    in the context, start <= end and it spans at most `max_answer_length` tokens. Its score is the sum of
    the two logits.

    Args:
        features: the windows, as made by `prepare_features` from `examples`.
        start_logits: one array per feature (positions past the feature's tokens, padding, are ignored).
        end_logits: likewise.
        examples: the examples the features were made from.
        n_best: how many start and end positions to pair per window, and how many candidates to return.
        max_answer_length: the longest answer, in tokens.

    Returns:
        `{example id: {"text", "score", "start", "n_best"}}`, `start` the answer's character offset in the
        context and `n_best` the best distinct texts with their scores; text "" (score and start None)
        when no window has a valid span.

    Example:
        >>> answers = decode_spans(features, starts, ends, split)  # doctest: +SKIP
        >>> answers["56be4db0acb8001400a502ec"]["text"]  # doctest: +SKIP
        'Denver Broncos'
    """
    examples = _as_examples(examples)
    _check_logits(features, start_logits, end_logits, examples)
    if n_best < 1 or max_answer_length < 1:
        raise ConfigError(
            "decode_spans needs at least one candidate and answers of at least one token",
            expected="n_best >= 1 and max_answer_length >= 1",
            found=f"n_best={n_best}, max_answer_length={max_answer_length}",
            fix="use the defaults (n_best=20, max_answer_length=30)",
        )
    candidates: list[list[tuple[float, int, int]]] = [[] for _ in examples]  # (score, start char, end char)
    for feature, starts, ends in zip(features, start_logits, end_logits, strict=True):
        candidates[feature.example] += _spans(
            feature, _to_numpy(starts), _to_numpy(ends), n_best, max_answer_length
        )
    return {ex.id: _best(ex.context, found, n_best) for ex, found in zip(examples, candidates, strict=True)}


def _spans(
    feature: QAFeature, starts: np.ndarray, ends: np.ndarray, n_best: int, max_len: int
) -> list[tuple[float, int, int]]:
    offsets = feature.offsets
    n = len(offsets)
    starts, ends = starts[:n], ends[:n]  # drop padding positions
    top_starts = np.argsort(starts)[::-1][:n_best]
    top_ends = np.argsort(ends)[::-1][:n_best]
    spans = []
    for s in top_starts:
        for e in top_ends:
            if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_len:
                continue
            spans.append((float(starts[s] + ends[e]), offsets[s][0], offsets[e][1]))
    return spans


def _best(context: str, spans: list[tuple[float, int, int]], n_best: int) -> dict:
    ranked: dict[str, tuple[float, int]] = {}  # text -> (best score, start char), best first
    for score, start, end in sorted(spans, key=lambda s: -s[0]):
        ranked.setdefault(context[start:end], (score, start))
        if len(ranked) == n_best:
            break
    if not ranked:
        return {"text": "", "score": None, "start": None, "n_best": []}
    text, (score, start) = next(iter(ranked.items()))
    return {
        "text": text,
        "score": score,
        "start": start,
        "n_best": [{"text": t, "score": s} for t, (s, _) in ranked.items()],
    }


def _to_numpy(logits: Any) -> np.ndarray:
    """A 1-D float array from a numpy array, a list or a torch tensor (any device or dtype, bf16 too)."""
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    return np.asarray(logits, dtype=np.float64).reshape(-1)


# checks


def _as_examples(examples: QASplit | Sequence[QAExample]) -> list[QAExample]:
    examples = examples.examples if isinstance(examples, QASplit) else list(examples)
    if not examples or not all(isinstance(ex, QAExample) for ex in examples):
        raise DataError(
            "expected question answering examples",
            expected="a QASplit or a non-empty list of QAExample (from read_squad or qa_split_from_records)",
            found=f"{len(examples)} items of types {sorted({type(ex).__name__ for ex in examples})}",
            fix="read the data with read_squad(path) or qa_split_from_records(records) first",
        )
    return examples


def _check_settings(tokenizer: Any, max_length: int, stride: int) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise BackboneError(
            "question answering needs a fast tokenizer (it maps tokens back to characters)",
            expected="a Rust-backed tokenizer (tokenizer.is_fast is True)",
            found=type(tokenizer).__name__,
            fix="load it with AutoTokenizer.from_pretrained(name, use_fast=True)",
        )
    if not isinstance(max_length, int) or not isinstance(stride, int) or not 0 <= stride < max_length:
        raise ConfigError(
            "the window settings do not fit together",
            expected="integers with 0 <= stride < max_length (e.g. max_length=384, stride=128)",
            found=f"max_length={max_length!r}, stride={stride!r}",
            fix="lower the stride or raise max_length",
        )


def _check_room(
    tokenizer: Any, examples: list[QAExample], questions: list[str], max_length: int, stride: int
) -> None:
    """Refuse a question that leaves a window no more than `stride` context tokens, before the Rust
    tokenizer does (it panics, with a backtrace, rather than raise a catchable error)."""
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    q_lens = [len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"]]
    tight = [i for i, n in enumerate(q_lens) if n + specials + stride >= max_length]
    if not tight:
        return
    # such a question is only a problem when its context must be split
    c_lens = tokenizer([examples[i].context for i in tight], add_special_tokens=False)["input_ids"]
    for i, context in zip(tight, c_lens, strict=True):
        if q_lens[i] + len(context) + specials > max_length:
            raise DataError(
                f"question {examples[i].id!r} leaves too little room for its context in a window of "
                f"{max_length} tokens",
                expected=f"question tokens + {specials} special tokens + more than stride ({stride}) "
                f"context tokens <= max_length ({max_length})",
                found=f"a question of {q_lens[i]} tokens: {questions[i][:60]!r}",
                fix=f"raise max_length to at least {q_lens[i] + specials + stride + 1}, lower the stride, or "
                "shorten the question",
            )


def _check_logits(
    features: Sequence[QAFeature], starts: Sequence[Any], ends: Sequence[Any], examples: list[QAExample]
) -> None:
    if not len(features) == len(starts) == len(ends):
        raise DataError(
            "there must be one start and one end logit row per feature",
            expected=f"{len(features)} rows of start and of end logits, one per feature",
            found=f"{len(starts)} start and {len(ends)} end rows",
            fix="predict on exactly the features that prepare_features returned, in the same order",
        )
    if features and max(f.example for f in features) >= len(examples):
        raise DataError(
            "the features point at more examples than were given",
            expected=f"features made from these {len(examples)} examples",
            found=f"a feature of example {max(f.example for f in features)}",
            fix="pass decode_spans the same examples that were given to prepare_features",
        )
