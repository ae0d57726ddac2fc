"""`HeadstartTagger`: named-entity recognition (a tag per word) with the same strategies, trainer and
artifacts as text classification.

    tagger = HeadstartTagger(strategy="top-n").fit("wnut17/train.txt")      # CoNLL or JSONL
    tagger.predict(["Ada Lovelace visited Paris"])
    # [[{'type': 'person', 'text': 'Ada Lovelace', 'start': 0, 'end': 12}, {'type': 'location', ...}]]
    tagger.evaluate("wnut17/test.txt")["f1"]                                  # entity-level, strict

Words are split into sub-words by the backbone's tokenizer; the tag is learnt and read at the first
sub-word of each word. A sentence longer than `max_length` tokens becomes overlapping windows (`stride`
tokens shared); each word is read from the window where it has the most context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headstart.config import option
from headstart.errors import DataError
from headstart.persist import SavedMeta
from headstart.tasks.base import HeadEstimator
from headstart.tasks.tagging.metrics import entities_in_text, entity_metrics, example_errors, split_words
from headstart.tasks.tagging.objective import TokenTagging
from headstart.tasks.tagging.reader import (
    TokenSplit,
    check_known_types,
    entity_types,
    read_token_file,
    token_split_from_records,
)
from headstart.tasks.tagging.windows import Window, encode_words, merge_word_scores
from headstart.training import Examples, predict_logits

__all__ = ["HeadstartTagger", "as_token_split", "word_tokenizer"]


@dataclass
class TaggingOptions:
    """How long sentences are cut into windows."""

    stride: int | None = option(None, "ner / qa: tokens two windows of one long text share (default: ner a "
                                "quarter of max_length, 32 at 128; qa a third, 128 at 384)")


class HeadstartTagger(HeadEstimator):
    """Adapt a pretrained encoder to named-entity recognition.

    Takes the options of every task (backbone, strategy, epochs, lr, max_length, ...) plus `stride`. The
    dev metric is entity-level F1 (seqeval, strict IOB2).
    """

    task = "ner"
    task_options = (TaggingOptions,)

    # ---- fitting ------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None) -> HeadstartTagger:
        """Fit on a CoNLL / JSONL file, a TokenSplit, records like {"tokens": [...], "tags": [...]}, or
        lists of words X with lists of tags y. `dev`: the same forms (or a (sentences, tags) pair); else a
        random `dev_fraction` of the training sentences."""
        if isinstance(dev, tuple) and len(dev) == 2:  # (sentences, tags)
            dev = as_token_split(*dev)
        return self.fit_task(as_token_split(X, y), None if dev is None else as_token_split(dev))

    def fit_task(self, train: TokenSplit, dev: TokenSplit | None = None, *, checkpoint: str | Path | None = None,
                 resume: bool = False, stop_after: int | None = None) -> HeadstartTagger:
        if dev is None:
            train, dev = _split_dev(train, self.dev_fraction, self.seed)
        types = entity_types(train)
        if not types:
            raise DataError("the training data has no entities.", expected="B-/I- tags on some words",
                            found=f"only 'O' tags in {len(train)} sentences of {train.source}",
                            fix="check the tag column (the last one of each CoNLL line)", file=train.source)
        check_known_types(dev, types)
        self.labels_ = ["O"] + [f"{prefix}-{t}" for t in types for prefix in ("B", "I")]
        self.classes_, self.multilabel_, self.metric_ = np.array(self.labels_), False, "f1"
        _, cfg = self._build(len(self.labels_), per_token=True)
        self.tokenizer_ = word_tokenizer(self.tokenizer_)
        train_w, dev_w = self._windows(train), self._windows(dev)
        n_words = [len(s) for s in dev.sentences]

        def score(logits: list[np.ndarray]) -> dict:
            return entity_metrics(dev.tags, self._tags_from(dev_w, logits, n_words))

        objective = TokenTagging(score=score, seed=cfg.seed, label_smoothing=cfg.label_smoothing)
        return self._train(Examples([w.input_ids for w in train_w], [w.labels for w in train_w]),
                           Examples([w.input_ids for w in dev_w], [w.labels for w in dev_w]), objective,
                           checkpoint=checkpoint, resume=resume, stop_after=stop_after)

    def _windows(self, split: TokenSplit) -> list[Window]:
        index = {tag: i for i, tag in enumerate(self.labels_)}
        tag_ids = None if split.tags is None else [[index[t] for t in tags] for tags in split.tags]
        max_length = self.train_config_.max_length
        stride = max_length // 4 if self.stride is None else self.stride
        return encode_words(self.tokenizer_, split.sentences, tag_ids, max_length=max_length, stride=stride)

    def _tags_from(self, windows: list[Window], logits: list[np.ndarray], n_words: list[int]) -> list[list[str]]:
        fallback = np.zeros(len(self.labels_), dtype=np.float32)
        fallback[0] = 1.0  # a word with no sub-token (a zero-width character) is "O"
        merged = merge_word_scores(windows, logits, n_words, fallback=fallback)
        return [[self.labels_[i] for i in scores.argmax(1)] for scores in merged]

    # ---- prediction ---------------------------------------------------------------------------------
    def predict_tags(self, sentences: list[list[str]]) -> list[list[str]]:
        """IOB2 tags for pre-split sentences (one tag per word)."""
        self._check_fitted()
        split = as_token_split(sentences, require_tags=False)
        windows = self._windows(TokenSplit(split.sentences, None, split.source, split.lines))
        logits = predict_logits(self.model_, Examples([w.input_ids for w in windows], None),
                                pad_id=self.tokenizer_.pad_token_id)
        return self._tags_from(windows, logits, [len(s) for s in split.sentences])

    def predict(self, X) -> list[list[dict]]:
        """Entities of each raw text: [{"type", "text", "start", "end"}] with character spans."""
        texts = self._texts(X)
        words = [split_words(text) for text in texts]
        keep = [i for i, w in enumerate(words) if w]  # a blank text has no words and no entities
        tags = self.predict_tags([[w for w, _, _ in words[i]] for i in keep]) if keep else []
        found: list[list[dict]] = [[] for _ in texts]
        for i, sentence_tags in zip(keep, tags, strict=True):
            found[i] = entities_in_text(texts[i], words[i], sentence_tags)
        return found

    def predict_proba(self, X):
        raise NotImplementedError("a tagger has no per-text probabilities: use predict_tags or predict")

    def evaluate(self, data) -> dict:
        """Entity-level precision / recall / F1 (strict IOB2) overall and per type, and example errors."""
        split = as_token_split(data)
        check_known_types(split, {label.split("-", 1)[1] for label in self.labels_ if label != "O"})
        pred = self.predict_tags(split.sentences)
        metrics = entity_metrics(split.tags, pred)
        metrics["errors"] = example_errors(split.sentences, split.tags, pred, k=10)
        return metrics

    def score(self, X, y=None, sample_weight=None) -> float:
        """Entity-level F1 (strict IOB2)."""
        split = as_token_split(X, y)
        return float(entity_metrics(split.tags, self.predict_tags(split.sentences))["f1"])

    @staticmethod
    def read_split(data) -> TokenSplit:
        """A task file (or records) as the split `fit_task` and `evaluate` take."""
        return as_token_split(data)

    # ---- persistence --------------------------------------------------------------------------------
    def _restore_task(self, meta: SavedMeta) -> None:
        super()._restore_task(meta)
        self.metric_ = "f1"
        self.tokenizer_ = word_tokenizer(self.tokenizer_)


def word_tokenizer(tokenizer):
    """The tokenizer, able to take pre-split words: byte-level BPE tokenizers (RoBERTa, GPT-2) need
    `add_prefix_space=True` for that; others are returned as they are."""
    if getattr(tokenizer, "add_prefix_space", True) is not False:
        return tokenizer
    from transformers import AutoTokenizer

    fresh = AutoTokenizer.from_pretrained(tokenizer.name_or_path, add_prefix_space=True)
    fresh.pad_token = tokenizer.pad_token
    return fresh


def as_token_split(X, y=None, *, require_tags: bool = True) -> TokenSplit:
    """A TokenSplit from a file path, a TokenSplit, records, a DataFrame / Dataset with tokens and tags
    columns, or lists of words (X) with lists of tags (y)."""
    if isinstance(X, TokenSplit):
        return X
    if isinstance(X, str | Path):
        return read_token_file(X, require_tags=require_tags)
    if hasattr(X, "to_dict") and hasattr(X, "columns"):  # pandas DataFrame
        X = X.to_dict("records")
    elif hasattr(X, "to_list") and hasattr(X, "column_names"):  # datasets.Dataset
        X = X.to_list()
    X = list(X)
    if X and isinstance(X[0], dict):
        return token_split_from_records(X, require_tags=require_tags)
    if X and isinstance(X[0], str):
        raise DataError("a tagger reads sentences as lists of words.", expected="[['Ada', 'Lovelace', ...], ...]",
                        found="a list of strings", fix="split each sentence into words, or call predict(texts)")
    if y is None:
        return token_split_from_records([{"tokens": list(words)} for words in X], require_tags=require_tags)
    if len(X) != len(y):
        raise DataError("sentences and tag lists differ in number.", expected="one tag list per sentence",
                        found=f"{len(X)} sentences, {len(y)} tag lists", fix="pass matching lists")
    return token_split_from_records([{"tokens": list(w), "tags": list(t)} for w, t in zip(X, y, strict=True)])


def _split_dev(split: TokenSplit, fraction: float, seed: int) -> tuple[TokenSplit, TokenSplit]:
    """A random `fraction` of the sentences (at least one) held out for early stopping."""
    from headstart.data.split import random_holdout

    def subset(idx) -> TokenSplit:
        return TokenSplit([split.sentences[i] for i in idx], [split.tags[i] for i in idx], split.source,
                          [split.lines[i] for i in idx], split.scheme, split.format)

    kept, held = random_holdout(len(split), fraction, seed, what="sentences", source=split.source)
    return subset(kept), subset(held)
