"""`HeadstartPairClassifier`: a label for a pair of texts (entailment, paraphrase, relevance), with every
strategy of the classifier, through the tokenizer's pair encoding ([CLS] a [SEP] b [SEP], segment ids where
the model has them: BERT-style type_vocab_size >= 2, what its pretraining's next-sentence task used).

    clf = HeadstartPairClassifier(strategy="full").fit([("A man plays.", "Someone plays.")], ["entailment"])
    clf.predict([("A dog runs.", "A cat sleeps.")])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from headstart.data import read_split
from headstart.errors import DataError
from headstart.tasks.classification.estimator import HeadstartClassifier
from headstart.tasks.pairs.reader import DEFAULT_COLUMNS, PairText, pair_columns, read_pairs
from headstart.training import Examples

__all__ = ["HeadstartPairClassifier"]


class HeadstartPairClassifier(HeadstartClassifier):
    """HeadstartClassifier for pairs: `text_column` names two columns ("text_a,text_b" by default); X is a
    list of (first, second) tuples, or a DataFrame / Dataset / file with those columns."""

    task = "pairs"
    default_overrides = {"text_column": DEFAULT_COLUMNS}
    reader = staticmethod(read_pairs)

    def _examples(self, texts: list, labels) -> Examples:
        segmented = getattr(self.model_.backbone.config, "type_vocab_size", 0) >= 2
        encoded = self.tokenizer_([t.a for t in texts], [t.b for t in texts], truncation=True,
                                  max_length=self.train_config_.max_length, return_token_type_ids=segmented)
        return Examples(encoded["input_ids"], labels, encoded["token_type_ids"] if segmented else None)

    def _memory_texts(self, texts: list) -> list:
        pairs = []
        for i, t in enumerate(texts):
            if isinstance(t, PairText):
                pairs.append(t)
            elif isinstance(t, list | tuple) and len(t) == 2:
                pairs.append(PairText(str(t[0]), str(t[1])))
            else:
                raise DataError(f"item {i} is not a pair of texts.", expected="(first, second) tuples",
                                found=repr(t)[:80], fix="pass [(text_a, text_b), ...]")
        return pairs

    def _text_frame(self, texts: list) -> dict:
        first, second = pair_columns(self.text_column)
        return {first: [t.a for t in texts], second: [t.b for t in texts]}

    def _texts(self, X) -> list:
        self._check_fitted()
        if isinstance(X, list | tuple | np.ndarray):
            return self._memory_texts(list(X))
        if isinstance(X, str | Path) or hasattr(X, "columns") or hasattr(X, "column_names"):
            return read_pairs(X, text_column=self.text_column, label_column=self.label_column,
                              require_labels=False).texts
        return read_split(X).texts  # its error names what it cannot read
