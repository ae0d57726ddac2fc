"""Turn a file, a DataFrame or a `datasets.Dataset` into raw columns, before any validation of values.

Files are decoded and parsed here, so that undecodable bytes, broken quoting and malformed JSON lines are
reported with the physical line an editor shows (a quoted CSV text that spans lines is counted honestly).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.errors import DataError

__all__ = ["SUPPORTED_SUFFIXES", "MISSING", "Table", "is_blank", "table_from_path", "table_from_memory"]

# Suffix -> column delimiter (None: JSON lines, or one JSON array of objects for .json).
SUPPORTED_SUFFIXES: dict[str, str | None] = {
    ".csv": ",",
    ".tsv": "\t",
    ".tab": "\t",
    ".jsonl": None,
    ".json": None,
}
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()  # a JSON row without the key
_HEAD = 200  # rows looked at to guess what a mixed-up header should have been


def _raise_field_limit() -> None:
    """Long fields are legal CSV: lift the csv module's 131,072-character default to what the platform allows."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a C long narrower than Python's int (Windows)
            limit //= 2


_raise_field_limit()


@dataclass
class Table:
    """Raw columns of one source. `lines[i]` is row i's physical line (None for in-memory data)."""

    source: str
    columns: list[str]
    n_rows: int
    column: Callable[[str], list]  # all values of one column, MISSING where a JSON row lacks the key
    head: dict[str, list]  # the first rows of every column, for hints
    lines: list[int] | None = None
    header_line: int | None = None


def table_from_path(path: Path) -> Table:
    """Read a CSV, TSV or JSON-lines file into raw columns. Raises DataError naming file, line and fix."""
    _check_path(path)
    text = _decode(path, path.read_bytes())
    if not text.strip():
        raise DataError(
            "the file is empty",
            expected="a header line and at least one data row"
            if _delimiter(path)
            else "one JSON object per line",
            found="no text at all",
            fix="check that this is the right file, and that it was saved completely",
            file=path,
        )
    delimiter = _delimiter(path)
    return _read_delimited(path, text, delimiter) if delimiter else _read_json(path, text)


def table_from_memory(source: Any) -> Table | None:
    """Wrap a pandas DataFrame or a `datasets.Dataset`; None for anything else. Neither library is imported."""
    pd, hf = sys.modules.get("pandas"), sys.modules.get("datasets")
    if pd is not None and isinstance(source, pd.DataFrame):
        _check_unique(Path("DataFrame"), [str(c) for c in source.columns], None)
        names = {str(c): c for c in source.columns}
        head = {name: source[c].iloc[:_HEAD].tolist() for name, c in names.items()}
        return Table("DataFrame", list(names), len(source), lambda name: source[names[name]].tolist(), head)
    if hf is not None and isinstance(source, hf.DatasetDict | hf.IterableDatasetDict):
        splits = list(source.keys())
        pick = "train" if "train" in splits else (splits[0] if splits else "train")
        raise DataError(
            "got a DatasetDict (several splits), not one split",
            expected="one datasets.Dataset",
            found=f"a DatasetDict with splits {', '.join(map(repr, splits))}",
            fix=f"Did you mean to select dataset[{pick!r}]?",
        )
    if hf is not None and isinstance(source, hf.Dataset):
        head = source[: min(_HEAD, len(source))] if len(source) else {c: [] for c in source.column_names}
        return Table(
            "Dataset", list(source.column_names), len(source), lambda name: _hf_column(source, name), head
        )
    return None


def is_blank(v: Any) -> bool:
    """None, NaN, pandas NA, a JSON row without the key, or a whitespace-only string."""
    if v is None or v is MISSING or type(v).__name__ == "NAType":
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return isinstance(v, str) and not v.strip()


def _hf_column(ds: Any, name: str) -> list:
    """A Dataset column, with ClassLabel ids turned into their names (-1, "no label", becomes None)."""
    values = list(ds[name])
    feature = ds.features.get(name)
    names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
    if not names:
        return values

    def to_name(v: Any) -> Any:
        if isinstance(v, list):
            return [to_name(x) for x in v]
        return names[v] if isinstance(v, int) and 0 <= v < len(names) else None

    return [to_name(v) for v in values]


