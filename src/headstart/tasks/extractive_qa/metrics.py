"""The official SQuAD v1.1 evaluation: exact match and token F1, each the best over a question's answers.

`normalize_answer`, `exact_match` and `f1_score` follow the official `evaluate-v1.1.py` line for line, so
numbers compare with published ones, except that scores are on a 0-1 scale rather than 0-100. As there, a
question without a prediction scores 0 (a warning says how many), and an empty prediction against an
empty-after-normalization answer has EM 1 but F1 0.
"""

from __future__ import annotations

import re
import string
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from headstart.errors import DataError
from headstart.tasks.extractive_qa.reader import QAExample, QASplit

__all__ = ["normalize_answer", "exact_match", "f1_score", "squad_metrics"]

_PUNCTUATION = set(string.punctuation)  # ASCII only, as in the official script
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """Lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace.

    Example:
        >>> normalize_answer("The  Eiffel-Tower!")
        'eiffeltower'
    """
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def exact_match(prediction: str, truths: str | Sequence[str]) -> float:
    """1.0 when the normalized prediction equals a normalized ground truth (the best of several), else 0.0.

    Example:
        >>> exact_match("the Eiffel Tower", ["Eiffel tower", "Paris"])
        1.0
    """
    return _best_over(_exact, prediction, truths)


def f1_score(prediction: str, truths: str | Sequence[str]) -> float:
    """Token-overlap F1 between the normalized prediction and a ground truth, the best over several.

    Example:
        >>> f1_score("in Paris France", "Paris")
        0.5
    """
    return _best_over(_f1, prediction, truths)


def squad_metrics(
    predictions: Mapping[str, str | dict], examples: QASplit | Sequence[QAExample]
) -> dict[str, float | int]:
    """Exact match and F1 averaged over all questions of `examples`, as the official script does.

    Args:
        predictions: `{question id: answer text}`; the values may also be `decode_spans` results (dicts
            with a "text"). Ids that are not among the examples are ignored.
        examples: the questions with their reference answers.

    Returns:
        `{"em": 0-1, "f1": 0-1, "n": number of questions}`; a question without a prediction scores 0.

    Example:
        >>> squad_metrics({"q1": "Denver Broncos"}, split)  # doctest: +SKIP
        {'em': 1.0, 'f1': 1.0, 'n': 1}
    """
    examples = examples.examples if isinstance(examples, QASplit) else list(examples)
    _check(predictions, examples)
    missing = [ex.id for ex in examples if ex.id not in predictions]
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(examples)} questions have no prediction and score 0 (e.g. {missing[0]!r})",
            stacklevel=2,
        )
    em = f1 = 0.0
    for ex in examples:
        if ex.id in predictions:
            prediction, truths = _text(predictions[ex.id]), [a["text"] for a in ex.answers]
            em += exact_match(prediction, truths)
            f1 += f1_score(prediction, truths)
    return {"em": em / len(examples), "f1": f1 / len(examples), "n": len(examples)}


def _exact(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def _f1(prediction: str, truth: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    truth_tokens = normalize_answer(truth).split()
    same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def _best_over(metric: Callable[[str, str], float], prediction: str, truths: str | Sequence[str]) -> float:
    truths = [truths] if isinstance(truths, str) else list(truths)
    if not truths:
        raise DataError(
            "there is no ground truth answer to compare with",
            expected="at least one reference answer",
            found="an empty list",
            fix="score only questions that have answers",
        )
    return max(metric(prediction, truth) for truth in truths)


def _text(prediction: str | dict) -> str:
    return prediction.get("text", "") if isinstance(prediction, dict) else str(prediction)


def _check(predictions: Mapping, examples: list[QAExample]) -> None:
    if not examples:
        raise DataError(
            "there are no questions to score", expected="at least one question", found="none", fix=None
        )
    unanswered = [ex.id for ex in examples if not ex.answers]
    if unanswered:
        raise DataError(
            f"{len(unanswered)} questions have no reference answer to score against (e.g. {unanswered[0]!r})",
            expected="every question with at least one answer",
            found=f"questions without answers: {', '.join(map(repr, unanswered[:5]))}",
            fix="score on data read with require_answers=True (the default)",
        )
    if not isinstance(predictions, Mapping) or not any(ex.id in predictions for ex in examples):
        some = list(predictions)[:3] if isinstance(predictions, Mapping) else type(predictions).__name__
        raise DataError(
            "no prediction matches a question id",
            expected=f"a dict keyed by question id, e.g. {{{examples[0].id!r}: 'answer text'}}",
            found=f"keys {some}" if isinstance(predictions, Mapping) else f"a {some}",
            fix="key the predictions by the ids of these examples (decode_spans returns them so)",
        )
