"""Word to sub-word alignment for token classification, with overlapping windows for long sentences.

A word's label sits on its first sub-token; its other sub-tokens and the special tokens get -100, which
the loss ignores. A sentence longer than the model's window is cut into overlapping windows, never
truncated, and the predictions are merged back per word, each taken from the window where the word has
the most context on both sides (SQuAD's "max context" rule).

Windows always start on a word's first sub-token, so a word's label never lands on a continuation piece.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

import numpy as np

from headstart.errors import ConfigError

__all__ = ["Window", "IGNORE_INDEX", "encode_words", "merge_word_scores"]

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips


@dataclass
class Window:
    """One model input: a sentence, or a slice of a long one, with its special tokens.

    `word_ids[p]` is the sentence-level index of the word that position p belongs to (None for special
    tokens). `labels[p]` is the word's tag id at its first sub-token, -100 elsewhere (None without tags).
    """

    input_ids: list[int]
    labels: list[int] | None
    sentence: int
    word_ids: list[int | None]


def encode_words(
    tokenizer: Any,
    sentences: list[list[str]],
    tag_ids: list[list[int]] | None,
    *,
    max_length: int,
    stride: int,
) -> list[Window]:
    """Tokenize pre-split sentences into windows of at most `max_length` tokens, specials included.

    Args:
        tokenizer: a fast Hugging Face tokenizer (it must provide `word_ids()`). BPE tokenizers such as
            RoBERTa's or GPT-2's must be loaded with `add_prefix_space=True` for pre-split words.
        sentences: the words of each sentence.
        tag_ids: the tag id of every word, or None for prediction.
        max_length: the longest window, special tokens included.
        stride: how many tokens consecutive windows of one sentence share (at least; more when the cut
            would otherwise fall inside a word).

    Returns:
        Windows in sentence order; every sentence has at least one. A word whose text yields no
        sub-token (e.g. a zero-width space) has no position in any window.

    Example:
        >>> windows = encode_words(tok, [["Paris", "is", "nice"]], [[1, 0, 0]], max_length=128, stride=32)
        ... # doctest: +SKIP
    """
    prefix, suffix = _special_tokens(tokenizer)
    size = max_length - len(prefix) - len(suffix)  # sub-tokens of the sentence per window
    if not 0 <= stride < size:
        raise ConfigError(
            f"stride {stride} does not fit windows of {max_length} tokens",
            expected=f"0 <= stride < {size} (max_length minus {len(prefix) + len(suffix)} special tokens)",
            found=f"stride={stride}, max_length={max_length}",
            fix="lower the stride (a quarter of max_length is usual) or raise max_length",
        )
    if tag_ids is not None and [len(t) for t in tag_ids] != [len(s) for s in sentences]:
        raise ValueError("tag_ids must hold one id per word of every sentence")
    # verbose=False: long sentences are expected here (they get windows), so no "longer than max" warning
    encoded = tokenizer(sentences, is_split_into_words=True, add_special_tokens=False, verbose=False)
    windows = []
    for i in range(len(sentences)):
        ids, words = encoded["input_ids"][i], encoded.word_ids(i)
        starts = [p for p in range(len(ids)) if p == 0 or words[p] != words[p - 1]]  # first sub-tokens
        for begin in _window_starts(starts, len(ids), size, size - stride):
            end = min(begin + size, len(ids))
            word_ids = [None] * len(prefix) + words[begin:end] + [None] * len(suffix)
            labels = None
            if tag_ids is not None:
                labels = [IGNORE_INDEX] * len(word_ids)
                for p in _first_positions(word_ids):
                    labels[p] = tag_ids[i][word_ids[p]]
            windows.append(Window(prefix + ids[begin:end] + suffix, labels, i, word_ids))
    return windows


def merge_word_scores(
    windows: list[Window],
    window_scores: list[np.ndarray],
    n_words: list[int],
    *,
    fallback: np.ndarray,
) -> list[np.ndarray]:
    """Gather per-word scores from window scores, each word from the window where it has the most context.

    Args:
        windows: the windows from `encode_words`.
        window_scores: for each window, an array (len(window.input_ids), n_labels) of scores.
        n_words: the number of words of each sentence.
        fallback: the (n_labels,) scores for a word with no sub-token (e.g. the one-hot of "O").

    Returns:
        For each sentence, an array (n_words, n_labels): row j holds the scores at word j's first
        sub-token in the window where min(distance to the window's left edge, to its right edge) is
        largest (the earlier window on a tie), or `fallback` for a word with no sub-token.
    """
    if len(window_scores) != len(windows):
        raise ValueError(f"got {len(window_scores)} score arrays for {len(windows)} windows")
    fallback = np.asarray(fallback)
    merged = [np.tile(fallback, (n, 1)) for n in n_words]  # (n_words, n_labels) each
    context = [np.full(n, -1) for n in n_words]  # the context of the window each row came from
    for window, scores in zip(windows, window_scores, strict=True):
        if len(scores) != len(window.input_ids):
            raise ValueError(f"window scores have {len(scores)} rows for {len(window.input_ids)} tokens")
        inside = [p for p, w in enumerate(window.word_ids) if w is not None]
        if not inside:
            continue
        left, right = inside[0], inside[-1]
        rows, best = merged[window.sentence], context[window.sentence]
        for p in _first_positions(window.word_ids):
            word, room = window.word_ids[p], min(p - left, right - p)
            if room > best[word]:
                best[word], rows[word] = room, scores[p]
    return merged


def _special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sentence ([CLS] and [SEP] for BERT)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            "token classification needs a fast tokenizer",
            expected="a tokenizer with word_ids() (is_fast=True)",
            found=type(tokenizer).__name__,
            fix="load it with AutoTokenizer.from_pretrained(name) and keep the default use_fast=True",
        )
    encoded = tokenizer(["a"], is_split_into_words=True)
    words = encoded.word_ids()
    inside = [p for p, w in enumerate(words) if w is not None]
    ids = encoded["input_ids"]
    return ids[: inside[0]], ids[inside[-1] + 1 :]


def _window_starts(word_starts: list[int], n: int, size: int, step: int) -> list[int]:
    """Where the windows over n sub-tokens begin: at most `step` apart, always at a word's first sub-token.

    Each next start is the last word start within `step` of the previous one, so consecutive windows share
    at least `size - step` tokens and no word's first sub-token falls between two windows.
    """
    starts = [0]
    while starts[-1] + size < n:
        here = starts[-1]
        k = bisect_right(word_starts, here + step) - 1
        if word_starts[k] > here:
            starts.append(word_starts[k])
        elif k + 1 < len(word_starts):  # a word longer than `step`: the next window starts after it
            starts.append(word_starts[k + 1])
        else:  # the rest continues one word whose first sub-token is already in this window
            break
    return starts


def _first_positions(word_ids: list[int | None]) -> list[int]:
    """Positions of the first sub-token of each word in a window."""
    return [p for p, w in enumerate(word_ids) if w is not None and (p == 0 or word_ids[p - 1] != w)]
