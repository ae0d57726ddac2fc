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

from pathlib import Path

import numpy as np

from headstart.distill.options import check_distill_options
from headstart.errors import DataError
from headstart.persist import SavedMeta
from headstart.tasks.base import HeadEstimator
from headstart.tasks.tagging.metrics import entities_in_text, entity_metrics, example_errors, split_words
from headstart.tasks.tagging.objective import TokenTagging
from headstart.tasks.tagging.options import OPTIONS as TASK_OPTIONS
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


class HeadstartTagger(HeadEstimator):
    """Adapt a pretrained encoder to named-entity recognition.

    Takes the options of every task (backbone, strategy, epochs, lr, max_length, ...) plus `stride`. The
    dev metric is entity-level F1 (seqeval, strict IOB2).
    """

    task = "ner"
    task_options = TASK_OPTIONS

    # ---- fitting ------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, dev=None, teacher=None, unlabeled=None) -> HeadstartTagger:
        """Fit on a CoNLL / JSONL file, a TokenSplit, records like {"tokens": [...], "tags": [...]}, or
        lists of words X with lists of tags y. `dev`: the same forms (or a (sentences, tags) pair); else a
        random `dev_fraction` of the training sentences. `teacher`: a fitted tagger or a NER run folder to
        distil from (headstart.distill.tagging); `unlabeled`: sentences (word lists, or a file) it labels."""
        if isinstance(dev, tuple) and len(dev) == 2:  # (sentences, tags)
            dev = as_token_split(*dev)
        return self.fit_task(as_token_split(X, y), None if dev is None else as_token_split(dev), teacher=teacher,
                             unlabeled=unlabeled)

    def fit_task(self, train: TokenSplit, dev: TokenSplit | None = None, *, checkpoint: str | Path | None = None,
                 resume: bool = False, stop_after: int | None = None, teacher=None, unlabeled=None) -> HeadstartTagger:
        check_distill_options(self)
        teacher = self.teacher if teacher is None else teacher
        source = self.unlabeled if unlabeled is None else unlabeled
        extra = [] if source is None else as_token_split(source, require_tags=False).sentences
        if extra and teacher is None:
            from headstart.errors import ConfigError

            raise ConfigError("unlabelled sentences need a teacher to tag them.", expected="--teacher NER_RUN with "
                              "--unlabeled", found="--unlabeled alone", fix="add --teacher, or drop --unlabeled")
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
        self.distillation_ = None
        if teacher is not None:
            from headstart.distill.tagging import tagging_plan

            self._strategy_and_config()  # the student's options checked before the teacher is asked
            self.distillation_ = tagging_plan(self.labels_, train, dev, extra, teacher, temperature=self.temperature,
                                              weight=0.5 if self.distill_weight is None else self.distill_weight,
                                              score=entity_metrics)
        _, cfg = self._build(len(self.labels_), per_token=True)
        self.tokenizer_ = word_tokenizer(self.tokenizer_)
        train_w, dev_w = self._windows(train), self._windows(dev)
        n_words = [len(s) for s in dev.sentences]

        def score(logits: list[np.ndarray]) -> dict:
            return entity_metrics(dev.tags, self._tags_from(dev_w, logits, n_words))

        objective = TokenTagging(score=score, seed=cfg.seed, label_smoothing=cfg.label_smoothing)
        inputs, y_train, y_dev = [w.input_ids for w in train_w], [w.labels for w in train_w], [w.labels for w in dev_w]
        if self.distillation_ is not None:
            inputs, y_train, y_dev, objective = self._distilled(train_w, dev_w, extra, objective)
        return self._train(Examples(inputs, y_train), Examples([w.input_ids for w in dev_w], y_dev), objective,
                           checkpoint=checkpoint, resume=resume, stop_after=stop_after)

    def _distilled(self, train_w, dev_w, extra: list, objective):
        """(inputs, train label rows, dev label rows, objective) with the teacher's rows (distill.tagging)."""
        from headstart.distill.tagging import TokenDistillation

        plan = self.distillation_
        extra_w = self._windows(TokenSplit(extra, [["O"] * len(s) for s in extra], "<unlabeled>",
                                           list(range(len(extra))))) if extra else []
        rows = plan.rows(train_w, plan.train, True) + plan.rows(extra_w, plan.extra, False)
        distil = TokenDistillation(score=objective.score, seed=objective.seed, label_smoothing=objective.label_smoothing,
                                   weight=plan.weight)
        return ([w.input_ids for w in train_w + extra_w], rows, plan.rows(dev_w, plan.dev, True), distil)

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

    def predict_word_proba(self, sentences: list[list[str]]) -> list[np.ndarray]:
        """Per sentence, an (n_words, n_tags) array of tag probabilities (columns in `labels_` order): what a
        teacher tagger gives its student."""
        self._check_fitted()
        split = as_token_split(sentences, require_tags=False)
        windows = self._windows(TokenSplit(split.sentences, None, split.source, split.lines))
        logits = predict_logits(self.model_, Examples([w.input_ids for w in windows], None),
                                pad_id=self.tokenizer_.pad_token_id)
        fallback = np.full(len(self.labels_), -30.0, dtype=np.float32)
        fallback[0] = 0.0  # a word with no sub-token is "O"
        merged = merge_word_scores(windows, logits, [len(s) for s in split.sentences], fallback=fallback)
        return [np.exp(m - m.max(1, keepdims=True)) / np.exp(m - m.max(1, keepdims=True)).sum(1, keepdims=True)
                for m in merged]

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
