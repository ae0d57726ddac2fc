"""Check one question record (question, context, id, answers) and say exactly where a mistake is.

Shared by the SQuAD JSON reader, the JSON-lines reader and `qa_split_from_records`. A `Where` names the
record by its JSON path (`data[3].paragraphs[0].qas[2]`) and, when it can be had cheaply, its line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from headstart.errors import DataError

__all__ = ["Where", "get_key", "check_text", "check_answers", "SQUAD_SHAPE"]

SQUAD_SHAPE = (
    '{"version": "1.1", "data": [{"title": ..., "paragraphs": [{"context": ..., '
    '"qas": [{"id": ..., "question": ..., "answers": [{"answer_start": 0, "text": ...}]}]}]}]}'
)


@dataclass(frozen=True)
class Where:
    """Where a record sits: its file (None for in-memory records), JSON path and line.

    For a whole-file JSON document the line is not known up front; `anchor` is a string value of the record
    (a question id, a title) that is looked up in the raw `text` only when an error is raised.
    """

    file: str | None
    path: str
    line: int | None = None
    text: str | None = None
    anchor: str | None = None

    def child(self, suffix: str, anchor: Any = ...) -> Where:
        """The location of a part of this record, e.g. `.qas[2]`, found by its own `anchor` when given (an
        anchor that is not a string gives no line: a wrong line is worse than none), else by this one's."""
        if anchor is not ...:
            anchor = anchor if isinstance(anchor, str) else None
        return replace(self, path=self.path + suffix, anchor=self.anchor if anchor is ... else anchor)

    def error(self, problem: str, **details: str | None) -> DataError:
        """A DataError for this place; the path leads the message so in-memory records are found too."""
        problem = f"{self.path}: {problem}" if self.path else problem
        return DataError(problem, file=self.file, line=self._find_line(), **details)

    def _find_line(self) -> int | None:
        if self.line is not None or self.text is None or not self.anchor:
            return self.line
        # the anchor as a JSON string, with and without \u escapes (json.dump's default escapes)
        for quoted in {json.dumps(self.anchor), json.dumps(self.anchor, ensure_ascii=False)}:
            at = self.text.find(quoted)
            if at >= 0 and self.text.find(quoted, at + 1) < 0:  # unique, so surely the right record
                return self.text.count("\n", 0, at) + 1
        return None


def get_key(obj: Any, key: str, where: Where, what: str, fix: str) -> Any:
    """`obj[key]`, or a DataError naming the keys that are there when `obj` lacks it."""
    if not isinstance(obj, dict):
        raise where.error(
            f"expected {what} as a JSON object",
            expected=f"an object with a {key!r} key",
            found=f"a {_json_type(obj)}: {_short(obj)}",
            fix=fix,
        )
    if key not in obj:
        keys = ", ".join(repr(k) for k in list(obj)[:20]) or "none (an empty object)"
        raise where.error(
            f"{what} has no {key!r} key", expected=f"a {key!r} key", found=f"keys {keys}", fix=fix
        )
    return obj[key]


def check_text(value: Any, where: Where, name: str) -> str:
    """A non-blank string field (a question or a context)."""
    if not isinstance(value, str) or not value.strip():
        raise where.error(
            f"the {name} is {'blank' if isinstance(value, str) else 'not a string'}",
            expected=f"the {name} as a non-empty JSON string",
            found=_short(value),
            fix=f"write the {name} text, or remove this question",
        )
    return value


def check_answers(raw: Any, context: str, qid: str, where: Where, require: bool) -> list[dict]:
    """Validate a question's answers: each `{"text", "answer_start"}` with the text at that character.

    Also accepts the Hugging Face `datasets` layout `{"text": [...], "answer_start": [...]}`.
    """
    if isinstance(raw, dict) and "text" in raw and "answer_start" in raw:
        raw = _columnar(raw, where)
    if not isinstance(raw, list):
        raise where.error(
            f"the answers of question {qid!r} are not a list",
            expected='a list like [{"text": "Denver Broncos", "answer_start": 177}]',
            found=f"a {_json_type(raw)}: {_short(raw)}",
            fix="write the answers as a JSON list of objects",
        )
    if require and not raw:
        raise where.error(
            f"question {qid!r} has no answers",
            expected="at least one answer to train or evaluate on",
            found="an empty answers list",
            fix="add the answer, or remove the question; for questions to predict, read with "
            "require_answers=False",
        )
    return [_answer(a, context, qid, where.child(f".answers[{j}]")) for j, a in enumerate(raw)]


def _columnar(raw: dict, where: Where) -> list:
    texts, starts = raw["text"], raw["answer_start"]
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        raise where.error(
            "the answers' text and answer_start lists do not pair up",
            expected="two lists of the same length",
            found=f"text={_short(texts)}, answer_start={_short(starts)}",
            fix="give one answer_start per answer text",
        )
    return [{"text": t, "answer_start": s} for t, s in zip(texts, starts, strict=True)]


def _answer(a: Any, context: str, qid: str, where: Where) -> dict:
    fix = 'write each answer as {"text": "...", "answer_start": <character offset in the context>}'
    text = get_key(a, "text", where, "the answer", fix)
    start = get_key(a, "answer_start", where, "the answer", fix)
    if not isinstance(text, str) or not text:
        raise where.error(
            f"an answer of question {qid!r} has no text",
            expected="the answer text as a non-empty string",
            found=_short(text),
            fix=fix,
        )
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise where.error(
            f"an answer of question {qid!r} has a bad answer_start",
            expected="a character offset into the context: an integer >= 0",
            found=_short(start),
            fix=_offset_fix(text, context, start),
        )
    found = context[start : start + len(text)]
    if found != text:
        raise where.error(
            f"the answer of question {qid!r} is not at its answer_start",
            expected=f"{_short(text)} at character {start} of the context",
            found=f"{_short(found)} there"
            if found
            else f"nothing: the context has {len(context)} characters",
            fix=_offset_fix(text, context, start),
        )
    return {"text": text, "answer_start": start}


def _offset_fix(text: str, context: str, start: Any) -> str:
    """Say where the answer text really is, or that it is not in the context at all."""
    at = [m.start() for m in re.finditer(re.escape(text), context)] if isinstance(text, str) and text else []
    if not at:
        return (
            "the answer text does not occur in the context: correct the text (it must be copied "
            "verbatim from the context) or the context"
        )
    nearest = min(at, key=lambda i: abs(i - start)) if isinstance(start, int) else at[0]
    also = f" (it also occurs at {', '.join(map(str, at[:5]))})" if len(at) > 1 else ""
    byte_hint = ""
    if isinstance(start, int) and context.encode()[start : start + len(text.encode())] == text.encode():
        byte_hint = "; your offset counts UTF-8 bytes, but answer_start counts characters"
    return f"set answer_start to {nearest}, where the text occurs in the context{also}{byte_hint}"


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, int | float) else type(value).__name__)


def _short(value: Any, n: int = 60) -> str:
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= n else shown[: n - 3] + "..."
