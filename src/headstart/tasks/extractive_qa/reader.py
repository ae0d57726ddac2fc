"""Read extractive question answering data: SQuAD v1.1 JSON, JSON lines, or in-memory records.

Every question becomes a `QAExample` with its own copy of the context. Every answer is checked to sit at
its `answer_start` in the context; every mistake is a DataError naming the file, the line (exact for JSON
lines, looked up by the question id for SQuAD files), the JSON path of the record and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headstart.data._sources import _decode, _nearby
from headstart.data._sources import _json_lines as _json_records
from headstart.errors import DataError
from headstart.tasks.extractive_qa.records import SQUAD_SHAPE, Where, check_answers, check_text, get_key

__all__ = ["QAExample", "QASplit", "read_squad", "qa_split_from_records"]

_RECORD_FIX = 'give every record a "question" and a "context" (and "answers" to train or evaluate)'


@dataclass
class QAExample:
    """One question about one context. `answers` holds `{"text", "answer_start"}` dicts, where
    `answer_start` is a character offset into `context`; it is empty for questions to predict."""

    id: str
    question: str
    context: str
    answers: list[dict] = field(default_factory=list)


@dataclass
class QASplit:
    """The questions of one split; `source` names where they came from (a path or "records")."""

    examples: list[QAExample]
    source: str

    def __len__(self) -> int:
        return len(self.examples)


def read_squad(path: str | Path, *, require_answers: bool = True) -> QASplit:
    """Read a SQuAD v1.1 JSON file, or a JSON-lines file of `{"question", "context", "answers"?, "id"?}`.

    Args:
        path: a `.json` file in the SQuAD v1.1 layout, or a `.jsonl` file with one question per line (a
            `.json` file holding JSON lines is recognised too).
        require_answers: False for questions to predict: answers may then be missing or empty.

    Returns:
        A QASplit with one QAExample per question, in file order.

    Raises:
        DataError: for a missing or undecodable file, invalid JSON, a missing key, an answer that is not at
            its `answer_start`, a question without answers (when required), duplicate ids or no questions.

    Example:
        >>> split = read_squad("dev-v1.1.json")  # doctest: +SKIP
        >>> split.examples[0].answers[0]  # doctest: +SKIP
        {'text': 'Denver Broncos', 'answer_start': 177}
    """
    path = Path(path).expanduser()
    text = _read_text(path)
    if path.suffix.lower() == ".jsonl" or _looks_like_json_lines(text):
        return _finish(_from_json_lines(path, text, require_answers), str(path), path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise _json_error(path, e, text) from None
    if isinstance(doc, list):  # a JSON array of flat records
        examples = _from_records(doc, Where(str(path), ""), require_answers)
    else:
        examples = _from_squad(doc, Where(str(path), "", text=text), require_answers)
    return _finish(examples, str(path), path)


def qa_split_from_records(
    records: Iterable[dict] | dict, *, require_answers: bool = True, source: str = "records"
) -> QASplit:
    """Build a QASplit from dicts `{"question", "context", "answers"?, "id"?}`, checked like a file.

    Args:
        records: the dicts (a list, or a `datasets.Dataset` of SQuAD rows), or a whole SQuAD document
            loaded by `json.load`. `answers` is a list of `{"text", "answer_start"}` or the `datasets`
            layout `{"text": [...], "answer_start": [...]}`; a missing id becomes the record's index.
        require_answers: False for questions to predict.
        source: names the records in messages and in the split.

    Example:
        >>> split = qa_split_from_records([{"question": "Who?", "context": "Ann ran.",
        ...     "answers": [{"text": "Ann", "answer_start": 0}]}])
        >>> split.examples[0].id
        '0'
    """
    if isinstance(records, str | Path):
        raise DataError(
            "qa_split_from_records takes records, not a path",
            expected="a list of dicts with a question and a context",
            found=f"the path {str(records)!r}",
            fix="read a file with read_squad(path)",
        )
    if isinstance(records, dict):  # a SQuAD document already loaded with json.load
        examples = _from_squad(records, Where(None, ""), require_answers)
    else:
        examples = _from_records(list(records), Where(None, source), require_answers)
    return _finish(examples, source, None)


# 1) files


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(
            "the question answering file does not exist" if not path.exists() else "this is not a file",
            expected=f"a SQuAD .json or a .jsonl file at {path} (relative paths start from {Path.cwd()})",
            found=_nearby(path) if not path.exists() else "a folder",
            fix="check the path for typos",
            file=path,
        )
    return _decode(path, path.read_bytes())


def _looks_like_json_lines(text: str) -> bool:
    """True when the first non-blank line is a whole question record on its own."""
    first = next((line for line in text.split("\n") if line.strip()), "")
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and "question" in record and "data" not in record


def _json_error(path: Path, e: json.JSONDecodeError, text: str) -> DataError:
    raw = text.split("\n")[e.lineno - 1]
    left = max(0, e.colno - 41)
    return DataError(
        f"the file is not valid JSON: {e.msg}",
        expected="valid JSON: a SQuAD v1.1 document, or one JSON object per line in a .jsonl file",
        found=repr(raw[left : e.colno + 20])
        + f" (the problem is at character {e.colno - left} of this excerpt)",
        fix="fix the JSON there (strings in double quotes, no trailing commas, brackets closed)",
        file=path,
        line=e.lineno,
        column=e.colno,
    )


def _from_json_lines(path: Path, text: str, require_answers: bool) -> list[QAExample]:
    records, lines = _json_records(path, text, '{"question": "...", "context": "...", "answers": [...]}')
    wheres = [Where(str(path), f"record {i}", line=n) for i, n in enumerate(lines)]
    return [
        _record(r, w, str(i), require_answers) for i, (r, w) in enumerate(zip(records, wheres, strict=True))
    ]


# 2) layouts


def _from_squad(doc: Any, where: Where, require_answers: bool) -> list[QAExample]:
    hint = "write the file in the SQuAD v1.1 layout " + SQUAD_SHAPE
    if isinstance(doc, dict) and "question" in doc:
        hint = "this looks like a single question: write one such object per line, as a .jsonl file"
    data = get_key(doc, "data", where, "the document", hint)
    examples = []
    for a, article in enumerate(_as_list(data, where.child("data"), "articles")):
        at = where.child(f"data[{a}]", _anchor(article, "title"))
        paragraphs = get_key(article, "paragraphs", at, "the article", hint)
        for p, paragraph in enumerate(_as_list(paragraphs, at.child(".paragraphs"), "paragraphs")):
            examples += _paragraph(
                paragraph, at.child(f".paragraphs[{p}]", _anchor(paragraph, "context")), require_answers, hint
            )
    return examples


def _paragraph(paragraph: Any, where: Where, require_answers: bool, hint: str) -> list[QAExample]:
    context = check_text(get_key(paragraph, "context", where, "the paragraph", hint), where, "context")
    qas = _as_list(get_key(paragraph, "qas", where, "the paragraph", hint), where.child(".qas"), "questions")
    examples = []
    for q, qa in enumerate(qas):
        qt = where.child(f".qas[{q}]", _anchor(qa, "id", "question"))
        qid = _check_id(get_key(qa, "id", qt, "the question", 'give every question a unique "id"'), qt)
        examples.append(_example(qa, context, qid, qt, require_answers, hint))
    return examples


def _from_records(records: list, where: Where, require_answers: bool) -> list[QAExample]:
    return [_record(r, where.child(f"[{i}]"), str(i), require_answers) for i, r in enumerate(records)]


def _record(record: Any, where: Where, default_id: str, require_answers: bool) -> QAExample:
    where = where.child("", _anchor(record, "id", "question"))
    context = check_text(get_key(record, "context", where, "the record", _RECORD_FIX), where, "context")
    qid = _check_id(record.get("id", default_id), where)
    return _example(record, context, qid, where, require_answers, _RECORD_FIX)


def _example(qa: dict, context: str, qid: str, where: Where, require_answers: bool, fix: str) -> QAExample:
    question = check_text(get_key(qa, "question", where, "the question", fix), where, "question")
    raw = qa.get("answers", [])
    if "answers" not in qa and require_answers:
        get_key(qa, "answers", where, "the question", "add the answers, or read with require_answers=False")
    answers = check_answers(raw if raw is not None else [], context, qid, where, require_answers)
    return QAExample(qid, question, context, answers)


# 3) checks shared by the layouts


def _finish(examples: list[QAExample], source: str, file: Path | None) -> QASplit:
    """Refuse an empty split and duplicate ids (predictions are keyed by id)."""
    if not examples:
        raise DataError(
            "there are no questions",
            expected="at least one question with its context",
            found="no questions (empty data, or articles and paragraphs without questions)",
            fix="check that this is the right file",
            file=file,
        )
    seen: set[str] = set()
    for i, ex in enumerate(examples):
        if ex.id in seen:
            raise DataError(
                f"question id {ex.id!r} is used twice (again by question {i})",
                expected="a unique id per question, since predictions are keyed by id",
                found=f"{ex.id!r} more than once",
                fix="give every question its own id",
                file=file,
            )
        seen.add(ex.id)
    return QASplit(examples, source)


def _check_id(qid: Any, where: Where) -> str:
    if isinstance(qid, bool) or not isinstance(qid, str | int) or str(qid).strip() == "":
        raise where.error(
            "the question id must be a non-empty string",
            expected='a unique string id, e.g. "56be4db0acb8001400a502ec"',
            found=json.dumps(qid, default=str)[:60],
            fix="give every question a unique string id",
        )
    return str(qid)


def _as_list(value: Any, where: Where, what: str) -> list:
    if not isinstance(value, list):
        raise where.error(
            f"the {what} are not a list",
            expected=f"a JSON list of {what}",
            found=json.dumps(value, default=str)[:60],
            fix="write the file in the SQuAD v1.1 layout " + SQUAD_SHAPE,
        )
    return value


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _anchor(obj: Any, *keys: str) -> Any:
    """The first string among `obj`'s `keys`: what finds the object's line in the raw text."""
    return next((v for k in keys if isinstance(v := _field(obj, k), str)), None)
