"""JSON token records (JSON lines, a JSON array, or in-memory dicts) checked one by one: each a dict with a
non-empty list of string tokens and, when tagged, as many string tags; every problem a DataError at the
record's file line or list index. Used by `tasks/tagging/reader.py`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headstart.data._sources import _json_error as _json_line_error
from headstart.data._sources import _json_lines as _json_records
from headstart.errors import DataError
from headstart.tasks.tagging.tags import TAG_PATTERN, tag_hint

__all__ = ["Where", "json_lines", "json_array", "json_error", "parse_records", "EXAMPLE", "EXPECTED_TAGS"]

EXPECTED_TAGS = "O, or B-<type> / I-<type> (IOB2), with S-<type> / E-<type> also allowed (BIOES)"
EXAMPLE = '{"tokens": ["Paris"], "tags": ["B-LOC"]}'  # a JSON-lines record, for messages


@dataclass
class Where:
    """A record's place, for error messages: a file line, or an index into an in-memory list."""

    source: str
    line: int | None = None
    index: int | None = None

    def error(self, problem: str, column: int | str | None = None, **details: str) -> DataError:
        if self.line is None:
            return DataError(f"{self.source}[{self.index}]: {problem}", **details)
        return DataError(problem, file=self.source, line=self.line, column=column, **details)


def json_lines(path: Path, text: str) -> tuple[list[Any], list[int]]:
    return _json_records(path, text, EXAMPLE)


def json_array(path: Path, text: str) -> list[Any]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise json_error(path, e, text.split("\n")[e.lineno - 1], e.lineno) from None
    if not isinstance(records, list) or not records:
        raise DataError(
            "the JSON array holds no sentences",
            expected='a list of objects like {"tokens": ["Paris"], "tags": ["B-LOC"]}',
            found=json.dumps(records)[:60],
            fix="check that this is the right file",
            file=path,
        )
    return records


def json_error(path: Path, e: json.JSONDecodeError, raw: str, line: int) -> DataError:
    return _json_line_error(path, e, raw, line, EXAMPLE)


def parse_records(
    records: list[Any], places: list[Where], tokens_key: str, tags_key: str, require_tags: bool
) -> tuple[list[list[str]], list[list[str]] | None]:
    tagged = require_tags or any(isinstance(r, dict) and tags_key in r for r in records)
    sentences, tags = [], []
    for record, where in zip(records, places, strict=True):
        if not isinstance(record, dict):
            raise where.error(
                "this record is not an object",
                expected=f'an object like {{"{tokens_key}": ["Paris"], "{tags_key}": ["B-LOC"]}}',
                found=f"a {type(record).__name__}: {json.dumps(record, default=str)[:60]}",
                fix="write one object per sentence, with its tokens and tags as lists",
            )
        for key in (tokens_key, tags_key) if tagged else (tokens_key,):
            if key not in record:
                raise where.error(
                    f"this record has no {key!r} key",
                    expected=f"the keys {tokens_key!r} and {tags_key!r}"
                    if tagged
                    else f"the key {tokens_key!r}",
                    found=f"the keys {', '.join(map(repr, record)) or '(none)'}",
                    fix=f"rename the key, or pass {'tokens_key' if key == tokens_key else 'tags_key'}=<its name>"
                    + ("" if require_tags or key == tokens_key else "; or drop the tags from every record"),
                )
        words = _string_list(record[tokens_key], where, tokens_key, "tokens")
        sentences.append(words)
        if tagged:
            word_tags = _string_list(record[tags_key], where, tags_key, "tags")
            if len(word_tags) != len(words):
                raise where.error(
                    f"{len(words)} token(s) but {len(word_tags)} tag(s)",
                    expected="one tag per token",
                    found=f"{len(words)} in {tokens_key!r}, {len(word_tags)} in {tags_key!r}",
                    fix="add or remove tags so the two lists line up",
                )
            for j, tag in enumerate(word_tags):
                if not TAG_PATTERN.fullmatch(tag):
                    raise where.error(
                        f"malformed tag {tag!r} (tag {j} of the list, for token {words[j]!r})",
                        column=f"{tags_key}[{j}]",
                        expected=EXPECTED_TAGS,
                        found=repr(tag),
                        fix=tag_hint(tag),
                    )
            tags.append(word_tags)
    return sentences, tags if tagged else None


def _string_list(value: Any, where: Where, key: str, what: str) -> list[str]:
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        blank = next((i for i, v in enumerate(value) if not v.strip()), None)
        if blank is not None:  # an empty token has no sub-words: its tag could never be learnt or read
            raise where.error(f"item {blank} of the {key!r} list is empty", expected=f"non-empty {what}",
                              found=repr(value[blank]), fix=f"remove the empty item and the {'tag' if what == 'tokens' else 'token'} "
                              "at the same position")
        return list(value)
    if isinstance(value, list | tuple) and not value:
        raise where.error(
            f"the {key!r} list is empty",
            expected=f"at least one of the {what}",
            found="[]",
            fix="remove this record",
        )
    if isinstance(value, list | tuple):
        bad = next(v for v in value if not isinstance(v, str))
        numbers = what == "tags" and isinstance(bad, int)
        raise where.error(
            f"the {key!r} list holds {repr(bad)[:30]} (of type {type(bad).__name__}), not a string",
            expected=f"a list of strings ({what})",
            found=repr(bad)[:60],
            fix="map the tag ids to their names (e.g. with the data set's label list) first"
            if numbers
            else f"write every item of {key!r} as a string",
        )
    raise where.error(
        f"the {key!r} value is not a list",
        expected=f'a list of {what}, e.g. ["Paris", "is", "nice"]'
        if what == "tokens"
        else f"a list of {what}",
        found=f"a {type(value).__name__}: {repr(value)[:60]}",
        fix="split the text into words first (headstart.tasks.tagging.metrics.split_words does this)"
        if isinstance(value, str) and what == "tokens"
        else f"write {key!r} as a JSON list",
    )
