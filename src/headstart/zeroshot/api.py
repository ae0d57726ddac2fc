"""Zero-shot classification by asking a chat model, over any OpenAI-compatible API, for one label per text.

The model reads the text and the label list (with descriptions, when given) and is asked for exactly one
label at temperature 0. Its free-text answer is mapped to a label by `map_answer`: the exact label, then the
same ignoring case, spacing and surrounding punctuation, then the label named first in the answer. An answer
naming no label gets the fallback label (the first label unless `fallback` says otherwise) and is counted
in `n_unparsed_`, never a crash.

Example:
    >>> clf = ApiZeroShot(["positive", "negative"], client=ApiClient(model="gpt-4o-mini"))  # doctest: +SKIP
    >>> clf.predict(["What a wonderful film!"])  # doctest: +SKIP
    array(['positive'], dtype='<U8')
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from headstart.errors import ConfigError, DataError
from headstart.zeroshot.api_client import ApiClient, ApiError
from headstart.zeroshot.base import register_scorer

__all__ = ["ApiZeroShot", "ApiScorer", "map_answer", "build_messages", "evaluate_api_zero_shot", "ApiClient",
           "ApiError"]

SYSTEM_PROMPT = ("You are a text classifier. Reply with exactly one label from the list you are given, "
                 "written exactly as in the list, and nothing else.")
_EDGES = string.whitespace + string.punctuation + "“”‘’«»"


def _norm(text: str) -> str:
    """Case-folded, runs of whitespace made one space, punctuation and quotes trimmed from both ends."""
    return " ".join(text.casefold().split()).strip(_EDGES)


def map_answer(answer: str, labels: Sequence[str]) -> str | None:
    """The label a free-text answer names, or None when it names none.

    In order: the answer is a label exactly; it is one ignoring case, spacing and surrounding punctuation
    ("Positive." -> "positive"); it names labels as whole words, and the first named wins (the longest one
    when two start at the same place, so "very positive" beats "positive").

    Example:
        >>> map_answer("Label: Negative, because ...", ["positive", "negative"])
        'negative'
    """
    answer = answer or ""
    if answer.strip() in labels:
        return answer.strip()
    by_norm = {_norm(label): label for label in labels}
    if (hit := by_norm.get(_norm(answer))) is not None:
        return hit
    text = " ".join(answer.casefold().split())
    found = []
    for key, label in by_norm.items():
        if key and (m := re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text)):
            found.append((m.start(), -len(key), label))
    return min(found)[2] if found else None


def build_messages(text: str, labels: Sequence[str], descriptions: Mapping[str, str] | None = None) -> list[dict]:
    """The chat messages asking for the one label of `text`."""
    descriptions = descriptions or {}
    lines = [f"- {label}: {descriptions[label]}" if descriptions.get(label) else f"- {label}" for label in labels]
    user = ("Labels:\n" + "\n".join(lines) + f"\n\nText: {text}\n\n"
            "Which one label fits the text? Reply with the label only.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


class ApiZeroShot:
    """A zero-shot classifier that asks a chat model over the OpenAI-compatible API.

    Follows the scikit-learn contract: nothing to learn, so `fit` only checks the settings and returns self
    (predicting without it is fine); `predict`, `predict_proba`, `score`.

    Args:
        labels: the label names, in the order of `predict_proba`'s columns.
        descriptions: optional label -> description (or a list aligned with `labels`), shown in the prompt.
        client: the `ApiClient`; default one built from the environment (OPENAI_BASE_URL, OPENAI_API_KEY,
            HEADSTART_API_MODEL).
        fallback: the label given when an answer names no label; default the first label.
        max_tokens: the longest answer asked for (a label, with room for a stray word or two).

    Attributes (after predict):
        answers_: the raw answers of the last `predict` / `predict_proba` call.
        unparsed_: indices of the texts whose answer named no label (they got `fallback`).
        n_unparsed_: len(unparsed_).
    """

    def __init__(self, labels: Sequence[str], descriptions: Mapping[str, str] | Sequence[str] | None = None,
                 client: ApiClient | None = None, *, fallback: str | None = None, max_tokens: int = 20) -> None:
        self.labels = labels
        self.descriptions = descriptions
        self.client = client
        self.fallback = fallback
        self.max_tokens = max_tokens

    @property
    def classes_(self) -> np.ndarray:
        return np.array(list(self.labels))

    def fit(self, X=None, y=None) -> ApiZeroShot:  # noqa: N803 (scikit-learn's names)
        """Check the settings; zero-shot learns nothing. Returns self."""
        self._settings()
        return self

    def predict(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """One label per text (the fallback label where the answer named none)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:  # noqa: N803
        """One-hot rows, shape (n, n_labels): a chat answer is a single label, not a distribution, so the
        chosen label gets 1 and the others 0 (an unparsed answer: 1 on the fallback label)."""
        labels, descriptions, fallback = self._settings()
        client = self.client if self.client is not None else ApiClient()
        texts = list(X)
        answers = client.chat_many([build_messages(t, labels, descriptions) for t in texts], temperature=0.0,
                                   max_tokens=self.max_tokens)
        picked = [map_answer(a, labels) for a in answers]
        self.answers_ = answers
        self.unparsed_ = [i for i, label in enumerate(picked) if label is None]
        self.n_unparsed_ = len(self.unparsed_)
        proba = np.zeros((len(texts), len(labels)))
        index = {label: i for i, label in enumerate(labels)}
        for row, label in enumerate(picked):
            proba[row, index[label if label is not None else fallback]] = 1.0
        return proba

    def score(self, X: Sequence[str], y: Sequence[str]) -> float:  # noqa: N803
        """Accuracy of `predict(X)` against `y`."""
        return float(np.mean(self.predict(X) == np.asarray(list(y))))

    def _settings(self) -> tuple[list[str], dict[str, str], str]:
        labels = [str(label) for label in self.labels]
        if len(labels) < 2 or len({_norm(label) for label in labels}) != len(labels) or not all(map(_norm, labels)):
            raise ConfigError("zero-shot needs at least two distinct, non-empty labels.",
                              expected="labels that differ in more than case, spacing or punctuation",
                              found=repr(labels)[:200], fix="e.g. --labels positive,negative")
        descriptions = self.descriptions or {}
        if not isinstance(descriptions, Mapping):
            if len(descriptions) != len(labels):
                raise ConfigError("descriptions do not line up with the labels.",
                                  expected=f"{len(labels)} descriptions", found=f"{len(descriptions)}")
            descriptions = dict(zip(labels, descriptions, strict=True))
        unknown = sorted(set(descriptions) - set(labels))
        if unknown:
            raise ConfigError("descriptions name labels that are not in the label list.",
                              expected=f"some of {labels}", found=repr(unknown), fix="fix the label names")
        fallback = self.fallback if self.fallback is not None else labels[0]
        if fallback not in labels:
            raise ConfigError("the fallback label is not one of the labels.", expected=f"one of {labels}",
                              found=repr(fallback))
        return labels, dict(descriptions), fallback


