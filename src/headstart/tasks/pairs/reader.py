"""Read sentence pairs: a table with two text columns and a label column (CSV / TSV / JSONL, a DataFrame or
a datasets.Dataset), through the classification reader (the same line-numbered checks for each column).

A pair is a `PairText`: a str holding "first [SEP] second", so what reads texts as strings (statistics,
the TF-IDF baseline, the overlap check) works on it unchanged, with its two parts in `.a` and `.b` for the
tokenizer's pair encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.data import Split, read_split
from headstart.errors import ConfigError

__all__ = ["PairText", "read_pairs", "pair_columns", "PAIR_COLUMNS", "DEFAULT_COLUMNS"]

DEFAULT_COLUMNS = "text_a,text_b"
# the column names the common pair data sets use (GLUE, SNLI, QQP, PAWS ...), tried in order
PAIR_COLUMNS = (("text_a", "text_b"), ("sentence1", "sentence2"), ("premise", "hypothesis"),
                ("question1", "question2"), ("text1", "text2"), ("question", "sentence"), ("query", "passage"))


class PairText(str):
    """Two texts, as one string "a [SEP] b" with the parts in `.a` and `.b`."""

    a: str
    b: str

    def __new__(cls, a: str, b: str) -> PairText:
        obj = super().__new__(cls, f"{a} [SEP] {b}")
        obj.a, obj.b = a, b
        return obj

    def __reduce__(self):
        return PairText, (self.a, self.b)


def pair_columns(text_column: str) -> tuple[str, str]:
    """"a,b" -> ("a", "b"), refusing anything but two names."""
    names = [c.strip() for c in str(text_column).split(",") if c.strip()]
    if len(names) != 2:
        raise ConfigError("sentence pairs read two text columns.", expected="--text-column FIRST,SECOND, e.g. "
                          f"{DEFAULT_COLUMNS}", found=repr(text_column), fix=f"pass --text-column {DEFAULT_COLUMNS}")
    return names[0], names[1]


def read_pairs(source: str | Path | Any, *, text_column: str = DEFAULT_COLUMNS, label_column: str = "label",
               label_sep: str | None = None, multilabel: bool | None = None, require_labels: bool = True) -> Split:
    """Read a split of pairs: `read_split`'s checks on each text column and on the labels."""
    first, second = pair_columns(text_column)
    a = read_split(source, text_column=first, label_column=label_column, label_sep=label_sep, multilabel=multilabel,
                   require_labels=require_labels)
    b = read_split(source, text_column=second, label_column=label_column, require_labels=False)
    return Split([PairText(x, y) for x, y in zip(a.texts, b.texts, strict=True)], a.labels, a.source, a.lines)