def _delimiter(path: Path) -> str | None:
    return SUPPORTED_SUFFIXES[path.suffix.lower()]


def _check_path(path: Path) -> None:
    supported = ", ".join(SUPPORTED_SUFFIXES)
    if path.is_dir():
        files = _data_files(path)
        raise DataError(
            "this is a folder, not a data file",
            expected=f"a file ending in {supported}",
            found=f"a folder holding {', '.join(files[:10]) or 'no data files'}",
            fix=f"pass one file inside it, e.g. {path / files[0]}"
            if files
            else "pass the path of a data file",
            file=path,
        )
    if not path.exists():
        raise _missing_file(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"headstart cannot read {path.suffix or 'extension-less'} files",
            expected=f"a file ending in {supported}",
            found=f"{path.name!r}",
            fix="save it as CSV (.csv), TSV (.tsv) or JSON lines (.jsonl), or load it with pandas and pass "
            "the DataFrame",
            file=path,
        )


def _data_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


def _nearby(path: Path) -> str:
    """Say what is there instead: similar file names in the same folder, or that the folder is missing."""
    folder = path.parent
    if not folder.is_dir():
        return f"no folder {folder}"
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    similar = difflib.get_close_matches(path.name, names, n=5, cutoff=0.5) or _data_files(folder)[:10]
    if not similar:
        return f"no such file, and no data files in {folder}"
    return f"no such file; similar files in {folder}: {', '.join(similar)}"


def _decode(path: Path, data: bytes) -> str:
    """Decode UTF-8 (a byte-order mark is dropped); undecodable bytes are reported by line and byte column."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        before = data[max(line_start, e.start - 30) : e.start].decode("utf-8", "replace")
        encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "latin1"
        raise DataError(
            f"the file is not UTF-8 text (byte {e.start - line_start + 1} of this line)",
            expected="UTF-8 encoded text",
            found=f"byte 0x{data[e.start : e.end].hex()} after {before!r}, which UTF-8 cannot decode",
            fix=f"re-save the file as UTF-8, e.g. `iconv -f {encoding} -t utf-8 {path.name} > utf8_{path.name}` "
            "(or choose UTF-8 when exporting from a spreadsheet)",
            file=path,
            line=data.count(b"\n", 0, e.start) + 1,
            column=e.start - line_start + 1,
        ) from None


def _read_delimited(path: Path, text: str, delimiter: str) -> Table:
    kind = "TSV" if delimiter == "\t" else "CSV"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1  # physical line where the next record begins
    for record in _records(path, reader, kind):
        line, start = start, reader.line_num + 1
        if not record:  # a blank line
            continue
        if header is None:
            header, header_line = [c.strip() for c in record], line
            _check_unique(path, header, line)
            continue
        if len(record) != len(header):
            raise _field_count_error(path, kind, header, record, line, reader.line_num)
        rows.append(record)
        lines.append(line)
    if header is None or not rows:
        raise DataError(
            "the file has no data rows",
            expected="a header line followed by at least one data row",
            found=f"only the header line {delimiter.join(header or [])!r}",
            fix="add data rows, or check that this is the right file",
            file=path,
        )
    columns = {name: i for i, name in enumerate(header)}
    head = {name: [r[i] for r in rows[:_HEAD]] for name, i in columns.items()}
    return Table(
        str(path), header, len(rows), lambda name: [r[columns[name]] for r in rows], head, lines, header_line
    )


def _records(path: Path, reader, kind: str):
    """The reader's records; the csv module's own error becomes a DataError at its line."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(f"this {kind} line cannot be parsed: {e}", expected=f"well-formed {kind} (RFC 4180 quoting)",
                            found=str(e), fix='put a text holding quotes or line breaks in double quotes, with inner '
                            'quotes doubled: "he said ""hi"""', file=path, line=reader.line_num) from None