def evaluate_api_zero_shot(data: str | Path, labels: Sequence[str], client: ApiClient, *,
                           descriptions: Mapping[str, str] | None = None, text_column: str = "text",
                           label_column: str = "label") -> dict:
    """Classify every text of a data file through the API; with gold labels, score the predictions too.

    Returns:
        {"predictions", "answers", "n", "n_unparsed", "metrics"}: `metrics` is
        `classification_metrics`' dict (accuracy, macro_f1, ...) when the file has labels, else None.

    Raises:
        DataError: the file's labels include one not in `labels`.
    """
    from headstart.data import read_split
    from headstart.evaluation import classification_metrics

    split = read_split(data, text_column=text_column, label_column=label_column, require_labels=False)
    clf = ApiZeroShot(labels, descriptions, client).fit()
    labels = [str(label) for label in labels]
    if split.labels:
        unknown = sorted({str(y) for y in split.labels} - set(labels))
        if unknown:
            raise DataError("the data has labels that are not among --labels.", file=split.source,
                            column=label_column, expected=f"labels from {labels}", found=repr(unknown[:10]),
                            fix="add them to --labels, or check the spelling")
    proba = clf.predict_proba(split.texts)
    result = {"predictions": [labels[i] for i in proba.argmax(axis=1)], "answers": clf.answers_,
              "n": len(split.texts), "n_unparsed": clf.n_unparsed_, "metrics": None}
    if split.labels:
        y = np.array([labels.index(str(label)) for label in split.labels])
        result["metrics"] = classification_metrics(y, proba, labels)
    return result


class ApiScorer:
    """The "api" method of `ZeroShotClassifier` (and `headstart zero-shot --method api`): `ApiZeroShot` behind
    the scorer interface, so every zero-shot method is chosen from one table (`SCORERS`).

    The chat API's base URL and key come from OPENAI_BASE_URL / OPENAI_API_KEY; the model is `backbone`
    (else HEADSTART_API_MODEL). Descriptions are passed on; templates, in-context examples and calibration
    have no meaning for a chat answer and are refused rather than ignored.
    """

    name = "api"

    def __init__(self, spec) -> None:
        unsupported = [f for f, v in (("template", spec.template), ("k", spec.k), ("calibrate", spec.calibrate))
                       if v]
        if unsupported:
            raise ConfigError(f"the api method does not take {', '.join(unsupported)}.",
                              expected="labels and (optionally) descriptions", found=", ".join(unsupported),
                              fix="drop those options, or use --method lm for prompts scored by likelihood")
        self.spec = spec

    def fit(self, texts: Sequence[str] | None = None) -> ApiScorer:
        """Check the settings and reach nothing yet (a chat answer needs no fitting)."""
        client = ApiClient(model=self.spec.backbone)
        self.model_ = ApiZeroShot(self.spec.labels, self.spec.descriptions or None, client).fit()
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.model_.predict_proba(texts)

    def describe(self) -> dict:
        client = self.model_.client
        return {"method": self.name, "backbone": client.model, "base_url": client.base_url,
                "unparsed": getattr(self.model_, "n_unparsed_", None)}


register_scorer("api", ApiScorer)
