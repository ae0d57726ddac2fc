"""Read one labelled split from a CSV, TSV or JSON-lines file, a pandas DataFrame or a `datasets.Dataset`.

Every problem is a DataError naming the file, the 1-based physical line (the header is line 1) and the
column, and saying what to do. Values are validated here; parsing lives in `_sources`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.data._hints import check_not_swapped, missing_column_error
from headstart.data._sources import (
    MISSING,
    SUPPORTED_SUFFIXES,
    Table,
    is_blank,
    table_from_memory,
    table_from_path,
)
from headstart.data.types import Split
from headstart.errors import DataError

__all__ = ["read_split", "SUPPORTED_SUFFIXES", "MISSING_WORDS"]

# label cells that are a missing value written out as text (str(float("nan")), str(None), pandas' <NA>):
# taken as a class, they would train a class "nan"
MISSING_WORDS = frozenset({"nan", "none", "null", "<na>", "n/a"})


def read_split(
    source: str | Path | Any,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_sep: str | None = None,
    multilabel: bool | None = None,
    require_labels: bool = True,
) -> Split:
    """Read texts and labels, checking every row.

    Args:
        source: a path to a .csv, .tsv/.tab or .jsonl/.json file, a pandas DataFrame or a `datasets.Dataset`.
        text_column: the column (or JSON key) holding the texts.
        label_column: the column holding the labels.
        label_sep: splits a label cell into several labels (e.g. "|"); implies multi-label.
        multilabel: None detects it (a list label, or `label_sep` given); True makes every label a tuple.
        require_labels: False for prediction input: the label column may then be absent (labels is []).

    Returns:
        A Split whose labels are str (single-label) or tuples of str (multi-label), with `lines` set for
        files read line by line.

    Example:
        >>> split = read_split("train.csv", label_sep="|")  # doctest: +SKIP
    """
    table = _table(source)
    if text_column not in table.columns:
        raise missing_column_error(table, text_column, "text", text_column, label_column)
    texts = _texts(table, text_column)
    labels: list = []
    if label_column in table.columns:
        raw = table.column(label_column)
        if require_labels or not all(is_blank(v) for v in raw):
            labels = _labels(table, label_column, raw, label_sep, multilabel)
    elif require_labels:
        raise missing_column_error(table, label_column, "label", text_column, label_column)
    if labels and not isinstance(labels[0], tuple):
        check_not_swapped(table, texts, labels, text_column, label_column)
    return Split(texts, labels, table.source, table.lines)


def _table(source: Any) -> Table:
    if isinstance(source, str | Path):
        return table_from_path(Path(source).expanduser())
    table = table_from_memory(source)
    if table is None:
        raise DataError(
            f"cannot read data from a {type(source).__name__}",
            expected="a path to a .csv, .tsv or .jsonl file, a pandas DataFrame or a datasets.Dataset",
            found=f"{type(source).__module__}.{type(source).__name__}",
            fix="pass a file path, or wrap your rows in pandas.DataFrame({'text': [...], 'label': [...]})",
        )
    if table.n_rows == 0:
        raise DataError(
            f"the {table.source} has no rows",
            expected="at least one row",
            found="an empty table",
            fix="check the filtering or selection that produced it",
            file=table.source,
        )
    return table


def _row_error(table: Table, i: int, column: str, problem: str, **details: str) -> DataError:
    """A DataError pointing at row i: its file line when known, else its 0-based row position."""
    if table.lines is None:
        return DataError(f"row {i}: {problem}", file=table.source, column=column, **details)
    return DataError(problem, file=table.source, line=table.lines[i], column=column, **details)


def _is_listlike(v: Any) -> bool:
    return isinstance(v, list | tuple | set | frozenset) or getattr(v, "ndim", 0) >= 1


def _plain(v: Any) -> Any:
    """numpy scalars to Python ones, and 3.0 to 3, so a label read as a float prints as "3"."""
    if getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
        v = v.item()
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _texts(table: Table, column: str) -> list[str]:
    texts = []
    for i, v in enumerate(table.column(column)):
        if v is MISSING:
            raise _row_error(
                table,
                i,
                column,
                f"this row has no {column!r} field",
                expected=f"a {column!r} field on every row",
                fix="add the text, or delete this row",
            )
        if is_blank(v):
            raise _row_error(
                table,
                i,
                column,
                "the text is empty",
                expected=f"a non-empty text in column {column!r}",
                found=repr(v) if isinstance(v, str) else "nothing",
                fix="fill in the text, or delete this row",
            )
        if not isinstance(v, str | int | float) and getattr(v, "ndim", None) != 0:
            raise _row_error(
                table,
                i,
                column,
                "the text is not a string",
                expected="a string",
                found=f"a {type(v).__name__}: {str(v)[:60]}",
                fix=f"put one string per row in column {column!r}",
            )
        texts.append(v if isinstance(v, str) else str(_plain(v)))
    return texts


def _labels(table: Table, column: str, raw: list, sep: str | None, multilabel: bool | None) -> list:
    if multilabel is None:
        multilabel = sep is not None or any(_is_listlike(v) for v in raw)
    return [_label(table, i, column, v, sep, multilabel) for i, v in enumerate(raw)]


def _label(
    table: Table, i: int, column: str, v: Any, sep: str | None, multilabel: bool
) -> str | tuple[str, ...]:
    if v is MISSING:
        raise _row_error(
            table,
            i,
            column,
            f"this row has no {column!r} field",
            expected=f"a {column!r} field on every row",
            fix="add the label, or delete this row",
        )
    if _is_listlike(v):
        if not multilabel:
            raise _row_error(
                table,
                i,
                column,
                "found a list of labels in single-label data",
                expected="one label per row",
                found=repr(list(v))[:80],
                fix="pass multilabel=True (or --label-sep) for multi-label data, or give one label per row",
            )
        # An explicit empty list is allowed: in multi-label data a row may belong to no class.
        return tuple(dict.fromkeys(s for s in (str(_plain(x)).strip() for x in v if not is_blank(x)) if s))
    name = "" if is_blank(v) else str(_plain(v)).strip()
    names = (
        tuple(dict.fromkeys(p.strip() for p in name.split(sep) if p.strip())) if multilabel and sep else ()
    )
    if not name or (sep and multilabel and not names):
        raise _row_error(
            table,
            i,
            column,
            "the label is empty",
            expected=f"a class name in column {column!r}",
            found=repr(v) if isinstance(v, str) else "nothing",
            fix="fill in the label, or delete this row",
        )
    missing = [n for n in (names or (name,)) if n.lower() in MISSING_WORDS]
    if missing:
        raise _row_error(
            table,
            i,
            column,
            f"the label {missing[0]!r} is a missing value written as text",
            expected=f"a class name in column {column!r}",
            found=repr(missing[0]),
            fix="fill in the label, or delete this row (a NaN turned into text by str() or astype(str) does this)",
        )
    if not multilabel:
        return name
    return names or (name,)