def _check_unique(path: Path, header: list[str], line: int | None) -> None:
    """Two columns of one name: which one holds the texts would be a guess."""
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        if name in seen:
            raise DataError(f"the header names column {name!r} twice (columns {seen[name]} and {i})",
                            expected="distinct column names", found=", ".join(header)[:200],
                            fix="rename one of the two columns", file=path, line=line, column=i if line else None)
        seen[name] = i


def _field_count_error(
    path: Path, kind: str, header: list[str], record: list[str], line: int, end: int
) -> DataError:
    sep = "a tab" if kind == "TSV" else "','"
    fix = f'put texts that contain {sep} in double quotes, e.g. "good, but slow"'
    if end > line:
        fix += f"; this row runs from line {line} to {end}: check for a quote that is not closed"
    return DataError(
        f"this row has {len(record)} fields but the header has {len(header)}",
        expected=f"{len(header)} fields, as in the header ({', '.join(header)})",
        found=f"{len(record)} fields: {', '.join(repr(f[:30]) for f in record[:5])}",
        fix=fix,
        file=path,
        line=line,
    )


def _read_json(path: Path, text: str) -> Table:
    if text.lstrip().startswith("["):  # a .json file holding one array of objects
        try:
            records = json.loads(text, object_pairs_hook=_unique_keys)
        except DuplicateKey as e:
            raise _duplicate_key_error(path, e, None) from None
        except json.JSONDecodeError as e:
            raise _json_error(path, e, text.split("\n")[e.lineno - 1], e.lineno) from None
        lines = None
    else:
        records, lines = _json_lines(path, text)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(
                "expected a JSON object on this line" if lines else f"item {i} of the array is not an object",
                expected='an object like {"text": "...", "label": "..."}',
                found=f"a JSON {type(record).__name__}: {json.dumps(record)[:60]}",
                fix="write one object per line, with the text and the label as fields",
                file=path,
                line=lines[i] if lines else None,
            )
    if not records:
        raise DataError(
            "the file has no data rows", expected="at least one JSON object", found="none", file=path
        )
    columns = list(dict.fromkeys(key for record in records for key in record))
    head = {c: [r.get(c, MISSING) for r in records[:_HEAD]] for c in columns}
    return Table(
        str(path), columns, len(records), lambda c: [r.get(c, MISSING) for r in records], head, lines
    )


def _json_error(path: Path, e: json.JSONDecodeError, raw: str, line: int,
                example: str = '{"text": "great film", "label": "pos"}') -> DataError:
    """The error for a JSON-lines line that does not parse (every reader of JSON lines uses it)."""
    return DataError(
        f"this line is not valid JSON: {e.msg}",
        expected=f"one JSON object per line, like {example}",
        found=repr(raw[:80] + ("..." if len(raw) > 80 else "")),
        fix="fix the JSON at that column (strings in double quotes, no trailing commas); "
        "a text spanning lines must write its line breaks as \\n",
        file=path,
        line=line,
        column=e.colno,
    )


def _json_lines(path: Path, text: str, example: str = '{"text": "great film", "label": "pos"}'
                ) -> tuple[list[Any], list[int]]:
    """The objects of a JSON-lines text and the 1-based line of each; blank lines are skipped."""
    records, lines = [], []
    for n, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw, object_pairs_hook=_unique_keys))
        except DuplicateKey as e:
            raise _duplicate_key_error(path, e, n) from None
        except json.JSONDecodeError as e:
            raise _json_error(path, e, raw, n, example) from None
        lines.append(n)
    return records, lines


class DuplicateKey(ValueError):
    """A JSON object naming one key twice (json keeps the last silently)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _duplicate_key_error(path: Path, e: DuplicateKey, line: int | None) -> DataError:
    return DataError(f"this JSON object has the key {e.args[0]!r} twice", expected="each key once per object",
                     found=f"{e.args[0]!r} repeated", fix="remove or rename one of them", file=path, line=line)


def _missing_file(path: Path) -> DataError:
    return DataError(
        "the data file does not exist",
        expected=f"a file at {path} (relative paths start from {Path.cwd()})",
        found=_nearby(path),
        fix="check the path for typos",
        file=path,
    )
