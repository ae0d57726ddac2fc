"""Entity-level evaluation and entity spans, for token classification (NER).

Scores follow seqeval in strict IOB2 mode, the CoNLL convention: an entity counts only when its type and
both boundaries are right. `bio_spans` is the lenient reader for showing predictions to users (a stray
`I-X` opens an entity there); `split_words` and `entities_in_text` map word tags back to characters.
"""

from __future__ import annotations

import re
import warnings

from seqeval.metrics import accuracy_score, classification_report
from seqeval.scheme import IOB2, Entities

from headstart.errors import DataError

__all__ = ["entity_metrics", "bio_spans", "example_errors", "split_words", "entities_in_text"]

_INSIDE, _LAST = ("I", "E", "L"), ("S", "U", "E", "L")  # BIOES / BILOU prefixes, read leniently too
_IOB2_TAG = re.compile(r"[BI]-\S+")
_WORD = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]")


def entity_metrics(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """Entity precision, recall and F1 (micro-averaged, strict IOB2), per type, and token accuracy.

    Args:
        true_tags: the gold IOB2 tags of each sentence.
        pred_tags: the predicted IOB2 tags, one per gold tag.

    Returns:
        `{"precision", "recall", "f1", "token_accuracy", "per_type": {type: {"precision", "recall", "f1",
        "support"}}, "n_entities"}` in plain Python numbers; a score with nothing to divide by is 0.

    Example:
        >>> m = entity_metrics([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
        >>> m["f1"], m["token_accuracy"]
        (0.0, 0.6666666666666666)
    """
    _check_tags(true_tags, pred_tags)
    with warnings.catch_warnings():  # zero_division=0 already says what happens; no warning per type
        warnings.simplefilter("ignore")
        report = classification_report(
            true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
    per_type = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in report.items()
        if not name.endswith(" avg")
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "token_accuracy": float(accuracy_score(true_tags, pred_tags)),
        "per_type": dict(sorted(per_type.items())),
        "n_entities": int(sum(row["support"] for row in per_type.values())),
    }


def bio_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """The entities of one sentence's tags, leniently: `(type, first word, last word + 1)`.

    `B-X` opens an entity; `I-X` continues an open entity of type X and otherwise opens one; `O` closes.
    BIOES tags are read too (`S-X` is a one-word entity, `E-X` closes one). Use it for showing predictions; scores use strict IOB2.

    Example:
        >>> bio_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
        [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    """
    spans: list[tuple[str, int, int]] = []
    kind, start = None, 0
    for j, tag in enumerate(tags):
        prefix, _, name = tag.partition("-")
        if kind is not None and (prefix not in _INSIDE or name != kind):
            spans.append((kind, start, j))
            kind = None
        if name and kind is None:  # B-X and S-X open an entity; so does a stray I-X or E-X
            kind, start = name, j
        if kind is not None and prefix in _LAST:
            spans.append((kind, start, j + 1))
            kind = None
    if kind is not None:
        spans.append((kind, start, len(tags)))
    return spans


def example_errors(
    sentences: list[list[str]], true_tags: list[list[str]], pred_tags: list[list[str]], k: int = 10
) -> list[dict]:
    """The first k sentences with an entity mistake, for the report.

    Args:
        sentences: the words of each sentence.
        true_tags: the gold IOB2 tags.
        pred_tags: the predicted IOB2 tags.
        k: how many sentences to return at most.

    Returns:
        Dicts `{"sentence": index, "text", "missed": ["PER: John Smith", ...], "spurious": [...]}`:
        missed entities are in the truth but not predicted exactly, spurious ones predicted but not true.
    """
    _check_tags(true_tags, pred_tags)
    true_entities, pred_entities = _strict_entities(true_tags), _strict_entities(pred_tags)
    examples = []
    for i, words in enumerate(sentences):
        truth, predicted = true_entities[i], pred_entities[i]
        missed = [e for e in truth if e not in predicted]
        spurious = [e for e in predicted if e not in truth]
        if missed or spurious:
            examples.append(
                {
                    "sentence": i,
                    "text": " ".join(words),
                    "missed": [f"{kind}: {' '.join(words[a:b])}" for kind, a, b in missed],
                    "spurious": [f"{kind}: {' '.join(words[a:b])}" for kind, a, b in spurious],
                }
            )
            if len(examples) == k:
                break
    return examples


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Split raw text into words with their character offsets `(word, start, end)`.

    Words are runs of letters and digits, joined by inner hyphens or apostrophes ("state-of-the-art",
    "O'Neil"); every other non-space character is a word of its own.

    Example:
        >>> split_words("Hi, O'Neil!")
        [('Hi', 0, 2), (',', 2, 3), ("O'Neil", 4, 10), ('!', 10, 11)]
    """
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def entities_in_text(
    text: str, words_with_offsets: list[tuple[str, int, int]], tags: list[str]
) -> list[dict]:
    """Turn word tags back into character spans of `text`.

    Args:
        text: the raw text.
        words_with_offsets: its words, as `split_words` returns them.
        tags: one tag per word (read leniently, as `bio_spans` does).

    Returns:
        Dicts `{"type", "text", "start", "end"}` with `text[start:end] == entity["text"]`.

    Example:
        >>> text = "I met Ada Lovelace."
        >>> entities_in_text(text, split_words(text), ["O", "O", "B-PER", "I-PER", "O"])
        [{'type': 'PER', 'text': 'Ada Lovelace', 'start': 6, 'end': 18}]
    """
    if len(tags) != len(words_with_offsets):
        raise DataError(
            "the tags do not line up with the words",
            expected=f"one tag per word ({len(words_with_offsets)})",
            found=f"{len(tags)} tags",
            fix="predict the tags for exactly the words split_words(text) returns",
        )
    spans = []
    for kind, a, b in bio_spans(tags):
        start, end = words_with_offsets[a][1], words_with_offsets[b - 1][2]
        spans.append({"type": kind, "text": text[start:end], "start": start, "end": end})
    return spans


def _strict_entities(tags: list[list[str]]) -> list[list[tuple[str, int, int]]]:
    """Each sentence's entities as seqeval's strict IOB2 mode sees them (a stray I-X is no entity)."""
    found = Entities(tags, IOB2, suffix=False).entities
    return [[(e.tag, e.start, e.end) for e in sentence] for sentence in found]


def _check_tags(true_tags: list[list[str]], pred_tags: list[list[str]]) -> None:
    """Raise DataError unless the two tag lists line up and hold IOB2 tags only."""
    if len(true_tags) != len(pred_tags):
        raise DataError(
            "the predictions do not line up with the truth",
            expected=f"one tag sequence per sentence ({len(true_tags)})",
            found=f"{len(pred_tags)} predicted sequences",
            fix="predict every sentence of the evaluation data, in order",
        )
    for i, (truth, predicted) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(truth) != len(predicted):
            raise DataError(
                f"sentence {i}: the predictions do not line up with the truth",
                expected=f"one predicted tag per word ({len(truth)})",
                found=f"{len(predicted)} predicted tags",
                fix="predict one tag for every word of the sentence",
            )
    for which, sequences in (("true", true_tags), ("predicted", pred_tags)):
        for i, tags in enumerate(sequences):
            bad = next((t for t in tags if t != "O" and not _IOB2_TAG.fullmatch(t)), None)
            if bad is not None:
                raise DataError(
                    f"sentence {i}: {which} tag {bad!r} is not an IOB2 tag",
                    expected="O, B-<type> or I-<type>",
                    found=repr(bad),
                    fix="convert the tags first with headstart.tasks.tagging.tags.to_iob2(tags, scheme)",
                )
