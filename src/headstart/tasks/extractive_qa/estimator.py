"""`HeadstartQA`: extractive question answering (SQuAD v1.1) with the same strategies, trainer and
artifacts as text classification.

    qa = HeadstartQA(strategy="full").fit("squad/train.json")
    qa.predict([{"question": "Who wrote Hamlet?", "context": "Hamlet is a tragedy by William Shakespeare."}])
    # [{'text': 'William Shakespeare', 'score': 9.1, 'start': 23, ...}]
    qa.evaluate("squad/test.json")     # {"em": ..., "f1": ...} with the official SQuAD v1.1 normalisation

The head gives every token a start and an end score. A context longer than the window is split into
overlapping windows (`stride` tokens shared); the answer is the best span over all windows (n-best
search, at most `max_answer_length` tokens).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.errors import DataError
from headstart.persist import SavedMeta
from headstart.tasks.base import HeadEstimator
from headstart.tasks.extractive_qa.features import QAFeature, decode_spans, prepare_features
from headstart.tasks.extractive_qa.metrics import squad_metrics
from headstart.tasks.extractive_qa.objective import SpanExtraction
from headstart.tasks.extractive_qa.options import OPTIONS as TASK_OPTIONS
from headstart.tasks.extractive_qa.reader import QASplit, qa_split_from_records, read_squad
from headstart.training import Examples, predict_logits

__all__ = ["HeadstartQA", "as_qa_split"]


class HeadstartQA(HeadEstimator):
    """Adapt a pretrained encoder to extractive question answering.

    Takes the options of every task plus `stride` (tokens two windows of one context share; default a third
    of `max_length`, 128 at 384) and `max_answer_length` (tokens). `max_length` defaults to 384 here, the
    usual SQuAD window. The dev metric is SQuAD F1. The `features` strategy does not apply (a span is not a
    per-token class).
    """

    task = "qa"
    task_options = TASK_OPTIONS
    default_overrides = {"max_length": 384}

    # ---- fitting ------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None) -> HeadstartQA:
        """Fit on a SQuAD v1.1 JSON / JSONL file, a QASplit, or records {question, context, answers}.
        `dev`: the same forms; else the questions of a random `dev_fraction` of the contexts."""
        return self.fit_task(as_qa_split(X), None if dev is None else as_qa_split(dev))

    def fit_task(self, train: QASplit, dev: QASplit | None = None, *, checkpoint: str | Path | None = None,
                 resume: bool = False, stop_after: int | None = None) -> HeadstartQA:
        if dev is None:
            train, dev = _split_dev(train, self.dev_fraction, self.seed)
        self.labels_, self.classes_, self.multilabel_, self.metric_ = ["start", "end"], None, False, "f1"
        _, cfg = self._build(2, per_token=True)
        train_f, dev_f = self._features(train), self._features(dev)

        def score(logits: list[np.ndarray]) -> dict:
            return squad_metrics(self._decode(dev_f, logits, dev), dev.examples)

        return self._train(self._examples(train_f, labelled=True), self._examples(dev_f, labelled=True),
                           SpanExtraction(score=score, label_smoothing=cfg.label_smoothing), checkpoint=checkpoint,
                           resume=resume, stop_after=stop_after)

    def _examples(self, features: list[QAFeature], *, labelled: bool) -> Examples:
        """Token ids, (start, end) labels, and segment ids (question 0, context 1) for models that have
        segment embeddings (BERT, ELECTRA: `type_vocab_size` >= 2), as the SQuAD recipe feeds them."""
        segmented = getattr(self.model_.backbone.config, "type_vocab_size", 0) >= 2
        return Examples([f.input_ids for f in features], [(f.start, f.end) for f in features] if labelled else None,
                        [f.token_type_ids for f in features] if segmented and features[0].token_type_ids else None)

    def _features(self, split: QASplit) -> list[QAFeature]:
        max_length = self.train_config_.max_length
        stride = max_length // 3 if self.stride is None else self.stride
        return prepare_features(self.tokenizer_, split, max_length=max_length, stride=stride)

    def _decode(self, features: list[QAFeature], logits: list[np.ndarray], split: QASplit) -> dict[str, dict]:
        return decode_spans(features, [x[:, 0] for x in logits], [x[:, 1] for x in logits], split,
                            max_answer_length=self.max_answer_length)

    # ---- prediction ---------------------------------------------------------------------------------
    def predict_answers(self, X) -> dict[str, dict]:
        """{question id: {"text", "score", "start", "n_best"}} for a QASplit, file or records."""
        self._check_fitted()
        split = as_qa_split(X, require_answers=False)
        features = self._features(split)
        logits = predict_logits(self.model_, self._examples(features, labelled=False),
                                pad_id=self.tokenizer_.pad_token_id)
        return self._decode(features, logits, split)

    def predict(self, X) -> list[dict]:
        """The answer to each {"question", "context"}: {"text", "score", "start"}, in input order."""
        split = as_qa_split(X, require_answers=False)
        answers = self.predict_answers(split)
        return [answers[e.id] for e in split.examples]

    def predict_proba(self, X):
        raise NotImplementedError("extractive QA has no class probabilities: use predict or predict_answers")

    def evaluate(self, data) -> dict:
        """Exact match and F1 (official SQuAD v1.1 normalisation, 0-1 scale) and example errors."""
        split = as_qa_split(data)
        answers = self.predict_answers(split)
        metrics = squad_metrics(answers, split.examples)
        wrong = [e for e in split.examples if answers[e.id]["text"] not in {a["text"] for a in e.answers}]
        metrics["errors"] = [{"id": e.id, "question": e.question, "predicted": answers[e.id]["text"],
                              "answers": sorted({a["text"] for a in e.answers})} for e in wrong[:10]]
        return metrics

    def score(self, X, y=None, sample_weight=None) -> float:
        """SQuAD F1 (0-1)."""
        split = as_qa_split(X)
        return float(squad_metrics(self.predict_answers(split), split.examples)["f1"])

    @staticmethod
    def read_split(data) -> QASplit:
        """A task file (or records) as the split `fit_task` and `evaluate` take."""
        return as_qa_split(data)

    # ---- persistence --------------------------------------------------------------------------------
    def _restore_task(self, meta: SavedMeta) -> None:
        super()._restore_task(meta)
        self.metric_, self.classes_ = "f1", None


def as_qa_split(X, *, require_answers: bool = True) -> QASplit:
    """A QASplit from a path (SQuAD JSON or JSONL), a QASplit, records or a datasets.Dataset."""
    if isinstance(X, QASplit):
        return X
    if isinstance(X, str | Path):
        return read_squad(X, require_answers=require_answers)
    if isinstance(X, dict) and "question" in X:
        X = [X]
    if hasattr(X, "to_dict") and hasattr(X, "columns"):  # pandas DataFrame
        X = X.to_dict("records")
    return qa_split_from_records(X, require_answers=require_answers)


def _split_dev(split: QASplit, fraction: float, seed: int) -> tuple[QASplit, QASplit]:
    """Hold out the questions of a random `fraction` of the contexts (no context is in both parts, so dev
    answers cannot be memorised from training windows)."""
    contexts = sorted({e.context for e in split.examples})
    if len(contexts) < 2:
        raise DataError("too few contexts to hold out a dev set.", expected="questions on at least 2 contexts",
                        found=f"{len(contexts)} context(s) in {split.source}", fix="add data or pass a dev file")
    order = np.random.default_rng(seed).permutation(len(contexts))
    held = {contexts[i] for i in order[: max(1, round(fraction * len(contexts)))]}
    return (QASplit([e for e in split.examples if e.context not in held], split.source),
            QASplit([e for e in split.examples if e.context in held], split.source))
