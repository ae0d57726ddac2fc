"""Read token-level (NER) data: CoNLL text files, JSON lines, or in-memory records.

CoNLL: one `token<TAB>tag` per line (whitespace-separated columns work too: the first is the token, the last
the tag), a blank line between sentences, `-DOCSTART-` lines skipped. JSON lines: one object per line with
a list of tokens and a list of tags. Tags may be IOB2, IOB1 or BIOES; they are stored as IOB2.

Every problem is a DataError naming the file, the 1-based line (and column where it helps) and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from headstart.data._sources import _decode, _missing_file
from headstart.errors import DataError
from headstart.tasks.tagging.records import (
    EXPECTED_TAGS,
    Where,
    json_array,
    json_lines,
    parse_records,
)
from headstart.tasks.tagging.tags import TAG_PATTERN, detect_scheme, entity_type, tag_hint, to_iob2

__all__ = [
    "TokenSplit",
    "read_token_file",
    "token_split_from_records",
    "check_known_types",
    "entity_types",
    "detect_scheme",
    "to_iob2",
]

JSON_SUFFIXES = (".jsonl", ".json")
_COLUMNS = re.compile(r"[ \t]+")  # not str.split(): a token may be a no-break space or another odd space
_SHOWN = 10  # items listed in a message before "... and N more"


@dataclass
class TokenSplit:
    """Sentences of words and, when labelled, one IOB2 tag per word.

    `lines[i]` is the 1-based line of sentence i's first token (CoNLL), of its record (JSON lines), or its
    index + 1 (in-memory records, or a .json file holding one array). `scheme` is the scheme the tags were
    written in before conversion; `format` ("conll", "jsonl" or "items") says how to read `lines`.
    """

    sentences: list[list[str]]
    tags: list[list[str]] | None
    source: str
    lines: list[int]
    scheme: str = "IOB2"
    format: str = "items"

    def __len__(self) -> int:
        return len(self.sentences)

    def line(self, i: int, j: int = 0) -> int | None:
        """The file line of word j of sentence i (a CoNLL file has one word per line); None for items."""
        if self.format == "items":
            return None
        return self.lines[i] + (j if self.format == "conll" else 0)

    def place(self, i: int, j: int = 0) -> str:
        """Where word j of sentence i is, in words: "line 12", or "records[3]" for a list of records."""
        line = self.line(i, j)
        return f"{self.source}[{self.lines[i] - 1}]" if line is None else f"line {line}"


def read_token_file(
    path: str | Path,
    *,
    tokens_key: str = "tokens",
    tags_key: str = "tags",
    require_tags: bool = True,
) -> TokenSplit:
    """Read a CoNLL or JSON-lines NER file, checking every line; tags come back as IOB2.

    Args:
        path: a `.jsonl`/`.json` file (JSON lines), or any other file read as CoNLL text.
        tokens_key: the JSON key holding the list of tokens.
        tags_key: the JSON key holding the list of tags.
        require_tags: False for prediction input: tags may then be absent (`tags` is None).

    Returns:
        A TokenSplit whose `lines` point at each sentence in the file.

    Example:
        >>> split = read_token_file("train.txt")  # doctest: +SKIP
        >>> split.sentences[0], split.tags[0]  # doctest: +SKIP
        (['EU', 'rejects', 'German', 'call'], ['B-ORG', 'O', 'B-MISC', 'O'])
    """
    path = Path(path).expanduser()
    _check_file(path)
    text = _decode(path, path.read_bytes())
    if not text.strip():
        raise DataError(
            "the file is empty",
            expected="sentences, one `token<TAB>tag` per line"
            if path.suffix.lower() not in JSON_SUFFIXES
            else '{"tokens": [...], "tags": [...]} on each line',
            found="no text at all",
            fix="check that this is the right file, and that it was saved completely",
            file=path,
        )
    if path.suffix.lower() in JSON_SUFFIXES:
        if text.lstrip().startswith("["):  # a .json file holding one array of records
            records = json_array(path, text)
            places = [Where(str(path), index=i) for i in range(len(records))]
            lines, fmt = list(range(1, len(records) + 1)), "items"
        else:
            records, lines = json_lines(path, text)
            places, fmt = [Where(str(path), line=n) for n in lines], "jsonl"
        sentences, tags = parse_records(records, places, tokens_key, tags_key, require_tags)
        return _finish(sentences, tags, str(path), lines, fmt)
    sentences, tags, lines = _conll(path, text, require_tags)
    return _finish(sentences, tags, str(path), lines, "conll")


def token_split_from_records(
    records: list[dict],
    *,
    tokens_key: str = "tokens",
    tags_key: str = "tags",
    require_tags: bool = True,
    source: str = "records",
) -> TokenSplit:
    """Check in-memory records like `{"tokens": [...], "tags": [...]}`; tags come back as IOB2.

    Args:
        records: a list of dicts, one per sentence.
        tokens_key: the key holding the list of tokens.
        tags_key: the key holding the list of tags.
        require_tags: False for prediction input: tags may then be absent (`tags` is None).
        source: the name used in error messages (`records[3]: ...`).

    Example:
        >>> split = token_split_from_records([{"tokens": ["Paris"], "tags": ["S-LOC"]}])
        >>> split.tags, split.scheme
        ([['B-LOC']], 'BIOES')
    """
    if not isinstance(records, list | tuple) or not records:
        raise DataError(
            "no sentences to read",
            expected='a non-empty list of dicts like {"tokens": ["Paris"], "tags": ["B-LOC"]}',
            found=f"an empty {type(records).__name__}" if not records else f"a {type(records).__name__}",
            fix="pass a list with one dict per sentence",
        )
    places = [Where(source, index=i) for i in range(len(records))]
    sentences, tags = parse_records(list(records), places, tokens_key, tags_key, require_tags)
    return _finish(sentences, tags, source, list(range(1, len(records) + 1)), "items")


def entity_types(split: TokenSplit) -> list[str]:
    """The sorted entity types of a labelled split (`B-creative-work` counts as `creative-work`)."""
    return sorted({entity_type(t) for tags in split.tags or [] for t in tags} - {None})


def check_known_types(split: TokenSplit, types: Iterable[str]) -> None:
    """Raise DataError if a dev or test split tags entity types the training data never shows.

    Args:
        split: the dev or test split.
        types: the training entity types (`"PER"`; full tags like `"B-PER"` are accepted too).
    """
    known = {entity_type(t) if TAG_PATTERN.fullmatch(t) else t for t in types} - {None}
    first: dict[str, tuple[int, int]] = {}  # type -> (sentence, word) of its first occurrence
    for i, tags in enumerate(split.tags or []):
        for j, tag in enumerate(tags):
            kind = entity_type(tag)
            if kind is not None and kind not in known and kind not in first:
                first[kind] = (i, j)
    if not first:
        return
    listed = [f"{kind!r} (first at {split.place(*at)})" for kind, at in first.items()]
    i, j = min(first.values())
    raise DataError(
        f"{len(first)} entity type(s) here never occur in the training data",
        expected=f"only training types: {_clip([repr(k) for k in sorted(known)]) or 'none'}",
        found=_clip(listed),
        fix="fix the spelling of these types, add training examples of them, or tag those words O",
        file=split.source if split.format != "items" else None,
        line=split.line(i, j),
    )


# ---------------------------------------------------------------------------------------------- reading


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise DataError(
            "this is a folder, not a data file",
            expected="a CoNLL text file (token<TAB>tag per line) or a .jsonl file",
            found=f"a folder holding {_clip(sorted(p.name for p in path.iterdir())) or 'nothing'}",
            fix="pass one file inside it, e.g. its train.txt",
            file=path,
        )
    if not path.exists():
        raise _missing_file(path)


def _conll(
    path: Path, text: str, require_tags: bool
) -> tuple[list[list[str]], list[list[str]] | None, list[int]]:
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    lines: list[int] = []
    tagged: bool | None = True if require_tags else None  # None: decided by the first token line
    words: list[str] = []
    word_tags: list[str] = []
    # split("\n"), not splitlines(): tokens may hold U+2028 or U+0085, which splitlines() would break at
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        columns = _COLUMNS.split(line) if line else []
        if not columns or columns[0] == "-DOCSTART-":  # a sentence boundary
            if words:
                sentences.append(words)
                tags.append(word_tags)
            words, word_tags = [], []
            continue
        if tagged is None:
            tagged = len(columns) > 1
        if not words:
            lines.append(n)
        words.append(columns[0])
        if tagged:
            word_tags.append(_conll_tag(path, n, raw, columns, require_tags))
        elif len(columns) > 1:
            raise DataError(
                "this line has a tag, but the first token line of the file has none",
                expected="a tag on every line, or on none",
                found=repr(raw.rstrip("\r")[:80]),
                fix="tag every token, or remove the tags",
                file=path,
                line=n,
            )
    if words:
        sentences.append(words)
        tags.append(word_tags)
    return sentences, tags if tagged else None, lines


def _conll_tag(path: Path, n: int, raw: str, columns: list[str], require_tags: bool) -> str:
    if len(columns) == 1:
        raise DataError(
            "this line has a token but no tag",
            expected="a token and its tag separated by a TAB, e.g. 'Paris\\tB-LOC'",
            found=repr(raw.rstrip("\r")[:80]),
            fix="add the tag (O for a word outside any entity)"
            if require_tags
            else "add the tag, or remove the tags from every line",
            file=path,
            line=n,
        )
    tag = columns[-1]
    if not TAG_PATTERN.fullmatch(tag):
        raise DataError(
            f"malformed tag {tag!r}",
            expected=EXPECTED_TAGS,
            found=f"{tag!r} in column {len(columns)} of {raw.rstrip(chr(13))[:80]!r}",
            fix=tag_hint(tag),
            file=path,
            line=n,
            column=len(columns),
        )
    return tag


def _finish(
    sentences: list[list[str]], tags: list[list[str]] | None, source: str, lines: list[int], fmt: str
) -> TokenSplit:
    if not sentences:
        raise DataError(
            "the file holds no sentences",
            expected="token lines, with a blank line between sentences",
            found="only blank or -DOCSTART- lines",
            fix="check that this is the right file",
            file=source,
        )
    scheme = "IOB2"
    if tags is not None:
        scheme = detect_scheme(tags)
        tags = [to_iob2(t, scheme) for t in tags]
    return TokenSplit(sentences, tags, source, lines, scheme, fmt)


def _clip(items: list[str]) -> str:
    more = f" ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more
