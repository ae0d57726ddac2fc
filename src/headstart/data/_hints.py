"""Guess the likely mistake behind a missing or mixed-up column: wrong separator, no header, other names.

Used by the readers to turn "no column 'text'" into a message that says what to change.
"""

from __future__ import annotations

from pathlib import Path

from headstart.data._sources import Table, is_blank
from headstart.errors import DataError

__all__ = ["missing_column_error", "check_not_swapped"]


def missing_column_error(
    table: Table, missing: str, role: str, text_column: str, label_column: str
) -> DataError:
    """The error for a missing `role` column, with a fix guessed from the columns that are there."""
    shown = ", ".join(repr(c[:50]) for c in table.columns[:20]) + (" ..." if len(table.columns) > 20 else "")
    return DataError(
        f"there is no {role} column {missing!r}",
        expected=f"a column named {missing!r} holding the {role}s",
        found=f"columns {shown}",
        fix=_header_fix(table, text_column, label_column),
        file=table.source,
        line=table.header_line,
    )


def _header_fix(table: Table, text_column: str, label_column: str) -> str:
    """Guess the likely mistake: wrong separator, no header line, or columns under other names."""
    cols = table.columns
    if len(cols) == 1 and table.header_line is not None:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), (",", "commas")):
            if sep in cols[0]:
                return (
                    f"the file seems to separate columns with {name}: save it with commas as .csv, or with "
                    "tabs as .tsv (or read it with pandas and pass the DataFrame)"
                )
    text, label = _guess_columns(table, text_column, label_column)
    if table.header_line is not None and _header_is_data(table):
        order = sorted((c for c in (text, label) if c), key=cols.index)
        names = [text_column if c == text else label_column for c in order]
        sep = "\t" if Path(table.source).suffix.lower() in (".tsv", ".tab") else ","
        return (
            f"the first line looks like a data row, not a header: add a header line such as "
            f"{sep.join(names)!r} at the top of the file"
        )
    flags = [
        f"--{kind}-column {c}"
        for kind, c, want in (("text", text, text_column), ("label", label, label_column))
        if c and c != want
    ]
    if flags and text and label:
        return (
            f"tell headstart which columns to use: {' '.join(flags)} (in Python: text_column={text!r}, "
            f"label_column={label!r}), or rename the columns"
        )
    return f"rename the columns to {text_column!r} and {label_column!r}, or pass --text-column/--label-column"


def _mean_len(values: list) -> float:
    strings = [str(v) for v in values if not is_blank(v)]
    return sum(map(len, strings)) / len(strings) if strings else 0.0


def _n_distinct(values: list) -> int:
    return len({str(v) for v in values})


def _guess_columns(table: Table, text_column: str, label_column: str) -> tuple[str | None, str | None]:
    """The text is the column with the longest values; the label, of the rest, the one with fewest values."""
    cols, head = table.columns, table.head
    text = (
        text_column
        if text_column in cols
        else max((c for c in cols if c != label_column), key=lambda c: _mean_len(head[c]), default=None)
    )
    label = (
        label_column
        if label_column in cols
        else min(
            (c for c in cols if c != text),
            key=lambda c: (_n_distinct(head[c]), _mean_len(head[c])),
            default=None,
        )
    )
    return text, label


def _header_is_data(table: Table) -> bool:
    """A header cell that is long, a number, or that also occurs as a value below it is data, not a name."""
    for name in table.columns:
        if len(name) > 40 or len(name.split()) >= 4 or name.replace(".", "", 1).lstrip("-").isdigit():
            return True
        if name and name in table.head.get(name, ()):
            return True
    return False


def check_not_swapped(
    table: Table, texts: list[str], labels: list[str], text_column: str, label_column: str
) -> None:
    """Many distinct long labels beside few short texts means the header names the columns the wrong way round."""
    n = len(labels)
    label_words = sum(len(x.split()) for x in labels) / n
    text_words = sum(len(x.split()) for x in texts) / n
    n_labels, n_texts = len(set(labels)), len(set(texts))
    if (
        n >= 4
        and n_labels > n / 2
        and n_texts < n_labels
        and label_words >= 3
        and label_words > 2 * text_words
    ):
        raise DataError(
            "the text and label columns look swapped",
            expected=f"{label_column!r} to hold a few short class names and {text_column!r} the texts",
            found=f"{label_column!r} has {n_labels} distinct values of {label_words:.1f} words on average; "
            f"{text_column!r} has {n_texts} distinct values of {text_words:.1f} words",
            fix=f"swap the two names in the header line, or pass --text-column {label_column} "
            f"--label-column {text_column}",
            file=table.source,
            line=table.header_line,
        )
